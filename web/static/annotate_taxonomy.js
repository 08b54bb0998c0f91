// labelfab labeling page: <Taxonomy>, a tree of nested choices, picked by path.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
//
// The tree comes from the control's `taxonomy` (every node's path, depth first). Keyboard on the
// tree (role "tree"): ↑ ↓ move, → opens a node (or goes to its first child), ← closes it (or goes
// to its parent), Space picks or unpicks, typing a letter starts the search box (↓ from it goes
// back to the tree, Enter picks the first match). leafsOnly and maxUsages are honoured; the
// result is Label Studio's {"taxonomy": [[root, ..., node], ...]}.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el } = A;
  const K = (path) => JSON.stringify(path);

  A.part(class TaxonomyPart {
    taxonomyState(control) {
      this.tax = this.tax || {};
      let st = this.tax[control.name];
      if (st) return st;
      const box = this.root.querySelector(`[data-taxonomy="${CSS.escape(control.name)}"]`);
      const kids = new Map([[K([]), []]]);
      for (const path of control.taxonomy || []) {
        kids.set(K(path), []);
        const parent = kids.get(K(path.slice(0, -1)));
        if (parent) parent.push(path);
      }
      st = { control, box, kids, picked: [], open: new Set(), focus: null, query: "" };
      this.tax[control.name] = st;
      const search = box.querySelector("[data-taxonomy-search]");
      search.addEventListener("input", () => { st.query = search.value.trim().toLowerCase(); this.drawTaxonomy(st); });
      search.addEventListener("keydown", (e) => {
        if (e.key === "ArrowDown") {
          e.preventDefault();
          const first = this.visibleNodes(st)[0];
          if (first) { st.focus = K(first); this.drawTaxonomy(st); box.querySelector("[data-taxonomy-tree]").focus(); }
        } else if (e.key === "Enter") {
          const match = this.visibleNodes(st).find((p) => this.pickable(st, p) && this.matches(st, p));
          e.preventDefault();
          e.stopImmediatePropagation();
          if (match) { this.togglePath(st, match); search.value = ""; st.query = ""; this.drawTaxonomy(st); }
        }
      });
      return st;
    }

    taxonomyControls() {
      return this.controls.filter((c) => c.type === "taxonomy");
    }

    resetTaxonomies() {
      for (const control of this.taxonomyControls()) {
        const st = this.taxonomyState(control);
        st.picked = [];
        st.open.clear();
        this.drawTaxonomy(st);
      }
    }

    setTaxonomy(control, paths) {
      const st = this.taxonomyState(control);
      st.picked = (Array.isArray(paths) ? paths : []).filter((p) => st.kids.has(K(p))).map((p) => p.slice());
      for (const p of st.picked) for (let n = 1; n < p.length; n += 1) st.open.add(K(p.slice(0, n)));
      this.drawTaxonomy(st);
    }

    taxonomyPicked(control) {
      return this.taxonomyState(control).picked.map((p) => p.slice());
    }

    matches(st, path) {
      return !st.query || path[path.length - 1].toLowerCase().includes(st.query);
    }

    // A node is shown when the search is empty and its ancestors are open, or when it or a
    // descendant matches the search (its ancestors are then shown open).
    visibleNodes(st) {
      const out = [];
      const walk = (parent) => {
        for (const path of st.kids.get(K(parent)) || []) {
          if (st.query) {
            if (!this.subtreeMatches(st, path)) continue;
            out.push(path);
            walk(path);
          } else {
            out.push(path);
            if (st.open.has(K(path))) walk(path);
          }
        }
      };
      walk([]);
      return out;
    }

    subtreeMatches(st, path) {
      return this.matches(st, path) || (st.kids.get(K(path)) || []).some((p) => this.subtreeMatches(st, p));
    }

    pickable(st, path) {
      return !(st.control.leafs_only && (st.kids.get(K(path)) || []).length);
    }

    togglePath(st, path) {
      const key = K(path);
      const at = st.picked.findIndex((p) => K(p) === key);
      if (at >= 0) {
        st.picked.splice(at, 1);
      } else if (!this.pickable(st, path)) {
        this.notice("Only the leaves of this taxonomy can be picked.");
        return;
      } else if (st.control.max_usages === 1) {
        st.picked = [path.slice()];
      } else if (st.control.max_usages && st.picked.length >= st.control.max_usages) {
        this.notice(`At most ${st.control.max_usages} choices can be picked here.`);
        return;
      } else {
        st.picked.push(path.slice());
      }
      this.drawTaxonomy(st);
      this.changed();
    }

    pathText(st, path) {
      return st.control.show_full_path ? path.join(st.control.path_separator || " / ") : path[path.length - 1];
    }

    drawTaxonomy(st) {
      const tree = st.box.querySelector("[data-taxonomy-tree]");
      const nodes = this.visibleNodes(st);
      if (!nodes.some((p) => K(p) === st.focus)) st.focus = nodes.length ? K(nodes[0]) : null;
      const picked = new Set(st.picked.map(K));
      const items = nodes.map((path) => {
        const key = K(path);
        const hasKids = (st.kids.get(key) || []).length > 0;
        const li = el("li", { role: "treeitem", "aria-level": String(path.length), "data-path": key,
          "aria-selected": String(picked.has(key)), class: "anno-taxonomy-node" + (key === st.focus ? " is-focused" : "") });
        if (hasKids) li.setAttribute("aria-expanded", String(Boolean(st.query) || st.open.has(key)));
        li.style.paddingLeft = `${(path.length - 1) * 1.2}em`;
        const twist = el("span", { class: "anno-taxonomy-twist", "aria-hidden": "true" },
          hasKids ? (li.getAttribute("aria-expanded") === "true" ? "▾" : "▸") : "·");
        const box = el("input", { type: "checkbox", tabindex: "-1", "aria-hidden": "true" });
        box.checked = picked.has(key);
        box.disabled = !this.pickable(st, path);
        const name = el("span", { class: "anno-taxonomy-name" }, path[path.length - 1]);
        li.append(twist, box, name);
        twist.addEventListener("click", () => { if (st.open.has(key)) st.open.delete(key); else st.open.add(key); this.drawTaxonomy(st); });
        name.addEventListener("click", () => { st.focus = key; this.togglePath(st, path); });
        box.addEventListener("click", (e) => { e.preventDefault(); st.focus = key; this.togglePath(st, path); });
        return li;
      });
      tree.replaceChildren(...items);
      if (st.focus) tree.setAttribute("aria-activedescendant", ""); // focus is shown by is-focused
      const list = st.box.querySelector("[data-taxonomy-picked]");
      list.replaceChildren(...st.picked.map((path) => {
        const li = el("li", { class: "anno-taxonomy-chip" }, this.pathText(st, path) + " ");
        const remove = el("button", { type: "button", class: "link", "aria-label": `Unpick ${path.join(" / ")}` }, "✕");
        remove.addEventListener("click", () => this.togglePath(st, path));
        li.append(remove);
        return li;
      }));
    }

    onTaxonomyKey(e, target) {
      if (e.ctrlKey || e.metaKey || e.altKey) return false;
      const box = target.closest("[data-taxonomy]");
      const control = this.controls.find((c) => c.name === box.dataset.taxonomy);
      if (!control) return false;
      const st = this.taxonomyState(control);
      const nodes = this.visibleNodes(st);
      const at = nodes.findIndex((p) => K(p) === st.focus);
      const path = at >= 0 ? nodes[at] : null;
      const move = (n) => { if (nodes[n]) { st.focus = K(nodes[n]); this.drawTaxonomy(st); } };
      const key = e.key;
      if (key === "ArrowDown") move(Math.min(at + 1, nodes.length - 1));
      else if (key === "ArrowUp") move(Math.max(at - 1, 0));
      else if (key === "Home") move(0);
      else if (key === "End") move(nodes.length - 1);
      else if (key === "ArrowRight" && path) {
        const kids = st.kids.get(K(path)) || [];
        if (kids.length && !st.open.has(K(path)) && !st.query) { st.open.add(K(path)); this.drawTaxonomy(st); }
        else if (kids.length) move(at + 1);
      } else if (key === "ArrowLeft" && path) {
        if (st.open.has(K(path)) && !st.query) { st.open.delete(K(path)); this.drawTaxonomy(st); }
        else if (path.length > 1) move(nodes.findIndex((p) => K(p) === K(path.slice(0, -1))));
      } else if (key === " " && path) this.togglePath(st, path);
      else if (key.length === 1 && /\S/.test(key) && key !== "?") {
        const search = st.box.querySelector("[data-taxonomy-search]");
        search.focus();
        search.value += key;
        search.dispatchEvent(new Event("input"));
      } else return false;
      e.preventDefault();
      e.stopPropagation();
      return true;
    }
  });
})();
