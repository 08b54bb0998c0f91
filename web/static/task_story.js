// The task page: each annotation, prediction and the final label through the labeling page's
// widgets, read-only (annotate_view.js), and its comments: add one, resolve or reopen one
// (/api/comments), then show the page again.
(() => {
  "use strict";
  // A read-only workspace per result, made when its place comes near the screen: a task with many
  // annotations of a long video or audio file loads only the players one looks at.
  const views = document.getElementById("task-views");
  const template = document.getElementById("task-workspace");
  if (views && template && window.labelfabAnno) {
    const { task, results } = JSON.parse(views.textContent);
    const show = (holder) => {
      const result = results[holder.dataset.taskView];
      if (!result || holder.dataset.shown) return;
      holder.dataset.shown = "1";
      holder.append(template.content.cloneNode(true));
      window.labelfabAnno.view(holder.querySelector(".anno"), task, result).then(() => {
        holder.dataset.ready = "1"; // shown with its regions (tests wait for it)
      });
    };
    const seen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        seen.unobserve(entry.target);
        show(entry.target);
      }
    }, { rootMargin: "300px 0px" });
    document.querySelectorAll("[data-task-view]").forEach((holder) => seen.observe(holder));
  }

  const box = document.getElementById("comments");
  if (!box) return;
  const status = box.querySelector("[data-comment-status]");
  const say = (text) => { if (status) status.textContent = text; };
  const form = box.querySelector("[data-comment-form]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) { say("Write the comment first."); return; }
    const res = await window.labelfab.api("POST", "/api/comments", { task: Number(box.dataset.task), text });
    if (!res.ok) { say((res.data && res.data.detail) || "The comment was not saved."); return; }
    window.location.reload();
  });
  box.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-resolve]");
    if (!button) return;
    button.disabled = true;
    const res = await window.labelfab.api("PATCH", `/api/comments/${button.dataset.resolve}`,
      { is_resolved: button.dataset.value === "true" });
    if (!res.ok) { button.disabled = false; say((res.data && res.data.detail) || "Not changed."); return; }
    window.location.reload();
  });
})();
