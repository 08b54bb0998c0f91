// labelfab labeling page: plain shapes labelled by a separate <Labels> (Label Studio's
// <Rectangle> and <Polygon> + <Labels> on an image, as in its OCR template). Label Studio stores
// such a region as two items sharing its id: the shape's own (`rectangle`, `polygon`, geometry
// only) and, once labelled, a `labels` item with the same geometry and `labels`. On the page the
// shape is one Annotorious annotation whose tag names the Labels control. Methods of annotate.js's Workspace class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const PLAIN = ["rectangle", "polygon", "ellipse"];

  A.part(class ShapesPart {
    // The controls that draw boxes on an image: RectangleLabels, or a plain Rectangle.
    boxControls(objectName) {
      return this.controls.filter((c) => c.to_name === objectName && (c.type === "rectanglelabels" || c.type === "rectangle"));
    }

    // The type of the controls whose labels a region of `obj` takes.
    regionLabelType(obj) {
      if (obj.kind !== "image") return this.regionType(obj); // annotate_dialogue.js: spans of texts and dialogues
      const type = this.imageRegionType(obj); // annotate_vectors.js: the current tool's
      const shape = type.replace(/labels$/, "");
      return (this.plainShape(obj.name, shape) || this.plainBoxes(obj.name)) && this.controlFor(obj.name, "labels") ? "labels" : type;
    }

    // A plain shape tag (<Rectangle>, <Polygon>, <Ellipse>) draws on the image, and no
    // <RectangleLabels> (<PolygonLabels>, <EllipseLabels>) does.
    plainShape(objectName, type) {
      return PLAIN.includes(type) && !this.controlsFor(objectName, `${type}labels`).length
        && this.controlsFor(objectName, type).length > 0;
    }

    plainBoxes(objectName) { return this.plainShape(objectName, "rectangle"); }

    // A plain shape as Label Studio stores it: the shape's item, then its labels item. `shaped`
    // is the region as a <type>labels item.
    plainItems(obj, shaped, type) {
      const plain = this.controlsFor(obj.name, type)[0];
      const field = `${type}labels`;
      const labels = shaped.value[field];
      const geometry = Object.assign({}, shaped.value);
      delete geometry[field];
      const shape = Object.assign({}, shaped, { from_name: plain.name, type, value: geometry });
      const tag = labels && labels.length ? this.controlFor(obj.name, "labels") : null;
      if (!tag) return [shape];
      return [shape, Object.assign({}, shaped, { from_name: tag.name, type: "labels", value: Object.assign({}, geometry, { labels }) })];
    }

    plainBoxItems(obj, box) { return this.plainItems(obj, box, "rectangle"); }

    // The other way: a result's shape + labels pairs as one labelled region each (setResult).
    joinPlainBoxes(result) {
      const shapes = new Map();
      const labelled = new Map();
      for (const item of result || []) {
        if (!item || !item.id || !this.objects[item.to_name]) continue;
        if (PLAIN.includes(item.type) && this.plainShape(item.to_name, item.type)) shapes.set(item.id, item);
        else if (item.type === "labels" && item.value) labelled.set(item.id, item);
      }
      if (!shapes.size) return result;
      const out = [];
      for (const item of result) {
        if (item && item.type === "labels" && shapes.has(item.id) && labelled.get(item.id) === item) continue;
        if (item && PLAIN.includes(item.type) && shapes.get(item.id) === item) {
          const tag = labelled.get(item.id);
          const value = Object.assign({}, item.value);
          value[`${item.type}labels`] = tag ? tag.value.labels || [] : [];
          out.push(Object.assign({}, item, { from_name: tag ? tag.from_name : item.from_name, type: `${item.type}labels`, value }));
        } else {
          out.push(item);
        }
      }
      return out;
    }
  });
})();
