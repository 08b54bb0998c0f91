"""The review queue, second-level audit, gold tasks and annotator quality (DESIGN.md, "Item life cycle").

Review
------
QC (:func:`quality.policy.apply_policy`) moves suspect tasks to the state ``review``. A reviewer
asks for the next one (:func:`next_suspect`): the worst-scored task of the queue that nobody
else holds is leased to them (``Lease.kind == "review"``, for ``Project.lease_seconds``; asking
again returns the same task and renews the lease). They decide (:func:`decide`):

- ``keep``: the given (or consensus) label is right -> ``accepted``;
- ``relabel``: the right label is ``result`` (checked against the label schema) -> ``accepted``;
- ``exclude``: the item is broken or ambiguous (a reason is required) -> ``excluded``.

The final label (``Task.final_label``) is recorded with the source ``reviewer``. Every decision
is a :class:`ReviewDecision` row with who, when, the state and label before and after, and the
label issue it answered; :func:`undo` takes back the reviewer's last decision (the task returns
to the queue, leased to them again).

Audit
-----
A lead audits level-1 decisions (:func:`audit_queue`: a random sample, or all of one reviewer)
and confirms or overturns each (:func:`audit`): a level-2 :class:`ReviewDecision` whose
``overturns_id`` names the audited decision (``decision == "confirm"`` when it is upheld).

Gold
----
:func:`mark_gold` makes a task a gold (honeypot) task with its answer (from the review page or
the API; tasks can also arrive gold with their answer on import, :mod:`labeling.importer`); the router interleaves gold tasks at ``Project.gold_rate`` and exports never contain
them. After an annotator submits a gold task, :func:`check_gold` computes their accuracy on
gold since they were last resumed; below ``Project.gold_threshold`` over at least
``Project.gold_min_items`` answers they are paused (``Membership.paused_at``) and their open
leases released. Leads see who is paused (:func:`annotator_quality`) and :func:`resume` them.

Every state change of a task writes a :class:`TaskEvent` in the same transaction.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import can, require_project
from labeling.aggregation import final_label
from labeling.annotations import (
    _check_result,  # the annotation rules apply to reviewers' labels too
)
from labeling.db import read_session, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import (
    Annotation,
    AnnotatorScore,
    LabelIssue,
    Lease,
    Membership,
    Project,
    ReviewDecision,
    Role,
    Task,
    TaskEvent,
    TaskState,
    User,
)
from labeling.router import unit_of_work
from labeling.schema import LabelSchema, label_text, result_from_labels, schema_of

__all__ = [
    "DECISIONS",
    "AUDIT_VERDICTS",
    "annotator_quality",
    "as_result",
    "audit",
    "audit_queue",
    "check_gold",
    "current_issue",
    "decide",
    "decision_view",
    "gold_accuracy",
    "list_decisions",
    "mark_gold",
    "next_suspect",
    "pause",
    "resume",
    "results_match",
    "review_item",
    "undo",
    "unmark_gold",
]

REVIEW = "review"  # Lease.kind of the review queue
ANNOTATE = "annotate"  # Lease.kind of the annotation router
DECISIONS = ("keep", "relabel", "exclude")
AUDIT_VERDICTS = ("confirm", "keep", "relabel", "exclude")
MAX_REASON = 2000
#: Roles a membership row created for pausing may carry (a user's global role, if it is one).
_MEMBER_ROLES = {Role.annotator, Role.reviewer, Role.lead}

_T = Task.__table__
_L = Lease.__table__
_LI = LabelIssue.__table__
_A = Annotation.__table__


# --------------------------------------------------------------------------- labels


def _iou(a: dict, b: dict) -> float:
    ax, ay, aw, ah = (float(a.get(k, 0)) for k in ("x", "y", "width", "height"))
    bx, by, bw, bh = (float(b.get(k, 0)) for k in ("x", "y", "width", "height"))
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _canonical(result: list) -> tuple[list, list]:
    """(sorted hashable keys of the non-box items, box items) of a result."""
    keys, boxes = [], []
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        kind = str(item.get("type", "")).lower()
        value = item["value"]
        name = item.get("from_name")
        if kind == "rectanglelabels":
            boxes.append((name, tuple(sorted(map(str, value.get("rectanglelabels") or []))), value))
        elif kind == "choices":
            keys.append((name, kind, tuple(sorted(map(str, value.get("choices") or [])))))
        elif kind == "labels":
            keys.append((name, kind, value.get("start"), value.get("end"), tuple(sorted(map(str, value.get("labels") or [])))))
        elif kind == "textarea":
            keys.append((name, kind, tuple(str(t).strip() for t in value.get("text") or [])))
        elif kind == "rating":
            keys.append((name, kind, value.get("rating")))
    return sorted(keys, key=repr), boxes


def results_match(a: Any, b: Any, *, iou: float = 0.5) -> bool:
    """True when two results say the same: equal choices, spans (offsets and labels), text and
    ratings; boxes paired one to one with equal labels and an overlap (IoU) of at least ``iou``."""
    keys_a, boxes_a = _canonical(a)
    keys_b, boxes_b = _canonical(b)
    if keys_a != keys_b or len(boxes_a) != len(boxes_b):
        return False
    free = list(boxes_b)
    for name, labels, value in boxes_a:
        best = max((j for j, other in enumerate(free) if other[0] == name and other[1] == labels),
                   key=lambda j: _iou(value, free[j][2]), default=None)
        if best is None or _iou(value, free[best][2]) < iou:
            return False
        free.pop(best)
    return True


def _check_answer(s: Session, project: Project, task: Task, result: Any, field: str) -> list:
    """Raise Invalid unless ``result`` is a non-empty result that fits the label schema."""
    try:
        return _check_result(s.connection(), schema_of(project), task, result, what=field)
    except Invalid as exc:
        for e in exc.errors:
            e["field"] = f"{field}.{e['field']}" if e.get("field") else field
        raise


# --------------------------------------------------------------------------- task state


def _event(s: Session, task: Task, to_state: str, user_id: int | None, reason: str, now: datetime) -> None:
    s.add(TaskEvent(task_id=task.id, project_id=task.project_id, user_id=user_id, from_state=task.state,
                    to_state=to_state, reason=reason[:MAX_REASON], created_at=now))


def _set_state(s: Session, task: Task, state: str, user_id: int | None, reason: str, now: datetime) -> None:
    """Move a (locked) task to ``state`` with its TaskEvent; the caller adds the task to ``s``."""
    if state != task.state:
        _event(s, task, state, user_id, reason, now)
        task.state = state
    task.updated_at = now
    s.add(task)


def _lock_task(s: Session, task_id: int) -> Task:
    task = s.get(Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def _drop_leases(s: Session, *, task_id: int | None = None, project_id: int | None = None,
                 user_id: int | None = None, kind: str | None = None, expired_before: datetime | None = None) -> int:
    """Delete matching leases and give their places back (``Task.n_leases``); returns how many."""
    conds = []
    if task_id is not None:
        conds.append(_L.c.task_id == task_id)
    if project_id is not None:
        conds.append(_L.c.project_id == project_id)
    if user_id is not None:
        conds.append(_L.c.user_id == user_id)
    if kind is not None:
        conds.append(_L.c.kind == kind)
    if expired_before is not None:
        conds.append(_L.c.expires_at < expired_before)
    gone = s.execute(sa.delete(_L).where(*conds).returning(_L.c.task_id)).scalars().all()
    counts: dict[int, int] = defaultdict(int)
    for tid in gone:
        counts[tid] += 1
    for tid in sorted(counts):
        s.execute(sa.update(_T).where(_T.c.id == tid)
                  .values(n_leases=sa.case((_T.c.n_leases >= counts[tid], _T.c.n_leases - counts[tid]), else_=0)))
    return len(gone)


def _lease(s: Session, task: Task, user_id: int, seconds: int, now: datetime) -> datetime:
    """Lease ``task`` (locked) to ``user_id`` for review, or renew their review lease on it.

    Lock order, as the router's: lease rows before task rows. Callers delete leases (an
    annotation lease of the reviewer's on the task included) before they lock the task; this
    only inserts or updates the reviewer's own row.
    """
    expires = now + timedelta(seconds=seconds)
    renewed = s.execute(sa.update(_L).where(_L.c.task_id == task.id, _L.c.user_id == user_id, _L.c.kind == REVIEW)
                        .values(expires_at=expires)).rowcount
    if not renewed:
        s.add(Lease(task_id=task.id, project_id=task.project_id, user_id=user_id, kind=REVIEW, expires_at=expires,
                    created_at=now))
        s.execute(sa.update(_T).where(_T.c.id == task.id).values(n_leases=_T.c.n_leases + 1))
    return expires


def _task_snapshot(task: Task) -> dict:
    return {"state": task.state, "final_label": task.final_label, "final_source": task.final_source,
            "is_gold": task.is_gold, "gold_answer": task.gold_answer, "target_overlap": task.target_overlap}


# --------------------------------------------------------------------------- the suspect


def current_issue(s: Session, task_id: int) -> LabelIssue | None:
    """The issue that made a task a suspect: of the newest QC run that scored it, the ``label``
    issue if there is one, else the lowest-scored one."""
    run_id = s.execute(sa.select(sa.func.max(_LI.c.run_id)).where(_LI.c.task_id == task_id)).scalar_one_or_none()
    if run_id is None:
        return None
    rows = s.exec(select(LabelIssue).where(LabelIssue.task_id == task_id, LabelIssue.run_id == run_id)
                  .order_by(LabelIssue.score, LabelIssue.id)).all()
    return next((r for r in rows if r.kind == "label"), rows[0] if rows else None)


def _annotations(s: Session, task_id: int) -> list[tuple[Annotation, User]]:
    return list(s.execute(
        select(Annotation, User).join(User, User.id == Annotation.user_id)
        .where(Annotation.task_id == task_id, Annotation.was_cancelled == sa.false())
        .order_by(Annotation.id)).all())


def as_result(schema: LabelSchema, value: Any) -> list | None:
    """A label as QC stores it (a class name, a list of names, or result items) as result items;
    None when it is none of these (or names no label of the primary Choices)."""
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return value
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(x, str) for x in value)):
        try:
            return result_from_labels(schema, value)
        except ValueError:
            return None
    return None


def given_label(schema: LabelSchema, annotations: list[Annotation], issue: LabelIssue | None) -> tuple[list | None, str | None]:
    """The label the task carries now, as the release would record it: QC's consensus of the
    annotators, else one annotator's label or their majority (:func:`labeling.aggregation.final_label`)."""
    consensus = as_result(schema, issue.consensus) if issue is not None else None
    return final_label(schema, [a.result for a in annotations], consensus=consensus)


