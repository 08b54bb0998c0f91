"""The agreement panel's figures per control for the types cleanlab has no method for: rankings
(Kendall's tau), pairwise picks and relations (exact match), HTML and dialogue spans (span F1),
taxonomy paths (Jaccard), image regions (IoU, OKS). They come from the latest QC run that
measured them: its ``agreement["controls"]`` (every run's agreement step,
:mod:`quality.run.control_agreement`), or the agreement its own scorer measured on the primary
control (taxonomy, dialogue spans, regions), with the worst tasks of each (ARCHITECTURE.md,
insights)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from insights.context import Ctx, R, rounded
from labeling.models import LabelIssue

__all__ = ["WORST", "controls_data"]

#: How many of the worst tasks each control names.
WORST = 5
_LI = LabelIssue.__table__
_PRIMARY_METRICS = {"jaccard": "Jaccard", "f1": "span F1", "IoU": "IoU", "OKS": "OKS"}


def _primary(ctx: Ctx, run_id: int, raw: dict) -> dict | None:
    """The agreement a run's own scorer measured on the primary control, as a control row."""
    measure = raw.get("measure")
    mean = raw.get("mean_pairwise", raw.get("region_agreement"))
    if measure not in _PRIMARY_METRICS or mean is None:
        return None
    q = (sa.select(_LI.c.task_id, _LI.c.score).where(_LI.c.run_id == run_id, _LI.c.kind == "label",
                                                      _LI.c.score < 1.0)
         .order_by(_LI.c.score, _LI.c.task_id).limit(WORST))
    worst = [{"task_id": tid, "value": rounded(score)} for tid, score in ctx.conn.execute(q)]
    n_disagree = ctx.conn.execute(sa.select(sa.func.count()).select_from(_LI).where(
        _LI.c.run_id == run_id, _LI.c.kind == "label", _LI.c.is_issue == sa.true())).scalar_one()
    control = ctx.schema.primary_control
    return {"control": control.name, "type": control.type, "metric": _PRIMARY_METRICS[measure],
            "mean": rounded(mean), "n_tasks": raw.get("n_items"), "n_disagree": n_disagree, "worst": worst}


def controls_data(ctx: Ctx) -> dict[str, Any]:
    """``{"controls": [{"control", "type", "metric", "mean", "n_tasks", "n_disagree", "worst":
    [{"task_id", "value"}]}], "controls_source": "QC run N"}`` from the latest finished QC run
    (of the last five) that measured any; empty when none did."""
    runs = ctx.conn.execute(sa.select(R.c.id, R.c.agreement).where(R.c.project_id == ctx.pid, R.c.status == "done")
                            .order_by(R.c.id.desc()).limit(5))
    for run_id, raw in runs.all():
        raw = raw or {}
        rows = []
        first = _primary(ctx, run_id, raw)
        if first is not None:
            rows.append(first)
        for c in raw.get("controls") or []:
            if isinstance(c, dict):
                rows.append({"control": c.get("control"), "type": c.get("type"), "metric": c.get("metric"),
                             "mean": rounded(c.get("mean")), "n_tasks": c.get("n_tasks"),
                             "n_disagree": c.get("n_disagree"),
                             "worst": [{"task_id": w.get("task_id"), "value": rounded(w.get("value"))}
                                       for w in c.get("worst") or [] if isinstance(w, dict)]})
        if rows:
            return {"controls": rows, "controls_source": f"QC run {run_id}"}
    return {}
