// labelfab labeling page: submits, skips and fixes of earlier annotations, and what keeps them
// safe: the outbox (submits retried until the server has them), leases and the counters.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, sleep, fmt, storage, call, refreshCsrf, RETRY_STATUSES, C } = A;

  // ------------------------------------------------------------------ the outbox
  // Submits wait here (persisted in localStorage) until the server has them: network errors and
  // 5xx are retried with the very same request, which the server treats idempotently
  // (one annotation per task and user).
  class Outbox {
    constructor(key, onChange) {
      this.key = key;
      this.onChange = onChange;
      this.items = storage.get(key) || [];
      this.running = false;
      this.waiters = [];
    }
    get size() { return this.items.length; }
    has(taskId) { return this.items.some((i) => i.taskId === taskId); }
    push(item) {
      this.items.push(Object.assign({ key: uuid(), attempts: 0 }, item));
      storage.set(this.key, this.items);
      this.onChange({ type: "queued" });
      this.run();
    }
    drained() {
      return this.items.length === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
    }
    async run() {
      if (this.running) return;
      this.running = true;
      try {
        while (this.items.length) {
          const item = this.items[0];
          const res = await call(item.method, item.url, item.body, { "Idempotency-Key": item.key });
          if (res.status === 400 && /CSRF/.test(res.data && res.data.detail) && !item.csrfRefreshed) {
            // logged in again elsewhere: the page's CSRF token belongs to the old session
            item.csrfRefreshed = await refreshCsrf();
            if (item.csrfRefreshed) continue;
          }
          if (!res.ok && (RETRY_STATUSES.has(res.status) || res.status === 401)) {
            item.attempts += 1;
            storage.set(this.key, this.items);
            // logged out: check again every few seconds, so a login in another tab is noticed soon
            const cap = res.status === 401 ? 4000 : 15000;
            const wait = Math.min(500 * 2 ** Math.min(item.attempts - 1, 6), cap);
            this.onChange({ type: "retry", item, res, wait });
            await sleep(wait);
            continue;
          }
          this.items.shift();
          storage.set(this.key, this.items);
          this.onChange({ type: res.ok ? "saved" : "refused", item, res });
        }
      } finally {
        this.running = false;
      }
      const waiters = this.waiters.splice(0);
      waiters.forEach((resolve) => resolve());
    }
  }

  A.Outbox = Outbox; // annotate.js's constructor makes the workspace's outbox

  A.part(class SessionPart {
    openSkip() {
      if (!this.current || this.editing || this.reviewing) return;
      const dialog = this.q("skip-dialog");
      this.q("skip-reason").value = "";
      dialog.returnValue = "";
      dialog.showModal();
      this.q("skip-reason").focus();
    }

    // ---------------------------------------------------------------- submit, skip, back
    problems(result) {
      const problems = [];
      const hidden = C.hiddenControls(this.controls, this.choicesShown());
      problems.push(...this.regionProblems(result)); // annotate_linked.js: required for every region
      for (const control of this.controls) {
        if (control.per_region) continue;
        if (control.required && !hidden.has(control.name) && !result.some((r) => r.from_name === control.name)) {
          problems.push(control.type === "choices" ? `pick a label for “${control.name}”` : `fill in “${control.name}”`);
        }
      }
      if (!result.length && !problems.length) problems.push("nothing is labeled (pick a label, or press S to skip)");
      const unlabeled = result.filter((r) => (r.type === "labels" && !r.value.labels.length)
        || (r.type === "paragraphlabels" && !r.value.paragraphlabels.length)
        || (r.type === "rectanglelabels" && !r.value.rectanglelabels.length)
        || (r.type === "polygonlabels" && !r.value.polygonlabels.length)
        || (r.type === "ellipselabels" && !r.value.ellipselabels.length)
        || (r.type === "keypointlabels" && !r.value.keypointlabels.length)
        || (r.type === "brushlabels" && !r.value.brushlabels.length)
        || (r.type === "ocrlabels" && !r.value.ocrlabels.length)).length;
      if (unlabeled) problems.push(`${unlabeled} region${unlabeled > 1 ? "s have" : " has"} no label (select it and press a label key)`);
      return problems;
    }

    leadTime() {
      return Math.round((Date.now() - this.current.shownAt) / 100) / 10;
    }

    submit() {
      this.flushRegions();
      if (this.reviewing) {
        this.root.dispatchEvent(new CustomEvent("anno:submit", { bubbles: true }));
        return;
      }
      if (this.editing) { this.saveEdit(); return; }
      if (!this.current || this.root.classList.contains("is-loading")) return;
      this.root.querySelectorAll("[data-textarea]").forEach((t) => t.blur());
      const result = this.getResult();
      const problems = this.problems(result);
      if (problems.length) { this.showAlert(`Not submitted yet: ${problems.join("; ")}.`); return; }
      if (this.preview) { this.showPreviewResult(result, "Submitted (preview: nothing was saved)."); return; }
      const task = this.current.task;
      const body = { result, lead_time: this.leadTime(), was_cancelled: false, source: "ui" };
      // made from a pre-label (shown pre-filled), kept or edited: marked as Label Studio marks it,
      // so that QC tells it from an independent label (ARCHITECTURE.md, Pre-labels)
      if (this.current.prediction) body.parent_prediction = this.current.prediction.id;
      this.send(task, body, "submitted");
    }

    skip(reason) {
      if (!this.current || this.editing) return;
      if (this.preview) { this.showPreviewResult({ was_cancelled: true, skip_reason: reason }, "Skipped (preview)."); return; }
      const body = { result: [], lead_time: this.leadTime(), was_cancelled: true, skip_reason: reason, source: "ui" };
      this.send(this.current.task, body, "skipped");
    }

    // The submit goes to the outbox (retried until stored); the next task comes from the
    // answer leased ahead if there is one, without waiting for the submit.
    send(task, body, what) {
      this.submittedAt = performance.now();
      this.doneIds.add(task.id);
      this.outbox.push({ method: "POST", url: fmt(this.cfg.urls.submit, { task: task.id }), body: JSON.stringify(body),
        taskId: task.id, what, isNew: true, skipped: Boolean(body.was_cancelled) });
      this.current = null;
      this.loadNext();
    }

    onOutbox(evt) {
      const save = this.q("save");
      if (evt.type === "saved") {
        storage.remove(this.draftKey(evt.item.taskId));
        if (evt.item.isNew && !evt.item.skipped) { this.seq.savedNew += 1; this.bumpCounter("done-today", 1); }
        if (evt.item.isNew) { this.seq.savedAny += 1; this.bumpCounter("remaining", -1); }
        save.classList.remove("is-bad");
        if (this.outbox.size) {
          save.textContent = `Saving ${this.outbox.size}…`;
        } else { // which task, in a part a phone's bar leaves out (annotate.css)
          const which = document.createElement("span");
          which.className = "anno-save-which";
          which.textContent = ` (task ${evt.item.taskId} ${evt.item.what})`;
          save.replaceChildren("Saved", which);
        }
      } else if (evt.type === "retry") {
        save.classList.add("is-bad");
        const why = evt.res.status === 401 ? "you are logged out: log in again in another tab"
          : evt.res.status ? `server error ${evt.res.status}` : "server unreachable";
        save.textContent = `Not saved yet (${why}); retrying in ${Math.round(evt.wait / 1000) || 1}s — keep this page open`;
      } else if (evt.type === "refused") {
        save.classList.add("is-bad");
        save.textContent = `Task ${evt.item.taskId} was not saved`;
        const detail = evt.res.data && evt.res.data.detail ? evt.res.data.detail : `error ${evt.res.status}`;
        const lease = evt.res.status === 409 ? " Your hold on it had probably expired and the task went to someone else." : "";
        this.showAlert(`Task ${evt.item.taskId} was not saved: ${detail}.${lease}`, true);
      } else if (evt.type === "queued") {
        this.seq.pushed += 1;
        save.classList.remove("is-bad");
        save.textContent = "Saving…";
      }
    }

    async back() {
      if (this.reviewing) return;
      if (this.preview) { this.notice("The preview keeps no previous annotations."); return; }
      if (!this.current && !this.editing && this.root.classList.contains("is-loading")) return;
      if (this.outbox.size) {
        this.notice("Saving your last annotation first…");
        await this.outbox.drained();
      }
      this.saveDraft();
      let url = this.cfg.urls.previous;
      const before = this.editing ? this.editing.annotation.id : null;
      if (before) url += `?before=${encodeURIComponent(before)}`;
      const res = await call("GET", url);
      if (!res.ok) {
        this.showAlert(`Could not open your previous annotation: ${res.data && res.data.detail ? res.data.detail : "error " + res.status}`);
        return;
      }
      if (!res.data || !res.data.annotation) {
        this.notice(before ? "There is no earlier annotation of yours." : "You have no annotation to go back to yet.");
        return;
      }
      const { annotation, task, editable } = res.data;
      this.editing = { annotation, task, editable: editable !== false, shownAt: Date.now() };
      this.q("mode").hidden = false;
      const skipped = annotation.was_cancelled ? " (you skipped it)" : "";
      this.q("mode-text").textContent = editable === false
        ? `Your annotation of task ${task.id}${skipped}. Quality control has taken this task; it can no longer be changed.`
        : `Fixing your annotation of task ${task.id}${skipped}. Enter saves it; ← goes further back.`;
      this.root.classList.add("is-editing");
      this.q("submit").firstChild.textContent = "Save the fix ";
      this.q("skip").disabled = true;
      this.q("prediction").hidden = true;
      await this.renderTask(task, `Task ${task.id} · your earlier annotation`);
      this.setResult(annotation.result || []);
      this.resetHistory();
      this.setLoading(null);
      this.focusStart();
    }

    saveEdit() {
      const { annotation, task } = this.editing;
      if (!this.editing.editable) { this.showAlert("This annotation can no longer be changed. Press Esc to go back to the current task."); return; }
      const result = this.getResult();
      const problems = this.problems(result);
      if (problems.length) { this.showAlert(`Not saved yet: ${problems.join("; ")}.`); return; }
      // the server adds lead_time to the time already spent on the annotation
      const body = { result, was_cancelled: false, lead_time: Math.round((Date.now() - this.editing.shownAt) / 100) / 10 };
      this.outbox.push({ method: "PATCH", url: fmt(this.cfg.urls.annotation, { id: annotation.id }), body: JSON.stringify(body),
        taskId: task.id, what: "fixed", isNew: false });
      this.leaveEdit();
    }

    async leaveEdit() {
      if (!this.editing) return;
      this.editing = null;
      this.q("mode").hidden = true;
      this.root.classList.remove("is-editing");
      this.q("submit").firstChild.textContent = "Submit ";
      this.q("skip").disabled = false;
      if (this.current) {
        this.show({ task: this.current.task, lease: this.current.lease });
      } else {
        await this.loadNext();
      }
    }

    // ---------------------------------------------------------------- leases and counters
    tickLease() {
      const total = this.cfg.project.lease_seconds || 600;
      const active = Date.now() - this.lastActivity < 60000;
      // the task leased ahead is kept like the one on screen, while the annotator is at work
      if (this.prefetched && this.prefetched.lease && this.prefetched.lease.expires_at && !this.renewingNext) {
        const nextLeft = (Date.parse(this.prefetched.lease.expires_at) - Date.now()) / 1000;
        if (active && nextLeft < total * 0.6) this.renewPrefetched();
      }
      const node = this.q("lease");
      if (!this.current || !this.current.lease || !this.current.lease.expires_at) { node.textContent = ""; return; }
      const lease = this.current.lease;
      const left = Math.round((Date.parse(lease.expires_at) - Date.now()) / 1000);
      if (lease.lost) {
        node.textContent = "Task no longer reserved for you";
        node.className = "anno-lease is-bad";
        return;
      }
      if (left <= 0) {
        node.textContent = "Reservation expired";
        node.className = "anno-lease is-bad";
      } else {
        const m = Math.floor(left / 60), s = String(left % 60).padStart(2, "0");
        node.textContent = `Reserved for you ${m}:${s}`;
        node.className = "anno-lease" + (left < 60 ? " is-warn" : "");
      }
      if (active && !this.renewing && left < total * 0.6) this.renewLease(this.current);
    }

    async renewLease(current) {
      this.renewing = true;
      try {
        const res = await call("POST", fmt(this.cfg.urls.lease, { task: current.task.id }), {});
        if (res.ok && res.data) {
          current.lease = Object.assign({}, current.lease, res.data, { lost: false });
        } else if (res.status && !RETRY_STATUSES.has(res.status)) {
          current.lease = Object.assign({}, current.lease, { lost: true });
          this.showAlert(`This task is no longer reserved for you (${res.data && res.data.detail ? res.data.detail : "error " + res.status}). `
            + "Your work is kept as a draft; submitting may be refused if someone else took it. Press S to leave it and take another task.");
        }
      } finally {
        this.renewing = false;
      }
    }

    async renewPrefetched() {
      const next = this.prefetched;
      this.renewingNext = true;
      try {
        const res = await call("POST", fmt(this.cfg.urls.lease, { task: next.task.id }), {});
        if (res.ok && res.data) next.lease = Object.assign({}, next.lease, res.data);
        else if (res.status && !RETRY_STATUSES.has(res.status) && this.prefetched === next) this.prefetched = null;
      } finally {
        this.renewingNext = false;
      }
    }

    // Counters from a server answer, moved on by what was saved since the answer was made;
    // an answer made while a submit was on its way is left out (see fetchNext).
    updateCounters(next) {
      const counters = next && next.counters;
      const stamp = next && next.stamp;
      if (!counters || !stamp || !stamp.reliable) return;
      if (typeof counters.done_today === "number") {
        this.q("done-today").textContent = String(counters.done_today + this.seq.savedNew - stamp.savedNew);
      }
      if (typeof counters.remaining === "number") {
        this.q("remaining").textContent = String(Math.max(counters.remaining - (this.seq.savedAny - stamp.savedAny), 0));
      }
    }

    bumpCounter(name, delta) {
      const node = this.q(name);
      if (!node) return;
      const n = parseInt(node.textContent, 10);
      if (!Number.isNaN(n)) node.textContent = String(Math.max(n + delta, 0));
    }

  });
})();
