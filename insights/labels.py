"""Labels and confusion: labels given vs final, the noise rate per QC run, the confusion
between given and suggested labels (the latest QC run's confident joint), the most confused
pairs, and labels as text for people.

Labels are read from the Label Studio JSON results in SQL (:mod:`insights.sql`).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from insights.cache import annotation_sums
from insights.context import Ctx, I, R, iso, panel, ratio, rounded
from insights.sql import LABEL_FIELD, label_params, primary
from labeling import tally

CONFUSED_PAIRS = 15

NOISE_RUNS = 50


def _final_counts(ctx: Ctx) -> dict[str, int]:
    """Final labels of the accepted tasks, from the tallies the database keeps as tasks change
    (:mod:`labeling.tally`; as :func:`insights.sql.labels_sql` with ``strings_too`` reads them)."""
    params = label_params(ctx)
    return tally.final_labels(ctx.conn, ctx.pid, control=params["ctrl"], field=params["field"])


def labels_panel(ctx: Ctx) -> dict:
    columns = ["label", "given", "given_share", "final", "final_share"]
    if primary(ctx.schema) is None:
        return panel("labels", columns, [], note="this label config has no labels to count")
    params = label_params(ctx)
    given = {lab: v[0] for lab, v in annotation_sums(ctx)["labels"].items()}
    final = _final_counts(ctx)
    names = list(ctx.schema.primary_control.labels)
    names += sorted((set(given) | set(final)) - set(names))
    n_given, n_final = sum(given.values()), sum(final.values())
    rows = [{"label": name, "given": given.get(name, 0), "given_share": rounded(ratio(given.get(name, 0), n_given)),
             "final": final.get(name, 0), "final_share": rounded(ratio(final.get(name, 0), n_final))}
            for name in names]
    return panel("labels", columns, rows, control=params["ctrl"], given_total=n_given, final_total=n_final,
                  final_of="accepted tasks")


def noise_panel(ctx: Ctx) -> dict:
    runs = ctx.conn.execute(
        sa.select(R.c.id, R.c.created_at, R.c.finished_at, R.c.noise_rate, R.c.per_class_noise, R.c.n_items,
                  R.c.n_issues, R.c.model_name, R.c.cv_accuracy, R.c.class_names)
        .where(R.c.project_id == ctx.pid, R.c.status == "done").order_by(R.c.id.desc()).limit(NOISE_RUNS)).all()
    runs = runs[::-1]
    classes: list[str] = []
    for run in runs:
        for c in [*(run.class_names or []), *(run.per_class_noise or {})]:
            if str(c) not in classes:
                classes.append(str(c))
    rows = []
    for run in runs:
        per_class = {str(k): v for k, v in (run.per_class_noise or {}).items()}
        rows.append({"run_id": run.id, "finished_at": iso(run.finished_at or run.created_at),
                     "noise_rate": rounded(run.noise_rate), "items": run.n_items, "issues": run.n_issues,
                     "model": run.model_name, "cv_accuracy": rounded(run.cv_accuracy),
                     **{f"noise:{c}": rounded(per_class.get(c)) for c in classes}})
    columns = ["run_id", "finished_at", "noise_rate", "items", "issues", "model", "cv_accuracy",
               *(f"noise:{c}" for c in classes)]
    latest = rows[-1] if rows else None
    # the headline figure from the run's own rate (as the QC page and the dataset card read it): the
    # 4-digit rounding of the rows, rounded again to one decimal of a percent, gave 11.5 % for 0.11445
    return panel("noise", columns, rows, classes=classes,
                  latest=rounded(runs[-1].noise_rate, 6) if latest else None,
                  latest_run=latest["run_id"] if latest else None)


def confusion_panel(ctx: Ctx) -> dict:
    run = ctx.conn.execute(
        sa.select(R.c.id, R.c.class_names, R.c.confident_joint)
        .where(R.c.project_id == ctx.pid, R.c.status == "done", R.c.id == ctx.run.id)).first() if ctx.run else None
    names = [str(c) for c in (run.class_names or [])] if run else []
    matrix = run.confident_joint if run else []
    if not names or not matrix or len(matrix) != len(names):
        return panel("confusion", ["given", "suggested", "count", "row_share"], [], class_names=names, matrix=[],
                      run_id=run.id if run else None, note="no QC run with a confident joint yet")
    rows = []
    for given, counts in zip(names, matrix, strict=True):
        row_total = sum(counts) or 0
        for suggested, n in zip(names, counts, strict=False):
            rows.append({"given": given, "suggested": suggested, "count": rounded(n, 2),
                         "row_share": rounded(ratio(n, row_total))})
    total = sum(sum(r) for r in matrix)
    off = total - sum(matrix[i][i] for i in range(len(names)) if i < len(matrix[i]))
    return panel("confusion", ["given", "suggested", "count", "row_share"], rows, class_names=names,
                  matrix=[[rounded(v, 2) for v in r] for r in matrix], run_id=run.id,
                  off_diagonal_share=rounded(ratio(off, total)))


def confused_pairs_panel(ctx: Ctx) -> dict:
    columns = ["given", "suggested", "items", "given_json", "suggested_json"]
    if ctx.run is None:
        return panel("confused_pairs", columns, [], run_id=None)
    given, suggested = sa.cast(I.c.given, sa.Text), sa.cast(I.c.suggested, sa.Text)
    found = ctx.conn.execute(
        sa.select(given.label("g"), suggested.label("s"), sa.func.count().label("n"))
        .where(I.c.run_id == ctx.run.id, I.c.is_issue.is_(True), I.c.kind == "label", I.c.suggested.is_not(None),
               suggested != "null")
        .group_by(given, suggested).order_by(sa.func.count().desc(), given, suggested).limit(CONFUSED_PAIRS * 2)).all()
    rows = []
    for g, s, n in found:
        if g == s or g is None or s is None:
            continue
        rows.append({"given": label_text(g), "suggested": label_text(s), "items": n, "given_json": g,
                     "suggested_json": s})
    return panel("confused_pairs", columns, rows[:CONFUSED_PAIRS], run_id=ctx.run.id)


def label_text(stored: str | None) -> str:
    """A label as stored in JSON (``"cat"``, ``["a", "b"]``, a result) -> text for people."""
    if stored is None:
        return ""
    try:
        value = json.loads(stored)
    except ValueError:
        return str(stored)
    return label_value_text(value)


def label_value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(label_value_text(v) for v in value)
    if isinstance(value, dict):
        inner = value.get("value") if isinstance(value.get("value"), dict) else value
        for field in LABEL_FIELD.values():
            if isinstance(inner.get(field), list):
                return ", ".join(str(v) for v in inner[field])
    return json.dumps(value) if value is not None else ""
