// labelfab labeling page: OCR boxes drawn on the pages of a PDF (<OcrLabels toName="pdf"> on a
// <Pdf>, Label Studio's PDF OCR template). The page PDF.js drew (annotate_pdf.js) becomes an
// image, and the image page's box editor (Annotorious, as annotate_tools.js makes it) draws on it:
// pick a label with its key, drag a box; T types the selected box's text, Tab / Shift+Tab select
// the next and the previous box, Delete removes it, Ctrl+Z undoes. A box is an `ocrlabels` item
// as Label Studio stores it: value {x, y, width, height, rotation, ocrlabels, ocrtext, pageIndex},
// in percent of the page; the boxes of the other pages are kept aside (keptItems) until their
// page is shown. Methods of annotate.js's Workspace class; see annotate_base.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el } = A;
  const SAME = 1e-6; // pixels: a box loaded and not moved keeps its numbers as they came

  A.part(class PdfOcrPart {
    ocrControls(obj) { return obj && obj.kind === "pdf" ? this.controlsFor(obj.name, "ocrlabels") : []; }

    // The page drawn on `canvas` as an image Annotorious draws boxes on (replaces the old page's).
    async makePdfBoxes(obj, canvas) {
      const img = el("img", { class: "anno-pdf-image", alt: canvas.getAttribute("aria-label"), draggable: "false",
        "data-page": canvas.dataset.page });
      img.style.width = canvas.style.width;
      img.src = canvas.toDataURL("image/png");
      await img.decode();
      return img;
    }

    // Called by drawPdfPage once the new page's image is in place: the old page's annotator (if
    // any) goes, with its boxes kept in the result, and the new page gets its own.
    attachPdfBoxes(obj, img) {
      obj.image = img;
      obj.regionType = "ocrlabels";
      obj.annoPage = obj.page;
      obj.ocrTexts = obj.ocrTexts || {};
      obj.ocrLoaded = obj.ocrLoaded || {};
      obj.itemOf = (annotation) => this.ocrItem(obj, annotation);
      obj.annotationOf = (control, item) => this.ocrAnnotation(obj, control, item);
      obj.describe = (annotation) => this.ocrText(obj, annotation);
      const anno = this.makeAnnotorious(obj, "rectangle"); // annotate_tools.js
      anno.setDrawingTool("rectangle");
      obj.annotator = anno;
      this.bindOcrText();
    }

    ocrItem(obj, annotation) {
      const g = annotation.target.selector.geometry;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!g || !W || !H || !(g.w > 0) || !(g.h > 0)) return null;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "ocrlabels", tag);
      const loaded = obj.ocrLoaded[annotation.id];
      let box;
      if (loaded && ["x", "y", "w", "h"].every((k) => Math.abs(loaded.g[k] - g[k]) < SAME)) {
        const v = loaded.value;
        box = { x: v.x, y: v.y, width: v.width, height: v.height, rotation: v.rotation || 0 };
      } else {
        const clamp = (n) => Math.min(Math.max(n, 0), 100);
        const x = clamp((g.x / W) * 100), y = clamp((g.y / H) * 100);
        box = { x, y, width: Math.min((g.w / W) * 100, 100 - x), height: Math.min((g.h / H) * 100, 100 - y),
          rotation: loaded ? loaded.value.rotation || 0 : 0 };
      }
      return {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "ocrlabels",
        value: Object.assign(box, { ocrlabels: tag ? [tag.label] : [], ocrtext: obj.ocrTexts[annotation.id] || "",
          pageIndex: obj.annoPage }),
      };
    }

    ocrAnnotation(obj, control, item) {
      const annotation = this.boxAnnotation(obj, control, item, "ocrlabels"); // annotate_results.js
      if (!annotation) return null;
      const { x, y, w, h } = annotation.target.selector.geometry;
      obj.ocrLoaded[annotation.id] = { g: { x, y, w, h }, value: item.value };
      obj.ocrTexts[annotation.id] = typeof item.value.ocrtext === "string" ? item.value.ocrtext : "";
      return annotation;
    }

    ocrText(obj, annotation) {
      const text = obj.ocrTexts[annotation.id];
      const g = annotation.target.selector.geometry;
      return `page ${obj.annoPage + 1}, ${Math.round(g.w)}×${Math.round(g.h)} px` + (text ? `: “${text.slice(0, 60)}”` : "");
    }

    // The text field of the selected OCR box (T focuses it): shown while a box is selected.
    syncOcrText() {
      const selected = this.selectedRegion();
      const obj = selected && selected.obj.regionType === "ocrlabels" ? selected.obj : null;
      for (const field of this.root.querySelectorAll("[data-ocr-text]")) {
        const wrap = field.closest("[data-ocr-text-for]");
        const control = this.controls.find((c) => c.name === field.dataset.ocrText);
        const on = Boolean(obj && control && control.to_name === obj.name);
        wrap.hidden = !on;
        const id = on ? selected.annotation.id : null;
        if (field.dataset.region !== (id || "")) {
          field.dataset.region = id || "";
          field.value = on ? obj.ocrTexts[id] || "" : "";
        }
      }
    }

    bindOcrText() {
      for (const field of this.root.querySelectorAll("[data-ocr-text]")) {
        if (field.dataset.bound) continue;
        field.dataset.bound = "1";
        const objOf = () => {
          const selected = this.selectedRegion();
          return selected && selected.obj.regionType === "ocrlabels" && selected.annotation.id === field.dataset.region
            ? selected.obj : null;
        };
        this.listen(field, "input", () => {
          const obj = objOf();
          if (obj) obj.ocrTexts[field.dataset.region] = field.value;
        });
        this.listen(field, "change", () => { if (objOf()) { this.renderRegions(); this.changed(); } });
        this.listen(field, "keydown", (e) => {
          if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); field.blur(); } // the text is the box's; Enter again submits
        });
      }
    }

    // Tab / Shift+Tab on the page: the next, the previous box (of every page shown).
    onPdfBoxKey(e, key, target, obj) {
      if (key !== "Tab" || !obj.annotator || obj.regionType !== "ocrlabels") return false;
      const bare = target === document.body || target === document.documentElement || Boolean(target.closest(".anno-pdf-view"));
      if (!bare || !obj.annotator.getAnnotations().length) return false;
      e.preventDefault();
      this.cycleRegion(e.shiftKey ? -1 : 1); // annotate_linked.js
      return true;
    }
  });
})();
