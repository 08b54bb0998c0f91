"""The pydantic models of the REST API's query parameters, request bodies and the answers that are
not Label Studio shapes (those are :mod:`labeling.wire`). They describe the routes for the
OpenAPI document (:mod:`web.api.openapi`); the views parse their input with
:mod:`web.api.params`, whose checks these models mirror.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labeling.wire import Annotation, Task


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------- common answers


class ErrorRow(Schema):
    row: int | None = None
    field: str | None = None
    detail: str | None = None


class Error(Schema):
    """Every refusal (400, 401, 403, 404, 409, 413, 422): a message and the rows and fields at fault."""

    detail: str
    errors: list[ErrorRow | dict[str, Any] | str] = Field(default_factory=list)


class Job(Schema):
    """A background job (``GET /api/jobs/ID``)."""

    id: int
    kind: str
    project: int | None
    status: Literal["queued", "running", "done", "failed"]
    progress: float | None
    message: str | None
    result: dict[str, Any] | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None


class Me(Schema):
    id: int
    email: str
    username: str
    role: str
    token_scope: str | None


class User(Schema):
    """Label Studio's user (its ``UserSerializer``), then labelfab's role and is_active."""
    id: int
    first_name: str | None
    last_name: str | None = None
    username: str
    email: str
    last_activity: datetime | None = None
    custom_hotkeys: dict[str, Any] | None = None
    avatar: str | None = None
    initials: str | None = None
    phone: str | None = None
    active_organization: int | None = None
    active_organization_meta: str | None = None
    allow_newsletters: bool | None = None
    date_joined: datetime | None = None
    role: str
    is_active: bool


class WhoAmI(User):
    token_scope: str | None


class Version(Schema):
    """Label Studio's ``/api/version`` keys (``release``, ``edition``, the packages) and ``labelfab``."""
    release: str
    edition: str
    labelfab: dict[str, Any]


class Member(Schema):
    id: int
    user: User
    role: str
    paused: bool
    paused_reason: str | None
    created_at: datetime


class Token(Schema):
    """An API token as its owner sees it: never the key, its first characters (``prefix``)."""

    id: int
    name: str
    prefix: str = Field(description="the key's first 8 characters")
    scope: str
    created_at: datetime
    last_used_at: datetime | None = Field(None, description="kept to within 5 minutes")
    expires_at: datetime | None = None
    expired: bool
    revoked_at: datetime | None = None


class NewToken(Token):
    token: str = Field(description="the key, shown once")


# --------------------------------------------------------------------------- projects and tasks


class ProjectBody(Schema):
    """A Label Studio project body; Label Studio's keys labelfab has no setting for are accepted and
    ignored, other unknown keys refused (422)."""

    title: str | None = None
    label_config: str | None = Field(None, description="Label Studio XML (required to create)")
    description: str | None = None
    expert_instruction: str | None = Field(None, description="Label Studio's name for instructions")
    maximum_annotations: int | None = Field(None, ge=1, description="Label Studio's name for overlap")
    is_archived: bool | None = Field(None, description="updates only")
    instructions: str | None = None
    overlap: int | None = Field(None, ge=1)
    max_overlap: int | None = Field(None, ge=1)
    lease_seconds: int | None = Field(None, ge=10)
    gold_rate: float | None = Field(None, ge=0)
    gold_min_items: int | None = Field(None, ge=0)
    gold_threshold: float | None = Field(None, ge=0)
    restricted: bool | None = None
    show_predictions: bool | None = Field(
        None, description="pre-labels for each task's first annotator; null: on with overlap 1, off above")
    show_collab_predictions: bool | None = Field(None, description="Label Studio's name for show_predictions")
    uncertain_first: bool | None = None
    qc_every: int | None = Field(None, ge=0)
    qc_target_precision: float | None = Field(
        None, ge=0.5, le=0.99, description="the precision QC aims at when it flags wrong labels; null: cleanlab's own")


class LabelConfigBody(Schema):
    label_config: str


class ConfigCheck(Schema):
    ok: bool
    kind: str
    data_keys: list[str]
    controls: list[dict[str, Any]]


class ProjectsQuery(Schema):
    page: int = 1
    page_size: int = Field(100, ge=1, le=1000)
    include_archived: bool = False
    title: str | None = Field(None, description="projects whose title contains this, any case")
    ids: str | None = Field(None, description="comma-separated project ids")