def review_item(s: Session, project: Project, task: Task) -> dict:
    """What the review page and ``GET /api/projects/ID/review/next`` show of a suspect task."""
    schema = schema_of(project)
    issue = current_issue(s, task.id)
    pairs = _annotations(s, task.id)
    anns = [a for a, _ in pairs]
    given, given_source = given_label(schema, anns, issue)
    suggested = issue.suggested if issue is not None else None
    primary = schema.primary_control
    obj = next((o for o in schema.objects.values() if o.value_key == primary.data_key), None)
    return {
        "task": {"id": task.id, "data": task.data, "meta": task.meta, "state": task.state,
                 "is_gold": task.is_gold, "file_upload": task.file_name},
        "object": {"tag": obj.tag if obj else None, "key": primary.data_key},
        "control": {"name": primary.name, "type": primary.type, "to_name": primary.to_name,
                    "labels": primary.labels, "choice": primary.choice},
        "annotations": [{"id": a.id, "user": u.id, "email": u.email, "result": a.result,
                         "label": label_text(a.result), "lead_time": a.lead_time,
                         "created_at": a.created_at.isoformat()} for a, u in pairs],
        "given": {"result": given, "label": label_text(given), "source": given_source,
                  "qc": issue.given if issue is not None else None},
        "consensus": None if issue is None or issue.consensus is None else {
            "value": issue.consensus, "label": label_text(issue.consensus)},
        "suggested": None if suggested is None else {
            "value": suggested, "label": label_text(suggested),
            "result": as_result(schema, suggested)},
        "issue": None if issue is None else {"id": issue.id, "run": issue.run_id, "kind": issue.kind,
                                             "is_issue": issue.is_issue},
        "reason": issue.reason if issue is not None else "",
        "score": issue.score if issue is not None else None,
    }


