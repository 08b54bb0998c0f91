"""The task router: which task an annotator labels next (DESIGN.md, "Item life cycle").

Rules
-----
- Overlap: a task wants ``Task.target_overlap`` annotations (the project's overlap, raised by
  QC) from as many different annotators, never more. A handed-out task is *leased* to its
  annotator for ``Project.lease_seconds``; ``Task.n_leases`` counts the live leases, so a task
  is open to one more annotator only while ``n_annotations + n_leases < target_overlap``.
- A user never receives a task they annotated or skipped (an ``Annotation`` row of theirs,
  ``was_cancelled`` for skips); asking again while holding a lease returns the same task and
  renews the lease; an expired lease is swept back into the pool by the next request.
- Order: tasks sent back by QC (``requeued``) first, then ``priority`` (higher first), then
  tasks already started by others (more annotations first: finish items before opening new
  ones, so QC gets complete items early), then import order (``id``).
- Gold tasks (``is_gold``) are answered by every annotator once, interleaved so that a share
  ``Project.gold_rate`` of a user's submissions are gold; they never count toward overlap and
  never change state. Only users whose role in the project is annotator get them: gold scores
  no one else (``labeling.gold.scored_users``). Paused members (``Membership.paused_at``) get nothing (:class:`Paused`).
- Uncertain first: in a project with ``Project.uncertain_first``, a model's prediction with a
  score sets the priority of its open task to ``1 - score`` as it is stored
  (:func:`prioritize_uncertain`, called by imports and the predictions API), so the items the
  model is least sure about are labelled first; QC's runs then replace those priorities with
  ActiveLab's where they have labels (``quality.run.feedback``), on the same scale.
- Pre-labels: a task's predictions go with it only where the project shows them
  (``models.prelabels_on``: by default with overlap 1 only) and only to its first annotator
  (ARCHITECTURE.md, Pre-labels).

Concurrency
-----------
A claim is one transaction. On SQLite it runs in ``BEGIN IMMEDIATE`` (one writer at a time;
inside a server process the writers also queue on a lock, which hands over at once instead of
sleeping in SQLite's busy handler). On PostgreSQL candidate rows are taken with
``FOR UPDATE SKIP LOCKED`` and re-checked against their newest version, and every counter
changes while its row is locked; the usual claim is one statement (choose, lease, count), so it
runs in autocommit mode, and only a sweep, a gold task or a dropped lease opens a transaction.
A claim that finds nothing but skipped a row open to the user (another annotator submitting
that task, say) asks again after a short wait instead of answering "nothing left", which
would send the user away from a task that still needs them.
Lock order is always task rows before lease rows, so that a submit, a release and a sweep of
the same lease cannot deadlock.

Speed
-----
A request is a handful of prepared statements on one connection (psycopg prepares a statement
at its fifth use on a connection and forgets them at a ROLLBACK: nothing on the hot path may end
in one, see :func:`labeling.db.statement_connection`): the access check, the
user's own lease and the "anything expired?" and "any predictions?" probes are one query; the
choice is one query whose sub-select finds the best tier (requeued, priority, started) with
an eligible task by reading ``ix_task_route`` (project, state, gold, requeued, priority,
n_annotations, id) backwards, and whose outer part takes the first eligible task of that tier
in import order. Rows skipped on the way are only those in flight (leased to others, or done
by this user), so a request costs O(log n + in-flight) whatever the project size.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlmodel import Session

from labeling.access import Paused, check_not_paused, check_role, role_from
from labeling.db import get_engine, hot_transaction, unit_of_work, utcnow
from labeling.errors import Conflict, NotFound
from labeling.ml import lookahead_due, queue_lookahead
from labeling.models import (
    Annotation,
    AnnotationDraft,
    Lease,
    Media,
    Membership,
    MLBackend,
    Prediction,
    Project,
    Role,
    Storage,
    Task,
    TaskState,
    User,
    UTCDateTime,
    prelabels_on,
)
from labeling.schema import LabelSchema, cached_schema
from labeling.schema.hypertext import page_data
from labeling.storages.resolve import RESOLVING, url_resolver
from labeling.wire import draft_json, task_json

__all__ = [
    "Paused",
    "next_task",
    "prioritize_uncertain",
    "release",
    "renew_lease",
    "serve_next",
    "take_lease",
]

ANNOTATE = "annotate"  # Lease.kind of the annotation router
OPEN = TaskState.open.value

_T = Task.__table__
_L = Lease.__table__
_A = Annotation.__table__
_P = Project.__table__
_M = Membership.__table__
_PR = Prediction.__table__

_ONE = sa.literal_column("1")  # literal LIMIT/OFFSET values, so that generic (prepared) plans know them
_ZERO = sa.literal_column("0")


def prioritize_uncertain(conn: Connection, project_id: int, task_ids: list[int]) -> int:
    """Serve the tasks the model is least sure about first: the priority of each open, ordinary
    task of ``task_ids`` becomes ``1 -`` the score of its newest scored prediction,
    when the project has ``uncertain_first``; returns how many tasks changed. Runs in the
    caller's transaction, after it has stored the predictions."""
    on = conn.execute(sa.select(_P.c.uncertain_first).where(_P.c.id == project_id)).scalar_one_or_none()
    if not on or not task_ids:
        return 0
    newest = (sa.select(_PR.c.score).where(_PR.c.task_id == _T.c.id, _PR.c.score.is_not(None))
              .order_by(_PR.c.id.desc()).limit(1).scalar_subquery())
    changed = 0
    for i in range(0, len(task_ids), 1000):
        changed += conn.execute(
            sa.update(_T).where(_T.c.project_id == project_id, _T.c.id.in_(sorted(task_ids)[i:i + 1000]),
                                _T.c.state == OPEN, _T.c.is_gold == sa.false(), _T.c.requeued == sa.false(),
                                sa.exists().where(_PR.c.task_id == _T.c.id, _PR.c.score.is_not(None)))
            .values(priority=1.0 - newest)).rowcount
    return changed


