"""A project's tasks: list (a page, filtered and searched), show, change, delete; and the one
rule for who sees a task (:func:`task_for_user`).

Views, the REST API (Label Studio's ``/api/tasks``) and the CLI all call these functions; a
task's state changes only through :mod:`labeling.lifecycle`, never here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from labeling import comments, users, webhooks, wire
from labeling.access import can, require_project
from labeling.canonical import content_hash
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.limits import MAX_INT, check_text, is_id, task_data_problem
from labeling.models import (
    Annotation,
    AnnotationDraft,
    Lease,
    Prediction,
    Project,
    Task,
    TaskState,
    User,
    prelabels_on,
)
from labeling.schema import schema_of, validate_task_data
from labeling.settings import get_settings
from labeling.storages.resolve import storage_filenames, url_resolver

__all__ = [
    "TASK_PAGE_MAX",
    "TaskPage",
    "delete_task",
    "delete_where",
    "get_task",
    "list_tasks",
    "task_filters",
    "task_for_user",
    "update_task",
]

TASK_PAGE_MAX = 1000


@dataclass
class TaskPage:
    tasks: list[Task]
    total: int
    page: int
    page_size: int
    total_annotations: int = 0
    total_predictions: int = 0
    predictions: dict[int, int] | None = None
    results: dict[int, tuple[list[dict], list[dict]]] | None = None  # task id -> (annotations, predictions)
    gold: bool = False  # the caller may see which tasks are gold and their answers (leads, admins)
    urls: Callable[[Any, int], Any] | None = None  # task data as sent: s3:// URIs as proxy URLs (storages.resolve)
    comments: dict[int, dict] | None = None  # task id -> Label Studio's comment keys (comments.counts)
    files: dict[int, str] | None = None  # task id -> the storage object it came from (storage_filename)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def task_filters(project_id: int, *, state: str | None = None, search: str | None = None) -> list:
    conds: list = [Task.project_id == project_id]
    if state:
        if state not in TaskState.__members__ and state != "gold":
            raise Invalid(f"unknown task state {state!r} (choose from {', '.join(TaskState)}, gold)",
                          [{"field": "state", "detail": "unknown state"}])
        conds.append(Task.is_gold.is_(True) if state == "gold" else Task.state == state)
    search = check_text((search or "").strip(), "search", max_chars=get_settings().max_search_chars)
    if search.startswith("#") and is_id(search[1:]):  # "#123": the task with that id
        conds.append(Task.id == int(search[1:]))
    elif search:
        pattern = f"%{_escape_like(search.lower())}%"
        alternatives = [sa.func.lower(sa.cast(Task.data, sa.Text)).like(pattern, escape="\\"),
                        sa.func.lower(Task.file_name).like(pattern, escape="\\")]
        if is_id(search):
            alternatives.append(Task.id == int(search))
        conds.append(sa.or_(*alternatives))
    return conds


def list_tasks(user: User, project_id: int, *, state: str | None = None, search: str | None = None,
               page: int = 1, page_size: int = 100, with_results: bool = False,
               where: Sequence[Any] = (), order_by: Sequence[Any] = (), gold_query: bool = False,
               resolve_uri: bool = True) -> TaskPage:
    """A page of a project's tasks, oldest first, filtered by state and by text in their data.

    ``with_results`` adds every task's annotations and predictions (Label Studio's
    ``fields=all``), read in two queries for the page. Only leads and admins may ask for the
    gold tasks (``state="gold"``); the page's ``gold`` says whether the caller may see the gold
    flag and answer of its tasks. ``where`` and ``order_by`` are more clauses over :class:`Task` (a Data
    Manager query, :mod:`labeling.dm.filters`); ``gold_query`` says they filter or sort by whether
    tasks are gold, which only leads and admins may. ``resolve_uri`` false (Label Studio's
    ``resolve_uri=false``) gives the data as stored: ``s3://`` URIs of import storages unsigned.
    """
    if page < 1 or page_size < 1:
        raise Invalid("page and page_size must be at least 1", [{"field": "page", "detail": "must be >= 1"}])
    page_size = min(page_size, TASK_PAGE_MAX)
    if (page - 1) * page_size > MAX_INT:
        raise Invalid(f"page {page} is out of range", [{"field": "page", "detail": "out of range"}])
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        sees_gold = can(s, user, project, "see_gold")
        if (state == "gold" or gold_query) and not sees_gold:
            raise Forbidden(f"only the leads of project {project_id} may list its gold tasks")
        conds = [*task_filters(project_id, state=state, search=search), *where]
        total = s.execute(select(sa.func.count()).select_from(Task).where(*conds)).scalar_one()
        totals = s.execute(select(sa.func.coalesce(sa.func.sum(Task.n_annotations), 0)).where(*conds)).scalar_one()
        tasks = list(s.exec(select(Task).where(*conds).order_by(*(order_by or [Task.id]))
                            .offset((page - 1) * page_size).limit(page_size)))
        ids = [t.id for t in tasks]
        preds = dict(s.execute(select(Prediction.task_id, sa.func.count()).where(Prediction.task_id.in_(ids))
                               .group_by(Prediction.task_id)).all()) if ids else {}
        n_preds = s.execute(select(sa.func.count()).select_from(Prediction)
                            .where(Prediction.project_id == project_id,
                                   Prediction.task_id.in_(select(Task.id).where(*conds)))).scalar_one()
        results = None
        if with_results:
            results = {i: ([], []) for i in ids}
            if ids:
                found = list(s.exec(select(Annotation).where(Annotation.task_id.in_(ids)).order_by(Annotation.id)))
                for a, shown in zip(found, _named(s, found), strict=True):
                    results[a.task_id][0].append(shown)
                for p in s.exec(select(Prediction).where(Prediction.task_id.in_(ids)).order_by(Prediction.id)):
                    results[p.task_id][1].append(wire.prediction_json(p))
        return TaskPage(tasks, total, page, page_size, int(totals), n_preds, preds, results, gold=sees_gold,
                        urls=url_resolver(s, project_id) if resolve_uri else None, comments=comments.counts(s, ids),
                        files=storage_filenames(s, ids))


def _named(s: Session, annotations: list[Annotation]) -> list[dict]:
    """Annotations as Label Studio's JSON with their ``created_username`` (one query for the
    authors, in ``s``'s transaction)."""
    names = users.usernames((a.user_id for a in annotations), conn=s)
    return [wire.annotation_json(a, names=names) for a in annotations]


