// labelfab project pages: pick a ready label config from the gallery, and check the XML live
// against POST /api/projects/validate while it is typed. No innerHTML: messages are text.
(function () {
  "use strict";
  const editor = document.querySelector(".config-editor");
  if (!editor) return;
  const textarea = editor.querySelector("textarea");
  const status = editor.querySelector("#config-status");
  const url = editor.dataset.validateUrl;
  let timer = null;
  let seq = 0;

  function show(kind, text) {
    status.textContent = text;
    status.className = "config-status " + kind;
  }

  async function check() {
    const xml = textarea.value;
    if (!xml.trim()) { show("muted", ""); return; }
    const mine = ++seq;
    show("muted", "Checking…");
    let res;
    try {
      res = await window.labelfab.api("POST", url, { label_config: xml });
    } catch (e) {
      if (mine === seq) show("bad", "Could not reach the server to check the config.");
      return;
    }
    if (mine !== seq) return; // a newer check is on its way
    if (res.ok) {
      const controls = res.data.controls.map((c) => c.name + " (" + c.tag + (c.labels.length ? ": " + c.labels.join(", ") : "") + ")");
      show("ok", "✓ Valid " + res.data.kind + " config. Task data needs " +
        res.data.data_keys.map((k) => "$" + k).join(", ") + ". Controls: " + controls.join("; ") + ".");
    } else {
      const errors = (res.data && res.data.errors && res.data.errors.length)
        ? res.data.errors.map((e) => e.detail || String(e))
        : [(res.data && res.data.detail) || ("HTTP " + res.status)];
      show("bad", "✗ " + errors.join(" · "));
    }
  }

  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });

  editor.querySelectorAll("[data-config-id]").forEach((button) => {
    button.addEventListener("click", () => {
      const tpl = document.getElementById("config-" + button.dataset.configId);
      if (!tpl) return;
      if (textarea.value.trim() && textarea.value !== tpl.content.textContent &&
          !window.confirm("Replace the current label config with “" + button.textContent.trim() + "”?")) return;
      textarea.value = tpl.content.textContent.trim() + "\n";
      textarea.dispatchEvent(new Event("input"));
      textarea.focus();
    });
  });

  if (textarea.value.trim()) check();
})();