def _p(name: str, type_: Any = None) -> sa.BindParameter:
    return sa.bindparam(name, type_=type_)


def _own_lease_subquery(project_col: Any) -> Any:
    # the user's first lease other than the one they are on while they ask for a task ahead
    return (sa.select(_L.c.task_id)
            .where(_L.c.project_id == project_col, _L.c.user_id == _p("uid"), _L.c.kind == ANNOTATE,
                   _L.c.task_id != _p("ahead"))
            .order_by(_L.c.id).limit(sa.literal_column("1")).scalar_subquery())


# One query: the project's routing settings, the caller's membership, their lease, and whether
# the project has expired leases or predictions at all.
_ACCESS = (
    sa.select(
        _P.c.id, _P.c.created_by, _P.c.restricted, _P.c.archived_at, _P.c.lease_seconds, _P.c.gold_rate,
        _P.c.show_predictions, _P.c.overlap, _M.c.role.label("member_role"), _M.c.paused_at, _M.c.paused_reason,
        _own_lease_subquery(_P.c.id).label("own_task"),
        sa.exists().where(_L.c.project_id == _P.c.id, _L.c.expires_at < _p("now")).label("has_expired"),
        sa.exists().where(_PR.c.project_id == _P.c.id).label("has_predictions"),
        # what serve_next would otherwise ask in queries of their own on every request
        sa.exists().where(MLBackend.__table__.c.project_id == _P.c.id).label("has_backend"),
        sa.exists().where(Storage.__table__.c.project_id == _P.c.id, *RESOLVING).label("has_resolving_storage"),
    )
    .select_from(_P.outerjoin(_M, sa.and_(_M.c.project_id == _P.c.id, _M.c.user_id == _p("uid"))))
    .where(_P.c.id == _p("pid"))
)


def _annotator_project(conn: Connection, user: User, project_id: int, now: datetime, ahead_of: int = 0) -> Row:
    row = conn.execute(_ACCESS, {"pid": project_id, "uid": user.id, "now": now, "ahead": ahead_of}).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    role = role_from(user, member_role=row.member_role, created_by=row.created_by, restricted=row.restricted)
    check_role(user, project_id, role, "annotate")
    check_not_paused(user, project_id, row.paused_at, row.paused_reason)
    return row


# --------------------------------------------------------------------------- leases

