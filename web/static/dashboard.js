// labelfab dashboards: Chart.js charts from data-chart specs, sortable tables, both kept across
// the htmx refresh of each panel (every 30 s). No HTML is built from data here: charts draw on
// a canvas, sorting moves existing rows.
(function () {
  "use strict";

  const sortState = {}; // table id -> {col, dir}
  const firstDraw = new Set(); // canvases' panel ids already drawn once (no animation on refresh)

  function percentTick(value) {
    return value + " %";
  }

  function chartOptions(spec, animate) {
    const horizontal = !!spec.horizontal;
    const valueAxis = horizontal ? "x" : "y";
    const scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      stacked: !!spec.stacked,
      title: { display: !!(spec.axes && spec.axes[valueAxis]), text: spec.axes ? spec.axes[valueAxis] : "" },
      ticks: spec.percent ? { callback: percentTick } : {},
    };
    if (spec.min !== undefined) scales[valueAxis].min = spec.min;
    if (spec.max !== undefined) scales[valueAxis].max = spec.max;
    const categoryAxis = horizontal ? "y" : "x";
    scales[categoryAxis] = { stacked: !!spec.stacked, ticks: { autoSkip: !horizontal, maxRotation: 0 } };
    if (spec.axes && spec.axes.y1) {
      scales.y1 = {
        position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
        title: { display: true, text: spec.axes.y1 },
      };
    }
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: animate ? { duration: 400 } : false,
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "top", labels: { boxWidth: 10, boxHeight: 10, font: { size: 11 } } },
        tooltip: spec.percent ? {
          callbacks: { label: (ctx) => `${ctx.dataset.label}: ${ctx.formattedValue} %` },
        } : {},
      },
      scales,
    };
  }

  function drawChart(canvas) {
    if (typeof window.Chart === "undefined") return;
    let spec;
    try {
      spec = JSON.parse(canvas.dataset.chart);
    } catch (err) {
      console.warn("dashboard: bad chart spec", err);
      return;
    }
    const old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    const panel = canvas.closest("[data-panel]");
    const key = panel ? panel.dataset.panel : "";
    const animate = !firstDraw.has(key);
    firstDraw.add(key);
    const datasets = spec.datasets.map((d) => Object.assign({ borderWidth: 1 }, d));
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: chartOptions(spec, animate),
    });
  }

  function cellValue(row, col, numeric) {
    const cell = row.cells[col];
    if (!cell) return numeric ? -Infinity : "";
    const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
    if (!numeric) return raw.toLowerCase();
    if (raw === "") return -Infinity; // no figure: last when sorting high to low
    const n = Number(raw);
    return Number.isNaN(n) ? -Infinity : n;
  }

  function sortTable(table, col, dir) {
    const header = table.tHead.rows[0].cells[col];
    const button = header ? header.querySelector("button") : null;
    const numeric = !!(button && button.dataset.type === "num");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const va = cellValue(a, col, numeric);
      const vb = cellValue(b, col, numeric);
      if (va < vb) return dir === "asc" ? -1 : 1;
      if (va > vb) return dir === "asc" ? 1 : -1;
      return 0;
    });
    rows.forEach((r) => body.appendChild(r));
    Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
      th.setAttribute("aria-sort", i === col ? (dir === "asc" ? "ascending" : "descending") : "none");
    });
  }

  function setupTable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
      const button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", () => {
        const current = sortState[table.id];
        const numeric = button.dataset.type === "num";
        let dir = numeric ? "desc" : "asc";
        if (current && current.col === col) dir = current.dir === "asc" ? "desc" : "asc";
        sortState[table.id] = { col, dir };
        sortTable(table, col, dir);
      });
    });
    const state = sortState[table.id];
    if (state) sortTable(table, state.col, state.dir);
  }

  function init(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const canvases = Array.from(scope.querySelectorAll("canvas[data-chart]"));
    if (scope.matches && scope.matches("canvas[data-chart]")) canvases.push(scope);
    canvases.forEach(drawChart);
    const tables = Array.from(scope.querySelectorAll("table.sortable"));
    if (scope.matches && scope.matches("table.sortable")) tables.push(scope);
    tables.forEach(setupTable);
  }

  // A panel about to be replaced by its refresh: free its charts.
  document.addEventListener("htmx:beforeCleanupElement", (event) => {
    const elt = event.target;
    if (typeof window.Chart === "undefined" || !elt.querySelectorAll) return;
    elt.querySelectorAll("canvas").forEach((c) => {
      const chart = window.Chart.getChart(c);
      if (chart) chart.destroy();
    });
  });

  // A refresh that fails (server restarting, network) leaves the old panel in place; say so.
  document.addEventListener("htmx:responseError", (event) => {
    const elt = event.detail.elt;
    if (elt && elt.classList) elt.classList.add("stale");
  });

  if (window.htmx) {
    window.htmx.onLoad(init); // the page itself, then every panel htmx swaps in
  } else {
    document.addEventListener("DOMContentLoaded", () => init(document));
  }
})();
