"""The Label Studio JSON shapes labelfab answers with: one model and one builder per shape.

Every task, annotation and prediction that leaves labelfab (``/api/tasks``, ``/api/tasks/ID``,
``/api/projects/ID/next``, the labeling page, Label Studio's JSON export) is built here by
:func:`task_json`, :func:`annotation_json` and :func:`prediction_json`; the pydantic models
beside them are their contract and the source of the OpenAPI document (``GET
/api/openapi.json``, ARCHITECTURE.md, web/). The models name Label Studio's fields first, with
its types (Label Studio 1.23's serializers, label-studio-sdk's ``types``), then labelfab's
own keys, which extend a shape without changing a Label Studio key. They allow further keys
(``extra="allow"``), as the SDK's own models do, so that a payload written for Label Studio
validates too.

The builders make plain dicts from ORM objects or Core row mappings, without building a model
per row: the JSON export streams them by the hundred thousand. The tests validate what every
endpoint answers with these models, and check that a builder writes no key its model lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Annotation",
    "ExportTask",
    "ImportReport",
    "GOLD_TASK_KEYS",
    "LABELFAB_TASK_KEYS",
    "PRIVATE_TASK_KEYS",
    "Prediction",
    "Project",
    "ProjectImport",
    "Task",
    "TaskList",
    "annotation_json",
    "prediction_json",
    "task_json",
]


class WireModel(BaseModel):
    """A JSON shape: Label Studio's keys plus labelfab's; other keys are allowed."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------- models

LastAction = Literal["prediction", "propagated_annotation", "imported", "submitted", "updated", "skipped",
                     "accepted", "rejected", "fixed_and_accepted", "deleted_review"]


class Annotation(WireModel):
    """An annotation as Label Studio's ``AnnotationSerializer`` answers (a subset of its keys)."""

    id: int
    result: list[dict[str, Any]] = Field(description="Label Studio result items (regions)")
    task: int
    project: int | None
    completed_by: int | None = Field(description="the annotator's user id")
    updated_by: int | None
    was_cancelled: bool = Field(description="true for a skip")
    ground_truth: bool
    lead_time: float | None = Field(description="seconds spent")
    last_action: LastAction | None
    created_at: datetime
    updated_at: datetime
    # labelfab's keys
    skip_reason: str | None = Field(None, description="labelfab: why the task was skipped")
    version: int | None = Field(None, description="labelfab: 1, then one more per edit")
    source: str | None = Field(None, description="labelfab: ui, api or import")
    parent_prediction: int | None = Field(
        None, description="the prediction (pre-label) the annotation was made from; null: made independently")


class Prediction(WireModel):
    """A prediction as Label Studio's ``PredictionSerializer`` answers (a subset of its keys)."""

    id: int
    result: list[dict[str, Any]]
    score: float | None
    model_version: str | None
    task: int
    project: int | None
    created_at: datetime
    updated_at: datetime
    # labelfab's keys
    probs: dict[str, Any] | None = Field(None, description="labelfab: class probabilities, for QC")


class Task(WireModel):
    """A task as Label Studio answers it (``/api/tasks``, ``/api/tasks/ID``, ``/api/projects/ID/next``).

    ``annotations`` and ``predictions`` are absent from a list of tasks unless ``fields=all``
    asks for them. The keys from ``priority`` to ``content_hash`` are shown to leads and
    reviewers only (an annotator must not learn which tasks are gold).
    """

    id: int
    data: dict[str, Any]
    meta: dict[str, Any] | None
    project: int
    inner_id: int
    file_upload: str | None
    is_labeled: bool = Field(description="the task has left the labeling pool (its overlap was reached)")
    overlap: int = Field(description="annotations wanted")
    total_annotations: int
    cancelled_annotations: int
    total_predictions: int
    annotations: list[Annotation] | None = None
    predictions: list[Prediction] | None = None
    drafts: list[dict[str, Any]] = Field(default_factory=list)
    state: str = Field(description="the task's place in its life cycle: imported, open, labeled, suspect, "
                                   "review, accepted, excluded (Label Studio Enterprise's key)")
    created_at: datetime
    updated_at: datetime
    # labelfab's keys
    file_name: str | None = Field(None, description="labelfab: the file the task came from")
    lease_expires_at: datetime | None = Field(None, description="labelfab (next task): the lease on it ends")
    lease_seconds: int | None = Field(None, description="labelfab (next task): the project's lease time")
    editable: bool | None = Field(None, description="labelfab (own annotations): can still be changed")
    priority: float | None = Field(None, description="labelfab, leads and reviewers: routing priority (lower "
                                                     "first)")
    requeued: bool | None = Field(None, description="labelfab, leads and reviewers: sent back for more labels")
    is_gold: bool | None = Field(None, description="labelfab, leads and admins only: a gold (honeypot) task")
    gold_answer: list[dict[str, Any]] | None = Field(None, description="labelfab, leads and admins only: the gold "
                                                                       "answer")
    final_label: Any = Field(None, description="labelfab, leads and reviewers: the derived final label")
    final_source: str | None = Field(None, description="labelfab, leads and reviewers: where the final label "
                                                       "comes from")
    import_id: int | None = Field(None, alias="import", description="labelfab, leads and reviewers: the import "
                                                                    "batch")
    content_hash: str | None = Field(None, description="labelfab, leads and reviewers: sha256 of the canonical "
                                                       "data")


