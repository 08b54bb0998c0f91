// labelfab labeling page: the Label Studio result list <-> the page state.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, utf16ToCodePoint, codePointToUtf16, C } = A;

  A.part(class ResultsPart {
    // ---------------------------------------------------------------- result <-> page state
    // A prediction's result as the config has it now: items of controls it no longer has go, and
    // so do labels a control no longer has (a label only predictions used may be removed, as in
    // Label Studio); an item left with no label goes. The stored prediction is not changed.
    knownResult(result) {
      const byName = new Map(this.controls.map((c) => [c.name, c]));
      const out = [];
      result.forEach((r) => {
        const control = r && byName.get(r.from_name);
        if (!control) return;
        const names = r.value && r.value[r.type];
        const labels = control.labels || [];
        if (!labels.length || !Array.isArray(names) || !names.every((n) => typeof n === "string")) {
          out.push(r);
          return;
        }
        const kept = names.filter((n) => labels.includes(n));
        if (names.length && !kept.length) return;
        out.push(kept.length === names.length ? r : { ...r, value: { ...r.value, [r.type]: kept } });
      });
      return out;
    }

    getResult() {
      const result = [];
      this.captureRegionAnswers(); // annotate_linked.js: the selected region's per-region answers
      for (const control of this.controls) {
        if (control.per_region || control.per_item) continue; // per region: linkedItems; per page: pageAnswerItems
        const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
        const base = { from_name: control.name, to_name: control.to_name, type: control.type };
        if (control.type === "choices") {
          const picked = [...fieldset.querySelectorAll("input:checked")].map((i) => i.value);
          if (picked.length) result.push(Object.assign({ id: `${control.name}-choices` }, base, { value: { choices: picked } }));
        } else if (control.type === "textarea") {
          const text = fieldset.querySelector("textarea").value;
          if (text.trim()) result.push(Object.assign({ id: `${control.name}-text` }, base, { value: { text: [text] } }));
        } else if (control.type === "rating") {
          const picked = fieldset.querySelector("input:checked");
          if (picked) result.push(Object.assign({ id: `${control.name}-rating` }, base, { value: { rating: Number(picked.value) } }));
        } else if (control.type === "taxonomy") {
          const paths = this.taxonomyPicked(control); // annotate_taxonomy.js
          if (paths.length) result.push(Object.assign({ id: `${control.name}-taxonomy` }, base, { value: { taxonomy: paths } }));
        } else if (C.VALUE_TYPES.has(control.type)) {
          const value = C.readValue(control, fieldset);
          if (value) result.push(Object.assign({ id: `${control.name}-${control.type}` }, base, { value }));
        }
      }
      for (const obj of Object.values(this.objects)) {
        if (!obj.annotator) continue;
        for (const annotation of obj.annotator.getAnnotations()) {
          const item = this.itemsOf(obj, annotation);
          if (item) result.push(...[].concat(item)); // a plain box is two items (annotate_shapes.js)
        }
      }
      result.push(...this.rankItems()); // Pairwise and Ranker: annotate_rank.js
      result.push(...this.videoItems()); // tracks and timeline spans: annotate_video.js
      result.push(...this.offPageItems()); // annotate_pages.js: boxes of the pages not shown
      result.push(...this.chatItems()); // annotate_chat.js: the messages the annotator added
      result.push(...this.pageAnswerItems()); // annotate_pdf.js: answers per page (perItem)
      result.push(...this.linkedItems(result)); // annotate_linked.js: per-region items, relations
      // Label Studio submits nothing of a control its visibleWhen hides
      const hidden = C.hiddenControls(this.controls, result);
      return hidden.size ? result.filter((r) => !hidden.has(r.from_name)) : result;
    }

    spanItem(obj, annotation) {
      const selectors = annotation.target.selector;
      if (!selectors || !selectors.length) return null;
      const start16 = Math.min(...selectors.map((s) => s.start));
      const end16 = Math.max(...selectors.map((s) => s.end));
      const tag = this.regionLabel(annotation);
      if (obj.spanType) return this.paragraphItem(obj, annotation, this.controlFor(obj.name, obj.spanType, tag), tag);
      const control = this.controlFor(obj.name, "labels", tag);
      return {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "labels",
        value: {
          start: utf16ToCodePoint(obj.text, start16),
          end: utf16ToCodePoint(obj.text, end16),
          text: obj.resultText.slice(start16, end16),
          labels: tag ? [tag.label] : [],
        },
      };
    }

    // The result item (or items) of one region drawn on an object: what a submit sends, and what
    // the selected region's controls and notes answer to (annotate_linked.js).
    itemsOf(obj, annotation) {
      return obj.itemOf ? obj.itemOf(annotation) // a widget family's own items (annotate_audio.js)
        : obj.tag === "TimeSeries" ? this.seriesItem(obj, annotation)
        : obj.tag === "HyperText" ? this.hypertextItem(obj, annotation)
        : obj.kind === "text" ? this.spanItem(obj, annotation) : this.imageItem(obj, annotation);
    }

    boxItem(obj, annotation) {
      const g = annotation.target.selector.geometry;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!g || !W || !H) return null;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "rectanglelabels", tag) || this.controlsFor(obj.name, "rectangle")[0];
      const clamp = (v) => Math.min(Math.max(v, 0), 100);
      const x = clamp((g.x / W) * 100), y = clamp((g.y / H) * 100);
      const box = {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "rectanglelabels",
        original_width: W, original_height: H, image_rotation: 0,
        value: {
          x, y,
          width: Math.min((g.w / W) * 100, 100 - x),
          height: Math.min((g.h / H) * 100, 100 - y),
          rotation: 0,
          rectanglelabels: tag ? [tag.label] : [],
        },
        ...(obj.pages ? { item_index: obj.page } : {}),
      };
      return this.plainBoxes(obj.name) ? this.plainBoxItems(obj, box) : box;
    }

    controlFor(objectName, type, tag) {
      const controls = this.controlsFor(objectName, type);
      return (tag && controls.find((c) => c.name === tag.control)) || controls[0];
    }

    setResult(result) {
      this.setVideoItems(result); // tracks and timeline spans: annotate_video.js
      result = this.joinPlainBoxes(this.splitPages(this.loadLinked(this.takePageAnswers(result)))); // per page, linked, pages, shapes
      this.muted = true;
      try {
        this.root.querySelectorAll(".anno-control input[name^='c-'], .anno-control input[name^='r-']")
          .forEach((i) => { i.checked = false; });
        this.root.querySelectorAll("[data-textarea], [data-value-input]").forEach((t) => { t.value = ""; });
        this.resetTaxonomies(); // annotate_taxonomy.js
        this.resetRank();
        const regions = {};
        for (const item of result || []) {
          const control = this.controls.find((c) => c.name === item.from_name);
          if (!control || !item.value) continue;
          const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
          if (item.type === "choices") {
            for (const label of item.value.choices || []) {
              const input = [...fieldset.querySelectorAll("input")].find((i) => i.value === label);
              if (input) input.checked = true;
            }
          } else if (item.type === "taxonomy") {
            this.setTaxonomy(control, item.value.taxonomy);
          } else if (item.type === "textarea") {
            fieldset.querySelector("textarea").value = (item.value.text || []).join("\n");
          } else if (item.type === "rating") {
            const input = fieldset.querySelector(`input[value="${Number(item.value.rating)}"]`);
            if (input) input.checked = true;
          } else if (item.type === "pairwise" || item.type === "ranker") {
            this.setRankItem(control, item);
          } else if (["labels", "rectanglelabels", "paragraphlabels", "hypertextlabels", "polygonlabels",
            "ellipselabels", "rectangle", "keypointlabels", "keypoint", "brushlabels", "brush", "timeserieslabels", "ocrlabels"].includes(item.type)) {
            (regions[control.to_name] = regions[control.to_name] || []).push({ control, item });
          } else if (C.VALUE_TYPES.has(item.type)) {
            C.writeValue(control, fieldset, item.value);
          }
        }
        for (const obj of Object.values(this.objects)) {
          if (!obj.annotator) continue;
          const list = (regions[obj.name] || []).map(({ control, item }) => (obj.annotationOf
            ? obj.annotationOf(control, item) : obj.tag === "TimeSeries" ? this.seriesAnnotation(obj, control, item) : obj.tag === "HyperText"
            ? this.hypertextAnnotation(obj, control, item) : obj.kind === "text"
              ? this.spanAnnotation(obj, control, item) : this.imageAnnotation(obj, control, item))).filter(Boolean);
          if (obj.annotator.cancelSelected) obj.annotator.cancelSelected();
          obj.annotator.setAnnotations(list, true);
        }
        this.setChatMessages(result); // annotate_chat.js
        this.showPageAnswers(); // annotate_pdf.js: the shown page's perItem answers
      } finally {
        this.muted = false;
      }
      this.syncChoiceStyles();
      this.renderRegions();
    }

    spanAnnotation(obj, control, item) {
      if (item.type === "paragraphlabels") return this.paragraphAnnotation(obj, control, item);
      const v = item.value;
      if (!Number.isInteger(v.start) || !Number.isInteger(v.end)) return null;
      const start = codePointToUtf16(obj.text, v.start), end = codePointToUtf16(obj.text, v.end);
      if (start < 0 || end > obj.text.length || start >= end) return null;
      const id = item.id || uuid();
      const label = (v.labels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: { annotation: id, selector: [{ start, end, quote: obj.text.slice(start, end) }] },
      };
    }

    // A box item (its labels under ``labelKey``: rectanglelabels, ocrlabels) as an Annotorious annotation.
    boxAnnotation(obj, control, item, labelKey = "rectanglelabels") {
      const v = item.value;
      const W = obj.image.naturalWidth, H = obj.image.naturalHeight;
      if (!W || !H || [v.x, v.y, v.width, v.height].some((n) => typeof n !== "number")) return null;
      const x = (v.x / 100) * W, y = (v.y / 100) * H, w = (v.width / 100) * W, h = (v.height / 100) * H;
      const id = item.id || uuid();
      const label = (v[labelKey] || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: {
          annotation: id,
          selector: { type: "RECTANGLE", geometry: { x, y, w, h, bounds: { minX: x, minY: y, maxX: x + w, maxY: y + h } } },
        },
      };
    }

    syncChoiceStyles() {
      C.applyVisibility(this.root, this.controls, this.choicesShown());
      this.root.querySelectorAll(".anno-label, .anno-star").forEach((label) => {
        const input = label.querySelector("input");
        label.classList.toggle("is-checked", Boolean(input && input.checked));
      });
      this.showPairwise(); // the picked object of a Pairwise: annotate_rank.js
    }

    // The choices picked on the page, hidden controls' included (what visibleWhen looks at).
    choicesShown() {
      const result = [];
      for (const control of this.controls) {
        if (control.type !== "choices") continue;
        const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
        const picked = [...fieldset.querySelectorAll("input:checked")].map((i) => i.value);
        if (picked.length) result.push({ from_name: control.name, type: "choices", value: { choices: picked } });
      }
      return result;
    }
  });
})();
