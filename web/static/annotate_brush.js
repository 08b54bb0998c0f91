// labelfab labeling page: brush masks (BrushLabels, Brush) on images, as Label Studio's editor
// makes them. Each mask is a canvas of the image's natural size over the image; the brush paints
// into the selected mask (or a new one with the picked label), the eraser clears the selected
// mask (or every mask it passes over); [ and ] size the brush (1 to 50 screen pixels, Label
// Studio's range and steps). A click (no drag) on a painted mask other than the selected one
// selects it (as Tab or the region list do); a drag from there paints as usual. Stored as Label Studio stores them: brushlabels (brush without
// labels) value {format: "rle", rle: [...]}, the mask's RGBA pixels with R = G = B = A encoded
// with @thi.ng/rle-pack (the library Label Studio encodes with; label_studio_sdk's converter
// decodes it, the mask being the alpha channel). Masks of a task or a prediction are decoded
// the same way and can be painted on. Methods of annotate.js's Workspace class; see annotate_base.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid } = A;
  const MIN_SIZE = 1, MAX_SIZE = 50, STEP = 5, DEFAULT_SIZE = 15;
  const CLICK_SLOP = 3; // screen pixels a click may move and still be a click

  function mask(id, bodies) {
    return { id, bodies: bodies || [], target: { annotation: id, selector: { type: "MASK", geometry: {} } } };
  }

  function rgb(color) {
    const probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = color;
    return probe.fillStyle; // "#rrggbb"
  }

  class BrushLayer {
    constructor({ image, wrap, color, newMask, size, changed, selected }) {
      this.image = image;
      this.color = color;
      this.newMask = newMask;
      this.size = size;
      this.changed = changed;
      this.selectedCb = selected;
      this.tools = ["brush", "eraser"];
      this.tool = "brush";
      this.masks = new Map(); // id -> {annotation, canvas, rle (cached, null when painted since)}
      this.selected = null;
      this.enabled = false;
      this.node = document.createElement("div");
      this.node.className = "anno-masks";
      this.node.dataset.layer = "masks";
      wrap.append(this.node);
      this.stroke = null;
      this.onDown = (e) => this.pointerDown(e);
      this.onMove = (e) => this.pointerMove(e);
      this.onUp = () => this.pointerUp();
      this.node.addEventListener("pointerdown", this.onDown);
      window.addEventListener("pointermove", this.onMove);
      window.addEventListener("pointerup", this.onUp);
    }

    accepts(a) { return a.target.selector.type === "MASK"; }
    has(id) { return this.masks.has(id); }
    getAnnotations() { return [...this.masks.values()].map((m) => m.annotation); }
    setAnnotations(list, replace) {
      if (replace !== false) { for (const m of this.masks.values()) m.canvas.remove(); this.masks.clear(); }
      for (const a of list) {
        const m = this.add(a);
        if (a.rle) this.paintRle(m, a.rle);
        delete a.rle;
      }
      if (this.selected && !this.masks.has(this.selected)) this.selected = null;
      this.restyle();
    }
    getSelected() { return this.selected && this.masks.has(this.selected) ? [this.masks.get(this.selected).annotation] : []; }
    setSelected(id) { this.selected = id; this.restyle(); }
    cancelSelected() { if (this.selected) { this.selected = null; this.restyle(); } }
    removeAnnotation(id) {
      const m = this.masks.get(id);
      if (m) m.canvas.remove();
      this.masks.delete(id);
      if (this.selected === id) this.selected = null;
    }
    updateAnnotation(a) {
      const m = this.masks.get(a.id);
      if (!m) return;
      m.annotation = a;
      this.tint(m);
      this.restyle();
    }
    setDrawingEnabled(on) { this.enabled = on; this.node.classList.toggle("is-drawing", on); }
    setTool(tool) { if (this.tools.includes(tool)) this.tool = tool; this.node.dataset.brush = this.tool; }
    destroy() {
      window.removeEventListener("pointermove", this.onMove);
      window.removeEventListener("pointerup", this.onUp);
      this.node.remove();
    }

    add(annotation) {
      const canvas = document.createElement("canvas");
      canvas.width = this.image.naturalWidth;
      canvas.height = this.image.naturalHeight;
      canvas.className = "anno-mask";
      canvas.dataset.mask = annotation.id;
      this.node.append(canvas);
      const m = { annotation, canvas, ctx: canvas.getContext("2d", { willReadFrequently: true }), rle: null };
      this.masks.set(annotation.id, m);
      return m;
    }

    // Label Studio's RLE into a mask: its alpha channel, in the mask's colour.
    paintRle(m, rle) {
      const W = m.canvas.width, H = m.canvas.height;
      const decoded = window.thingRlePack.decode(Uint8Array.from(rle));
      if (decoded.length !== W * H * 4) return;
      const data = new ImageData(W, H);
      data.data.set(decoded);
      m.ctx.putImageData(data, 0, 0);
      this.tint(m);
      m.rle = rle.slice();
    }

    // The mask in its label's colour (the alpha channel is the mask; colour is for the eye).
    tint(m) {
      m.ctx.save();
      m.ctx.globalCompositeOperation = "source-in";
      m.ctx.fillStyle = rgb(this.color(m.annotation));
      m.ctx.fillRect(0, 0, m.canvas.width, m.canvas.height);
      m.ctx.restore();
    }

    restyle() {
      for (const [id, m] of this.masks) m.canvas.classList.toggle("is-selected", id === this.selected);
    }

    // Label Studio's RLE of a mask (cached until it is painted on); null for an empty mask.
    rleOf(id) {
      const m = this.masks.get(id);
      if (!m) return null;
      if (m.rle) return m.rle;
      const data = m.ctx.getImageData(0, 0, m.canvas.width, m.canvas.height).data;
      let any = false;
      for (let i = 0; i < data.length; i += 4) {
        const alpha = data[i + 3];
        data[i] = data[i + 1] = data[i + 2] = alpha; // grayscale by opacity, as Label Studio's exportRLE
        if (alpha) any = true;
      }
      if (!any) return null;
      m.rle = Array.from(window.thingRlePack.encode(data, data.length));
      return m.rle;
    }

    at(e) {
      const box = this.image.getBoundingClientRect();
      return [((e.clientX - box.left) / box.width) * this.image.naturalWidth,
        ((e.clientY - box.top) / box.height) * this.image.naturalHeight];
    }

    // The topmost mask painted at natural pixel [x, y], or null.
    maskAt([x, y]) {
      const px = Math.floor(x), py = Math.floor(y);
      if (px < 0 || py < 0 || px >= this.image.naturalWidth || py >= this.image.naturalHeight) return null;
      const masks = [...this.masks.values()].reverse(); // the last painted lies on top
      return masks.find((m) => m.ctx.getImageData(px, py, 1, 1).data[3] > 0) || null;
    }

    pointerDown(e) {
      if (e.button !== 0 || !this.enabled) return;
      e.preventDefault();
      e.stopPropagation();
      // On another mask than the selected one, a click (no drag) selects that mask, as a click on
      // a box or a key point selects it; a drag paints (or erases) as usual.
      const hit = this.maskAt(this.at(e));
      if (hit && hit.annotation.id !== this.selected) {
        this.pending = { id: hit.annotation.id, x: e.clientX, y: e.clientY, event: e };
        return;
      }
      this.startStroke(e);
    }

    startStroke(e) {
      let targets;
      if (this.tool === "eraser") {
        targets = this.selected ? [this.masks.get(this.selected)] : [...this.masks.values()];
      } else {
        let m = this.selected && this.masks.get(this.selected);
        if (!m) {
          m = this.add(this.newMask());
          this.selected = m.annotation.id;
          this.selectedCb(this);
          this.restyle();
        }
        targets = [m];
      }
      const box = this.image.getBoundingClientRect();
      const width = (this.size() * this.image.naturalWidth) / (box.width || this.image.naturalWidth);
      this.stroke = { targets, width, last: this.at(e) };
      this.segment(this.stroke.last);
    }

    pointerMove(e) {
      const p = this.pending;
      if (p && Math.hypot(e.clientX - p.x, e.clientY - p.y) > CLICK_SLOP) {
        this.pending = null;
        this.startStroke(p.event);
      }
      if (this.stroke) this.segment(this.at(e));
    }

    segment([x, y]) {
      const s = this.stroke;
      for (const m of s.targets) {
        const ctx = m.ctx;
        ctx.save();
        ctx.globalCompositeOperation = this.tool === "eraser" ? "destination-out" : "source-over";
        ctx.strokeStyle = rgb(this.color(m.annotation));
        ctx.lineWidth = s.width;
        ctx.lineCap = "round";
        ctx.lineJoin = "round";
        ctx.beginPath();
        ctx.moveTo(s.last[0], s.last[1]);
        ctx.lineTo(x, y);
        ctx.stroke();
        ctx.restore();
        m.rle = null;
      }
      s.last = [x, y];
    }

    pointerUp() {
      const p = this.pending;
      this.pending = null;
      if (p && this.masks.has(p.id)) {
        this.selected = p.id;
        this.selectedCb(this);
        this.restyle();
        return;
      }
      if (!this.stroke) return;
      this.stroke = null;
      this.changed();
    }
  }

  A.part(class BrushPart {
    makeBrushLayer(obj, wrap, changed, selected) {
      const layer = new BrushLayer({
        image: obj.image, wrap, changed, selected,
        size: () => this.brushSize || DEFAULT_SIZE,
        color: (a) => { const tag = this.regionLabel(a); return tag ? this.colorOf(tag.control, tag.label) : "#6b7280"; },
        newMask: () => {
          const active = this.activeLabel(obj.name, "brushlabels");
          const id = uuid();
          if (active) this.drawnWithLabel(id);
          return mask(id, active ? [{ id: uuid(), annotation: id, purpose: "tagging", value: active.label, control: active.control.name }] : []);
        },
      });
      obj.brush = layer;
      return layer;
    }

    resizeBrush(obj, step) {
      const size = this.brushSize || DEFAULT_SIZE;
      this.brushSize = Math.min(Math.max(step > 0 ? size + STEP : size - STEP, MIN_SIZE), MAX_SIZE);
    }

    showBrushSize(obj) {
      const node = obj.wrap.querySelector("[data-brush-size]");
      if (node) node.textContent = `[ ] size ${this.brushSize || DEFAULT_SIZE} px`;
    }

    maskItem(obj, annotation) {
      const rle = obj.brush ? obj.brush.rleOf(annotation.id) : null;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!rle || !W || !H) return null;
      const tag = this.regionLabel(annotation);
      const labelled = this.controlFor(obj.name, "brushlabels", tag);
      const plain = this.controlsFor(obj.name, "brush")[0];
      const control = tag || !plain ? labelled : plain;
      const value = { format: "rle", rle };
      if (control.type === "brushlabels") value.brushlabels = tag ? [tag.label] : [];
      return { id: annotation.id, from_name: control.name, to_name: obj.name, type: control.type,
        original_width: W, original_height: H, image_rotation: 0, value,
        ...(obj.pages ? { item_index: obj.page } : {}) };
    }

    // A stored mask: its annotation carries the RLE until the layer has painted it.
    maskAnnotation(obj, control, item) {
      const v = item.value;
      if (!Array.isArray(v.rle) || v.format && v.format !== "rle") return null;
      const id = item.id || uuid();
      const label = (v.brushlabels || [])[0];
      const a = mask(id, label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : []);
      a.rle = v.rle;
      return a;
    }

    maskText() { return "mask"; }
  });
})();
