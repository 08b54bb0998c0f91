"""Dashboards for leads: ``/projects/<id>/dashboard`` (every panel of :mod:`insights.dashboard`,
each refreshed by htmx every 30 s), the tasks behind a figure, and ``/overview`` across
projects. Charts are drawn by ``static/dashboard.js`` with Chart.js from the chart specs built
here (``data-chart`` attributes); tables sort in the browser."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup

from insights import dashboard
from insights import items as figure_items
from insights import overview as projects_overview
from web.api.params import int_arg
from web.views import project_access

bp = Blueprint("dashboard", __name__)

#: The panels of the page, in order, with their layout width (1: half, 2: two thirds, 3: full).
LAYOUT = [("progress", 2), ("states", 1), ("throughput", 2), ("queues", 1), ("labels", 1), ("noise", 1),
          ("confusion", 1), ("confused_pairs", 1), ("agreement", 1), ("kappa", 1), ("annotators", 3),
          ("datasets", 3)]
#: What the headline tiles need.
SUMMARY_PANELS = ["states", "progress", "throughput", "agreement", "noise", "queues"]
REFRESH = "every 30s"
PENDING_REFRESH = "every 3s"

COLORS = {"labeled": "#2350d8", "accepted": "#1a7f37", "suspect": "#d4a72c", "excluded": "#c0262d",
          "total": "#141a2a", "annotations": "#2350d8", "skips": "#aab2c0", "given": "#2350d8",
          "final": "#1a7f37", "noise": "#c0262d", "alpha": "#6639ba"}
SERIES = ["#2350d8", "#1a7f37", "#d4a72c", "#c0262d", "#6639ba", "#0e8a8a", "#b35900", "#bf3989", "#5b6475",
          "#57ab5a"]


def _user():
    return current_user.user


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def chart_for(panel: dict) -> dict[str, Any] | None:
    """The Chart.js spec of a panel (``type``, ``labels``, ``datasets``, ``options``), or None."""
    name, rows = panel["panel"], panel["rows"]
    if not rows:
        return None
    periods = [r.get("period") for r in rows]
    if name == "progress":
        datasets = [{"label": label, "data": [r[f"{k}_total"] for r in rows], "borderColor": color,
                     "backgroundColor": color, "pointRadius": 0, "borderWidth": 2}
                    for k, label, color in (("done", "done labeling (every label asked for)", COLORS["labeled"]),
                                            ("final", "accepted or excluded", COLORS["accepted"]))]
        datasets.append({"label": "all tasks", "data": [panel["tasks"]] * len(rows), "borderColor": COLORS["total"],
                         "backgroundColor": COLORS["total"], "pointRadius": 0, "borderWidth": 1, "borderDash": [6, 4]})
        if len(rows) < 3:  # a line needs a few periods: bars until then
            for d in datasets:
                d.pop("borderDash", None)
            return {"type": "bar", "labels": periods, "datasets": datasets, "axes": {"y": "tasks"}}
        return {"type": "line", "labels": periods, "datasets": datasets, "axes": {"y": "tasks"}}
    if name == "throughput":
        return {"type": "bar", "labels": periods, "stacked": True,
                "datasets": [{"label": f"annotations per {panel['unit']}", "data": [r["annotations"] for r in rows],
                              "backgroundColor": COLORS["annotations"], "stack": "s"},
                             {"label": f"skips per {panel['unit']}", "data": [r["skips"] for r in rows],
                              "backgroundColor": COLORS["skips"], "stack": "s"}],
                "axes": {"y": f"per {panel['unit']}"}}
    if name == "labels":
        return {"type": "bar", "labels": [r["label"] for r in rows], "percent": True,
                "datasets": [{"label": f"given ({panel.get('given_total', 0)} labels)",
                              "data": [_pct(r["given_share"]) for r in rows], "backgroundColor": COLORS["given"]},
                             {"label": f"final ({panel.get('final_total', 0)} accepted tasks)",
                              "data": [_pct(r["final_share"]) for r in rows], "backgroundColor": COLORS["final"]}],
                "axes": {"y": "% of labels"}}
    if name == "noise":
        labels = [f"run {r['run_id']} · {(r['finished_at'] or '')[:10]}" for r in rows]
        datasets = [{"label": "estimated noise rate", "data": [_pct(r["noise_rate"]) for r in rows],
                     "borderColor": COLORS["noise"], "backgroundColor": COLORS["noise"], "borderWidth": 3}]
        for i, c in enumerate(panel.get("classes", [])):
            datasets.append({"label": f"class {c}", "data": [_pct(r.get(f"noise:{c}")) for r in rows],
                             "borderColor": SERIES[i % len(SERIES)], "backgroundColor": SERIES[i % len(SERIES)],
                             "borderWidth": 1, "hidden": True})
        return {"type": "line", "labels": labels, "datasets": datasets, "percent": True,
                "axes": {"y": "% of labels estimated wrong"}}
    if name == "agreement":
        return {"type": "bar", "labels": [r["label"] for r in rows], "horizontal": True,
                "datasets": [{"label": "Krippendorff's alpha", "data": [r["alpha"] for r in rows],
                              "backgroundColor": COLORS["alpha"]}],
                "axes": {"x": "alpha (1 = perfect agreement, 0 = chance)"}, "min": -0.2, "max": 1}
    return None


def heat(share: float | None, off_diagonal: bool = False) -> str:
    """A cell's share of its row as the CSS custom property ``--v`` (0..1) of the heatmap.

    Off the diagonal, shares are small (a few percent is already a lot of confusion), so they
    are scaled up fivefold before they saturate.
    """
    v = 0.0 if share is None else share * (5 if off_diagonal else 1)
    v = max(0.0, min(1.0, v))
    return f"--v: {v:.3f}" + ("; color: #fff" if v > 0.55 else "")


def _render_panel(project_id: int, panel: dict, width: int) -> Markup:
    # a panel whose figures are being computed in the background asks again soon
    refresh = PENDING_REFRESH if panel.get("pending") else REFRESH
    return Markup(render_template(f"dashboard/_{panel['panel']}.html", panel=panel, project_id=project_id,
                                  width=width, chart=chart_for(panel), heat=heat, refresh=refresh))


@bp.get("/projects/<int:project_id>/dashboard")
@login_required
def page(project_id: int):
    data = dashboard.project_stats(_user(), project_id)
    panels = [_render_panel(project_id, data["panels"][name], width) for name, width in LAYOUT]
    return render_template("dashboard/page.html", data=data, project=data["project"], project_id=project_id,
                           p=data["panels"], panels=panels, refresh=REFRESH)


@bp.get("/projects/<int:project_id>/dashboard/panel/<string:name>")
@login_required
def panel(project_id: int, name: str):
    """One panel (htmx refresh); ``summary`` is the row of headline figures."""
    if name == "summary":
        data = dashboard.project_stats(_user(), project_id, SUMMARY_PANELS)
        return render_template("dashboard/_summary.html", p=data["panels"], project_id=project_id, refresh=REFRESH,
                               data=data)
    width = dict(LAYOUT).get(name)
    if width is None:
        abort(404)
    data = dashboard.project_stats(_user(), project_id, [name])
    return _render_panel(project_id, data["panels"][name], width)


@bp.get("/projects/<int:project_id>/dashboard/items")
@login_required
@project_access("manage")
def items(project_id: int):
    data = figure_items.items(_user(), project_id, annotator=int_arg("annotator"),
                              given=request.args.get("given"), suggested=request.args.get("suggested"),
                              run_id=int_arg("run"), page=int_arg("page", 1, minimum=1))
    pages = max((data["total"] + data["page_size"] - 1) // data["page_size"], 1)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("dashboard/items.html", data=data, project_id=project_id, pages=pages, args=args)


@bp.get("/overview")
@login_required
def overview():
    data = projects_overview.overview(_user())
    return render_template("dashboard/overview.html", data=data, refresh=REFRESH)


@bp.get("/overview/_table")
@login_required
def overview_table():
    return render_template("dashboard/_overview_table.html", data=projects_overview.overview(_user()), refresh=REFRESH)