class ExportTask(Task):
    """One task of Label Studio's JSON export (``exportType=JSON``): always with its annotations,
    predictions and drafts."""

    annotations: list[Annotation]
    predictions: list[Prediction]
    drafts: list[dict[str, Any]]


class TaskList(WireModel):
    """``GET /api/tasks``: one page of tasks (label-studio-sdk's ``PaginatedRoleBasedTaskList``)."""

    tasks: list[Task]
    total: int
    total_annotations: int
    total_predictions: int
    # labelfab's keys
    page: int | None = None
    page_size: int | None = None


class UserRef(WireModel):
    id: int


class OverlapChange(WireModel):
    """labelfab: what a new overlap did, in the answer to ``PATCH /api/projects/ID``."""

    from_overlap: int = Field(description="the overlap before")
    to_overlap: int = Field(description="the overlap now")
    reopened: int = Field(description="tasks below the new overlap, back to annotators")
    labeled: int = Field(description="open tasks that now have enough annotations (moved on to labeled)")


class Project(WireModel):
    """A project as Label Studio's ``ProjectSerializer`` answers (a subset), plus labelfab's settings."""

    id: int
    title: str | None
    description: str | None
    label_config: str
    expert_instruction: str | None
    maximum_annotations: int = Field(description="Label Studio's name for the overlap")
    task_number: int
    total_annotations_number: int
    num_tasks_with_annotations: int
    created_by: UserRef | None
    created_at: datetime
    is_archived: bool
    # labelfab's keys
    overlap: int | None = None
    max_overlap: int | None = None
    lease_seconds: int | None = None
    gold_rate: float | None = None
    gold_min_items: int | None = None
    gold_threshold: float | None = None
    restricted: bool | None = Field(None, description="labelfab: members-only annotating")
    show_collab_predictions: bool | None = Field(
        None, description="annotators see predictions (pre-labels), in labelfab to each task's first annotator only")
    show_predictions: bool | None = Field(
        None, description="labelfab: the lead's choice of show_collab_predictions; null: the default, on with "
                          "overlap 1 and off above")
    uncertain_first: bool | None = None
    qc_every: int | None = None
    qc_policy: dict[str, Any] | None = None
    qc_target_precision: float | None = Field(
        None, description="labelfab: the precision QC aims at when it flags wrong labels; null: cleanlab's own flags")
    kind: str | None = Field(None, description="labelfab: the task type its label config makes")
    states: dict[str, int] | None = Field(None, description="labelfab: tasks per state")
    overlap_change: OverlapChange | None = Field(
        None, description="labelfab, the answer to a change of overlap: what it did to the tasks")


class ProjectList(WireModel):
    """``GET /api/projects``: Label Studio's paginated list."""

    count: int
    next: str | None
    previous: str | None
    results: list[Project]


class ImportReport(WireModel):
    """The answer to ``POST /api/projects/ID/import`` (Label Studio's keys first)."""

    task_count: int
    annotation_count: int
    prediction_count: int
    duration: float
    file_upload_ids: list[int]
    found_formats: list[str]
    # labelfab's keys
    import_id: int | None = Field(None, alias="import")
    job: int | None = None
    status: Literal["done", "queued", "failed"] | None = None
    skipped_duplicates: int | None = None
    skipped_invalid: int | None = None
    errors: list[dict[str, Any]] | None = None
    new_users: int | None = None
    gold_count: int | None = None
    thumbnail_job: int | None = None
    task_ids: list[int] | None = None
    url: str | None = Field(None, description="labelfab (background import): where to follow it")
    notes: list[dict[str, Any]] | None = Field(
        None, description="labelfab: what was read but not imported, by row (predictions given as ids, say)")
    attribution: list[dict[str, Any]] | None = Field(
        None, description="labelfab: how each completed_by was attributed (existing user by id or email, a new "
                          "inactive placeholder, the import's labels user)")


class ProjectImport(WireModel):
    """``GET /api/projects/ID/imports/IID``: an import and its job (Label Studio's status names)."""

    id: int
    project: int
    status: str
    task_count: int
    annotation_count: int
    prediction_count: int
    skipped_duplicates: int | None = None
    duration: float | None
    files: list[str] | None = None
    errors: list[dict[str, Any]] | None = None
    created_at: datetime
    job: dict[str, Any] | None = None
    progress: float | None = None
    task_ids: list[int] | None = None


# --------------------------------------------------------------------------- builders

#: The workflow keys of a task only leads and reviewers see.
PRIVATE_TASK_KEYS = ("priority", "requeued", "final_label", "final_source", "import", "content_hash")
#: The gold flag and answer: leads and admins only. A reviewer may answer tasks, and an annotator
#: must not learn which tasks are gold, let alone their answers.
GOLD_TASK_KEYS = ("is_gold", "gold_answer")
#: labelfab's own task keys (the rest are Label Studio's).
LABELFAB_TASK_KEYS = ("file_name", "lease_expires_at", "lease_seconds", "editable", *PRIVATE_TASK_KEYS,
                      *GOLD_TASK_KEYS)
