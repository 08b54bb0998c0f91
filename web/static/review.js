// The review page (/review/<project>): one suspect at a time, decided with one key.
// "Given" is what the annotators gave (one's label, or their majority); QC's model-weighted
// consensus and its suggestion are shown apart, and K keeps the annotators' label only: with the
// annotators tied there is none, and the page asks the reviewer to pick one (R).
// K keep · R relabel (picker pre-filled with the suggestion; number keys; Enter) · X exclude
// (reason; Enter) · G mark gold (picker; Enter) · U or Ctrl+Z undo · Esc cancels.
// Every piece of task data is shown as text (textContent), never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("review");
  const cfgNode = document.getElementById("review-config");
  if (!root || !cfgNode) return;
  const cfg = JSON.parse(cfgNode.textContent);
  const api = window.labelfab.api.bind(window.labelfab);
  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("review-status"), empty: $("review-empty"), item: $("review-item"),
    title: $("review-task-title"), remaining: $("review-remaining"), image: $("review-image"), text: $("review-text"),
    given: $("review-given"), givenSource: $("review-given-source"), consensus: $("review-consensus"),
    suggested: $("review-suggested"), score: $("review-score"), kind: $("review-kind"), reason: $("review-reason"),
    annotations: $("review-annotations"), picker: $("review-picker"), pickerTitle: $("review-picker-title"),
    options: $("review-options"), confirm: $("review-confirm"), exclude: $("review-exclude"),
    excludeReason: $("review-exclude-reason"), run: $("review-run"), cleared: $("review-cleared"),
  };
  const keepButton = root.querySelector('[data-action="keep"]');
  const choices = cfg.control.tag === "Choices";
  const multiple = cfg.control.choice === "multiple";
  let item = null; // the suspect shown
  let mode = null; // null | "relabel" | "gold" | "exclude"
  let options = []; // picker options: {key, text, result} (results) or label names (choices)
  let selected = new Set(); // chosen label names (choices) or the chosen option index
  let lastTask = null; // the task of this page's last decision, for undo
  let busy = false;

  // quiet: for screen readers only (what the page shows says it already)
  function say(message, bad, quiet) {
    el.status.textContent = message;
    el.status.classList.toggle("bad", !!bad);
    el.status.classList.toggle("sr-only", !!quiet);
  }

  function url(template, task) {
    return template.replace("{task}", String(task));
  }

  function safeImageUrl(value) {
    if (typeof value !== "string") return null;
    if (value.startsWith("/") && !value.startsWith("//")) return value;
    if (/^https?:\/\//i.test(value) || /^data:image\//i.test(value)) return value;
    return null;
  }

  function labelsOf(result) {
    const names = [];
    (result || []).forEach((it) => {
      if (it && it.from_name === cfg.control.name && it.value) {
        (it.value[cfg.control.type] || []).forEach((n) => { if (!names.includes(n)) names.push(n); });
      }
    });
    return names;
  }

  function resultOf(names) {
    if (!names.length) return [];
    return [{ from_name: cfg.control.name, to_name: cfg.control.to_name, type: "choices", value: { choices: names } }];
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function render(data) {
    item = data;
    closeModes();
    root.setAttribute("aria-busy", "false");
    el.empty.hidden = true;
    el.item.hidden = false;
    const task = data.task;
    el.title.textContent = `Task #${task.id}`;
    el.remaining.textContent = `${data.remaining} in the queue`;
    const value = task.data ? task.data[data.object.key] : undefined;
    const src = data.object.tag === "Image" ? safeImageUrl(value) : null;
    el.image.hidden = !src;
    el.text.hidden = !!src;
    if (src) {
      el.image.src = src;
      el.image.alt = `task ${task.id}`;
      el.text.textContent = "";
    } else {
      el.image.removeAttribute("src");
      el.text.textContent = typeof value === "string" ? value : JSON.stringify(task.data, null, 2);
    }
    const tied = data.given.tied || [];
    el.given.textContent = tied.length ? `tied: ${tied.map((x) => x.label || "(none)").join(" / ")}`
      : (data.given.label || "(none)");
    el.givenSource.textContent = tied.length ? "(no majority: press R to pick the right label)"
      : (data.given.source ? `(${data.given.source})` : "");
    keepButton.disabled = tied.length > 0;
    keepButton.title = tied.length ? "The annotators are tied: there is no one label to keep" : "";
    el.consensus.textContent = data.consensus ? data.consensus.label : "–";
    el.suggested.textContent = data.suggested ? data.suggested.label : "–";
    el.score.textContent = typeof data.score === "number" ? data.score.toFixed(3) : "–";
    el.kind.textContent = data.issue ? data.issue.kind : "";
    el.reason.textContent = data.reason || "–";
    // the finding that queued it (kept whatever later runs say), and a later run that cleared it
    el.run.textContent = data.issue ? `QC run #${data.issue.run}` : "–";
    el.cleared.hidden = !data.cleared;
    el.cleared.textContent = data.cleared
      ? `QC run #${data.cleared.run} no longer flags this item (score ${Number(data.cleared.score).toFixed(3)}): ` +
        "it would leave the queue; you hold it, so decide on it or let it go."
      : "";
    el.annotations.replaceChildren(...data.annotations.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(a.email || `user ${a.user}`), cell(a.label, "review-label"),
        cell(typeof a.lead_time === "number" ? a.lead_time.toFixed(1) : "–", "muted"));
      return tr;
    }));
    say(`Task #${task.id}: K keep, R relabel, X exclude, G gold.`);
  }

  function keep() {
    if (!item) return;
    if ((item.given.tied || []).length) {
      return say("The annotators are tied: there is no one label to keep. Press R and pick the right label.", true);
    }
    decide("keep");
  }

  function showEmpty() {
    item = null;
    closeModes();
    root.setAttribute("aria-busy", "false");
    el.item.hidden = true;
    el.empty.hidden = false;
    say("No suspects left.", false, true);  // the empty panel says so on screen
  }

  async function loadNext() {
    root.setAttribute("aria-busy", "true");
    // the page's own endpoint: 200 with item null when the queue is empty (REST's review/next says 404)
    const res = await api("GET", cfg.urls.next);
    if (!res.ok) {
      root.setAttribute("aria-busy", "false");
      return say(`Could not load the next suspect: ${res.data && res.data.detail}`, true);
    }
    if (!res.data || !res.data.item) return showEmpty();
    render(res.data.item);
  }

  // ------------------------------------------------------------------ picker

  function buildOptions(preset) {
    el.options.replaceChildren();
    if (choices) {
      options = cfg.control.labels.slice();
      selected = new Set(preset);
      options.forEach((name) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "picker-option";
        b.dataset.label = name;
        const key = cfg.keys[name];
        if (key) {
          const k = document.createElement("kbd");
          k.textContent = key;
          b.append(k, " ");
        }
        b.append(name);
        b.addEventListener("click", () => toggle(name));
        el.options.append(b);
      });
    } else {
      // spans, boxes: choose one of the results at hand (each annotator's, or QC's suggestion)
      options = [];
      if (item.suggested && item.suggested.result) options.push({ text: `suggested: ${item.suggested.label}`, result: item.suggested.result });
      item.annotations.forEach((a) => options.push({ text: `${a.email}: ${a.label}`, result: a.result }));
      selected = new Set(options.length ? [0] : []);
      options.forEach((o, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "picker-option";
        b.dataset.index = String(i);
        const k = document.createElement("kbd");
        k.textContent = String((i + 1) % 10);
        b.append(k, " ", o.text);
        b.addEventListener("click", () => toggle(i));
        el.options.append(b);
      });
    }
    paintOptions();
  }

  function toggle(value) {
    if (choices && multiple) {
      if (selected.has(value)) selected.delete(value); else selected.add(value);
    } else {
      selected = new Set([value]);
    }
    paintOptions();
  }

  function paintOptions() {
    el.options.querySelectorAll(".picker-option").forEach((b) => {
      const value = choices ? b.dataset.label : Number(b.dataset.index);
      const on = selected.has(value);
      b.classList.toggle("selected", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function chosenResult() {
    if (choices) return resultOf(cfg.control.labels.filter((n) => selected.has(n)));
    const i = [...selected][0];
    return i === undefined ? null : options[i].result;
  }

  function openPicker(which) {
    if (!item) return;
    mode = which;
    el.exclude.hidden = true;
    const suggestion = item.suggested && item.suggested.result ? labelsOf(item.suggested.result) : [];
    const given = labelsOf(item.given.result);
    buildOptions(suggestion.length ? suggestion : given);
    el.pickerTitle.textContent = which === "gold"
      ? "Mark gold: pick the gold answer, then Enter (Esc cancels)"
      : "Relabel: pick the right label, then Enter (Esc cancels)";
    el.picker.hidden = false;
    el.confirm.focus();
  }

  function openExclude() {
    if (!item) return;
    mode = "exclude";
    el.picker.hidden = true;
    el.exclude.hidden = false;
    el.excludeReason.value = "";
    el.excludeReason.focus();
  }

  function closeModes() {
    // a focused field inside a panel being hidden would keep taking the keys meant for the page
    if (el.picker.contains(document.activeElement) || el.exclude.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    mode = null;
    el.picker.hidden = true;
    el.exclude.hidden = true;
  }

  // ------------------------------------------------------------------ actions

  async function send(method, address, body, done) {
    if (busy) return;
    busy = true;
    try {
      const res = await api(method, address, body);
      if (!res.ok) {
        const extra = res.data && res.data.errors && res.data.errors.length ? ` (${res.data.errors[0].detail})` : "";
        say(`${(res.data && res.data.detail) || "request failed"}${extra}`, true);
        return;
      }
      await done(res.data);
    } finally {
      busy = false;
    }
  }

  function decide(decision, extra) {
    if (!item) return;
    const taskId = item.task.id;
    send("POST", url(cfg.urls.decide, taskId), { decision, ...extra }, async () => {
      lastTask = taskId;
      await loadNext();
      say(`Task #${taskId}: ${decision} saved. U undoes it.`);
    });
  }

  function confirmPicker() {
    const result = chosenResult();
    if (!result || !result.length) return say("Pick a label first.", true);
    if (mode === "relabel") {
      decide("relabel", { result });
    } else if (mode === "gold") {
      const taskId = item.task.id;
      send("POST", url(cfg.urls.gold, taskId), { answer: result }, async () => {
        lastTask = taskId;
        await loadNext();
        say(`Task #${taskId} is now a gold task. U undoes it.`);
      });
    }
  }

  function confirmExclude() {
    const reason = el.excludeReason.value.trim();
    if (!reason) return say("Say why the item is excluded.", true);
    decide("exclude", { reason });
  }

  function undo() {
    const address = lastTask !== null ? url(cfg.urls.undo_task, lastTask) : cfg.urls.undo_last;
    send("POST", address, undefined, async (data) => {
      lastTask = null;
      await loadNext();
      say(`Undone: your ${data.decision} of task #${data.task}.`);
    });
  }

  const actions = { keep, relabel: () => openPicker("relabel"), exclude: openExclude,
    gold: () => openPicker("gold"), undo };
  root.querySelectorAll("[data-action]").forEach((b) => {
    b.addEventListener("click", () => actions[b.dataset.action]());
  });
  el.confirm.addEventListener("click", confirmPicker);

  function pickByKey(key) {
    if (choices) {
      const name = Object.keys(cfg.keys).find((n) => cfg.keys[n] === key);
      if (name === undefined) return false;
      toggle(name);
      return true;
    }
    if (!/^[0-9]$/.test(key)) return false;
    const i = (Number(key) + 9) % 10;
    if (i >= options.length) return false;
    toggle(i);
    return true;
  }

  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      if (mode !== "exclude") {
        event.preventDefault();
        undo();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (mode === "exclude") {
      if (key === "enter") { event.preventDefault(); confirmExclude(); }
      else if (key === "escape") { event.preventDefault(); closeModes(); }
      return; // typing the reason
    }
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (mode === "relabel" || mode === "gold") {
      if (key === "enter") { event.preventDefault(); confirmPicker(); return; }
      if (key === "escape") { event.preventDefault(); closeModes(); return; }
      if (pickByKey(key)) { event.preventDefault(); return; }
    }
    if (key === "u") { event.preventDefault(); undo(); return; }
    if (!item) return;
    if (key === "k") { event.preventDefault(); actions.keep(); }
    else if (key === "r") { event.preventDefault(); actions.relabel(); }
    else if (key === "x") { event.preventDefault(); actions.exclude(); }
    else if (key === "g") { event.preventDefault(); actions.gold(); }
  });

  loadNext();
})();
