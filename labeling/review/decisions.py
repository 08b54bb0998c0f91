"""A reviewer's decisions on a suspect (:func:`decide`: keep, relabel, exclude) and taking the
last one back (:func:`undo`); :func:`outcome` is shared with the lead's audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import lifecycle, webhooks
from labeling.access import require_project
from labeling.db import unit_of_work, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import Lease, Project, ReviewDecision, Task, TaskState, User
from labeling.review.findings import given_label, same_label
from labeling.review.queue import (
    REVIEW,
    current_issue,
    drop_leases,
    lease_for_review,
    lock_task,
    task_annotations,
    task_snapshot,
)
from labeling.router import ANNOTATE
from labeling.schema import label_text, result_from_labels, schema_of
from labeling.validation import check_answer

__all__ = ["DECISIONS", "MAX_REASON", "decide", "outcome", "review_event", "undo"]

DECISIONS = ("keep", "relabel", "exclude")
_L = Lease.__table__
MAX_REASON = 2000


def _reviewable(s: Session, task: Task, user: User, now: datetime) -> None:
    """Refuse a decision on a task that is not in the queue, or that another reviewer holds."""
    if task.state != TaskState.review:
        raise Conflict(f"task {task.id} is {task.state}, not in the review queue",
                       [{"row": task.id, "field": "state", "detail": f"task is {task.state}"}])
    other = s.execute(sa.select(_L.c.user_id).where(_L.c.task_id == task.id, _L.c.kind == REVIEW,
                                                    _L.c.user_id != user.id, _L.c.expires_at >= now)).first()
    if other is not None:
        raise Conflict(f"task {task.id} is being reviewed by another reviewer; ask for the next suspect")


def _keepable(s: Session, project: Project, task: Task) -> list:
    """The people's label of ``task``, which a keep keeps; refused when there is none or a tie."""
    pairs = task_annotations(s, task.id)
    schema = schema_of(project)
    given, _, tied = given_label(schema, [a for a, _ in pairs])
    if tied:
        who = ", ".join(f"{u.email}: {label_text(a.result) or '(none)'}" for a, u in pairs)
        raise Conflict(f"the annotators of task {task.id} are tied ({who}): there is no one label to keep; "
                       "pick the right label (relabel)",
                       [{"row": task.id, "field": "decision", "detail": "annotators tied: relabel to pick"}])
    if not given:
        raise Conflict(f"task {task.id} has no label to keep; relabel or exclude it")
    return given


def _people_gave(s: Session, project: Project, task: Task, result: list) -> list | None:
    """The label the people gave when ``result`` says the same (a relabel to it is a keep)."""
    given, _, _ = given_label(schema_of(project), [a for a, _ in task_annotations(s, task.id)])
    return given if given is not None and same_label(given, result) else None


def outcome(s: Session, project: Project, task: Task, decision: str, result: Any, reason: str,
             field: str = "result") -> tuple[str, list | None, str | None, list | None, str]:
    """(state, final label, final source, stored result, reason) of a keep/relabel/exclude."""
    reason = (reason or "").strip()[:MAX_REASON] if isinstance(reason, str) or reason is None else None
    if reason is None:
        raise Invalid("reason must be a string", [{"row": task.id, "field": "reason", "detail": "not a string"}])
    if decision == "keep":
        given = _keepable(s, project, task)
        return TaskState.accepted, given, "reviewer", None, reason
    if decision == "relabel":
        result = check_answer(s, project, task, result, field)
        return TaskState.accepted, result, "reviewer", result, reason
    if decision == "exclude":
        if not reason:
            raise Invalid("say why the item is excluded", [{"row": task.id, "field": "reason", "detail": "required"}])
        return TaskState.excluded, None, None, None, reason
    raise Invalid(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}",
                  [{"row": task.id, "field": "decision", "detail": f"one of {', '.join(DECISIONS)}"}])


