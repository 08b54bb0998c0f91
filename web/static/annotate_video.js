// labelfab labeling page: <Video> with <TimelineLabels> (frame spans) and <VideoRectangle> tracks.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
//
// The browser's own <video> plays the file. Frames count from 1, as in Label Studio: frame n is
// shown at time n / frameRate. Results are Label Studio's (labeling/schema/video.py):
//   timelinelabels: {ranges: [{start, end}], timelinelabels: [label]}  (frames, inclusive)
//   videorectangle: {framesCount, duration, sequence: [{frame, enabled, rotation, x, y, width, height,
//                   time}], labels}  keyframes; between two the box is interpolated as Label Studio's
//                   editor does (VideoRectangleRegion.getShape, utils/props.interpolateProp).
// Keys (onVideoKey): Space play/pause; , . or Alt+←/→ a frame; < > or Shift+Alt+←/→ ten frames;
// a TimelineLabels label's key starts a span at the frame and ends it at the frame the same key is
// pressed again (Esc drops it); K adds or removes a keyframe of the selected track; H hides the
// selected track from its last keyframe on (Label Studio's lifespan toggle); Tab selects the next
// track or span; Delete deletes it. The mouse draws a new track's box, moves (or, by its corner,
// resizes) a track's box on the current frame: a keyframe there.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;
  const BOX = ["x", "y", "width", "height", "rotation"];
  const MIN_SIZE = 0.5; // percent of the frame: a smaller drag is a click

  // Label Studio's normalizeAngle and interpolateProp (web/libs/editor/src/utils/props.ts).
  function normalizeAngle(angle) {
    let a = angle;
    while (a > 0) a -= 360;
    return ((a - 180) % 360) + 180;
  }
  function interpolate(a, b, frame, prop) {
    const r = (frame - a.frame) / (b.frame - a.frame);
    if (prop === "rotation") {
      const d = normalizeAngle((b.rotation || 0) - (a.rotation || 0));
      return normalizeAngle((a.rotation || 0) + d * r);
    }
    return a[prop] + (b[prop] - a[prop]) * r;
  }
  const only = (k) => Object.fromEntries(BOX.map((p) => [p, k[p] || 0]));

  // The box a track shows on a frame, null where it shows none (labeling/schema/video.py box_at).
  function boxAt(sequence, frame) {
    let prev = null, next = null;
    for (const k of sequence) {
      if (k.frame === frame) return only(k);
      if (k.frame > frame) { next = k; break; }
      prev = k;
    }
    if (!prev || prev.enabled === false) return null;
    if (!next) return only(prev);
    return Object.fromEntries(BOX.map((p) => [p, interpolate(prev, next, frame, p)]));
  }
  // Label Studio's closestKeypoint: the last keyframe at or before the frame (else the first after).
  function closestKeypoint(sequence, frame, onlyPrevious) {
    const before = sequence.filter((k) => k.frame <= frame);
    let result = before[before.length - 1];
    if (!result && !onlyPrevious) result = sequence.find((k) => k.frame >= frame);
    return result || null;
  }
  // Label Studio's VideoRectangleRegion.updateShape: the box on a frame becomes a keyframe there.
  function updateShape(sequence, data, frame) {
    const kp = closestKeypoint(sequence, frame);
    const index = sequence.findIndex((k) => k.frame >= frame);
    if (index < 0) return [...sequence, Object.assign({}, data, { frame, enabled: true })];
    const keypoint = Object.assign({}, sequence[index], data, { enabled: kp ? kp.enabled !== false : true, frame });
    return [...sequence.slice(0, index), keypoint, ...sequence.slice(index + (sequence[index].frame === frame ? 1 : 0))];
  }
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  const round = (v) => Math.round(v * 1e4) / 1e4;

  A.renderers.Video = "renderVideo";

  A.part(class VideoPart {
    videoObjects() { return Object.values(this.objects).filter((o) => o.kind === "video"); }

    // ---------------------------------------------------------------- the player
    renderVideo(obj, src) {
      obj.kind = "video";
      const spec = this.schema.objects[obj.name] || {};
      obj.fps = this.videoFrameRate(spec.frame_rate);
      obj.frame = 1;
      obj.length = 1;
      obj.duration = 0;
      obj.tracks = []; // {id, control, labels, sequence}
      obj.spans = []; // {id, control, label, start, end}
      obj.selected = null; // id of a track or span
      obj.pending = null; // a timeline span being marked: {control, label, start}
      obj.trackControl = this.controlsFor(obj.name, "videorectangle")[0] || null;
      obj.labelControl = this.controls.find((c) => c.type === "labels" && c.to_name === obj.name) || null;
      const holder = obj.wrap.querySelector(".anno-video");
      const stage = el("div", { class: "anno-video-stage" });
      const video = el("video", { class: "anno-video-player", preload: "auto", playsinline: "", "aria-label": "Video" });
      video.muted = true;
      const overlay = el("div", { class: "anno-video-overlay", "data-video-overlay": obj.name });
      stage.append(video, overlay);
      const bar = el("div", { class: "anno-video-bar" });
      const play = el("button", { type: "button", class: "anno-video-play", "data-media-control": "", "aria-keyshortcuts": "Space" }, "Play");
      const back = el("button", { type: "button", "data-media-control": "", "aria-label": "A frame back", "aria-keyshortcuts": "," }, "‹");
      const fwd = el("button", { type: "button", "data-media-control": "", "aria-label": "A frame forward", "aria-keyshortcuts": "." }, "›");
      const status = el("span", { class: "anno-video-frame", "data-video-frame": obj.name, role: "status" });
      const pending = el("span", { class: "anno-video-pending", role: "status", "aria-live": "polite" });
      bar.append(back, play, fwd, status, pending);
      const timeline = el("div", { class: "anno-video-timeline", "data-video-timeline": obj.name, "aria-label": "Timeline" });
      const list = el("ul", { class: "anno-regions anno-video-regions", "data-video-regions": obj.name, "aria-label": "Tracks and spans" });
      holder.replaceChildren(stage, bar, timeline, list);
      Object.assign(obj, { node: holder, video, overlay, playButton: play, status, pendingNote: pending, timeline, list });
      play.addEventListener("click", () => this.videoPlay(obj));
      back.addEventListener("click", () => this.videoStep(obj, -1));
      fwd.addEventListener("click", () => this.videoStep(obj, 1));
      video.addEventListener("play", () => { play.textContent = "Pause"; this.videoFollow(obj); });
      video.addEventListener("pause", () => { play.textContent = "Play"; this.videoFromTime(obj); });
      video.addEventListener("seeked", () => { if (!video.paused) this.videoFromTime(obj); });
      video.addEventListener("ended", () => { play.textContent = "Play"; });
      // sync="audio": plays, pauses and seeks with its audio (annotate_sync.js); the frame follows
      this.syncJoin(obj, "video", video, () => { if (video.paused) this.videoFromTime(obj); });
      overlay.addEventListener("pointerdown", (e) => this.videoPointerDown(obj, e));
      timeline.addEventListener("pointerdown", (e) => this.videoTimelineClick(obj, e));
      if (typeof src !== "string" || !src) {
        status.textContent = "No video in this task";
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = () => {
          // the player's shape, so the labeling page can size it to the window (annotate.css)
          if (video.videoWidth && video.videoHeight) stage.style.setProperty("--video-aspect", String(video.videoWidth / video.videoHeight));
          obj.duration = Number.isFinite(video.duration) ? video.duration : 0;
          obj.length = Math.max(1, Math.ceil(round(obj.duration * obj.fps)));
          this.videoDraw(obj);
          resolve();
        };
        video.addEventListener("loadeddata", done, { once: true });
        video.addEventListener("error", () => {
          status.textContent = "The video cannot be played";
          this.showAlert(`The video “${src}” cannot be played by this browser.`);
          resolve();
        }, { once: true });
        video.src = src;
      });
    }

    videoFrameRate(raw) {
      let value = raw;
      if (typeof value === "string" && value.startsWith("$")) value = (this.shownData || {})[value.slice(1)];
      const rate = Number(value);
      if (!rate || !Number.isFinite(rate) || rate <= 0) return 24;
      return rate < 1 ? 1 / rate : rate;
    }

    videoPlay(obj) {
      if (obj.video.paused) obj.video.play().catch(() => {}); else obj.video.pause();
    }

    videoSeek(obj, frame) {
      obj.frame = clamp(frame, 1, obj.length);
      if (!obj.video.paused) obj.video.pause();
      obj.video.currentTime = Math.min(obj.frame / obj.fps, obj.duration || obj.frame / obj.fps);
      this.videoDraw(obj);
    }

    videoStep(obj, delta) { this.videoSeek(obj, obj.frame + delta); }

    videoFromTime(obj) {
      obj.frame = clamp(Math.round(obj.video.currentTime * obj.fps), 1, obj.length);
      this.videoDraw(obj);
    }

    videoFollow(obj) {
      const tick = () => {
        if (obj.video.paused || !obj.video.isConnected) return;
        this.videoFromTime(obj);
        if (obj.video.requestVideoFrameCallback) obj.video.requestVideoFrameCallback(tick); else requestAnimationFrame(tick);
      };
      tick();
    }

    // ---------------------------------------------------------------- drawing the state
    videoDraw(obj) {
      obj.status.textContent = `Frame ${obj.frame} / ${obj.length} · ${(obj.frame / obj.fps).toFixed(2)} s`;
      obj.pendingNote.textContent = obj.pending ? `Span “${obj.pending.label}” from frame ${obj.pending.start}: its key again ends it` : "";
      obj.overlay.replaceChildren();
      for (const t of obj.tracks) {
        const box = boxAt(t.sequence, obj.frame);
        if (!box) continue;
        const keyframe = t.sequence.some((k) => k.frame === obj.frame);
        const node = el("div", {
          class: "anno-video-box" + (t.id === obj.selected ? " is-selected" : "") + (keyframe ? " is-keyframe" : ""),
          "data-track": t.id,
        });
        Object.assign(node.style, { left: `${box.x}%`, top: `${box.y}%`, width: `${box.width}%`, height: `${box.height}%` });
        if (box.rotation) node.style.transform = `rotate(${box.rotation}deg)`;
        node.style.borderColor = this.videoColor(t.labels[0]);
        node.append(el("span", { class: "anno-video-box-label" }, t.labels.join(", ") || "track"), el("span", { class: "anno-video-handle" }));
        obj.overlay.append(node);
      }
      this.videoDrawTimeline(obj);
    }

    videoColor(label) {
      const control = label !== undefined && this.controls.find((c) => c.to_name && c.labels.includes(label)
        && (c.type === "labels" || c.type === "timelinelabels"));
      return control ? this.colorOf(control.name, label) : "#2563eb";
    }

    videoDrawTimeline(obj) {
      const pct = (frame) => `${((frame - 1) / obj.length) * 100}%`;
      const width = (a, b) => `${((b - a + 1) / obj.length) * 100}%`;
      const rows = [];
      const list = [];
      const row = (id, text) => {
        const r = el("div", { class: "anno-video-row" + (id === obj.selected ? " is-selected" : ""), "data-row": id });
        r.append(el("span", { class: "anno-video-row-name" }, text));
        rows.push(r);
        return r;
      };
      for (const t of obj.tracks) {
        const r = row(t.id, t.labels.join(", ") || "track");
        const end = t.sequence[t.sequence.length - 1];
        for (let i = 0; i < t.sequence.length; i += 1) {
          const k = t.sequence[i];
          const upTo = i + 1 < t.sequence.length ? t.sequence[i + 1].frame - 1 : (k.enabled === false ? k.frame : obj.length);
          if (k.enabled !== false || k === end) {
            const seg = el("span", { class: "anno-video-life" });
            Object.assign(seg.style, { left: pct(k.frame), width: width(k.frame, Math.max(k.frame, upTo)), background: this.videoColor(t.labels[0]) });
            r.append(seg);
          }
          const dot = el("span", { class: "anno-video-key" + (k.enabled === false ? " is-off" : ""), title: `keyframe ${k.frame}` });
          dot.style.left = pct(k.frame);
          r.append(dot);
        }
        list.push([t.id, `${t.labels.join(", ") || "track"}`, `frames ${t.sequence[0].frame}–${end.frame}, ${t.sequence.length} keyframe${t.sequence.length > 1 ? "s" : ""}`]);
      }
      for (const s of obj.spans) {
        const r = row(s.id, s.label);
        const seg = el("span", { class: "anno-video-span", "data-span": s.id });
        Object.assign(seg.style, { left: pct(s.start), width: width(s.start, s.end), background: this.videoColor(s.label) });
        r.append(seg);
        list.push([s.id, s.label, s.start === s.end ? `frame ${s.start}` : `frames ${s.start}–${s.end}`]);
      }
      if (obj.pending) {
        const r = row("pending", `${obj.pending.label} …`);
        const a = Math.min(obj.pending.start, obj.frame), b = Math.max(obj.pending.start, obj.frame);
        const seg = el("span", { class: "anno-video-span is-pending" });
        Object.assign(seg.style, { left: pct(a), width: width(a, b), background: this.videoColor(obj.pending.label) });
        r.append(seg);
      }
      const cursor = el("span", { class: "anno-video-cursor" });
      cursor.style.left = `calc(${pct(obj.frame)} + ${50 / obj.length}%)`;
      const ruler = el("div", { class: "anno-video-ruler" }, "");
      ruler.append(cursor);
      obj.timeline.replaceChildren(ruler, ...rows);
      obj.list.replaceChildren(...list.map(([id, name, what]) => {
        const item = el("li", { class: "anno-region" + (id === obj.selected ? " is-selected" : ""), "data-video-region": id });
        const pick = el("button", { type: "button", class: "link anno-region-name" }, name);
        pick.addEventListener("click", () => this.videoSelect(obj, id));
        const remove = el("button", { type: "button", class: "link anno-region-delete", "aria-label": "Delete this region" }, "✕");
        remove.addEventListener("click", () => this.videoDelete(obj, id));
        item.append(pick, el("span", { class: "anno-region-what" }, what), remove);
        return item;
      }));
    }

    // ---------------------------------------------------------------- editing
    videoSelect(obj, id) {
      obj.selected = id;
      const track = obj.tracks.find((t) => t.id === id);
      const span = obj.spans.find((s) => s.id === id);
      if (track && !boxAt(track.sequence, obj.frame)) this.videoSeek(obj, track.sequence[0].frame);
      else if (span && (obj.frame < span.start || obj.frame > span.end)) this.videoSeek(obj, span.start);
      else this.videoDraw(obj);
    }

    videoDelete(obj, id) {
      const before = obj.tracks.length + obj.spans.length;
      obj.tracks = obj.tracks.filter((t) => t.id !== id);
      obj.spans = obj.spans.filter((s) => s.id !== id);
      if (obj.selected === id) obj.selected = null;
      this.videoDraw(obj);
      if (obj.tracks.length + obj.spans.length !== before) this.changed();
    }

    videoActiveLabel(obj) {
      const control = obj.labelControl;
      if (!control) return [];
      const input = this.root.querySelector(`[data-control="${CSS.escape(control.name)}"] input:checked`);
      return input ? [input.value] : [];
    }

    videoPoint(obj, e) {
      const r = obj.overlay.getBoundingClientRect();
      return { x: clamp(((e.clientX - r.left) / r.width) * 100, 0, 100), y: clamp(((e.clientY - r.top) / r.height) * 100, 0, 100) };
    }

    videoPointerDown(obj, e) {
      if (e.button !== 0 || !obj.trackControl || !(this.current || this.editing || this.preview || this.reviewing)) return;
      e.preventDefault();
      if (!obj.video.paused) obj.video.pause();
      const start = this.videoPoint(obj, e);
      const hit = e.target.closest("[data-track]");
      const track = hit ? obj.tracks.find((t) => t.id === hit.dataset.track) : null;
      const shown = track ? boxAt(track.sequence, obj.frame) : null;
      const mode = track ? (e.target.classList.contains("anno-video-handle") ? "resize" : "move") : "draw";
      if (track) { obj.selected = track.id; this.videoDraw(obj); }
      const ghost = el("div", { class: "anno-video-box is-drawing" });
      let box = null;
      const onMove = (ev) => {
        const p = this.videoPoint(obj, ev);
        if (mode === "draw") {
          box = { x: Math.min(start.x, p.x), y: Math.min(start.y, p.y), width: Math.abs(p.x - start.x), height: Math.abs(p.y - start.y), rotation: 0 };
        } else if (mode === "move") {
          box = Object.assign({}, shown, {
            x: clamp(shown.x + p.x - start.x, 0, 100 - shown.width), y: clamp(shown.y + p.y - start.y, 0, 100 - shown.height),
          });
        } else {
          box = Object.assign({}, shown, { width: clamp(shown.width + p.x - start.x, MIN_SIZE, 100 - shown.x),
            height: clamp(shown.height + p.y - start.y, MIN_SIZE, 100 - shown.y) });
        }
        Object.assign(ghost.style, { left: `${box.x}%`, top: `${box.y}%`, width: `${box.width}%`, height: `${box.height}%` });
        if (!ghost.isConnected) obj.overlay.append(ghost);
      };
      const onUp = () => {
        window.removeEventListener("pointermove", onMove);
        window.removeEventListener("pointerup", onUp);
        ghost.remove();
        if (!box) { this.videoDraw(obj); return; }
        const shape = { x: round(box.x), y: round(box.y), width: round(box.width), height: round(box.height), rotation: box.rotation || 0 };
        if (mode === "draw") {
          if (shape.width < MIN_SIZE || shape.height < MIN_SIZE) { this.videoDraw(obj); return; }
          const t = { id: uuid().slice(0, 10), control: obj.trackControl.name, labels: this.videoActiveLabel(obj),
            sequence: [Object.assign({ frame: obj.frame, enabled: true }, shape)] };
          obj.tracks.push(t);
          obj.selected = t.id;
        } else {
          track.sequence = updateShape(track.sequence, shape, obj.frame);
        }
        this.videoDraw(obj);
        this.changed();
      };
      window.addEventListener("pointermove", onMove);
      window.addEventListener("pointerup", onUp);
    }

    videoTimelineClick(obj, e) {
      const r = obj.timeline.getBoundingClientRect();
      if (!r.width) return;
      const frame = 1 + Math.floor(((e.clientX - r.left) / r.width) * obj.length);
      const row = e.target.closest("[data-row]");
      if (row && row.dataset.row !== "pending") obj.selected = row.dataset.row;
      this.videoSeek(obj, frame);
    }

    // K: Label Studio's addKeypoint / removeKeypoint at the current frame.
    videoToggleKeyframe(obj, track) {
      const at = track.sequence.find((k) => k.frame === obj.frame);
      if (at) {
        if (track.sequence.length === 1) { this.notice("A track keeps at least one keyframe (Delete removes the track)."); return; }
        track.sequence = track.sequence.filter((k) => k !== at);
      } else {
        const closest = closestKeypoint(track.sequence, obj.frame);
        const shape = boxAt(track.sequence, obj.frame) || only(closest);
        const added = Object.assign({}, shape, { enabled: closest ? closest.enabled !== false : true, frame: obj.frame });
        track.sequence = updateShape([...track.sequence, added].sort((a, b) => a.frame - b.frame), shape, obj.frame);
      }
      this.videoDraw(obj);
      this.changed();
    }

    // H: Label Studio's toggleLifespan: the keyframe at or before the frame switches the track off or on after it.
    videoToggleLifespan(obj, track) {
      const k = closestKeypoint(track.sequence, obj.frame, true);
      if (!k) return;
      track.sequence = track.sequence.map((x) => (x === k ? Object.assign({}, x, { enabled: x.enabled === false }) : x));
      this.videoDraw(obj);
      this.changed();
    }

    videoSpanKey(obj, control, label) {
      if (obj.pending && obj.pending.control === control.name && obj.pending.label === label) {
        const start = Math.min(obj.pending.start, obj.frame), end = Math.max(obj.pending.start, obj.frame);
        const span = { id: uuid().slice(0, 10), control: control.name, label, start, end };
        obj.spans.push(span);
        obj.pending = null;
        obj.selected = span.id;
        this.videoDraw(obj);
        this.changed();
      } else {
        obj.pending = { control: control.name, label, start: obj.frame };
        this.videoDraw(obj);
      }
    }

    onVideoKey(e, key, target) {
      const videos = this.videoObjects();
      if (!videos.length || !(this.current || this.editing || this.preview || this.reviewing)) return false;
      if (target.closest("dialog")) return false;
      const obj = videos.find((o) => o.wrap.contains(target)) || videos[0];
      const stop = () => { e.preventDefault(); e.stopPropagation(); return true; };
      const arrow = key === "ArrowLeft" ? -1 : key === "ArrowRight" ? 1 : 0;
      if (e.ctrlKey || e.metaKey) return false;
      if (arrow && e.altKey) { this.videoStep(obj, arrow * (e.shiftKey ? 10 : 1)); return stop(); }
      if (e.altKey) return false;
      if (key === "," || key === ".") { this.videoStep(obj, key === "," ? -1 : 1); return stop(); }
      if (key === "<" || key === ">") { this.videoStep(obj, key === "<" ? -10 : 10); return stop(); }
      if (key === " " && !target.matches("button, input, summary, select, a")) { this.videoPlay(obj); return stop(); }
      const track = obj.tracks.find((t) => t.id === obj.selected);
      const lower = key.toLowerCase();
      // on the review page K keeps the annotators' label (web/views/review.py ACTION_KEYS)
      if (lower === "k" && track && !this.reviewing) { this.videoToggleKeyframe(obj, track); return stop(); }
      if (lower === "h" && track) { this.videoToggleLifespan(obj, track); return stop(); }
      if (key === "Escape" && (obj.pending || obj.selected)) {
        if (obj.pending) obj.pending = null; else obj.selected = null;
        this.videoDraw(obj);
        return stop();
      }
      if ((key === "Delete" || key === "Backspace") && obj.selected) { this.videoDelete(obj, obj.selected); return stop(); }
      if (key === "Tab" && !target.matches("input, textarea, select, button, a")) {
        const ids = [...obj.tracks.map((t) => t.id), ...obj.spans.map((s) => s.id)];
        if (!ids.length) return false;
        const at = ids.indexOf(obj.selected);
        this.videoSelect(obj, ids[(at + (e.shiftKey ? ids.length - 1 : 1) + (at < 0 && e.shiftKey ? 1 : 0)) % ids.length]);
        return stop();
      }
      const hit = this.keyIndex.get(lower);
      if (hit && hit.control.object_tag === "Video") {
        const owner = videos.find((o) => o.name === hit.control.to_name) || obj;
        if (hit.control.type === "timelinelabels") { this.videoSpanKey(owner, hit.control, hit.label); return stop(); }
        if (hit.control.type === "labels") {
          const input = [...this.root.querySelectorAll(`[data-control="${CSS.escape(hit.control.name)}"] input`)]
            .find((i) => i.value === hit.label);
          if (input) input.checked = true;
          const selected = owner.tracks.find((t) => t.id === owner.selected);
          if (selected) { selected.labels = [hit.label]; this.videoDraw(owner); this.changed(); }
          this.syncChoiceStyles();
          return stop();
        }
      }
      return false;
    }

    // ---------------------------------------------------------------- result <-> state
    videoItems() {
      const out = [];
      for (const obj of this.videoObjects()) {
        for (const t of obj.tracks) {
          const value = {
            framesCount: obj.length,
            duration: obj.duration,
            sequence: t.sequence.map((k) => Object.assign({}, k, { time: k.frame / obj.fps })),
          };
          if (t.labels.length || obj.labelControl) value.labels = [...t.labels];
          out.push({ id: t.id, from_name: t.control, to_name: obj.name, type: "videorectangle", origin: "manual", value });
        }
        for (const s of obj.spans) {
          out.push({ id: s.id, from_name: s.control, to_name: obj.name, type: "timelinelabels", origin: "manual",
            value: { ranges: [{ start: s.start, end: s.end }], timelinelabels: [s.label] } });
        }
      }
      return out;
    }

    setVideoItems(result) {
      for (const obj of this.videoObjects()) {
        obj.tracks = [];
        obj.spans = [];
        for (const item of result || []) {
          if (!item || item.to_name !== obj.name || !item.value) continue;
          if (item.type === "videorectangle" && Array.isArray(item.value.sequence) && item.value.sequence.length) {
            const sequence = item.value.sequence.map((k) => {
              const copy = Object.assign({}, k);
              delete copy.time; // written again from the frame
              return copy;
            }).sort((a, b) => a.frame - b.frame);
            obj.tracks.push({ id: item.id || uuid().slice(0, 10), control: item.from_name, labels: [...(item.value.labels || [])], sequence });
          } else if (item.type === "timelinelabels") {
            for (const r of item.value.ranges || []) {
              obj.spans.push({ id: item.id || uuid().slice(0, 10), control: item.from_name,
                label: (item.value.timelinelabels || [])[0], start: r.start, end: r.end });
            }
          }
        }
        if (!obj.tracks.some((t) => t.id === obj.selected) && !obj.spans.some((s) => s.id === obj.selected)) obj.selected = null;
        obj.pending = null;
        this.videoDraw(obj);
      }
    }
  });
})();
