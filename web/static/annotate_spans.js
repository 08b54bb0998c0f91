// labelfab labeling page: keyboard span selection in text.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;

  A.part(class SpansPart {
    // ---------------------------------------------------------------- keyboard span selection
    // "Span mode" marks spans without a mouse: → (or an arrow key in the focused text) puts a
    // caret on a word; ←/→ move word by word, ↑/↓ line by line, Home/End to the first/last word,
    // Shift extends the selection; a label key (or 1–9, the nth label) makes the span through
    // the text annotator's API; Delete removes the spans under the caret; Esc leaves. Offsets
    // are the same UTF-16 offsets the mouse path gives the text annotator, so submits carry the
    // same code-point offsets.
    textObjects() {
      return Object.values(this.objects).filter((o) => o.kind === "text" && o.annotator);
    }

    wordsOf(text) {
      const words = [];
      if (window.Intl && Intl.Segmenter) {
        for (const seg of new Intl.Segmenter(undefined, { granularity: "word" }).segment(text)) {
          if (seg.isWordLike) words.push({ start: seg.index, end: seg.index + seg.segment.length });
        }
      } else {
        for (const m of text.matchAll(/[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*/gu)) {
          words.push({ start: m.index, end: m.index + m[0].length });
        }
      }
      return words;
    }

    enterSpanMode(obj) {
      if (!obj || this.span) return;
      if (!obj.words) {  // no word runs across a block's edge (annotate_hypertext.js)
        obj.words = this.wordsOf(obj.text).flatMap((w) => {
          const cuts = (obj.breaks || []).filter((b) => b > w.start && b < w.end);
          return [w.start, ...cuts].map((start, i) => ({ start, end: i < cuts.length ? cuts[i] : w.end }));
        });
      }
      if (!obj.words.length) { this.notice("This text has no words to select."); return; }
      const caret = Math.min(obj.spanCaret || 0, obj.words.length - 1);
      const layer = el("div", { class: "anno-span-caret-layer", "aria-hidden": "true" });
      obj.node.append(layer);
      this.span = { obj, anchor: caret, focus: caret, layer };
      if (obj.annotator.cancelSelected) obj.annotator.cancelSelected();
      const pane = obj.node.closest(".anno-text");
      this.root.classList.add("is-span-mode");
      pane.classList.add("is-span-mode");
      if (document.activeElement !== pane) pane.focus({ preventScroll: true });
      this.drawSpan(true);
    }

    leaveSpanMode(blur = true) {
      const span = this.span;
      if (!span) return;
      this.span = null;
      span.obj.spanCaret = span.focus;
      span.layer.remove();
      const pane = span.obj.node.closest(".anno-text");
      if (pane) pane.classList.remove("is-span-mode");
      this.root.classList.remove("is-span-mode");
      const status = span.obj.wrap.querySelector("[data-span-status]");
      if (status) { status.hidden = true; status.textContent = ""; }
      if (blur && pane && document.activeElement === pane) pane.blur();
    }

    spanBounds() {
      const { obj, anchor, focus } = this.span;
      const first = obj.words[Math.min(anchor, focus)], last = obj.words[Math.max(anchor, focus)];
      return { start: first.start, end: last.end };
    }

    // A DOM range over UTF-16 offsets of the object's text (its text nodes, in order).
    textRange(obj, start, end) {
      const walker = document.createTreeWalker(obj.node, NodeFilter.SHOW_TEXT);
      const range = document.createRange();
      let seen = 0, node, started = false;
      while ((node = walker.nextNode())) {
        const len = node.data.length;
        if (!started && start <= seen + len) { range.setStart(node, start - seen); started = true; }
        if (started && end <= seen + len) { range.setEnd(node, end - seen); return range; }
        seen += len;
      }
      return null;
    }

    wordRect(obj, index) {
      const w = obj.words[index];
      const range = w && this.textRange(obj, w.start, w.end);
      const rects = range ? range.getClientRects() : [];
      return rects.length ? rects[0] : null;
    }

    setSpanFocus(index, extend) {
      const span = this.span;
      span.focus = Math.max(0, Math.min(index, span.obj.words.length - 1));
      if (!extend) span.anchor = span.focus;
      this.drawSpan(true);
    }

    moveSpanLine(dir, extend) {
      const { obj, focus } = this.span;
      const cur = this.wordRect(obj, focus);
      if (!cur) return;
      const mid = (r) => (r.top + r.bottom) / 2;
      const cx = cur.left + cur.width / 2;
      let best = -1, line = null, bestDx = Infinity;
      for (let i = focus + dir; i >= 0 && i < obj.words.length; i += dir) {
        const r = this.wordRect(obj, i);
        if (!r) continue;
        if (line === null) {
          if (Math.abs(mid(r) - mid(cur)) < cur.height / 2) continue; // still on the caret's line
          line = mid(r);
        } else if (Math.abs(mid(r) - line) >= cur.height / 2) {
          break; // past the next line
        }
        const dx = Math.abs(r.left + r.width / 2 - cx);
        if (dx < bestDx) { bestDx = dx; best = i; }
      }
      if (best >= 0) this.setSpanFocus(best, extend);
    }

    drawSpan(scroll) {
      const span = this.span;
      if (!span) return;
      const { obj, layer } = span;
      const { start, end } = this.spanBounds();
      const range = this.textRange(obj, start, end);
      layer.replaceChildren();
      const origin = obj.node.getBoundingClientRect();
      for (const r of range ? range.getClientRects() : []) {
        if (!r.width) continue;
        const box = el("div", { class: "anno-span-caret" + (span.anchor === span.focus ? " is-word" : "") });
        box.style.left = `${r.left - origin.left - 2}px`;
        box.style.top = `${r.top - origin.top - 1}px`;
        box.style.width = `${r.width + 4}px`;
        box.style.height = `${r.height + 2}px`;
        layer.append(box);
      }
      if (scroll) {
        const pane = obj.node.closest(".anno-text");
        const focusRect = this.wordRect(obj, span.focus);
        if (pane && focusRect) {
          const view = pane.getBoundingClientRect();
          if (focusRect.top < view.top + 8) pane.scrollTop -= view.top + 8 - focusRect.top;
          else if (focusRect.bottom > view.bottom - 8) pane.scrollTop += focusRect.bottom - view.bottom + 8;
        }
      }
      const quote = obj.text.slice(start, end);
      const shown = quote.length > 80 ? `${quote.slice(0, 77)}…` : quote;
      const under = this.spansAt(obj, start, end).map((a) => (this.regionLabel(a) || {}).label || "no label");
      const status = obj.wrap.querySelector("[data-span-status]");
      if (status) {
        status.hidden = false;
        status.textContent = `Selecting with the keyboard: “${shown}”`
          + (under.length ? ` (marked ${under.join(", ")})` : "")
          + " · press a label key to mark it · Shift+←/→ extend · Delete unmark · Esc leave";
      }
    }

    // The text annotator's annotations of ``obj`` that overlap [start, end) (UTF-16 offsets).
    spansAt(obj, start, end) {
      return obj.annotator.getAnnotations().filter((a) => (a.target.selector || [])
        .some((s) => s.start < end && s.end > start));
    }

    // The control and label that a key marks a span with in span mode: a hotkey of one of the
    // object's Labels controls, else 1–9 for the nth label of its first Labels control.
    spanKeyLabel(obj, lower) {
      const controls = this.controlsFor(obj.name, this.regionType(obj));
      const hit = this.keyIndex.get(lower);
      if (hit && controls.includes(hit.control)) return hit;
      if (/^[1-9]$/.test(lower) && controls.length) {
        const label = controls[0].labels[Number(lower) - 1];
        if (label !== undefined) return { control: controls[0], label };
      }
      return null;
    }

    markSpan(control, label) {
      const { obj } = this.span;
      const { start, end } = this.spanBounds();
      const same = obj.annotator.getAnnotations().find((a) => {
        const sel = a.target.selector || [];
        return sel.length === 1 && sel[0].start === start && sel[0].end === end;
      });
      if (same) {
        this.tagRegion(obj, same, control.name, label);
      } else {
        const id = uuid();
        obj.annotator.addAnnotation({
          id,
          bodies: [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }],
          target: { annotation: id, selector: [{ start, end, quote: obj.text.slice(start, end) }] },
        });
      }
      // the label stays picked for the next span, as with the mouse
      const fieldset = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
      const input = fieldset && [...fieldset.querySelectorAll("input")].find((i) => i.value === label);
      if (input) input.checked = true;
      this.renderRegions();
      this.changed();
      this.notice(`Marked “${obj.text.slice(start, end).slice(0, 60)}” as ${label}.`);
      const after = Math.max(this.span.anchor, this.span.focus) + 1;
      this.setSpanFocus(after < obj.words.length ? after : Math.max(this.span.anchor, this.span.focus), false);
    }

    unmarkSpan() {
      const { obj } = this.span;
      const { start, end } = this.spanBounds();
      const hits = this.spansAt(obj, start, end);
      if (!hits.length) { this.notice("No span under the caret to remove."); return; }
      for (const a of hits) obj.annotator.removeAnnotation(a.id);
      this.renderRegions();
      this.changed();
      this.notice(`Removed ${hits.length} span${hits.length > 1 ? "s" : ""}.`);
      this.drawSpan(false);
    }

    // Keys while in span mode; true when the key was used.
    onSpanKey(e, lower) {
      const key = e.key;
      const extend = e.shiftKey;
      const span = this.span;
      const stop = () => { e.preventDefault(); e.stopPropagation(); return true; };
      if (key === "ArrowRight" || key === "ArrowLeft") {
        this.setSpanFocus(span.focus + (key === "ArrowRight" ? 1 : -1), extend);
        return stop();
      }
      if (key === "ArrowDown" || key === "ArrowUp") { this.moveSpanLine(key === "ArrowDown" ? 1 : -1, extend); return stop(); }
      if (key === "Home" || key === "End") { this.setSpanFocus(key === "Home" ? 0 : span.obj.words.length - 1, extend); return stop(); }
      if (key === "Escape") { this.leaveSpanMode(); return stop(); }
      if (key === "Delete" || key === "Backspace") { this.unmarkSpan(); return stop(); }
      if (key === "Enter") { this.leaveSpanMode(); return false; } // submits as usual
      if (e.ctrlKey || e.metaKey || e.altKey) return false;
      const hit = this.spanKeyLabel(span.obj, lower);
      if (hit) { this.markSpan(hit.control, hit.label); return stop(); }
      return false;
    }
  });
})();
