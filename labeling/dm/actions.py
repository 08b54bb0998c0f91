"""Data Manager actions on a selection of tasks (Label Studio's ``/api/dm/actions``).

The selection is a Data Manager query (:mod:`labeling.dm.filters`: filters, ordering,
selectedItems) or a saved view; each action runs in one transaction and only for the
project's leads and admins. The ids and answers are Label Studio's (``delete_tasks``,
``delete_tasks_annotations``, ``delete_tasks_predictions``, ``retrieve_tasks_predictions``, which
queues the ML backend's ``ml_predict`` job; ``{"processed_items": N, "detail": ...}``).

labelfab's own actions move tasks along the line: ``send_to_review``, ``reopen`` (back to
annotators for ``more`` labels), ``accept``, ``exclude`` and ``include``
(:mod:`labeling.review`), ``mark_gold`` and ``unmark_gold`` (:mod:`labeling.gold`). Each is one
bulk function of the room that owns the act, every move made by
:func:`labeling.lifecycle.move_planned` (one event per task moved); tasks that cannot make the
move are left as they are and reported (``refused``: how many; ``refusals``: the first
:data:`MAX_REFUSALS`, each ``{"id", "state", "detail"}``). Bulk acts are managing the line, so
they need the ``manage`` right (leads, admins) like the deletes: a reviewer decides suspects
one by one in the review queue, where each decision is checked and recorded, never on a filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from labeling import gold, lifecycle, review, webhooks
from labeling.access import require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.dm import filters
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import (
    Annotation,
    AnnotationVersion,
    Prediction,
    Project,
    Task,
    TaskState,
    User,
)
from labeling.tasks import delete_where  # the one rule for what hangs on a task

_DELETE_DIALOG = {"type": "confirm", "form": None}

#: Label Studio's action descriptions (``GET /api/dm/actions``), for the actions labelfab has.
ACTIONS: list[dict[str, Any]] = [
    {"id": "retrieve_tasks_predictions", "title": "Retrieve Predictions", "order": 90,
     "permission": "predictions.any", "experimental": False,
     "dialog": {"type": "confirm", "form": None, "title": "Retrieve Predictions",
                "text": "Send the selected tasks to all ML backends connected to the project."
                        "This operation might be abruptly interrupted due to a timeout. "
                        "The recommended way to get predictions is to update tasks using the Label Studio API."
                        "Please confirm your action."}},
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



def _labelfab_action(action_id: str, title: str, order: int, text: str, form: list | None = None) -> dict[str, Any]:
    return {"id": action_id, "title": title, "order": order, "permission": "tasks.change", "experimental": False,
            "dialog": {"type": "confirm", "title": f"{title}?", "text": text, "form": form}}


_REASON_FORM = [{"columnCount": 1, "fields": [{"type": "input", "name": "reason", "label": "Reason"}]}]
ACTIONS += [
    _labelfab_action("send_to_review", "Send to review", 200,
                     "The selected labeled, accepted or excluded tasks go to the review queue; their final "
                     "labels are withdrawn until a reviewer decides.", _REASON_FORM),
    _labelfab_action("reopen", "Reopen for more labels", 201,
                     "The selected tasks go back to annotators who have not labelled them, for more labels.",
                     [{"columnCount": 1, "fields": [{"type": "number", "name": "more", "label": "More annotators",
                                                     "value": 1}, {"type": "input", "name": "reason",
                                                                   "label": "Reason"}]}]),
    _labelfab_action("accept", "Accept", 202,
                     "The selected tasks are accepted with the label their annotators gave (tied ones are left "
                     "for a reviewer).", _REASON_FORM),
    _labelfab_action("exclude", "Exclude", 203,
                     "The selected tasks are left out of datasets (broken or ambiguous items).", _REASON_FORM),
    _labelfab_action("include", "Include again", 204,
                     "The selected excluded tasks come back into the line (labeled, or open for more labels).",
                     _REASON_FORM),
    _labelfab_action("mark_gold", "Mark as gold", 205,
                     "The selected tasks become gold (honeypot) tasks, their final or annotators' label as "
                     "the answer."),
    _labelfab_action("unmark_gold", "Unmark gold", 206, "The selected gold tasks become ordinary tasks."),
]

#: How many refused tasks an answer lists (``refused`` counts them all).
MAX_REFUSALS = 100


def list_actions(user: User, project_id: int) -> list[dict[str, Any]]:
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
    return [dict(a) for a in ACTIONS]


def _delete_tasks(s: Session, ids: list[int], user: User, now) -> int:
    project_id = s.execute(select(Task.project_id).where(Task.id.in_(ids)).limit(1)).scalar_one()
    delete_where(s, "task_id", ids, keep={"task"})
    count = s.execute(sa.delete(Task).where(Task.id.in_(ids))).rowcount
    webhooks.emit(s, "TASKS_DELETED", project_id, lambda: {"tasks": webhooks.only_ids(ids)})
    return count


def _delete_annotations(s: Session, ids: list[int], user: User, now) -> int:
    busy = s.execute(select(Task.id, Task.state).where(
        Task.id.in_(ids), Task.state.not_in([TaskState.imported, TaskState.open, TaskState.labeled]),
        sa.exists().where(Annotation.task_id == Task.id)).limit(5)).all()
    if busy:
        raise Conflict(f"QC has taken task {busy[0].id} (it is {busy[0].state}); its annotations can no longer "
                       "be deleted: leave such tasks out of the selection",
                       [{"row": t.id, "field": "state", "detail": t.state} for t in busy])
    doomed = select(Annotation.id).where(Annotation.task_id.in_(ids))
    doomed_ids = list(s.execute(doomed).scalars())
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
    if doomed_ids:
        webhooks.emit(s, "ANNOTATIONS_DELETED", project_id, lambda: {"annotations": webhooks.only_ids(doomed_ids)})
    return count


def _delete_predictions(s: Session, ids: list[int], user: User, now) -> int:
    return s.execute(sa.delete(Prediction).where(Prediction.task_id.in_(ids))).rowcount


def _retrieve_predictions(s: Session, ids: list[int], user: User, now) -> int:
    """Queue the project's ML backend for these tasks (``labeling.ml``: a job, never in the request)."""
    from labeling.ml import request_predictions

    project_id = s.execute(select(Task.project_id).where(Task.id == ids[0])).scalar_one()
    if request_predictions(s, project_id, task_ids=ids, reason="retrieve_tasks_predictions",
                           created_by=user.id) is None:
        raise Conflict("the project has no ML backend to retrieve predictions from: connect one (/api/ml)",
                       [{"field": "id", "detail": "no ML backend"}])
    return len(ids)


