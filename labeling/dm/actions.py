"""Data Manager actions on a selection of tasks (Label Studio's ``/api/dm/actions``).

The selection is a Data Manager query (:mod:`labeling.dm.filters`: filters, ordering,
selectedItems) or a saved view; each action runs in one transaction and only for the
project's leads and admins. The ids and answers are Label Studio's (``delete_tasks``,
``delete_tasks_annotations``, ``delete_tasks_predictions``; ``{"processed_items": N,
"detail": ...}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from labeling import lifecycle
from labeling.access import require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.dm import filters
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import Annotation, AnnotationVersion, Prediction, Task, TaskState, User

_DELETE_DIALOG = {"type": "confirm", "form": None}

#: Label Studio's action descriptions (``GET /api/dm/actions``), for the actions labelfab has.
ACTIONS: list[dict[str, Any]] = [
    {"id": "delete_tasks", "title": "Delete tasks", "order": 100, "permission": "tasks.delete",
     "experimental": False,
     "dialog": {**_DELETE_DIALOG, "title": "Delete selected tasks?",
                "text": "You are going to delete the selected tasks. Please confirm your action."}},
    {"id": "delete_tasks_annotations", "title": "Delete annotations", "order": 101,
     "permission": "tasks.delete", "experimental": False,
     "dialog": {**_DELETE_DIALOG, "title": "Delete annotations of selected tasks?",
                "text": "You are going to delete all annotations from the selected tasks. "
                        "Please confirm your action."}},
    {"id": "delete_tasks_predictions", "title": "Delete predictions", "order": 102,
     "permission": "tasks.delete", "experimental": False,
     "dialog": {**_DELETE_DIALOG, "title": "Delete predictions of selected tasks?",
                "text": "You are going to delete all predictions from the selected tasks. "
                        "Please confirm your action."}},
]


def list_actions(user: User, project_id: int) -> list[dict[str, Any]]:
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
    return [dict(a) for a in ACTIONS]


def _delete_tasks(s: Session, ids: list[int], user: User, now) -> int:
    from labeling.projects import _delete_where  # the one rule for what hangs on a task

    _delete_where(s, "task_id", ids, keep={"task"})
    return s.execute(sa.delete(Task).where(Task.id.in_(ids))).rowcount


def _delete_annotations(s: Session, ids: list[int], user: User, now) -> int:
    busy = s.execute(select(Task.id, Task.state).where(
        Task.id.in_(ids), Task.state.not_in([TaskState.imported, TaskState.open, TaskState.labeled]),
        sa.exists().where(Annotation.task_id == Task.id)).limit(5)).all()
    if busy:
        raise Conflict(f"QC has taken task {busy[0].id} (it is {busy[0].state}); its annotations can no longer "
                       "be deleted: leave such tasks out of the selection",
                       [{"row": t.id, "field": "state", "detail": t.state} for t in busy])
    doomed = select(Annotation.id).where(Annotation.task_id.in_(ids))
    s.execute(sa.delete(AnnotationVersion).where(AnnotationVersion.annotation_id.in_(doomed)))
    for table in SQLModel.metadata.sorted_tables:  # anything else pointing at those annotations
        for fk in table.foreign_keys:
            if fk.column.table.name == "annotation" and table.name != AnnotationVersion.__tablename__:
                s.execute(sa.delete(table).where(fk.parent.in_(doomed)))
    count = s.execute(sa.delete(Annotation).where(Annotation.task_id.in_(ids))).rowcount
    project_id = s.execute(select(Task.project_id).where(Task.id.in_(ids)).limit(1)).scalar_one()
    lifecycle.move_where(s, where=[Task.id.in_(ids)], from_state=TaskState.labeled, to_state=TaskState.open,
                         cause=lifecycle.Cause.annotation, project_id=project_id, user_id=user.id,
                         reason="annotations deleted (Data Manager action)", now=now)
    s.execute(sa.update(Task).where(Task.id.in_(ids)).values(n_annotations=0, n_skips=0, updated_at=now))
    return count


def _delete_predictions(s: Session, ids: list[int], user: User, now) -> int:
    return s.execute(sa.delete(Prediction).where(Prediction.task_id.in_(ids))).rowcount


#: action id -> (what it does to a chunk of task ids, returning how many things it processed;
#: what those things are called in its answer)
_RUN: dict[str, tuple[Callable[[Session, list[int], User, Any], int], str]] = {
    "delete_tasks": (_delete_tasks, "tasks"),
    "delete_tasks_annotations": (_delete_annotations, "annotations"),
    "delete_tasks_predictions": (_delete_predictions, "predictions"),
}
#: Task ids per statement: the selection is read once (before anything changes what its filters
#: match) and acted on in chunks, within SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000


def perform(user: User, project_id: int, action_id: str | None, params: filters.PrepareParams) -> dict:
    """Run ``action_id`` on the tasks of ``project_id`` that ``params`` selects, in one transaction.

    Raises
    ------
    Invalid
        No action id (Label Studio's 422).
    BadQuery
        An unknown action id.
    NotFound
        No task is selected (Label Studio's 404 "No selected items for specified view").
    """
    with unit_of_work() as s:
        require_project(s, user, project_id, "manage")
        if not action_id:
            raise Invalid(f'No action id "{action_id}", use ?id=<action-id>', [{"field": "id", "detail": "required"}])
        if action_id not in _RUN:
            raise filters.BadQuery(f"unknown action {action_id!r} (choose from {', '.join(_RUN)})",
                                   [{"field": "id", "detail": "unknown action"}])
        ids = [] if filters.selected_nothing(params) else list(s.execute(
            select(Task.id).where(Task.project_id == project_id, *filters.where(params))).scalars())
        if not ids:
            raise NotFound("No selected items for specified view")
        run, things = _RUN[action_id]
        now = utcnow()
        count = sum(run(s, ids[i:i + CHUNK], user, now) for i in range(0, len(ids), CHUNK))
        answer = {"processed_items": count, "detail": f"Deleted {count} {things}"}
        return {**answer, "reload": True} if action_id == "delete_tasks" else answer
