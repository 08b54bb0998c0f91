"""Every QC run's agreement step: the annotators' agreement on each control cleanlab has no
method for (rankings, pairwise picks, HTML and dialogue spans, taxonomy paths, relations and
per-region answers, numbers and ratings, and the regions of every image region control;
:mod:`quality.task_agreement`), whatever the project's primary type.

For each scored task with two independent annotations or more, one ``agreement`` finding: its
score the worst control's figure on a 0..1 scale, ``is_issue`` when a control disagrees, and a
reason naming the controls and figures ("annotators rank differently (Kendall tau 0.20)"). The
policy sends a task with a flagged ``agreement`` finding to review with that finding
(``quality.policy``). The run's ``agreement["controls"]`` keeps, per control, the metric, its
mean, how many tasks disagree and the worst tasks (the dashboard's agreement panel).

A project whose primary control is one of these (kinds ``ranking``: Pairwise, Ranker;
``hypertext``: HyperTextLabels) is scored by this step alone (:func:`score_alone`, the scorers of
:mod:`quality.run.ranking` and :mod:`quality.run.hypertext`): every task gets a finding, a task
with one annotator "nothing to compare", so the policy accepts what agrees.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import sqlalchemy as sa

from labeling.db import read_session
from quality.agreement import independent_annotations
from quality.run.common import (
    ANNOTATION,
    BATCH,
    PREDICTION,
    TASK,
    Probs,
    ProgressFn,
    QCRunError,
    Scored,
)
from quality.run.load import Data
from quality.task_agreement import MEASURES, ControlAgreement, measured_controls, task_agreement

__all__ = ["KIND", "WORST", "agreement_findings", "measures", "score_alone"]

#: The issue kind of these findings.
KIND = "agreement"
#: How many of the worst tasks each control's summary names.
WORST = 5
#: Task types whose scorer already compares the annotators on the primary control (by agreement,
#: or for boxes by cleanlab against predictions): the step leaves that control out.
_PRIMARY_BY_AGREEMENT = ("taxonomy", "paragraphs", "detection", "keypoints", "segmentation")


def _results(data: Data) -> dict[int, list[list]]:
    """The independent annotation results of the run's tasks, per task id, earliest first."""
    if data.n == 0:
        return {}
    ids = set(data.task_ids.tolist())
    rows: list[tuple[int, list, bool]] = []
    with read_session() as s:
        q = (sa.select(ANNOTATION.c.task_id, ANNOTATION.c.result, ANNOTATION.c.parent_prediction)
             .select_from(ANNOTATION.join(TASK, TASK.c.id == ANNOTATION.c.task_id))
             .where(ANNOTATION.c.project_id == int(data.project.id), ANNOTATION.c.was_cancelled == sa.false(),
                    TASK.c.id >= int(data.task_ids[0]), TASK.c.id <= int(data.task_ids[-1]))
             .order_by(ANNOTATION.c.task_id, ANNOTATION.c.id))
        for tid, result, parent in s.connection().execution_options(stream_results=True,
                                                                      yield_per=BATCH).execute(q):
            if tid in ids:
                rows.append((tid, result if isinstance(result, list) else [], parent is not None))
    if not rows:
        return {}
    keep = independent_annotations([r[0] for r in rows], [r[2] for r in rows])
    out: dict[int, list[list]] = defaultdict(list)
    for (tid, result, _), k in zip(rows, keep.tolist(), strict=True):
        if k:
            out[tid].append(result)
    return out


def _predictions(data: Data) -> dict[int, list]:
    """The newest prediction's result of each of the run's tasks (transcriptions are compared
    with it), only when the project has a transcription to compare."""
    if data.n == 0 or not any(kind == "transcription" for _, kind in measured_controls(data.schema)):
        return {}
    ids = set(data.task_ids.tolist())
    out: dict[int, list] = {}
    with read_session() as s:
        q = (sa.select(PREDICTION.c.task_id, PREDICTION.c.result)
             .where(PREDICTION.c.project_id == int(data.project.id),
                    PREDICTION.c.task_id >= int(data.task_ids[0]), PREDICTION.c.task_id <= int(data.task_ids[-1]))
             .order_by(PREDICTION.c.task_id, PREDICTION.c.id))
        for tid, result in s.execute(q):
            if tid in ids and isinstance(result, list):
                out[tid] = result  # the newest last
    return out