def task_for_user(s: Session, user: User, task_id: int, action: str) -> tuple[Task, Project, bool]:
    """The one rule for who sees a task: the task, its project, and whether ``user`` sees every
    annotation (and draft) there (``access`` action ``see_all``: reviewers, leads, admins).

    ``action`` "view": a user who sees everything in the project, or an annotator on a task they
    hold (a lease) or labelled (an annotation or skip of theirs); any other action is checked
    on the project (``access.require_project``).

    Raises
    ------
    NotFound
        No such task, or one the user may not see (one answer for both).
    Forbidden
        The user may see the task but not do ``action``.
    """
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    project = require_project(s, user, task.project_id, "view")
    privileged = can(s, user, project, "see_all")
    if action == "view" and not privileged:
        mine = s.execute(select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id == user.id)
                         .union_all(select(Lease.id).where(Lease.task_id == task_id, Lease.user_id == user.id))
                         .limit(1)).first()
        if mine is None:
            raise NotFound(f"task {task_id} not found")
    elif action != "view":
        require_project(s, user, task.project_id, action)
    return task, project, privileged


def get_task(user: User, task_id: int, *, data_manager: bool = True, resolve_uri: bool = True) -> dict:
    """One task with its annotations and predictions, as the caller may see them.

    Leads and reviewers see every annotation and the workflow keys; only leads and admins see
    whether the task is gold and its answer (``is_gold``, ``gold_answer``). An annotator sees a
    task they hold or labeled, with their own annotation only, and predictions when the project
    shows them and no one else has labelled the task (ARCHITECTURE.md, Pre-labels).
    ``resolve_uri`` false: the data as stored, as :func:`list_tasks` gives it.
    """
    with read_session() as s:
        task, project, privileged = task_for_user(s, user, task_id, "view")
        q = select(Annotation).where(Annotation.task_id == task_id).order_by(Annotation.id)
        if not privileged:
            q = q.where(Annotation.user_id == user.id)
        annotations = _named(s, list(s.exec(q)))
        shown = privileged or (prelabels_on(project.show_predictions, project.overlap) and s.exec(
            select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id != user.id,
                                        Annotation.was_cancelled == sa.false()).limit(1)).first() is None)
        predictions = list(s.exec(select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id))) \
            if shown else []
        out = wire.task_json(task, annotations=annotations, predictions=predictions, private=privileged,
                             gold=privileged and can(s, user, project, "see_gold"),
                             urls=url_resolver(s, project.id) if resolve_uri else None,
                             comments=(comments.counts(s, [task_id]).get(task_id) or comments.empty_counts())
                             if privileged else None)
        if data_manager:  # Label Studio's GET /api/tasks/ID; its create answer has none of them
            out.update(wire.dm_task_keys(out["annotations"], out["predictions"]))
            # the object an import storage made the task from (Label Studio's get_storage_filename)
            out["storage_filename"] = storage_filenames(s, [task_id]).get(task_id)
            # Label Studio's: the caller's own drafts; whether the task has a draft one may see
            mine = list(s.exec(select(AnnotationDraft).where(AnnotationDraft.task_id == task_id,
                                                             AnnotationDraft.user_id == user.id)
                               .order_by(AnnotationDraft.id)))
            out["drafts"] = [wire.draft_json(d, user) for d in mine]
            out["draft_exists"] = bool(mine) or (privileged and s.exec(
                select(AnnotationDraft.id).where(AnnotationDraft.task_id == task_id).limit(1)).first() is not None)
        return out