class DeleteProjectQuery(Schema):
    force: bool = Field(False, description="delete its published dataset versions too (else 409 while it has any)")


class MemberQuery(Schema):
    user: int | None = Field(None, description="the member's user id")


class ConfigValidation(Schema):
    """Label Studio's answer to ``POST /api/projects/ID/validate``."""
    config_essential_data_has_changed: bool


class NewTaskBody(Schema):
    project: int
    data: dict[str, Any]
    meta: dict[str, Any] | None = None


class ImportQuery(Schema):
    skip_invalid: bool = False
    dedupe: bool = False
    return_task_ids: bool = False
    background: bool | None = Field(None, description="by default large imports run as a job (202)")
    user_map: str | None = Field(None, description="another instance's user ids as emails, for completed_by: "
                                 "7=ann@example.com,8=bob@example.com")


class ImportStatusQuery(Schema):
    return_task_ids: bool = True


class ImportTask(Schema):
    """One task to import: Label Studio's task (``data``, ``annotations``, ``predictions``, ``meta``)
    or a flat object that is the data itself."""

    data: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] | None = None
    predictions: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None


class TasksQuery(Schema):
    project: int = Field(description="the project")
    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1)
    state: str | None = Field(None, description="a task state, or gold")
    search: str | None = Field(None, description="text in the data or file name; #ID for one task")
    q: str | None = Field(None, description="the same as search")
    fields: Literal["all", "task_only"] | None = Field(None, description="all: with annotations and predictions")
    query: str | None = Field(None, description="Label Studio's Data Manager query (JSON): filters, ordering, "
                                                "selectedItems; an unknown filter or operator is a 400")
    view: int | None = Field(None, description="a Data Manager view whose filters, ordering and selection apply")
    selectedItems: str | None = Field(None, description='{"all": false, "included": [ids]} or {"all": true, '  # noqa: N815
                                                        '"excluded": [ids]} (JSON), unless the query has its own')


class ProjectTasksQuery(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1)
    state: str | None = None
    search: str | None = None
    q: str | None = None
    fields: Literal["all", "task_only"] | None = None


class TaskBody(Schema):
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    priority: float | None = None


class MemberBody(Schema):
    user: int | str | None = Field(None, description="a user id or email (also user_id, email)")
    role: Literal["lead", "reviewer", "annotator"] = "annotator"


# --------------------------------------------------------------------------- annotating


class AnnotationBody(Schema):
    result: list[dict[str, Any]] | None = None
    was_cancelled: bool | None = Field(None, description="true: a skip")
    skip_reason: str | None = Field(None, description="also 'comment'")
    lead_time: float | None = Field(None, ge=0)
    source: str | None = None
    parent_prediction: int | None = Field(
        None, ge=1, description="the task's prediction the annotation was made from (a pre-label); on creation")
    ground_truth: bool | None = Field(None, description="true: the result becomes the task's gold answer "
                                      "(reviewers, leads); false on the answer: the task is ordinary again")


class PredictionBody(Schema):
    task: int
    result: list[dict[str, Any]]
    score: float | None = None
    model_version: str | None = None
    probs: dict[str, Any] | None = None


class PredictionPatch(Schema):
    result: list[dict[str, Any]] | None = None
    score: float | None = None
    model_version: str | None = None
    probs: dict[str, Any] | None = None


class PredictionsCreated(Schema):
    created: int


class PredictionsQuery(Schema):
    task: int | None = None
    project: int | None = None


class MyAnnotationsQuery(Schema):
    before: int | None = Field(None, description="an annotation id: older ones")
    limit: int = Field(1, ge=1, le=100)


class Lease(Schema):
    task: int
    expires_at: datetime


class AnnotateNextQuery(Schema):
    exclude: int | None = Field(None, description="the task on screen: lease the one after it ahead of time")
    since: datetime | None = Field(None, description="the start of the annotator's day, for the counters")


class AnnotatePreviousQuery(Schema):
    before: int | None = None


class AnnotateStatsQuery(Schema):
    since: datetime | None = Field(None, description="the start of the annotator's day")


class Counters(Schema):
    done_today: int
    remaining: int | None


class AnnotateNext(Schema):
    task: Task | None = Field(description="null when none is left")
    lease: dict[str, Any] | None
    counters: Counters
    prefetch: bool


class Previous(Schema):
    annotation: Annotation | None
    task: Task | None
    editable: bool | None = None


class CsrfToken(Schema):
    csrf_token: str


