"""Annotations: submit, skip, edit, delete, list (predictions: :mod:`labeling.predictions`).

Rules
-----
- A result is checked against the project's label schema
  (:func:`labeling.validation.check_result` over :func:`labeling.schema.validate_result`:
  labels exist, choice counts, span offsets and text, boxes inside the image, whose size
  comes from its ``Media`` row).
- One annotation per (task, user), enforced by a unique constraint: a retried submit returns
  the annotation already stored (a different result is an edit), never a second one.
- A skip (Label Studio's ``was_cancelled``, with an optional reason) is the user's annotation
  row for the task: the router never serves the task to them again, it does not count toward
  overlap, and it releases the lease.
- Annotators edit their own annotations while the task is ``open`` or ``labeled`` (until QC
  has taken it); every change first copies the earlier version into ``AnnotationVersion``.
- The task's counters and state change in the same transaction as the annotation:
  ``open -> labeled`` when ``n_annotations`` reaches ``target_overlap`` (and back when an
  annotation is withdrawn), with its ``TaskEvent``, by the rules of :mod:`labeling.lifecycle`.
  Gold tasks keep their state.
- Annotators see only their own annotations (blind labeling); leads and reviewers see all.
- An annotation made from a pre-label records the prediction (``parent_prediction``, Label
  Studio's key), checked to be one of the task's; QC tells such annotations apart
  (ARCHITECTURE.md, Pre-labels).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from labeling import drafts, lifecycle, webhooks
from labeling.access import ACTIONS, can, check_not_paused, check_role, require_project, role_from
from labeling.db import hot_transaction, read_session, utcnow
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.gold import check_gold
from labeling.jobs.qc_trigger import tasks_labeled
from labeling.models import (
    Annotation,
    AnnotationVersion,
    Comment,
    Lease,
    Membership,
    Prediction,
    Project,
    Task,
    TaskState,
    User,
)
from labeling.router import ANNOTATE, take_lease
from labeling.schema import LabelSchema, cached_schema, schema_of
from labeling.schema.hypertext import page_data
from labeling.validation import check_result
from labeling.wire import task_json, user_label

__all__ = [
    "EDITABLE_STATES",
    "annotator_counters",
    "delete_annotation",
    "get_annotation",
    "my_annotations",
    "previous_own_annotation",
    "submit",
    "task_annotations",
    "update_annotation",
]

#: Task states in which annotators may still change their annotations (QC has not taken it).
EDITABLE_STATES = (TaskState.open, TaskState.labeled)

_T = Task.__table__
_A = Annotation.__table__
_P = Project.__table__
_COUNTED = lifecycle.Cause.annotation
_M = Membership.__table__
_L = Lease.__table__


def _p(name: str) -> sa.BindParameter:
    return sa.bindparam(name)


_SCHEMA = sa.select(_P.c.label_schema).where(_P.c.id == _p("pid"))
# The task (locked), what the access rules need of its project and membership, and the id of
# the caller's annotation of it: one query.
def _context_columns(t: Any) -> list[Any]:
    return [
        *t.c, _P.c.updated_at.label("p_updated_at"), _P.c.created_by.label("p_created_by"),
        _P.c.restricted.label("p_restricted"), _P.c.qc_every.label("p_qc_every"), _M.c.role.label("member_role"),
        _M.c.paused_at.label("m_paused_at"), _M.c.paused_reason.label("m_paused_reason"),
        sa.select(_A.c.id).where(_A.c.task_id == t.c.id, _A.c.user_id == _p("uid")).scalar_subquery().label("mine"),
        webhooks.any_active(t.c.project_id).label("has_webhooks"),  # emit asks nothing when false
    ]


def _context_from(t: Any) -> Any:
    return t.join(_P, _P.c.id == t.c.project_id).outerjoin(
        _M, sa.and_(_M.c.project_id == t.c.project_id, _M.c.user_id == _p("uid")))


_CTX = (sa.select(*_context_columns(_T)).select_from(_context_from(_T))
        .where(_T.c.id == _p("tid")).with_for_update(of=_T))

# PostgreSQL: lock the task, then drop the caller's lease on it (the CTE order keeps lease rows
# after task rows) and read the context, in one round trip.
_LOCKED = sa.select(_T).where(_T.c.id == _p("tid")).with_for_update().cte("locked")
_DROPPED = (
    sa.delete(_L).where(_L.c.task_id == sa.select(_LOCKED.c.id).scalar_subquery(), _L.c.user_id == _p("uid"),
                        _L.c.kind == ANNOTATE)
    .returning(_L.c.created_at).cte("dropped")
)
_CTX_DROP_PG = sa.select(
    *_context_columns(_LOCKED), sa.select(_DROPPED.c.created_at).scalar_subquery().label("leased_at"),
).select_from(_context_from(_LOCKED))


def _task_context(conn: Connection, user: User, task_id: int, action: str, *,
                  drop_lease: bool = False) -> tuple[Any, str, datetime | None]:
    """The locked task row with its project's access facts, the user's role, and (with
    ``drop_lease``) when the user's lease on it began, the lease being deleted now.

    NotFound / Forbidden exactly as :func:`labeling.access.require_project` raises them.
    """
    leased_at = None
    params = {"tid": task_id, "uid": user.id}
    if drop_lease and conn.dialect.name == "postgresql":
        ctx = conn.execute(_CTX_DROP_PG, params).first()
        leased_at = ctx.leased_at if ctx is not None else None
    else:
        if drop_lease:
            leased_at = take_lease(conn, task_id, user.id)  # SQLite: the whole database is locked
        ctx = conn.execute(_CTX, params).first()
    if ctx is None:
        raise NotFound(f"task {task_id} not found")
    role = role_from(user, member_role=ctx.member_role, created_by=ctx.p_created_by, restricted=ctx.p_restricted)
    check_role(user, ctx.project_id, role, action)
    if action == "annotate":
        check_not_paused(user, ctx.project_id, ctx.m_paused_at, ctx.m_paused_reason)
    return ctx, role, leased_at


def _schema_of(conn: Connection, ctx: Any) -> LabelSchema:
    return cached_schema(ctx.project_id, ctx.p_updated_at,
                         lambda: conn.execute(_SCHEMA, {"pid": ctx.project_id}).scalar_one())


def _task_values(task: Any, user_id: int, now: datetime, *, d_annotations: int, d_skips: int, d_leases: int,
                 reason: str) -> dict:
    """Parameters of the task's counter update and (when its state changes) its event."""
    n = task.n_annotations + d_annotations
    state, requeued = lifecycle.counted_state(task.state, n, task.target_overlap, task.is_gold, task.requeued)
    return {"tid": task.id, "v_ann": n, "v_skips": task.n_skips + d_skips, "v_leases": task.n_leases + d_leases,
            "v_state": state, "v_requeued": requeued, "v_now": now,
            **lifecycle.event_params(_COUNTED, task_id=task.id, project_id=task.project_id,
                                     user_id=user_id, from_state=task.state, to_state=state,
                                     reason=reason or f"{n} of {task.target_overlap} annotations", now=now)}