# Sweeping takes the tasks of expired leases first (skipping those another transaction holds),
# then deletes those leases: task rows before lease rows, like every other writer.
_L2 = _L.alias("expired")
_SWEPT_TASKS = (
    sa.select(_T.c.id)
    .where(_T.c.id.in_(sa.select(_L2.c.task_id).where(_L2.c.project_id == _p("pid"), _L2.c.expires_at < _p("now"))))
    .with_for_update(skip_locked=True)
    .cte("swept_tasks")
)
_SWEEP = (
    sa.delete(_L)
    .where(_L.c.project_id == _p("pid"), _L.c.expires_at < _p("now"), _L.c.task_id.in_(sa.select(_SWEPT_TASKS.c.id)))
    .returning(_L.c.task_id)
    .add_cte(_SWEPT_TASKS)
)
_ADD_LEASES = sa.update(_T).where(_T.c.id == _p("tid")).values(n_leases=_T.c.n_leases + _p("n"))
_INSERT_LEASE = sa.insert(_L)
_RENEW = (sa.update(_L).where(_L.c.task_id == _p("tid"), _L.c.user_id == _p("uid"), _L.c.kind == ANNOTATE)
          .values(expires_at=_p("expires")))
_DROP_LEASE = (sa.delete(_L).where(_L.c.task_id == _p("tid"), _L.c.user_id == _p("uid"), _L.c.kind == ANNOTATE)
               .returning(_L.c.created_at))


def _add_leases(conn: Connection, counts: dict[int, int]) -> None:
    """Change ``Task.n_leases`` by ``counts[task_id]``, in task id order (lock order)."""
    for task_id, n in sorted(counts.items()):
        if n:
            conn.execute(_ADD_LEASES, {"tid": task_id, "n": n})


def _sweep(conn: Connection, project_id: int, now: datetime) -> int:
    """Delete the project's expired leases and give their places back; returns how many.

    On PostgreSQL the leases of tasks another transaction holds are left for a later sweep.
    """
    task_ids = conn.execute(_SWEEP, {"pid": project_id, "now": now}).scalars().all()
    if task_ids:
        _add_leases(conn, {tid: -n for tid, n in Counter(task_ids).items()})
    return len(task_ids)


def _lease(conn: Connection, task_id: int, project_id: int, user_id: int, now: datetime, expires: datetime) -> None:
    conn.execute(_INSERT_LEASE, {"task_id": task_id, "project_id": project_id, "user_id": user_id, "kind": ANNOTATE,
                                 "expires_at": expires, "created_at": now})
    conn.execute(_ADD_LEASES, {"tid": task_id, "n": 1})


def take_lease(conn: Connection, task_id: int, user_id: int) -> datetime | None:
    """Inside a transaction that holds the task row: delete the user's lease on it and return
    when it was created (None: they held none). The caller gives the place back
    (``n_leases - 1``) in its own update of the task row."""
    row = conn.execute(_DROP_LEASE, {"tid": task_id, "uid": user_id}).first()
    return None if row is None else row[0]


# --------------------------------------------------------------------------- choosing


def _not_done_by(t: Any) -> list[Any]:
    # OFFSET 0 keeps PostgreSQL from turning these into anti-joins, whose plan depends on table
    # statistics (a stale "annotation is empty" once meant a scan of every annotation per
    # request): as sub-plans they are one probe of the (task_id, user_id) unique index per row.
    return [
        ~sa.select(_ONE).where(_A.c.task_id == t.c.id, _A.c.user_id == _p("uid")).offset(_ZERO).exists(),
        ~sa.select(_ONE).where(_L.c.task_id == t.c.id, _L.c.user_id == _p("uid")).offset(_ZERO).exists(),
    ]


def _eligible(t: Any) -> list[Any]:
    return [t.c.project_id == _p("pid"), t.c.state == OPEN, t.c.is_gold == sa.false(),
            t.c.n_annotations + t.c.n_leases < t.c.target_overlap, *_not_done_by(t)]