# --------------------------------------------------------------------------- exports and datasets


class ExportQuery(Schema):
    exportType: str = Field("JSON", description="JSON, JSON_MIN, CSV, TSV, JSONL, PARQUET, COCO, YOLO, VOC, "
                                                "CONLL2003, COCO_WITH_IMAGES, YOLO_WITH_IMAGES")
    export_type: str | None = None
    download_all_tasks: bool | None = Field(None, description="Label Studio's JSON export: unlabeled tasks too")
    ids: list[int] | None = Field(None, description="Label Studio's JSON export: these tasks (also ids[])")
    gold: bool | None = Field(None, description="gold tasks too, with their answers (Label Studio JSON: is_gold, "
                                                "gold_answer and the answering annotation's ground_truth)")
    state: list[str] | None = Field(None, description="clean export: task states (default accepted; all)")
    label: list[str] | None = None
    annotator: str | None = None
    since: str | None = None
    until: str | None = None
    seed: int | None = Field(None, description="clean export: seed of the split column (default the project's: "
                                               "its dataset versions keep every released task's split; given, "
                                               "it must be the current split generation's)")
    split: str | None = Field(None, description="train,validation,test percentages: 80,10,10 (default the "
                                                "project's, as seed)")
    media: Literal["urls", "files"] | None = None
    rows: Literal["final", "annotations"] | None = Field(
        None, description="clean export, CSV/TSV/JSONL: final labels (default) or one row per annotation "
                          "(annotator, annotation_id, created_at, updated_at, lead_time)")
    csv_raw: bool | None = Field(
        None, description="clean export, CSV/TSV: every cell as it is. By default a text cell that a spreadsheet "
                          "would run as a formula (starting with =, +, -, @, tab or carriage return) gets a single "
                          "quote in front (OWASP's rule); numbers stay numbers. JSON, JSON_MIN, JSONL and PARQUET "
                          "are always as stored")


class PublishBody(Schema):
    note: str | None = None
    seed: int | None = None
    split: str | list[float] | None = None
    background: bool | None = None


class ResplitBody(Schema):
    seed: int | None = None
    split: str | list[float] | None = None
    reason: str | None = None


class DatasetVersion(Schema):
    version: int
    sha256: str
    n_items: int
    noise_rate: float | None
    note: str | None
    created_at: datetime
    created_by: Any = None
    splits: Any = None
    label_counts: Any = None
    formats: list[str]


class DownloadQuery(Schema):
    format: str | None = Field(None, description="jsonl (the default), parquet, csv, json, coco, yolo, voc, conll2003, "
                                                 "media or card")


class DiffQuery(Schema):
    from_: str = Field(alias="from", description="a version")
    to: str


# --------------------------------------------------------------------------- quality and review


class QcRunsQuery(Schema):
    limit: int = 50


class QcStarted(Schema):
    job: Job
    created: bool


class QcRun(Schema):
    id: int
    project: int
    job: int | None
    status: str
    message: str | None
    n_items: int | None
    n_issues: int | None
    noise_rate: float | None
    created_at: datetime
    finished_at: datetime | None
    annotators: list[dict[str, Any]] | None = None


class LabelIssuesQuery(Schema):
    run: int | None = None
    kind: Literal["label", "outlier", "near_duplicate"] | None = None
    all: bool = False
    page: int = 1
    page_size: int = 100


class LabelIssue(Schema):
    task: int
    kind: str
    given: Any
    suggested: Any
    consensus: Any = None
    score: float | None
    reason: str | None
    is_issue: bool


class DecisionBody(Schema):
    decision: Literal["keep", "relabel", "exclude"]
    result: list[dict[str, Any]] | None = None
    reason: str | None = None


class AuditBody(Schema):
    decision: Literal["confirm", "keep", "relabel", "exclude"]
    result: list[dict[str, Any]] | None = None
    reason: str | None = None


class GoldBody(Schema):
    answer: list[dict[str, Any]]


class Decision(Schema):
    id: int
    task: int
    project: int
    reviewer: int | None
    level: int
    decision: str
    result: Any
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undone_at: datetime | None
    created_at: datetime


class DecisionsQuery(Schema):
    task: int | None = None
    reviewer: int | None = None
    limit: int = 100


class AuditQuery(Schema):
    reviewer: int | None = None
    sample: int | None = Field(None, description="a random sample (20 unless reviewer is given)")
    seed: int | None = None
    all: bool = Field(False, description="decisions already audited too")