def _queue_size(s: Session, project_id: int) -> int:
    return s.execute(sa.select(sa.func.count()).select_from(_T)
                     .where(_T.c.project_id == project_id, _T.c.state == TaskState.review)).scalar_one()


def _pick(s: Session, project_id: int, user_id: int) -> Task | None:
    """Lock and return the worst-scored suspect nobody holds (None: there is none).

    On PostgreSQL rows other transactions are taking are skipped (``SKIP LOCKED``); a row taken
    by a transaction that committed meanwhile is re-checked with a fresh statement and passed.
    """
    li, li2 = _LI.alias("li"), _LI.alias("li2")
    newest = sa.select(sa.func.max(li2.c.run_id)).where(li2.c.task_id == _T.c.id).scalar_subquery()
    score = sa.select(sa.func.min(li.c.score)).where(li.c.task_id == _T.c.id, li.c.run_id == newest).scalar_subquery()
    passed: list[int] = []
    while True:
        q = (sa.select(_T.c.id)
             .where(_T.c.project_id == project_id, _T.c.state == TaskState.review,
                    ~sa.exists().where(_L.c.task_id == _T.c.id, sa.or_(_L.c.kind == REVIEW, _L.c.user_id == user_id)))
             .order_by(score.asc().nulls_last(), _T.c.id).limit(1)
             .with_for_update(skip_locked=True, of=_T))
        if passed:
            q = q.where(_T.c.id.not_in(passed))
        task_id = s.execute(q).scalar_one_or_none()
        if task_id is None:
            return None
        task = _lock_task(s, task_id)
        taken = s.execute(sa.select(_L.c.id).where(_L.c.task_id == task_id, _L.c.kind == REVIEW)).first()
        if taken is None and task.state == TaskState.review:
            return task
        passed.append(task_id)