_SET_TASK = (
    sa.update(_T).where(_T.c.id == _p("tid"))
    .values(n_annotations=_p("v_ann"), n_skips=_p("v_skips"), n_leases=_p("v_leases"), state=_p("v_state"),
            requeued=_p("v_requeued"), updated_at=_p("v_now"))
)
_ANN_COLUMNS = ("task_id", "project_id", "user_id", "result", "was_cancelled", "skip_reason", "lead_time", "source",
                "parent_prediction", "version", "created_at", "updated_at", "draft_created_at")
_INSERT_ANNOTATION = sa.insert(_A).values({c: _p(f"a_{c}") for c in _ANN_COLUMNS}).returning(_A.c.id)
# PostgreSQL: the annotation, the task's counters and state (and its event) in one round trip.
_SUBMIT_PG = sa.select(_INSERT_ANNOTATION.cte("ins").c.id).add_cte(_SET_TASK.cte("counted"))
_SUBMIT_EVENT_PG = _SUBMIT_PG.add_cte(lifecycle.INSERT_EVENT.cte("event"))


def _set_task(conn: Connection, task: Any, user_id: int, *, d_annotations: int = 0, d_skips: int = 0,
              d_leases: int = 0, reason: str = "") -> None:
    """Apply counter changes to a locked task, move it open <-> labeled, write the event."""
    if not (d_annotations or d_skips or d_leases):
        return
    values = _task_values(task, user_id, utcnow(), d_annotations=d_annotations, d_skips=d_skips,
                          d_leases=d_leases, reason=reason)
    conn.execute(_SET_TASK, values)
    if values["e_to"] != task.state:
        conn.execute(lifecycle.INSERT_EVENT, values)
        if task.p_qc_every > 0 and values["e_to"] == TaskState.labeled:
            tasks_labeled(conn, task.project_id, 1)