#: action id -> (what it does to a chunk of task ids, returning how many things it processed;
#: what those things are called in its answer)
_RUN: dict[str, tuple[Callable[[Session, list[int], User, Any], int], str]] = {
    "delete_tasks": (_delete_tasks, "tasks"),
    "delete_tasks_annotations": (_delete_annotations, "annotations"),
    "delete_tasks_predictions": (_delete_predictions, "predictions"),
    "retrieve_tasks_predictions": (_retrieve_predictions, "predictions"),
}


def _with_reason(fn):
    return lambda s, p, ids, u, now, o: fn(s, p, ids, u, now, reason=o.get("reason", ""))


#: labelfab's acts: action id -> (the bulk function, (s, project, ids, user, now, options) ->
#: PlanOutcome; the past tense its answer uses)
_MOVE: dict[str, tuple[Callable[..., lifecycle.PlanOutcome], str]] = {
    "send_to_review": (_with_reason(review.send_to_review_many), "Sent {n} tasks to review"),
    "reopen": (lambda s, p, ids, u, now, o: review.reopen_many(s, p, ids, u, now, more=o.get("more", 1),
                                                               reason=o.get("reason", "")),
               "Reopened {n} tasks for more labels"),
    "accept": (_with_reason(review.accept_many), "Accepted {n} tasks"),
    "exclude": (_with_reason(review.exclude_many), "Excluded {n} tasks"),
    "include": (_with_reason(review.include_many), "Included {n} tasks again"),
    "mark_gold": (lambda s, p, ids, u, now, o: gold.mark_gold_many(s, p, ids, u, now), "Marked {n} tasks as gold"),
    "unmark_gold": (lambda s, p, ids, u, now, o: gold.unmark_gold_many(s, p, ids, u, now),
                    "Unmarked {n} gold tasks"),
}
#: Task ids per statement: the selection is read once (before anything changes what its filters
#: match) and acted on in chunks, within SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000
MAX_REASON = 2000