def next_suspect(project_id: int, user: User) -> dict | None:
    """Lease the next suspect of the review queue to ``user`` and describe it.

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``review`` right in the project (reviewers, leads, admins).

    Returns
    -------
    dict or None
        :func:`review_item` plus ``lease_expires_at`` and ``remaining`` (tasks in the queue,
        this one included); None when the queue holds nothing for this user. The worst-scored
        suspect comes first; a suspect another reviewer holds is never handed out.
    """
    now = utcnow()
    with unit_of_work() as s:
        project = require_project(s, user, project_id, "review")
        _drop_leases(s, project_id=project_id, kind=REVIEW, expired_before=now)
        held = s.execute(sa.select(_L.c.task_id).join(_T, _T.c.id == _L.c.task_id)
                         .where(_L.c.project_id == project_id, _L.c.user_id == user.id, _L.c.kind == REVIEW,
                                _T.c.state == TaskState.review)
                         .order_by(_L.c.id.desc()).limit(1)).scalar_one_or_none()  # newest: an undone one
        task = _lock_task(s, held) if held is not None else _pick(s, project_id, user.id)
        if task is None:
            return None
        expires = _lease(s, task, user.id, project.lease_seconds, now)
        item = review_item(s, project, task)
        item["lease_expires_at"] = expires.isoformat()
        item["remaining"] = _queue_size(s, project_id)
        return item


def _reviewable(s: Session, task: Task, user: User, now: datetime) -> None:
    """Refuse a decision on a task that is not in the queue, or that another reviewer holds."""
    if task.state != TaskState.review:
        raise Conflict(f"task {task.id} is {task.state}, not in the review queue",
                       [{"row": task.id, "field": "state", "detail": f"task is {task.state}"}])
    other = s.execute(sa.select(_L.c.user_id).where(_L.c.task_id == task.id, _L.c.kind == REVIEW,
                                                    _L.c.user_id != user.id, _L.c.expires_at >= now)).first()
    if other is not None:
        raise Conflict(f"task {task.id} is being reviewed by another reviewer; ask for the next suspect")


def _outcome(s: Session, project: Project, task: Task, decision: str, result: Any, reason: str,
             field: str = "result") -> tuple[str, list | None, str | None, list | None, str]:
    """(state, final label, final source, stored result, reason) of a keep/relabel/exclude."""
    reason = (reason or "").strip()[:MAX_REASON] if isinstance(reason, str) or reason is None else None
    if reason is None:
        raise Invalid("reason must be a string", [{"row": task.id, "field": "reason", "detail": "not a string"}])
    if decision == "keep":
        issue = current_issue(s, task.id)
        given, _ = given_label(schema_of(project), [a for a, _ in _annotations(s, task.id)], issue)
        if not given:
            raise Conflict(f"task {task.id} has no label to keep; relabel or exclude it")
        return TaskState.accepted, given, "reviewer", None, reason
    if decision == "relabel":
        result = _check_answer(s, project, task, result, field)
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
        _drop_leases(s, task_id=task_id, kind=REVIEW, expired_before=now)
        _drop_leases(s, task_id=task_id, kind=REVIEW, user_id=user.id)
        task = _lock_task(s, task_id)
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
        state, final, source, stored, reason = _outcome(s, project, task, decision, result, reason, field)
        issue = current_issue(s, task.id)
        before = _task_snapshot(task)
        task.final_label, task.final_source = final, source
        _set_state(s, task, state, user.id, f"review: {decision}" + (f" ({reason})" if reason else ""), now)
        row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                             label_issue_id=issue.id if issue is not None else None, level=1, decision=decision,
                             result=stored, reason=reason, before=before, after=_task_snapshot(task), created_at=now)
        s.add(row)
        s.flush()
        return row


