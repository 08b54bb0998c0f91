// labelfab labeling page: keyboard first, never loses work.
//
// The page (web/templates/annotate/_workspace.html) is rendered from the project's label schema;
// this script fetches tasks, shows their data as text (textContent, never innerHTML), drives
// Annotorious (boxes on images) and Recogito's text annotator (spans in text), and turns their
// annotations into Label Studio result items:
//   rectanglelabels: x, y, width, height in percent of the image's natural size;
//   labels: start/end as Unicode code point offsets into the task text (as Python counts them).
// One representation, the Label Studio result list, is used for drafts (localStorage), undo,
// predictions, previous annotations and submits.
// The review page of span and box projects uses the same workspace in mode "review": it calls
// showForReview(task, result) with the annotators' regions, the reviewer edits them with the same
// widgets and keys, and the page reads getResult() for its decision. In that mode nothing is
// saved or skipped here; Enter (submit) sends an "anno:submit" event to the page instead, and
// the page may set ``suspended`` while its own dialog takes the keys.
// The Workspace class is assembled from this file and its parts (annotate_base.js says how):
// annotate_objects.js (showing task data, zoom and pan), annotate_results.js (result list <->
// page state), annotate_spans.js (keyboard span selection), annotate_session.js (submit, skip,
// fixing an earlier annotation, the outbox, leases and counters).

