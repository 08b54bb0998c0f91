// labelfab: the workspace read-only (mode "view"). The task page shows each annotation, each
// prediction and the final label through the labeling page's own widgets (Annotorious, the brush
// layer, key points, spans, audio, video, time series, PDF, chat, rankers...), with editing off:
// no pointer gesture or key reaches a widget except zoom, a PDF's pages, play buttons and <details>; every
// control is disabled (templates/annotate/_workspace.html), drawing is off, nothing is saved or
// submitted (mode "view" is a kind of "review": no drafts, no submit). labelfabAnno.view(root,
// task, result) makes one on a workspace element; the page keeps the workspaces in
// labelfabAnno.views (tests read their results).
// Methods of annotate.js's Workspace class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { TYPING } = A;
  // what a viewer may still use inside a read-only workspace: zoom, pages, and the media players'
  // buttons (play, pause, frame steps, a paragraph's play), which change no region
  const VIEWING = "[data-zoom], [data-pdf-page], [data-pdf-zoom], [data-media-control], summary";
  // every event by which a widget changes its regions or a control its value
  const EDITING = ["pointerdown", "pointerup", "mousedown", "mouseup", "touchstart", "click", "dblclick",
    "dragstart", "keydown", "keypress", "input", "change", "paste", "drop", "contextmenu"];

  A.part(class ViewPart {
    bindViewing() {
      const stop = (e) => {
        if (e.target instanceof Element && e.target.closest(VIEWING)) return;
        e.stopPropagation();
        if (e.cancelable) e.preventDefault();
      };
      for (const type of EDITING) this.listen(this.root, type, stop, true);
      // Annotorious and the text annotator listen on the document for Delete and Ctrl+Z/Y: on a
      // page of read-only workspaces those keys go no further (the page's own fields keep theirs)
      this.listen(window, "keydown", (e) => {
        const target = e.target instanceof Element ? e.target : document.body;
        if (target.matches(TYPING)) return;
        const undo = (e.ctrlKey || e.metaKey) && /^[zy]$/i.test(e.key);
        if (undo || e.key === "Delete" || e.key === "Backspace") e.stopImmediatePropagation();
      }, true);
    }

    // A result shown read-only: the review page's way in, then every drawing tool off.
    async showReadOnly(task, result) {
      await this.showForReview(task, result);
      if (this.destroyed) return;
      for (const obj of Object.values(this.objects)) {
        if (obj.annotator && obj.annotator.setDrawingEnabled) obj.annotator.setDrawingEnabled(false);
      }
      this.root.classList.add("is-shown");
    }
  });

  A.views = [];
  // A read-only workspace on `root` (a copy of annotate/_workspace.html in mode "view").
  A.view = async (root, task, result) => {
    while (!window.Annotorious || !window.RecogitoJS) await A.sleep(50); // the libraries load after this file
    const ws = new A.Workspace(root);
    A.views.push(ws);
    await ws.showReadOnly(task, result);
    return ws;
  };
})();