# A task off the labeling pool's track: 'is_labeled' (ARCHITECTURE.md, Item life cycle).
_POOL_STATES = frozenset({"imported", "open"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _get(row: Any, name: str) -> Any:
    """An attribute of an ORM object (or Core row) or a column of a mapping (a dict, a Core row
    mapping). No hasattr: on an ORM object a missing attribute costs an exception."""
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def annotation_json(a: Any) -> dict[str, Any]:
    """An annotation (ORM object or row mapping) as Label Studio shows it (:class:`Annotation`)."""
    cancelled = bool(_get(a, "was_cancelled"))
    version = _get(a, "version")
    return {
        "id": _get(a, "id"),
        "result": _get(a, "result"),
        "task": _get(a, "task_id"),
        "project": _get(a, "project_id"),
        "completed_by": _get(a, "user_id"),
        "updated_by": _get(a, "user_id"),
        "was_cancelled": cancelled,
        "skip_reason": _get(a, "skip_reason"),
        "ground_truth": False,
        "lead_time": _get(a, "lead_time"),
        "version": version,
        "source": _get(a, "source"),
        "parent_prediction": _get(a, "parent_prediction"),
        "last_action": "skipped" if cancelled else ("updated" if version > 1 else "submitted"),
        "created_at": _iso(_get(a, "created_at")),
        "updated_at": _iso(_get(a, "updated_at")),
    }


def prediction_json(p: Any) -> dict[str, Any]:
    """A prediction (ORM object or row mapping) as Label Studio shows it (:class:`Prediction`)."""
    return {
        "id": _get(p, "id"),
        "result": _get(p, "result"),
        "score": _get(p, "score"),
        "probs": _get(p, "probs"),
        "model_version": _get(p, "model_version"),
        "task": _get(p, "task_id"),
        "project": _get(p, "project_id"),
        "created_at": _iso(_get(p, "created_at")),
        "updated_at": _iso(_get(p, "created_at")),
    }


def task_json(task: Any, *, annotations: Iterable[Any] | None = (), predictions: Iterable[Any] | None = (),
              n_predictions: int | None = None, private: bool = False, gold: bool = False) -> dict[str, Any]:
    """A task (ORM object or row mapping) in Label Studio's task format (:class:`Task`).

    Parameters
    ----------
    task : Task or row mapping
    annotations, predictions : iterable or None
        ORM objects, row mappings or already built dicts to embed (the caller decides who may
        see which); None leaves the key out (a list of tasks without ``fields=all``).
    n_predictions : int, optional
        ``total_predictions`` when the predictions are not embedded; by default their number.
    private : bool
        Add labelfab's workflow keys (:data:`PRIVATE_TASK_KEYS`: priority, final label, import,
        ...): for leads and reviewers only.
    gold : bool
        Add the gold flag and answer (:data:`GOLD_TASK_KEYS`): for the project's leads and
        admins only (``labeling.access``, action ``see_gold``), never for reviewers, who may
        answer gold tasks, nor annotators, who must not learn which tasks are gold.

    Returns
    -------
    dict
        ``is_labeled`` is true once the task has left the labeling pool (state past ``open``):
        on the ordinary track that is Label Studio's rule (annotations >= overlap), and a gold
        task, which stays open, never shows it.
    """
    state = _get(task, "state")
    out: dict[str, Any] = {
        "id": _get(task, "id"),
        "data": _get(task, "data"),
        "meta": _get(task, "meta"),
        "project": _get(task, "project_id"),
        "inner_id": _get(task, "id"),
        "file_upload": _get(task, "file_name"),
        "file_name": _get(task, "file_name"),
        "is_labeled": state not in _POOL_STATES,
        "overlap": _get(task, "target_overlap"),
        "total_annotations": _get(task, "n_annotations"),
        "cancelled_annotations": _get(task, "n_skips"),
        "total_predictions": 0,
        "state": state,
    }
    if annotations is not None:
        out["annotations"] = [a if isinstance(a, dict) else annotation_json(a) for a in annotations]
    if predictions is not None:
        out["predictions"] = [p if isinstance(p, dict) else prediction_json(p) for p in predictions]
    out["total_predictions"] = n_predictions if n_predictions is not None else len(out.get("predictions", ()))
    out["drafts"] = []
    out["created_at"] = _iso(_get(task, "created_at"))
    out["updated_at"] = _iso(_get(task, "updated_at"))
    if private:
        out.update({
            "priority": _get(task, "priority"),
            "requeued": _get(task, "requeued"),
            "final_label": _get(task, "final_label"),
            "final_source": _get(task, "final_source"),
            "import": _get(task, "import_id"),
            "content_hash": _get(task, "content_hash"),
        })
    if gold:
        out.update({"is_gold": _get(task, "is_gold"), "gold_answer": _get(task, "gold_answer")})
    return out
