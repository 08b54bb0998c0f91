// The data manager page (templates/projects/tasks.html): tabs (the API's views), a filter
// builder with Label Studio's filter model, columns to show, hide and reorder (sortablejs),
// sorting by a header, selection and bulk actions (/api/dm/actions). htmx.swap puts in the table
// and the count; the page's address keeps its state. No user data goes through innerHTML.
(() => {
  const root = document.getElementById("dm");
  if (!root) return;
  const S = JSON.parse(document.getElementById("dm-state").textContent);
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "dataset") Object.assign(node.dataset, v);
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };

  const titles = Object.fromEntries(S.all_columns.map((c) => [c.id, c.title]));
  const tabs = S.tabs;
  const state = {
    view: S.view,
    filters: S.filters && S.filters.items ? S.filters : { conjunction: "and", items: [] },
    ordering: S.ordering || [],
    order: [...S.columns, ...S.all_columns.map((c) => c.id).filter((id) => !S.columns.includes(id))],
    shown: new Set(S.columns),
    q: S.q || "",
    page: 1,
  };
  // the selection: ids on pages, or every task that matches less the ones unticked
  const selection = { all: false, ids: new Set(), excluded: new Set() };

  // ------------------------------------------------------------------ addresses and reloads

  function query() {
    return JSON.stringify({ filters: state.filters, ordering: state.ordering });
  }

  function params() {
    const p = new URLSearchParams();
    if (state.view) p.set("view", state.view);
    p.set("query", query());
    p.set("columns", state.order.filter((id) => state.shown.has(id)).join(","));
    if (state.q) p.set("q", state.q);
    if (state.page > 1) p.set("page", state.page);
    return p.toString();
  }

  // Each reload is numbered; an answer older than the newest asked for is dropped, so quick
  // changes always end on the newest state (htmx.ajax would drop the newer request instead).
  // While the table reloads its old rows cannot be selected: a click on "select the page" must
  // never take rows of the previous filter (the count may arrive first).
  const latest = { table: 0, count: 0 };
  async function load(kind, url, target) {
    const n = ++latest[kind];
    const box = document.querySelector(target);
    if (kind === "table") { box.inert = true; box.setAttribute("aria-busy", "true"); }
    let response, html;
    try {
      response = await fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } });
      html = await response.text();
    } catch (e) {
      response = { ok: false, status: "nothing (the network failed)" };
    }
    if (n !== latest[kind]) return;
    if (kind === "table") { box.inert = false; box.removeAttribute("aria-busy"); }
    if (!response.ok) {
      let detail = `the server answered ${response.status}`;
      try { detail = JSON.parse(html).detail || detail; } catch (e) { /* an HTML page */ }
      say(`Could not load the tasks: ${detail}`, "error");
      return;
    }
    htmx.swap(target, html, { swapStyle: "innerHTML" });
    afterLoad(target);
  }

  function reload({ count = true } = {}) {
    const p = params();
    history.replaceState(null, "", `${root.dataset.pageUrl}?${p}`);
    load("table", `${root.dataset.tableUrl}?${p}`, "#dm-table");
    if (count) {
      $("dm-count-wrap").textContent = "counting…";
      load("count", `${root.dataset.countUrl}?${p}`, "#dm-count-wrap");
    }
  }

  function changed({ resetSelection = true } = {}) {
    state.page = 1;
    if (resetSelection) clearSelection();
    renderChips();
    reload();
    saveTab();
  }

  function say(text, kind = "") {
    const box = $("dm-result");
    box.replaceChildren(el("div", { class: `flash ${kind ? "flash-" + kind : ""}` }, text));
  }

  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let detail = `the server answered ${xhr.status}`;
    try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* an HTML page */ }
    say(`Could not load the tasks: ${detail}`, "error");
  });

  // ------------------------------------------------------------------ tabs (the API's views)

  function tabData() {
    const tab = tabs.find((t) => t.id === state.view);
    const hidden = state.order.filter((id) => !state.shown.has(id));
    return {
      ...(tab ? tab.data : {}),
      filters: state.filters,
      ordering: state.ordering,
      hiddenColumns: { ...((tab && tab.data.hiddenColumns) || {}), explore: hidden },
      columnsOrder: state.order,
    };
  }

  let saving = null;
  function saveTab() {
    if (!state.view) return;
    const data = tabData();
    const tab = tabs.find((t) => t.id === state.view);
    if (tab) tab.data = data;
    clearTimeout(saving);
    saving = setTimeout(async () => {
      const r = await labelfab.api("PATCH", `/api/dm/views/${state.view}`, { data });
      if (!r.ok) say(`The tab was not saved: ${r.data && r.data.detail}`, "error");
    }, 300);
  }

  function go(viewId) {
    const p = new URLSearchParams();
    if (viewId) p.set("view", viewId);
    location.assign(`${root.dataset.pageUrl}?${p}`);
  }

  function renderTabs() {
    const bar = $("dm-tabs");
    const all = el("button", { type: "button", role: "tab", class: "dm-tab", "aria-selected": String(!state.view) },
      "All tasks");
    all.addEventListener("click", () => go(null));
    const items = [all];
    for (const tab of tabs) {
      const b = el("button", { type: "button", role: "tab", class: "dm-tab", "aria-selected": String(tab.id === state.view),
        dataset: { view: tab.id } }, (tab.data && tab.data.title) || `Tab ${tab.id}`);
      b.addEventListener("click", () => { if (tab.id !== state.view) go(tab.id); });
      items.push(b);
    }
    const add = el("button", { type: "button", class: "dm-tab-add", id: "dm-tab-add",
      title: "A new tab with the filters, order and columns shown now" }, "+ Save as new tab");
    add.addEventListener("click", async () => {
      const title = `Tab ${tabs.length + 1}`;
      const r = await labelfab.api("POST", "/api/dm/views", { project: S.project, data: { ...tabData(), title } });
      if (r.ok) go(r.data.id); else say(`The tab was not created: ${r.data && r.data.detail}`, "error");
    });
    items.push(add);
    if (state.view) {
      const rename = el("button", { type: "button", class: "link dm-tab-rename", id: "dm-tab-rename" }, "Rename");
      rename.addEventListener("click", () => startRename());
      const del = el("button", { type: "button", class: "link-danger", id: "dm-tab-delete" }, "Delete tab");
      del.addEventListener("click", async () => {
        if (!window.confirm("Delete this tab? Its filters, order and columns go with it; the tasks stay.")) return;
        const r = await labelfab.api("DELETE", `/api/dm/views/${state.view}`);
        if (r.ok) go(null); else say(`The tab was not deleted: ${r.data && r.data.detail}`, "error");
      });
      items.push(rename, del);
    }
    bar.replaceChildren(...items);
  }

  function startRename() {
    const tab = tabs.find((t) => t.id === state.view);
    const button = document.querySelector(`.dm-tab[data-view="${state.view}"]`);
    const input = el("input", { type: "text", id: "dm-tab-title", maxlength: "200", "aria-label": "Tab title",
      value: (tab.data && tab.data.title) || "" });
    button.replaceWith(input);
    input.focus();
    input.select();
    input.addEventListener("keydown", async (e) => {
      if (e.key === "Escape") renderTabs();
      if (e.key !== "Enter") return;
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      tab.data = { ...tabData(), title };
      const r = await labelfab.api("PATCH", `/api/dm/views/${state.view}`, { data: tab.data });
      if (!r.ok) say(`The tab was not renamed: ${r.data && r.data.detail}`, "error");
      renderTabs();
      const again = document.querySelector(`.dm-tab[data-view="${state.view}"]`);
      if (again) again.focus();
    });
  }

  // ------------------------------------------------------------------ columns

  function renderColumns() {
    const list = $("dm-column-list");
    list.replaceChildren(...state.order.map((id) => {
      const box = el("input", { type: "checkbox", id: `dm-col-${id}`, checked: state.shown.has(id) });
      box.addEventListener("change", () => {
        if (box.checked) state.shown.add(id); else state.shown.delete(id);
        changed({ resetSelection: false });
      });
      box.addEventListener("keydown", (e) => {
        if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
        e.preventDefault();
        const i = state.order.indexOf(id), j = e.key === "ArrowUp" ? i - 1 : i + 1;
        if (j < 0 || j >= state.order.length) return;
        [state.order[i], state.order[j]] = [state.order[j], state.order[i]];
        renderColumns();
        $(`dm-col-${id}`).focus();
        changed({ resetSelection: false });
      });
      return el("li", { dataset: { col: id } }, el("span", { class: "dm-handle", "aria-hidden": "true" }, "⠿"), box,
        el("label", { for: `dm-col-${id}` }, titles[id] || id));
    }));
  }

  Sortable.create($("dm-column-list"), {
    animation: 120,
    onEnd: () => {
      state.order = [...$("dm-column-list").children].map((li) => li.dataset.col);
      changed({ resetSelection: false });
    },
  });

  // ------------------------------------------------------------------ filters

  const OPERATORS = {
    text: [["contains", "contains"], ["not_contains", "does not contain"], ["equal", "is"], ["not_equal", "is not"]],
    number: [["in", "between"], ["greater_or_equal", "at least"], ["less_or_equal", "at most"], ["equal", "is"]],
    state: [["equal", "is"], ["not_equal", "is not"]],
    bool: [["equal", "is"]],
    person: [["contains", "includes"], ["not_contains", "does not include"]],
  };
  const TYPES = { text: "String", number: "Number", state: "String", bool: "Boolean", person: "List" };
  const OP_WORDS = Object.fromEntries(Object.values(OPERATORS).flat());
  const columnSelect = $("dm-f-column");
  const columnTitle = (f) => {
    const option = [...columnSelect.options].find((o) => o.value === f);
    return option ? option.textContent.trim() : f.replace("filter:tasks:", "");
  };
  const kind = () => columnSelect.selectedOptions[0].dataset.kind;

  function showValueFields() {
    const k = kind(), op = $("dm-f-operator").value;
    const wanted = new Set(k === "number" ? (op === "in" ? ["number", "range"] : ["number"]) : [k]);
    for (const box of $("dm-f-values").children) box.hidden = !wanted.has(box.dataset.for);
    document.querySelector('label[for="dm-f-min"]').textContent = op === "in" ? "From" : "Value";
  }

  function fillOperators() {
    $("dm-f-operator").replaceChildren(...OPERATORS[kind()].map(([v, t]) => el("option", { value: v }, t)));
    showValueFields();
  }
  columnSelect.addEventListener("change", fillOperators);
  $("dm-f-operator").addEventListener("change", showValueFields);

  function readValue(k, op) {
    if (k === "number") {
      const lo = $("dm-f-min").value, hi = $("dm-f-max").value;
      if (lo === "" || (op === "in" && hi === "")) return undefined;
      return op === "in" ? { min: Number(lo), max: Number(hi) } : Number(lo);
    }
    if (k === "state") return $("dm-f-state").value;
    if (k === "bool") return $("dm-f-bool").value === "true";
    if (k === "person") return Number($("dm-f-person").value);
    const text = $("dm-f-text").value.trim();
    return text === "" ? undefined : text;
  }

  $("dm-filter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const k = kind(), op = $("dm-f-operator").value, value = readValue(k, op);
    if (value === undefined) { say("Give the filter a value first.", "error"); return; }
    state.filters.items.push({ filter: columnSelect.value, operator: op, type: TYPES[k], value });
    $("dm-f-text").value = "";
    changed();
  });
  $("dm-conjunction").value = state.filters.conjunction || "and";
  $("dm-conjunction").addEventListener("change", () => {
    state.filters.conjunction = $("dm-conjunction").value;
    if (state.filters.items.length > 1) changed();
  });

  function describe(item) {
    let value = item.value;
    if (value && typeof value === "object") value = `${value.min} – ${value.max}`;
    if (item.filter === "filter:tasks:annotators") {
      const o = [...$("dm-f-person").options].find((x) => Number(x.value) === Number(item.value));
      value = o ? o.textContent : `user ${item.value}`;
    }
    if (typeof value === "boolean") value = value ? "yes" : "no";
    return `${columnTitle(item.filter)} ${OP_WORDS[item.operator] || item.operator} ${value}`;
  }

  function renderChips() {
    const items = state.filters.items;
    $("dm-chips").replaceChildren(...items.map((item, i) => {
      const text = describe(item);
      const x = el("button", { type: "button", class: "dm-chip-x", "aria-label": `Remove filter: ${text}` }, "×");
      x.addEventListener("click", () => {
        items.splice(i, 1);
        changed();
        const next = document.querySelector(".dm-chip-x") || columnSelect;
        next.focus();
      });
      return el("li", { class: "dm-chip" }, el("span", {}, text), x);
    }));
  }

  $("dm-search").addEventListener("submit", (e) => {
    e.preventDefault();
    state.q = $("q").value.trim();
    changed();
  });

  // ------------------------------------------------------------------ the table: sort, pages, selection

  $("dm-table").addEventListener("click", (e) => {
    const sort = e.target.closest(".dm-sort");
    if (sort) {
      const name = `tasks:${sort.dataset.order}`;
      state.ordering = [state.ordering[0] === name ? `-${name}` : name];
      state.page = 1;
      reload({ count: false });
      saveTab();
      return;
    }
    const pager = e.target.closest(".dm-page");
    if (pager) {
      state.page = Number(pager.dataset.page);
      reload({ count: false });
    }
  });

  $("dm-table").addEventListener("change", (e) => {
    if (e.target.id === "dm-all-page") {
      for (const box of document.querySelectorAll(".dm-select")) setRow(box, e.target.checked);
    } else if (e.target.classList.contains("dm-select")) {
      setRow(e.target, e.target.checked);
    }
    renderSelection();
  });

  function setRow(box, on) {
    box.checked = on;
    const id = Number(box.value);
    if (selection.all) { if (on) selection.excluded.delete(id); else selection.excluded.add(id); }
    else if (on) selection.ids.add(id); else selection.ids.delete(id);
  }

  function isSelected(id) {
    return selection.all ? !selection.excluded.has(id) : selection.ids.has(id);
  }

  function matching() {
    const count = document.getElementById("dm-count");
    return count ? Number(count.dataset.n) : null;
  }

  function selectedCount() {
    if (!selection.all) return selection.ids.size;
    const n = matching();
    return n === null ? null : n - selection.excluded.size;
  }

  function renderSelection() {
    const n = selectedCount();
    const boxes = [...document.querySelectorAll(".dm-select")];
    const pageAll = $("dm-all-page");
    if (pageAll) pageAll.checked = boxes.length > 0 && boxes.every((b) => b.checked);
    const some = selection.all || selection.ids.size > 0;
    $("dm-selected").textContent = some ? (selection.all ? `all ${n ?? ""} that match selected` : `${n} selected`) : "";
    const total = matching();
    const offer = $("dm-select-matching");
    offer.hidden = selection.all || !pageAll || !pageAll.checked || !total || total <= boxes.length || Boolean(state.q);
    offer.textContent = `Select all ${total} that match`;
    $("dm-clear-selection").hidden = !some;
    if ($("dm-action")) {
      $("dm-action").disabled = !some;
      $("dm-run").disabled = !some || !$("dm-action").value;
    }
  }

  function clearSelection() {
    selection.all = false;
    selection.ids.clear();
    selection.excluded.clear();
    for (const box of document.querySelectorAll(".dm-select")) box.checked = false;
    renderSelection();
  }

  $("dm-select-matching").addEventListener("click", () => {
    selection.all = true;
    selection.ids.clear();
    selection.excluded.clear();
    for (const box of document.querySelectorAll(".dm-select")) box.checked = true;
    renderSelection();
    $("dm-clear-selection").focus();
  });
  $("dm-clear-selection").addEventListener("click", clearSelection);

  function afterLoad(target) {
    if (target === "#dm-table") {
      for (const box of document.querySelectorAll(".dm-select")) box.checked = isSelected(Number(box.value));
    }
    renderSelection();
  }
  document.body.addEventListener("htmx:afterSwap", () => renderSelection());  // the first count

  // ------------------------------------------------------------------ bulk actions

  function selectedItems() {
    return selection.all ? { all: true, excluded: [...selection.excluded] } : { all: false, included: [...selection.ids] };
  }

  function field(f) {
    const id = `dm-field-${f.name}`;
    const input = el("input", { id, name: f.name, type: f.type === "number" ? "number" : "text" });
    if (f.type === "number") { input.min = "1"; input.max = "50"; input.required = true; }
    if (f.value !== undefined) input.value = String(f.value);
    return el("div", {}, el("label", { for: id }, f.label || f.name), input);
  }

  const dialog = $("dm-dialog");
  let pending = null;

  if ($("dm-action")) {
    $("dm-action").addEventListener("change", renderSelection);
    $("dm-run").addEventListener("click", () => {
      const id = $("dm-action").value;
      if (!id) return;
      if (id === "export") { exportSelection(); return; }
      const action = S.actions.find((a) => a.id === id);
      const d = action.dialog || {};
      $("dm-dialog-title").textContent = d.title || `${action.title}?`;
      $("dm-dialog-text").textContent = d.text || "";
      const n = selectedCount();
      $("dm-dialog-count").textContent = `${n ?? "All matching"} task${n === 1 ? "" : "s"} selected.`;
      const fields = (d.form || []).flatMap((group) => group.fields || []);
      $("dm-dialog-fields").replaceChildren(...fields.map(field));
      $("dm-dialog-ok").textContent = action.title;
      $("dm-dialog-ok").classList.toggle("danger", id.startsWith("delete"));
      pending = { id, fields };
      dialog.showModal();
    });
  }

  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok" || !pending) return;
    const { id, fields } = pending;
    pending = null;
    const body = { filters: state.filters, ordering: state.ordering, selectedItems: selectedItems() };
    for (const f of fields) {
      const v = $(`dm-field-${f.name}`).value;
      body[f.name] = f.type === "number" ? Number(v) : v;
    }
    say("Working…");
    const r = await labelfab.api("POST", `/api/dm/actions?project=${S.project}&id=${encodeURIComponent(id)}`, body);
    if (!r.ok) { say(`Refused: ${(r.data && r.data.detail) || r.status}`, "error"); return; }
    const lines = [el("p", {}, r.data.detail)];
    if (r.data.refused) {
      lines.push(el("ul", { class: "dm-refusals" }, ...(r.data.refusals || []).slice(0, 20).map((x) =>
        el("li", {}, `task ${x.id} (${x.state}): ${x.detail}`))));
    }
    $("dm-result").replaceChildren(el("div", { class: `flash ${r.data.refused ? "flash-warn" : "flash-success"}` }, ...lines));
    $("dm-action").value = "";
    clearSelection();
    reload();
  });

  function exportSelection() {
    // Label Studio's JSON export of the ticked rows, or of every task that matches the filters
    // (labelfab's ``query``: the same filters and selectedItems the bulk actions send)
    const url = new URL(root.dataset.exportUrl, location.href);
    url.searchParams.set("exportType", "JSON");
    url.searchParams.set("download_all_tasks", "true");
    if (selection.all) {
      url.searchParams.set("query", JSON.stringify({ filters: state.filters, selectedItems: selectedItems() }));
    } else {
      url.searchParams.set("ids", [...selection.ids].sort((a, b) => a - b).join(","));
    }
    const n = selectedCount();
    location.assign(url.toString());
    say(`Exporting ${n ?? "every matching"} task${n === 1 ? "" : "s"} (Label Studio's JSON; gold tasks stay out of exports).`);
  }

  renderTabs();
  renderColumns();
  renderChips();
  fillOperators();
  renderSelection();
})();