def decide(task_id: int, user: User, *, decision: str, result: Any = None, reason: str = "",
           labels: str | list[str] | None = None) -> ReviewDecision:
    """Record a reviewer's decision on a suspect task and release it.

    Parameters
    ----------
    task_id : int
        A task in the review queue (state ``review``).
    user : User
        Needs the ``review`` right; another reviewer must not hold a live lease on the task.
    decision : {"keep", "relabel", "exclude"}
        ``keep`` keeps the people's label (refused when the annotators are tied); a ``relabel``
        to the people's label is recorded as ``keep``.
    result : list of dict, optional
        The right label (Label Studio result items), for ``relabel``; checked against the schema.
    reason : str
        Why; required for ``exclude``.
    labels : str or list of str, optional
        Instead of ``result``: the right label by name(s) of the primary ``<Choices>`` control
        (what ``labelfab review decide --label`` gives).

    Returns
    -------
    ReviewDecision
        The level-1 decision, with the task's state and label ``before`` and ``after``.

    Raises
    ------
    Invalid
        Unknown decision, a relabel without a valid result, an exclude without a reason.
    Conflict
        The task is not in the review queue, or another reviewer holds it.
    """
    now = utcnow()
    with unit_of_work() as s:
        # lease rows before the task row (the router's lock order): the caller's review lease,
        # and expired ones; a live lease of another reviewer refuses the decision below
        drop_leases(s, task_id=task_id, kind=REVIEW, expired_before=now)
        drop_leases(s, task_id=task_id, kind=REVIEW, user_id=user.id)
        task = lock_task(s, task_id)
        project = require_project(s, user, task.project_id, "review")
        _reviewable(s, task, user, now)
        field = "result"
        if labels is not None:
            if result is not None:
                raise Invalid("give the right label as result or as labels, not both",
                              [{"row": task.id, "field": "label", "detail": "result given too"}])
            try:
                result, field = result_from_labels(schema_of(project), labels), "label"
            except ValueError as exc:
                raise Invalid(str(exc), [{"row": task.id, "field": "label", "detail": str(exc)}]) from None
        state, final, source, stored, reason = outcome(s, project, task, decision, result, reason, field)
        kept = _people_gave(s, project, task, final) if decision == "relabel" else None
        if kept is not None:
            decision, final, stored = "keep", kept, None  # the label already given: a keep, of it
        issue = current_issue(s, task.id)
        before = task_snapshot(task)
        task.final_label, task.final_source = final, source
        lifecycle.move(s, task, state, cause=lifecycle.Cause.review, user_id=user.id,
                       reason=f"review: {decision}" + (f" ({reason})" if reason else ""), now=now)
        row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                             label_issue_id=issue.id if issue is not None else None, level=1, decision=decision,
                             result=stored, reason=reason, before=before, after=task_snapshot(task), created_at=now)
        s.add(row)
        s.flush()
        webhooks.emit(s, "REVIEW_DECIDED", task.project_id, lambda: review_event(s, row, user))
        return row


def review_event(s: Session, row: ReviewDecision, reviewer: User) -> dict:
    """The payload of ``REVIEW_DECIDED``: the decision, its reviewer, the final label, the task."""
    return {"review": {"id": row.id, "task": row.task_id, "decision": row.decision, "level": row.level,
                       "reason": row.reason, "reviewer": {"id": reviewer.id, "email": reviewer.email},
                       "final_label": row.after.get("final_label"), "final_source": row.after.get("final_source"),
                       "state": row.after.get("state"), "label_issue": row.label_issue_id,
                       "created_at": row.created_at.isoformat()},
            "task": webhooks.tasks_payload(s, [row.task_id])[0]}


def _restore(s: Session, task: Task, before: dict, user_id: int, reason: str, now: datetime) -> None:
    task.final_label = before.get("final_label")
    task.final_source = before.get("final_source")
    task.is_gold = bool(before.get("is_gold", task.is_gold))
    task.gold_answer = before.get("gold_answer")
    lifecycle.move(s, task, before.get("state") or TaskState.review, cause=lifecycle.Cause.undo, user_id=user_id,
                   reason=reason, now=now)


def undo(user: User, *, task_id: int | None = None, project_id: int | None = None) -> ReviewDecision:
    """Take back the caller's last level-1 decision (on ``task_id``, or their last in ``project_id``).

    The task returns to the state it had (the review queue) with its earlier final label, and
    is leased to the caller again so that their next suspect is this one.

    Raises
    ------
    NotFound
        The caller has no decision there to undo.
    Conflict
        A lead has audited the decision, or the task has moved on since (annotated as gold,
        decided again).
    """
    if (task_id is None) == (project_id is None):
        raise Invalid("give a task or a project", [{"row": None, "field": "task", "detail": "required"}])
    now = utcnow()
    with unit_of_work() as s:
        q = select(ReviewDecision).where(ReviewDecision.reviewer_id == user.id, ReviewDecision.level == 1,
                                         ReviewDecision.undone_at.is_(None))
        q = q.where(ReviewDecision.task_id == task_id) if task_id is not None else \
            q.where(ReviewDecision.project_id == project_id)
        row = s.exec(q.order_by(ReviewDecision.id.desc()).limit(1)).first()
        if row is None:
            where = f"task {task_id}" if task_id is not None else f"project {project_id}"
            raise NotFound(f"you have no review decision on {where} to undo")
        drop_leases(s, task_id=row.task_id, user_id=user.id, kind=ANNOTATE)  # before the task row is locked
        task = lock_task(s, row.task_id)
        project = require_project(s, user, task.project_id, "review")
        audited = s.exec(select(ReviewDecision.id).where(ReviewDecision.overturns_id == row.id,
                                                         ReviewDecision.undone_at.is_(None))).first()
        if audited is not None:
            raise Conflict(f"a lead has audited decision {row.id}; it can no longer be undone")
        after = row.after or {}
        if task.state != after.get("state") or task.final_label != after.get("final_label") \
                or task.is_gold != bool(after.get("is_gold", task.is_gold)):
            raise Conflict(f"task {task.id} has changed since decision {row.id} (it is {task.state}); "
                           "it can no longer be undone")
        if row.decision == "gold" and task.n_annotations > (row.before or {}).get("n_annotations", task.n_annotations):
            raise Conflict(f"annotators have answered gold task {task.id} since; unmark it as gold instead")
        _restore(s, task, row.before or {}, user.id, f"review: undo of {row.decision} (decision {row.id})", now)
        row.undone_at = now
        s.add(row)
        if task.state == TaskState.review:
            lease_for_review(s, task, user.id, project.lease_seconds, now)
        s.flush()
        return row
