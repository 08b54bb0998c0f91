// labelfab labeling page: polygons (PolygonLabels) and ellipses (EllipseLabels) on images.
// Polygons with Annotorious's polygon tool: pick a label with its key, click the corners, click
// the first corner again to close. Ellipses with @annotorious/plugin-tools' ellipse tool: drag.
// Results as Label Studio stores them, in percent of the image's natural size: polygonlabels
// value.points [[x, y], ...] and closed; ellipselabels value x, y (the centre), radiusX (of the
// width), radiusY (of the height), rotation. Methods of annotate.js's Workspace class; see annotate_base.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid } = A;

  A.part(class VectorsPart {
    // The region type an image's current tool draws (annotate_tools.js), else its first one.
    imageRegionType(obj) {
      const types = ["rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels", "brushlabels"];
      const byTool = { rectangle: "rectanglelabels", polygon: "polygonlabels", ellipse: "ellipselabels",
        keypoint: "keypointlabels", brush: "brushlabels", eraser: "brushlabels" }[obj.tool];
      if (byTool && this.controlsFor(obj.name, byTool).length) return byTool;
      return types.find((type) => this.controlsFor(obj.name, type).length) || "rectanglelabels";
    }

    ellipseItem(obj, annotation) {
      const g = annotation.target.selector.geometry;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!g || !W || !H || !(g.rx > 0) || !(g.ry > 0)) return null;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "ellipselabels", tag) || this.controlsFor(obj.name, "ellipse")[0];
      const item = {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "ellipselabels",
        original_width: W, original_height: H, image_rotation: 0,
        value: {
          x: (g.cx / W) * 100, y: (g.cy / H) * 100, radiusX: (g.rx / W) * 100, radiusY: (g.ry / H) * 100,
          rotation: 0,
          ellipselabels: tag ? [tag.label] : [],
        },
        ...(obj.pages ? { item_index: obj.page } : {}),
      };
      return this.plainShape(obj.name, "ellipse") ? this.plainItems(obj, item, "ellipse") : item; // annotate_shapes.js
    }

    ellipseAnnotation(obj, control, item) {
      const v = item.value;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!W || !H || [v.x, v.y, v.radiusX, v.radiusY].some((n) => typeof n !== "number")) return null;
      const cx = (v.x / 100) * W, cy = (v.y / 100) * H, rx = (v.radiusX / 100) * W, ry = (v.radiusY / 100) * H;
      const id = item.id || uuid();
      const label = (v.ellipselabels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: {
          annotation: id,
          selector: { type: "ELLIPSE", geometry: { cx, cy, rx, ry,
            bounds: { minX: cx - rx, minY: cy - ry, maxX: cx + rx, maxY: cy + ry } } },
        },
      };
    }

    // An image region to its result item, by the shape Annotorious drew.
    imageItem(obj, annotation) {
      const type = annotation.target.selector.type;
      if (type === "POINT") return this.keyPointItem(obj, annotation); // annotate_keypoints.js
      if (type === "MASK") return this.maskItem(obj, annotation); // annotate_brush.js
      if (type === "POLYGON") return this.polygonItem(obj, annotation);
      if (type === "ELLIPSE") return this.ellipseItem(obj, annotation);
      return this.boxItem(obj, annotation);
    }

    // A result item to an image region, by its type.
    imageAnnotation(obj, control, item) {
      if (item.type === "keypointlabels" || item.type === "keypoint") return this.keyPointAnnotation(obj, control, item);
      if (item.type === "brushlabels" || item.type === "brush") return this.maskAnnotation(obj, control, item);
      if (item.type === "polygonlabels") return this.polygonAnnotation(obj, control, item);
      if (item.type === "ellipselabels") return this.ellipseAnnotation(obj, control, item);
      return this.boxAnnotation(obj, control, item);
    }

    polygonItem(obj, annotation) {
      const g = annotation.target.selector.geometry;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!g || !g.points || g.points.length < 3 || !W || !H) return null;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "polygonlabels", tag) || this.controlsFor(obj.name, "polygon")[0];
      const clamp = (v) => Math.min(Math.max(v, 0), 100);
      const item = {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "polygonlabels",
        original_width: W, original_height: H, image_rotation: 0,
        value: {
          points: g.points.map(([x, y]) => [clamp((x / W) * 100), clamp((y / H) * 100)]),
          closed: true,
          polygonlabels: tag ? [tag.label] : [],
        },
        ...(obj.pages ? { item_index: obj.page } : {}),
      };
      return this.plainShape(obj.name, "polygon") ? this.plainItems(obj, item, "polygon") : item; // annotate_shapes.js
    }

    polygonAnnotation(obj, control, item) {
      const v = item.value;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!W || !H || !Array.isArray(v.points) || v.points.length < 3) return null;
      const points = v.points.map(([x, y]) => [(x / 100) * W, (y / 100) * H]);
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      const id = item.id || uuid();
      const label = (v.polygonlabels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: {
          annotation: id,
          selector: { type: "POLYGON", geometry: { points,
            bounds: { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) } } },
        },
      };
    }

    polygonText(annotation) {
      const g = annotation.target.selector.geometry;
      if (!g.points) return `ellipse ${Math.round(2 * g.rx)}×${Math.round(2 * g.ry)} px at ${Math.round(g.cx)}, ${Math.round(g.cy)}`;
      const b = g.bounds;
      return `${g.points.length} corners, ${Math.round(b.maxX - b.minX)}×${Math.round(b.maxY - b.minY)} px`;
    }
  });
})();
