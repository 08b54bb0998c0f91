// labelfab labeling page: <Audio> / <AudioPlus> with wavesurfer.js and its regions plugin.
// Segments are the page's regions: an adapter (AudioRegions) gives them the annotator interface
// the shared region code uses (getAnnotations, setSelected, updateAnnotation...), so labels by
// number key, Delete, the region list, per-region TextArea/Choices and [ ] work as for spans and
// boxes. Result items are Label Studio's (regions/AudioRegion/AudioRegionModel.js):
//   {original_length, value: {start, end, channel, labels}, id, from_name, to_name, type: "labels"}
// Keys (listed in the keys dialog, templates/annotate/_audio_keys.html): Space play/pause;
// Shift+← → one second back/on; Ctrl+← → ten seconds; , . slower/faster; M starts a segment at the
// play head and M again ends it (selected, so a number key labels it and T types its
// transcription). None is one of the page's reserved keys used otherwise (Space pans only images),
// and a label hotkey configured on M , or . wins over the audio key.
// Methods of annotate.js's Workspace class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;
  const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
  const SMALL_STEP = 1, LARGE_STEP = 10; // seconds
  // A file longer than this shows a plain bar, not its waveform: drawing one means fetching and
  // decoding the whole file, while playing and seeking read only the bytes they need (ranges).
  const WAVEFORM_MAX_SECONDS = 600;
  const secs = (t) => `${Number(t).toFixed(2)} s`;
  const clock = (t) => {
    const s = Math.max(0, t || 0);
    const m = Math.floor(s / 60);
    return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
  };

  // The segments of one audio object, with the interface of an Annotorious/Recogito annotator.
  class AudioRegions {
    constructor(ws, plugin, ws_host) {
      this.ws = ws;
      this.plugin = plugin;
      this.host = ws_host; // { colorOf, onUserChange, onSelect }
      this.list = [];
      this.selected = null;
      this.muted = false;
      this.shapes = new Map(); // id -> wavesurfer region
    }

    getAnnotations() { return this.list.slice(); }

    find(id) { return this.list.find((a) => a.id === id) || null; }

    color(annotation, alpha) {
      const body = (annotation.bodies || []).find((b) => b.purpose === "tagging");
      const base = body ? this.host.colorOf(body.control, body.value) : "#6b7280";
      return toRgba(base, annotation.id === this.selected ? Math.min(alpha + 0.25, 0.9) : alpha);
    }

    draw(annotation) {
      const old = this.shapes.get(annotation.id);
      const s = annotation.target.selector;
      this.muted = true;
      try {
        if (old) {
          old.setOptions({ start: s.start, end: s.end, color: this.color(annotation, 0.3) });
        } else {
          const shape = this.plugin.addRegion({ id: annotation.id, start: s.start, end: s.end,
            color: this.color(annotation, 0.3), drag: true, resize: true });
          this.shapes.set(annotation.id, shape);
        }
      } finally {
        this.muted = false;
      }
    }

    redraw() { for (const a of this.list) this.draw(a); }

    setAnnotations(list) {
      this.muted = true;
      try { this.plugin.clearRegions(); } finally { this.muted = false; }
      this.shapes.clear();
      this.list = list.slice();
      this.selected = null;
      for (const a of this.list) this.draw(a);
    }

    addAnnotation(annotation) {
      this.list.push(annotation);
      this.list.sort((a, b) => a.target.selector.start - b.target.selector.start);
      this.draw(annotation);
    }

    updateAnnotation(annotation) {
      const at = this.list.findIndex((a) => a.id === annotation.id);
      if (at < 0) return;
      this.list[at] = annotation;
      this.draw(annotation);
    }

    removeAnnotation(id) {
      this.list = this.list.filter((a) => a.id !== id);
      const shape = this.shapes.get(id);
      this.shapes.delete(id);
      if (shape) { this.muted = true; try { shape.remove(); } finally { this.muted = false; } }
      if (this.selected === id) this.selected = null;
    }

    getSelected() { const a = this.selected && this.find(this.selected); return a ? [a] : []; }

    setSelected(id) {
      this.selected = this.find(id) ? id : null;
      this.redraw();
      const a = this.find(id);
      if (a) this.ws.setTime(a.target.selector.start);
      this.host.onSelect();
    }

    cancelSelected() { this.selected = null; this.redraw(); }

    destroy() { this.ws.destroy(); }
  }

  async function libraries() {
    for (let i = 0; i < 200 && !(window.WaveSurfer && window.WaveSurfer.Regions); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  function toRgba(color, alpha) {
    const probe = document.createElement("span");
    probe.style.color = color;
    document.body.append(probe);
    const rgb = getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || ["107", "114", "128"];
    probe.remove();
    return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
  }

  A.part(class AudioPart {
    audioObjects() { return Object.values(this.objects).filter((o) => o.kind === "audio" && o.annotator); }

    // Shows an audio object: its player, waveform (files up to WAVEFORM_MAX_SECONDS) and segments.
    renderAudio(obj, src) {
      const holder = obj.wrap.querySelector("[data-audio-holder]");
      const wave = el("div", { class: "anno-audio-wave", "aria-label": `Audio (${obj.key})`, role: "application" });
      const status = obj.wrap.querySelector("[data-audio-status]");
      holder.replaceChildren(wave);
      const media = el("audio", { preload: "metadata", "data-audio-media": obj.name });
      // a Play button beside Space: for the mouse, and for the task page's read-only view (no keys)
      const play = obj.wrap.querySelector("[data-audio-play]");
      play.disabled = true;
      play.addEventListener("click", () => (obj.wave ? obj.wave.playPause() : (media.paused ? media.play() : media.pause())));
      media.addEventListener("play", () => { play.textContent = "Pause"; });
      for (const type of ["pause", "ended"]) media.addEventListener(type, () => { play.textContent = "Play"; });
      obj.kind = "audio";
      obj.media = media;
      obj.speed = 1;
      obj.mark = null;
      obj.status = status;
      obj.regionType = "labels";
      // sync="...": plays with a video or a dialogue (annotate_sync.js); its status follows them
      this.syncJoin(obj, "audio", media, () => { obj.speed = media.playbackRate; this.showAudioStatus(obj); });
      obj.itemOf = (annotation) => this.audioItem(obj, annotation);
      obj.annotationOf = (control, item) => this.audioAnnotation(obj, control, item);
      obj.describe = (annotation) => {
        const s = annotation.target.selector;
        return `${secs(s.start)} – ${secs(s.end)}`;
      };
      return new Promise((resolve) => {
        const failed = () => {
          this.showAlert(`The audio of this task could not be loaded (${String(src).slice(0, 200)}).`);
          resolve();
        };
        if (this.preview && src === "") { // a config's preview has no audio to play: the player without one
          status.textContent = "No audio in this preview";
          resolve();
          return;
        }
        if (typeof src !== "string" || !src) { failed(); return; }
        media.addEventListener("error", failed, { once: true });
        media.addEventListener("loadedmetadata", async () => {
          await libraries(); // the vendored scripts come after this one
          media.removeEventListener("error", failed);
          // the duration read at import (labeling/media_info.py) when the page has it: exact for
          // files whose header the browser can only estimate from (MP3 without a frame index)
          const known = this.taskMedia && this.taskMedia.duration;
          obj.duration = known || media.duration;
          obj.durationAtImport = known || null;
          const long = !(obj.duration <= WAVEFORM_MAX_SECONDS);
          const ws = window.WaveSurfer.create({
            container: wave, media, height: 96, waveColor: "#9ca3af", progressColor: "#4b5563",
            cursorColor: "#dc2626", cursorWidth: 2, dragToSeek: true, autoScroll: true,
            // the same URL as the element's: wavesurfer keeps it (no blob: source, which the CSP refuses)
            ...(long ? { peaks: [new Float32Array([0, 0])], duration: obj.duration } : { url: media.currentSrc || media.src }),
          });
          const plugin = ws.registerPlugin(window.WaveSurfer.Regions.create());
          const regions = new AudioRegions(ws, plugin, {
            colorOf: (control, label) => this.colorOf(control, label),
            onSelect: () => this.renderRegions(),
          });
          obj.annotator = regions;
          obj.wave = ws;
          plugin.enableDragSelection({ color: "rgba(107, 114, 128, 0.3)" });
          plugin.on("region-created", (shape) => {
            if (regions.muted) return;
            // drawn with the mouse: becomes a segment like one marked with M
            regions.shapes.set(shape.id, shape);
            this.addSegment(obj, shape.start, shape.end, shape.id);
          });
          plugin.on("region-updated", (shape) => {
            if (regions.muted) return;
            const a = regions.find(shape.id);
            if (!a) return;
            regions.updateAnnotation(Object.assign({}, a, { target: { annotation: a.id,
              selector: Object.assign({}, a.target.selector, { start: shape.start, end: shape.end }) } }));
            this.onRegions(obj);
          });
          plugin.on("region-clicked", (shape, e) => {
            e.stopPropagation();
            regions.setSelected(shape.id);
          });
          ws.on("timeupdate", () => this.showAudioStatus(obj));
          ws.on("play", () => this.showAudioStatus(obj));
          ws.on("pause", () => this.showAudioStatus(obj));
          this.showAudioStatus(obj);
          play.disabled = false;
          if (long) { resolve(); return; }
          let done = false;
          const finish = () => { if (!done) { done = true; resolve(); } };
          ws.on("ready", finish);
          ws.on("error", finish); // plays without its waveform
          setTimeout(finish, 15000);
        }, { once: true });
        media.src = src;
      });
    }

    showAudioStatus(obj) {
      if (!obj.status) return;
      const t = obj.media.currentTime;
      const mark = obj.mark === null ? "" : ` · segment from ${secs(obj.mark)}: M ends it`;
      obj.status.textContent = `${obj.media.paused ? "Paused" : "Playing"} ${clock(t)} / ${clock(obj.duration)}`
        + ` · speed ${obj.speed}×${mark}`;
    }

    audioItem(obj, annotation) {
      const s = annotation.target.selector;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "labels", tag);
      if (!control) return null;
      return {
        original_length: obj.duration, id: annotation.id, from_name: control.name, to_name: obj.name, type: "labels",
        value: { start: s.start, end: s.end, channel: s.channel || 0, labels: tag ? [tag.label] : [] },
      };
    }

    audioAnnotation(obj, control, item) {
      const v = item.value || {};
      if (typeof v.start !== "number" || typeof v.end !== "number" || !(v.start < v.end)) return null;
      const id = item.id || uuid();
      const label = (v.labels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: { annotation: id, selector: { type: "AUDIO", start: v.start, end: v.end, channel: v.channel || 0 } },
      };
    }

    // A new segment [start, end] (seconds) of obj, labelled with the picked label if any, selected.
    addSegment(obj, start, end, id) {
      const a = Math.max(0, Math.min(start, end)), b = Math.min(obj.duration || Infinity, Math.max(start, end));
      if (!(b > a)) return;
      const annotation = { id: id || uuid(), bodies: [],
        target: { annotation: null, selector: { type: "AUDIO", start: a, end: b, channel: 0 } } };
      annotation.target.annotation = annotation.id;
      for (const other of this.audioObjects()) if (other !== obj) other.annotator.cancelSelected();
      obj.annotator.addAnnotation(annotation);
      obj.annotator.selected = annotation.id;
      this.onRegions(obj); // labels it with the picked label, lists it, one undo step
      obj.annotator.redraw();
    }

    // Keys of the audio player; true when the key was one of them.
    onMediaKey(e, key, target) {
      const audios = this.audioObjects();
      if (!audios.length || this.span) return false;
      const selected = this.selectedRegion();
      const obj = (selected && selected.obj.kind === "audio" && selected.obj) || audios[0];
      const lower = key.toLowerCase();
      const plain = !e.ctrlKey && !e.metaKey && !e.altKey;
      if (key === " " && plain && !e.shiftKey) {
        if (target.matches("button, input, summary, select, a")) return false;
        if (Object.values(this.objects).some((o) => o.kind === "image")) return false; // Space pans images
        e.preventDefault();
        obj.wave.playPause();
        return true;
      }
      if ((key === "ArrowLeft" || key === "ArrowRight") && !e.metaKey && !e.altKey && (e.shiftKey || e.ctrlKey)) {
        e.preventDefault();
        const step = (e.ctrlKey ? LARGE_STEP : SMALL_STEP) * (key === "ArrowLeft" ? -1 : 1);
        obj.wave.setTime(Math.min(Math.max(obj.media.currentTime + step, 0), obj.duration || 0));
        this.showAudioStatus(obj);
        return true;
      }
      if (!plain || this.keyIndex.has(lower)) return false; // a label's own hotkey wins
      if (key === "," || key === ".") {
        e.preventDefault();
        const at = SPEEDS.indexOf(obj.speed);
        obj.speed = SPEEDS[Math.min(Math.max(at + (key === "." ? 1 : -1), 0), SPEEDS.length - 1)];
        obj.wave.setPlaybackRate(obj.speed, true);
        this.showAudioStatus(obj);
        return true;
      }
      if (lower === "m") {
        e.preventDefault();
        const now = obj.media.currentTime;
        if (obj.mark === null) {
          obj.mark = now;
          this.notice(`Segment starts at ${secs(now)}: press M again where it ends.`);
        } else {
          const start = obj.mark;
          obj.mark = null;
          if (Math.abs(now - start) < 0.01) {
            this.notice("The segment would be empty: play on, then press M where it ends.");
          } else {
            this.addSegment(obj, start, now);
            this.notice(`Segment ${secs(Math.min(start, now))} – ${secs(Math.max(start, now))}: press a label key.`);
          }
        }
        this.showAudioStatus(obj);
        return true;
      }
      return false;
    }
  });

  A.renderers.Audio = "renderAudio";
  A.renderers.AudioPlus = "renderAudio";
})();
