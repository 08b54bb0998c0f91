// labelfab labeling page: dialogues (<Paragraphs>) and tables (<Table>), and ParagraphLabels spans.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
//
// A dialogue is one text for the span machinery (annotate_spans.js and Recogito's text
// annotator, as for <Text>): the paragraphs' texts joined with "\n", each paragraph a block
// whose speaker is drawn by CSS (::before, not part of the text, so offsets count only the
// paragraphs). A span maps back to Label Studio's ParagraphLabels value: start and end
// paragraph indexes as strings, startOffset and endOffset inside those paragraphs (code points).
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el, utf16ToCodePoint, codePointToUtf16 } = A;

  const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));
  const clock = (t) => {
    const m = Math.floor(t / 60);
    return `${m}:${(t - m * 60).toFixed(1).padStart(4, "0")}`;
  };

  A.part(class DialoguePart {
    renderDialogue(obj, value) {
      if (obj.tag === "Table") { this.renderTable(obj, value); return; }
      const nameKey = obj.wrap.dataset.nameKey || "author", textKey = obj.wrap.dataset.textKey || "text";
      const items = Array.isArray(value) ? value : [];
      const holder = obj.wrap.querySelector(".anno-text");
      const body = el("div", { class: "anno-text-body anno-dialogue" });
      const paragraphs = [];
      let at = 0;
      items.forEach((item, n) => {
        const text = item && typeof item[textKey] === "string" ? item[textKey] : "";
        const author = item && item[nameKey] !== undefined && item[nameKey] !== null ? show(item[nameKey]) : "";
        if (n) { body.append(document.createTextNode("\n")); at += 1; }
        const para = el("div", { class: "anno-para", "data-author": author, "data-para": String(n) }, text);
        para.style.setProperty("--speaker", this.speakerColor(author));
        body.append(para);
        paragraphs.push({ start: at, end: at + text.length, text });
        at += text.length;
      });
      holder.replaceChildren(body);
      holder.scrollTop = 0;
      obj.paragraphs = paragraphs;
      obj.text = paragraphs.map((p) => p.text).join("\n");
      obj.resultText = obj.text;
      obj.node = body;
      if (this.controlsFor(obj.name, "paragraphlabels").length) {
        this.makeTextAnnotator(obj);
        obj.spanType = "paragraphlabels";
      }
      const spec = (this.schema.objects || {})[obj.name] || {};
      if (spec.audio_url) this.renderParagraphAudio(obj, items, spec.audio_url);
    }

    // ---------------------------------------------------------------- audioUrl: paragraphs that play
    // As Label Studio's Paragraphs (tags/object/Paragraphs/model.js, Phrases.jsx): the dialogue
    // has its own <audio> (hidden); a paragraph with a `start` gets a play button that plays the
    // audio from there (again: pause; a paused paragraph's button resumes it), and the paragraph
    // the audio is in is highlighted, its end `end`, else `start + duration`, else the audio's end.
    // With sync="audio" that element is a member of the <Audio>'s group (annotate_sync.js): the
    // <Audio> sounds and shows the play head, the dialogue follows it.
    renderParagraphAudio(obj, items, audioUrl) {
      const src = audioUrl.startsWith("$") ? (this.shownData || {})[audioUrl.slice(1)] : audioUrl;
      if (typeof src !== "string" || !src) return;
      const media = el("audio", { preload: "metadata", "data-paragraph-audio": obj.name });
      obj.wrap.append(media);
      obj.media = media;
      obj.playingId = -1;
      const seconds = (v) => (v === undefined || v === null || v === "" || !Number.isFinite(Number(v)) ? null : Number(v));
      obj.times = items.map((item) => {
        const start = item ? seconds(item.start) : null;
        return start === null ? null : { start, end: seconds(item.end), duration: seconds(item.duration) };
      });
      obj.buttons = [];
      obj.times.forEach((t, n) => {
        if (!t) return;
        const button = el("button", { type: "button", class: "anno-para-play", "data-media-control": "", "data-play-paragraph": String(n),
          "data-time": clock(t.start), "aria-label": `Play paragraph ${n + 1} from ${clock(t.start)}` });
        // no text of its own (a CSS label): the dialogue's text and its span offsets stay the paragraphs'
        // a click leaves the focus where it was (Space goes on playing the audio, not this button)
        button.addEventListener("pointerdown", (e) => e.stopPropagation());
        button.addEventListener("mousedown", (e) => e.preventDefault());
        button.addEventListener("click", (e) => { e.stopPropagation(); this.playParagraph(obj, n); });
        obj.node.querySelector(`[data-para="${n}"]`).prepend(button);
        obj.buttons[n] = button;
      });
      const track = () => this.trackParagraph(obj);
      for (const event of ["timeupdate", "seeked", "play", "pause", "loadedmetadata"]) media.addEventListener(event, track);
      this.syncJoin(obj, "paragraphs", media, track); // annotate_sync.js
      media.src = src;
    }

    // A paragraph's seconds on the audio (Label Studio's regionsStartEnd), null without a start.
    paragraphSpan(obj, n) {
      const t = obj.times[n];
      if (!t) return null;
      const length = Number.isFinite(obj.media.duration) ? obj.media.duration : Infinity;
      const start = Math.min(Math.max(t.start, 0), length);
      const end = t.duration ? start + t.duration : (t.end !== null ? t.end : length);
      return { start, end: Math.min(Math.max(end, start), length) };
    }

    playParagraph(obj, n) {
      const span = this.paragraphSpan(obj, n);
      if (!span) return;
      const media = obj.media;
      if (!media.paused && obj.playingId === n) { media.pause(); return; }
      if (n !== obj.playingId) media.currentTime = span.start;
      obj.playingId = n;
      media.play().catch(() => {});
      this.trackParagraph(obj);
    }

    // Highlights the paragraph the audio is in (Label Studio's trackPlayingId), every frame while it plays.
    trackParagraph(obj) {
      const media = obj.media;
      if (!media || !media.isConnected) return;
      const now = media.currentTime;
      let playing = -1;
      if (!(now >= media.duration)) {
        playing = obj.times.findIndex((t, n) => {
          const span = t && this.paragraphSpan(obj, n);
          return span && now >= span.start && now < span.end;
        });
      }
      obj.playingId = playing;
      obj.node.querySelectorAll(".anno-para.is-playing").forEach((p) => {
        if (Number(p.dataset.para) !== playing) { p.classList.remove("is-playing"); p.removeAttribute("aria-current"); }
      });
      const para = playing >= 0 && obj.node.querySelector(`[data-para="${playing}"]`);
      if (para) { para.classList.add("is-playing"); para.setAttribute("aria-current", "true"); }
      obj.buttons.forEach((b, n) => {
        if (!b) return;
        const on = n === playing && !media.paused;
        b.classList.toggle("is-on", on);
        b.setAttribute("aria-label", `${on ? "Pause" : "Play"} paragraph ${n + 1} from ${b.dataset.time}`);
      });
      if (!media.paused && !obj.tracking) {
        obj.tracking = true;
        requestAnimationFrame(() => { obj.tracking = false; this.trackParagraph(obj); });
      }
    }

    speakerColor(author) {
      let h = 0;
      for (const ch of author) h = (h * 31 + ch.codePointAt(0)) % 360;
      return `hsl(${h} 60% 40%)`;
    }

    renderTable(obj, value) {
      const tbody = obj.wrap.querySelector("tbody");
      const rows = [];
      if (Array.isArray(value)) {
        const keys = [...new Set(value.flatMap((row) => (row && typeof row === "object" ? Object.keys(row) : [])))];
        const head = el("tr");
        for (const k of keys) head.append(el("th", { scope: "col" }, k));
        rows.push(head);
        for (const row of value) {
          const tr = el("tr");
          for (const k of keys) tr.append(el("td", {}, row && row[k] !== undefined ? show(row[k]) : ""));
          rows.push(tr);
        }
      } else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
          const tr = el("tr");
          tr.append(el("th", { scope: "row" }, k), el("td", {}, show(v)));
          rows.push(tr);
        }
      }
      tbody.replaceChildren(...rows);
    }

    // The paragraph holding UTF-16 offset `at` of the joined text (an end offset: the one it ends).
    paragraphAt(obj, at, isEnd) {
      const ps = obj.paragraphs;
      for (let n = 0; n < ps.length; n += 1) {
        if (isEnd ? at <= ps[n].end : at < ps[n].end) return n;
      }
      return ps.length - 1;
    }

    paragraphItem(obj, annotation, control, tag) {
      const selectors = annotation.target.selector;
      if (!selectors || !selectors.length || !obj.paragraphs.length) return null;
      const start16 = Math.min(...selectors.map((s) => s.start));
      const end16 = Math.max(...selectors.map((s) => s.end));
      const first = this.paragraphAt(obj, start16, false), last = this.paragraphAt(obj, end16, true);
      const p0 = obj.paragraphs[first], p1 = obj.paragraphs[last];
      return {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "paragraphlabels",
        value: {
          start: String(first),
          end: String(last),
          startOffset: utf16ToCodePoint(p0.text, Math.max(start16 - p0.start, 0)),
          endOffset: utf16ToCodePoint(p1.text, Math.max(end16 - p1.start, 0)),
          text: obj.text.slice(start16, end16),
          paragraphlabels: tag ? [tag.label] : [],
        },
      };
    }

    paragraphAnnotation(obj, control, item) {
      const v = item.value;
      const first = Number(v.start), last = Number(v.end);
      const p0 = obj.paragraphs && obj.paragraphs[first], p1 = obj.paragraphs && obj.paragraphs[last];
      if (!p0 || !p1 || !Number.isInteger(v.startOffset) || !Number.isInteger(v.endOffset)) return null;
      const start = p0.start + codePointToUtf16(p0.text, v.startOffset);
      const end = p1.start + codePointToUtf16(p1.text, v.endOffset);
      if (start >= end || end > obj.text.length) return null;
      const id = item.id || uuid();
      const label = (v.paragraphlabels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: { annotation: id, selector: [{ start, end, quote: obj.text.slice(start, end) }] },
      };
    }
  });
})();
