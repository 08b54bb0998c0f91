"""Second-level audit of review decisions (docs/ARCHITECTURE.md, "Item life cycle").

A lead audits level-1 decisions (:func:`audit_queue`: a random sample, or all of one reviewer)
and confirms or overturns each (:func:`audit`): a level-2 :class:`ReviewDecision` whose
``overturns_id`` names the audited decision (``decision == "confirm"`` when it is upheld). An
overturn moves the task through :mod:`labeling.lifecycle`. :func:`list_decisions` is the record
of every decision of a project.
"""

from __future__ import annotations

import random
from typing import Any

from sqlmodel import Session, select

from labeling import lifecycle
from labeling.access import can, require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import Project, ReviewDecision, Task, User
from labeling.review import MAX_REASON, lock_task, outcome, task_snapshot
from labeling.schema import LabelSchema, label_text, schema_of

__all__ = ["AUDIT_VERDICTS", "audit", "audit_queue", "decision_view", "list_decisions"]

AUDIT_VERDICTS = ("confirm", "keep", "relabel", "exclude")


def decision_view(d: ReviewDecision, *, reviewer: User | None = None, task: Task | None = None,
                  schema: LabelSchema | None = None) -> dict:
    """A decision as the API shows it (with labels read for people when ``schema`` is given)."""
    out = {
        "id": d.id, "task": d.task_id, "project": d.project_id, "reviewer": d.reviewer_id,
        "reviewer_email": reviewer.email if reviewer is not None else None, "level": d.level,
        "decision": d.decision, "result": d.result, "reason": d.reason, "before": d.before, "after": d.after,
        "label_issue": d.label_issue_id, "overturns": d.overturns_id,
        "undone_at": d.undone_at.isoformat() if d.undone_at else None, "created_at": d.created_at.isoformat(),
    }
    if schema is not None:
        before, after = d.before or {}, d.after or {}
        out["before_label"] = label_text(before.get("final_label")) if before.get("final_label") else ""
        out["after_label"] = label_text(after.get("final_label") or after.get("gold_answer"))
    if task is not None:
        out["data"] = task.data
        out["state"] = task.state
    return out


def _audited_ids(s: Session, project_id: int) -> set[int]:
    return set(s.exec(select(ReviewDecision.overturns_id).where(
        ReviewDecision.project_id == project_id, ReviewDecision.level == 2,
        ReviewDecision.undone_at.is_(None), ReviewDecision.overturns_id.is_not(None))).all())


def audit_queue(project_id: int, user: User, *, reviewer_id: int | None = None, sample: int | None = 20,
                seed: int | None = None, include_audited: bool = False) -> list[dict]:
    """Level-1 decisions for a lead to audit: a random sample, or all of one reviewer.

    Parameters
    ----------
    reviewer_id : int, optional
        Only this reviewer's decisions (all of them when ``sample`` is None).
    sample : int or None
        Draw at most this many at random (``seed`` makes the draw repeatable); None: all.
    include_audited : bool
        Also decisions a lead has already confirmed or overturned.

    Returns
    -------
    list of dict
        :func:`decision_view` with the task's data and state, oldest first.
    """
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 1):
        raise Invalid("sample must be a whole number >= 1", [{"row": None, "field": "sample", "detail": "not >= 1"}])
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        q = select(ReviewDecision.id).where(ReviewDecision.project_id == project_id, ReviewDecision.level == 1,
                                            ReviewDecision.undone_at.is_(None))
        if reviewer_id is not None:
            q = q.where(ReviewDecision.reviewer_id == reviewer_id)
        ids = list(s.exec(q.order_by(ReviewDecision.id)).all())
        if not include_audited:
            done = _audited_ids(s, project_id)
            ids = [i for i in ids if i not in done]
        if sample is not None and len(ids) > sample:
            ids = sorted(random.Random(seed).sample(ids, sample))
        return _decision_views(s, project, ids)


