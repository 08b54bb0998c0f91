// labelfab labeling page: <Pairwise> (pick the better of two objects) and <Ranker> on a <List>
// (order its items, or sort them into <Bucket>s), stored as Label Studio's editor stores them:
//   {type: "pairwise", to_name: <the Pairwise's own name>, value: {selected: "left" | "right"}}
//   {type: "ranker", to_name: <the List>, value: {ranker: {column: [item ids]}}}
// (columns: the Ranker's name without buckets; the buckets, plus "_" for the items left in the
// list unless a bucket is the default). Methods of annotate.js's Workspace class; see
// annotate_base.js for how a part joins the class.
//
// Keys: [ and ] pick the left or right object (again: unpick, as Label Studio's click does).
// A ranker item takes the focus with Tab; ↑ ↓ move it in its column, Home/End to the top or
// bottom, a bucket's key (the keys dialog lists them) moves it to that bucket, 0 back to the
// first column. Items can be dragged as well (sortablejs), between columns too.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el } = A;
  const ORIGINAL_ITEMS = "_";

  function columnsOf(control) {
    if (!control.labels || !control.labels.length) return [control.name];
    if (control.default_bucket) return control.labels.slice();
    return [ORIGINAL_ITEMS].concat(control.labels);
  }

  A.part(class RankPart {
    rankers() { return this.controls.filter((c) => c.type === "ranker"); }
    pairwises() { return this.controls.filter((c) => c.type === "pairwise"); }

    // ---------------------------------------------------------------- List + Ranker
    renderList(obj, value) {
      const holder = obj.wrap.querySelector(".anno-list");
      const control = this.rankers().find((c) => c.to_name === obj.name);
      obj.kind = "list";
      obj.items = new Map();
      for (const item of Array.isArray(value) ? value : []) {
        if (item && (typeof item.id === "string" || typeof item.id === "number")) obj.items.set(String(item.id), item);
      }
      const board = el("div", { class: "anno-rank-board" });
      obj.sortables = [];
      obj.columns = {};
      const names = control ? columnsOf(control) : [ORIGINAL_ITEMS];
      for (const name of names) {
        // the headings Label Studio's editor shows: the List's title, each Bucket's title
        const own = name === ORIGINAL_ITEMS || (control && name === control.name);
        const title = own ? ((this.schema.objects[obj.name] || {}).title || `List (${obj.key})`) : ((control.titles || {})[name] || name);
        const column = el("section", { class: "anno-rank-column htx-ranker-column", "data-column": name });
        const list = el("ol", { class: "anno-rank-items", "aria-label": title });
        column.append(el("h3", { class: "anno-rank-title" }, title), list);
        board.append(column);
        obj.columns[name] = list;
        if (control && window.Sortable) {
          obj.sortables.push(window.Sortable.create(list, {
            group: `rank-${control.name}`, animation: 120, disabled: false,
            onEnd: () => this.changed(),
          }));
        }
      }
      holder.replaceChildren(board);
      obj.ranker = control || null;
      obj.defaultColumn = control ? (control.default_bucket || names[0]) : ORIGINAL_ITEMS;
      this.placeItems(obj, {});
      return true;
    }

    rankItemNode(obj, id) {
      const item = obj.items.get(id);
      const node = el("li", { class: "anno-rank-item htx-ranker-item", tabindex: "0", "data-id": id });
      if (item.title !== undefined) node.append(el("strong", { class: "anno-rank-item-title" }, item.title));
      if (item.body !== undefined) node.append(el("p", { class: "anno-rank-item-body" }, item.body));
      if (typeof item.html === "string") {
        const box = el("div", { class: "anno-rank-item-html" });
        box.append(this.safeFragment(item.html));
        node.append(box);
      }
      if (!node.childNodes.length) node.append(el("span", {}, id));
      return node;
    }

    // Put every item in its column: as `ranker` says, the rest in the default column.
    placeItems(obj, ranker) {
      for (const list of Object.values(obj.columns)) list.replaceChildren();
      const placed = new Set();
      for (const [column, ids] of Object.entries(ranker || {})) {
        const list = obj.columns[column];
        if (!list || !Array.isArray(ids)) continue;
        for (const id of ids.map(String)) {
          if (!obj.items.has(id) || placed.has(id)) continue;
          list.append(this.rankItemNode(obj, id));
          placed.add(id);
        }
      }
      const rest = obj.columns[obj.defaultColumn] || Object.values(obj.columns)[0];
      for (const id of obj.items.keys()) if (!placed.has(id)) rest.append(this.rankItemNode(obj, id));
    }

    listObjects() { return Object.values(this.objects).filter((o) => o.kind === "list"); }

    teardownRank() {
      for (const obj of this.listObjects()) for (const s of obj.sortables || []) s.destroy();
      this.root.querySelectorAll(".anno-list").forEach((node) => node.replaceChildren());
    }

    resetRank() {
      this.root.querySelectorAll("input[name^='pw-']").forEach((i) => { i.checked = false; });
      this.showPairwise();
      for (const obj of this.listObjects()) if (obj.ranker) this.placeItems(obj, {});
    }

    setRankItem(control, item) {
      if (item.type === "pairwise") {
        const input = this.root.querySelector(`input[name="pw-${CSS.escape(control.name)}"][value="${item.value.selected === "right" ? "right" : "left"}"]`);
        if (input) input.checked = true;
        this.showPairwise();
        return;
      }
      const obj = this.listObjects().find((o) => o.ranker && o.ranker.name === control.name);
      if (obj && item.value && item.value.ranker && typeof item.value.ranker === "object") this.placeItems(obj, item.value.ranker);
    }

    rankItems() {
      const out = [];
      for (const control of this.pairwises()) {
        const picked = this.root.querySelector(`input[name="pw-${CSS.escape(control.name)}"]:checked`);
        if (picked) {
          out.push({ id: `${control.name}-pairwise`, from_name: control.name, to_name: control.name, type: "pairwise",
            value: { selected: picked.value } });
        }
      }
      for (const obj of this.listObjects()) {
        if (!obj.ranker) continue;
        const ranker = {};
        for (const [column, list] of Object.entries(obj.columns)) {
          ranker[column] = [...list.querySelectorAll(".anno-rank-item")].map((n) => n.dataset.id);
        }
        out.push({ id: `${obj.ranker.name}-ranker`, from_name: obj.ranker.name, to_name: obj.name, type: "ranker",
          value: { ranker } });
      }
      return out;
    }

    // ---------------------------------------------------------------- Pairwise
    showPairwise() {
      for (const control of this.pairwises()) {
        const picked = this.root.querySelector(`input[name="pw-${CSS.escape(control.name)}"]:checked`);
        control.to_names.slice(0, 2).forEach((name, n) => {
          const wrap = this.root.querySelector(`[data-object="${CSS.escape(name)}"]`);
          if (!wrap) return;
          if (!wrap.dataset.pairwise) {
            wrap.dataset.pairwise = control.name;
            wrap.addEventListener("click", () => this.pickSide(control, n === 0 ? "left" : "right"));
          }
          wrap.classList.toggle("is-pair-selected", Boolean(picked && picked.value === (n === 0 ? "left" : "right")));
        });
        const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
        if (fieldset) fieldset.querySelectorAll(".anno-label").forEach((label) => {
          label.classList.toggle("is-checked", label.querySelector("input").checked);
        });
      }
    }

    pickSide(control, side) {
      if (!this.current && !this.editing) return;
      const input = this.root.querySelector(`input[name="pw-${CSS.escape(control.name)}"][value="${side}"]`);
      if (!input) return;
      input.checked = !input.checked; // the same side again unpicks, as in Label Studio
      this.showPairwise();
      this.changed();
    }

    // ---------------------------------------------------------------- keys
    onRankKey(e, target) {
      if (e.ctrlKey || e.metaKey || e.altKey) return false;
      const stop = () => { e.preventDefault(); e.stopPropagation(); return true; };
      const pairwise = this.pairwises()[0];
      if (pairwise && (e.key === "[" || e.key === "]") && !this.span) {
        this.pickSide(pairwise, e.key === "[" ? "left" : "right");
        return stop();
      }
      const node = target.closest && target.closest(".anno-rank-item");
      if (!node) return false;
      const obj = this.listObjects().find((o) => o.wrap.contains(node));
      if (!obj || !obj.ranker) return false;
      const list = node.parentElement;
      if (e.key === "ArrowUp" || e.key === "ArrowDown") {
        const other = e.key === "ArrowUp" ? node.previousElementSibling : node.nextElementSibling;
        if (other) { if (e.key === "ArrowUp") list.insertBefore(node, other); else list.insertBefore(other, node); this.rankMoved(node); }
        return stop();
      }
      if (e.key === "Home" || e.key === "End") {
        if (e.key === "Home") list.prepend(node); else list.append(node);
        this.rankMoved(node);
        return stop();
      }
      const hit = this.keyIndex.get(e.key.toLowerCase());
      let column = null;
      if (hit && hit.control === obj.ranker) column = hit.label;
      else if (e.key === "0") column = Object.keys(obj.columns)[0];
      if (column && obj.columns[column]) {
        obj.columns[column].append(node);
        this.rankMoved(node);
        this.notice(`Moved to ${column === ORIGINAL_ITEMS ? "the list" : column}.`);
        return stop();
      }
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") return stop(); // not "back" while on an item
      return false;
    }

    rankMoved(node) {
      node.focus();
      this.changed();
    }
  });
})();
