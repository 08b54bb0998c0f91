"""Dashboard figures over REST (leads and admins of the project):

- ``GET /api/projects/ID/stats``: every panel in one call (``?panels=a,b`` for some);
- ``GET /api/projects/ID/stats/<panel>``: one panel as JSON, or as CSV with ``?format=csv`` or
  ``/stats/<panel>.csv``;
- ``GET /api/projects/ID/stats/items?annotator=ID`` or ``?given=..&suggested=..``: the tasks
  behind a figure;
- ``GET /api/stats/overview`` (and ``.csv``): one line per project the caller leads.

Each calls one domain function of :mod:`insights`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from insights import csv, dashboard
from insights import items as figure_items
from insights import overview as projects_overview
from labeling.errors import Invalid
from web.api import api_user, bp, readable
from web.api import schemas as s
from web.api.describe import File, doc
from web.api.params import int_arg


def _panels_arg() -> list[str] | None:
    raw = request.args.get("panels", "").strip()
    if not raw:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def _format(name: str) -> tuple[str, str]:
    """``(panel name, "json" | "csv")`` from ``name[.csv|.json]`` and ``?format=``."""
    fmt = request.args.get("format", "json").lower()
    for ext in ("csv", "json"):
        if name.endswith("." + ext):
            name, fmt = name[: -len(ext) - 1], ext
    if fmt not in ("json", "csv"):
        raise Invalid(f"format must be json or csv, not {fmt!r}", [{"row": None, "field": "format", "detail": fmt}])
    return name, fmt


def csv_response(panel: dict, filename: str) -> Response:
    response = Response(csv.panel_csv(panel), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


@bp.get("/projects/<int:project_id>/stats")
@readable
@doc(summary="Every dashboard panel of a project (or those asked for)", query=s.StatsQuery, responses={200: dict[str, Any]}, tags=('statistics',))
def project_stats(project_id: int):
    return jsonify(dashboard.project_stats(api_user().user, project_id, _panels_arg()))


@bp.get("/projects/<int:project_id>/stats/items")
@readable
@doc(summary="The tasks behind a dashboard figure", query=s.ItemsQuery, responses={200: dict[str, Any]}, tags=('statistics',))
def stats_items(project_id: int):
    annotator = int_arg("annotator")
    page = int_arg("page", 1, minimum=1)
    return jsonify(figure_items.items(api_user().user, project_id, annotator=annotator,
                                      given=request.args.get("given"), suggested=request.args.get("suggested"),
                                      run_id=int_arg("run"), page=page))


@bp.get("/projects/<int:project_id>/stats/<string:panel>")
@readable
@doc(summary="One dashboard panel, JSON or CSV", query=s.PanelQuery, responses={200: (dict[str, Any], File(('text/csv',), 'the panel as CSV'))}, tags=('statistics',))
def project_panel(project_id: int, panel: str):
    name, fmt = _format(panel)
    data = dashboard.project_stats(api_user().user, project_id, [name])
    body = data["panels"][name]
    if fmt == "csv":
        return csv_response(body, f"project-{project_id}-{name}")
    return jsonify({**body, "project": data["project"], "generated_at": data["generated_at"]})


@bp.get("/stats/<string:name>")
@readable
@doc(summary="One line per project the caller leads, JSON or CSV", query=s.PanelQuery, responses={200: (dict[str, Any], File(('text/csv',), 'the overview as CSV'))}, tags=('statistics',))
def overview(name: str):
    name, fmt = _format(name)
    if name != "overview":
        raise Invalid(f"unknown statistics {name!r}; try /api/stats/overview",
                      [{"row": None, "field": "name", "detail": name}])
    data = projects_overview.overview(api_user().user)
    return csv_response(data, "projects-overview") if fmt == "csv" else jsonify(data)
