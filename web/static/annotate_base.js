// labelfab labeling page: what every part of the workspace shares (loaded first, after
// annotate_controls.js). The Workspace class (annotate.js) is assembled from parts: each file
// annotate_<part>.js calls labelfabAnno.part(class { methods }) and its methods join the class
// (a part registered after annotate.js ran joins it at once). A new widget family is one such file,
// listed in templates/annotate/_scripts.html.
// The text annotator's UMD build still reads process.env.NODE_ENV (from nanostores, see
// nanostores/nanostores#97); browsers have no `process`. This file is loaded before it.
if (typeof window.process === "undefined") window.process = { env: { NODE_ENV: "production" } };

(() => {
  "use strict";
  if (window.labelfabAnno) return; // loaded twice (htmx swaps): keep the first copy

  const SURROGATES = /[\uD800-\uDFFF]/;
  const RETRY_STATUSES = new Set([0, 408, 429, 500, 502, 503, 504]);
  const TYPING = "textarea, input[type=text], input[type=search], input:not([type]), [contenteditable=true], [data-value-input]";
  const C = window.labelfabControls; // annotate_controls.js: values, visibleWhen, labels from data

  // ------------------------------------------------------------------ small helpers
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : "id-" + Date.now().toString(36) + Math.random().toString(36).slice(2));
  const clone = (value) => JSON.parse(JSON.stringify(value));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(values[k]));
  const storage = {
    get(key) {
      try { const raw = window.localStorage.getItem(key); return raw ? JSON.parse(raw) : null; } catch (e) { return null; }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full or blocked */ }
    },
    remove(key) { try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ } },
  };

  // JavaScript strings count UTF-16 code units; Label Studio results (checked by the server in
  // Python) count code points. These convert between the two; ASCII/BMP text needs no work.
  function utf16ToCodePoint(text, index) {
    if (!SURROGATES.test(text)) return index;
    return Array.from(text.slice(0, index)).length;
  }
  function codePointToUtf16(text, cp) {
    if (!SURROGATES.test(text)) return cp;
    let i = 0;
    for (let n = 0; n < cp && i < text.length; n += 1) i += text.codePointAt(i) > 0xffff ? 2 : 1;
    return i;
  }

  // A JSON call that reports network failures as status 0 instead of throwing.
  async function call(method, url, body, headers) {
    const opts = {
      method, credentials: "same-origin",
      headers: Object.assign({ "Accept": "application/json", "X-CSRFToken": window.labelfab.csrf() }, headers || {}),
    };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, opts);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the server cannot be reached" } };
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text.slice(0, 300) }; }
    return { ok: response.ok, status: response.status, data };
  }

  // A fresh CSRF token for this session (after the annotator logged in again in another tab).
  async function refreshCsrf() {
    const res = await call("GET", "/api/annotate/csrf");
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (!res.ok || !res.data || !res.data.csrf_token || !meta) return false;
    meta.content = res.data.csrf_token;
    return true;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ------------------------------------------------------------------ parts of the Workspace class
  const parts = [];
  function join(Workspace, Part) {
    for (const name of Object.getOwnPropertyNames(Part.prototype)) {
      if (name === "constructor") continue;
      Object.defineProperty(Workspace.prototype, name, Object.getOwnPropertyDescriptor(Part.prototype, name));
    }
  }
  const A = {
    uuid, clone, sleep, fmt, storage, utf16ToCodePoint, codePointToUtf16, call, refreshCsrf, el,
    TYPING, RETRY_STATUSES, C,
    Workspace: null,
    // Object tag -> the Workspace method that shows it: renderers.Audio = "renderAudio" in
    // annotate_audio.js. The method may return a promise (the task waits for it to load).
    renderers: {},
    part(Part) { parts.push(Part); if (A.Workspace) join(A.Workspace, Part); },
    assemble(Workspace) { A.Workspace = Workspace; for (const Part of parts) join(Workspace, Part); },
  };
  window.labelfabAnno = A;
})();
