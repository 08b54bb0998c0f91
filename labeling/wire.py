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

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Annotation",
    "ExportTask",
    "ImportReport",
    "PROJECT_LS_DEFAULTS",
    "GOLD_TASK_KEYS",
    "LABELFAB_TASK_KEYS",
    "PRIVATE_TASK_KEYS",
    "Draft",
    "Prediction",
    "Project",
    "ProjectImport",
    "Task",
    "TaskList",
    "annotation_json",
    "draft_json",
    "dm_task_keys",
    "user_simple",
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
    created_username: str = Field(
        "", description="the annotator as Label Studio shows them: 'name email, id' (labeling.users.usernames)")
    created_ago: str = Field("", description="time since creation, as Django's timesince writes it")
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
    draft_created_at: datetime | None = Field(None, description="when the draft it was submitted from (draft_id) "
                                                                "was created; else null")
    import_id: int | None = Field(None, description="Label Studio's import id; null in labelfab")
    bulk_created: bool | None = Field(False, description="Label Studio's; always false in labelfab")
    parent_annotation: int | None = Field(None, description="Label Studio's; null in labelfab")
    last_created_by: int | None = Field(None, description="Label Studio's; null in labelfab")
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
    created_ago: str = Field("", description="time since creation, as Django's timesince writes it")
    task: int
    project: int | None
    created_at: datetime
    updated_at: datetime
    cluster: int | None = Field(None, description="Label Studio's; null in labelfab")
    neighbors: Any = Field(None, description="Label Studio's; null in labelfab")
    mislabeling: float = Field(0.0, description="Label Studio's; 0.0 in labelfab (QC's scores are in /api/qc)")
    model: int | None = Field(None, description="Label Studio's ML backend model (Enterprise); null")
    model_run: int | None = Field(None, description="Label Studio's model run (Enterprise); null")
    # labelfab's keys
    probs: dict[str, Any] | None = Field(None, description="labelfab: class probabilities, for QC")


