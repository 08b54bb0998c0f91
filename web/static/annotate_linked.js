// labelfab labeling page: what hangs on a region by its id, as Label Studio stores it:
// per-region controls (perRegion="true": Choices, TextArea, Rating, Number shown for the selected
// region and answering for it; visibleWhen="region-selected" with whenLabelValue) and relations
// between two regions (Alt+R from the selected region, Tab picks the other one, 1-9 its labels,
// Enter links, Esc cancels; drawn as arrows over the task). Methods of annotate.js's Workspace
// class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el, C } = A;
  const SVG = "http://www.w3.org/2000/svg";
  // result type of a region item -> its label field ("" for plain shapes)
  const LABEL_FIELDS = { labels: "labels", rectanglelabels: "rectanglelabels", polygonlabels: "polygonlabels",
    ellipselabels: "ellipselabels", keypointlabels: "keypointlabels", brushlabels: "brushlabels", rectangle: "", polygon: "", ellipse: "", keypoint: "",
    brush: "", chatmessage: "chatmessage", timeserieslabels: "timeserieslabels", ocrlabels: "ocrlabels" };

  function fieldsetOf(ws, control) {
    return ws.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
  }

  // The answer a per-region fieldset holds: the value key and its content, or null when empty.
  function readAnswer(control, fieldset) {
    if (control.type === "choices") {
      const picked = [...fieldset.querySelectorAll("input:checked")].map((i) => i.value);
      return picked.length ? { choices: picked } : null;
    }
    if (control.type === "textarea") {
      const text = fieldset.querySelector("textarea").value;
      return text.trim() ? { text: [text] } : null;
    }
    if (control.type === "rating") {
      const picked = fieldset.querySelector("input:checked");
      return picked ? { rating: Number(picked.value) } : null;
    }
    return C.VALUE_TYPES.has(control.type) ? C.readValue(control, fieldset) : null;
  }

  function writeAnswer(control, fieldset, answer) {
    fieldset.querySelectorAll("input[type=radio], input[type=checkbox]").forEach((i) => { i.checked = false; });
    fieldset.querySelectorAll("textarea, [data-value-input]").forEach((t) => { t.value = ""; });
    if (!answer) return;
    if (control.type === "choices") {
      for (const input of fieldset.querySelectorAll("input")) input.checked = (answer.choices || []).includes(input.value);
    } else if (control.type === "textarea") {
      fieldset.querySelector("textarea").value = (answer.text || []).join("\n");
    } else if (control.type === "rating") {
      const input = fieldset.querySelector(`input[value="${Number(answer.rating)}"]`);
      if (input) input.checked = true;
    } else if (C.VALUE_TYPES.has(control.type)) {
      C.writeValue(control, fieldset, answer);
    }
  }

  A.part(class LinkedPart {
    perRegionControls() { return this.controls.filter((c) => c.per_region); }

    targetsOf(control) { return control.to_names && control.to_names.length ? control.to_names : [control.to_name]; }

    // ---------------------------------------------------------------- result <-> state
    // Takes the per-region answers and relations out of a result being shown; the rest is shown
    // by setResult as before.
    loadLinked(result) {
      this.regionAnswers = {};
      this.shownRegion = null;
      this.relations = [];
      this.relating = null;
      const perRegion = new Set(this.perRegionControls().map((c) => c.name));
      const rest = [];
      for (const item of result || []) {
        if (item && item.type === "relation") {
          this.relations.push(Object.assign({}, item));
        } else if (item && perRegion.has(item.from_name) && item.id) {
          const answer = {};
          const key = item.type === "textarea" ? "text" : item.type; // a TextArea's value is {text: [...]}
          answer[key] = item.value ? item.value[key] : undefined;
          (this.regionAnswers[item.id] = this.regionAnswers[item.id] || {})[item.from_name] = answer;
        } else {
          rest.push(item);
        }
      }
      return rest;
    }

    // The fieldsets show the answers of one region (shownRegion): keep what they hold.
    captureRegionAnswers() {
      const id = this.shownRegion;
      if (!id) return;
      const answers = (this.regionAnswers = this.regionAnswers || {})[id] = {};
      for (const control of this.perRegionControls()) {
        const answer = readAnswer(control, fieldsetOf(this, control));
        if (answer) answers[control.name] = answer;
      }
    }

    // Per-region items and relations of the regions in `result` (Label Studio's shapes: the
    // region's id, geometry and image keys, then the control's answer).
    linkedItems(result) {
      const out = [];
      const regions = result.filter((item) => item.id && LABEL_FIELDS[item.type] !== undefined
        && !this.perRegionControls().some((c) => c.name === item.from_name));
      const byId = new Map([...this.chatRegions(), ...regions].map((item) => [item.id, item])); // chat: annotate_chat.js
      for (const control of this.perRegionControls()) {
        for (const region of byId.values()) {
          const answer = ((this.regionAnswers || {})[region.id] || {})[control.name];
          if (!answer || !this.targetsOf(control).includes(region.to_name)) continue;
          if (!this.regionShows(control, region)) continue;
          const geometry = Object.assign({}, region.value);
          delete geometry[LABEL_FIELDS[region.type]];
          if (region.type === "ocrlabels") { delete geometry.ocrtext; delete geometry.pageIndex; } // the box, as on images
          const item = {};
          for (const key of ["original_width", "original_height", "image_rotation", "item_index", "original_length"]) {
            if (key in region) item[key] = region[key];
          }
          Object.assign(item, { value: Object.assign(geometry, answer), id: region.id, from_name: control.name,
            to_name: region.to_name, type: control.type });
          out.push(item);
        }
      }
      for (const relation of this.relations || []) {
        if (byId.has(relation.from_id) && byId.has(relation.to_id)) out.push(Object.assign({}, relation));
      }
      return out;
    }

    // Required per-region controls: every region they apply to needs its answer (as the server checks).
    regionProblems(result) {
      const problems = [];
      const regions = new Map(this.chatRegions().map((item) => [item.id, item])); // a chat's messages
      for (const item of result) {
        if (item.id && LABEL_FIELDS[item.type] !== undefined && !this.perRegionControls().some((c) => c.name === item.from_name)) {
          regions.set(item.id, item);
        }
      }
      for (const control of this.perRegionControls()) {
        if (!control.required) continue;
        const without = [...regions.values()].filter((region) => this.targetsOf(control).includes(region.to_name)
          && this.regionShows(control, region)
          && !result.some((r) => r.from_name === control.name && r.id === region.id));
        const missing = without.length;
        if (missing) {  // its field shows only beside a selected region: say how to get there
          const keys = without[0].type === "chatmessage" ? "J K" : "[ ]";
          problems.push(`fill in “${control.name}” for every region (${missing} still without: select ${missing > 1 ? "each" : "it"} with a click or ${keys} and its field shows)`);
        }
      }
      return problems;
    }

    // whenLabelValue: a region-selected control shows only for regions with one of these labels.
    regionShows(control, region) {
      const roles = control.when_roles || [];
      const message = region.value && region.value.chatmessage;
      const role = region.role || (message && message.role);
      if (roles.length && role && !roles.includes(role)) return false; // <View whenRole> of a chat
      const wanted = control.when_label_values || [];
      // Label Studio: whenLabelValue on a perRegion control (audio transcription) limits it too
      if ((control.visible_when !== "region-selected" && !control.per_region) || !wanted.length) return true;
      const labels = (region.value && region.value[LABEL_FIELDS[region.type]]) || [];
      return labels.some((l) => wanted.includes(l));
    }

    // ---------------------------------------------------------------- the selected region's controls
    syncRegionControls() {
      const controls = this.controls.filter((c) => c.per_region || c.visible_when === "region-selected");
      const selected = this.selectedRegion();
      const message = selected ? null : this.selectedMessage(); // a chat's selected message: annotate_chat.js
      this.syncRegionNotes(selected, message);
      if (!controls.length) return;
      const id = selected ? selected.annotation.id : (message ? message.id : null);
      if (id !== this.shownRegion) {
        this.captureRegionAnswers();
        this.shownRegion = id;
        const muted = this.muted;
        this.muted = true;
        try {
          for (const control of this.perRegionControls()) {
            writeAnswer(control, fieldsetOf(this, control), id ? ((this.regionAnswers || {})[id] || {})[control.name] : null);
          }
        } finally {
          this.muted = muted;
        }
      }
      const region = selected ? this.regionItem(selected) : message;
      for (const control of controls) {
        const fieldset = fieldsetOf(this, control);
        const onIt = region && this.targetsOf(control).includes(region.to_name);
        fieldset.hidden = !(onIt && this.regionShows(control, region));
        fieldset.classList.toggle("anno-per-region", Boolean(control.per_region));
      }
    }

    // The headers and texts of a <View visibleWhen="region-selected" | "no-region-selected">
    // (whenRole: of a message with that role) show and hide with the View's controls.
    syncRegionNotes(selected, message) {
      const notes = this.root.querySelectorAll("[data-note-when]");
      if (!notes.length) return; // most configs have none: no region item to work out
      const any = Boolean(selected || message);
      const region = selected ? this.regionItem(selected) : message;
      for (const note of notes) {
        const roles = note.dataset.noteRoles ? note.dataset.noteRoles.split(",") : [];
        note.hidden = note.dataset.noteWhen === "no-region-selected" ? any
          : !(any && (!region || this.regionShows({ when_roles: roles, per_region: true }, region)));
      }
    }

    regionItem(selected) {
      const { obj, annotation } = selected;
      const items = [].concat(this.itemsOf(obj, annotation) || []); // annotate_results.js
      const item = items.find((i) => LABEL_FIELDS[i.type] && (i.value[LABEL_FIELDS[i.type]] || []).length) || items[0];
      return item && item.id ? item : null;
    }

    // ---------------------------------------------------------------- relations
    allRegions() {
      const out = [];
      for (const obj of Object.values(this.objects)) {
        if (!obj.annotator) continue;
        for (const annotation of obj.annotator.getAnnotations()) out.push({ obj, annotation });
      }
      return out;
    }

    // Keys of relation mode; true when the key was the mode's.
    onLinkedKey(e, key) {
      const lower = key.toLowerCase();
      if (!this.relating) {
        if (e.altKey && !e.ctrlKey && !e.metaKey && (e.code === "KeyR" || lower === "r")) {
          e.preventDefault();
          this.startRelation();
          return true;
        }
        if ((key === "]" || key === "[") && !e.ctrlKey && !e.metaKey && !e.altKey && !this.keyIndex.has(key)) {
          e.preventDefault();
          this.cycleRegion(key === "]" ? 1 : -1);
          return true;
        }
        return false;
      }
      e.preventDefault();
      e.stopPropagation();
      const r = this.relating;
      if (key === "Tab") {
        if (r.targets.length) r.index = (r.index + (e.shiftKey ? -1 : 1) + r.targets.length) % r.targets.length;
        this.showRelating();
      } else if (/^[1-9]$/.test(key)) {
        const name = this.relationLabels()[Number(key) - 1];
        if (name) {
          const single = this.schema.relations && this.schema.relations.choice === "single";
          r.labels = r.labels.includes(name) ? r.labels.filter((n) => n !== name) : (single ? [name] : r.labels.concat([name]));
        }
        this.showRelating();
      } else if (key === "Enter") {
        this.finishRelation();
      } else if (key === "Escape") {
        this.relating = null;
        const status = this.q("relation-status");
        if (status) status.hidden = true;
        this.notice("No relation made.");
        this.drawRelations();
      }
      return true;
    }

    // ] and [ select the next and the previous region (of every object, in order).
    cycleRegion(step) {
      const regions = this.allRegions();
      if (!regions.length) return;
      const selected = this.selectedRegion();
      const at = selected ? regions.findIndex((r) => r.annotation.id === selected.annotation.id) : -1;
      const next = regions[(at + step + regions.length) % regions.length];
      this.drawnAhead = null;
      for (const obj of Object.values(this.objects)) {
        if (obj.annotator && obj !== next.obj && obj.annotator.cancelSelected) obj.annotator.cancelSelected();
      }
      next.obj.annotator.setSelected(next.annotation.id);
      this.renderRegions();
    }

    relationLabels() { return (this.schema.relations && this.schema.relations.labels) || []; }

    startRelation() {
      const selected = this.selectedRegion();
      if (!selected) { this.notice("Select a region first (Tab, or click it), then press Alt+R."); return; }
      const targets = this.allRegions().filter((r) => r.annotation.id !== selected.annotation.id);
      if (!targets.length) { this.notice("A relation needs a second region."); return; }
      this.relating = { from: selected, targets, index: 0, labels: [] };
      this.showRelating();
    }

    regionName(region) {
      const item = this.regionItem(region);
      if (!item) return "region";
      const label = ((item.value && item.value[LABEL_FIELDS[item.type]]) || [])[0] || "no label";
      return item.type === "labels" && item.value.text !== undefined ? `${label} “${String(item.value.text).slice(0, 40)}”` : label;
    }

    showRelating() {
      const r = this.relating;
      const target = r.targets[r.index];
      const labels = this.relationLabels();
      const shown = labels.length
        ? ` · labels: ${labels.map((n, i) => `${i + 1} ${r.labels.includes(n) ? "[x]" : "[ ]"} ${n}`).join(", ")}` : "";
      const status = this.q("relation-status");
      const text = `Relation: ${this.regionName(r.from)} → ${this.regionName(target)}${shown}. `
        + "Tab picks the other region, Enter links, Esc cancels.";
      if (status) { status.hidden = false; status.textContent = text; } else this.notice(text);
      this.drawRelations();
    }

    finishRelation() {
      const r = this.relating;
      this.relating = null;
      const status = this.q("relation-status");
      if (status) status.hidden = true;
      const target = r.targets[r.index];
      const relation = { from_id: r.from.annotation.id, to_id: target.annotation.id, type: "relation", direction: "right" };
      if (r.labels.length) relation.labels = r.labels.slice();
      this.relations = (this.relations || []).filter((x) => !(x.from_id === relation.from_id && x.to_id === relation.to_id));
      this.relations.push(relation);
      this.renderRegions();
      this.changed();
    }

    deleteRelation(index) {
      this.relations.splice(index, 1);
      this.renderRegions();
      this.changed();
    }

    renderRelationList() {
      const list = this.root.querySelector("[data-relations]");
      if (!list) return;
      list.replaceChildren();
      const regions = new Map(this.allRegions().map((r) => [r.annotation.id, r]));
      (this.relations || []).forEach((relation, index) => {
        const from = regions.get(relation.from_id), to = regions.get(relation.to_id);
        if (!from || !to) return;
        const item = el("li", { class: "anno-region anno-relation" });
        item.append(el("span", { class: "anno-region-name" },
          `${this.regionName(from)} → ${this.regionName(to)}`),
        el("span", { class: "anno-region-what" }, (relation.labels || []).join(", ") || "no label"));
        const remove = el("button", { type: "button", class: "link anno-region-delete", "aria-label": "Delete this relation" }, "✕");
        remove.addEventListener("click", () => this.deleteRelation(index));
        item.append(remove);
        list.append(item);
      });
    }

    // The box of a region on the page, in the coordinates of the task pane.
    regionBox(region, pane) {
      const base = pane.getBoundingClientRect();
      const { obj, annotation } = region;
      let rect = null;
      if (obj.kind === "text") {
        const sel = annotation.target.selector;
        const start = Math.min(...sel.map((s) => s.start)), end = Math.max(...sel.map((s) => s.end));
        const range = document.createRange();
        const walker = document.createTreeWalker(obj.node, NodeFilter.SHOW_TEXT);
        let seen = 0, node;
        while ((node = walker.nextNode())) {
          const len = node.textContent.length;
          if (seen <= start && start < seen + len) range.setStart(node, start - seen);
          if (seen < end && end <= seen + len) { range.setEnd(node, end - seen); break; }
          seen += len;
        }
        const rects = range.getClientRects();
        rect = rects.length ? rects[0] : null;
      } else if (obj.image && annotation.target.selector.geometry && annotation.target.selector.geometry.bounds) {
        // every shape's bounds (a key point's are its point; a mask has none)
        const b = annotation.target.selector.geometry.bounds, img = obj.image.getBoundingClientRect();
        const sx = img.width / obj.image.naturalWidth, sy = img.height / obj.image.naturalHeight;
        rect = { left: img.left + b.minX * sx, top: img.top + b.minY * sy, width: (b.maxX - b.minX) * sx, height: (b.maxY - b.minY) * sy };
      }
      if (!rect) return null;
      return { x: rect.left - base.left + pane.scrollLeft + rect.width / 2, y: rect.top - base.top + pane.scrollTop + rect.height / 2 };
    }

    drawRelations() {
      this.renderRelationList();
      const pane = this.q("data");
      if (!pane) return;
      let svg = pane.querySelector(":scope > svg.anno-relations");
      const pending = this.relating ? [{ from_id: this.relating.from.annotation.id,
        to_id: this.relating.targets[this.relating.index].annotation.id, labels: this.relating.labels, pending: true }] : [];
      const all = (this.relations || []).concat(pending);
      if (!all.length) { if (svg) svg.remove(); return; }
      if (!svg) {
        svg = document.createElementNS(SVG, "svg");
        svg.setAttribute("class", "anno-relations");
        svg.setAttribute("aria-hidden", "true");
        pane.append(svg);
      }
      svg.setAttribute("width", pane.scrollWidth);
      svg.setAttribute("height", pane.scrollHeight);
      svg.replaceChildren();
      const defs = document.createElementNS(SVG, "defs");
      const marker = document.createElementNS(SVG, "marker");
      for (const [k, v] of Object.entries({ id: "anno-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" })) marker.setAttribute(k, v);
      const tip = document.createElementNS(SVG, "path");
      tip.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
      marker.append(tip);
      defs.append(marker);
      svg.append(defs);
      const regions = new Map(this.allRegions().map((r) => [r.annotation.id, r]));
      for (const relation of all) {
        const a = regions.get(relation.from_id), b = regions.get(relation.to_id);
        const p = a && this.regionBox(a, pane), q = b && this.regionBox(b, pane);
        if (!p || !q) continue;
        const line = document.createElementNS(SVG, "path");
        const mx = (p.x + q.x) / 2, my = Math.min(p.y, q.y) - 24;
        line.setAttribute("d", `M ${p.x} ${p.y} Q ${mx} ${my} ${q.x} ${q.y}`);
        line.setAttribute("class", "anno-relation-line" + (relation.pending ? " is-pending" : ""));
        if (relation.direction !== "left") line.setAttribute("marker-end", "url(#anno-arrow)");
        if (relation.direction === "left" || relation.direction === "bi") line.setAttribute("marker-start", "url(#anno-arrow)");
        svg.append(line);
        if ((relation.labels || []).length) {
          const label = document.createElementNS(SVG, "text");
          label.setAttribute("x", mx);
          label.setAttribute("y", (my + (p.y + q.y) / 2) / 2);
          label.setAttribute("class", "anno-relation-label");
          label.textContent = relation.labels.join(", ");
          svg.append(label);
        }
      }
    }
  });
})();