def _insert_annotation(conn: Connection, task: Any, user_id: int, annotation: dict, *, d_leases: int) -> int:
    """Insert an annotation and count it on its locked task; returns its id."""
    cancelled = annotation["was_cancelled"]
    values = _task_values(task, user_id, annotation["created_at"], d_annotations=0 if cancelled else 1,
                          d_skips=1 if cancelled else 0, d_leases=d_leases, reason="")
    values.update({f"a_{k}": v for k, v in annotation.items()})
    changed = values["e_to"] != task.state
    if task.p_qc_every > 0 and changed and values["e_to"] == TaskState.labeled:
        tasks_labeled(conn, task.project_id, 1)  # automatic QC is on: count the task
    if conn.dialect.name == "postgresql":
        return conn.execute(_SUBMIT_EVENT_PG if changed else _SUBMIT_PG, values).scalar_one()
    ann_id = conn.execute(_INSERT_ANNOTATION, values).scalar_one()
    conn.execute(_SET_TASK, values)
    if changed:
        conn.execute(lifecycle.INSERT_EVENT, values)
    return ann_id


def submit(task_id: int, user: User, *, result: Any = None, was_cancelled: bool = False,
           skip_reason: str = "", lead_time: float | None = None, source: str = "api",
           parent_prediction: int | None = None, draft_id: int | None = None) -> tuple[Annotation, bool]:
    """Store the user's annotation (or skip) of a task.

    Parameters
    ----------
    task_id : int
    user : User
        Needs the ``annotate`` right in the task's project.
    result : list of dict
        Label Studio result items; ignored for a skip.
    was_cancelled : bool
        A skip (Label Studio's name); ``skip_reason`` says why.
    lead_time : float, optional
        Seconds spent; by default the time since the task was leased to the user.
    source : str
        ``ui`` or ``api``.
    parent_prediction : int, optional
        The prediction of this task the annotation started from (a pre-label; Label Studio's
        key): the annotation is marked as not independent (ARCHITECTURE.md, Pre-labels).
    draft_id : int, optional
        The user's draft of this task the annotation was made from (Label Studio's key): deleted
        in the same transaction (another's draft: Forbidden); a new annotation keeps its
        ``created_at`` as ``draft_created_at``, as Label Studio's does (an edit of the user's
        annotation keeps its own).

    Returns
    -------
    (Annotation, bool)
        The annotation, and True if it was created now (False: the user had one already, which
        a repeated submit returns unchanged and a different submit edits).

    Raises
    ------
    Invalid
        The result does not fit the label schema.
    Conflict
        The task has all the annotations it needs (or its places are leased to others), or QC
        has taken it.
    """
    for attempt in (1, 2):
        try:
            return _submit(task_id, user, result=result, was_cancelled=bool(was_cancelled),
                           skip_reason=skip_reason, lead_time=lead_time, source=source,
                           parent_prediction=parent_prediction, draft_id=draft_id)
        except IntegrityError:
            # A concurrent submit of the same (task, user) won the unique constraint: the
            # second attempt finds its annotation.
            if attempt == 2:
                raise Conflict(f"task {task_id} was annotated by you concurrently; reload it") from None
    raise AssertionError("unreachable")