def _decision_views(s: Session, project: Project, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    schema = schema_of(project)
    rows = s.execute(select(ReviewDecision, User, Task).join(User, User.id == ReviewDecision.reviewer_id)
                     .join(Task, Task.id == ReviewDecision.task_id)
                     .where(ReviewDecision.id.in_(ids)).order_by(ReviewDecision.id)).all()
    return [decision_view(d, reviewer=u, task=t, schema=schema) for d, u, t in rows]


def list_decisions(project_id: int, user: User, *, task_id: int | None = None, reviewer_id: int | None = None,
                   limit: int = 100) -> list[dict]:
    """Every decision (both levels, undone ones included) of a project, newest first: the record
    of who decided what, when, before and after. Reviewers see their own, leads all."""
    limit = max(1, min(int(limit), 1000))
    with read_session() as s:
        project = require_project(s, user, project_id, "review")
        q = select(ReviewDecision.id).where(ReviewDecision.project_id == project_id)
        if not can(s, user, project, "manage"):
            q = q.where(ReviewDecision.reviewer_id == user.id)
        if task_id is not None:
            q = q.where(ReviewDecision.task_id == task_id)
        if reviewer_id is not None:
            q = q.where(ReviewDecision.reviewer_id == reviewer_id)
        ids = list(s.exec(q.order_by(ReviewDecision.id.desc()).limit(limit)).all())
        return list(reversed(_decision_views(s, project, ids)))


def audit(decision_id: int, user: User, *, verdict: str, result: Any = None, reason: str = "") -> ReviewDecision:
    """A lead's verdict on a level-1 decision: ``confirm`` it, or overturn it to ``keep``,
    ``relabel`` (with ``result``) or ``exclude`` (with a reason).

    The verdict is a level-2 :class:`ReviewDecision` whose ``overturns_id`` is the audited
    decision; an overturn moves the task to its new state and final label (source ``reviewer``).

    Raises
    ------
    NotFound
        No such level-1 decision in a project the lead manages.
    Conflict
        The decision was undone or already audited, or the task has moved on since.
    """
    if verdict not in AUDIT_VERDICTS:
        raise Invalid(f"verdict must be one of {', '.join(AUDIT_VERDICTS)}, got {verdict!r}",
                      [{"row": decision_id, "field": "decision", "detail": f"one of {', '.join(AUDIT_VERDICTS)}"}])
    now = utcnow()
    with unit_of_work() as s:
        row = s.get(ReviewDecision, decision_id)
        if row is None or row.level != 1:
            raise NotFound(f"review decision {decision_id} not found")
        task = lock_task(s, row.task_id)
        project = require_project(s, user, row.project_id, "manage")
        if row.undone_at is not None:
            raise Conflict(f"decision {decision_id} was undone by its reviewer")
        if decision_id in _audited_ids(s, row.project_id):
            raise Conflict(f"decision {decision_id} has been audited already")
        after = row.after or {}
        if task.state != after.get("state") or task.final_label != after.get("final_label"):
            raise Conflict(f"task {task.id} has changed since decision {decision_id} (it is {task.state})")
        before = task_snapshot(task)
        stored, why = None, (reason or "").strip()[:MAX_REASON] if isinstance(reason, str) else ""
        if verdict != "confirm":
            if row.decision == "gold":
                raise Conflict(f"decision {decision_id} made task {task.id} gold; unmark it as gold instead")
            state, final, source, stored, why = outcome(s, project, task, verdict, result, reason)
            task.final_label, task.final_source = final, source
            lifecycle.move(s, task, state, cause=lifecycle.Cause.audit, user_id=user.id,
                           reason=f"audit: {row.decision} by reviewer overturned to {verdict}"
                           + (f" ({why})" if why else ""), now=now)
        audit_row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                                   label_issue_id=row.label_issue_id, level=2, decision=verdict, result=stored,
                                   reason=why, before=before, after=task_snapshot(task), overturns_id=row.id,
                                   created_at=now)
        s.add(audit_row)
        s.flush()
        return audit_row