_TIER = _T.alias("tier")
_PICK = (
    sa.select(_T)
    .where(*_eligible(_T), sa.tuple_(_T.c.requeued, _T.c.priority, _T.c.n_annotations) == (
        # the best tier with an eligible task: ix_task_route read backwards; on PostgreSQL the
        # row found stays locked, so the tier cannot empty before the outer query reads it
        sa.select(_TIER.c.requeued, _TIER.c.priority, _TIER.c.n_annotations).where(*_eligible(_TIER))
        .order_by(_TIER.c.requeued.desc(), _TIER.c.priority.desc(), _TIER.c.n_annotations.desc())
        .limit(_ONE).with_for_update(skip_locked=True).scalar_subquery()))
    .order_by(_T.c.id).limit(_ONE)
    .with_for_update(skip_locked=True, of=_T)
)
_PICK_GOLD = (
    sa.select(_T)
    .where(_T.c.project_id == _p("pid"), _T.c.state == OPEN, _T.c.is_gold == sa.true(), *_not_done_by(_T))
    .order_by(_T.c.id).limit(_ONE)
    .with_for_update(skip_locked=True, of=_T)
)
# PostgreSQL: choose, lease and count in one statement (one round trip instead of three).
# The tier's values reach the second probe through LATERAL. The probe starts ix_task_route at
# the tier with a row comparison (>=: no eligible task lies beyond the best tier) and reads in
# index order: as equalities, PostgreSQL would treat the tier as constants, drop them from the
# ORDER BY and may walk the primary key in id order instead, past every labeled task.
_BEST = (
    sa.select(_TIER.c.requeued, _TIER.c.priority, _TIER.c.n_annotations).where(*_eligible(_TIER))
    .order_by(_TIER.c.requeued.desc(), _TIER.c.priority.desc(), _TIER.c.n_annotations.desc())
    .limit(_ONE).with_for_update(skip_locked=True)
    .subquery("best")
)
_FIRST = (
    sa.select(_T.c.id)
    .where(*_eligible(_T), sa.tuple_(_T.c.requeued, _T.c.priority, _T.c.n_annotations)
           >= sa.tuple_(_BEST.c.requeued, _BEST.c.priority, _BEST.c.n_annotations))
    .order_by(_T.c.requeued, _T.c.priority, _T.c.n_annotations, _T.c.id).limit(_ONE)
    .with_for_update(skip_locked=True, of=_T)
    .lateral("first")
)
_PICKED = sa.select(_FIRST.c.id).select_from(_BEST.join(_FIRST, sa.true())).cte("picked")
_LEASED = sa.insert(_L).from_select(
    ["task_id", "project_id", "user_id", "kind", "expires_at", "created_at"],
    sa.select(_PICKED.c.id, sa.bindparam("pid", type_=sa.Integer), sa.bindparam("uid", type_=sa.Integer),
              sa.literal(ANNOTATE), sa.bindparam("expires", type_=UTCDateTime()),
              sa.bindparam("now", type_=UTCDateTime())),
).cte("leased")
_CLAIM_PG = (
    sa.update(_T).where(_T.c.id == _PICKED.c.id).values(n_leases=_T.c.n_leases + 1)
    .returning(*_T.c).add_cte(_LEASED)
)
_DONE = (sa.select(sa.func.count()).select_from(_A)
         .where(_A.c.project_id == _p("pid"), _A.c.user_id == _p("uid"), _A.c.was_cancelled == sa.false()))
_GOLD_DONE = (sa.select(sa.func.count()).select_from(_T.join(_A, _A.c.task_id == _T.c.id))
              .where(_T.c.project_id == _p("pid"), _T.c.state == OPEN, _T.c.is_gold == sa.true(),
                     _A.c.user_id == _p("uid"), _A.c.was_cancelled == sa.false()))
_TASK = sa.select(_T).where(_T.c.id == _p("tid"))
_TASK_FOR_UPDATE = _TASK.with_for_update()
_PREDICTIONS = sa.select(_PR).where(_PR.c.task_id == _p("tid")).order_by(_PR.c.id)
# After a claim found nothing: is a task open to the user that the claim skipped because another
# transaction held its row (a submit of the same task, most often)?
_BUSY_ONLY = sa.select(sa.exists().where(*_eligible(_T)))
# Someone else has labelled the task or holds a place on it: the caller is not its first
# annotator, and pre-labels would cost the task its independent labels.
_NOT_FIRST = sa.select(sa.or_(
    sa.exists().where(_A.c.task_id == _p("tid"), _A.c.user_id != _p("uid"), _A.c.was_cancelled == sa.false()),
    sa.exists().where(_L.c.task_id == _p("tid"), _L.c.user_id != _p("uid"), _L.c.kind == ANNOTATE),
))


