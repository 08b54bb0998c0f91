"""Gold (honeypot) tasks and annotator quality (docs/ARCHITECTURE.md, "Item life cycle").

:func:`mark_gold` makes a task a gold task with its answer (from the review page or the API;
tasks can also arrive gold with their answer on import); the router interleaves gold tasks at
``Project.gold_rate`` and exports never contain them. After an annotator submits a gold task,
:func:`check_gold` computes their accuracy on gold since they were last resumed; below
``Project.gold_threshold`` over at least ``Project.gold_min_items`` answers they are paused
(``Membership.paused_at``) and their open leases released. Leads see who is paused, with each
annotator's accuracy and speed (:func:`annotator_quality`), and :func:`resume` them.

Gold scores the project's annotators only (:func:`scored_users`: whose role in the project is
annotator). Leads and admins see the gold answers, and reviewers set them (:func:`mark_gold`);
their answers to gold tasks are kept as annotations but never counted in gold accuracy, and they
are never paused by it. The router does not hand them gold tasks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import lifecycle
from labeling.access import require_project, role_from
from labeling.aggregation import people_label
from labeling.canonical import results_match
from labeling.db import read_session, unit_of_work, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import (
    Annotation,
    AnnotatorScore,
    Lease,
    Membership,
    Project,
    ReviewDecision,
    Role,
    Task,
    TaskState,
    User,
)
from labeling.review import (
    MAX_REASON,
    REVIEW,
    current_issue,
    drop_leases,
    lock_selection,
    lock_task,
    release_places,
    results_of,
    task_snapshot,
)
from labeling.schema import label_text, schema_of
from labeling.validation import check_answer

__all__ = ["GOLD_REASON", "annotator_quality", "check_gold", "gold_accuracy", "is_ground_truth", "mark_gold", "mark_gold_many",
           "pause", "resume", "scored_users", "set_ground_truth", "unmark_gold", "unmark_gold_many"]

#: Roles a membership row created for pausing may carry (a user's global role, if it is one).
_MEMBER_ROLES = {Role.annotator, Role.reviewer, Role.lead}
#: The reason of the event and the decision that mark a task gold (the event's reason adds the answer).
GOLD_REASON = "marked gold"

_T = Task.__table__
_L = Lease.__table__
_A = Annotation.__table__
_M = Membership.__table__
_U = User.__table__
_P = Project.__table__


def mark_gold(task_id: int, user: User, *, answer: Any) -> ReviewDecision:
    """Make a task a gold task with its ``answer`` (checked against the schema); again: new answer.

    The task leaves the line (state ``open``, ``is_gold``, no final label, exported only when asked) and
    the router interleaves it at the project's gold rate. Reviewers and leads may do it; the
    act is recorded as a ``gold`` decision (the reviewer can undo it).
    """
    now = utcnow()
    with unit_of_work() as s:
        drop_leases(s, task_id=task_id, kind=REVIEW, expired_before=now)  # lease rows before the task row
        drop_leases(s, task_id=task_id, kind=REVIEW, user_id=user.id)
        task = lock_task(s, task_id)
        project = require_project(s, user, task.project_id, "review")
        answer = check_answer(s, project, task, answer, "answer")
        other = s.execute(sa.select(_L.c.user_id).where(_L.c.task_id == task.id, _L.c.kind == REVIEW)).first()
        if other is not None:
            raise Conflict(f"task {task.id} is being reviewed by another reviewer")
        before = {**task_snapshot(task), "n_annotations": task.n_annotations}
        task.is_gold, task.gold_answer = True, answer
        task.final_label, task.final_source = None, None
        lifecycle.move(s, task, TaskState.open, cause=lifecycle.Cause.gold, user_id=user.id,
                       reason=f"{GOLD_REASON}: {label_text(answer)}", now=now)
        issue = current_issue(s, task.id)
        row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                             label_issue_id=issue.id if issue is not None else None, level=1, decision="gold",
                             result=answer, reason=GOLD_REASON, before=before, after=task_snapshot(task),
                             created_at=now)
        s.add(row)
        s.flush()
        return row


def unmark_gold(task_id: int, user: User) -> Task:
    """A lead turns a gold task back into an ordinary one: ``labeled`` if it has the annotations
    its overlap wants (QC judges it at the next run), ``open`` otherwise."""
    now = utcnow()
    with unit_of_work() as s:
        task = lock_task(s, task_id)
        require_project(s, user, task.project_id, "manage")
        if not task.is_gold:
            raise Conflict(f"task {task_id} is not a gold task")
        task.is_gold, task.gold_answer = False, None
        state = TaskState.labeled if task.n_annotations >= task.target_overlap else TaskState.open
        lifecycle.move(s, task, state, cause=lifecycle.Cause.ungold, user_id=user.id, reason="no longer gold",
                       now=now)
        s.flush()
        return task


def mark_gold_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime) -> lifecycle.PlanOutcome:
    """Make many tasks gold at once (a lead's Data Manager action), in the caller's transaction:
    each answer is the task's final label, else the label its annotators gave (the only one's,
    or their majority). Tasks with neither (no annotation, tied annotators) are refused; gold
    tasks stay as they are. Each leaves the line as :func:`mark_gold` makes it (``open``, no
    final label), its leases dropped."""
    rows = lock_selection(s, project.id, task_ids)
    results = results_of(s, [r.id for r in rows if r.final_label is None and not r.is_gold])
    schema = schema_of(project)
    plans, refused = [], []
    for row in rows:
        if row.is_gold:
            refused.append({"id": row.id, "state": row.state, "detail": "already gold"})
            continue
        answer, tied = row.final_label, []
        if answer is None:
            answer, _, tied = people_label(schema, results.get(row.id, []))
        if answer is None:
            refused.append({"id": row.id, "state": row.state,
                            "detail": "the annotators are tied: no answer to make gold" if tied
                            else "no label to make its gold answer"})
            continue
        plans.append(lifecycle.Planned(row.id, row.state, TaskState.open, f"{GOLD_REASON}: {label_text(answer)}",
                                       {"is_gold": True, "gold_answer": answer, "final_label": None,
                                        "final_source": None, "requeued": False}))
    out = lifecycle.move_planned(s, plans, cause=lifecycle.Cause.gold, project_id=project.id, user_id=user.id,
                                 now=now, column_types={"final_label": sa.JSON(none_as_null=True),
                                                        "gold_answer": sa.JSON(none_as_null=True)})
    release_places(s, out.moved + out.updated)
    out.refused = refused + out.refused
    return out


def unmark_gold_many(s: Session, project: Project, task_ids: list[int], user: User,
                     now: datetime) -> lifecycle.PlanOutcome:
    """Turn many gold tasks back into ordinary ones (in the caller's transaction), as
    :func:`unmark_gold` does each; tasks that are not gold are refused."""
    plans, refused = [], []
    for row in lock_selection(s, project.id, task_ids):
        if not row.is_gold:
            refused.append({"id": row.id, "state": row.state, "detail": "not a gold task"})
            continue
        to = TaskState.labeled if row.n_annotations >= row.target_overlap else TaskState.open
        plans.append(lifecycle.Planned(row.id, row.state, to, "no longer gold",
                                       {"is_gold": False, "gold_answer": None}))
    out = lifecycle.move_planned(s, plans, cause=lifecycle.Cause.ungold, project_id=project.id, user_id=user.id,
                                 now=now, column_types={"gold_answer": sa.JSON(none_as_null=True)})
    out.refused = refused + out.refused
    return out


def is_ground_truth(result: Any, *, is_gold: bool, gold_answer: Any) -> bool:
    """Label Studio's ``ground_truth`` of an annotation: its task is gold and it gives the answer."""
    return bool(is_gold) and gold_answer is not None and result is not None and results_match(result, gold_answer)


def set_ground_truth(annotation_id: int, user: User, ground_truth: bool) -> dict | None:
    """Label Studio's ``PATCH /api/annotations/ID {"ground_truth": true}``: the annotation's
    result becomes its task's gold answer (:func:`mark_gold`); ``false`` on the annotation that
    is the answer turns the task back into an ordinary one (:func:`unmark_gold`).

    Returns
    -------
    dict or None
        The annotation as :func:`labeling.wire.annotation_json` shows it, ``ground_truth`` set;
        None when it already was (or was not) the answer: nothing changed, nothing checked.
    """
    from labeling.users import usernames
    from labeling.wire import annotation_json  # wire stays free of the domain's rules

    with read_session() as s:
        ann = s.get(Annotation, annotation_id)
        if ann is None:
            raise NotFound(f"annotation {annotation_id} not found")
        task = s.get(Task, ann.task_id)
        was = is_ground_truth(ann.result, is_gold=task.is_gold, gold_answer=task.gold_answer)
        if was == bool(ground_truth):  # a body sent back as read: nothing to change here
            return None
        require_project(s, user, ann.project_id, "review")
    if ground_truth:
        if ann.was_cancelled or not ann.result:
            raise Invalid(f"annotation {annotation_id} is a skip; a skip cannot be a gold answer",
                          [{"field": "ground_truth", "detail": "a skip has no result"}])
        mark_gold(task.id, user, answer=ann.result)
    else:
        unmark_gold(task.id, user)
    return {**annotation_json(ann, names=usernames([ann.user_id])), "ground_truth": bool(ground_truth)}


def scored_users(conn: Any, project_id: int, user_ids: Iterable[int]) -> set[int]:
    """Of ``user_ids``, those whose answers to the project's gold tasks are scored.

    Gold tests the people who label: a user is scored when their role in the project
    (:func:`labeling.access.role_from`, whether or not their account is active now) is
    ``annotator``. Admins and the project's leads can read the gold answers, and reviewers mark
    tasks gold with their answer, so an answer of theirs to a gold task proves nothing: it is
    kept as an annotation, but it counts toward no one's gold accuracy and pauses no one.

    Parameters
    ----------
    conn : Session or Connection
    project_id : int
    user_ids : iterable of int

    Returns
    -------
    set of int
    """
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    project = conn.execute(sa.select(_P.c.created_by, _P.c.restricted).where(_P.c.id == project_id)).first()
    if project is None:
        return set()
    members = dict(conn.execute(sa.select(_M.c.user_id, _M.c.role)
                                .where(_M.c.project_id == project_id, _M.c.user_id.in_(ids))).all())
    out = set()
    for uid, role in conn.execute(sa.select(_U.c.id, _U.c.role).where(_U.c.id.in_(ids))):
        person = SimpleNamespace(id=uid, role=role, is_active=True)
        if role_from(person, member_role=members.get(uid), created_by=project.created_by,
                     restricted=project.restricted) == Role.annotator:
            out.add(uid)
    return out


def gold_accuracy(s: Session, project_id: int, *, user_id: int | None = None,
                  since: dict[int, datetime] | None = None) -> dict[int, tuple[int, int]]:
    """``{user id: (gold answers, correct)}`` in a project (answers after ``since[user]`` only),
    of the users gold scores (:func:`scored_users`: the project's annotators)."""
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
    scored = scored_users(s, project_id, out)
    return {uid: (n, ok) for uid, (n, ok) in out.items() if uid in scored}


def pause(s: Session, project_id: int, user_id: int, reason: str, now: datetime | None = None) -> Membership:
    """Inside a unit of work: pause a user in a project (creating their membership row with their
    global role if they have none) and release their open leases."""
    now = now or utcnow()
    membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                  Membership.user_id == user_id).with_for_update()).first()
    if membership is None:  # the role they had in the project without one (never more)
        target = s.get(User, user_id)
        project = s.get(Project, project_id)
        role = (role_from(target, member_role=None, created_by=project.created_by, restricted=False)
                if target is not None and project is not None else None)
        role = role if role in _MEMBER_ROLES else Role.annotator
        membership = Membership(project_id=project_id, user_id=user_id, role=role, created_at=now)
    membership.paused_at = now
    membership.paused_reason = reason[:MAX_REASON]
    s.add(membership)
    drop_leases(s, project_id=project_id, user_id=user_id)
    s.flush()
    return membership


def check_gold(project_id: int, user_id: int) -> bool:
    """After ``user_id`` submitted a gold task: pause them if their gold accuracy (since they were
    last resumed) is below ``Project.gold_threshold`` over at least ``Project.gold_min_items``
    answers. Returns True if they were paused now. Only the project's annotators are scored
    (:func:`scored_users`); anyone else is never paused by gold."""
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
