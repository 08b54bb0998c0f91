// labelfab labeling page: PDF documents (<Pdf name="pdf" value="$pdf"/>), drawn one page at a time
// on a canvas by PDF.js (pdfjs-dist from npm, web/static/vendor/pdfjs, loaded with import() the
// first time a task shows a PDF; nothing in a PDF runs: no eval, no scripting). PageUp / PageDown
// turn the page, + - 0 zoom. Classifications with perItem="true" answer per page: their
// fieldset shows the current page's answer, and the result holds one item per page with its
// 0-based item_index, as Label Studio's PerItemMixin stores it (also for <Image valueList>).
// Methods of annotate.js's Workspace class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, clone, el } = A;
  let library = null; // the PDF.js module, loaded once

  function pdfjs(wrap) {
    if (!library) {
      library = import(wrap.dataset.pdfjs).then((lib) => {
        lib.GlobalWorkerOptions.workerSrc = wrap.dataset.pdfjsWorker;
        return lib;
      });
      library.catch(() => { library = null; });
    }
    return library;
  }

  A.renderers.Pdf = "renderPdf";

  A.part(class PdfPart {
    async renderPdf(obj, src) {
      obj.kind = "pdf";
      obj.page = 0;
      obj.pageCount = 0;
      obj.zoom = 1;
      obj.doc = null;
      obj.holder = obj.wrap.querySelector(".anno-pdf-holder");
      obj.holder.replaceChildren();
      if (!obj.wrap.dataset.bound) {
        obj.wrap.dataset.bound = "1";
        for (const button of obj.wrap.querySelectorAll("[data-pdf-page]")) {
          this.listen(button, "click", () => this.turnPdfPage(obj.name, Number(button.dataset.pdfPage)));
        }
        for (const button of obj.wrap.querySelectorAll("[data-pdf-zoom]")) {
          this.listen(button, "click", () => this.zoomPdf(obj.name, button.dataset.pdfZoom));
        }
      }
      if (typeof src !== "string" || !src) {
        this.showAlert(`The task has no PDF to show (${obj.key}).`);
        return;
      }
      try {
        const lib = await pdfjs(obj.wrap);
        const source = src.startsWith("data:application/pdf;base64,")
          ? { data: Uint8Array.from(atob(src.slice(src.indexOf(",") + 1)), (c) => c.charCodeAt(0)) } // the preview's sample
          : { url: src, withCredentials: true };
        obj.loading = lib.getDocument(Object.assign(source, { isEvalSupported: false, enableXfa: false,
          stopAtErrors: false }));
        obj.doc = await obj.loading.promise;
      } catch (err) {
        if (this.objects[obj.name] !== obj) return; // the task changed while it loaded
        this.showAlert(`The PDF of this task could not be loaded (${String(src).slice(0, 200)}): ${err && err.message ? err.message : err}`);
        return;
      }
      if (this.objects[obj.name] !== obj) { obj.doc.destroy(); return; }
      obj.pageCount = obj.doc.numPages;
      await this.drawPdfPage(obj);
    }

    // Draws the page obj.page; `turned`: the page changed (its answers and boxes are shown after).
    async drawPdfPage(obj, turned = false) {
      if (!obj.doc) return;
      const number = obj.page + 1;
      const page = await obj.doc.getPage(number);
      const view = obj.wrap.querySelector(".anno-pdf-view");
      const natural = page.getViewport({ scale: 1 });
      const fit = Math.max(0.1, (view.clientWidth - 24) / natural.width);
      const ratio = window.devicePixelRatio || 1;
      const scale = fit * obj.zoom;
      const viewport = page.getViewport({ scale: scale * ratio });
      const canvas = el("canvas", { class: "anno-pdf-page", role: "img",
        "aria-label": `Page ${number} of ${obj.pageCount}`, "data-page": String(obj.page) });
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
      if (obj.rendering) obj.rendering.cancel();
      const rendering = page.render({ canvasContext: canvas.getContext("2d"), canvas, viewport });
      obj.rendering = rendering;
      try {
        await rendering.promise;
      } catch (err) {
        if (err && err.name === "RenderingCancelledException") return; // a newer page or zoom replaced it
        this.showAlert(`Page ${number} of the PDF could not be drawn: ${err && err.message ? err.message : err}`);
        return;
      } finally {
        if (obj.rendering === rendering) obj.rendering = null;
      }
      if (this.objects[obj.name] !== obj || obj.page + 1 !== number) return;
      const boxes = this.ocrControls(obj).length > 0; // OcrLabels: boxes are drawn on the page (annotate_pdf_ocr.js)
      const img = boxes ? await this.makePdfBoxes(obj, canvas) : null;
      if (this.objects[obj.name] !== obj || obj.page + 1 !== number) return;
      // the page shown before (or at another zoom) gives its boxes and answers back to the result
      const result = obj.annotator || turned ? this.getResult() : null;
      if (obj.annotator) { obj.annotator.destroy(); obj.annotator = null; }
      if (img) canvas.hidden = true;
      obj.holder.replaceChildren(...(img ? [canvas, img] : [canvas]));
      if (img) this.attachPdfBoxes(obj, img);
      if (result) this.setResult(result);
      obj.wrap.dataset.renderedPage = String(obj.page);
      const where = obj.wrap.querySelector("[data-page-number]");
      if (where) where.textContent = `${number} of ${obj.pageCount}`;
      const level = obj.wrap.querySelector("[data-pdf-zoom-level]");
      if (level) level.textContent = `${Math.round(obj.zoom * 100)}%`;
      for (const button of obj.wrap.querySelectorAll("[data-pdf-page]")) {
        const step = Number(button.dataset.pdfPage);
        button.disabled = obj.page + step < 0 || obj.page + step >= obj.pageCount;
      }
    }

    teardownPdf(obj) {
      if (obj.rendering) obj.rendering.cancel();
      if (obj.loading) obj.loading.destroy();
      obj.doc = null;
    }

    pdfObject() { return Object.values(this.objects).find((o) => o.kind === "pdf"); }

    async turnPdfPage(objectName, step) {
      const obj = this.objects[objectName];
      if (!obj || !obj.doc) return;
      const page = obj.page + step;
      if (page < 0 || page >= obj.pageCount) return;
      this.flushRegions(); // a box just drawn is one undo step
      this.getResult(); // the shown page's answers are kept for it
      obj.page = page;
      this.showPageAnswers(); // and the new page's answers shown; its boxes once it is drawn
      await this.drawPdfPage(obj, true);
    }

    zoomPdf(objectName, how) {
      const obj = this.objects[objectName];
      if (!obj || !obj.doc) return;
      if (how === "in") obj.zoom = Math.min(obj.zoom * 1.25, 5);
      else if (how === "out") obj.zoom = Math.max(obj.zoom / 1.25, 0.25);
      else obj.zoom = 1;
      this.drawPdfPage(obj);
    }

    // PageUp / PageDown and + - 0 while a PDF is shown (label keys come first for + - 0).
    onPdfKey(e, key, target) {
      const obj = this.pdfObject();
      if (!obj || e.ctrlKey || e.metaKey || e.altKey) return false;
      if (this.onPdfBoxKey(e, key, target, obj)) return true; // Tab: annotate_pdf_ocr.js
      if (key === "PageDown" || key === "PageUp") {
        e.preventDefault();
        this.turnPdfPage(obj.name, key === "PageDown" ? 1 : -1);
        return true;
      }
      if (["+", "=", "-", "0"].includes(key) && !this.keyIndex.get(key)) {
        e.preventDefault();
        this.zoomPdf(obj.name, key === "-" ? "out" : key === "0" ? "fit" : "in");
        return true;
      }
      return false;
    }

    // ---------------------------------------------------------------- answers per page (perItem)
    // The page an object shows: a PDF's, or a multi-page image's (annotate_pages.js).
    shownPage(objectName) {
      const obj = this.objects[objectName];
      return obj && Number.isInteger(obj.page) ? obj.page : 0;
    }

    perItemControls() { return this.controls.filter((c) => c.per_item); }

    // The shown page's answer of every perItem control, read from its fieldset into the store.
    capturePageAnswers() {
      this.pageAnswers = this.pageAnswers || {};
      for (const control of this.perItemControls()) {
        const page = this.shownPage(control.to_name);
        const answers = this.pageAnswers[control.name] = this.pageAnswers[control.name] || {};
        const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
        const picked = fieldset ? [...fieldset.querySelectorAll("input:checked")].map((i) => i.value) : [];
        if (!picked.length) { delete answers[page]; continue; }
        const id = answers[page] ? answers[page].id : uuid().replace(/-/g, "").slice(0, 10);
        answers[page] = { id, from_name: control.name, to_name: control.to_name, type: control.type,
          value: { choices: picked }, item_index: page };
      }
    }

    // Result items of every page (getResult), and the OCR boxes of the pages not shown.
    pageAnswerItems() {
      this.capturePageAnswers();
      const items = (this.keptItems || []).map(clone);
      for (const control of this.perItemControls()) {
        const answers = this.pageAnswers[control.name] || {};
        for (const page of Object.keys(answers).map(Number).sort((a, b) => a - b)) items.push(clone(answers[page]));
      }
      return items;
    }

    // Takes the perItem items out of a result into the store; returns the others (setResult).
    // OCR boxes of the pages not shown (or of a PDF not drawn) are kept aside as they came until
    // their page is shown; their per-region answers stay with annotate_linked.js, by id.
    takePageAnswers(result) {
      const perItem = new Set(this.perItemControls().map((c) => c.name));
      this.pageAnswers = {};
      this.keptItems = [];
      const rest = [];
      for (const item of result || []) {
        const obj = item && item.type === "ocrlabels" ? this.objects[item.to_name] : null;
        if (obj && !(obj.annotator && obj.regionType === "ocrlabels" && item.value && item.value.pageIndex === obj.page)) {
          this.keptItems.push(clone(item));
        } else if (item && perItem.has(item.from_name) && Number.isInteger(item.item_index)) {
          const answers = this.pageAnswers[item.from_name] = this.pageAnswers[item.from_name] || {};
          answers[item.item_index] = clone(item);
        } else if (!(item && perItem.has(item.from_name))) {
          rest.push(item);
        }
      }
      return rest;
    }

    // Checks the shown page's answers in the perItem fieldsets (setResult, after it cleared them).
    showPageAnswers() {
      for (const control of this.perItemControls()) {
        const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
        if (!fieldset) continue;
        const item = (this.pageAnswers[control.name] || {})[this.shownPage(control.to_name)];
        for (const input of fieldset.querySelectorAll("input")) {
          input.checked = Boolean(item && item.value && (item.value.choices || []).includes(input.value));
        }
        const legend = fieldset.querySelector("[data-page-of]");
        if (legend) legend.textContent = `page ${this.shownPage(control.to_name) + 1}`;
      }
    }
  });
})();
