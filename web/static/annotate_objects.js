// labelfab labeling page: showing task data (text, images with Annotorious), zoom and pan.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, clone, el, C } = A;

  A.part(class ObjectsPart {
    // ---------------------------------------------------------------- rendering task data
    teardownObjects() {
      this.leaveSpanMode(false);
      clearTimeout(this.regionTimer);
      this.regionTimer = null;
      for (const obj of Object.values(this.objects)) {
        if (obj.annotator) obj.annotator.destroy();
        if (obj.refit) obj.refit.disconnect();
        if (obj.kind === "pdf") this.teardownPdf(obj); // annotate_pdf.js
      }
      this.objects = {};
      this.syncTeardown(); // annotate_sync.js
      this.root.querySelectorAll(".anno-text").forEach((node) => node.replaceChildren());
      this.root.querySelectorAll(".anno-image-holder, .anno-pdf-holder").forEach((node) => node.replaceChildren());
      this.root.querySelectorAll("[data-regions]").forEach((node) => node.replaceChildren());
      this.teardownRank();
    }

    async renderTask(task, title) {
      this.teardownObjects();
      this.hideAlert();
      this.q("task-id").textContent = title;
      this.shownTaskId = task.id; // a widget that loads its object's data by task (annotate_timeseries.js)
      const data = task.data || {};
      this.shownData = data; // the task on screen (a video's frameRate="$fps")
      this.taskMedia = task.media || null; // facts read at import of the task's file (audio, video)
      const loads = [];
      C.fillNotes(this.root, data);
      for (const key of this.dataKeys || []) this.keyIndex.delete(key);
      this.dataKeys = C.renderDataLabels(this.root, this.controls, data, this.keyIndex, (input) => this.onInputChange(input));
      for (const wrap of this.root.querySelectorAll("[data-object]")) {
        const name = wrap.dataset.object;
        const value = data[wrap.dataset.key];
        const obj = { name, tag: wrap.dataset.tag, key: wrap.dataset.key, wrap, annotator: null };
        this.objects[name] = obj;
        if (obj.tag === "Text") {
          const text = C.textOf(value);
          obj.text = text.shown; // what the page shows and offsets count in
          obj.resultText = text.text; // what results carry: Label Studio's text, same offsets
          const holder = wrap.querySelector(".anno-text");
          const body = el("div", { class: "anno-text-body" }, obj.text);
          holder.replaceChildren(body);
          holder.scrollTop = 0;
          obj.node = body;
          if (this.controlsFor(name, "labels").length) this.makeTextAnnotator(obj);
        } else if (obj.tag === "Paragraphs" || obj.tag === "Table") {
          this.renderDialogue(obj, value); // annotate_dialogue.js
        } else if (A.renderers[obj.tag]) {
          loads.push(this[A.renderers[obj.tag]](obj, value)); // a widget family's own file
        } else if (this.renderObject(obj, value)) {
          // HyperText and List: annotate_hypertext.js, annotate_rank.js
        } else {
          loads.push(Array.isArray(value) ? this.renderPages(obj, value) : this.renderImage(obj, value));
        }
      }
      await Promise.all(loads);
    }

    renderImage(obj, src) {
      const holder = obj.wrap.querySelector(".anno-image-holder");
      const img = el("img", { class: "anno-image", alt: `Image to label (${obj.key})`, draggable: "false" });
      holder.replaceChildren(img);
      obj.image = img;
      obj.zoom = 1;
      return new Promise((resolve) => {
        img.addEventListener("load", () => {
          // loaded after the workspace was replaced (the preview's next config) or the task changed:
          // an annotator on a detached image would draw with a zero size (Infinity in its shapes)
          if (this.destroyed || this.objects[obj.name] !== obj) { resolve(); return; }
          this.fit(obj);
          this.refitOnResize(obj);
          if (this.hasImageTools(obj)) this.makeImageAnnotator(obj); // annotate_tools.js
          resolve();
        }, { once: true });
        img.addEventListener("error", () => {
          this.showAlert(`The image of this task could not be loaded (${String(src).slice(0, 200)}).`);
          resolve();
        }, { once: true });
        if (typeof src === "string" && src) img.src = src; else img.dispatchEvent(new Event("error"));
      });
    }

    // The result type of a region drawn on an object: a span in a dialogue (paragraphlabels, set
    // by annotate_dialogue.js), in HTML (hypertextlabels) or in text (labels); a box on an image.
    regionType(obj) {
      if (obj.spanType) return obj.spanType;
      if (obj.regionType) return obj.regionType; // a widget family's (annotate_audio.js: labels)
      if (obj.kind !== "text") return "rectanglelabels";
      return obj.tag === "HyperText" ? "hypertextlabels" : "labels";
    }

    controlsFor(objectName, type) {
      return this.controls.filter((c) => c.to_name === objectName && (!type || c.type === type));
    }

    colorOf(controlName, label) {
      const control = this.controls.find((c) => c.name === controlName);
      const given = control && control.colors ? control.colors[label] : null;
      if (given && /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$/.test(given)) return given; // as the server keeps them
      const palette = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324", "#800000", "#000075"];
      const index = control ? control.labels.indexOf(label) : 0;
      return palette[Math.max(index, 0) % palette.length];
    }

    regionLabel(annotation) {
      const body = (annotation.bodies || []).find((b) => b.purpose === "tagging");
      return body ? { control: body.control, label: body.value } : null;
    }

    makeTextAnnotator(obj) {
      const anno = window.RecogitoJS.createTextAnnotator(obj.node, {
        renderer: "SPANS",
        userSelectAction: "EDIT",
        style: (annotation, state) => {
          const tag = this.regionLabel(annotation);
          const color = tag ? this.colorOf(tag.control, tag.label) : "#888888";
          return { fill: color, fillOpacity: state && state.selected ? 0.45 : 0.25,
            underlineColor: color, underlineThickness: 2, underlineOffset: 2 };
        },
      });
      obj.annotator = anno;
      obj.kind = "text";
      anno.state.store.observe(() => this.onRegions(obj), { origin: "LOCAL" });
      anno.on("selectionChanged", () => this.renderRegions());
    }

    // A region was drawn, moved, resized or deleted by the user.
    onRegions(obj) {
      if (this.muted) return;
      const tagged = new Set();
      for (const annotation of obj.annotator.getAnnotations()) {
        if (this.regionLabel(annotation)) continue;
        const active = this.activeLabel(obj.name, this.regionLabelType(obj));
        if (active) { this.tagRegion(obj, annotation, active.control.name, active.label); tagged.add(annotation.id); }
      }
      // A span drawn with a label picked ahead (a key pressed with no span selected, Label Studio's
      // way: label, then text) is left unselected, as Label Studio leaves it, so that the next key
      // picks the next span's label instead of relabelling this one. One who labels the other way
      // (text, then the key that labels it: pickedAhead false) keeps the new span selected. The
      // text annotator selects a new span right after adding it, hence after this call.
      if (tagged.size && obj.kind !== "text") this.drawnWithLabel([...tagged].pop());
      if (tagged.size && obj.kind === "text" && this.pickedAhead) {
        setTimeout(() => {
          const selected = obj.annotator.getSelected() || [];
          if (selected.length && selected.every((a) => tagged.has(a.id))) obj.annotator.cancelSelected();
        }, 0);
      }
      this.renderRegions();
      clearTimeout(this.regionTimer);
      this.regionTimer = setTimeout(() => { this.regionTimer = null; this.changed(); }, 250); // one undo step per gesture
    }

    tagRegion(obj, annotation, controlName, label) {
      const updated = clone({ id: annotation.id, bodies: [], target: this.plainTarget(obj, annotation) });
      updated.bodies = [{ id: uuid(), annotation: annotation.id, purpose: "tagging", value: label, control: controlName }];
      this.muted = true;
      try {
        obj.annotator.updateAnnotation(Object.assign({}, annotation, { bodies: updated.bodies }));
      } finally {
        this.muted = false;
      }
    }

    plainTarget(obj, annotation) {
      if (obj.kind === "text") {
        return { annotation: annotation.id,
          selector: annotation.target.selector.map((s) => ({ start: s.start, end: s.end, quote: s.quote })) };
      }
      return { annotation: annotation.id, selector: annotation.target.selector };
    }

    activeLabel(objectName, type) {
      for (const control of this.controlsFor(objectName, type)) {
        const checked = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"] input[name^="active-"]:checked`);
        if (checked) return { control, label: checked.value };
      }
      return null;
    }

    selectedRegion() {
      for (const obj of Object.values(this.objects)) {
        if (!obj.annotator) continue;
        const selected = obj.annotator.getSelected();
        if (selected && selected.length) return { obj, annotation: selected[0] };
      }
      return null;
    }

    renderRegions() {
      for (const list of this.root.querySelectorAll("[data-regions]")) list.replaceChildren();
      const selected = this.selectedRegion();
      for (const obj of Object.values(this.objects)) {
        if (!obj.annotator) continue;
        const controls = this.controlsFor(obj.name, this.regionLabelType(obj));
        if (!controls.length) continue; // plain shapes without <Labels>: no list
        for (const annotation of obj.annotator.getAnnotations()) {
          const tag = this.regionLabel(annotation);
          const controlName = tag && tag.control ? tag.control : controls[0].name;
          const list = this.root.querySelector(`[data-regions="${CSS.escape(controlName)}"]`);
          if (!list) continue;
          const isSelected = selected && selected.annotation.id === annotation.id;
          const item = el("li", { class: "anno-region" + (isSelected ? " is-selected" : "") + (tag ? "" : " is-unlabeled") });
          const swatch = el("span", { class: "anno-swatch", "aria-hidden": "true" });
          swatch.style.background = tag ? this.colorOf(tag.control, tag.label) : "#6b7280";
          const name = el("button", { type: "button", class: "link anno-region-name" },
            tag ? tag.label : "no label yet: press a label key");
          name.addEventListener("click", () => { this.drawnAhead = null; obj.annotator.setSelected(annotation.id); });
          const what = obj.describe ? obj.describe(annotation) : obj.kind === "text"
            ? `“${annotation.target.selector.map((s) => s.quote).join(" … ").slice(0, 60)}”`
            : this.boxText(obj, annotation);
          const remove = el("button", { type: "button", class: "link anno-region-delete", "aria-label": "Delete this region" }, "✕");
          remove.addEventListener("click", () => this.deleteRegion(obj, annotation.id));
          item.append(swatch, name, el("span", { class: "anno-region-what" }, what), remove);
          list.append(item);
        }
      }
      this.syncRegionControls(); // annotate_linked.js
      this.syncOcrText(); // the selected OCR box's text: annotate_pdf_ocr.js
      this.drawRelations();
    }

    boxText(obj, annotation) {
      const type = annotation.target.selector.type;
      if (type === "POINT") return this.pointText(obj, annotation); // annotate_keypoints.js
      if (type === "MASK") return this.maskText(obj, annotation); // annotate_brush.js
      if (type === "SERIES") return this.seriesText(obj, annotation); // annotate_timeseries.js
      const g = annotation.target.selector.geometry;
      if (g.points || g.rx !== undefined) return this.polygonText(annotation);
      return `${Math.round(g.w)}×${Math.round(g.h)} px at ${Math.round(g.x)}, ${Math.round(g.y)}`;
    }

    deleteRegion(obj, id) {
      this.flushRegions(); // a region drawn a moment ago is its own undo step, before its deletion
      obj.annotator.removeAnnotation(id);
      if (obj.annotator.cancelSelected) obj.annotator.cancelSelected();
      this.renderRegions();
      this.changed();
    }

    // ---------------------------------------------------------------- image zoom and pan
    fit(obj) {
      const view = obj.wrap.querySelector(".anno-image-view");
      const img = obj.image;
      if (!img || !img.naturalWidth) return;
      const scale = Math.min(view.clientWidth / img.naturalWidth, view.clientHeight / img.naturalHeight);
      obj.fitWidth = Math.max(1, Math.floor(img.naturalWidth * Math.min(scale, 4)));
      this.applyZoom(obj);
    }

    // The view's size follows the window and the page around it (the labeling page is as high as
    // the window: a notice shown, a phone turned): an image shown fitted is fitted again when its
    // view changes size; one zoomed in stays as it is. The view's border box, which scroll bars do
    // not change, so a fit never feeds itself.
    refitOnResize(obj) {
      if (obj.refit || !window.ResizeObserver) return;
      obj.refit = new ResizeObserver(() => {
        if (obj.zoom === 1 && !this.destroyed && this.objects[obj.name] === obj) this.fit(obj);
      });
      obj.refit.observe(obj.wrap.querySelector(".anno-image-view"), { box: "border-box" });
    }

    applyZoom(obj) {
      const width = Math.round(obj.fitWidth * obj.zoom);
      obj.image.style.width = `${width}px`;
      obj.image.style.height = "auto";
      const level = obj.wrap.querySelector('[data-anno="zoom-level"]');
      // the size shown against the image's own (fit may already enlarge a small image up to 4×)
      if (level) level.textContent = `${Math.round((width / obj.image.naturalWidth) * 100)}%`;
    }

    zoom(objectName, how) {
      const obj = this.objects[objectName];
      if (!obj || !obj.image || !obj.fitWidth) return;
      const view = obj.wrap.querySelector(".anno-image-view");
      const before = obj.zoom;
      if (how === "in") obj.zoom = Math.min(obj.zoom * 1.25, 8);
      else if (how === "out") obj.zoom = Math.max(obj.zoom / 1.25, 1);
      else obj.zoom = 1;
      // keep the centre of the view where it was
      const cx = (view.scrollLeft + view.clientWidth / 2) / before;
      const cy = (view.scrollTop + view.clientHeight / 2) / before;
      this.applyZoom(obj);
      view.scrollLeft = cx * obj.zoom - view.clientWidth / 2;
      view.scrollTop = cy * obj.zoom - view.clientHeight / 2;
    }

    bindPan(view) {
      let start = null;
      this.listen(view, "pointerdown", (e) => {
        if (!this.panning) return;
        start = { x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop };
        e.preventDefault();
        e.stopPropagation();
      }, true);
      this.listen(window, "pointermove", (e) => {
        if (!start) return;
        view.scrollLeft = start.left - (e.clientX - start.x);
        view.scrollTop = start.top - (e.clientY - start.y);
      });
      this.listen(window, "pointerup", () => { start = null; });
      this.listen(view, "wheel", (e) => {
        if (!e.ctrlKey) return;
        e.preventDefault();
        const obj = this.objects[view.closest("[data-object]").dataset.object];
        if (obj) this.zoom(obj.name, e.deltaY < 0 ? "in" : "out");
      }, { passive: false });
    }

    setPanning(on) {
      if (this.panning === on) return;
      this.panning = on;
      this.root.classList.toggle("is-panning", on);
      for (const obj of Object.values(this.objects)) {
        if (obj.kind === "image") obj.annotator.setDrawingEnabled(!on);
      }
    }
  });
})();
