// The task page's comments: add one, resolve or reopen one (/api/comments), then show the page again.
(() => {
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
