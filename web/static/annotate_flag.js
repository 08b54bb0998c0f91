// The labeling page's "Flag a problem": ! (or the button) opens a box where the annotator says
// what is wrong with the task shown; it is sent as a comment on that task (POST /api/comments),
// which the project's leads and reviewers answer and resolve on the task's page. A box drawn and
// selected on the image with the page's own box tool (Annotorious) goes with it as the comment's
// region (x, y, width, height in percent). A <dialog>, so the workspace leaves its keys alone
// while it is open.
(() => {
  "use strict";
  const dialog = document.getElementById("flag-dialog");
  const button = document.getElementById("flag-open");
  if (!dialog || !button) return;
  const text = dialog.querySelector("textarea");
  const status = document.getElementById("flag-status");
  const TYPING = "textarea, select, input[type=text], input[type=search], input[type=number], input:not([type]), [contenteditable=true]";

  function currentTask() {
    const ws = window.labelfabAnnotate && window.labelfabAnnotate.workspace;
    return ws && ws.current && ws.current.task ? ws.current.task : null;
  }

  // the selected box on the image, as Label Studio's percentages, or null
  function selectedBox() {
    const ws = window.labelfabAnnotate && window.labelfabAnnotate.workspace;
    const picked = ws && ws.selectedRegion ? ws.selectedRegion() : null;
    if (!picked) return null;
    const item = ws.getResult().find((r) => r.id === picked.annotation.id);
    const v = item && item.value;
    if (!v || ![v.x, v.y, v.width, v.height].every((n) => typeof n === "number" && isFinite(n))) return null;
    const clamp = (n) => Math.min(100, Math.max(0, n));
    const x = clamp(v.x), y = clamp(v.y);
    return { x, y, width: Math.min(clamp(v.width), 100 - x), height: Math.min(clamp(v.height), 100 - y) };
  }

  let region = null;

  function open() {
    const task = currentTask();
    if (!task || !task.id) { status.textContent = "No task is shown: nothing to flag."; return; }
    region = selectedBox();
    dialog.dataset.task = String(task.id);
    dialog.querySelector("[data-flag-task]").textContent = `task ${task.id}`;
    const ws = window.labelfabAnnotate.workspace;
    const boxes = ws && Object.values(ws.objects || {}).some((o) => o.annotator);
    dialog.querySelector("[data-flag-region]").textContent = region
      ? `With the selected box (at ${Math.round(region.x)}%, ${Math.round(region.y)}% of the image).`
      : (boxes ? "To point at a place, cancel, select a box on the image and press ! again." : "");
    text.value = "";
    dialog.showModal();
    text.focus();
  }

  button.addEventListener("click", open);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "!" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.target instanceof Element && event.target.matches(TYPING)) return;
    event.preventDefault();
    open();
  });
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (event.submitter && event.submitter.value === "cancel") { dialog.close(); return; }
    const body = text.value.trim();
    if (!body) { text.focus(); return; }
    const res = await window.labelfab.api("POST", "/api/comments", { task: Number(dialog.dataset.task), text: body, region });
    if (!res.ok) {
      dialog.querySelector("[data-flag-error]").textContent = (res.data && res.data.detail) || "Not sent.";
      return;
    }
    dialog.close();
    status.textContent = `Flagged task ${dialog.dataset.task}: a lead or reviewer will answer on the task's page.`;
  });
})();
