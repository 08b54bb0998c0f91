// labelfab project pages: the label config editor. The XML is checked live (on the settings page
// against the project, as Save would: POST /api/projects/ID/validate), its problems listed with
// their line (a click selects it), and the labeling interface previewed beside it (POST
// /projects/preview, swapped in by htmx). Templates from the gallery can be previewed, then used.
// No innerHTML: messages are text.
(function () {
  "use strict";
  // A field's "This field is required." (and other refusals) goes once the field is changed.
  document.querySelectorAll(".project-form input, .project-form textarea, .project-form select").forEach((field) => {
    field.addEventListener("input", () => {
      let next = field.nextElementSibling;
      while (next && next.classList.contains("field-error")) {
        next.hidden = true;
        next = next.nextElementSibling;
      }
      field.removeAttribute("aria-invalid");
    });
  });
  const editor = document.querySelector(".config-editor");
  if (!editor) return;
  const textarea = editor.querySelector("textarea");
  const status = editor.querySelector("#config-status");
  const errorList = editor.querySelector("#config-errors");
  const pane = editor.querySelector("#config-preview");
  const title = editor.querySelector("#preview-title");
  const templateActions = editor.querySelector(".preview-template-actions");
  const url = editor.dataset.validateUrl;
  const projectUrl = editor.dataset.projectValidateUrl;
  let timer = null;
  let seq = 0;
  let previewing = null; // the gallery template shown in the preview instead of the editor's XML

  function show(kind, text) {
    status.textContent = text;
    status.className = "config-status " + kind;
  }

  function lineStart(line) {
    const lines = textarea.value.split("\n");
    let at = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) at += lines[i].length + 1;
    return [at, at + (lines[line - 1] || "").length];
  }

  function listErrors(errors) {
    errorList.replaceChildren();
    errors.forEach((e) => {
      const li = document.createElement("li");
      const detail = e.detail || String(e);
      if (e.line) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link error-line";
        b.textContent = "Line " + e.line;
        b.addEventListener("click", () => {
          const [from, to] = lineStart(e.line);
          textarea.focus();
          textarea.setSelectionRange(from, to);
          const height = textarea.scrollHeight / Math.max(textarea.value.split("\n").length, 1);
          textarea.scrollTop = Math.max(0, (e.line - 3) * height);
        });
        li.append(b, ": ");
      }
      li.append(detail);
      errorList.append(li);
    });
    textarea.classList.toggle("has-errors", errors.length > 0);
  }

  function problems(res) {
    return (res.data && res.data.errors && res.data.errors.length)
      ? res.data.errors
      : [{ detail: (res.data && res.data.detail) || ("HTTP " + res.status) }];
  }

  async function check() {
    const xml = textarea.value;
    if (!xml.trim()) { show("muted", ""); listErrors([]); return; }
    const mine = ++seq;
    show("muted", "Checking…");
    let res;
    try {
      if (projectUrl) {
        const own = await window.labelfab.api("POST", projectUrl, { label_config: xml });
        if (mine !== seq) return;
        if (!own.ok) {
          const errors = problems(own);
          show("bad", "✗ Save would refuse this config: " + (own.data && own.data.detail || errors.map((e) => e.detail).join(" · ")));
          listErrors(errors);
          return;
        }
      }
      res = await window.labelfab.api("POST", url, { label_config: xml });
    } catch (e) {
      if (mine === seq) show("bad", "Could not reach the server to check the config.");
      return;
    }
    if (mine !== seq) return; // a newer check is on its way
    if (res.ok) {
      const controls = res.data.controls.map((c) => c.name + " (" + c.tag + (c.labels.length ? ": " + c.labels.join(", ") : "") + ")");
      show("ok", "✓ Valid " + res.data.kind + " config" + (projectUrl ? ", and Save keeps this project's labels valid" : "") +
        ". Task data needs " + res.data.data_keys.map((k) => "$" + k).join(", ") + ". Controls: " + controls.join("; ") + ".");
      listErrors([]);
    } else {
      const errors = problems(res);
      show("bad", "✗ " + errors.map((e) => e.detail || String(e)).join(" · "));
      listErrors(errors);
    }
  }

  function preview(xml, sample) {
    if (!pane || !window.htmx) return;
    const values = { label_config: xml, embedded: "1" };
    if (editor.dataset.project) values.project = editor.dataset.project;
    if (sample && Object.keys(sample).length) values.data = JSON.stringify(sample);
    window.htmx.ajax("POST", editor.dataset.previewUrl, { target: pane, swap: "innerHTML", values: values });
  }

  function templateOf(id) {
    const tpl = document.getElementById("config-" + id);
    const sample = document.getElementById("sample-" + id);
    return tpl ? { xml: tpl.content.textContent.trim() + "\n", sample: sample ? JSON.parse(sample.dataset.sample || "{}") : {} } : null;
  }

  function showOwn() {
    previewing = null;
    title.textContent = "Live preview of this config";
    templateActions.hidden = true;
    if (textarea.value.trim()) preview(textarea.value, null);
  }

  function use(id, name) {
    const t = templateOf(id);
    if (!t) return;
    if (textarea.value.trim() && textarea.value.trim() !== t.xml.trim() &&
        !window.confirm("Replace the current label config with “" + name + "”?")) return;
    textarea.value = t.xml;
    previewing = null;
    title.textContent = "Live preview of this config";
    templateActions.hidden = true;
    textarea.dispatchEvent(new Event("input"));
    textarea.focus();
  }

  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { check(); if (!previewing) preview(textarea.value, null); }, 350);
  });

  editor.querySelectorAll("[data-config-id]").forEach((button) => {
    button.addEventListener("click", () => use(button.dataset.configId,
      button.closest("[data-gallery-item]").querySelector("strong").textContent));
  });
  editor.querySelectorAll("[data-preview-id]").forEach((button) => {
    button.addEventListener("click", () => {
      const t = templateOf(button.dataset.previewId);
      if (!t) return;
      previewing = { id: button.dataset.previewId, name: button.closest("[data-gallery-item]").querySelector("strong").textContent };
      title.textContent = "Template: " + previewing.name;
      templateActions.hidden = false;
      preview(t.xml, t.sample);
      pane.scrollIntoView({ block: "nearest" });
    });
  });
  const useButton = editor.querySelector("#preview-use");
  if (useButton) useButton.addEventListener("click", () => { if (previewing) use(previewing.id, previewing.name); });
  const back = editor.querySelector("#preview-back");
  if (back) back.addEventListener("click", showOwn);

  const filter = editor.querySelector(".gallery-filter");
  if (filter) filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    editor.querySelectorAll("[data-gallery-item]").forEach((item) => {
      item.hidden = !words.every((w) => item.dataset.title.includes(w));
    });
    editor.querySelectorAll(".gallery-group").forEach((g) => {
      g.hidden = !g.querySelector("[data-gallery-item]:not([hidden])");
    });
  });

  if (textarea.value.trim()) { check(); preview(textarea.value, null); }
})();
