// The review page (/review/<project>): one suspect at a time, decided with one key.
// "Given" is what the annotators gave (one's label, or their majority); QC's model-weighted
// consensus and its suggestion are shown apart, and K keeps the annotators' label only: with the
// annotators tied there is none, and the page asks the reviewer to pick one (R).
// K keep · R relabel (picker pre-filled with the suggestion; number keys; Enter) · X exclude
// (reason; Enter) · G mark gold (picker; Enter) · U or Ctrl+Z undo · Esc cancels.
// Span and box projects (cfg.regions): the task is shown in the labeling page's workspace
// (annotate.js, mode "review") with the annotators' regions to edit with its widgets and keys;
// A applies QC's suggestion, R (or Enter, the labeling page's submit) lists the edits to confirm
// with Enter and relabels with them, G makes them the gold answer, K keeps the annotators'
// label, U undoes a decision and Ctrl+Z an edit.
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
    apply: $("review-apply"),
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
  // span and box projects: the labeling workspace, the result to confirm, a keep asked twice
  const regions = !!cfg.regions;
  const workspace = regions ? window.labelfabAnnotate.ready : null;
  let ws = null;
  let pending = null;
  let keepAsked = false;

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

  // the text of (sanitised) HTML, parsed in an inert document: nothing of it runs or loads
  function htmlText(html) {
    return new DOMParser().parseFromString(String(html), "text/html").body.textContent || "";
  }

  // one object of the task (a text, a List's items) with its name, as text only
  function objectBlock(object, value) {
    const box = document.createElement("div");
    box.className = "review-object";
    box.dataset.object = object.name;
    const head = document.createElement("h3");
    head.className = "small muted";
    head.textContent = object.name;
    box.append(head);
    if (Array.isArray(value) && object.tag === "Chat") { // a conversation: each message with the id reasons name
      const list = document.createElement("ol");
      list.className = "review-chat";
      value.forEach((it, n) => {
        const li = document.createElement("li");
        const id = it && typeof it.id === "string" && it.id ? it.id : `msg-${n}`; // labeling/schema/chat.py
        li.textContent = `${id} · ${it && it.role}: ${it && typeof it.content === "string" ? it.content : ""}`;
        list.append(li);
      });
      box.append(list);
    } else if (Array.isArray(value)) {
      const list = document.createElement("ol");
      value.forEach((it) => {
        const li = document.createElement("li");
        const words = it && typeof it === "object"
          ? [it.title, it.body, it.html !== undefined ? htmlText(it.html) : undefined].filter((x) => x).join(" · ")
          : String(it);
        li.textContent = it && typeof it === "object" && it.id !== undefined ? `${it.id}: ${words}` : words;
        list.append(li);
      });
      box.append(list);
    } else {
      const p = document.createElement("p");
      p.textContent = typeof value === "string" ? value : JSON.stringify(value);
      box.append(p);
    }
    return box;
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
    const tied = data.given.tied || [];
    if (!regions) {
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
        const objects = (data.objects || []).filter((o) => o.tag !== "Image");
        if (objects.length > 1 || (objects.length === 1 && typeof value !== "string")) {
          el.text.replaceChildren(...objects.map((o) => objectBlock(o, task.data ? task.data[o.key] : undefined)));
        } else {
          el.text.textContent = typeof value === "string" ? value : JSON.stringify(task.data, null, 2);
        }
      }
    }
    el.given.textContent = tied.length ? `tied: ${tied.map((x) => x.label || "(none)").join(" / ")}`
      : (data.given.label || "(none)");
    el.givenSource.textContent = tied.length ? "(no majority: press R to pick the right label)"
      : (data.given.source ? `(${data.given.source})` : "");
    keepButton.disabled = tied.length > 0;
    keepButton.title = tied.length ? "The annotators are tied: there is no one label to keep" : "";
    el.consensus.textContent = data.consensus ? data.consensus.label : "–";
    el.suggested.textContent = data.suggested ? (data.suggested.text || data.suggested.label) : "–";
    if (el.apply) el.apply.hidden = !(data.suggested && data.suggested.result);
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
      if (regions) {
        // start the edit from this annotator's regions instead (one undoable edit)
        const td = document.createElement("td");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "review-edit-from";
        b.textContent = "Edit from these";
        b.addEventListener("click", () => {
          if (!ws || mode) return;
          ws.replaceResult(a.result);
          say(`${a.email || `user ${a.user}`}'s regions are in the editor. Ctrl+Z takes them back.`);
        });
        td.append(b);
        tr.append(td);
      }
      return tr;
    }));
    if (!regions) {
      say(`Task #${task.id}: K keep, R relabel, X exclude, G gold.`);
      return Promise.resolve();
    }
    // the annotators' regions in the labeling workspace (with a tie: the first annotator's)
    keepAsked = false;
    const start = tied.length ? tied[0].result : data.given.result;
    const shown = workspace.then((w) => {
      ws = w;
      ws.suspended = false;
      return ws.showForReview(task, start || []);
    });
    return shown.then(() => {
      if (item !== data) return;
      say(tied.length
        ? `Task #${task.id}: the annotators are tied; the editor shows the first one's regions. Edit them, then R.`
        : `Task #${task.id}: edit the regions, then R relabels; K keeps the annotators' label; X excludes; G gold.`);
    });
  }

  function keep() {
    if (!item) return;
    if ((item.given.tied || []).length) {
      return say("The annotators are tied: there is no one label to keep. Press R and pick the right label.", true);
    }
    if (regions && ws && ws.isEdited() && !keepAsked) {
      keepAsked = true;
      return say("You edited the regions: K keeps the annotators' label and drops your edits. "
        + "Press K again to keep, or R to relabel with your edits.", true);
    }
    decide("keep");
  }

  function showEmpty() {
    item = null;
    closeModes();
    if (ws) ws.closeReview();
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
    await render(res.data.item);
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

  // ------------------------------------------------------------------ edited regions (spans, boxes)

  function regionWords(it) {
    const v = it.value || {};
    const labels = (v.labels || v.rectanglelabels || v.polygonlabels || v.ellipselabels || []).join(", ") || "no label";
    if (it.type === "labels") return { where: `“${v.text || `${v.start}–${v.end}`}”`, labels };
    const W = it.original_width, H = it.original_height;
    const px = (p, size) => Math.round((p / 100) * size);
    const where = W && H
      ? `box ${px(v.width, W)}×${px(v.height, H)} at (${px(v.x, W)}, ${px(v.y, H)})`
      : `box at (${Number(v.x).toFixed(1)}%, ${Number(v.y).toFixed(1)}%)`;
    return { where, labels };
  }

  // A region's place (a span's offsets, a box's coordinates), to pair the edited regions with
  // the annotators'.
  function regionPlace(it) {
    const v = it.value || {};
    if (it.type === "labels") return `${it.from_name}|${v.start}|${v.end}`;
    const r = (n) => Number(n).toFixed(2);
    return `${it.from_name}|${r(v.x)}|${r(v.y)}|${r(v.width)}|${r(v.height)}`;
  }

  // The edits as lines of words: "“Hawaii”: PER → LOC", "+ “IBM”: ORG", "− “Ada”: PER".
  function changes(before, after) {
    const isRegion = (it) => it && (it.type === "labels" || it.type === "rectanglelabels" || it.type === "polygonlabels" || it.type === "ellipselabels");
    const old = new Map();
    (before || []).filter(isRegion).forEach((it) => old.set(regionPlace(it), it));
    const lines = [];
    after.filter(isRegion).forEach((it) => {
      const place = regionPlace(it);
      const was = old.get(place);
      const now = regionWords(it);
      if (!was) lines.push({ kind: "added", text: `+ ${now.where}: ${now.labels}` });
      else if (regionWords(was).labels !== now.labels) {
        lines.push({ kind: "changed", text: `${now.where}: ${regionWords(was).labels} → ${now.labels}` });
      }
      old.delete(place);
    });
    old.forEach((it) => {
      const was = regionWords(it);
      lines.push({ kind: "removed", text: `− ${was.where}: ${was.labels}` });
    });
    return lines;
  }

  // On a phone the decisions stick to the screen's foot: a picker or a reason opened in them grows up
  // over the item, so the page scrolls the item up to the top of the screen, in sight above them.
  function itemInSight() {
    const actions = el.picker.closest(".review-actions");
    if (!actions || getComputedStyle(actions).position !== "sticky") return;
    const shown = [el.image, el.text, root.querySelector(".review-workspace")].find((n) => n && !n.hidden);
    if (!shown) return;
    const top = shown.getBoundingClientRect().top - 8;
    if (top > 0) window.scrollBy(0, top);
  }

  function openConfirm(which) {
    if (!item || !ws) return;
    const result = ws.getResult();
    if (!result.length) {
      return say("Nothing is marked: mark the right regions first (or X to exclude the item).", true);
    }
    const problems = ws.problems(result);
    if (problems.length) return say(`Not yet: ${problems.join("; ")}.`, true);
    mode = which;
    pending = result;
    ws.suspended = true; // Enter and Esc are this panel's now
    el.exclude.hidden = true;
    const base = item.given.result;
    const lines = changes(base, result);
    let same = "The regions as shown.";
    if (base) {
      same = which === "gold" ? "The annotators' regions, unchanged, become the gold answer."
        : "No change from the annotators' label: it is recorded as a keep.";
    }
    const rows = lines.length ? lines : [{ kind: "same", text: same }];
    el.options.replaceChildren(...rows.map((line) => {
      const li = document.createElement("li");
      li.className = `review-change ${line.kind}`;
      li.textContent = line.text;
      return li;
    }));
    el.pickerTitle.textContent = which === "gold"
      ? "Mark gold with these regions as the answer: Enter confirms (Esc goes back to editing)"
      : "Relabel with your edits: Enter confirms (Esc goes back to editing)";
    el.picker.hidden = false;
    el.confirm.focus();
    itemInSight();
  }

  function applySuggestion() {
    if (!item || !ws || mode || !item.suggested || !item.suggested.result) return;
    ws.replaceResult(item.suggested.result);
    say(`QC's suggestion is applied: ${item.suggested.text || item.suggested.label}. Ctrl+Z takes it back.`);
  }

  function openPicker(which) {
    if (!item) return;
    if (regions) return openConfirm(which);
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
    itemInSight();
  }

  function openExclude() {
    if (!item) return;
    mode = "exclude";
    if (ws) ws.suspended = true;
    el.picker.hidden = true;
    el.exclude.hidden = false;
    el.excludeReason.value = "";
    el.excludeReason.focus();
    itemInSight();
  }

  function closeModes() {
    // a focused field inside a panel being hidden would keep taking the keys meant for the page
    if (el.picker.contains(document.activeElement) || el.exclude.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    mode = null;
    pending = null;
    if (ws) ws.suspended = false;
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
    const result = regions ? pending : chosenResult();
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
  if (el.apply) el.apply.addEventListener("click", applySuggestion);
  // the workspace's submit (Enter, as on the labeling page): relabel with the edits
  root.addEventListener("anno:submit", () => { if (item && !mode) openPicker("relabel"); });

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

  // typing in a field (the exclude reason, a label filter): its keys are its own
  const TYPING = "textarea, select, input[type=text], input[type=search], input:not([type]), [contenteditable=true]";

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return; // the labeling workspace used it (spans and boxes)
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      // spans and boxes: Ctrl+Z undoes an edit (the workspace's), U a decision
      if (mode !== "exclude" && !regions) {
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
    if (target instanceof Element && target.matches(TYPING)) return;
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
    else if (key === "a" && regions && !mode) { event.preventDefault(); applySuggestion(); }
  });

  loadNext();
})();
