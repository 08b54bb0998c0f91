"""The data manager's table: one page of a project's tasks as rows with every column the page
can show, selected and ordered by a Label Studio Data Manager query (:mod:`labeling.dm.filters`,
the same model ``GET /api/tasks?query=`` and the actions use).

A page is read with ``LIMIT page_size + 1`` (the extra row says whether a next page exists) and
the page's own columns in one query per related table for its task ids; the number of tasks that
match is a query of its own (:func:`count`), which the page asks for separately, so a page never
waits for a count over a large project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import can, require_project
from labeling.db import read_session
from labeling.dm import filters
from labeling.errors import Forbidden, Invalid
from labeling.limits import MAX_INT
from labeling.models import Annotation, LabelIssue, Membership, Prediction, Project, Task, User
from labeling.schema import label_text, schema_of

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DATA_SAMPLE = 20  # tasks read for data field names beyond the label config's


@dataclass(frozen=True)
class Column:
    """A column of the table: its id (Label Studio's ``tasks:<name>``), its title, the query column
    it sorts by (None: not sortable) and whether only those who see gold tasks may show it."""

    id: str
    title: str
    order: str | None = None
    gold: bool = False


#: The built-in columns, in their default order; data fields (``tasks:data.<field>``) come after ``id``.
COLUMNS: tuple[Column, ...] = (
    Column("tasks:id", "ID", "id"),
    Column("tasks:state", "State", "state"),
    Column("tasks:total_annotations", "Annotations", "total_annotations"),
    Column("tasks:annotations_results", "Labels given"),
    Column("tasks:annotators", "Annotators"),
    Column("tasks:final_label", "Final label", "final_label"),
    Column("tasks:final_source", "Label source", "final_source"),
    Column("tasks:agreement", "Agreement", "agreement"),
    Column("tasks:qc_score", "QC score", "qc_score"),
    Column("tasks:qc_reason", "QC reason", "qc_reason"),
    Column("tasks:is_gold", "Gold", "is_gold", gold=True),
    Column("tasks:total_predictions", "Predictions", "total_predictions"),
    Column("tasks:predictions_score", "Prediction score", "predictions_score"),
    Column("tasks:predictions_model_versions", "Model version"),
    Column("tasks:created_at", "Created", "created_at"),
    Column("tasks:updated_at", "Updated", "updated_at"),
    Column("tasks:avg_lead_time", "Lead time", "avg_lead_time"),
)
#: Hidden until a user shows them (a new tab's ``hiddenColumns.explore``).
DEFAULT_HIDDEN = ("tasks:annotations_results", "tasks:final_source", "tasks:qc_reason",
                  "tasks:predictions_model_versions", "tasks:created_at", "tasks:avg_lead_time")


@dataclass
class Row:
    task: Task
    annotators: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    lead_time: float | None = None
    agreement: float | None = None  # percent (0 to 100) of the annotations that are the final label
    qc_score: float | None = None
    qc_reason: str = ""
    n_predictions: int = 0
    prediction_score: float | None = None
    model_versions: list[str] = field(default_factory=list)

    @property
    def final_label(self) -> str:
        return label_text(self.task.final_label)


@dataclass
class Page:
    rows: list[Row]
    columns: list[Column]  # every column the caller may show, data fields included
    page: int
    page_size: int
    has_next: bool
    sees_gold: bool
    can_manage: bool


def check_query(s: Session, user: User, project: Project, params: filters.PrepareParams) -> None:
    """Refuse a query on gold columns from someone who may not see which tasks are gold."""
    gold = filters.columns_used(params) & set(filters.GOLD_COLUMNS)
    if gold and not can(s, user, project, "see_gold"):
        raise Forbidden(f"only the leads of project {project.id} may filter or sort by {', '.join(sorted(gold))}")


def data_fields(s: Session, project: Project) -> list[str]:
    """The task data fields of a project: its label config's, then those of its first tasks."""
    names = [o.value_key for o in schema_of(project).objects.values() if o.value_key]
    for data in s.execute(select(Task.data).where(Task.project_id == project.id).order_by(Task.id)
                          .limit(DATA_SAMPLE)).scalars():
        names.extend(k for k in (data or {}) if isinstance(k, str) and len(k) <= 255)
    return list(dict.fromkeys(names))


MAX_PEOPLE = 500


def people(user: User, project_id: int) -> list[tuple[int, str]]:
    """``(user id, name)`` of the people an annotator filter offers: the project's members and
    whoever annotated in it (at most :data:`MAX_PEOPLE`, by email) — never the whole user list."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        # EXISTS per user (an index probe each), not the project's distinct annotators, which
        # reads every annotation of the project
        member = select(Membership.user_id).where(Membership.project_id == project_id,
                                                  Membership.user_id == User.id).exists()
        annotated = select(Annotation.id).where(Annotation.project_id == project_id,
                                                Annotation.user_id == User.id).exists()
        rows = s.execute(select(User.id, User.name, User.email)
                         .where(User.is_active == sa.true(), sa.or_(member, annotated))
                         .order_by(User.email).limit(MAX_PEOPLE)).all()
    return [(i, f"{name} <{email}>" if name else email) for i, name, email in rows]


def columns_for(s: Session, project: Project, *, sees_gold: bool) -> list[Column]:
    data = [Column(f"tasks:data.{k}", k, f"data.{k}") for k in data_fields(s, project)]
    built = [c for c in COLUMNS if sees_gold or not c.gold]
    return [built[0], *data, *built[1:]]


def _rows(s: Session, tasks: list[Task]) -> list[Row]:
    rows = {t.id: Row(t) for t in tasks}
    ids = list(rows)
    if not ids:
        return []
    people: dict[int, str] = {}
    times: dict[int, list[float]] = {}
    for a in s.execute(  # plain rows, not ORM objects: a page reads a few hundred
            select(Annotation.task_id, Annotation.user_id, Annotation.result, Annotation.was_cancelled,
                   Annotation.lead_time, User.email, User.name).join(User, User.id == Annotation.user_id)
            .where(Annotation.task_id.in_(ids)).order_by(Annotation.id)).all():
        email, name = a.email, a.name
        row = rows[a.task_id]
        people[a.user_id] = name or email
        if people[a.user_id] not in row.annotators:
            row.annotators.append(people[a.user_id])
        if a.was_cancelled:
            row.labels.append("(skipped)")
            continue
        row.labels.append(label_text(a.result))
        if a.lead_time is not None:
            times.setdefault(a.task_id, []).append(a.lead_time)
        final = row.task.final_label
        if final:
            row.agreement = (row.agreement or 0.0) + (1.0 if a.result == final else 0.0)
    for row in rows.values():
        if row.task.final_label and row.task.n_annotations and row.agreement is not None:
            row.agreement = row.agreement * 100.0 / row.task.n_annotations  # a percentage, as LS Enterprise
        elif row.task.final_label and row.task.n_annotations:
            row.agreement = 0.0
        spent = times.get(row.task.id)
        row.lead_time = sum(spent) / len(spent) if spent else None
    for task_id, score, version in s.execute(select(Prediction.task_id, Prediction.score, Prediction.model_version)
                                             .where(Prediction.task_id.in_(ids)).order_by(Prediction.id)).all():
        row = rows[task_id]
        row.n_predictions += 1
        if score is not None:
            row.prediction_score = ((row.prediction_score or 0.0) * (row.n_predictions - 1) + score) / row.n_predictions
        if version and version not in row.model_versions:
            row.model_versions.append(version)
    for task_id, score, reason in s.execute(
            select(LabelIssue.task_id, LabelIssue.score, LabelIssue.reason)
            .where(LabelIssue.task_id.in_(ids), LabelIssue.kind == "label").order_by(LabelIssue.id)).all():
        rows[task_id].qc_score, rows[task_id].qc_reason = score, reason  # the latest one stays
    return list(rows.values())


def page(user: User, project_id: int, params: filters.PrepareParams, *, page_no: int = 1,
         page_size: int = PAGE_SIZE, search: Sequence[Any] = ()) -> Page:
    """One page of the tasks ``params`` selects, in its order, with every column's values.

    ``search`` is more clauses over :class:`Task` (``tasks.task_filters``' text search).

    Raises
    ------
    Forbidden
        The caller may not see every task (annotators), or filters by gold without seeing gold.
    Invalid
        A page number out of range.
    """
    if page_no < 1 or not 1 <= page_size <= MAX_PAGE_SIZE or (page_no - 1) * page_size > MAX_INT:
        raise Invalid("page must be at least 1 and page_size 1 to 200", [{"field": "page", "detail": "out of range"}])
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        check_query(s, user, project, params)
        tasks = list(s.exec(select(Task).where(Task.project_id == project_id, *filters.where(params), *search)
                            .order_by(*filters.order_by(params))
                            .offset((page_no - 1) * page_size).limit(page_size + 1)))
        sees_gold = can(s, user, project, "see_gold")
        return Page(_rows(s, tasks[:page_size]), columns_for(s, project, sees_gold=sees_gold), page_no, page_size,
                    len(tasks) > page_size, sees_gold, can(s, user, project, "manage"))


def count(user: User, project_id: int, params: filters.PrepareParams, *, search: Sequence[Any] = ()) -> int:
    """How many tasks of the project ``params`` selects (its selectedItems included)."""
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        check_query(s, user, project, params)
        return s.execute(select(sa.func.count()).select_from(Task)
                         .where(Task.project_id == project_id, *filters.where(params), *search)).scalar_one()


def next_task(user: User, project_id: int, params: filters.PrepareParams, *, after: int | None = None) -> int | None:
    """The id of the first task ``params`` selects, in its order, that comes after task
    ``after`` (None: the first of all), or None at the end: a review stream's next task."""
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        check_query(s, user, project, params)
        conds = [Task.project_id == project_id, *filters.where(params)]
        if after is not None:
            key = s.execute(select(filters.sort_key(params)).where(Task.id == after,
                                                                   Task.project_id == project_id)).first()
            # a task since deleted has no key: its id alone places it
            conds.append(filters.past(params, key[0], after) if key is not None else Task.id > after)
        found = s.execute(select(Task.id).where(*conds).order_by(*filters.order_by(params)).limit(1)).first()
        return found[0] if found else None


#: How a row shows each built-in column (one function each, so a cell computes only its own value).
_CELLS: dict[str, Any] = {
    "id": lambda r: r.task.id, "state": lambda r: r.task.state, "total_annotations": lambda r: r.task.n_annotations,
    "annotations_results": lambda r: r.labels, "annotators": lambda r: r.annotators,
    "final_label": lambda r: r.final_label, "final_source": lambda r: r.task.final_source,
    "agreement": lambda r: r.agreement, "qc_score": lambda r: r.qc_score, "qc_reason": lambda r: r.qc_reason,
    "is_gold": lambda r: r.task.is_gold, "total_predictions": lambda r: r.n_predictions,
    "predictions_score": lambda r: r.prediction_score, "predictions_model_versions": lambda r: r.model_versions,
    "created_at": lambda r: r.task.created_at, "updated_at": lambda r: r.task.updated_at,
    "avg_lead_time": lambda r: r.lead_time,
}


def cell(row: Row, column_id: str) -> Any:
    """The value a row shows in a column (text, a number, a datetime, a list of texts or None)."""
    name = column_id.removeprefix("tasks:")
    if name.startswith("data."):
        return (row.task.data or {}).get(name[5:])
    show = _CELLS.get(name)
    return show(row) if show is not None else None


def is_datetime(value: Any) -> bool:
    return isinstance(value, datetime)