class GoldOff(Schema):
    task: int
    state: str
    is_gold: bool


class Resumed(Schema):
    user: int
    project: int
    paused: bool
    resumed_at: datetime


class ReviewItem(Schema):
    """A suspect task for review: the data, every annotator's label, consensus and suggestion."""

    task: dict[str, Any] = Field(description="id, data, meta, state, is_gold, file_upload")
    object: dict[str, Any] = Field(description="the object tag shown and its data key")
    control: dict[str, Any] = Field(description="the control reviewed: name, type, to_name, labels")
    annotations: list[dict[str, Any]] = Field(description="every annotator's result and label")
    given: dict[str, Any]
    consensus: dict[str, Any] | None
    suggested: dict[str, Any] | None
    issue: dict[str, Any] | None
    reason: str
    score: float | None
    lease_expires_at: datetime
    remaining: int = Field(description="tasks in the review queue, this one included")


class ReviewUiNext(Schema):
    item: ReviewItem | None
    project: int


# --------------------------------------------------------------------------- statistics and users


class StatsQuery(Schema):
    panels: str | None = Field(None, description="comma-separated panel names")


class PanelQuery(Schema):
    format: Literal["json", "csv"] = "json"


class ItemsQuery(Schema):
    annotator: int | None = None
    given: str | None = None
    suggested: str | None = None
    run: int | None = None
    page: int = 1


class UserBody(Schema):
    email: str
    role: str = "annotator"
    password: str | None = None
    name: str | None = None


class UserPatch(Schema):
    first_name: str | None = Field(None, description="the user's name (labelfab keeps one)")
    role: str | None = None
    is_active: bool | None = None


class TokenBody(Schema):
    name: str | None = Field(None, max_length=255)
    scope: Literal["full", "read"] = "full"
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="the token expires after this many days")
    expires_at: datetime | None = Field(None, description="or at this moment (ISO 8601 with a time zone)")


class SnapshotBody(Schema):
    """Label Studio's export-create body."""
    title: str | None = None
    task_filter_options: dict[str, Any] | None = Field(
        None, description="only_with_annotations (bool); annotated, finished, skipped: only | exclude")
    annotation_filter_options: dict[str, Any] | None = Field(None, description="Label Studio's defaults only")
    serialization_options: dict[str, Any] | None = Field(None, description="Label Studio's defaults only")


class Snapshot(Schema):
    """Label Studio's ``Export``."""
    id: int
    title: str
    created_by: dict[str, Any] | None
    created_at: datetime | None
    finished_at: datetime | None
    status: str
    md5: str
    counters: dict[str, Any]
    converted_formats: list[dict[str, Any]]


class SnapshotDownloadQuery(Schema):
    exportType: str = Field("JSON", description="JSON (as stored), JSON_MIN, CSV, TSV, COCO, YOLO, VOC, CONLL2003")
    csv_raw: bool = Field(False, description="CSV and TSV cells as they are (by default neutralised)")


# --------------------------------------------------------------------------- Data Manager


class DmProjectQuery(Schema):
    project: int = Field(description="the project")


class DmView(Schema):
    id: int
    filter_group: None = None
    data: dict[str, Any] = Field(description="title, filters, ordering, hiddenColumns... as the front end keeps them")
    ordering: list[str] | None = None
    selected_items: dict[str, Any] | None = None
    user: int | None = None
    project: int
    order: int | None = None


class DmViewBody(Schema):
    project: int | None = Field(None, description="the project (required to create)")
    data: dict[str, Any] | None = None
    selected_items: dict[str, Any] | None = None
    order: int | None = None


class DmViewOrderBody(Schema):
    project: int
    ids: list[int]


class DmAction(Schema):
    id: str
    title: str
    order: int
    permission: str
    experimental: bool
    dialog: dict[str, Any] | None = None


class DmActionQuery(Schema):
    id: str = Field(description="the action: delete_tasks, delete_tasks_annotations, delete_tasks_predictions")
    project: int
    view: int | None = Field(None, description="a view whose query selects the tasks (before the body's)")


class DmActionBody(Schema):
    filters: dict[str, Any] | None = None
    ordering: list[str] | None = None
    selectedItems: dict[str, Any] | None = None  # noqa: N815 (Label Studio's key)


class DmActionResult(Schema):
    processed_items: int
    detail: str | None = None
    reload: bool | None = None
