"""Dashboard figures over REST (leads and admins of the project):

- ``GET /api/projects/ID/stats``: every panel in one call (``?panels=a,b`` for some);
- ``GET /api/projects/ID/stats/<panel>``: one panel as JSON, or as CSV with ``?format=csv`` or
  ``/stats/<panel>.csv``;
- ``GET /api/projects/ID/stats/items?annotator=ID`` or ``?given=..&suggested=..``: the tasks
  behind a figure;
- ``GET /api/stats/overview`` (and ``.csv``): one line per project the caller leads.

Each calls one domain function of :mod:`labeling.stats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Response, jsonify, request

from labeling import stats
from labeling.errors import Invalid
from web.api import api_user, bp

#: Pairs of annotators sharing fewer items get no kappa (too few to say anything).
KAPPA_MIN_SHARED = 5


def agreement_calculator(triples: list[tuple[int, int, str]], class_names: list[str]) -> dict[str, Any]:
    """Agreement of ``(item, annotator, label)`` triples, with the metrics of :mod:`quality.agreement`.

    ``labeling`` cannot import ``quality``, so the web layer hands this to
    :func:`labeling.stats.project_stats`, which calls it (and caches the result) when no QC run
    has stored agreement. Returns Krippendorff's alpha for the project and per label, the
    share of unanimous items, and Cohen's kappa of every pair of annotators who share at least
    :data:`KAPPA_MIN_SHARED` items (annotators named by user id).
    """
    from quality import QCInputError, agreement

    names = list(class_names)
    names += sorted({t[2] for t in triples} - set(names))
    code = {n: i for i, n in enumerate(names)}
    items = {t: i for i, t in enumerate(sorted({t[0] for t in triples}))}
    users = sorted({t[1] for t in triples})
    column = {u: j for j, u in enumerate(users)}
    matrix = np.full((len(items), len(users)), np.nan)
    for item, user, label in triples:
        matrix[items[item], column[user]] = code[label]
    per_item = (~np.isnan(matrix)).sum(axis=1)
    out: dict[str, Any] = {"n_items": int((per_item >= 2).sum()), "n_annotators": len(users)}
    if out["n_items"] == 0:
        return {**out, "note": "no item has labels from two annotators yet"}
    k = max(len(names), 2)
    try:
        out["alpha"] = agreement.krippendorff_alpha(matrix, n_classes=k)
    except QCInputError as exc:
        out["note"] = str(exc)
    per_class = agreement.krippendorff_alpha_per_class(matrix, n_classes=k)
    out["per_label"] = {names[c]: (None if np.isnan(v) else float(v)) for c, v in enumerate(per_class)}
    out["unanimous"] = agreement.unanimous_share(matrix)
    kappa, shared = agreement.pairwise_cohen_kappa(matrix, n_classes=k, min_shared=KAPPA_MIN_SHARED)
    a, b = np.triu_indices(len(users), k=1)
    keep = shared[a, b] >= KAPPA_MIN_SHARED
    out["kappa"] = [{"a": users[i], "b": users[j], "n": int(shared[i, j]),
                     "kappa": None if np.isnan(kappa[i, j]) else float(kappa[i, j])}
                    for i, j in zip(a[keep], b[keep], strict=True)]
    return out


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
    response = Response(stats.panel_csv(panel), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


@bp.get("/projects/<int:project_id>/stats")
def project_stats(project_id: int):
    return jsonify(stats.project_stats(api_user().user, project_id, _panels_arg(), agreement=agreement_calculator))


@bp.get("/projects/<int:project_id>/stats/items")
def stats_items(project_id: int):
    annotator = request.args.get("annotator", type=int)
    page = request.args.get("page", 1, type=int)
    return jsonify(stats.items(api_user().user, project_id, annotator=annotator, given=request.args.get("given"),
                               suggested=request.args.get("suggested"), run_id=request.args.get("run", type=int),
                               page=page))


@bp.get("/projects/<int:project_id>/stats/<string:panel>")
def project_panel(project_id: int, panel: str):
    name, fmt = _format(panel)
    data = stats.project_stats(api_user().user, project_id, [name], agreement=agreement_calculator)
    body = data["panels"][name]
    if fmt == "csv":
        return csv_response(body, f"project-{project_id}-{name}")
    return jsonify({**body, "project": data["project"], "generated_at": data["generated_at"]})


@bp.get("/stats/<string:name>")
def overview(name: str):
    name, fmt = _format(name)
    if name != "overview":
        raise Invalid(f"unknown statistics {name!r}; try /api/stats/overview",
                      [{"row": None, "field": "name", "detail": name}])
    data = stats.overview(api_user().user)
    return csv_response(data, "projects-overview") if fmt == "csv" else jsonify(data)
