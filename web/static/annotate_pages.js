// labelfab labeling page: multi-page images (<Image valueList="$pages">, Label Studio's
// multi-page documents). One page is shown at a time with its boxes; PageDown / PageUp (or the
// page bar's buttons) move between pages; boxes carry their page as `item_index`, and the boxes of
// the other pages are kept aside until their page is shown. Methods of annotate.js's Workspace
// class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { el } = A;

  A.part(class PagesPart {
    renderPages(obj, pages) {
      obj.pages = pages;
      obj.page = 0;
      obj.offPage = [];
      let bar = obj.wrap.querySelector("[data-pages]");
      if (!bar) {
        bar = el("div", { class: "anno-page-bar", "data-pages": "", role: "toolbar", "aria-label": "Pages" });
        const prev = el("button", { type: "button", "data-page": "-1", "aria-keyshortcuts": "PageUp", "aria-label": "Previous page" }, "‹ Page");
        const next = el("button", { type: "button", "data-page": "1", "aria-keyshortcuts": "PageDown", "aria-label": "Next page" }, "Page ›");
        const where = el("span", { class: "muted", "data-page-number": "", "aria-live": "polite" });
        bar.append(prev, where, next, el("span", { class: "muted anno-page-keys" }, " PageUp / PageDown"));
        obj.wrap.insertBefore(bar, obj.wrap.querySelector(".anno-image-view"));
        for (const button of bar.querySelectorAll("[data-page]")) {
          this.listen(button, "click", () => this.turnPage(obj.name, Number(button.dataset.page)));
        }
      }
      this.showPageNumber(obj);
      return this.renderImage(obj, pages[0]);
    }

    showPageNumber(obj) {
      const where = obj.wrap.querySelector("[data-page-number]");
      if (where) where.textContent = `${obj.page + 1} of ${obj.pages.length}`;
    }

    pageObject() { return Object.values(this.objects).find((o) => o.pages); }

    // Boxes of the pages not shown, as result items (their item_index says the page).
    offPageItems() {
      return Object.values(this.objects).flatMap((o) => (o.pages ? o.offPage : []));
    }

    // Keeps aside the items of other pages; returns the ones of the pages shown.
    splitPages(result) {
      const shown = [];
      for (const obj of Object.values(this.objects)) if (obj.pages) obj.offPage = [];
      for (const item of result || []) {
        const obj = item && this.objects[item.to_name];
        if (obj && obj.pages && Number.isInteger(item.item_index) && item.item_index !== obj.page) obj.offPage.push(item);
        else shown.push(item);
      }
      return shown;
    }

    async turnPage(objectName, step) {
      const obj = this.objects[objectName];
      if (!obj || !obj.pages) return;
      const page = obj.page + step;
      if (page < 0 || page >= obj.pages.length) return;
      this.flushRegions();
      const result = this.getResult();
      if (obj.annotator) { obj.annotator.destroy(); obj.annotator = null; }
      obj.page = page;
      this.showPageNumber(obj);
      await this.renderImage(obj, obj.pages[page]);
      this.setResult(result);
    }

    onPageKey(e, key) {
      if (key !== "PageDown" && key !== "PageUp") return false;
      const obj = this.pageObject();
      if (!obj) return false;
      e.preventDefault();
      this.turnPage(obj.name, key === "PageDown" ? 1 : -1);
      return true;
    }
  });
})();