class Draft(WireModel):
    """An annotation draft as Label Studio's ``AnnotationDraftSerializer`` answers (every field
    of its model; ``user`` the author's email, as its serializer writes the user)."""

    id: int
    result: list[dict[str, Any]]
    lead_time: float | None
    task: int
    annotation: int | None = Field(None, description="the annotation whose changes it holds, or null")
    user: str
    was_postponed: bool
    import_id: int | None
    created_at: datetime
    updated_at: datetime
    created_username: str
    created_ago: str = Field("", description="time since creation, as Django's timesince writes it")


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
    updated_by: Any = Field(None, description="Label Studio's last user to change the task; null in labelfab")
    allow_skip: bool = Field(True, description="annotators may skip the task: always, in labelfab")
    # Label Studio's Data Manager keys of one task (GET /api/tasks/ID), from its annotations and
    # predictions the caller sees
    annotators: list[int] | None = None
    completed_at: datetime | None = None
    annotations_results: str | None = None
    predictions_results: str | None = None
    predictions_score: float | None = None
    storage_filename: str | None = None
    annotations_ids: str | None = None
    predictions_model_versions: str | None = None
    avg_lead_time: float | None = None
    draft_exists: bool | None = None
    state: str = Field(description="the task's place in its life cycle: imported, open, labeled, suspect, "
                                   "review, accepted, excluded (Label Studio Enterprise's key)")
    created_at: datetime
    updated_at: datetime
    comment_count: int | None = Field(None, description="comments on the task (task lists)")
    unresolved_comment_count: int | None = Field(None, description="comments not resolved yet (task lists)")
    last_comment_updated_at: datetime | None = Field(None, description="the newest change of a comment (task lists)")
    comment_authors: list[int] | None = Field(None, description="who commented (task lists)")
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
    """Label Studio's ``UserSimpleSerializer``: a project's creator."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    avatar: str | None = None


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
    show_instruction: bool = Field(False, description="the instructions open before an annotator labels")
    maximum_annotations: int = Field(description="Label Studio's name for the overlap")
    task_number: int
    total_annotations_number: int
    num_tasks_with_annotations: int
    created_by: UserRef | None
    created_at: datetime
    is_archived: bool
    show_skip_button: bool = Field(True, description="annotators may skip: always, in labelfab")
    enable_empty_annotation: bool = Field(False, description="false: an annotation needs a result")
    show_annotation_history: bool = False
    organization: int | None = 1
    color: str | None = "#FFFFFF"
    is_published: bool = False
    model_version: str | None = ""
    is_draft: bool = False
    min_annotations_to_start_training: int = 0
    start_training_on_annotation_update: bool = False
    useful_annotation_number: int = Field(0, description="submitted (not skipped) annotations")
    ground_truth_number: int = 0
    skipped_annotations_number: int = 0
    total_predictions_number: int = 0
    sampling: Literal["Sequential sampling", "Uniform sampling", "Uncertainty sampling"] = Field(
        "Sequential sampling", description="Uncertainty sampling where labelfab orders by the model's uncertainty "
                                           "(uncertain_first)")
    show_ground_truth_first: bool = False
    show_overlap_first: bool = False
    overlap_cohort_percentage: int = 100
    task_data_login: str | None = None
    task_data_password: str | None = None
    control_weights: dict[str, Any] | None = None
    evaluate_predictions_automatically: bool = False
    skip_queue: str | None = Field("REQUEUE_FOR_OTHERS", description="a skipped task goes to other annotators")
    reveal_preannotations_interactively: bool = False
    pinned_at: datetime | None = None
    finished_task_number: int = Field(0, description="tasks past the labeling pool")
    annotator_evaluation_enabled: bool = False
    parsed_label_config: dict[str, Any] | None = Field(None, description="Label Studio's parse of label_config")
    config_has_control_tags: bool | None = None
    config_suitable_for_bulk_annotation: bool | None = Field(None, description="not computed in labelfab: null")
    queue_total: int | None = Field(None, description="not computed in labelfab: null")
    queue_done: int | None = Field(None, description="not computed in labelfab: null")
    state: str | None = Field(None, description="Label Studio Enterprise's project state: null")
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
        None, description="labelfab: the precision QC aims at when it flags wrong labels; null: as many flags as labels estimated wrong")
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
    could_be_tasks_list: bool = Field(False, description="a CSV, TSV or TXT file was uploaded")
    data_columns: list[str] = Field(default_factory=list, description="Label Studio's; [] in labelfab")
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


#: labelfab is one organisation in Label Studio's terms: the id every project, webhook and user's
#: ``active_organization`` names, and its title (``/api/organizations``).
ORGANIZATION_ID = 1
ORGANIZATION_TITLE = "labelfab"


#: Label Studio's project keys (``ProjectSerializer``) with one value in labelfab: what labelfab
#: does (annotators may always skip; an annotation needs a result; a skipped task goes to other
#: annotators), else the value of a Label Studio Community project that never changed them.
PROJECT_LS_DEFAULTS: dict[str, Any] = {
    "show_skip_button": True,
    "enable_empty_annotation": False,
    "show_annotation_history": False,
    "organization": ORGANIZATION_ID,
    "color": "#FFFFFF",
    "is_published": False,
    "model_version": "",
    "is_draft": False,
    "min_annotations_to_start_training": 0,
    "start_training_on_annotation_update": False,
    "show_ground_truth_first": False,
    "show_overlap_first": False,
    "overlap_cohort_percentage": 100,
    "task_data_login": None,
    "task_data_password": None,
    "evaluate_predictions_automatically": False,
    "skip_queue": "REQUEUE_FOR_OTHERS",
    "reveal_preannotations_interactively": False,
    "pinned_at": None,
    "annotator_evaluation_enabled": False,
    # per caller (queue) or Enterprise (state, bulk labeling): not computed, null
    "config_suitable_for_bulk_annotation": None,
    "queue_total": None,
    "queue_done": None,
    "state": None,
}


@lru_cache(maxsize=256)
def _parsed_config(label_config: str) -> str:
    from label_studio_sdk._extensions.label_studio_tools.core.label_config import parse_config

    try:
        return json.dumps(parse_config(label_config))
    except Exception:  # noqa: BLE001 (Label Studio's get_parsed_config: {} for a config it cannot parse)
        return "{}"


def parsed_label_config(label_config: str) -> dict[str, Any]:
    """Label Studio's ``parsed_label_config`` of a project (its ``parse_config``: per control, its
    type, to_name, inputs and labels); a fresh copy, from a cache by config text."""
    return json.loads(_parsed_config(label_config))


def control_weights(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """Label Studio's ``control_weights`` of a project that never set them
    (``Project.get_updated_weights``): weight 1.0 per control (but Filter) and per label."""
    return {name: {"overall": 1.0, "type": c["type"], "labels": {label: 1.0 for label in c.get("labels", [])}}
            for name, c in parsed.items() if c["type"] != "Filter"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _get(row: Any, name: str) -> Any:
    """An attribute of an ORM object (or Core row) or a column of a mapping (a dict, a Core row
    mapping). No hasattr: on an ORM object a missing attribute costs an exception."""
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


_UNITS = ("year", "month", "week", "day", "hour", "minute")
_CHUNKS = (7 * 24 * 3600, 24 * 3600, 3600, 60)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def created_ago(d: datetime | None, now: datetime | None = None) -> str:
    """Label Studio's ``created_ago``: Django's ``timesince`` of a creation time ("3\xa0minutes",
    "1\xa0week, 2\xa0days": up to two adjacent units, a no-break space in each, "0\xa0minutes" for
    less than a minute or a time in the future); "" without a time. Naive times are UTC."""
    if d is None:
        return ""
    d = d if d.tzinfo is not None else d.replace(tzinfo=UTC)
    now = (now or datetime.now(UTC)).astimezone(d.tzinfo)
    if (now - d).total_seconds() < 60:
        return "0\xa0minutes"
    months = (now.year - d.year) * 12 + (now.month - d.month)
    if d.day > now.day or (d.day == now.day and d.time() > now.time()):
        months -= 1
    years, months = divmod(months, 12)
    pivot = d
    if years or months:
        y, m = d.year + years, d.month + months
        if m > 12:
            y, m = y + 1, m - 12
        pivot = d.replace(year=y, month=m, day=min(_MONTH_DAYS[m - 1], d.day))
    rest = (now - pivot).total_seconds()
    parts = [years, months]
    for chunk in _CHUNKS:
        parts.append(int(rest // chunk))
        rest -= chunk * parts[-1]
    first = next(i for i, v in enumerate(parts) if v)
    out = []
    for unit, value in zip(_UNITS[first:first + 2], parts[first:first + 2], strict=True):
        if not value:
            break
        out.append(f"{value}\xa0{unit}{'' if value == 1 else 's'}")
    return ", ".join(out)


def user_label(name: str | None, email: str, user_id: int) -> str:
    """Label Studio's ``created_username`` of an annotation (``AnnotationSerializer.
    get_created_username``): first and last name, email, id ("Ann Smith ann@x.org, 3"; " ann@x.org, 3"
    without a name). labelfab keeps one name, Label Studio's ``first_name``."""
    return f"{name or ''} {email}, {user_id}"