def _options(options: dict | None) -> dict[str, Any]:
    """The action's form fields (Label Studio sends them in the body beside the selection)."""
    options = options or {}
    reason = options.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise Invalid(f"reason must be text of at most {MAX_REASON} characters",
                      [{"field": "reason", "detail": "text, at most 2000 characters"}])
    more = options.get("more", 1)
    if isinstance(more, str) and more.strip().isdigit():  # a form's number field may come as text
        more = int(more)
    if isinstance(more, bool) or not isinstance(more, int) or not 1 <= more <= 50:
        raise Invalid("more must be a whole number from 1 to 50", [{"field": "more", "detail": "1 to 50"}])
    return {"reason": reason.strip(), "more": more}


def action_ids() -> list[str]:
    return [*_RUN, *_MOVE]


def perform(user: User, project_id: int, action_id: str | None, params: filters.PrepareParams,
            options: dict | None = None) -> dict:
    """Run ``action_id`` on the tasks of ``project_id`` that ``params`` selects, in one transaction.

    The one function behind ``POST /api/dm/actions`` and ``labelfab tasks ACTION``.

    Parameters
    ----------
    options : dict, optional
        The action's form fields: ``reason`` (text kept in each task's event), ``more`` (reopen:
        how many more annotators, 1 to 50).

    Returns
    -------
    dict
        Label Studio's ``{"processed_items": N, "detail": ...}``; labelfab's acts add
        ``refused`` (how many tasks could not make the move) and ``refusals`` (the first
        :data:`MAX_REFUSALS` of them, ``{"id", "state", "detail"}``).

    Raises
    ------
    Invalid
        No action id (Label Studio's 422), a bad option.
    BadQuery
        An unknown action id.
    NotFound
        No task is selected (Label Studio's 404 "No selected items for specified view").
    """
    with unit_of_work() as s:
        project = require_project(s, user, project_id, "manage")
        if not action_id:
            raise Invalid(f'No action id "{action_id}", use ?id=<action-id>', [{"field": "id", "detail": "required"}])
        if action_id not in _RUN and action_id not in _MOVE:
            raise filters.BadQuery(f"unknown action {action_id!r} (choose from {', '.join(action_ids())})",
                                   [{"field": "id", "detail": "unknown action"}])
        opts = _options(options)
        ids = [] if filters.selected_nothing(params) else list(s.execute(
            select(Task.id).where(Task.project_id == project_id, *filters.where(params))).scalars())
        if not ids:
            raise NotFound("No selected items for specified view")
        now = utcnow()
        chunks = [sorted(ids)[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
        if action_id in _MOVE:
            return _moved(s, project, user, action_id, chunks, opts, now)
        run, things = _RUN[action_id]
        count = sum(run(s, chunk, user, now) for chunk in chunks)
        verb = "Retrieved" if action_id == "retrieve_tasks_predictions" else "Deleted"
        answer = {"processed_items": count, "detail": f"{verb} {count} {things}"}
        return {**answer, "reload": True} if action_id == "delete_tasks" else answer


def delete_all_tasks(user: User, project_id: int) -> int:
    """Delete every task of ``project_id`` and what hangs on them, in one transaction.

    The one function behind Label Studio's ``DELETE /api/projects/ID/tasks`` (the SDK's
    ``tasks.delete_all_tasks``): the Data Manager's ``delete_tasks`` on every task, gold ones
    too, with its ``TASKS_DELETED`` webhook; a project with no task is not an error.

    Returns
    -------
    int
        How many tasks were deleted.
    """
    with unit_of_work() as s:
        require_project(s, user, project_id, "manage")
        ids = sorted(s.execute(select(Task.id).where(Task.project_id == project_id)).scalars())
        now = utcnow()
        return sum(_delete_tasks(s, ids[i:i + CHUNK], user, now) for i in range(0, len(ids), CHUNK))


def _moved(s: Session, project: Project, user: User, action_id: str, chunks: list[list[int]], opts: dict,
           now) -> dict:
    act, said = _MOVE[action_id]
    out = lifecycle.PlanOutcome()
    for chunk in chunks:
        out.merge(act(s, project, chunk, user, now, opts))
    n = len(out.moved) + len(out.updated)
    detail = said.format(n=n)
    if out.refused:
        why: dict[str, int] = {}
        for r in out.refused:
            why[r["detail"]] = why.get(r["detail"], 0) + 1
        detail += f"; {len(out.refused)} left as they are (" + "; ".join(
            f"{k}: {v}" for k, v in sorted(why.items(), key=lambda kv: -kv[1])[:5]) + ")"
    return {"processed_items": n, "detail": detail, "reload": True, "refused": len(out.refused),
            "refusals": out.refused[:MAX_REFUSALS]}