def _submit(task_id: int, user: User, *, result: Any, was_cancelled: bool, skip_reason: str,
            lead_time: float | None, source: str, parent_prediction: int | None,
            draft_id: int | None = None) -> tuple[Annotation, bool]:
    now = utcnow()
    with hot_transaction() as conn:
        task, _role, leased_at = _task_context(conn, user, task_id, "annotate", drop_lease=True)
        draft_created_at = drafts.take_submitted(conn, user.id, draft_id, task_id) if draft_id is not None else None
        d_leases = 0 if leased_at is None else -1
        mine = task.mine
        if mine is None and not (was_cancelled or task.is_gold) and (
            task.state != TaskState.open or task.n_annotations + task.n_leases + d_leases >= task.target_overlap
        ):
            # About to refuse: look again with a fresh snapshot (on PostgreSQL the context was read
            # with the snapshot from before the task lock), in case this is a concurrent retry.
            mine = conn.execute(_MINE, {"tid": task_id, "uid": user.id}).scalar()
        if mine is not None:
            ann = conn.execute(_ANNOTATION_FOR_UPDATE, {"aid": mine}).first()
            changed = _edit(conn, task, ann, user, result=result, was_cancelled=was_cancelled,
                            skip_reason=skip_reason, lead_time=lead_time, d_leases=d_leases)
            if changed is not None:
                webhooks.emit(conn, "ANNOTATION_UPDATED", task.project_id,
                              lambda: webhooks.annotation_event(conn, ann.id), any_hooks=task.has_webhooks)
            return Annotation(**(changed or ann._asdict())), False
        if was_cancelled:
            result = result if isinstance(result, list) else []
        else:
            if not task.is_gold:
                if task.state != TaskState.open:
                    raise Conflict(f"task {task_id} is {task.state}; it takes no more annotations")
                if task.n_annotations + task.n_leases + d_leases >= task.target_overlap:
                    raise Conflict(
                        f"task {task_id} has {task.n_annotations} of {task.target_overlap} annotations and its "
                        "other places are leased to other annotators; ask for the next task")
            check_result(conn, _schema_of(conn, task), task, result)
            if parent_prediction is not None and conn.execute(
                    _TASK_PREDICTION, {"prid": parent_prediction, "tid": task_id}).first() is None:
                raise Invalid(f"prediction {parent_prediction} is not a prediction of task {task_id}",
                              [{"row": None, "field": "parent_prediction", "detail": "not a prediction of this task"}])
        if was_cancelled:
            parent_prediction = None
        if lead_time is None and leased_at is not None:
            lead_time = round((now - leased_at).total_seconds(), 3)
        values = {"task_id": task_id, "project_id": task.project_id, "user_id": user.id, "result": result,
                  "was_cancelled": was_cancelled, "skip_reason": (skip_reason or "")[:2000] if was_cancelled else "",
                  "lead_time": lead_time, "source": source, "parent_prediction": parent_prediction, "version": 1,
                  "created_at": now, "updated_at": now, "draft_created_at": draft_created_at}
        ann_id = _insert_annotation(conn, task, user.id, values, d_leases=d_leases)
        webhooks.emit(conn, "ANNOTATION_CREATED", task.project_id, lambda: webhooks.annotation_event(conn, ann_id),
                      any_hooks=task.has_webhooks)
    if task.is_gold and not was_cancelled:  # pause an annotator whose gold accuracy is too low
        check_gold(task.project_id, user.id)
    return Annotation(id=ann_id, **values), True


_ANNOTATION = sa.select(_A).where(_A.c.id == _p("aid"))
_TASK_PREDICTION = sa.select(Prediction.__table__.c.id).where(
    Prediction.__table__.c.id == _p("prid"), Prediction.__table__.c.task_id == _p("tid"))
_MINE = sa.select(_A.c.id).where(_A.c.task_id == _p("tid"), _A.c.user_id == _p("uid"))
_ANNOTATION_FOR_UPDATE = _ANNOTATION.with_for_update()
_INSERT_VERSION = sa.insert(AnnotationVersion.__table__)
_UPDATE_ANNOTATION = (
    sa.update(_A).where(_A.c.id == _p("aid"))
    .values(result=_p("v_result"), was_cancelled=_p("v_cancelled"), skip_reason=_p("v_reason"),
            version=_p("v_version"), lead_time=_p("v_lead"), updated_at=_p("v_now"))
)