def draft_json(d: Any, author: Any) -> dict[str, Any]:
    """A draft (``models.AnnotationDraft``) as Label Studio shows it (:class:`Draft`); ``author``
    is its user (``id``, ``name``, ``email``)."""
    return {"id": d.id, "result": d.result, "lead_time": d.lead_time, "task": d.task_id,
            "annotation": d.annotation_id, "user": _get(author, "email"), "was_postponed": d.was_postponed,
            "import_id": d.import_id, "created_at": _iso(d.created_at), "updated_at": _iso(d.updated_at),
            "created_username": (f"{name} " if (name := _get(author, "name")) else "")
                                + f"{_get(author, 'email')}, {_get(author, 'id')}",  # no space without a name
            "created_ago": created_ago(d.created_at)}


def user_simple(user: Any) -> dict[str, Any]:
    """A user (ORM object or row mapping with ``id``, ``name``, ``email``) as Label Studio's
    ``UserSimpleSerializer`` writes one (a project's or an export's ``created_by``): labelfab
    keeps one name, Label Studio's ``first_name``; no avatar."""
    return {"id": _get(user, "id"), "first_name": _get(user, "name") or "", "last_name": "",
            "email": _get(user, "email"), "avatar": None}


def annotation_json(a: Any, *, names: Mapping[int, str]) -> dict[str, Any]:
    """An annotation (ORM object or row mapping) as Label Studio shows it (:class:`Annotation`).

    The one builder of an annotation's JSON: the API's answers, the task answers, Label Studio's
    JSON export and its snapshots, webhook payloads and storage exports all call it.

    Parameters
    ----------
    a : Annotation or row mapping
    names : mapping of int to str
        ``created_username`` of the annotators by user id (:func:`labeling.users.usernames`,
        or :func:`user_label` of a user row at hand); the annotation's author must be in it.
    """
    cancelled = bool(_get(a, "was_cancelled"))
    version = _get(a, "version")
    user_id = _get(a, "user_id")
    return {
        "id": _get(a, "id"),
        "result": _get(a, "result"),
        "task": _get(a, "task_id"),
        "project": _get(a, "project_id"),
        "created_username": names[user_id] if user_id is not None else "",
        "created_ago": created_ago(_get(a, "created_at")),
        "completed_by": user_id,
        "updated_by": user_id,
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
        "draft_created_at": _iso(_get(a, "draft_created_at")),
        # Label Studio's keys labelfab has no counterpart of: their value in a Community answer
        "import_id": None,
        "bulk_created": False,
        "parent_annotation": None,
        "last_created_by": None,
    }


def prediction_json(p: Any) -> dict[str, Any]:
    """A prediction (ORM object or row mapping) as Label Studio shows it (:class:`Prediction`)."""
    return {
        "id": _get(p, "id"),
        "result": _get(p, "result"),
        "score": _get(p, "score"),
        "probs": _get(p, "probs"),
        "model_version": _get(p, "model_version"),
        "created_ago": created_ago(_get(p, "created_at")),
        "task": _get(p, "task_id"),
        "project": _get(p, "project_id"),
        "created_at": _iso(_get(p, "created_at")),
        "updated_at": _iso(_get(p, "created_at")),
        # Label Studio's keys labelfab has no counterpart of: their value in a Community answer
        "cluster": None,
        "neighbors": None,
        "mislabeling": 0.0,
        "model": None,
        "model_run": None,
    }