def update_task(user: User, task_id: int, *, data: dict | None = None, meta: dict | None = None,
                priority: float | None = None) -> dict:
    """Change a task's data, meta or priority (leads, admins); data is checked against the config.

    Data that the label config shows cannot change once the task has annotations (spans and
    boxes refer to it); other fields can.
    """
    with write_session() as s:
        task, project, _ = task_for_user(s, user, task_id, "manage")
        if data is not None:
            if not isinstance(data, dict) or not data:
                raise Invalid("data must be a non-empty object", [{"field": "data", "detail": "must be an object"}])
            problem = task_data_problem(data)
            if problem is not None:
                detail = f"task data {problem}" if problem.startswith(("has ", "is ")) else f"task data: {problem}"
                raise Invalid(detail, [{"row": None, "field": "data", "detail": detail}])
            schema = schema_of(project)
            problems = validate_task_data(schema, data)
            if problems:
                raise Invalid(f"task data refused: {problems[0]}",
                              [{"row": None, "field": "data", "detail": p} for p in problems])
            has_annotations = s.execute(select(Annotation.id).where(Annotation.task_id == task_id).limit(1)).first()
            changed = [k for k in sorted(schema.data_keys) if data.get(k) != (task.data or {}).get(k)]
            if has_annotations is not None and changed:
                raise Conflict(f"task {task_id} has annotations; its field(s) {changed} that the label config "
                               "shows cannot change")
            task.data = data
            task.content_hash = content_hash(data)
        if meta is not None:
            if not isinstance(meta, dict):
                raise Invalid("meta must be an object", [{"field": "meta", "detail": "must be an object"}])
            task.meta = meta
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int | float) or not math.isfinite(priority):
                raise Invalid("priority must be a number", [{"field": "priority", "detail": "must be a number"}])
            task.priority = float(priority)
        task.updated_at = utcnow()
        s.add(task)
        s.flush()
        return wire.task_json(  # Label Studio's answer: the task with its annotations and predictions
            task, annotations=_named(s, list(s.exec(select(Annotation).where(Annotation.task_id == task_id)
                                                    .order_by(Annotation.id)))),
            predictions=s.exec(select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id)),
            private=True, gold=True, comments=comments.counts(s, [task_id]).get(task_id) or comments.empty_counts())


def delete_task(user: User, task_id: int) -> None:
    """Delete a task and what hangs on it (annotations and their history, predictions, events)."""
    with write_session() as s:
        task, _, _ = task_for_user(s, user, task_id, "manage")
        project_id = task.project_id
        delete_where(s, "task_id", [task_id], keep={"task"})
        s.execute(sa.delete(Task).where(Task.id == task_id))
        webhooks.emit(s, "TASKS_DELETED", project_id, lambda: {"tasks": webhooks.only_ids([task_id])})


def delete_where(s: Session, key: str, ids: list[int], *, keep: set[str] = frozenset()) -> None:
    """Delete, dependents first, every row of every table that has column ``key`` in ``ids``,
    and the rows pointing at those through a foreign key (annotation versions, say)."""
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    doomed = {t.name for t in tables if key in t.c and t.name not in keep}
    for table in tables:
        if table.name in keep:
            continue
        if key in table.c:
            s.execute(sa.delete(table).where(table.c[key].in_(ids)))
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name in doomed and parent.name != table.name:
                sub = select(parent.c.id).where(parent.c[key].in_(ids))
                s.execute(sa.delete(table).where(fk.parent.in_(sub)))