def _edit(conn: Connection, task: Any, ann: Any, user: User, *, result: Any = None,
          was_cancelled: bool | None = None, skip_reason: str | None = None, lead_time: float | None = None,
          d_leases: int = 0) -> dict | None:
    """Change an annotation of ``user`` (the task is locked); returns its new values, or None
    if nothing changed (a repeated submit)."""
    cancel = ann.was_cancelled if was_cancelled is None else bool(was_cancelled)
    if result is None or (cancel and not isinstance(result, list)):
        result = [] if cancel and not ann.was_cancelled else ann.result
    reason = ann.skip_reason if skip_reason is None else (skip_reason or "")[:2000]
    if not cancel:
        reason = ""
    if result == ann.result and cancel == ann.was_cancelled and reason == ann.skip_reason:
        _set_task(conn, task, user.id, d_leases=d_leases)
        return None
    if task.state not in EDITABLE_STATES:
        raise Conflict(f"QC has taken task {task.id} (it is {task.state}); its annotations can no longer be changed")
    if not cancel:
        check_result(conn, _schema_of(conn, task), task, result)
    d_ann = (0 if cancel else 1) - (0 if ann.was_cancelled else 1)
    if d_ann > 0 and not task.is_gold and (
        task.state != TaskState.open or task.n_annotations + task.n_leases + d_leases >= task.target_overlap
    ):
        raise Conflict(f"task {task.id} has all the annotations it needs; your skip cannot become an annotation")
    now = utcnow()
    conn.execute(_INSERT_VERSION, {"annotation_id": ann.id, "version": ann.version, "result": ann.result,
                                   "was_cancelled": ann.was_cancelled, "lead_time": ann.lead_time,
                                   "changed_by": user.id, "created_at": now})
    new_lead = ann.lead_time if lead_time is None else round((ann.lead_time or 0) + float(lead_time), 3)
    conn.execute(_UPDATE_ANNOTATION, {"aid": ann.id, "v_result": result, "v_cancelled": cancel, "v_reason": reason,
                                      "v_version": ann.version + 1, "v_lead": new_lead, "v_now": now})
    _set_task(conn, task, user.id, d_annotations=d_ann, d_skips=-d_ann, d_leases=d_leases,
              reason=f"annotation {ann.id} {'withdrawn (skipped)' if d_ann < 0 else 'submitted'}")
    return {**ann._asdict(), "result": result, "was_cancelled": cancel, "skip_reason": reason,
            "version": ann.version + 1, "lead_time": new_lead, "updated_at": now}


_FIX_ANNOTATION = (
    sa.update(_A).where(_A.c.id == _p("aid"))
    .values(result=_p("v_result"), version=_p("v_version"), updated_at=_p("v_now"))
)


def _fix(conn: Connection, task: Any, ann: Any, user: User, result: Any) -> dict | None:
    """A lead's or reviewer's correction of someone's annotation, in any state of its task: a new
    version of the result (the earlier one kept in ``annotation_version`` with who changed it),
    the author, skip, lead time and the task's state untouched, an accepted task's final label
    the corrected result; None if nothing changed."""
    if ann.was_cancelled:
        raise Conflict(f"annotation {ann.id} is a skip: there is no result to correct")
    if not isinstance(result, list):
        raise Invalid("send the corrected result (a list of result items)", [{"field": "result", "detail": "required"}])
    if result == ann.result:
        return None
    check_result(conn, _schema_of(conn, task), task, result)
    now = utcnow()
    conn.execute(_INSERT_VERSION, {"annotation_id": ann.id, "version": ann.version, "result": ann.result,
                                   "was_cancelled": ann.was_cancelled, "lead_time": ann.lead_time,
                                   "changed_by": user.id, "created_at": now})
    conn.execute(_FIX_ANNOTATION, {"aid": ann.id, "v_result": result, "v_version": ann.version + 1, "v_now": now})
    # an accepted task's final label follows the correction: the corrector's decision
    lifecycle.correct_final(conn, task_id=task.id, project_id=task.project_id, state=task.state, label=result,
                            source="reviewer", user_id=user.id, now=now,
                            reason=f"final label corrected: annotation {ann.id} is now version {ann.version + 1}")
    return {**ann._asdict(), "result": result, "version": ann.version + 1, "updated_at": now}


