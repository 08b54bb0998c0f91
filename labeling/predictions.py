"""Predictions: a model's results for tasks (Label Studio's ``/api/predictions`` and
``/api/projects/ID/import/predictions``): create, import many, change, delete, read.

Leads and admins write them, each checked against the project's label schema as an annotation
is (:func:`labeling.validation.check_result`), with ``probs`` (labelfab's addition: label name
to probability, for QC) checked against its labels; a prediction with a score reorders the
tasks it is for (:func:`labeling.router.prioritize_uncertain`). Leads and reviewers read them,
annotators where the project shows pre-labels (ARCHITECTURE.md, Pre-labels).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import can, require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.limits import MAX_ID
from labeling.models import Prediction, Project, Task, User, prelabels_on
from labeling.router import prioritize_uncertain
from labeling.schema import schema_of
from labeling.validation import check_result

__all__ = [
    "MAX_IMPORTED_PREDICTIONS",
    "PREDICTION_FIELDS",
    "check_prediction",
    "check_prediction_values",
    "create_prediction",
    "delete_prediction",
    "get_prediction",
    "import_predictions",
    "list_predictions",
    "update_prediction",
]


def check_prediction_values(row: int | None, *, score: Any = None, probs: Any = None) -> None:
    """A prediction's ``score`` (a number) and ``probs`` (label name to number) checked before
    any database work; ``row`` names the item in the errors (the task id, or the import row)."""
    if score is not None and (not isinstance(score, int | float) or isinstance(score, bool)):
        raise Invalid("score must be a number", [{"row": row, "field": "score", "detail": "not a number"}])
    if probs is not None and (not isinstance(probs, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) for k, v in probs.items())):
        raise Invalid("probs must map label names to numbers",
                      [{"row": row, "field": "probs", "detail": "not an object of numbers"}])


def check_prediction(s: Session, project: Project, task: Task, result: Any, probs: dict | None) -> None:
    """A prediction's result checked against the schema, its probs against the labels."""
    check_result(s.connection(), schema_of(project), task, result, what="prediction")
    if probs:
        labels = set(schema_of(project).label_names())
        unknown = sorted(set(probs) - labels)
        if unknown:
            raise Invalid(f"probs name unknown labels {unknown}; labels are {sorted(labels)}",
                          [{"row": task.id, "field": "probs", "detail": f"unknown labels {unknown}"}])


def create_prediction(user: User, *, task_id: int, result: Any, score: float | None = None,
                      model_version: str = "", probs: dict | None = None) -> Prediction:
    """Store a model's prediction for a task (leads and admins), checked against the schema.

    ``probs`` (labelfab's addition) maps label names to probabilities, for QC.
    """
    check_prediction_values(task_id, score=score, probs=probs)
    with unit_of_work() as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        project = require_project(s, user, task.project_id, "manage")
        check_prediction(s, project, task, result, probs)
        prediction = Prediction(task_id=task_id, project_id=task.project_id, result=result,
                                score=float(score) if score is not None else None, probs=probs,
                                model_version=str(model_version or "")[:255], created_at=utcnow())
        s.add(prediction)
        s.flush()
        if prediction.score is not None:
            prioritize_uncertain(s.connection(), task.project_id, [task_id])
        return prediction


#: The keys of a prediction that ``update_prediction`` changes.
PREDICTION_FIELDS = ("result", "score", "model_version", "probs")


def update_prediction(user: User, prediction_id: int, changes: dict[str, Any]) -> Prediction:
    """Change a prediction's result, score, model version or probs (Label Studio's ``PATCH
    /api/predictions/ID``; leads of the project and admins), checked as a new one is."""
    unknown = sorted(set(changes) - set(PREDICTION_FIELDS) - {"task", "project", "id"})
    if unknown:
        raise Invalid(f"unknown prediction field(s): {', '.join(unknown)}",
                      [{"row": None, "field": k, "detail": "unknown or read-only field"} for k in unknown])
    check_prediction_values(None, score=changes.get("score"), probs=changes.get("probs"))
    with unit_of_work() as s:
        prediction = s.get(Prediction, prediction_id)
        if prediction is None:
            raise NotFound(f"prediction {prediction_id} not found")
        project = require_project(s, user, prediction.project_id, "manage")
        for key in ("task", "project"):
            if key in changes and changes[key] != getattr(prediction, f"{key}_id"):
                raise Invalid(f"a prediction's {key} cannot change",
                              [{"row": None, "field": key, "detail": "read-only"}])
        task = s.get(Task, prediction.task_id)
        result = changes.get("result", prediction.result)
        probs = changes.get("probs", prediction.probs)
        check_prediction(s, project, task, result, probs)
        prediction.result, prediction.probs = result, probs
        if "score" in changes:
            prediction.score = float(changes["score"]) if changes["score"] is not None else None
        if "model_version" in changes:
            prediction.model_version = str(changes["model_version"] or "")[:255]
        s.add(prediction)
        s.flush()
        if prediction.score is not None:
            prioritize_uncertain(s.connection(), task.project_id, [prediction.task_id])
        return prediction