def _gold_due(conn: Connection, project: Row, user_id: int) -> bool:
    """True when serving a gold task keeps the user's gold share at most ``gold_rate``."""
    params = {"pid": project.id, "uid": user_id}
    done = conn.execute(_DONE, params).scalar_one()
    gold_done = conn.execute(_GOLD_DONE, params).scalar_one()
    return gold_done < math.floor((done + 1) * project.gold_rate + 1e-9)


_TRANSACTION_NEEDED = "transaction needed"  # _claim's answer where its writes must be one transaction
_BUSY = "busy"  # _claim's answer where the only tasks open to the user were locked by others just then
# how long a claim that found only locked tasks waits before asking again (2.55 s in all: a
# submit holds its task row for milliseconds, longer on a loaded machine)
_BUSY_WAITS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)


def _own_lease(conn: Connection, project: Row, user_id: int, now: datetime,
               single_statements: bool) -> tuple[Row, datetime] | None | str:
    """The task the user holds a lease on, with the lease renewed; None if there is none."""
    task = conn.execute(_TASK, {"tid": project.own_task}).first()
    if task is None or task.state != OPEN:
        if single_statements:
            return _TRANSACTION_NEEDED
        # QC or a lead took the task meanwhile: drop the lease (task row first, then lease)
        if conn.execute(_TASK_FOR_UPDATE, {"tid": project.own_task}).first() is not None and \
                take_lease(conn, project.own_task, user_id) is not None:
            _add_leases(conn, {project.own_task: -1})
        return None
    expires = now + timedelta(seconds=project.lease_seconds)
    renewed = conn.execute(_RENEW, {"tid": task.id, "uid": user_id, "expires": expires}).rowcount
    return (task, expires) if renewed else None  # 0: swept by someone else just now


def _claim(conn: Connection, user: User, project_id: int, ahead_of: int | None = None, *,
           single_statements: bool = False) -> tuple[Row, Row, datetime] | None | str:
    """(project row, task row, lease expiry) for the user's next task, or None.

    With ``ahead_of`` (the task the user is on) the lease on that task is left aside: the user
    gets their other lease, or a new one, so that they hold at most two.

    With ``single_statements`` (PostgreSQL, on a connection in autocommit mode) only the paths
    whose every write is one atomic statement run: the usual ones, a new claim or a renewed
    lease. Where a sweep of expired leases, a gold task or a dropped lease needs a transaction
    it answers ``_TRANSACTION_NEEDED`` having written nothing, and the caller runs it again in
    one. This saves the BEGIN and COMMIT round trips of most requests.

    On PostgreSQL it answers ``_BUSY`` where it found nothing but a task open to the user was
    skipped because another transaction held its row; :func:`_claimed` asks again.
    """
    now = utcnow()
    project = _annotator_project(conn, user, project_id, now, ahead_of or 0)
    if project.archived_at is not None:
        return None
    if project.own_task is not None:
        held = _own_lease(conn, project, user.id, now, single_statements)
        if held is not None:
            return held if held is _TRANSACTION_NEEDED else (project, held[0], held[1])
    # gold scores the project's annotators only (labeling.gold.scored_users): no one else gets it
    gold_on = project.gold_rate > 0 and role_from(user, member_role=project.member_role, created_by=project.created_by,
                                                  restricted=project.restricted) == Role.annotator
    if single_statements and (project.has_expired or gold_on):
        return _TRANSACTION_NEEDED
    if project.has_expired:
        _sweep(conn, project_id, now)
    expires = now + timedelta(seconds=project.lease_seconds)
    params = {"pid": project_id, "uid": user.id, "now": now, "expires": expires}
    task = None
    if gold_on and _gold_due(conn, project, user.id):
        task = conn.execute(_PICK_GOLD, params).first()
    if task is None and conn.dialect.name == "postgresql":
        task = conn.execute(_CLAIM_PG, params).first()
        if task is None:
            return _BUSY if conn.execute(_BUSY_ONLY, params).scalar() else None
        return project, task, expires
    if task is None:
        task = conn.execute(_PICK, params).first()
    if task is None:
        return None
    _lease(conn, task.id, project_id, user.id, now, expires)
    return project, task, expires