def _annotation_in_context(conn: Connection, annotation_id: int, user: User) -> tuple[Any, Any, str]:
    """The annotation (locked) with its locked task row and the user's role in the project."""
    ann = conn.execute(_ANNOTATION, {"aid": annotation_id}).first()
    if ann is None:
        raise NotFound(f"annotation {annotation_id} not found")
    task, role, _ = _task_context(conn, user, ann.task_id, "view")
    ann = conn.execute(_ANNOTATION_FOR_UPDATE, {"aid": annotation_id}).first()
    if ann is None or (ann.user_id != user.id and role not in ACTIONS["see_all"]):
        raise NotFound(f"annotation {annotation_id} not found")
    return ann, task, role


def update_annotation(annotation_id: int, user: User, *, result: Any = None, was_cancelled: bool | None = None,
                      skip_reason: str | None = None, lead_time: float | None = None) -> Annotation:
    """Edit one's own annotation while the task is open or labeled; the old version is kept.

    A lead or reviewer of the project corrects anyone's annotation (its ``result`` only) in
    whatever state the task is: a new version with who and when, the earlier one kept
    (the task page's story shows them); the task's state stays, and an accepted task's final
    label becomes the corrected result (source ``reviewer``), with an event that says so
    (:func:`labeling.lifecycle.correct_final`).

    Raises
    ------
    NotFound
        No such annotation, or the user may not see it.
    Forbidden
        It is someone else's annotation and the user may not review in the project, or a
        reviewer tried to change its skip or lead time.
    Conflict
        QC has taken the task (the author's edit), a skip would become an annotation of a task
        that is full, or a correction of a skip.
    """
    with hot_transaction() as conn:
        ann, task, role = _annotation_in_context(conn, annotation_id, user)
        if ann.user_id != user.id:
            if role not in ACTIONS["review"]:
                raise Forbidden(f"annotation {annotation_id} is another annotator's; only its author, a reviewer "
                                "or a lead may change it")
            if was_cancelled is not None or skip_reason is not None or lead_time is not None:
                raise Forbidden(f"annotation {annotation_id} is another annotator's: correct its result only")
            if task.is_gold and role not in ACTIONS["see_gold"]:  # its answers score its annotator
                raise Forbidden(f"annotation {annotation_id} answers a gold task: only a lead may correct it")
            changed = _fix(conn, task, ann, user, result)
        else:
            changed = _edit(conn, task, ann, user, result=result, was_cancelled=was_cancelled,
                            skip_reason=skip_reason, lead_time=lead_time)
        if changed is not None:
            webhooks.emit(conn, "ANNOTATION_UPDATED", task.project_id, lambda: webhooks.annotation_event(conn, ann.id))
    return Annotation(**(changed or ann._asdict()))


def delete_annotation(annotation_id: int, user: User) -> None:
    """Delete an annotation (its author, or a lead) while the task is open or labeled.

    The task's counters are recounted; a labeled task below its overlap opens again.
    """
    with hot_transaction() as conn:
        ann, task, role = _annotation_in_context(conn, annotation_id, user)
        if ann.user_id != user.id and role not in ACTIONS["manage"]:
            raise Forbidden(f"annotation {annotation_id} is another annotator's; only its author or a lead "
                            "may delete it")
        if task.state not in EDITABLE_STATES:
            raise Conflict(f"QC has taken task {task.id} (it is {task.state}); its annotations can no longer be deleted")
        conn.execute(sa.delete(AnnotationVersion.__table__).where(AnnotationVersion.annotation_id == ann.id))
        drafts.delete_for_annotations(conn, [ann.id])
        conn.execute(sa.update(Comment.__table__).where(Comment.annotation_id == ann.id)
                     .values(annotation_id=None))  # a comment stays on its task
        conn.execute(sa.delete(_A).where(_A.c.id == ann.id))
        if ann.was_cancelled:
            _set_task(conn, task, user.id, d_skips=-1)
        else:
            _set_task(conn, task, user.id, d_annotations=-1, reason=f"annotation {ann.id} deleted")
        webhooks.emit(conn, "ANNOTATIONS_DELETED", task.project_id,
                      lambda: {"annotations": webhooks.only_ids([ann.id])})


