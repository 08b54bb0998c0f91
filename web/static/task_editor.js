// The editor on any task (leads and reviewers): the labeling workspace in mode "review" shows
// one annotation at a time with its author; R (or the workspace's Enter) saves the edits as a
// new version of that annotation (PATCH /api/annotations/ID: the server keeps the old one);
// K accepts and X excludes the task (a lead: the Data Manager's acts; a reviewer: the review
// decision of a task in the review queue); N shows the next annotation, J the stream's next task.
(() => {
  "use strict";
  const root = document.getElementById("editor");
  const cfgEl = document.getElementById("editor-config");
  if (!root || !cfgEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const tabs = document.getElementById("editor-tabs");
  const status = document.getElementById("editor-status");
  const excludeBox = document.getElementById("editor-exclude");
  const excludeReason = document.getElementById("editor-exclude-reason");
  const stateBadge = document.getElementById("editor-state");
  const editable = cfg.annotations.filter((a) => !a.skipped);
  let shown = 0;
  let ws = null;
  let busy = false;

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("bad", !!bad);
  }

  function drawTabs() {
    tabs.replaceChildren();
    cfg.annotations.forEach((a) => {
      const b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "tab");
      const i = editable.indexOf(a);
      b.setAttribute("aria-selected", String(i === shown));
      b.disabled = a.skipped;
      b.dataset.annotation = String(a.id);
      b.textContent = `${a.author} · v${a.version}${a.skipped ? " · skipped" : ""}`;
      if (!a.skipped) b.addEventListener("click", () => show(i));
      tabs.appendChild(b);
    });
  }

  async function show(i) {
    if (!editable.length) { say("Nobody has annotated this task yet: nothing to correct."); drawTabs(); return; }
    shown = (i + editable.length) % editable.length;
    drawTabs();
    const a = editable[shown];
    ws = await window.labelfabAnnotate.ready;
    await ws.showForReview(cfg.task, a.result);
    say(`Annotation ${a.id} by ${a.author} (version ${a.version}): edit it, then R saves a new version.`);
  }

  async function save() {
    if (busy || !ws || !editable.length) return;
    const a = editable[shown];
    ws.flushRegions();
    const result = ws.getResult();
    const problems = ws.problems ? ws.problems(result) : [];
    if (problems.length) { say(`Not saved: ${problems.join("; ")}.`, true); return; }
    busy = true;
    const res = await window.labelfab.api("PATCH", cfg.urls.annotation.replace("{id}", String(a.id)), { result });
    busy = false;
    if (!res.ok) { say((res.data && res.data.detail) || "Not saved.", true); return; }
    const unchanged = res.data.version === a.version;
    a.version = res.data.version;
    a.result = res.data.result;
    drawTabs();
    await ws.showForReview(cfg.task, a.result);
    say(unchanged ? "Nothing changed: no new version." :
      `Saved: annotation ${a.id} is now version ${a.version}; the earlier one is kept in the task's story.`);
  }

  async function decide(act, reason) {
    if (busy) return;
    busy = true;
    let res;
    if (cfg.is_lead) {
      res = await window.labelfab.api("POST", cfg.urls.act.replace("{act}", act),
        { selectedItems: { all: false, included: [cfg.task.id] }, reason: reason || "" });
      if (res.ok && res.data.refused) {
        busy = false;
        const why = (res.data.refusals && res.data.refusals[0] && res.data.refusals[0].detail) || "refused";
        say(`Not ${act === "accept" ? "accepted" : "excluded"}: ${why}.`, true);
        return;
      }
    } else if (cfg.state === "review") {
      res = await window.labelfab.api("POST", cfg.urls.review,
        act === "accept" ? { decision: "keep" } : { decision: "exclude", reason: reason || "" });
    } else {
      busy = false;
      say("A reviewer accepts or excludes tasks in the review queue; this one is " + cfg.state + ".", true);
      return;
    }
    busy = false;
    if (!res.ok) { say((res.data && res.data.detail) || "Refused.", true); return; }
    cfg.state = act === "accept" ? "accepted" : "excluded";
    stateBadge.textContent = cfg.state;
    say(act === "accept" ? "Accepted." : "Excluded.");
  }

  function openExclude() {
    excludeBox.hidden = false;
    if (ws) ws.suspended = true;
    excludeReason.focus();
  }

  function closeExclude() {
    excludeBox.hidden = true;
    if (ws) ws.suspended = false;
  }

  const actions = {
    save, accept: () => decide("accept"), exclude: openExclude,
    "next-annotation": () => show(shown + 1),
  };
  root.querySelectorAll("button[data-editor]").forEach((b) => {
    b.addEventListener("click", () => actions[b.dataset.editor]());
  });
  root.addEventListener("anno:submit", save);
  excludeReason.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); closeExclude(); decide("exclude", excludeReason.value); }
    else if (event.key === "Escape") { event.preventDefault(); closeExclude(); }
  });

  const TYPING = "textarea, select, input[type=text], input[type=search], input:not([type]), [contenteditable=true]";
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof Element && event.target.matches(TYPING)) return;
    const key = event.key.toLowerCase();
    if (key === "r") { event.preventDefault(); save(); }
    else if (key === "k") { event.preventDefault(); decide("accept"); }
    else if (key === "x") { event.preventDefault(); openExclude(); }
    else if (key === "n") { event.preventDefault(); show(shown + 1); }
    else if (key === "j" && cfg.urls.next) { event.preventDefault(); window.location.assign(cfg.urls.next); }
  });

  show(0);
})();
