// labelfab labeling page: the drawing tools of an image and the layers they draw on.
// An image's regions may come from Annotorious (boxes, polygons, ellipses) and from labelfab's
// own layers over the image (key points: annotate_keypoints.js, brush masks: annotate_brush.js).
// `obj.annotator` is then a Layers object with Annotorious's methods (getAnnotations,
// setAnnotations, getSelected, setSelected, cancelSelected, removeAnnotation, updateAnnotation,
// setDrawingEnabled, destroy) over all of them, so the region list, labels, per-region answers,
// relations, undo and submit treat every region alike. The tool bar above the image picks the
// tool (W cycles the image's tools; B brush and E eraser where there is a brush), and Tab /
// Shift+Tab select the next and the previous region where key points or masks are drawn
// ([ and ] size the brush there). Methods of annotate.js's Workspace class; see annotate_base.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el } = A;

  // The tools a control type draws with, in the tool bar's order.
  const TOOLS = {
    rectanglelabels: ["rectangle"], rectangle: ["rectangle"], polygonlabels: ["polygon"], polygon: ["polygon"],
    ellipselabels: ["ellipse"], ellipse: ["ellipse"], keypointlabels: ["keypoint"], keypoint: ["keypoint"],
    brushlabels: ["brush", "eraser"], brush: ["brush", "eraser"],
  };
  const NAMES = { rectangle: "Box", polygon: "Polygon", ellipse: "Ellipse", keypoint: "Key point", brush: "Brush", eraser: "Eraser" };
  const ANNOTORIOUS = new Set(["rectangle", "polygon", "ellipse"]);
  const LAYER_SHAPES = new Set(["POINT", "MASK"]);

  // Annotorious as one layer among others.
  function annotoriousLayer(anno) {
    return {
      anno,
      accepts: (a) => !LAYER_SHAPES.has(a.target && a.target.selector && a.target.selector.type),
      has: (id) => Boolean(anno.getAnnotationById(id)),
      getAnnotations: () => anno.getAnnotations(),
      setAnnotations: (list, replace) => anno.setAnnotations(list, replace),
      getSelected: () => anno.getSelected() || [],
      setSelected: (id) => anno.setSelected(id),
      cancelSelected: () => anno.cancelSelected(),
      removeAnnotation: (id) => anno.removeAnnotation(id),
      updateAnnotation: (a) => anno.updateAnnotation(a),
      setDrawingEnabled: (on) => anno.setDrawingEnabled(on),
      destroy: () => anno.destroy(),
    };
  }

  class Layers {
    constructor(layers) { this.layers = layers; }
    owner(id) { return this.layers.find((l) => l.has(id)); }
    getAnnotations() { return this.layers.flatMap((l) => l.getAnnotations()); }
    setAnnotations(list, replace) {
      for (const layer of this.layers) layer.setAnnotations(list.filter((a) => layer.accepts(a)), replace);
    }
    getSelected() {
      for (const layer of this.layers) { const s = layer.getSelected(); if (s && s.length) return s; }
      return [];
    }
    setSelected(id) {
      const owner = this.owner(id);
      for (const layer of this.layers) if (layer !== owner) layer.cancelSelected();
      if (owner) owner.setSelected(id);
    }
    cancelSelected() { for (const layer of this.layers) layer.cancelSelected(); }
    removeAnnotation(id) { const owner = this.owner(id); if (owner) owner.removeAnnotation(id); }
    updateAnnotation(a) { const owner = this.owner(a.id); if (owner) owner.updateAnnotation(a); }
    setDrawingEnabled(on) { this.enabled = on; for (const layer of this.layers) layer.setDrawingEnabled(on && layer.active !== false); }
    destroy() { for (const layer of this.layers) layer.destroy(); }
  }

  A.part(class ToolsPart {
    // The tools the controls of an image draw with ("rectangle", "polygon", ... "eraser").
    imageTools(obj) {
      const tools = [];
      for (const control of this.controlsFor(obj.name)) {
        for (const tool of TOOLS[control.type] || []) if (!tools.includes(tool)) tools.push(tool);
      }
      return tools;
    }

    hasImageTools(obj) { return this.imageTools(obj).length > 0; }

    // Annotorious (for boxes, polygons, ellipses) and the layers of key points and masks.
    makeImageAnnotator(obj) {
      const tools = this.imageTools(obj);
      const wrap = el("div", { class: "anno-layers" });
      obj.image.parentNode.insertBefore(wrap, obj.image);
      wrap.append(obj.image);
      obj.layerWrap = wrap;
      obj.kind = "image";
      this.listen(wrap, "pointerdown", () => { this.drawnAhead = null; }, true); // before a layer sees it
      const layers = [];
      if (tools.some((t) => ANNOTORIOUS.has(t))) {
        const anno = this.makeAnnotorious(obj, tools.find((t) => ANNOTORIOUS.has(t)));
        obj.anno = anno;
        const layer = annotoriousLayer(anno);
        layers.push(layer);
        anno.on("selectionChanged", (selected) => {
          if (selected && selected.length) for (const l of layers) if (l !== layer) l.cancelSelected();
        });
      }
      const changed = () => this.onLayerChange(obj);
      const selected = (layer) => {
        for (const l of layers) if (l !== layer) l.cancelSelected();
        this.renderRegions();
      };
      if (tools.includes("brush")) layers.push(this.makeBrushLayer(obj, wrap, changed, selected)); // annotate_brush.js
      if (tools.includes("keypoint")) layers.push(this.makeKeyPointLayer(obj, wrap, changed, selected)); // annotate_keypoints.js (on top)
      obj.annotator = new Layers(layers);
      obj.annotator.enabled = true;
      this.renderToolBar(obj, tools);
      this.setTool(obj, tools[0]);
    }

    makeAnnotorious(obj, tool) {
      const anno = window.Annotorious.createImageAnnotator(obj.image, {
        drawingEnabled: true,
        drawingMode: tool === "polygon" ? "click" : "drag", // a polygon: a click per corner
        theme: "light",
        userSelectAction: "EDIT",
        style: (annotation, state) => {
          const tag = this.regionLabel(annotation);
          const color = tag ? this.colorOf(tag.control, tag.label) : "#6b7280";
          return { fill: color, fillOpacity: state && state.selected ? 0.3 : 0.15, stroke: color, strokeWidth: 2 };
        },
      });
      if (this.imageTools(obj).includes("ellipse")) window.AnnotoriousTools.mountPlugin(anno);
      anno.state.store.observe(() => this.onRegions(obj), { origin: "LOCAL" });
      anno.on("selectionChanged", () => this.renderRegions());
      this.drawPastSelection(obj, anno);
      return anno;
    }

    // Annotorious draws only while nothing is selected, and a new box is selected (so that a label
    // key relabels it): a drag that starts off the selected region deselects it and hands the same
    // pointerdown to the drawing tool, so a second box is drawn right after the first, no Esc.
    drawPastSelection(obj, anno) {
      const svg = (obj.layerWrap || obj.wrap).querySelector("svg.a9s-annotationlayer");
      if (!svg) return;
      svg.addEventListener("pointerdown", (e) => {
        if (!e.isTrusted || e.button !== 0 || obj.tool === "polygon" || this.panning) return;
        if (!anno.getSelected().length || e.target.closest(".a9s-annotation.selected")) return;
        const again = new PointerEvent("pointerdown", e);
        let released = false; // a click selects (Annotorious's own pointerup), it does not draw
        window.addEventListener("pointerup", () => { released = true; }, { once: true, capture: true });
        anno.cancelSelected();
        // the drawing tool mounts when Svelte flushes the deselection (a microtask); then it takes the event
        requestAnimationFrame(() => { if (!released && !anno.getSelected().length) svg.dispatchEvent(again); });
      }, true);
    }

    // A key point or a mask was drawn, moved, erased or deleted by the user.
    onLayerChange(obj) {
      if (this.muted) return;
      this.renderRegions();
      clearTimeout(this.regionTimer);
      this.regionTimer = setTimeout(() => { this.regionTimer = null; this.changed(); }, 250); // one undo step per gesture
    }

    renderToolBar(obj, tools) {
      const bar = obj.wrap.querySelector("[data-tools]");
      if (!bar) return;
      bar.replaceChildren();
      bar.hidden = tools.length < 2 && !tools.includes("brush");
      for (const tool of tools) {
        const key = tool === "brush" ? "B" : tool === "eraser" ? "E" : null;
        const button = el("button", { type: "button", "data-tool": tool, "aria-pressed": "false" }, NAMES[tool]);
        if (key) { button.append(" ", el("kbd", {}, key)); button.setAttribute("aria-keyshortcuts", key); }
        button.addEventListener("click", () => this.setTool(obj, tool));
        bar.append(button);
      }
      if (tools.length > 1) bar.append(el("span", { class: "muted" }, "W next tool"));
      if (tools.includes("brush")) {
        bar.append(el("span", { class: "muted", "data-brush-size": "" }));
      }
    }

    setTool(obj, tool) {
      obj.tool = tool;
      if (obj.anno && ANNOTORIOUS.has(tool)) {
        obj.anno.setDrawingMode(tool === "polygon" ? "click" : "drag");
        obj.anno.setDrawingTool(tool);
      }
      for (const layer of obj.annotator.layers) {
        const on = layer.anno ? ANNOTORIOUS.has(tool) : layer.tools.includes(tool);
        layer.active = on;
        if (layer.setTool) layer.setTool(tool);
        layer.setDrawingEnabled(on && obj.annotator.enabled !== false && !this.panning);
      }
      const bar = obj.wrap.querySelector("[data-tools]");
      if (bar) {
        for (const button of bar.querySelectorAll("[data-tool]")) button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
        this.showBrushSize(obj);
      }
    }

    imageObjects() { return Object.values(this.objects).filter((o) => o.kind === "image" && o.annotator && o.annotator.layers); }

    // W, B, E, [ ], Tab: true when the key was a tool's.
    onToolKey(e, key, target) {
      if (e.ctrlKey || e.metaKey || e.altKey || this.span || this.relating) return false;
      const images = this.imageObjects();
      if (!images.length) return false;
      const lower = key.toLowerCase();
      if (this.keyIndex.has(lower)) return false; // a label's own key
      const obj = images.find((o) => o.wrap.contains(target)) || images[0];
      const tools = this.imageTools(obj);
      const layered = images.some((o) => o.annotator.layers.some((l) => !l.anno));
      if (lower === "w" && tools.length > 1) {
        e.preventDefault();
        this.setTool(obj, tools[(tools.indexOf(obj.tool) + 1) % tools.length]);
        return true;
      }
      if ((lower === "b" || lower === "e") && tools.includes("brush")) {
        e.preventDefault();
        this.setTool(obj, lower === "b" ? "brush" : "eraser");
        return true;
      }
      if ((key === "[" || key === "]") && tools.includes("brush")) {
        e.preventDefault();
        this.resizeBrush(obj, key === "]" ? 1 : -1); // annotate_brush.js
        this.showBrushSize(obj);
        return true;
      }
      const bare = target === document.body || target === document.documentElement || Boolean(target.closest(".anno-image-view"));
      if (key === "Tab" && layered && bare) {
        e.preventDefault();
        this.cycleRegion(e.shiftKey ? -1 : 1); // annotate_linked.js
        return true;
      }
      return false;
    }
  });
})();
