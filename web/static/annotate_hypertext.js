// labelfab labeling page: <HyperText> (HTML) and <HyperTextLabels> spans in it.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
//
// The HTML comes sanitised by the server (nh3, labeling/schema/hypertext.py); DOMPurify cleans it
// again here, with no style, no forms and no URL that loads from elsewhere, before it joins the
// page. Spans are marked with the text annotator (mouse) or the keyboard span mode of
// annotate_spans.js, as in text; a result carries Label Studio's XPath offsets (xpath-range's
// "/p[1]/text()[1]" from the HTML's root), the span's globalOffsets in the text of the HTML's
// text nodes, and its text.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;

  const PURIFY = {
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math"],
    FORBID_ATTR: ["style", "srcset"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|\/(?!\/)|#)/i,
  };

  // Where the HTML's text crosses from one block (a heading, a paragraph, a cell) or line (<br>)
  // to the next: offsets in its textContent. Minified HTML has no space there ("<h2>Notice</h2>
  // <p>Ada"), so the words of the text alone would join "NoticeAda" into one.
  function blockBreaks(root) {
    const breaks = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    let offset = 0, block, broken = false;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === Node.ELEMENT_NODE) { if (n.tagName === "BR") broken = true; continue; }
      let b = n.parentElement;
      while (b && b !== root && getComputedStyle(b).display.startsWith("inline")) b = b.parentElement;
      if (offset > 0 && (broken || (block !== undefined && b !== block))) breaks.push(offset);
      block = b;
      broken = false;
      offset += n.data.length;
    }
    return breaks;
  }

  // Only images of this server load (the server already dropped the others).
  function localImages(root) {
    for (const img of root.querySelectorAll("img")) {
      const src = img.getAttribute("src") || "";
      if (!src.startsWith("/") || src.startsWith("//")) img.removeAttribute("src");
    }
    for (const a of root.querySelectorAll("a[href]")) { a.setAttribute("rel", "noopener noreferrer"); a.setAttribute("target", "_blank"); }
  }

  A.part(class HyperTextPart {
    // Sanitised HTML as a fragment of nodes (never markup put in the page as a string).
    safeFragment(html) {
      if (!window.DOMPurify) return document.createTextNode(String(html || ""));
      const fragment = window.DOMPurify.sanitize(String(html || ""), Object.assign({ RETURN_DOM_FRAGMENT: true }, PURIFY));
      localImages(fragment);
      return fragment;
    }

    // An object a part shows: true when it did (HyperText here, List in annotate_rank.js).
    renderObject(obj, value) {
      if (obj.tag === "List") return this.renderList(obj, value);
      if (obj.tag !== "HyperText") return false;
      const holder = obj.wrap.querySelector(".anno-html");
      const body = el("div", { class: "anno-text-body anno-html-body" });
      body.append(this.safeFragment(value));
      holder.replaceChildren(body);
      holder.scrollTop = 0;
      obj.node = body;
      obj.text = body.textContent;
      obj.resultText = obj.text;
      obj.breaks = blockBreaks(body);
      if (this.controlsFor(obj.name, "hypertextlabels").length) this.makeTextAnnotator(obj);
      return true;
    }

    // The HTML's text nodes in order, with where each starts in the text (UTF-16 offsets).
    htmlTextNodes(obj) {
      const walker = document.createTreeWalker(obj.node, NodeFilter.SHOW_TEXT, {
        acceptNode: (n) => (n.parentElement && n.parentElement.closest(".anno-span-caret-layer")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
      });
      const nodes = [];
      let seen = 0, node;
      while ((node = walker.nextNode())) { nodes.push({ node, start: seen }); seen += node.data.length; }
      return nodes;
    }

    // xpath-range's XPath of a text node from the HTML's root: /p[2]/b[1]/text()[1].
    xpathOf(obj, node) {
      const steps = [];
      let current = node;
      while (current && current !== obj.node) {
        const parent = current.parentNode;
        if (current.nodeType === Node.TEXT_NODE) {
          let n = 0;
          for (const c of parent.childNodes) { if (c.nodeType === Node.TEXT_NODE) n += 1; if (c === current) break; }
          steps.unshift(`text()[${n}]`);
        } else {
          const tag = current.nodeName.toLowerCase();
          let n = 0;
          for (const c of parent.children) { if (c.nodeName.toLowerCase() === tag) n += 1; if (c === current) break; }
          steps.unshift(`${tag}[${n}]`);
        }
        current = parent;
      }
      return "/" + steps.join("/");
    }

    // The text node and offset at a global offset (the start: the node it starts in; the end:
    // the node it ends in).
    nodeAt(nodes, offset, isEnd) {
      for (const n of nodes) {
        const len = n.node.data.length;
        if (isEnd ? offset > n.start && offset <= n.start + len : offset >= n.start && offset < n.start + len) {
          return { node: n.node, offset: offset - n.start };
        }
      }
      return null;
    }

    hypertextItem(obj, annotation) {
      const selectors = annotation.target.selector;
      if (!selectors || !selectors.length) return null;
      const start = Math.min(...selectors.map((s) => s.start));
      const end = Math.max(...selectors.map((s) => s.end));
      const nodes = this.htmlTextNodes(obj);
      const first = this.nodeAt(nodes, start, false), last = this.nodeAt(nodes, end, true);
      if (!first || !last) return null;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "hypertextlabels", tag);
      return {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "hypertextlabels",
        value: {
          start: this.xpathOf(obj, first.node), end: this.xpathOf(obj, last.node),
          startOffset: first.offset, endOffset: last.offset,
          globalOffsets: { start, end },
          text: obj.text.slice(start, end),
          hypertextlabels: tag ? [tag.label] : [],
        },
      };
    }

    // A stored span back on the page: by its XPaths, else by its globalOffsets.
    hypertextAnnotation(obj, control, item) {
      const v = item.value || {};
      const nodes = this.htmlTextNodes(obj);
      const find = (path) => nodes.find((n) => this.xpathOf(obj, n.node) === path);
      const a = find(v.start), b = find(v.end);
      let start, end;
      if (a && b && Number.isInteger(v.startOffset) && Number.isInteger(v.endOffset)) {
        start = a.start + v.startOffset;
        end = b.start + v.endOffset;
      } else if (v.globalOffsets && Number.isInteger(v.globalOffsets.start) && Number.isInteger(v.globalOffsets.end)) {
        ({ start, end } = v.globalOffsets);
      } else {
        return null;
      }
      if (start < 0 || end > obj.text.length || start >= end) return null;
      const id = item.id || uuid();
      const label = (v.hypertextlabels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: { annotation: id, selector: [{ start, end, quote: obj.text.slice(start, end) }] },
      };
    }
  });
})();