def _restore(s: Session, task: Task, before: dict, user_id: int, reason: str, now: datetime) -> None:
    task.final_label = before.get("final_label")
    task.final_source = before.get("final_source")
    task.is_gold = bool(before.get("is_gold", task.is_gold))
    task.gold_answer = before.get("gold_answer")
    _set_state(s, task, before.get("state") or TaskState.review, user_id, reason, now)


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
        _drop_leases(s, task_id=row.task_id, user_id=user.id, kind=ANNOTATE)  # before the task row is locked
        task = _lock_task(s, row.task_id)
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
            _lease(s, task, user.id, project.lease_seconds, now)
        s.flush()
        return row


# --------------------------------------------------------------------------- audit


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
        task = _lock_task(s, row.task_id)
        project = require_project(s, user, row.project_id, "manage")
        if row.undone_at is not None:
            raise Conflict(f"decision {decision_id} was undone by its reviewer")
        if decision_id in _audited_ids(s, row.project_id):
            raise Conflict(f"decision {decision_id} has been audited already")
        after = row.after or {}
        if task.state != after.get("state") or task.final_label != after.get("final_label"):
            raise Conflict(f"task {task.id} has changed since decision {decision_id} (it is {task.state})")
        before = _task_snapshot(task)
        stored, why = None, (reason or "").strip()[:MAX_REASON] if isinstance(reason, str) else ""
        if verdict != "confirm":
            if row.decision == "gold":
                raise Conflict(f"decision {decision_id} made task {task.id} gold; unmark it as gold instead")
            state, final, source, stored, why = _outcome(s, project, task, verdict, result, reason)
            task.final_label, task.final_source = final, source
            _set_state(s, task, state, user.id, f"audit: {row.decision} by reviewer overturned to {verdict}"
                       + (f" ({why})" if why else ""), now)
        audit_row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                                   label_issue_id=row.label_issue_id, level=2, decision=verdict, result=stored,
                                   reason=why, before=before, after=_task_snapshot(task), overturns_id=row.id,
                                   created_at=now)
        s.add(audit_row)
        s.flush()
        return audit_row


# --------------------------------------------------------------------------- gold


def mark_gold(task_id: int, user: User, *, answer: Any) -> ReviewDecision:
    """Make a task a gold task with its ``answer`` (checked against the schema); again: new answer.

    The task leaves the line (state ``open``, ``is_gold``, no final label, never exported) and
    the router interleaves it at the project's gold rate. Reviewers and leads may do it; the
    act is recorded as a ``gold`` decision (the reviewer can undo it).
    """
    now = utcnow()
    with unit_of_work() as s:
        _drop_leases(s, task_id=task_id, kind=REVIEW, expired_before=now)  # lease rows before the task row
        _drop_leases(s, task_id=task_id, kind=REVIEW, user_id=user.id)
        task = _lock_task(s, task_id)
        project = require_project(s, user, task.project_id, "review")
        answer = _check_answer(s, project, task, answer, "answer")
        other = s.execute(sa.select(_L.c.user_id).where(_L.c.task_id == task.id, _L.c.kind == REVIEW)).first()
        if other is not None:
            raise Conflict(f"task {task.id} is being reviewed by another reviewer")
        before = {**_task_snapshot(task), "n_annotations": task.n_annotations}
        task.is_gold, task.gold_answer = True, answer
        task.final_label, task.final_source = None, None
        _set_state(s, task, TaskState.open, user.id, "marked gold: " + label_text(answer), now)
        issue = current_issue(s, task.id)
        row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                             label_issue_id=issue.id if issue is not None else None, level=1, decision="gold",
                             result=answer, reason="marked gold", before=before, after=_task_snapshot(task),
                             created_at=now)
        s.add(row)
        s.flush()
        return row


