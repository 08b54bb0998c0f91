// labelfab labeling page: key points (KeyPointLabels, KeyPoint) on images.
// With the key point tool a click places a point with the picked label; a point is dragged to
// move it, selected by a click or Tab, removed with Delete. Drawn on an SVG layer over the image
// (annotate_tools.js joins it to the image's other regions). Results as Label Studio stores them:
// keypointlabels (keypoint without labels) value x, y in percent of the image's natural size and
// width, the point's size: the control's strokeWidth (Label Studio's default 2) in screen pixels
// in percent of the image's shown width, as Label Studio's editor converts it.
// Methods of annotate.js's Workspace class; see annotate_base.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid } = A;
  const SVG = "http://www.w3.org/2000/svg";
  const RADIUS = 6; // px on screen

  // A key point's annotation: selector POINT, geometry x, y in natural pixels (width: percent).
  function point(id, x, y, width, bodies) {
    return { id, bodies: bodies || [],
      target: { annotation: id, selector: { type: "POINT", geometry: { x, y, width,
        bounds: { minX: x, minY: y, maxX: x, maxY: y } } } } };
  }

  class KeyPointLayer {
    constructor({ image, wrap, color, newPoint, changed, selected }) {
      this.image = image;
      this.color = color;
      this.newPoint = newPoint;
      this.changed = changed;
      this.selectedCb = selected;
      this.tools = ["keypoint"];
      this.points = new Map();
      this.selected = null;
      this.enabled = false;
      this.svg = document.createElementNS(SVG, "svg");
      this.svg.setAttribute("class", "anno-keypoints");
      this.svg.setAttribute("data-layer", "keypoints");
      wrap.append(this.svg);
      this.drag = null;
      this.onDown = (e) => this.pointerDown(e);
      this.onMove = (e) => this.pointerMove(e);
      this.onUp = () => this.pointerUp();
      this.svg.addEventListener("pointerdown", this.onDown);
      window.addEventListener("pointermove", this.onMove);
      window.addEventListener("pointerup", this.onUp);
      this.resize = new ResizeObserver(() => this.draw());
      this.resize.observe(this.image);
    }

    accepts(a) { return a.target.selector.type === "POINT"; }
    has(id) { return this.points.has(id); }
    getAnnotations() { return [...this.points.values()]; }
    setAnnotations(list, replace) {
      if (replace !== false) this.points.clear();
      for (const a of list) this.points.set(a.id, a);
      if (this.selected && !this.points.has(this.selected)) this.selected = null;
      this.draw();
    }
    getSelected() { return this.selected && this.points.has(this.selected) ? [this.points.get(this.selected)] : []; }
    setSelected(id) { this.selected = id; this.draw(); }
    cancelSelected() { if (this.selected) { this.selected = null; this.draw(); } }
    removeAnnotation(id) { this.points.delete(id); if (this.selected === id) this.selected = null; this.draw(); }
    updateAnnotation(a) { if (this.points.has(a.id)) { this.points.set(a.id, a); this.draw(); } }
    setDrawingEnabled(on) { this.enabled = on; this.svg.classList.toggle("is-drawing", on); }
    destroy() {
      this.resize.disconnect();
      window.removeEventListener("pointermove", this.onMove);
      window.removeEventListener("pointerup", this.onUp);
      this.svg.remove();
    }

    // Natural image pixels of a pointer event.
    at(e) {
      const box = this.image.getBoundingClientRect();
      const W = this.image.naturalWidth, H = this.image.naturalHeight;
      const x = ((e.clientX - box.left) / box.width) * W, y = ((e.clientY - box.top) / box.height) * H;
      return [Math.min(Math.max(x, 0), W), Math.min(Math.max(y, 0), H)];
    }

    pointerDown(e) {
      if (e.button !== 0) return;
      const hit = e.target.closest && e.target.closest("[data-point]");
      if (hit) {
        e.preventDefault();
        e.stopPropagation();
        this.selected = hit.dataset.point;
        this.drag = { id: this.selected, moved: false };
        this.selectedCb(this);
        this.draw();
        return;
      }
      if (!this.enabled) return;
      e.preventDefault();
      e.stopPropagation();
      const [x, y] = this.at(e);
      const a = this.newPoint(x, y);
      this.points.set(a.id, a);
      this.selected = a.id;
      this.selectedCb(this);
      this.draw();
      this.changed();
    }

    pointerMove(e) {
      if (!this.drag) return;
      const a = this.points.get(this.drag.id);
      if (!a) { this.drag = null; return; }
      const [x, y] = this.at(e);
      const g = a.target.selector.geometry;
      this.points.set(a.id, point(a.id, x, y, g.width, a.bodies));
      this.drag.moved = true;
      this.draw();
    }

    pointerUp() {
      const drag = this.drag;
      this.drag = null;
      if (drag && drag.moved) this.changed();
    }

    draw() {
      const W = this.image.naturalWidth, H = this.image.naturalHeight;
      const shown = this.image.getBoundingClientRect().width || W;
      this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
      this.svg.setAttribute("preserveAspectRatio", "none");
      const scale = W / shown; // natural pixels per screen pixel
      this.svg.replaceChildren();
      for (const a of this.points.values()) {
        const g = a.target.selector.geometry;
        const circle = document.createElementNS(SVG, "circle");
        const isSelected = a.id === this.selected;
        circle.setAttribute("cx", g.x);
        circle.setAttribute("cy", g.y);
        circle.setAttribute("r", (isSelected ? RADIUS + 2 : RADIUS) * scale);
        circle.setAttribute("fill", this.color(a));
        circle.setAttribute("stroke", isSelected ? "#111827" : "#ffffff");
        circle.setAttribute("stroke-width", 2 * scale);
        circle.setAttribute("class", "anno-keypoint" + (isSelected ? " is-selected" : ""));
        circle.dataset.point = a.id;
        this.svg.append(circle);
      }
    }
  }

  A.part(class KeyPointsPart {
    makeKeyPointLayer(obj, wrap, changed, selected) {
      return new KeyPointLayer({
        image: obj.image, wrap, changed, selected,
        color: (a) => { const tag = this.regionLabel(a); return tag ? this.colorOf(tag.control, tag.label) : "#6b7280"; },
        newPoint: (x, y) => {
          const active = this.activeLabel(obj.name, "keypointlabels");
          const id = uuid();
          if (active) this.drawnWithLabel(id);
          const bodies = active ? [{ id: uuid(), annotation: id, purpose: "tagging", value: active.label, control: active.control.name }] : [];
          return point(id, x, y, this.keyPointWidth(obj), bodies);
        },
      });
    }

    // The point's size as Label Studio stores it: strokeWidth screen pixels in percent of the
    // image's width on screen at zoom 1 (its stage).
    keyPointWidth(obj) {
      const control = this.controlsFor(obj.name, "keypointlabels")[0] || this.controlsFor(obj.name, "keypoint")[0];
      const stroke = control && typeof control.stroke_width === "number" ? control.stroke_width : 2;
      return (stroke / (obj.fitWidth || obj.image.naturalWidth)) * 100;
    }

    keyPointItem(obj, annotation) {
      const g = annotation.target.selector.geometry;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!W || !H) return null;
      const tag = this.regionLabel(annotation);
      const labelled = this.controlFor(obj.name, "keypointlabels", tag);
      const plain = this.controlsFor(obj.name, "keypoint")[0];
      const control = tag || !plain ? labelled : plain;
      const value = { x: (g.x / W) * 100, y: (g.y / H) * 100, width: g.width };
      if (control.type === "keypointlabels") value.keypointlabels = tag ? [tag.label] : [];
      return { id: annotation.id, from_name: control.name, to_name: obj.name, type: control.type,
        original_width: W, original_height: H, image_rotation: 0, value,
        ...(obj.pages ? { item_index: obj.page } : {}) };
    }

    keyPointAnnotation(obj, control, item) {
      const v = item.value;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!W || !H || typeof v.x !== "number" || typeof v.y !== "number") return null;
      const id = item.id || uuid();
      const label = (v.keypointlabels || [])[0];
      const bodies = label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [];
      return point(id, (v.x / 100) * W, (v.y / 100) * H, typeof v.width === "number" ? v.width : this.keyPointWidth(obj), bodies);
    }

    pointText(obj, annotation) {
      const g = annotation.target.selector.geometry;
      return `point at ${Math.round(g.x)}, ${Math.round(g.y)} px`;
    }
  });
})();