def _reason(found: list[ControlAgreement], n: int) -> str:
    bad = [a for a in found if not a.agrees]
    if not bad:
        return f"{n} annotators agree: " + ", ".join(f"{a.control} {a.metric} {a.value:.2f}" for a in found)
    if len(found) == 1:
        return bad[0].reason
    return "; ".join(f"{a.control}: {a.reason}" for a in bad)


def agreement_findings(data: Data, scored: Scored, *, every_task: bool = False) -> int:
    """Add an ``agreement`` finding per compared task to ``scored`` and the per-control summary
    to ``scored.agreement["controls"]``; returns how many tasks disagree.

    ``every_task`` adds a finding for tasks with one annotator too (nothing to compare, score 1):
    the run of a project this step scores alone.
    """
    skip = (data.control.name,) if data.kind in _PRIMARY_BY_AGREEMENT else ()
    if not measures(data) and not every_task:
        return 0
    results = _results(data)
    predictions = _predictions(data)
    per_control: dict[str, dict] = {}
    values: dict[str, list[tuple[float, int]]] = defaultdict(list)
    flagged = 0
    for tid in data.task_ids.tolist():
        given = results.get(tid, [])
        found = task_agreement(data.schema, given, skip=skip, prediction=predictions.get(tid))
        if not found:
            if every_task and given:
                scored.issues.append({"task_id": tid, "kind": KIND, "is_issue": False, "given": None,
                                      "suggested": None, "consensus": None, "score": 1.0,
                                      "reason": "one annotator: nothing to compare"})
            continue
        for a in found:
            per_control.setdefault(a.control, {"control": a.control, "type": a.type, "metric": a.metric})
            values[a.control].append((a.value, tid))
        disagree = any(not a.agrees for a in found)
        flagged += disagree
        scored.issues.append({"task_id": tid, "kind": KIND, "is_issue": disagree, "given": None,
                              "suggested": None, "consensus": None, "score": min(a.score for a in found),
                              "reason": _reason(found, len(given))[:1000]})
    controls = []
    for name, head in per_control.items():
        figures = values[name]
        worst = sorted(figures)[:WORST]
        bound = MEASURES[head["type"]].bound
        controls.append({**head, "mean": float(np.mean([v for v, _ in figures])), "n_tasks": len(figures),
                         "n_disagree": sum(v < bound - 1e-9 for v, _ in figures), "bound": bound,
                         "worst": [{"task_id": t, "value": v} for v, t in worst if v < 1.0]})
    if controls:
        scored.agreement = {**scored.agreement, "controls": controls}
    return flagged


def measures(data: Data) -> bool:
    """Whether the run's project has a control this step compares (besides a primary control its
    own scorer compares)."""
    skip = (data.control.name,) if data.kind in _PRIMARY_BY_AGREEMENT else ()
    return any(name not in skip for name, _ in measured_controls(data.schema))


def score_alone(data: Data, progress: ProgressFn, *, every_task: bool = True) -> tuple[Scored, Probs]:
    """Score a project by its annotators' agreement alone (kinds ``ranking`` and ``hypertext``,
    or a run whose own scorer could not run): one ``agreement`` finding per labeled task
    (``every_task=False``: per task with two annotators or more)."""
    progress(0.3, f"comparing the annotators of {data.n:,} tasks")
    scored = Scored(issues=[], annotators=[], noise_rate=None, per_class_noise={}, confident_joint=[],
                    agreement={}, summary={"mode": "annotator agreement", "n_annotations": int(data.ann_item.size)},
                    n_issues=0)
    flagged = agreement_findings(data, scored, every_task=every_task)
    compared = sum(1 for i in scored.issues if i["reason"] != "one annotator: nothing to compare")
    if not scored.issues:
        raise QCRunError("none of the labeled tasks has an answer to compare")
    scored.n_issues = flagged
    scored.noise_rate = flagged / compared if compared else None
    scored.summary.update({"n_compared": compared,
                           "noise_rate_method": "share of tasks with two annotators or more who disagree"})
    return scored, Probs(np.zeros((0, max(len(data.class_names), 1))), "annotators", "annotators' agreement", None)