def unmark_gold(task_id: int, user: User) -> Task:
    """A lead turns a gold task back into an ordinary one: ``labeled`` if it has the annotations
    its overlap wants (QC judges it at the next run), ``open`` otherwise."""
    now = utcnow()
    with unit_of_work() as s:
        task = _lock_task(s, task_id)
        require_project(s, user, task.project_id, "manage")
        if not task.is_gold:
            raise Conflict(f"task {task_id} is not a gold task")
        task.is_gold, task.gold_answer = False, None
        state = TaskState.labeled if task.n_annotations >= task.target_overlap else TaskState.open
        _set_state(s, task, state, user.id, "no longer gold", now)
        s.flush()
        return task


def gold_accuracy(s: Session, project_id: int, *, user_id: int | None = None,
                  since: dict[int, datetime] | None = None) -> dict[int, tuple[int, int]]:
    """``{user id: (gold answers, correct)}`` in a project (answers after ``since[user]`` only)."""
    q = (sa.select(_A.c.user_id, _A.c.result, _A.c.created_at, _T.c.gold_answer)
         .select_from(_A.join(_T, _T.c.id == _A.c.task_id))
         .where(_T.c.project_id == project_id, _T.c.is_gold == sa.true(), _T.c.gold_answer.is_not(None),
                _A.c.was_cancelled == sa.false()))
    if user_id is not None:
        q = q.where(_A.c.user_id == user_id)
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for uid, result, created_at, answer in s.execute(q):
        start = (since or {}).get(uid)
        if start is not None and created_at < start:
            continue
        out[uid][0] += 1
        out[uid][1] += int(results_match(result, answer))
    return {uid: (n, ok) for uid, (n, ok) in out.items()}


def pause(s: Session, project_id: int, user_id: int, reason: str, now: datetime | None = None) -> Membership:
    """Inside a unit of work: pause a user in a project (creating their membership row with their
    global role if they have none) and release their open leases."""
    now = now or utcnow()
    membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                  Membership.user_id == user_id).with_for_update()).first()
    if membership is None:
        target = s.get(User, user_id)
        role = target.role if target is not None and target.role in _MEMBER_ROLES else Role.annotator
        membership = Membership(project_id=project_id, user_id=user_id, role=role, created_at=now)
    membership.paused_at = now
    membership.paused_reason = reason[:MAX_REASON]
    s.add(membership)
    _drop_leases(s, project_id=project_id, user_id=user_id)
    s.flush()
    return membership


def check_gold(project_id: int, user_id: int) -> bool:
    """After ``user_id`` submitted a gold task: pause them if their gold accuracy (since they were
    last resumed) is below ``Project.gold_threshold`` over at least ``Project.gold_min_items``
    answers. Returns True if they were paused now."""
    with unit_of_work() as s:
        project = s.get(Project, project_id)
        user = s.get(User, user_id)
        if project is None or user is None or project.gold_threshold <= 0 or user.role == Role.admin:
            return False
        membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                     Membership.user_id == user_id)).first()
        if membership is not None and membership.paused_at is not None:
            return False
        since = {user_id: membership.resumed_at} if membership is not None and membership.resumed_at else None
        n, ok = gold_accuracy(s, project_id, user_id=user_id, since=since).get(user_id, (0, 0))
        if n < max(1, project.gold_min_items) or ok / n >= project.gold_threshold:
            return False
        pause(s, project_id, user_id, f"gold accuracy {ok / n:.0%} ({ok} of {n}) is below the project's "
                                      f"threshold of {project.gold_threshold:.0%}")
        return True


def resume(project_id: int, user: User, member_user_id: int) -> Membership:
    """A lead resumes a paused annotator; gold answers before now no longer count toward pausing."""
    with unit_of_work() as s:
        require_project(s, user, project_id, "manage")
        membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                     Membership.user_id == member_user_id)).first()
        if membership is None or membership.paused_at is None:
            raise Conflict(f"user {member_user_id} is not paused in project {project_id}")
        membership.paused_at = None
        membership.paused_reason = ""
        membership.resumed_at = utcnow()
        s.add(membership)
        s.flush()
        return membership