def get_annotation(annotation_id: int, user: User) -> Annotation:
    """An annotation the user may see: their own, or any if they may see all in its project."""
    with read_session() as s:
        ann = s.get(Annotation, annotation_id)
        if ann is None:
            raise NotFound(f"annotation {annotation_id} not found")
        project = require_project(s, user, ann.project_id, "view")
        if ann.user_id != user.id and not can(s, user, project, "see_all"):
            raise NotFound(f"annotation {annotation_id} not found")
        return ann


def task_annotations(task_id: int, user: User) -> list[Annotation]:
    """A task's annotations: all of them for leads and reviewers, the user's own otherwise."""
    with read_session() as s:
        project_id = s.execute(sa.select(_T.c.project_id).where(_T.c.id == task_id)).scalar_one_or_none()
        if project_id is None:
            raise NotFound(f"task {task_id} not found")
        project = require_project(s, user, project_id, "view")
        q = select(Annotation).where(Annotation.task_id == task_id).order_by(Annotation.id)
        if not can(s, user, project, "see_all"):
            q = q.where(Annotation.user_id == user.id)
        return list(s.exec(q))


def my_annotations(project_id: int, user: User, *, before: int | None = None, limit: int = 1) -> list[dict]:
    """The user's own annotations in a project, newest first, each inside its task (for "back").

    Parameters
    ----------
    before : int, optional
        Only annotations with a smaller id (page with the last id seen).
    limit : int
        At most this many (1 to 100).

    Returns
    -------
    list of dict
        Label Studio tasks, each with ``annotations`` holding the user's one annotation and
        ``editable`` telling whether it can still be changed.
    """
    limit = max(1, min(int(limit), 100))
    with read_session() as s:
        require_project(s, user, project_id, "view")
        q = (select(Annotation, Task).join(Task, Task.id == Annotation.task_id)
             .where(Annotation.project_id == project_id, Annotation.user_id == user.id)
             .order_by(Annotation.id.desc()).limit(limit))
        if before is not None:
            q = q.where(Annotation.id < before)
        rows = s.exec(q).all()
    out = []
    for ann, task in rows:
        view = task_json(task, annotations=[ann], names={user.id: user_label(user.name, user.email, user.id)})
        view["editable"] = task.state in EDITABLE_STATES
        out.append(view)
    return out


# --------------------------------------------------------------------------- the labeling page


def previous_own_annotation(user: User, project_id: int, *, before: int | None = None) -> dict | None:
    """The user's newest own annotation in a project (older than ``before``), for "back".

    Returns
    -------
    dict or None
        ``{"annotation": <Label Studio annotation>, "task": <task>, "editable": bool}``; the
        task's HTML sanitised for the page (:func:`labeling.schema.hypertext.page_data`).
    """
    found = my_annotations(project_id, user, before=before, limit=1)
    if not found:
        return None
    task = found[0]
    with read_session() as s:
        project = s.get(Project, project_id)
    task["data"] = page_data(schema_of(project), task["data"])  # HTML made safe to show
    annotation = task["annotations"][0]
    return {"annotation": annotation, "task": task, "editable": task["editable"]}


def annotator_counters(user: User, project_id: int, *, since: datetime | None = None) -> dict:
    """What the labeling page shows: ``done_today`` (submitted since ``since``, default the start
    of the UTC day) and ``remaining`` (open tasks with room that the user has not done yet)."""
    now = utcnow()
    since = since or now.replace(hour=0, minute=0, second=0, microsecond=0)
    a = Annotation.__table__
    with read_session() as s:
        require_project(s, user, project_id, "annotate")
        done = s.execute(
            sa.select(sa.func.count()).select_from(a)
            .where(a.c.project_id == project_id, a.c.user_id == user.id, a.c.created_at >= since,
                   a.c.was_cancelled == sa.false())
        ).scalar_one()
        remaining = s.execute(
            sa.select(sa.func.count()).select_from(_T)
            .where(_T.c.project_id == project_id, _T.c.state == TaskState.open, _T.c.is_gold == sa.false(),
                   _T.c.n_annotations < _T.c.target_overlap,
                   ~sa.exists().where(a.c.task_id == _T.c.id, a.c.user_id == user.id))
        ).scalar_one()
    return {"done_today": done, "remaining": remaining}