(() => {
  "use strict";
  if (window.labelfabAnnotate) return; // loaded twice (htmx swaps): keep the first copy

  const A = window.labelfabAnno; // annotate_base.js: shared helpers, the parts of the Workspace class
  const { sleep, storage, utf16ToCodePoint, codePointToUtf16, call, TYPING, RETRY_STATUSES } = A;

  // ------------------------------------------------------------------ the workspace
  class Workspace {
    constructor(root) {
      this.root = root;
      this.cfg = JSON.parse(root.dataset.annoConfig);
      this.schema = this.cfg.schema;
      this.preview = this.cfg.mode === "preview";
      this.viewing = this.cfg.mode === "view"; // read-only, on the task page: annotate_view.js
      this.reviewing = this.cfg.mode === "review" || this.viewing;
      this.suspended = false; // the review page's confirmation has the keys
      // the element whose keys are the workspace's: the hosting page's (review) or its own
      this.host = root.closest("[data-anno-host]") || root;
      this.controls = this.schema.controls;
      this.labeled = this.controls.filter((c) => c.labels && c.labels.length);
      this.userKey = `lf:${this.cfg.user.id}:${this.cfg.project.id}`;
      this.keyIndex = new Map(); // key -> {control, label}
      for (const control of this.controls) {
        for (const [label, key] of Object.entries(this.cfg.keys[control.name] || {})) {
          if (!this.keyIndex.has(key)) this.keyIndex.set(key, { control, label });
        }
      }
      this.objects = {}; // object name -> {name, tag, key, node, annotator, image}
      this.history = [];
      this.pointer = -1;
      this.current = null; // {task, lease, shownAt, prediction}
      this.editing = null; // {annotation, task, editable, shownAt} while fixing a previous annotation
      this.prefetched = null; // the next answer, leased ahead
      this.prefetching = null; // the request ahead while it is on its way
      this.doneIds = new Set(); // tasks submitted or skipped on this page
      this.seq = { pushed: 0, savedNew: 0, savedAny: 0 }; // submits queued and saved (counters)
      this.span = null; // keyboard span selection: {obj, anchor, focus, layer} while on
      this.regionTimer = null;
      this.muted = false;
      this.lastActivity = Date.now();
      this.destroyed = false;
      this.listeners = [];
      this.switchTimes = []; // ms from a submit to the next task on screen (tests and benchmarks read it)
      this.outbox = new A.Outbox(`${this.userKey}:outbox`, (evt) => this.onOutbox(evt));
      this.bind();
      this.start();
    }

    q(name) { return this.root.querySelector(`[data-anno="${name}"]`); }

    listen(target, type, fn, opts) {
      target.addEventListener(type, fn, opts);
      this.listeners.push([target, type, fn, opts]);
    }

    destroy() {
      this.destroyed = true;
      for (const [target, type, fn, opts] of this.listeners) target.removeEventListener(type, fn, opts);
      this.listeners = [];
      this.teardownObjects();
      clearInterval(this.leaseTimer);
    }

    // ---------------------------------------------------------------- wiring
    bind() {
      if (this.viewing) this.bindViewing(); // annotate_view.js: no key or edit reaches the widgets
      this.listen(window, "keydown", (e) => this.onKey(e), true);
      this.listen(window, "keyup", (e) => { if (e.key === " ") this.setPanning(false); }, true);
      for (const type of ["pointerdown", "keydown", "wheel"]) {
        this.listen(window, type, () => { this.lastActivity = Date.now(); }, { capture: true, passive: true });
      }
      this.listen(this.q("form"), "submit", (e) => { e.preventDefault(); this.submit(); });
      // the review mode has no skip, previous or recheck buttons, nor the skip dialog
      const on = (name, type, fn) => { const node = this.q(name); if (node) this.listen(node, type, fn); };
      on("skip", "click", () => this.openSkip());
      on("back", "click", () => this.back());
      on("undo", "click", () => this.undo());
      on("keys-button", "click", () => this.toggleKeys());
      on("alert-close", "click", () => this.hideAlert(true));
      on("mode-exit", "click", () => this.leaveEdit());
      on("recheck", "click", () => this.loadNext());
      const skipDialog = this.q("skip-dialog");
      on("skip-dialog", "close", () => {
        if (skipDialog.returnValue === "skip") this.skip(this.q("skip-reason").value.trim());
      });
      on("skip-cancel", "click", () => skipDialog.close("cancel"));
      this.root.querySelectorAll(".anno-control input").forEach((input) => {
        this.listen(input, "change", () => this.onInputChange(input));
      });
      this.root.querySelectorAll("[data-textarea], [data-value-input]").forEach((area) => {
        this.listen(area, "change", () => this.changed());
        this.listen(area, "input", () => this.saveDraft());
      });
      this.root.querySelectorAll("[data-filter]").forEach((input) => this.bindFilter(input));
      this.root.querySelectorAll("[data-zoom]").forEach((button) => {
        const obj = button.closest("[data-object]").dataset.object;
        this.listen(button, "click", () => this.zoom(obj, button.dataset.zoom));
      });
      this.root.querySelectorAll(".anno-image-view").forEach((view) => this.bindPan(view));
      // span mode ends when focus leaves the text (Tab, a click elsewhere) or the mouse is used;
      // a dialog (the key list) keeps it: focus comes back when the dialog closes
      this.listen(this.root, "focusout", (e) => {
        if (!this.span) return;
        const pane = this.span.obj.node.closest(".anno-text");
        const to = e.relatedTarget;
        if (e.target === pane && !(to && (pane.contains(to) || to.closest("dialog")))) this.leaveSpanMode(false);
      });
      this.listen(this.root, "pointerdown", () => this.leaveSpanMode(false), true);
      this.listen(window, "resize", () => this.drawSpan(false));
      // typing in a field (a region's transcription) is working on the selected region: a label
      // key after it relabels that region (aheadOfDrawn)
      this.listen(this.root, "focusin", (e) => {
        if (e.target.matches("textarea, input:not([type=radio]):not([type=checkbox])")) this.drawnAhead = null;
      });
    }

    // ---------------------------------------------------------------- task loading
    async start() {
      if (this.reviewing) return; // the review page calls showForReview
      if (this.preview) {
        this.show({ task: this.cfg.sample, lease: null });
        return;
      }
      this.leaseTimer = setInterval(() => this.tickLease(), 1000);
      if (this.outbox.size) {
        this.setLoading("Saving your earlier work first…");
        this.outbox.run();
        await this.outbox.drained();
      }
      await this.loadNext();
    }

    setLoading(text) {
      const loading = this.q("loading");
      loading.hidden = !text;
      if (text) loading.textContent = text;
      this.root.classList.toggle("is-loading", Boolean(text));
    }

    // The next task from the server. The answer's counters are only trusted (``stamp.reliable``)
    // when no submit was on its way while it was made: the server may or may not have counted
    // such a submit yet, and its "saved" event moves the counters on the page by itself.
    async fetchNext(exclude) {
      const midnight = new Date();
      midnight.setHours(0, 0, 0, 0); // "done today" counts from the annotator's local midnight
      let url = `${this.cfg.urls.next}?since=${encodeURIComponent(midnight.toISOString())}`;
      if (exclude) url += `&exclude=${encodeURIComponent(exclude)}`;
      for (let attempt = 0; ; attempt += 1) {
        const quiet = this.outbox.size === 0, pushed = this.seq.pushed;
        const res = await call("GET", url);
        if (this.destroyed) return null;
        if (res.ok) {
          const data = res.data || { task: null };
          if (data.task) Object.defineProperty(data.task, "media", { value: data.media || null }); // not in its JSON
          data.stamp = { reliable: quiet && pushed === this.seq.pushed, savedNew: this.seq.savedNew, savedAny: this.seq.savedAny };
          return data;
        }
        if (!RETRY_STATUSES.has(res.status)) {
          const detail = res.data && res.data.detail ? res.data.detail : `error ${res.status}`;
          if (exclude) return null;
          return { task: null, detail: `No task for you right now: ${detail}.` };
        }
        if (!exclude || this.root.classList.contains("is-loading")) {
          this.setLoading(`The server cannot be reached; trying again (attempt ${attempt + 1})…`);
        }
        await sleep(Math.min(1000 * 2 ** attempt, 10000));
      }
    }

    async loadNext() {
      this.setLoading("Loading the next task…");
      this.q("empty").hidden = true;
      let next = await this.takePrefetched();
      if (!next) {
        if (this.outbox.size) {
          // the router hands out the next task once the last one is stored (until then it
          // would hand the same task back)
          this.setLoading("Saving…");
          await this.outbox.drained();
          if (this.destroyed || this.editing) return;
          this.setLoading("Loading the next task…");
        }
        next = await this.fetchNext(null);
      }
      if (!next) return;
      this.updateCounters(next);
      if (!next.task) {
        this.current = null;
        this.showEmpty(next);
        return;
      }
      this.show(next);
      if (next.prefetch) this.prefetch();
    }

    // The task leased ahead, if it is still good to show: waits for a request ahead that is on
    // its way rather than asking twice.
    async takePrefetched() {
      if (this.prefetching) await this.prefetching;
      const next = this.prefetched;
      this.prefetched = null;
      if (!next || !next.task || this.doneIds.has(next.task.id)) return null;
      const expires = next.lease && next.lease.expires_at ? Date.parse(next.lease.expires_at) : NaN;
      if (expires <= Date.now() + 2000) return null; // ran out while the annotator was away: ask again
      return next;
    }

    // Lease the task after this one ahead of time (the router allows a second lease and says
    // so with "prefetch": true), so that the next task is on screen right after a submit.
    // It waits until earlier submits are stored: until then the router would hand one of
    // those tasks back as the task ahead.
    prefetch() {
      if (this.preview || !this.current || this.prefetching || this.prefetched) return;
      const task = this.current.task;
      const run = (async () => {
        if (this.outbox.size) await this.outbox.drained();
        if (this.destroyed || !this.current || this.current.task !== task) return;
        const next = await this.fetchNext(task.id);
        if (!next || !next.task || next.task.id === task.id || this.doneIds.has(next.task.id)
            || this.outbox.has(next.task.id)) return;
        this.prefetched = next;
        this.warmImages(next.task);
      })();
      const pending = run.finally(() => { if (this.prefetching === pending) this.prefetching = null; });
      this.prefetching = pending;
    }

    warmImages(task) {
      for (const obj of Object.values(this.schema.objects)) {
        const value = task.data ? task.data[obj.value_key] : null;
        if (obj.tag === "Image" && typeof value === "string") {
          const img = new Image();
          img.src = value;
        }
      }
    }

    showEmpty(next) {
      this.setLoading(null);
      this.teardownObjects();
      this.setResult([]);
      this.resetHistory();
      this.root.classList.add("is-empty");
      this.q("empty").hidden = false;
      const text = this.q("empty-text");
      if (!text.dataset.default) text.dataset.default = text.textContent;
      text.textContent = next && next.detail ? next.detail : text.dataset.default;
      this.q("task-id").textContent = "";
      this.q("lease").textContent = "";
    }

    // Show a task (new work) and restore its draft, or pre-fill the model's prediction.
    show(next) {
      const task = next.task;
      this.q("notice").hidden = true;  // a notice is about the task it came with, never the next one
      clearTimeout(this.noticeTimer);
      this.root.classList.remove("is-empty");
      this.q("empty").hidden = true;
      this.current = { task, lease: next.lease || null, shownAt: Date.now(), prediction: null };
      if (!this.preview) this.tickLease();
      this.renderTask(task, this.preview ? "Sample task" : `Task ${task.id}`).then(() => {
        if (this.destroyed || !this.current || this.current.task !== task) return;
        const draft = this.preview ? null : storage.get(this.draftKey(task.id));
        const prediction = this.pickPrediction(task);
        this.current.prediction = prediction;
        if (draft && Array.isArray(draft.result) && draft.result.length) {  // an empty draft restores nothing
          this.setResult(draft.result);
          this.notice("Your unsaved work on this task was restored.");
          if (draft.shownAt) this.current.shownAt = Math.min(this.current.shownAt, draft.shownAt);
        } else if (prediction) {
          this.setResult(prediction.result);
        } else {
          this.setResult([]);
        }
        this.showPrediction(prediction);
        this.resetHistory();
        this.setLoading(null);
        if (this.submittedAt) {
          this.switchTimes.push(Math.round(performance.now() - this.submittedAt));
          this.submittedAt = null;
        }
        this.focusStart();
      });
    }

    // The review page: a suspect task with the regions to start from (the annotators' label).
    // The starting point is the first undo step; the reviewer's edits are not saved here.
    async showForReview(task, result) {
      this.root.classList.remove("is-empty");
      this.current = { task, lease: null, shownAt: Date.now(), prediction: null };
      await this.renderTask(task, `Task ${task.id}`);
      if (this.destroyed || !this.current || this.current.task !== task) return;
      this.setResult(result || []);
      this.resetHistory();
      this.setLoading(null);
    }

    // The review page: nothing to review any more (the queue is empty). The widgets go before
    // the page hides the workspace: a box editor left on a hidden image draws at scale 0.
    closeReview() {
      this.teardownObjects();
      this.current = null;
      this.suspended = false;
      this.resetHistory();
    }

    // The review page: put a result in the editor as one undoable edit (QC's suggestion, an
    // annotator's regions).
    replaceResult(result) {
      this.flushRegions();
      this.setResult(result || []);
      this.changed();
    }

    // Whether the regions differ from what showForReview put in the editor.
    isEdited() {
      this.flushRegions();
      return this.history.length > 0 && JSON.stringify(this.getResult()) !== this.history[0];
    }

    pickPrediction(task) {
      if (!this.cfg.project.show_predictions || !Array.isArray(task.predictions) || !task.predictions.length) return null;
      const scored = task.predictions
        .filter((p) => Array.isArray(p.result))
        .map((p) => ({ p, result: this.knownResult(p.result) }))
        .filter((x) => x.result.length)
        .sort((a, b) => (b.p.score ?? -1) - (a.p.score ?? -1));
      if (!scored.length) return null;
      const { p: best, result } = scored[0];
      return { id: best.id, score: best.score, model: best.model_version || "a model", result };
    }

    showPrediction(prediction) {
      const box = this.q("prediction");
      box.hidden = !prediction;
      if (!prediction) return;
      const score = typeof prediction.score === "number" ? ` (score ${prediction.score.toFixed(2)})` : "";
      this.q("prediction-text").textContent = `Pre-filled by ${prediction.model}${score}. `;
    }

    focusStart() {
      const active = document.activeElement;
      if (active && this.root.contains(active) && active.matches(TYPING)) return;
      if (active && active !== document.body && !this.root.contains(active)) return;
      // keys work from anywhere on the page; keep focus off inputs so digits pick labels
      if (active && this.root.contains(active)) active.blur();
    }

    // ---------------------------------------------------------------- history, drafts
    resetHistory() {
      this.history = [JSON.stringify(this.getResult())];
      this.pointer = 0;
      this.updateUndo();
    }

    changed() {
      this.syncChoiceStyles();
      const snapshot = JSON.stringify(this.getResult());
      this.refreshChat(); // each chat message's answers beside it: annotate_chat.js
      if (this.history[this.pointer] !== snapshot) {
        this.history.splice(this.pointer + 1);
        this.history.push(snapshot);
        if (this.history.length > 200) this.history.shift();
        this.pointer = this.history.length - 1;
      }
      this.updateUndo();
      this.saveDraft();
      if (this.preview) this.showPreviewResult(JSON.parse(snapshot));
    }

    flushRegions() {
      if (!this.regionTimer) return;
      clearTimeout(this.regionTimer);
      this.regionTimer = null;
      this.changed();
    }

    undo() {
      this.flushRegions(); // a gesture that just ended is one undo step
      if (this.pointer <= 0) return;
      this.pointer -= 1;
      this.setResult(JSON.parse(this.history[this.pointer]));
      this.updateUndo();
      this.saveDraft();
    }

    redo() {
      if (this.pointer >= this.history.length - 1) return;
      this.pointer += 1;
      this.setResult(JSON.parse(this.history[this.pointer]));
      this.updateUndo();
      this.saveDraft();
    }

    updateUndo() { this.q("undo").disabled = this.pointer <= 0; }

    draftKey(taskId) { return `${this.userKey}:draft:${taskId}`; }

    saveDraft() {
      if (this.preview || this.reviewing || this.editing || !this.current) return;
      storage.set(this.draftKey(this.current.task.id), { result: this.getResult(), shownAt: this.current.shownAt, savedAt: Date.now() });
    }

    // ---------------------------------------------------------------- label picking
    onInputChange(input) {
      if (input.name.startsWith("active-")) {
        const selected = this.aheadOfDrawn(this.selectedRegion());
        const control = this.controls.find((c) => `active-${c.name}` === input.name);
        this.pickedAhead = !(selected && control && selected.obj.name === control.to_name);
        if (!this.pickedAhead) {
          this.tagRegion(selected.obj, selected.annotation, control.name, input.value);
          this.renderRegions();
          this.changed();
        }
        this.syncChoiceStyles();
        return;
      }
      this.changed();
    }

    pick(control, label) {
      const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
      if (fieldset.hidden) return; // visibleWhen hides it: its keys do nothing
      const input = [...fieldset.querySelectorAll("input")].find((i) => i.value === label);
      if (!input) return;
      if (control.type === "choices") {
        input.checked = control.choice === "multiple" ? !input.checked : true;
        this.changed();
        return;
      }
      // Labels / RectangleLabels: label the selected region, and keep the label for the next ones
      input.checked = true;
      const selected = this.aheadOfDrawn(this.selectedRegion());
      // a label picked with no region of its object selected is picked ahead, for the spans to come
      this.pickedAhead = !(selected && selected.obj.name === control.to_name);
      if (!this.pickedAhead) {
        this.tagRegion(selected.obj, selected.annotation, control.name, label);
        this.renderRegions();
        this.changed();
      }
      this.syncChoiceStyles();
    }

    // A region drawn with a label picked ahead (label, then draw: Label Studio's way) stays selected
    // for what hangs on it (a transcription, a per-region choice, more strokes of a mask), but the
    // next label key is the next region's label, as in Label Studio, which leaves a new region
    // unselected: the region is deselected and kept as drawn (null is returned). A region the
    // annotator selected (a click, Tab, [ ]) takes the key: it is relabelled.
    aheadOfDrawn(selected) {
      if (!selected || !this.drawnAhead || selected.annotation.id !== this.drawnAhead) return selected;
      this.drawnAhead = null;
      selected.obj.annotator.cancelSelected();
      this.renderRegions();
      return null;
    }

    // Called as a region is made with the active label: remembered when that label was picked ahead.
    drawnWithLabel(id) { this.drawnAhead = this.pickedAhead ? id : null; }

    bindFilter(input) {
      const control = this.controls.find((c) => c.name === input.dataset.filter);
      const fieldset = input.closest("fieldset");
      const visible = () => [...fieldset.querySelectorAll(".anno-label")].filter((l) => !l.hidden);
      this.listen(input, "input", () => {
        const needle = input.value.trim().toLowerCase();
        let first = true;
        for (const label of fieldset.querySelectorAll(".anno-label")) {
          label.hidden = Boolean(needle) && !label.dataset.label.toLowerCase().includes(needle);
          label.classList.toggle("is-first-match", Boolean(needle) && !label.hidden && first);
          if (!label.hidden) first = false;
        }
      });
      this.listen(input, "keydown", (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          e.stopPropagation();
          const match = visible()[0];
          if (input.value.trim() && match) this.pick(control, match.dataset.label);
          this.clearFilter(input);
          input.blur();
        } else if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          this.clearFilter(input);
          input.blur();
        } else if (e.key === "ArrowDown") {
          const match = visible()[0];
          if (match) { e.preventDefault(); match.querySelector("input").focus(); }
        }
      });
    }

    clearFilter(input) {
      input.value = "";
      input.dispatchEvent(new Event("input"));
    }

    // ---------------------------------------------------------------- keyboard
    onKey(e) {
      if (this.viewing || this.destroyed || !this.root.isConnected || this.suspended) return;
      let target = e.target instanceof Element ? e.target : document.body;
      // focus can linger on a button of a dialog just closed with Escape: the keys are the page's
      if (target.closest("dialog:not([open])")) target = document.body;
      if (target.closest("dialog[open]")) return; // the dialog's own form handles its keys
      if (document.querySelector("dialog[open]")) return;
      const inOurs = this.host.contains(target) || target === document.body || target === document.documentElement;
      if (!inOurs) return; // e.g. the preview's XML editor
      const key = e.key;
      if ((e.ctrlKey || e.metaKey) && !e.altKey && (key === "z" || key === "Z" || key === "y" || key === "Y")) {
        if (target.matches(TYPING)) return; // the field's own undo
        e.preventDefault();
        e.stopImmediatePropagation(); // Annotorious listens on document for the same keys
        if (key.toLowerCase() === "y" || e.shiftKey) this.redo(); else this.undo();
        return;
      }
      if (target.closest("[data-chat-composer]") && this.onChatComposerKey(e, target)) return; // annotate_chat.js
      if (target.matches(TYPING)) {
        if (target.matches("textarea, [data-value-input]") && key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          target.dispatchEvent(new Event("change"));
          this.submit();
        } else if (key === "Escape") {
          target.blur();
        }
        return;
      }
      if (target.closest("[data-taxonomy-tree]") && this.onTaxonomyKey(e, target)) return; // annotate_taxonomy.js
      if (this.onVideoKey(e, key, target)) return; // frames, spans, tracks: annotate_video.js
      if (this.onSeriesKey(e, key, target)) return; // the cursor, ranges and zoom of a TimeSeries: annotate_timeseries.js
      if (this.onRankKey(e, target)) return; // Pairwise and Ranker keys: annotate_rank.js
      if (this.onChatKey(e, key)) return; // messages of a chat: annotate_chat.js
      if (this.onToolKey(e, key, target)) return; // drawing tools, brush size, Tab: annotate_tools.js
      if (this.onLinkedKey(e, key) || this.onPageKey(e, key) || this.onPdfKey(e, key, target)) return; // relations, pages, PDF
      if (this.onMediaKey && this.onMediaKey(e, key, target)) return; // audio player: annotate_audio.js
      const lower = key.toLowerCase();
      if (this.span) {
        if (this.onSpanKey(e, lower)) return;
      } else if (!e.ctrlKey && !e.metaKey && !e.altKey && key.startsWith("Arrow")) {
        const pane = target.closest(".anno-text");
        const bare = target === document.body || target === document.documentElement
          || (this.host.contains(target) && !target.closest("input, button, select, textarea, a, summary, label, .anno-image-view"));
        const obj = pane ? this.textObjects().find((o) => pane.contains(o.node))
          : (key === "ArrowRight" && bare ? this.textObjects()[0] : null);
        if (obj && !this.root.classList.contains("is-loading")) {
          e.preventDefault();
          e.stopPropagation();
          this.enterSpanMode(obj);
          return;
        }
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (key === "Enter") {
        if (target.matches("button:not([type=submit]), a, summary")) return; // let it activate
        e.preventDefault();
        this.submit();
        return;
      }
      if (key === "?") { e.preventDefault(); this.toggleKeys(); return; }
      if (key === "Escape") {
        const selected = this.selectedRegion();
        if (selected) { selected.obj.annotator.cancelSelected(); this.renderRegions(); }
        else if (this.editing) this.leaveEdit();
        return;
      }
      if (key === "Delete" || key === "Backspace") {
        const selected = this.selectedRegion();
        if (selected) { e.preventDefault(); this.deleteRegion(selected.obj, selected.annotation.id); return; }
      }
      if ((key === "Backspace" || key === "ArrowLeft") && !e.shiftKey) {
        if (key === "ArrowLeft" && target.closest(".anno-text, .anno-labels, .anno-rating, .anno-image-view")) return;
        e.preventDefault();
        this.back();
        return;
      }
      if (key === " " && Object.values(this.objects).some((o) => o.kind === "image")) {
        if (!target.matches("button, input, summary")) { e.preventDefault(); this.setPanning(true); }
        return;
      }
      const hit = this.keyIndex.get(lower);
      if (hit) {
        e.preventDefault();
        if (this.current || this.editing) this.pick(hit.control, hit.label); // nothing to label: keys do nothing
        return;
      }
      if (lower === "s") { e.preventDefault(); this.openSkip(); return; }
      if (lower === "/") {
        const filter = this.root.querySelector("[data-filter]");
        if (filter) { e.preventDefault(); filter.focus(); }
        return;
      }
      if (lower === "t") {
        const area = [...this.root.querySelectorAll("[data-ocr-text], [data-textarea], [data-value-input]")].find((n) => !n.closest("[hidden]"));
        if (area) { e.preventDefault(); area.focus(); }
        return;
      }
      if (lower === "p" && this.current && this.current.prediction && !this.editing) {
        e.preventDefault();
        this.setResult(this.current.prediction.result);
        this.changed();
        this.notice("The model's pre-annotation is back.");
        return;
      }
      if (/^[1-9]$/.test(lower) && !this.labeled.length) {
        const rating = this.controls.find((c) => c.type === "rating");
        const input = rating && this.root.querySelector(`[data-control="${CSS.escape(rating.name)}"] input[value="${lower}"]`);
        if (input) { e.preventDefault(); input.checked = true; this.changed(); }
        return;
      }
      const image = Object.values(this.objects).find((o) => o.kind === "image" || o.image);
      if (image && (key === "+" || key === "=" || key === "-" || key === "0")) {
        e.preventDefault();
        this.zoom(image.name, key === "-" ? "out" : key === "0" ? "fit" : "in");
      }
    }

    toggleKeys() {
      const dialog = this.q("keys-dialog");
      if (dialog.open) { dialog.close(); return; }
      dialog.showModal();
      dialog.scrollTop = 0; // a long list opens at its title, not scrolled down to the focused Close button
    }

    // ---------------------------------------------------------------- messages
    // A sticky alert (a refused save) stays until dismissed; others go with the task they are about.
    showAlert(text, sticky = false) {
      this.q("alert-text").textContent = text;
      this.q("alert").hidden = false;
      this.stickyAlert = sticky;
    }

    hideAlert(force = false) {
      if (this.stickyAlert && !force) return;
      this.q("alert").hidden = true;
      this.stickyAlert = false;
    }

    notice(text) {
      const node = this.q("notice");
      node.textContent = text;
      node.hidden = false;
      clearTimeout(this.noticeTimer);
      this.noticeTimer = setTimeout(() => { node.hidden = true; }, 4000);
    }

    showPreviewResult(result, message) {
      const out = this.q("preview-out");
      if (!out) return;
      out.hidden = false;
      this.q("preview-json").textContent = JSON.stringify(result, null, 2);
      if (message) this.notice(message);
    }
  }

  A.assemble(Workspace);

  // ------------------------------------------------------------------ start-up
  let active = null;
  let started = null;
  const ready = new Promise((resolve) => { started = resolve; }); // the first workspace
  function init(scope) {
    const root = (scope || document).querySelector("[data-anno-config]:not(.anno-viewing)"); // read-only ones: annotate_view.js
    if (!root || root.dataset.annoReady) return;
    if (!window.Annotorious || !window.RecogitoJS) {
      setTimeout(() => init(scope), 50); // htmx may still be loading the libraries
      return;
    }
    if (active) active.destroy();
    root.dataset.annoReady = "1";
    active = new Workspace(root);
    window.labelfabAnnotate.workspace = active;
    started(active);
  }

  window.labelfabAnnotate = { init, workspace: null, ready, utf16ToCodePoint, codePointToUtf16 };

  // Preview: choosing an example fills the XML editor.
  document.addEventListener("change", (e) => {
    const select = e.target.closest && e.target.closest("[data-preview-examples]");
    if (!select || !select.value) return;
    const template = document.querySelector(`template[data-example="${CSS.escape(select.value)}"]`);
    const xml = document.getElementById("preview-xml");
    if (template && xml) {
      xml.value = template.content.textContent || template.innerHTML;
      xml.dispatchEvent(new Event("input", { bubbles: true })); // htmx refreshes the preview
    }
  });
  document.addEventListener("htmx:load", (e) => init(e.target.parentNode || document));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
  else init(document);
})();