# --------------------------------------------------------------------------- annotator quality


def _median_times(s: Session, project_id: int) -> dict[int, float]:
    """Median ``lead_time`` per annotator (submitted, non-gold work), in SQL on both databases."""
    ranked = (sa.select(_A.c.user_id, _A.c.lead_time,
                        sa.func.row_number().over(partition_by=_A.c.user_id, order_by=_A.c.lead_time).label("rn"),
                        sa.func.count().over(partition_by=_A.c.user_id).label("cnt"))
              .select_from(_A.join(_T, _T.c.id == _A.c.task_id))
              .where(_A.c.project_id == project_id, _A.c.was_cancelled == sa.false(), _A.c.lead_time.is_not(None),
                     _T.c.is_gold == sa.false())
              .subquery())
    middle = sa.or_(ranked.c.rn == (ranked.c.cnt + 1) / 2, ranked.c.rn == (ranked.c.cnt + 2) / 2)
    q = sa.select(ranked.c.user_id, sa.func.avg(ranked.c.lead_time)).where(middle).group_by(ranked.c.user_id)
    return {uid: float(v) for uid, v in s.execute(q)}


def annotator_quality(project_id: int, user: User) -> list[dict]:
    """Per annotator of a project (leads): gold accuracy, agreement with consensus and CROWDLAB
    quality (from the newest QC run that scored annotators), items labeled, median seconds per
    item, and whether they are paused (and why).

    Returns
    -------
    list of dict
        ``user``, ``email``, ``role``, ``items``, ``skips``, ``median_seconds``, ``gold_items``,
        ``gold_correct``, ``gold_accuracy``, ``agreement``, ``quality``, ``qc_run``, ``paused``,
        ``paused_at``, ``paused_reason``; most items first.
    """
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        counts = s.execute(
            sa.select(_A.c.user_id,
                      sa.func.sum(sa.case((sa.and_(_A.c.was_cancelled == sa.false(), _T.c.is_gold == sa.false()), 1),
                                          else_=0)),
                      sa.func.sum(sa.case((_A.c.was_cancelled == sa.true(), 1), else_=0)))
            .select_from(_A.join(_T, _T.c.id == _A.c.task_id))
            .where(_A.c.project_id == project_id).group_by(_A.c.user_id)).all()
        items = {uid: (int(n or 0), int(k or 0)) for uid, n, k in counts}
        members = {m.user_id: m for m in s.exec(select(Membership).where(Membership.project_id == project_id))}
        run_id = s.execute(sa.select(sa.func.max(AnnotatorScore.run_id))
                           .where(AnnotatorScore.project_id == project_id)).scalar_one_or_none()
        scores = {} if run_id is None else {a.user_id: a for a in s.exec(
            select(AnnotatorScore).where(AnnotatorScore.run_id == run_id))}
        gold = gold_accuracy(s, project_id)
        medians = _median_times(s, project_id)
        ids = set(items) | {uid for uid, m in members.items() if m.paused_at is not None} | set(scores)
        users = {u.id: u for u in s.exec(select(User).where(User.id.in_(ids)))} if ids else {}
    out = []
    for uid in ids:
        u, m, sc = users.get(uid), members.get(uid), scores.get(uid)
        n_gold, ok = gold.get(uid, (0, 0))
        out.append({
            "user": uid, "email": u.email if u else None, "name": u.name if u else "",
            "role": m.role if m is not None else (u.role if u else None),
            "active": bool(u and u.is_active),
            "items": items.get(uid, (0, 0))[0], "skips": items.get(uid, (0, 0))[1],
            "median_seconds": medians.get(uid),
            "gold_items": n_gold, "gold_correct": ok, "gold_accuracy": ok / n_gold if n_gold else None,
            "agreement": sc.agreement if sc is not None else None,
            "quality": sc.quality if sc is not None else None,
            "qc_run": run_id if sc is not None else None,
            "paused": m is not None and m.paused_at is not None,
            "paused_at": m.paused_at.isoformat() if m is not None and m.paused_at else None,
            "paused_reason": m.paused_reason if m is not None else "",
            "below_gold_threshold": bool(n_gold and project.gold_threshold > 0
                                         and ok / n_gold < project.gold_threshold),
        })
    out.sort(key=lambda r: (-r["items"], r["email"] or ""))
    return out