@contextmanager
def _claimed(user: User, project_id: int, ahead_of: int | None) -> Iterator[tuple[Connection, Any]]:
    """Run :func:`_claim`; yields the connection (still open, for reading more) and its answer.

    On PostgreSQL a claim skips task rows other transactions hold (``SKIP LOCKED``). Where
    those were the only tasks open to the user (another annotator's submit of the task
    they would get, say), "nothing left" would be false: the claim runs again after a short
    wait, for a few seconds at most, holding no lock meanwhile.
    """
    for wait in (*_BUSY_WAITS, None):
        with ExitStack() as stack:
            conn, claimed = _claim_once(stack, user, project_id, ahead_of)
            if claimed is not _BUSY or wait is None:
                yield conn, None if claimed is _BUSY else claimed
                return
        time.sleep(wait)


def _claim_once(stack: ExitStack, user: User, project_id: int, ahead_of: int | None) -> tuple[Connection, Any]:
    """One :func:`_claim`, its connection entered on ``stack``. On PostgreSQL it first runs in
    autocommit mode (one round trip per statement, no BEGIN or COMMIT), and again in a
    transaction only where it has to."""
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        conn = stack.enter_context(engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
        claimed = _claim(conn, user, project_id, ahead_of, single_statements=True)
        if claimed is not _TRANSACTION_NEEDED:
            return conn, claimed
    conn = stack.enter_context(hot_transaction())
    return conn, _claim(conn, user, project_id, ahead_of)


def next_task(project_id: int, user: User, *, ahead_of: int | None = None) -> Task | None:
    """Lease the next task of ``project_id`` to ``user`` and return it (None: nothing left).

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``annotate`` right in the project.
    ahead_of : int, optional
        The task the user is working on: lease the task after it ahead of time (the labeling
        page prefetches it). The lease on ``ahead_of`` stays; a user holds at most two leases
        in a project, and asking again returns the same task ahead.

    Returns
    -------
    Task or None
        The leased task (the same one again while the user's lease lives), or None when no
        task is open to this user.

    Raises
    ------
    NotFound, Forbidden
        No access to the project.
    Paused
        The user's membership is paused.
    """
    with _claimed(user, project_id, ahead_of) as (_conn, claimed):
        pass
    return Task(**claimed[1]._asdict()) if claimed else None


def serve_next(project_id: int, user: User, *, ahead_of: int | None = None, for_page: bool = False) -> dict | None:
    """:func:`next_task` answered as Label Studio's ``GET /api/projects/ID/next`` does.

    With ``for_page`` (the labeling page's own endpoint) the task's HTML is sanitised for the
    page (:func:`labeling.schema.hypertext.page_data`); Label Studio's API gets it as imported.
    The page also gets ``media`` (its endpoint sends it beside the task, which keeps Label
    Studio's shape): the facts read at import of the file the task was made from (``duration``
    and ``channels`` of audio, ``fps``, ``width`` and ``height`` of video, ``mime``;
    :mod:`labeling.media_info`), or None.

    Returns
    -------
    dict or None
        The task in Label Studio's format with its predictions as pre-labels (if the project
        shows them, and only to the task's first annotator: ARCHITECTURE.md, Pre-labels),
        ``lease_expires_at`` and ``lease_seconds``, and ``drafts``: the caller's own drafts of
        the task (Label Studio's ``NextTaskSerializer``; one query by
        ``ix_annotation_draft_task_user``), none for the page, which keeps its drafts in the
        browser; None when no task is open to this user.
    """
    with _claimed(user, project_id, ahead_of) as (conn, claimed):
        if claimed is None:
            return None
        project, task, expires = claimed
        ml_due = project.has_backend and lookahead_due(conn, project_id)
        predictions = []
        if (prelabels_on(project.show_predictions, project.overlap) and project.has_predictions
                and not conn.execute(_NOT_FIRST, {"tid": task.id, "uid": user.id}).scalar()):
            predictions = conn.execute(_PREDICTIONS, {"tid": task.id}).mappings().all()
        schema = _page_schema(conn, project_id) if for_page else None
        facts = conn.execute(_MEDIA_FACTS, {"tid": task.id}).mappings().first() if for_page else None
        # Label Studio's next task carries the caller's drafts of it (the page keeps its own)
        mine = [] if for_page else conn.execute(_MY_DRAFTS, {"tid": task.id, "uid": user.id}).mappings().all()
        urls = None
        if project.has_resolving_storage:
            with Session(bind=conn) as s:  # on the claim's connection: no transaction of its own
                urls = url_resolver(s, project_id)
    view = task_json(task._mapping, predictions=predictions, urls=urls)
    view["drafts"] = [draft_json(d, user) for d in mine]
    if schema is not None:
        view["data"] = page_data(schema, view["data"])
        view["media"] = dict(facts) if facts is not None else None
    view["lease_expires_at"] = expires.isoformat()
    view["lease_seconds"] = project.lease_seconds
    if ml_due:  # the next tasks pre-labelled by the project's ML backend, as a job after the claim
        queue_lookahead(project_id)
    return view


_MEDIA_FACTS = (sa.select(Media.__table__.c.duration, Media.__table__.c.fps, Media.__table__.c.width,
                          Media.__table__.c.height, Media.__table__.c.channels, Media.__table__.c.mime)
                .select_from(Task.__table__.join(Media.__table__, Media.__table__.c.id == Task.__table__.c.media_id))
                .where(Task.__table__.c.id == sa.bindparam("tid")))

# the caller's drafts of a task, by ix_annotation_draft_task_user
_MY_DRAFTS = (sa.select(AnnotationDraft.__table__)
              .where(AnnotationDraft.__table__.c.task_id == _p("tid"), AnnotationDraft.__table__.c.user_id == _p("uid"))
              .order_by(AnnotationDraft.__table__.c.id))

_PAGE_SCHEMA = sa.select(Project.__table__.c.updated_at, Project.__table__.c.label_schema).where(
    Project.__table__.c.id == sa.bindparam("pid"))


def _page_schema(conn: Connection, project_id: int) -> LabelSchema:
    row = conn.execute(_PAGE_SCHEMA, {"pid": project_id}).one()
    return cached_schema(project_id, row.updated_at, lambda: row.label_schema)


# --------------------------------------------------------------------------- leases by hand

_MINE = sa.select(_A.c.id).where(_A.c.task_id == _p("tid"), _A.c.user_id == _p("uid"))


def renew_lease(task_id: int, user: User) -> datetime:
    """Extend the user's lease on a task by the project's lease time; returns the new expiry.

    A lease that expired is taken again if the task is still open to the user; otherwise
    Conflict (someone else has the place now, or the task left the pool).
    """
    now = utcnow()
    with unit_of_work() as s:
        conn = s.connection()
        project_id = conn.execute(sa.select(_T.c.project_id).where(_T.c.id == task_id)).scalar_one_or_none()
        if project_id is None:
            raise NotFound(f"task {task_id} not found")
        project = _annotator_project(conn, user, project_id, now)
        expires = now + timedelta(seconds=project.lease_seconds)
        if conn.execute(_RENEW, {"tid": task_id, "uid": user.id, "expires": expires}).rowcount:
            return expires
        task = conn.execute(_TASK_FOR_UPDATE, {"tid": task_id}).first()
        if conn.execute(_MINE, {"tid": task_id, "uid": user.id}).first() is not None:
            raise Conflict(f"you have already annotated or skipped task {task_id}")
        if task.state != OPEN or (not task.is_gold and task.n_annotations + task.n_leases >= task.target_overlap):
            raise Conflict(f"your lease on task {task_id} expired and the task is no longer open to you; "
                           "ask for the next task")
        _lease(conn, task_id, project_id, user.id, now, expires)
        return expires


def release(task_id: int, user: User) -> bool:
    """Give back the user's lease on a task (they leave it unlabeled); True if they held one.

    Holding none answers the same whether the task exists or not (ids are not probed).
    """
    with hot_transaction() as conn:
        if conn.execute(_TASK_FOR_UPDATE, {"tid": task_id}).first() is None:  # task row before lease row
            return False
        if take_lease(conn, task_id, user.id) is None:
            return False
        _add_leases(conn, {task_id: -1})
        return True