def delete_prediction(user: User, prediction_id: int) -> None:
    """Delete a prediction (leads of the project and admins)."""
    with unit_of_work() as s:
        prediction = s.get(Prediction, prediction_id)
        if prediction is None:
            raise NotFound(f"prediction {prediction_id} not found")
        require_project(s, user, prediction.project_id, "manage")
        s.delete(prediction)


#: Most predictions one ``import_predictions`` call takes.
MAX_IMPORTED_PREDICTIONS = 10_000


def import_predictions(user: User, project_id: int, items: Any) -> int:
    """Store many predictions of a project's tasks at once (Label Studio's ``POST
    /api/projects/ID/import/predictions``: a list of ``{"task", "result", "score",
    "model_version"}``), all or none, in one transaction; returns how many were created.

    Raises
    ------
    Invalid
        Not a list, too long, a row without a task of this project, a result the schema
        refuses (each problem names its row).
    """
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise Invalid("send a list of predictions: [{\"task\": ID, \"result\": [...]}]",
                      [{"row": None, "field": None, "detail": "not a list of objects"}])
    if len(items) > MAX_IMPORTED_PREDICTIONS:
        raise Invalid(f"at most {MAX_IMPORTED_PREDICTIONS:,} predictions per request",
                      [{"row": None, "field": None, "detail": f"{len(items):,} predictions"}])
    errors = []
    for i, item in enumerate(items):
        task_id = item.get("task")
        if isinstance(task_id, bool) or not isinstance(task_id, int) or not 0 < task_id <= MAX_ID:
            errors.append({"row": i, "field": "task", "detail": "required: the task id"})
        try:
            check_prediction_values(i, score=item.get("score"), probs=item.get("probs"))
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid(f"{len(errors)} invalid prediction(s); nothing was imported", errors[:100])
    with unit_of_work() as s:
        project = require_project(s, user, project_id, "manage")
        ids = sorted({item["task"] for item in items})
        tasks = {t.id: t for t in s.exec(select(Task).where(Task.project_id == project_id, Task.id.in_(ids)))}
        now = utcnow()
        for i, item in enumerate(items):
            task = tasks.get(item["task"])
            if task is None:
                errors.append({"row": i, "field": "task", "detail": f"task {item['task']} is not in project {project_id}"})
                continue
            try:
                check_prediction(s, project, task, item.get("result"), item.get("probs"))
            except Invalid as exc:
                errors.extend({**e, "row": i} for e in (exc.errors or [{"detail": str(exc)}]))
        if errors:
            raise Invalid(f"{len(errors)} invalid prediction(s); nothing was imported", errors[:100])
        s.add_all([Prediction(task_id=item["task"], project_id=project_id, result=item.get("result"),
                              score=float(item["score"]) if item.get("score") is not None else None,
                              probs=item.get("probs"), model_version=str(item.get("model_version") or "")[:255],
                              created_at=now) for item in items])
        s.flush()
        prioritize_uncertain(s.connection(), project_id, ids)
        return len(items)


def _require_predictions(s: Session, user: User, project_id: int) -> None:
    """Predictions are read by leads and reviewers, and by annotators where the project shows them."""
    project = require_project(s, user, project_id, "view")
    if not prelabels_on(project.show_predictions, project.overlap) and not can(s, user, project, "see_all"):
        raise Forbidden(f"predictions are not shown to annotators in project {project_id}")


def get_prediction(prediction_id: int, user: User) -> Prediction:
    with read_session() as s:
        prediction = s.get(Prediction, prediction_id)
        if prediction is None:
            raise NotFound(f"prediction {prediction_id} not found")
        _require_predictions(s, user, prediction.project_id)
        return prediction


def list_predictions(user: User, *, task_id: int | None = None, project_id: int | None = None) -> list[Prediction]:
    """Predictions of one task or one project (Label Studio's ``GET /api/predictions``)."""
    if task_id is None and project_id is None:
        raise Invalid("give ?task=ID or ?project=ID", [{"row": None, "field": "task", "detail": "required"}])
    with read_session() as s:
        if task_id is not None:
            pid = s.execute(sa.select(Task.project_id).where(Task.id == task_id)).scalar_one_or_none()
            if pid is None:
                raise NotFound(f"task {task_id} not found")
            if project_id is not None and project_id != pid:
                return []
            project_id = pid
        _require_predictions(s, user, project_id)
        q = select(Prediction).where(Prediction.project_id == project_id).order_by(Prediction.id)
        if task_id is not None:
            q = q.where(Prediction.task_id == task_id)
        return list(s.exec(q))
