"""The data manager: a project's task table (Label Studio's convention) for leads, admins and
reviewers. The page keeps its state (tab, filters, ordering, shown columns) in its address; its script
swaps in the table (``_table``) and the number of matching tasks (``_count``) from the same
arguments. Tabs and bulk actions go through ``/api/dm/views`` and ``/api/dm/actions``
(static/data_manager.js); the filters are :mod:`labeling.dm.filters`, one model for all."""

from __future__ import annotations

import json

from flask import render_template, request
from flask_login import current_user, login_required

from labeling.access import require_project
from labeling.db import read_session
from labeling.dm import actions, filters, table, views
from labeling.errors import Invalid
from labeling.media import thumbnail_for
from labeling.models import TaskState
from labeling.tasks import task_filters
from web.api.params import int_arg
from web.views import project_access
from web.views.projects import bp


def _user():
    return current_user.user


def _params(project_id: int) -> tuple[filters.PrepareParams, dict, int | None]:
    """The query the page's arguments stand for, the tab's data (or {}) and the tab's id.

    ``query`` (a Data Manager query, JSON) is what the page shows; without it, the tab's
    (``view``) filters and ordering; ``state`` (the older task list's links) adds a state filter.
    """
    view_id = int_arg("view", None, minimum=1)
    data: dict = {}
    if view_id:
        view = views.get_view(_user(), view_id)
        data = view.data or {}
        if view.project_id != project_id:
            raise filters.BadQuery("Project and View mismatch", [{"field": "view", "detail": "of another project"}])
    raw = request.args.get("query")
    query = json.loads(raw) if raw and _is_json_object(raw) else None
    if raw and query is None:
        raise filters.BadQuery("query must be a JSON object with filters and ordering",
                               [{"field": "query", "detail": "not a JSON object"}])
    if query is None:
        query = {"filters": data.get("filters"), "ordering": data.get("ordering") or []}
    state = request.args.get("state") or ""
    if state:
        if state not in TaskState.__members__ and state != "gold":
            raise Invalid(f"unknown task state {state!r} (choose from {', '.join(TaskState)}, gold)",
                          [{"field": "state", "detail": "unknown state"}])
        item = ({"filter": "filter:tasks:is_gold", "operator": "equal", "type": "Boolean", "value": True}
                if state == "gold" else
                {"filter": "filter:tasks:state", "operator": "equal", "type": "String", "value": state})
        old = (query.get("filters") or {}).get("items") or []
        query = {**query, "filters": {"conjunction": "and", "items": [*old, item]}}
    query = {k: v for k, v in query.items() if k in ("filters", "ordering")}
    return filters.parse(query), data, view_id


def _is_json_object(raw: str) -> bool:
    if len(raw) > filters.MAX_QUERY_CHARS:
        raise filters.BadQuery(f"the query is longer than {filters.MAX_QUERY_CHARS} characters",
                               [{"field": "query", "detail": "too long"}])
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return False


def _search_where(project_id: int) -> tuple[str, list]:
    q = (request.args.get("q") or "").strip()
    conds = task_filters(project_id, search=q)[1:] if q or "q" in request.args else []
    return q, conds


def _shown(page: table.Page, data: dict) -> list[table.Column]:
    """The columns shown, in order: ``columns`` (ids, comma separated), else the tab's
    ``columnsOrder`` less its ``hiddenColumns.explore``, else the defaults."""
    by_id = {c.id: c for c in page.columns}
    raw = request.args.get("columns")
    if raw:
        ids = [c for c in raw.split(",") if c in by_id]
    else:
        order = [c for c in data.get("columnsOrder") or [] if c in by_id]
        order += [c for c in by_id if c not in order]
        hidden = (data.get("hiddenColumns") or {}).get("explore")
        hidden = set(table.DEFAULT_HIDDEN if hidden is None else hidden)
        ids = [c for c in order if c not in hidden]
    return [by_id[c] for c in dict.fromkeys(ids or ["tasks:id"])]


def _table_context(project_id: int) -> dict:
    params, data, view_id = _params(project_id)
    q, search = _search_where(project_id)
    page_no = int_arg("page", 1, minimum=1, maximum=10**9)
    page = table.page(_user(), project_id, params, page_no=page_no, search=search)
    return {"page": page, "shown": _shown(page, data), "params": params, "data": data, "view_id": view_id, "q": q,
            "ordering": params.ordering[0] if params.ordering else "", "cell": table.cell,
            "project_id": project_id, "thumbnail_for": thumbnail_for}


@bp.get("/projects/<int:project_id>/tasks")
@login_required
@project_access("see_all")
def tasks(project_id: int):
    """The data manager page."""
    with read_session() as s:  # the project alone: its per-state counts would read every task
        project = require_project(s, _user(), project_id, "see_all")
    ctx = _table_context(project_id)
    tabs = [views.view_json(v) for v in views.list_views(_user(), project_id)]
    acts = actions.list_actions(_user(), project_id) if ctx["page"].can_manage else []
    state = {"project": project_id, "view": ctx["view_id"], "tabs": tabs, "actions": acts,
             "filters": ctx["params"].filters.model_dump() if ctx["params"].filters else
             {"conjunction": "and", "items": []},
             "ordering": ctx["params"].ordering[:1], "columns": [c.id for c in ctx["shown"]], "q": ctx["q"],
             "all_columns": [{"id": c.id, "title": c.title, "sortable": bool(c.order)} for c in ctx["page"].columns],
             "states": [*TaskState], "sees_gold": ctx["page"].sees_gold, "can_manage": ctx["page"].can_manage,
             "default_hidden": list(table.DEFAULT_HIDDEN)}
    return render_template("projects/tasks.html", project=project, dm_state=state,
                           people=table.people(_user(), project_id), **ctx)


@bp.get("/projects/<int:project_id>/tasks/_table")
@login_required
@project_access("see_all")
def tasks_table(project_id: int):
    """The table alone (htmx swaps it in after a sort, a filter, a page or a column change)."""
    return render_template("projects/_dm_table.html", **_table_context(project_id))


@bp.get("/projects/<int:project_id>/tasks/_count")
@login_required
@project_access("see_all")
def tasks_count(project_id: int):
    """How many tasks match the page's filters (a request of its own: a count may take a while)."""
    params, _, _ = _params(project_id)
    q, search = _search_where(project_id)
    n = table.count(_user(), project_id, params, search=search)
    filtered = bool(q or (params.filters and params.filters.items))
    return render_template("projects/_dm_count.html", n=n, filtered=filtered)
