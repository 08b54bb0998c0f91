// labelfab labeling page: <TimeSeries> (one uPlot chart per <Channel>, or per <MultiChannel> with
// its channels together, sharing the x axis) and
// <TimeSeriesLabels> ranges and instant events on it.
// Methods of annotate.js's Workspace class (`this` is the workspace), in their own file; see
// annotate_base.js for how a part joins the class. Loaded after annotate_base.js, before annotate.js.
//
// The server reads the series (GET /api/annotate/tasks/ID/series/NAME: inline columns, or the CSV
// by URL) and sends the x axis as numbers with, per point, the value a region's start/end stores
// (a number, or a time string in the TimeSeries' timeFormat, as Label Studio's editor writes it).
// Region boundaries snap to the points of the series.
//
// Keys, while the chart has the focus (Tab to it, click it, or → on the page): ← → move the cursor
// one point (Shift: ten), Home End the first, last point shown; [ marks a range's start at the
// cursor and ] its end (the range is made, with the active label); . an instant event at the
// cursor; + - zoom in, out around the cursor, 0 shows it all; the label keys label the selected
// region; Delete removes it; Esc deselects. With the mouse: drag over a chart to make a range,
// click a region to select it, the wheel zooms.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  const CHART_HEIGHT = 150;

  // The first index whose x is >= t (binary search; x is sorted).
  function lowerBound(x, t) {
    let lo = 0, hi = x.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (x[mid] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  // Regions of one TimeSeries, shaped as the other widgets' annotators are (annotate_objects.js
  // lists, selects, labels and deletes them through these methods).
  class SeriesRegions {
    constructor(ws, obj) { this.ws = ws; this.obj = obj; this.list = []; this.selected = null; }
    getAnnotations() { return this.list; }
    getSelected() { const a = this.list.find((r) => r.id === this.selected); return a ? [a] : []; }
    setSelected(id) { this.selected = id; this.ws.renderRegions(); this.ws.redrawSeries(this.obj); }
    cancelSelected() { this.selected = null; this.ws.redrawSeries(this.obj); }
    setAnnotations(list) { this.list = list.slice(); this.selected = null; this.ws.redrawSeries(this.obj); }
    updateAnnotation(annotation) {
      this.list = this.list.map((r) => (r.id === annotation.id ? annotation : r));
      this.ws.redrawSeries(this.obj);
    }
    removeAnnotation(id) {
      this.list = this.list.filter((r) => r.id !== id);
      if (this.selected === id) this.selected = null;
      this.ws.redrawSeries(this.obj);
    }
    add(annotation) { this.list.push(annotation); this.selected = annotation.id; this.ws.redrawSeries(this.obj); }
    destroy() { for (const plot of this.obj.plots || []) plot.destroy(); this.obj.plots = []; }
  }

  A.part(class TimeSeriesPart {
    async renderTimeSeries(obj, value) {
      const pane = obj.wrap.querySelector("[data-series]");
      const status = obj.wrap.querySelector("[data-series-status]");
      pane.replaceChildren();
      obj.kind = "series";
      obj.spanType = "timeserieslabels"; // regionType(): the result type of its regions
      obj.plots = [];
      obj.annotator = new SeriesRegions(this, obj);
      const spec = (this.schema.objects[obj.name] || {}).series || null;
      const taskId = this.shownTaskId;
      let data = null;
      if (this.preview && this.cfg.series_samples && this.cfg.series_samples[obj.name]) {
        data = this.cfg.series_samples[obj.name]; // a config's preview: a made-up series (web/views/annotate.py)
      } else if (taskId !== undefined && taskId !== null) {
        const res = await A.call("GET", `/api/annotate/tasks/${encodeURIComponent(taskId)}/series/${encodeURIComponent(obj.name)}`);
        if (!res.ok) {
          const detail = (res.data && res.data.detail) || `HTTP ${res.status}`;
          this.showAlert(`The time series of this task could not be loaded: ${detail}`);
          status.textContent = "No data";
          return;
        }
        data = res.data;
      } else {
        status.textContent = "The chart shows a task's data once the project has tasks.";
        return;
      }
      if (!window.uPlot) { this.showAlert("The chart library did not load."); return; }
      obj.series = data;
      obj.isDate = Boolean(spec && spec.time_format);
      obj.keyIndex = new Map(data.keys.map((k, i) => [String(k), i]));
      obj.cursor = 0;
      obj.pendingStart = null;
      obj.view = [data.x[0], data.x[data.x.length - 1]];
      const width = Math.max(300, pane.clientWidth - 8);
      // one chart per channel; the channels of a <MultiChannel> (the same `group`) share one
      const specs = (spec && spec.channels) || Object.keys(data.channels).map((column) => ({ column }));
      const charts = [];
      specs.forEach((channel, n) => {
        const last = charts[charts.length - 1];
        const group = channel.group === undefined ? null : channel.group;
        const line = { channel, color: channel.stroke_color || PALETTE[n % PALETTE.length] };
        if (group !== null && last && last.group === group) last.lines.push(line); else charts.push({ group, lines: [line] });
      });
      charts.forEach(({ lines }) => {
        const holder = el("div", { class: "anno-series-chart", "data-series-channels": String(lines.length) });
        pane.append(holder);
        const series = lines.map(({ channel, color }) => ({
          label: (channel.legend || channel.column) + (channel.units ? ` (${channel.units})` : ""),
          stroke: color, width: 1.5, spanGaps: false,
        }));
        const plot = new window.uPlot({
          width, height: CHART_HEIGHT, ms: 1,
          scales: { x: { time: obj.isDate } },
          series: [{ label: (spec && spec.time_column) || "point" }, ...series],
          cursor: { sync: { key: `series-${obj.name}` }, drag: { x: true, y: false, setScale: false } },
          legend: { show: true },
          hooks: {
            draw: [(u) => this.drawSeriesMarks(obj, u)],
            setSelect: [(u) => this.onSeriesDrag(obj, u)],
          },
        }, [data.x, ...lines.map(({ channel }) => data.channels[channel.column])], holder);
        plot.over.addEventListener("wheel", (e) => { e.preventDefault(); this.zoomSeries(obj, e.deltaY < 0 ? 0.5 : 2, plot.posToVal(e.offsetX, "x")); }, { passive: false });
        plot.over.addEventListener("click", (e) => this.clickSeries(obj, plot.posToVal(e.offsetX, "x")));
        plot.over.addEventListener("mousedown", () => { obj.dragPlot = plot; }); // the charts share a selection: one range
        obj.plots.push(plot);
      });
      this.showSeriesStatus(obj);
    }

    // ---------------------------------------------------------------- drawing
    redrawSeries(obj) {
      for (const plot of obj.plots || []) plot.redraw(false, false);
      if (obj.series) this.showSeriesStatus(obj);
    }

    seriesIndexOf(obj, key) {
      const found = obj.keyIndex.get(String(key));
      if (found !== undefined) return found;
      if (typeof key === "number") return Math.min(lowerBound(obj.series.x, key), obj.series.x.length - 1);
      return null; // a time written otherwise: kept in the result, not drawn
    }

    drawSeriesMarks(obj, u) {
      if (!obj.series) return;
      const ctx = u.ctx, { top, height } = u.bbox;
      const x = obj.series.x;
      ctx.save();
      for (const annotation of obj.annotator.getAnnotations()) {
        const s = annotation.target.selector;
        const i0 = this.seriesIndexOf(obj, s.start), i1 = this.seriesIndexOf(obj, s.end);
        if (i0 === null || i1 === null) continue;
        const tag = this.regionLabel(annotation);
        const color = tag ? this.colorOf(tag.control, tag.label) : "#6b7280";
        const selected = obj.annotator.selected === annotation.id;
        const left = u.valToPos(x[i0], "x", true), right = u.valToPos(x[i1], "x", true);
        if (s.instant) {
          ctx.strokeStyle = color;
          ctx.lineWidth = selected ? 4 : 2;
          ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, top + height); ctx.stroke();
        } else {
          ctx.globalAlpha = selected ? 0.45 : 0.22;
          ctx.fillStyle = color;
          ctx.fillRect(left, top, Math.max(1, right - left), height);
          ctx.globalAlpha = 1;
          if (selected) { ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.strokeRect(left, top, Math.max(1, right - left), height); }
        }
      }
      if (obj.pendingStart !== null) {
        const at = u.valToPos(x[obj.pendingStart], "x", true);
        ctx.setLineDash([4, 4]); ctx.strokeStyle = "#111827"; ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(at, top); ctx.lineTo(at, top + height); ctx.stroke();
        ctx.setLineDash([]);
      }
      const at = u.valToPos(x[obj.cursor], "x", true);
      ctx.strokeStyle = "#dc2626"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(at, top); ctx.lineTo(at, top + height); ctx.stroke();
      ctx.restore();
    }

    showSeriesStatus(obj) {
      const status = obj.wrap.querySelector("[data-series-status]");
      const key = obj.series.keys[obj.cursor];
      const values = Object.entries(obj.series.channels).map(([c, v]) => `${c} ${v[obj.cursor] === null ? "–" : v[obj.cursor]}`).join(", ");
      const pending = obj.pendingStart !== null ? ` · range from ${obj.series.keys[obj.pendingStart]}: press ] at its end` : "";
      status.textContent = `Cursor at ${key} (point ${obj.cursor + 1} of ${obj.series.x.length}): ${values}${pending}`;
    }

    // ---------------------------------------------------------------- regions
    seriesRegion(obj, i0, i1, instant) {
      const keys = obj.series.keys;
      const [a, b] = i0 <= i1 ? [i0, i1] : [i1, i0];
      const id = uuid().replace(/-/g, "").slice(0, 10);
      const active = this.activeLabel(obj.name, "timeserieslabels");
      obj.annotator.add({
        id,
        bodies: active ? [{ id: uuid(), annotation: id, purpose: "tagging", value: active.label, control: active.control.name }] : [],
        target: { annotation: id, selector: { type: "SERIES", start: keys[a], end: keys[b], instant: Boolean(instant) } },
      });
      this.renderRegions();
      this.changed();
    }

    onSeriesDrag(obj, u) {
      if (u !== obj.dragPlot || !u.select || u.select.width < 3) return;
      const x = obj.series.x;
      const t0 = u.posToVal(u.select.left, "x"), t1 = u.posToVal(u.select.left + u.select.width, "x");
      const i0 = Math.min(lowerBound(x, t0), x.length - 1), i1 = Math.max(0, lowerBound(x, t1) - 1);
      u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      if (i1 < i0) return;
      obj.cursor = i1;
      this.seriesRegion(obj, i0, i1, false);
    }

    clickSeries(obj, t) {
      const x = obj.series.x;
      const i = Math.min(lowerBound(x, t), x.length - 1);
      obj.cursor = i;
      const hit = obj.annotator.getAnnotations().find((a) => {
        const s = a.target.selector;
        const i0 = this.seriesIndexOf(obj, s.start), i1 = this.seriesIndexOf(obj, s.end);
        return i0 !== null && i1 !== null && i0 <= i && i <= i1;
      });
      if (hit) obj.annotator.setSelected(hit.id); else this.redrawSeries(obj);
    }

    seriesItem(obj, annotation) {
      const s = annotation.target.selector;
      const tag = this.regionLabel(annotation);
      const control = this.controlFor(obj.name, "timeserieslabels", tag);
      if (!control) return null;
      return {
        id: annotation.id, from_name: control.name, to_name: obj.name, type: "timeserieslabels",
        value: { start: s.start, end: s.end, instant: s.instant, timeserieslabels: tag ? [tag.label] : [] },
      };
    }

    seriesAnnotation(obj, control, item) {
      const v = item.value || {};
      if (v.start === undefined || v.end === undefined) return null;
      const id = item.id || uuid().replace(/-/g, "").slice(0, 10);
      const label = (v.timeserieslabels || [])[0];
      return {
        id,
        bodies: label ? [{ id: uuid(), annotation: id, purpose: "tagging", value: label, control: control.name }] : [],
        target: { annotation: id, selector: { type: "SERIES", start: v.start, end: v.end, instant: v.instant === true } },
      };
    }

    seriesText(obj, annotation) {
      const s = annotation.target.selector;
      return s.instant ? `at ${s.start}` : `${s.start} → ${s.end}`;
    }

    // ---------------------------------------------------------------- zoom
    zoomSeries(obj, factor, around) {
      if (!obj.series) return;
      const x = obj.series.x, first = x[0], last = x[x.length - 1];
      let [lo, hi] = obj.view;
      if (factor === 0) { lo = first; hi = last; } else {
        const centre = around === undefined ? x[obj.cursor] : around;
        const span = Math.max((hi - lo) * factor, (last - first) / Math.max(x.length, 1) * 4);
        lo = centre - (centre - lo) * (span / (hi - lo || 1));
        hi = lo + span;
        if (lo < first) { hi += first - lo; lo = first; }
        if (hi > last) { lo -= hi - last; hi = last; }
        lo = Math.max(lo, first);
      }
      obj.view = [lo, hi];
      for (const plot of obj.plots) plot.setScale("x", { min: lo, max: hi });
    }

    seriesVisible(obj) {
      const x = obj.series.x;
      return [Math.min(lowerBound(x, obj.view[0]), x.length - 1), Math.max(0, lowerBound(x, obj.view[1] + 1e-9) - 1)];
    }

    // ---------------------------------------------------------------- keys
    seriesObjects() { return Object.values(this.objects).filter((o) => o.tag === "TimeSeries" && o.series); }

    onSeriesKey(e, key, target) {
      const objs = this.seriesObjects();
      if (!objs.length || e.ctrlKey || e.metaKey || e.altKey) return false;
      let obj = objs.find((o) => o.wrap.contains(target));
      if (!obj) {
        const bare = target === document.body || target === document.documentElement;
        if (bare && key === "ArrowRight") { // as in text: → on the page goes to the chart
          e.preventDefault();
          objs[0].wrap.querySelector("[data-series]").focus();
          return true;
        }
        return false;
      }
      const n = obj.series.x.length;
      const move = (to) => {
        obj.cursor = Math.max(0, Math.min(n - 1, to));
        const t = obj.series.x[obj.cursor];
        if (t < obj.view[0] || t > obj.view[1]) { // keep the cursor in view
          const span = obj.view[1] - obj.view[0];
          obj.view = [t - span / 2, t + span / 2];
          this.zoomSeries(obj, 1, t);
        }
        this.redrawSeries(obj);
      };
      const step = e.shiftKey ? 10 : 1;
      if (key === "ArrowRight") { e.preventDefault(); move(obj.cursor + step); return true; }
      if (key === "ArrowLeft") { e.preventDefault(); move(obj.cursor - step); return true; }
      if (key === "Home" || key === "End") {
        e.preventDefault();
        const [a, b] = this.seriesVisible(obj);
        move(key === "Home" ? a : b);
        return true;
      }
      if (key === "[") { e.preventDefault(); obj.pendingStart = obj.cursor; this.redrawSeries(obj); return true; }
      if (key === "]") {
        e.preventDefault();
        if (obj.pendingStart === null) { this.notice("Press [ at the range's start first."); return true; }
        const start = obj.pendingStart;
        obj.pendingStart = null;
        this.seriesRegion(obj, start, obj.cursor, false);
        return true;
      }
      if (key === ".") { e.preventDefault(); this.seriesRegion(obj, obj.cursor, obj.cursor, true); return true; }
      if (key === "+" || key === "=") { e.preventDefault(); this.zoomSeries(obj, 0.5); return true; }
      if (key === "-") { e.preventDefault(); this.zoomSeries(obj, 2); return true; }
      if (key === "0") { e.preventDefault(); this.zoomSeries(obj, 0); return true; }
      if (key === "Escape" && obj.pendingStart !== null) { e.preventDefault(); obj.pendingStart = null; this.redrawSeries(obj); return true; }
      return false;
    }
  });
  A.renderers.TimeSeries = "renderTimeSeries";
})();
