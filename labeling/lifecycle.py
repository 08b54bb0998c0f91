"""The task life cycle: the allowed state transitions, and the one way a task changes state.

A task's state lives in one column (``task.state``) and changes only through this module, which
checks each move against :data:`TRANSITIONS` and writes its :class:`~labeling.models.TaskEvent`
row (who, when, from, to, why) in the caller's transaction (docs/ARCHITECTURE.md, "Item life
cycle")::

    imported -> open -> (overlap reached) -> labeled -> QC -> accepted ------------> exported
                    ^                                    \\-> suspect -> review -> accepted | excluded
                     \\------------ relabel (more annotators, not the earlier ones) <-/

Every move has a :class:`Cause`; the table lists, per cause, the ``(from, to)`` pairs it may
make. A move to the state a task already has is no move: it writes no event. The forms:

- :func:`move`: one task held by an ORM session (review, audit, gold);
- :func:`event_params` with :data:`INSERT_EVENT`: one task on the annotation hot path, whose
  statements (annotation, counters, event) go to the database in one round trip;
- :func:`move_where`: every task matching a condition, ``INSERT ... SELECT`` of the events and
  one ``UPDATE`` (a project's overlap changes);
- :func:`move_many`: many tasks with their own paths and column values (QC's verdicts);
- :func:`move_planned`: many tasks, each from the state it has to its own target (a lead's acts
  on a Data Manager selection), the moves the table refuses reported, not made;
- :func:`event_row`: the events of tasks created in a state other than their first (imports);
- :func:`correct_final`: an accepted task's final label corrected in place (a lead or reviewer
  fixed an annotation of it), its state kept, with an event that says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from labeling import canonical
from labeling.errors import Conflict
from labeling.models import Task, TaskEvent, TaskState, UTCDateTime

__all__ = [
    "EVENT_COLUMNS",
    "INSERT_EVENT",
    "TRANSITIONS",
    "Cause",
    "IllegalTransition",
    "Move",
    "allowed",
    "check",
    "correct_final",
    "counted_state",
    "event_params",
    "event_row",
    "move",
    "move_many",
    "move_planned",
    "move_where",
    "Planned",
    "PlanOutcome",
]

MAX_REASON = 2000

S = TaskState


class Cause(StrEnum):
    """Why a task changes state."""

    annotation = "annotation"  # annotations counted (submit, skip, edit, delete): open <-> labeled
    overlap = "overlap"  # the project's overlap changed: open <-> labeled, accepted -> open
    imported = "import"  # imported annotations reach the overlap: open -> labeled
    qc = "qc"  # QC's verdict on a labeled task
    review = "review"  # a reviewer's decision on a suspect
    audit = "audit"  # a lead overturns a reviewer's decision
    undo = "undo"  # a reviewer takes a decision back
    gold = "gold"  # the task becomes a gold (honeypot) task
    ungold = "ungold"  # a gold task becomes an ordinary one
    curate = "curate"  # a lead's act on a selection of tasks (Data Manager actions)


_OUT_OF_GOLD = (S.labeled, S.review, S.accepted, S.excluded)

#: Cause -> the ``(from, to)`` moves it may make; everything else is refused.
TRANSITIONS: dict[Cause, frozenset[tuple[TaskState, TaskState]]] = {
    Cause.annotation: frozenset({(S.open, S.labeled), (S.labeled, S.open)}),
    # a raised overlap reopens tasks below it, also those QC accepted (not a reviewer's)
    Cause.overlap: frozenset({(S.open, S.labeled), (S.labeled, S.open), (S.accepted, S.open)}),
    Cause.imported: frozenset({(S.open, S.labeled)}),
    Cause.qc: frozenset({
        (S.labeled, S.accepted),  # passed: the final label is released
        (S.labeled, S.open),  # annotators disagree: one more annotator
        (S.labeled, S.suspect),  # a suspect, which goes on at once to:
        (S.suspect, S.open),  # relabel by more annotators
        (S.suspect, S.review),  # the review queue
        (S.review, S.accepted),  # a later run clears a suspect nobody holds
    }),
    Cause.review: frozenset({(S.review, S.accepted), (S.review, S.excluded)}),
    Cause.audit: frozenset({(S.accepted, S.excluded), (S.excluded, S.accepted)}),
    # a decision taken back returns the task to the queue; a gold mark taken back returns it
    # to the state it had
    Cause.undo: frozenset({(S.accepted, S.review), (S.excluded, S.review)}
                          | {(S.open, s) for s in _OUT_OF_GOLD}),
    Cause.gold: frozenset((s, S.open) for s in _OUT_OF_GOLD),
    Cause.ungold: frozenset({(S.open, S.labeled)}),
    # send to review, reopen (back to annotators), accept, exclude, include back
    Cause.curate: frozenset({(S.labeled, S.review), (S.accepted, S.review), (S.excluded, S.review)}
                            | {(s, S.open) for s in (S.labeled, S.review, S.accepted, S.excluded)}
                            | {(s, S.accepted) for s in (S.labeled, S.review, S.excluded)}
                            | {(s, S.excluded) for s in (S.open, S.labeled, S.review, S.accepted)}
                            | {(S.excluded, S.labeled)}),
}

#: Columns of a ``task_event`` row, in :func:`event_row` order.
EVENT_COLUMNS = ("task_id", "project_id", "user_id", "from_state", "to_state", "reason", "created_at")

_T = Task.__table__
_E = TaskEvent.__table__


class IllegalTransition(Conflict):
    """A state change the life cycle does not allow."""


def allowed(cause: Cause, from_state: str, to_state: str) -> bool:
    """True if ``cause`` may move a task from ``from_state`` to ``to_state`` (or it stays)."""
    return from_state == to_state or (from_state, to_state) in TRANSITIONS[cause]


def check(cause: Cause, from_state: str, to_state: str, *, task_id: int | None = None) -> None:
    """Raise :class:`IllegalTransition` unless :func:`allowed`."""
    if not (from_state == to_state or (from_state, to_state) in TRANSITIONS[cause]):
        which = f"task {task_id}" if task_id is not None else "a task"
        raise IllegalTransition(f"{which} cannot go from {from_state} to {to_state} ({cause.value})",
                                [{"row": task_id, "field": "state", "detail": f"{from_state} -> {to_state}"}])


# plain strings: the annotation hot path compares and returns them (reading an enum member
# goes through a descriptor, which costs more than the whole rule)
_OPEN, _LABELED = S.open.value, S.labeled.value


def counted_state(state: str, n_annotations: int, target_overlap: int, is_gold: bool,
                  requeued: bool) -> tuple[str, bool]:
    """``(state, requeued)`` of a task that now has ``n_annotations``: ``open`` becomes
    ``labeled`` when the count reaches ``target_overlap``, ``labeled`` becomes ``open`` when it
    falls below (an annotation withdrawn, the overlap raised); gold tasks keep their state."""
    if not is_gold:
        if state == _OPEN and n_annotations >= target_overlap:
            return _LABELED, False
        if state == _LABELED and n_annotations < target_overlap:
            return _OPEN, requeued
    return state, requeued


# --------------------------------------------------------------------------- one task, Core

def _p(name: str) -> sa.BindParameter:
    return sa.bindparam(name)


#: One event row; parameters ``tid`` and those of :func:`event_params`. The annotation hot
#: path sends it with its other statements (as a CTE on PostgreSQL).
INSERT_EVENT = sa.insert(_E).values(
    task_id=_p("tid"), project_id=_p("e_pid"), user_id=_p("e_uid"), from_state=_p("e_from"), to_state=_p("e_to"),
    reason=_p("e_reason"), created_at=_p("e_now"))


def event_params(cause: Cause, *, task_id: int, project_id: int, user_id: int | None, from_state: str,
                 to_state: str, reason: str, now: datetime) -> dict[str, Any]:
    """The parameters of :data:`INSERT_EVENT` for one move, checked against the table.

    Returns
    -------
    dict
        ``e_pid``, ``e_uid``, ``e_from``, ``e_to``, ``e_reason``, ``e_now`` (the caller binds
        ``tid``); send :data:`INSERT_EVENT` only when ``e_from != e_to``.
    """
    if from_state != to_state and (from_state, to_state) not in TRANSITIONS[cause]:
        check(cause, from_state, to_state, task_id=task_id)
    return {"e_pid": project_id, "e_uid": user_id, "e_from": from_state, "e_to": to_state,
            "e_reason": reason[:MAX_REASON], "e_now": now}


# --------------------------------------------------------------------------- one task, ORM

def move(s: Session, task: Task, to_state: str, *, cause: Cause, user_id: int | None, reason: str,
         now: datetime) -> bool:
    """Move a (locked) task to ``to_state`` with its event; returns True if its state changed.

    The task is added to ``s`` with ``updated_at = now`` either way.
    """
    changed = to_state != task.state
    if changed:
        check(cause, task.state, to_state, task_id=task.id)
        s.add(TaskEvent(task_id=task.id, project_id=task.project_id, user_id=user_id, from_state=task.state,
                        to_state=to_state, reason=reason[:MAX_REASON], created_at=now))
        task.state = to_state
    task.updated_at = now
    s.add(task)
    return changed


def correct_final(conn: Connection | Session, *, task_id: int, project_id: int, state: str, label: Any,
                  source: str, user_id: int, reason: str, now: datetime) -> bool:
    """A new final label for an accepted task, its state kept (a lead or reviewer corrected an
    annotation of it in the editor): ``final_label`` and ``final_source`` change with an event
    row ``accepted -> accepted`` naming who, when and why. A task in any other state has no
    final label to follow: nothing changes and False is returned.
    """
    if state != S.accepted:
        return False
    conn.execute(sa.update(_T).where(_T.c.id == task_id, _T.c.state == S.accepted)
                 .values(final_label=label, final_source=source, updated_at=now))
    conn.execute(sa.insert(_E).values(task_id=task_id, project_id=project_id, user_id=user_id, from_state=state,
                                      to_state=state, reason=reason[:MAX_REASON], created_at=now))
    return True


# --------------------------------------------------------------------------- many tasks

def move_where(conn: Connection | Session, *, where: Iterable[Any], from_state: TaskState, to_state: TaskState,
               cause: Cause, project_id: int, user_id: int | None, reason: str, now: datetime,
               values: Mapping[str, Any] | None = None) -> int:
    """Move every task in ``from_state`` that matches ``where`` to ``to_state``: the events by
    ``INSERT ... SELECT``, then one ``UPDATE`` (also setting ``values``); returns how many moved.

    The caller holds the tasks' rows still (a write transaction on their project) between the
    two statements.
    """
    check(cause, from_state, to_state)
    conds = (*where, _T.c.state == from_state)
    moving = sa.select(_T.c.id, sa.literal(project_id), sa.literal(user_id), sa.literal(from_state.value),
                       sa.literal(to_state.value), sa.literal(reason[:MAX_REASON]),
                       sa.literal(now, UTCDateTime())).where(*conds)
    conn.execute(sa.insert(_E).from_select(list(EVENT_COLUMNS), moving))
    return conn.execute(sa.update(_T).where(*conds)
                        .values(state=to_state, updated_at=now, **(values or {}))).rowcount


@dataclass
class Move:
    """One task's moves in :func:`move_many`.

    Attributes
    ----------
    task_id : int
    path : list of (state, reason)
        The states it goes through, in order, each with its event's reason
        (``[(suspect, why), (review, "to the review queue")]``); the last is where it stays.
    values : dict
        Other task columns to set with the state.
    """

    task_id: int
    path: list[tuple[TaskState, str]]
    values: dict[str, Any] = field(default_factory=dict)


def move_many(conn: Connection, moves: list[Move], *, cause: Cause, project_id: int, from_state: TaskState,
              user_id: int | None, now: datetime, column_types: Mapping[str, Any] | None = None) -> None:
    """Move many tasks that are all in ``from_state``, each along its own path, with their events.

    Tasks with the same final state and ``values`` change in one ``UPDATE ... WHERE id IN (...)``
    per 500 ids, the rest with one executemany; only tasks still in ``from_state`` change. The
    events go in batched multi-row INSERTs.

    Parameters
    ----------
    column_types : dict, optional
        SQL types of ``values`` columns that need one to be bound (JSON that may be None).
    """
    events, groups = [], defaultdict(list)
    for m in moves:
        before = from_state
        for to_state, reason in m.path:
            check(cause, before, to_state, task_id=m.task_id)
            events.append({"task_id": m.task_id, "project_id": project_id, "user_id": user_id,
                           "from_state": str(before), "to_state": str(to_state), "reason": reason[:MAX_REASON],
                           "created_at": now})
            before = to_state
        key = (str(before), canonical.dumps(m.values))
        groups[key].append((m, before))
    single = []
    for rows in groups.values():
        if len(rows) == 1:
            single.extend(rows)
            continue
        first, state = rows[0]
        values = {k: (sa.null() if v is None else v) for k, v in first.values.items()}
        ids = sorted(m.task_id for m, _ in rows)
        for i in range(0, len(ids), 500):
            conn.execute(sa.update(_T).where(_T.c.id.in_(ids[i:i + 500]), _T.c.state == from_state)
                         .values(state=state, updated_at=now, **values))
    by_columns = defaultdict(list)
    for m, state in single:
        by_columns[tuple(sorted(m.values))].append((m, state))
    types = column_types or {}
    for names, rows in by_columns.items():
        conn.execute(
            sa.update(_T).where(_T.c.id == sa.bindparam("m_tid"), _T.c.state == from_state)
            .values(state=sa.bindparam("m_state"), updated_at=now,
                    **{k: sa.bindparam(f"m_{k}", type_=types.get(k)) for k in names}),
            [{"m_tid": m.task_id, "m_state": str(state), **{f"m_{k}": m.values[k] for k in names}}
             for m, state in rows])
    if events:  # RETURNING makes SQLAlchemy batch the rows into multi-row INSERTs ("insertmanyvalues")
        conn.execute(sa.insert(_E).returning(_E.c.id), events)


def event_row(cause: Cause, *, project_id: int, user_id: int | None, from_state: TaskState, to_state: TaskState,
              reason: str, now: datetime) -> Callable[[int], tuple]:
    """Events of tasks written in bulk in a state other than ``from_state`` (imported tasks whose
    imported annotations reach their overlap): the move is checked against the table once, and
    the returned ``row(task_id)`` makes each task's event as a tuple in :data:`EVENT_COLUMNS`
    order."""
    check(cause, from_state, to_state)
    head = (project_id, user_id, from_state.value, to_state.value, reason[:MAX_REASON], now)

    def row(task_id: int) -> tuple:
        return (task_id, *head)

    return row


@dataclass
class Planned:
    """One task of :func:`move_planned`: where it is, where it should go, why, and the other
    columns to set with the state (also when the state stays)."""

    task_id: int
    from_state: str
    to_state: str
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlanOutcome:
    """What :func:`move_planned` did: the tasks changed (``moved``: their state; ``updated``:
    only their columns) and the ones it refused, each ``{"id", "state", "detail"}``."""

    moved: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: PlanOutcome) -> PlanOutcome:
        self.moved += other.moved
        self.updated += other.updated
        self.refused += other.refused
        return self


def move_planned(conn: Connection | Session, plans: Iterable[Planned], *, cause: Cause, project_id: int,
                 user_id: int | None, now: datetime, column_types: Mapping[str, Any] | None = None) -> PlanOutcome:
    """Move many (locked) tasks, each from its state to its own target, with one event per move.

    A move the table does not allow for ``cause`` is not made: the task is reported in
    ``refused`` and left as it is. A task whose target is its state gets its ``values`` and no
    event. Tasks of one starting state go through :func:`move_many` together, in the caller's
    transaction: a failure on the way leaves the caller to roll back every change.
    """
    out = PlanOutcome()
    by_state: dict[str, list[Move]] = defaultdict(list)
    for p in plans:
        if not allowed(cause, p.from_state, p.to_state):
            out.refused.append({"id": p.task_id, "state": str(p.from_state),
                                "detail": f"cannot go from {p.from_state} to {p.to_state}"})
            continue
        same = str(p.from_state) == str(p.to_state)
        by_state[str(p.from_state)].append(Move(p.task_id, [] if same else [(TaskState(p.to_state), p.reason)],
                                                dict(p.values)))
        (out.updated if same else out.moved).append(p.task_id)
    c = conn.connection() if isinstance(conn, Session) else conn
    for state, moves in by_state.items():
        move_many(c, moves, cause=cause, project_id=project_id, from_state=TaskState(state), user_id=user_id,
                  now=now, column_types=column_types)
    return out