def _dm_results(results: list[Any]) -> str:
    """Label Studio's Data Manager text of results (``_pretty_results``): the JSON list without
    its brackets and quotes, at most 500 characters."""
    out = json.dumps([r for r in results if r is not None], ensure_ascii=False)[1:-1]
    return out[:500].replace(',"', ', "').replace('],[', '] [').replace('"', '')


#: The keys :func:`dm_task_keys` adds to ``GET /api/tasks/ID`` (Label Studio's answer there only).
DM_TASK_KEYS = ("annotators", "completed_at", "annotations_results", "predictions_results", "predictions_score",
                "storage_filename", "annotations_ids", "predictions_model_versions", "avg_lead_time", "draft_exists",
                "updated_by")


def dm_task_keys(annotations: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """Label Studio's Data Manager keys of one task (``DataManagerTaskSerializer``, the answer to
    ``GET /api/tasks/ID``) from the built annotations and predictions the caller sees;
    ``draft_exists`` (false) and ``storage_filename`` (null) are set by
    :func:`labeling.tasks.get_task`, with the caller's ``drafts``."""
    done = [a for a in annotations if not a["was_cancelled"]]
    times = [a["lead_time"] for a in annotations if a["lead_time"] is not None]
    scores = [p["score"] for p in predictions if p["score"] is not None]
    versions = list(dict.fromkeys(p["model_version"] for p in predictions if p["model_version"]))
    return {
        "annotators": sorted({a["completed_by"] for a in annotations if a["completed_by"] is not None}),
        "completed_at": max((a["created_at"] for a in done), default=None),
        "annotations_results": _dm_results([a["result"] for a in annotations]),
        "predictions_results": _dm_results([p["result"] for p in predictions]),
        "predictions_score": sum(scores) / len(scores) if scores else None,
        "storage_filename": None,
        "annotations_ids": ",".join(str(a["id"]) for a in annotations),
        "predictions_model_versions": ",".join(versions),
        "avg_lead_time": sum(times) / len(times) if times else None,
        "draft_exists": False,
        "updated_by": [{"user_id": u} for u in sorted({a["updated_by"] for a in annotations
                                                       if a["updated_by"] is not None})],
    }


def task_json(task: Any, *, annotations: Iterable[Any] | None = (), predictions: Iterable[Any] | None = (),
              n_predictions: int | None = None, private: bool = False, gold: bool = False,
              urls: Callable[[Any], Any] | None = None, comments: dict[str, Any] | None = None,
              names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """A task (ORM object or row mapping) in Label Studio's task format (:class:`Task`).

    Parameters
    ----------
    task : Task or row mapping
    annotations, predictions : iterable or None
        ORM objects, row mappings or already built dicts to embed (the caller decides who may
        see which); None leaves the key out (a list of tasks without ``fields=all``).
    names : mapping of int to str, optional
        The annotators' ``created_username`` (:func:`annotation_json`); needed when
        ``annotations`` holds ORM objects or rows.
    n_predictions : int, optional
        ``total_predictions`` when the predictions are not embedded; by default their number.
    private : bool
        Add labelfab's workflow keys (:data:`PRIVATE_TASK_KEYS`: priority, final label, import,
        ...): for leads and reviewers only.
    gold : bool
        Add the gold flag and answer (:data:`GOLD_TASK_KEYS`): for the project's leads and
        admins only (``labeling.access``, action ``see_gold``), never for reviewers, who may
        answer gold tasks, nor annotators, who must not learn which tasks are gold.
    urls : callable, optional
        Applied to the data sent with the task's id (:func:`labeling.storages.resolve.url_resolver`:
        the ``s3://`` URIs of the project's import storages as resolve-proxy URLs); the stored data stay.
    comments : dict, optional
        Label Studio's comment keys of a task list (``labeling.comments.counts``).

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
        "data": urls(_get(task, "data"), _get(task, "id")) if urls is not None else _get(task, "data"),
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
    if comments is not None:
        out.update(comments)
    if annotations is not None:
        out["annotations"] = [a if isinstance(a, dict) else annotation_json(a, names=names) for a in annotations]
    if predictions is not None:
        out["predictions"] = [p if isinstance(p, dict) else prediction_json(p) for p in predictions]
    out["total_predictions"] = n_predictions if n_predictions is not None else len(out.get("predictions", ()))
    out["drafts"] = []
    # Label Studio's: the last user who changed the task (labelfab does not record it) and whether
    # annotators may skip it (always, in labelfab)
    out["updated_by"] = None
    out["allow_skip"] = True
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
