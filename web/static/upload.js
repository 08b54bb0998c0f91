// labelfab upload page: drag-and-drop files or folders, post them as multipart to
// POST /api/projects/ID/import, show the upload's progress, then either the result or, for a
// large import that runs as a job, the job's progress (polled), and every problem by row.
// All text is set with textContent: file names and messages are user data.
(function () {
  "use strict";
  const root = document.getElementById("upload");
  if (!root) return;
  const form = document.getElementById("upload-form");
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const list = document.getElementById("file-list");
  const button = document.getElementById("upload-button");
  const clearButton = document.getElementById("clear-files");
  const progressBox = document.getElementById("upload-progress");
  const bar = document.getElementById("progress-bar");
  const progressText = document.getElementById("progress-text");
  const resultBox = document.getElementById("upload-result");
  const summary = document.getElementById("result-summary");
  const errorTable = document.getElementById("error-table");
  let chosen = []; // [{file, name}] where name may carry a folder path ("cat/1.png")

  function human(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / 1048576).toFixed(1) + " MiB";
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function add(files) {
    // The same file chosen twice (same path and size) is sent once.
    const seen = new Set(chosen.map((c) => c.name + "\u0000" + c.file.size));
    for (const c of files) {
      const key = c.name + "\u0000" + c.file.size;
      if (!seen.has(key)) { seen.add(key); chosen.push(c); }
    }
    render();
  }

  function render() {
    list.replaceChildren();
    const shown = chosen.slice(0, 200);
    for (const c of shown) list.appendChild(el("li", c.name + " · " + human(c.file.size)));
    if (chosen.length > shown.length) list.appendChild(el("li", "… and " + (chosen.length - shown.length) + " more files", "muted"));
    if (chosen.length) {
      const total = chosen.reduce((n, c) => n + c.file.size, 0);
      list.appendChild(el("li", chosen.length + " file(s), " + human(total), "muted"));
    }
    button.disabled = chosen.length === 0;
    clearButton.hidden = chosen.length === 0;
  }

  clearButton.addEventListener("click", () => {
    chosen = [];
    render();
  });

  // Folders dropped in Chromium and Firefox: walk them, keeping each file's relative path so
  // that an ImageFolder layout (cat/1.png) gives its labels.
  function readEntry(entry) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((file) => resolve([{ file, name: entry.fullPath.replace(/^\//, "") }]), () => resolve([]));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries(async (entries) => {
          if (!entries.length) {
            const nested = await Promise.all(all.map(readEntry));
            resolve(nested.flat());
            return;
          }
          all.push(...entries);
          next();
        }, () => resolve([]));
        next();
      } else {
        resolve([]);
      }
    });
  }

  async function fromDrop(dataTransfer) {
    const items = Array.from(dataTransfer.items || []);
    const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
    if (entries.length) return (await Promise.all(entries.map(readEntry))).flat();
    return Array.from(dataTransfer.files || []).map((file) => ({ file, name: file.name }));
  }

  ["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    dropzone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("over")));
  dropzone.addEventListener("drop", async (e) => {
    e.preventDefault();
    add(await fromDrop(e.dataTransfer));
  });
  dropzone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => {
    add(Array.from(input.files).map((file) => ({ file, name: file.webkitRelativePath || file.name })));
    input.value = "";
  });

  function showProgress(fraction, text) {
    progressBox.hidden = false;
    if (fraction === null) bar.removeAttribute("value"); else bar.value = fraction;
    progressText.textContent = text;
  }

  function showErrors(errors) {
    const body = errorTable.querySelector("tbody");
    body.replaceChildren();
    for (const e of errors || []) {
      const tr = document.createElement("tr");
      tr.append(el("td", e.file || ""), el("td", e.row === null || e.row === undefined ? "" : e.row),
        el("td", e.field || ""), el("td", e.detail || JSON.stringify(e)));
      body.appendChild(tr);
    }
    errorTable.hidden = !(errors && errors.length);
  }

  function showResult(ok, text, errors) {
    resultBox.hidden = false;
    summary.replaceChildren(el("span", text));
    summary.className = ok ? "ok" : "bad";
    if (ok) {
      summary.append(" ");
      const link = el("a", "See the tasks");
      link.href = root.dataset.tasksUrl;
      summary.appendChild(link);
    }
    showErrors(errors);
    // every upload ends here: the page's "Recent imports" reloads itself (htmx) on this event
    document.body.dispatchEvent(new CustomEvent("labelfab:imported"));
  }

  function describe(r) {
    const n = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
    let text = "Imported " + n(r.task_count, "task") + ", " + n(r.annotation_count, "annotation") + ", " +
      n(r.prediction_count, "prediction");
    if (r.duration !== undefined) text += " in " + Number(r.duration).toFixed(2) + " s";
    if (r.skipped_duplicates) text += "; " + n(r.skipped_duplicates, "duplicate") + " skipped";
    if (r.skipped_invalid) text += "; " + n(r.skipped_invalid, "invalid row") + " skipped (listed below)";
    return text + ".";
  }

  async function follow(importId) {
    const url = root.dataset.statusUrl.replace(/\/0$/, "/" + importId) + "?return_task_ids=false";
    for (;;) {
      const res = await window.labelfab.api("GET", url);
      if (!res.ok) {
        showResult(false, (res.data && res.data.detail) || ("HTTP " + res.status), []);
        return;
      }
      const imp = res.data;
      if (imp.status === "completed") {
        showProgress(1, "Done.");
        const result = (imp.job && imp.job.result) || imp;
        showResult(true, describe(Object.assign({}, imp, result)), result.errors || imp.errors);
        return;
      }
      if (imp.status === "failed") {
        showProgress(imp.progress || 0, "The import failed; nothing was stored.");
        showResult(false, (imp.job && imp.job.message) || "The import failed.", imp.errors);
        return;
      }
      const words = { created: "waiting for a worker", in_progress: "running" };
      const message = imp.job && imp.job.message ? imp.job.message : (words[imp.status] || imp.status);
      showProgress(imp.progress || 0, "Importing in the background: " + Math.round(100 * (imp.progress || 0)) + "% · " + message);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!chosen.length) return;
    const data = new FormData();
    for (const c of chosen) data.append("file", c.file, c.name);
    const params = new URLSearchParams();
    if (document.getElementById("skip-invalid").checked) params.set("skip_invalid", "true");
    if (document.getElementById("dedupe").checked) params.set("dedupe", "true");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.importUrl + (params.toString() ? "?" + params : ""));
    xhr.setRequestHeader("X-CSRFToken", window.labelfab.csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    button.disabled = true;
    resultBox.hidden = true;
    showProgress(0, "Uploading…");
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) showProgress(ev.loaded / ev.total, "Uploading " + Math.round(100 * ev.loaded / ev.total) + "%");
    });
    xhr.upload.addEventListener("load", () => showProgress(null, "Checking and saving…"));
    xhr.addEventListener("error", () => {
      button.disabled = false;
      showResult(false, "The upload did not reach the server (network error).", []);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      button.disabled = false;
      if (xhr.status === 202) {
        chosen = [];
        render();
        follow(body.import);
      } else if (xhr.status >= 200 && xhr.status < 300) {
        showProgress(1, "Done.");
        chosen = [];
        render();
        showResult(true, describe(body), body.errors);
      } else {
        progressBox.hidden = true;
        showResult(false, body.detail || ("The server answered HTTP " + xhr.status + "."), body.errors);
      }
    });
    xhr.send(data);
  });
})();
