"""The whole schema of the item life cycle (DESIGN.md): users and tokens, projects, tasks and
their events, annotations with history, predictions, leases, media, imports, jobs, quality runs,
label issues, review decisions and dataset versions.

Every schema change is an Alembic revision in ``migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from labeling.db import utcnow

# Constraint names follow one convention so that Alembic batch mode can alter SQLite tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True):
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use labeling.db.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _ts_opt(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


def _json(default_factory=dict, **kw: Any) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON, **kw)


class Role(StrEnum):
    admin = "admin"
    lead = "lead"
    reviewer = "reviewer"
    annotator = "annotator"


class TokenScope(StrEnum):
    full = "full"  # acts with the user's role
    read = "read"  # read-only, for training pipelines


class TaskState(StrEnum):
    imported = "imported"
    open = "open"
    labeled = "labeled"
    suspect = "suspect"
    review = "review"
    accepted = "accepted"
    excluded = "excluded"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=sa.String(255), unique=True, index=True)
    name: str = Field(default="", sa_type=sa.String(255))
    password_hash: str | None = Field(default=None, sa_type=sa.String(255))
    role: str = Field(default=Role.annotator, sa_type=sa.String(20))
    is_active: bool = Field(default=True)
    # the generation of the user's browser sessions: a session remembers it at login and is
    # refused once it changed (log-out, a password change, an admin's "sign out everywhere")
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_login_at: datetime | None = _ts_opt()
    created_at: datetime = _ts()
    # Label Studio's custom hotkeys of its editor (/api/current-user/hotkeys): kept for its scripts
    custom_hotkeys: dict | None = Field(default=None, sa_type=sa.JSON)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", sa_type=sa.String(255))
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    prefix: str = Field(sa_type=sa.String(12))
    scope: str = Field(default=TokenScope.full, sa_type=sa.String(10))
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts_opt()  # kept to within users.TOKEN_USE_WRITE_SECONDS
    expires_at: datetime | None = _ts_opt()
    revoked_at: datetime | None = _ts_opt()


class Invite(SQLModel, table=True):
    """A one-time link to set a password (``labeling.invites``): only the key's SHA-256 is kept."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts_opt()


class LoginThrottle(SQLModel, table=True):
    """Recent failed log-ins of one (address, account) pair or of one address (``users.authenticate``).

    ``key`` is a SHA-256 of what is counted, so the emails of unknown accounts are not kept.
    """

    __tablename__ = "login_throttle"
    key: str = Field(sa_type=sa.String(64), primary_key=True)
    failures: int = Field(default=0)
    last_failed_at: datetime = _ts(index=True)


def prelabels_on(show_predictions: bool | None, overlap: int) -> bool:
    """Whether a project pre-fills predictions for annotators (to a task's first annotator only):
    the lead's choice, else on with overlap 1 and off above, where labels must be independent
    (ARCHITECTURE.md, Pre-labels)."""
    return overlap <= 1 if show_predictions is None else bool(show_predictions)


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=sa.String(255))
    description: str = Field(default="", sa_type=sa.Text)
    label_config: str = Field(sa_type=sa.Text)
    label_schema: dict = _json()
    instructions: str = Field(default="", sa_type=sa.Text)
    # Label Studio's show_instruction: the instructions open before the first task of a session
    show_instruction: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    overlap: int = Field(default=1, ge=1)  # Label Studio's maximum_annotations
    max_overlap: int = Field(default=5, ge=1)  # ceiling for dynamic overlap and QC relabeling
    lease_seconds: int = Field(default=600, ge=10)
    gold_rate: float = Field(default=0.0)  # share of tasks served that are gold
    gold_min_items: int = Field(default=10)
    gold_threshold: float = Field(default=0.0)  # pause annotators under this gold accuracy
    restricted: bool = Field(default=False)  # True: only members get tasks
    # pre-labels (predictions pre-filled for annotators, Label Studio's show_collab_predictions);
    # None: the default, on with overlap 1 and off above (ARCHITECTURE.md, Pre-labels)
    show_predictions: bool | None = Field(default=None, nullable=True)
    uncertain_first: bool = Field(default=False)
    qc_every: int = Field(default=0)  # start a QC run after this many newly labeled tasks (0: off)
    qc_policy: dict = _json()
    # the precision QC aims at when it flags wrong labels (0.5-0.99); None: as many flags as labels estimated wrong
    qc_target_precision: float | None = Field(default=None, nullable=True)
    labeled_since_qc: int = Field(default=0)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    archived_at: datetime | None = _ts_opt()


class Membership(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("project_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str = Field(default=Role.annotator, sa_type=sa.String(20))
    paused_at: datetime | None = _ts_opt()
    paused_reason: str = Field(default="", sa_type=sa.Text)
    resumed_at: datetime | None = _ts_opt()  # gold accuracy for pausing counts answers after this
    created_at: datetime = _ts()


class Media(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_type=sa.String(64), unique=True, index=True)
    ext: str = Field(sa_type=sa.String(8))
    mime: str = Field(sa_type=sa.String(40))
    width: int = 0
    height: int = 0
    size: int = 0
    thumbnail_ready: bool = Field(default=False)
    # audio and video (labeling/media_info.py): seconds, frames a second, audio channels
    duration: float | None = None
    fps: float | None = None
    channels: int | None = None
    pages: int | None = None  # a PDF's page count (labeling.pdfs); None for images
    created_at: datetime = _ts()


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    status: str = Field(default="done", sa_type=sa.String(20))
    files: list = _json(list)
    task_count: int = 0
    annotation_count: int = 0
    prediction_count: int = 0
    skipped_duplicates: int = 0
    errors: list = _json(list)
    duration: float = 0.0
    job_id: int | None = Field(default=None, foreign_key="job.id")
    # the smallest and largest id of the tasks it made: its tasks are found by that range of
    # task's primary key (task.import_id has no index: each imported task paid a B-tree insert)
    first_task_id: int | None = None
    last_task_id: int | None = None
    created_at: datetime = _ts()


class Task(SQLModel, table=True):
    __table_args__ = (
        # The router's order (labeling/router.py): requeued, priority, started, import order.
        sa.Index("ix_task_route", "project_id", "state", "is_gold", "requeued", "priority", "n_annotations", "id"),
        # an import's dedupe (labeling.imports.bulk.known_hashes); PostgreSQL finds the hashes
        # through the GIN index on data instead (migration 0031, migrations/env.py)
        sa.Index("ix_task_project_hash", "project_id", "content_hash").ddl_if(dialect="sqlite"),
        # the data manager's sorted pages (labeling/dm/table.py), read from either end
        sa.Index("ix_task_project_id", "project_id", "id"),
        sa.Index("ix_task_project_created", "project_id", "created_at", "id"),
        sa.Index("ix_task_project_updated", "project_id", "updated_at", "id"),
        # only tasks made from a file: every reader asks for one media id (text tasks cost nothing)
        sa.Index("ix_task_media_id", "media_id", postgresql_where=sa.text("media_id IS NOT NULL"),
                 sqlite_where=sa.text("media_id IS NOT NULL")),
        # a project's gold tasks (the dashboard's gold accuracy, the gold pages): the route index
        # puts them after every state, so it walked all of a project's tasks to find them
        sa.Index("ix_task_project_gold", "project_id", "id", postgresql_where=sa.text("is_gold"),
                 sqlite_where=sa.text("is_gold")),
        # SQLite only: on PostgreSQL its check (a lookup and lock of the project per task row) was
        # an import's dearest cost after the indexes; an import locks its project once instead
        # and a project's delete waits for it (imports.bulk.write, projects.delete_project;
        # migration 0025, migrations/env.py)
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]).ddl_if(dialect="sqlite"),
    )
    id: int | None = Field(default=None, primary_key=True)
    project_id: int
    data: dict = _json()
    meta: dict = _json()
    state: str = Field(default=TaskState.open, sa_type=sa.String(20))
    priority: float = Field(default=0.0)  # higher first (QC's ActiveLab, leads)
    requeued: bool = Field(default=False)  # sent back by QC for more labels: served first
    target_overlap: int = Field(default=1)  # annotations wanted (project overlap, raised by QC)
    n_annotations: int = Field(default=0)  # submitted, not skipped
    n_skips: int = Field(default=0)
    n_leases: int = Field(default=0)  # live leases, so the router never over-assigns
    is_gold: bool = Field(default=False)
    gold_answer: list | None = Field(default=None, sa_type=sa.JSON)
    final_label: list | None = Field(default=None, sa_type=sa.JSON)
    final_source: str | None = Field(default=None, sa_type=sa.String(20))  # single|consensus|reviewer
    content_hash: str | None = Field(default=None, sa_type=sa.String(64))
    file_name: str | None = Field(default=None, sa_type=sa.String(1024))
    media_id: int | None = Field(default=None, foreign_key="media.id")
    # the import that made the task; no foreign key (its check cost a lookup per imported row):
    # the batch and its tasks belong to one project and are deleted with it; no index either:
    # an import's tasks are read through its id range (ImportBatch.first_task_id, last_task_id)
    import_id: int | None = Field(default=None)
    # the QC finding (label_issue.id) that sent the task to the review queue; no foreign key:
    # label_issue already points at task, and a project is deleted table by table
    review_issue_id: int | None = Field(default=None)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class TaskTally(SQLModel, table=True):
    """Tasks by project, state and gold, kept up to date by database triggers on ``task``
    (migration 0021_scale_tallies; :mod:`labeling.tally`): every statement that inserts, updates
    or deletes tasks appends rows of differences here in its own transaction, whatever the path
    (import COPY, the annotation hot path, QC, curation, deletes). A project's figures are the
    sums of its rows; readers fold the rows into one per key now and then."""

    __tablename__ = "task_tally"
    __table_args__ = (sa.Index("ix_task_tally_project", "project_id", "state", "is_gold"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int  # no foreign key: the rows go with their project's tasks, in any order
    state: str = Field(sa_type=sa.String(20))
    is_gold: bool
    tasks: int = Field(default=0, sa_type=sa.BigInteger)
    requeued: int = Field(default=0, sa_type=sa.BigInteger)  # tasks sent back by QC
    wanted: int = Field(default=0, sa_type=sa.BigInteger)  # sum of target_overlap - n_annotations
    # tasks with a submitted annotation (n_annotations > 0), whatever their state (migration 0028)
    annotated: int = Field(default=0, sa_type=sa.BigInteger)
    # sums of n_annotations and n_skips: the project's submitted and skipped annotations (migration 0030)
    annotations: int = Field(default=0, sa_type=sa.BigInteger)
    skips: int = Field(default=0, sa_type=sa.BigInteger)


class FinalTally(SQLModel, table=True):
    """Labels in the final labels of accepted ordinary tasks, per project, result control and
    result field (``choices``, ``labels``, ``rectanglelabels``; NULL control and field: bare
    strings in the list), kept up to date like :class:`TaskTally`."""

    __tablename__ = "final_tally"
    __table_args__ = (sa.Index("ix_final_tally_project", "project_id", "control", "field"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int
    control: str | None = Field(default=None, sa_type=sa.Text)
    field: str | None = Field(default=None, sa_type=sa.String(20))
    label: str | None = Field(default=None, sa_type=sa.Text)
    n: int = Field(default=0, sa_type=sa.BigInteger)


class TaskEvent(SQLModel, table=True):
    __tablename__ = "task_event"
    # Dashboards (insights/): state changes per period, counted by index range.
    __table_args__ = (sa.Index("ix_task_event_stats", "project_id", "to_state", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    from_state: str | None = Field(default=None, sa_type=sa.String(20))
    to_state: str = Field(sa_type=sa.String(20))
    reason: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _ts(index=True)


class Annotation(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("task_id", "user_id"),
        sa.Index("ix_annotation_project_user", "project_id", "user_id", "created_at"),
        # Dashboards (insights/): counts per period, per annotator, and time-per-item
        # percentiles read in index order (covering indexes).
        sa.Index("ix_annotation_stats_time", "project_id", "was_cancelled", "created_at", "user_id"),
        sa.Index("ix_annotation_stats_user", "project_id", "user_id", "was_cancelled", "lead_time"),
        sa.Index("ix_annotation_stats_lead_time", "project_id", "was_cancelled", "lead_time"),
    )
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    project_id: int = Field(foreign_key="project.id")
    user_id: int = Field(foreign_key="user.id")
    result: list = _json(list)
    was_cancelled: bool = Field(default=False)  # a skip, as Label Studio records it
    skip_reason: str = Field(default="", sa_type=sa.Text)
    lead_time: float | None = None  # seconds the annotator spent
    source: str = Field(default="ui", sa_type=sa.String(20))  # ui|api|import|review
    version: int = Field(default=1)
    # the prediction it started from (Label Studio's parent_prediction): a pre-label, not an
    # independent label; kept when that prediction is deleted (ARCHITECTURE.md, Pre-labels)
    parent_prediction: int | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    draft_created_at: datetime | None = _ts_opt()  # Label Studio's: made from a draft (draft_id), its created_at


class AnnotationVersion(SQLModel, table=True):
    __tablename__ = "annotation_version"
    id: int | None = Field(default=None, primary_key=True)
    annotation_id: int = Field(foreign_key="annotation.id", index=True)
    version: int
    result: list = _json(list)
    was_cancelled: bool = False
    lead_time: float | None = None
    changed_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class Prediction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    result: list = _json(list)
    score: float | None = None
    probs: dict | None = Field(default=None, sa_type=sa.JSON)  # {"label": p}
    model_version: str = Field(default="", sa_type=sa.String(255))
    created_at: datetime = _ts()


class Lease(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("task_id", "user_id"),
        sa.Index("ix_lease_project_user", "project_id", "user_id"),
        sa.Index("ix_lease_expires", "project_id", "expires_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id")
    project_id: int = Field(foreign_key="project.id")
    user_id: int = Field(foreign_key="user.id")
    kind: str = Field(default="annotate", sa_type=sa.String(10))  # annotate|review
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = _ts()


class Job(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_job_status", "status", "heartbeat_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=sa.String(40))
    queue: str = Field(default="default", sa_type=sa.String(20))
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    payload: dict = _json()
    status: str = Field(default=JobStatus.queued, sa_type=sa.String(10))
    progress: float = 0.0
    message: str = Field(default="", sa_type=sa.Text)
    result: dict | None = Field(default=None, sa_type=sa.JSON)
    attempts: int = 0
    claim_token: str | None = Field(default=None, sa_type=sa.String(32))
    # the process running it (labeling.processes.Owner): on its machine, known dead at once
    owner: str | None = Field(default=None, sa_type=sa.String(120))
    created_at: datetime = _ts()
    started_at: datetime | None = _ts_opt()
    heartbeat_at: datetime | None = _ts_opt()
    finished_at: datetime | None = _ts_opt()


class QualityRun(SQLModel, table=True):
    __tablename__ = "quality_run"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="job.id", unique=True)
    status: str = Field(default="done", sa_type=sa.String(20))
    message: str = Field(default="", sa_type=sa.Text)
    n_items: int = 0
    n_issues: int = 0
    model_name: str = Field(default="", sa_type=sa.String(100))
    cv_accuracy: float | None = None
    pred_probs_source: str = Field(default="", sa_type=sa.String(40))  # imported|embedding|features
    noise_rate: float | None = None
    class_names: list = _json(list)
    per_class_noise: dict = _json()
    confident_joint: list = _json(list)
    agreement: dict = _json()
    summary: dict = _json()
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts_opt()


class QCBatch(SQLModel, table=True):
    """A QC run fanned out as one job per cross-validation fold and a gather
    (``quality.run.fanout``): the run's state, so a worker that dies loses nothing and the gather
    is queued once, by the fold that completes the set."""

    __tablename__ = "qc_batch"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    job_id: int = Field(foreign_key="job.id", unique=True)  # the qc job that fanned out
    folder: str = Field(sa_type=sa.String(255))  # under the shared files folder
    n_items: int = 0
    n_folds: int = 0
    folds_done: list = _json(list)
    gather_job_id: int | None = Field(default=None, foreign_key="job.id")
    state: str = Field(default="folding", sa_type=sa.String(20))  # folding | gathering | done | failed
    meta: dict = _json()  # what the gather stores with the run (class names, notes, counts)
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts_opt()


class ProjectAgreement(SQLModel, table=True):
    """Agreement between a project's annotators as the ``agreement`` job computed it from the
    annotations (insights; ARCHITECTURE.md, insights): one row per project, replaced by each run.

    ``n_annotations``, ``last_annotation_id`` and ``last_version_id`` are what the annotations
    were when it was computed (the project's rows, the newest annotation and annotation version
    ids): the dashboard compares them with the annotations now to tell a stale figure.
    """

    __tablename__ = "project_agreement"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", unique=True)
    figures: dict = _json()
    n_annotations: int = 0
    last_annotation_id: int = 0
    last_version_id: int = 0
    seconds: float = 0.0
    computed_at: datetime = _ts()


class LabelIssue(SQLModel, table=True):
    __tablename__ = "label_issue"
    __table_args__ = (sa.Index("ix_label_issue_run_score", "run_id", "is_issue", "score"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="quality_run.id")
    project_id: int = Field(foreign_key="project.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    kind: str = Field(default="label", sa_type=sa.String(20))  # label|outlier|near_duplicate|...
    is_issue: bool = True
    given: Any = Field(default=None, sa_type=sa.JSON)
    suggested: Any = Field(default=None, sa_type=sa.JSON)
    consensus: Any = Field(default=None, sa_type=sa.JSON)
    score: float = 1.0  # label quality: low is bad
    reason: str = Field(default="", sa_type=sa.Text)


class AnnotatorScore(SQLModel, table=True):
    __tablename__ = "annotator_score"
    __table_args__ = (sa.UniqueConstraint("run_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="quality_run.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    n_items: int = 0
    agreement: float | None = None  # with consensus
    quality: float | None = None  # CROWDLAB annotator quality


class ReviewDecision(SQLModel, table=True):
    __tablename__ = "review_decision"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    reviewer_id: int = Field(foreign_key="user.id", index=True)
    label_issue_id: int | None = Field(default=None, foreign_key="label_issue.id")
    level: int = 1  # 1: reviewer, 2: lead audit
    decision: str = Field(sa_type=sa.String(10))  # keep|relabel|exclude|gold
    result: list | None = Field(default=None, sa_type=sa.JSON)
    reason: str = Field(default="", sa_type=sa.Text)
    before: dict = _json()
    after: dict = _json()
    overturns_id: int | None = Field(default=None, foreign_key="review_decision.id")
    undone_at: datetime | None = _ts_opt()
    created_at: datetime = _ts()


class Comment(SQLModel, table=True):
    """Label Studio's task comment (/api/comments): an annotator flags a problem with a task,
    leads and reviewers answer and resolve. ``region`` is labelfab's: the box an annotator drew
    on the labeling page ({"x", "y", "width", "height"} in percent, or None)."""

    __table_args__ = (sa.Index("ix_comment_task_resolved", "task_id", "is_resolved"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    task_id: int = Field(foreign_key="task.id")
    annotation_id: int | None = Field(default=None, foreign_key="annotation.id")
    text: str = Field(sa_type=sa.Text)
    region: dict | None = Field(default=None, sa_type=sa.JSON)
    is_resolved: bool = Field(default=False)
    resolved_at: datetime | None = _ts_opt()
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AnnotationDraft(SQLModel, table=True):
    """Label Studio's ``AnnotationDraft`` (``labeling.drafts``): a user's unsubmitted result for a
    task, or for their changes to an annotation (``annotation_id``): the editor's autosave."""

    __tablename__ = "annotation_draft"
    __table_args__ = (sa.Index("ix_annotation_draft_task_user", "task_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id")
    annotation_id: int | None = Field(default=None, foreign_key="annotation.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    result: list = _json(list)
    lead_time: float | None = None
    was_postponed: bool = Field(default=False)
    import_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class DatasetVersion(SQLModel, table=True):
    __tablename__ = "dataset_version"
    __table_args__ = (sa.UniqueConstraint("project_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    number: int
    sha256: str = Field(sa_type=sa.String(64))
    note: str = Field(default="", sa_type=sa.Text)
    manifest: dict = _json()
    n_items: int = 0
    noise_rate: float | None = None
    path: str = Field(default="", sa_type=sa.String(1024))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class ExportSnapshot(SQLModel, table=True):
    """A project's export as it was at one moment (Label Studio's export snapshot): its Label
    Studio JSON written once to ``path`` (under DATA_DIR), with the options that chose it."""

    __tablename__ = "export_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(default="", sa_type=sa.String(2048))
    status: str = Field(default="created", sa_type=sa.String(20))  # created|in_progress|failed|completed
    md5: str = Field(default="", sa_type=sa.String(32))
    counters: dict = _json()
    task_filter_options: dict = _json()
    annotation_filter_options: dict = _json()
    serialization_options: dict = _json()
    path: str = Field(default="", sa_type=sa.String(1024))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts_opt()


class SplitGeneration(SQLModel, table=True):
    """A project's train/validation/test split rule: the seed and shares that placed its items.
    The first publish starts generation 1; only a lead's re-split starts another."""

    __tablename__ = "split_generation"
    __table_args__ = (sa.UniqueConstraint("project_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    number: int
    seed: int = Field(sa_type=sa.BigInteger)
    ratios: list = _json(list)
    reason: str = Field(default="", sa_type=sa.Text)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class TaskSplit(SQLModel, table=True):
    """The split of one task in one split generation, decided when a version first released it
    and never changed (``stratum``: the labels it was stratified by then)."""

    __tablename__ = "task_split"
    __table_args__ = (sa.UniqueConstraint("project_id", "generation", "task_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    generation: int
    task_id: int = Field(foreign_key="task.id", index=True)
    split: str = Field(sa_type=sa.String(10))
    stratum: str = Field(default="", sa_type=sa.Text)
    version: int  # the dataset version that placed it


class DmView(SQLModel, table=True):
    """A saved Data Manager tab, as Label Studio keeps it: ``data`` holds its title, filters,
    ordering, hiddenColumns and whatever else the front end stores (``labeling.dm.views``)."""

    __tablename__ = "dm_view"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    data: dict = _json()
    order: int | None = Field(default=None, nullable=True)
    selected_items: dict | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# --------------------------------------------------------------------------- ML backends


class MLBackend(SQLModel, table=True):
    """A model server that speaks Label Studio's ML backend protocol (``/health``, ``/setup``,
    ``/predict``, ``/webhook``), connected to a project (``labeling.ml``). ``state`` is Label
    Studio's: CO connected, DI disconnected, ER error, TR training, PR predicting. The basic-auth
    password is stored sealed (``labeling.secretbox``) and never returned."""

    __tablename__ = "ml_backend"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    url: str = Field(sa_type=sa.Text)
    title: str = Field(default="default", sa_type=sa.Text)
    description: str = Field(default="", sa_type=sa.Text)
    is_interactive: bool = Field(default=False)
    auth_method: str = Field(default="NONE", sa_type=sa.String(20))
    basic_auth_user: str = Field(default="", sa_type=sa.Text)
    basic_auth_pass_sealed: str = Field(default="", sa_type=sa.Text)
    extra_params: dict | None = Field(default=None, sa_type=sa.JSON)
    model_version: str = Field(default="", sa_type=sa.Text)
    timeout: float = Field(default=100.0)
    auto_update: bool = Field(default=True)
    state: str = Field(default="DI", sa_type=sa.String(2))
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# --------------------------------------------------------------------------- webhooks


class Webhook(SQLModel, table=True):
    """A URL called when something happens (Label Studio's webhook; ``labeling.webhooks``).
    ``project_id`` null: every project its creator may manage (Label Studio's organisation
    scope). Its headers and signing secret are stored sealed (``labeling.secretbox``)."""

    __tablename__ = "webhook"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    created_by: int = Field(foreign_key="user.id", index=True)
    url: str = Field(sa_type=sa.String(2048))
    send_payload: bool = True
    send_for_all_actions: bool = True
    is_active: bool = True
    actions: list = _json(list)
    headers_sealed: str = Field(default="", sa_type=sa.Text)
    header_names: list = _json(list)
    secret_sealed: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """One event sent to one webhook: the exact body signed and posted, and how its attempts went
    (``status``: pending, retrying, delivered, failed)."""

    __tablename__ = "webhook_delivery"
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    action: str = Field(sa_type=sa.String(64))
    body: str = Field(sa_type=sa.Text)
    status: str = Field(default="pending", sa_type=sa.String(16))
    attempts: int = 0
    response_status: int | None = None
    error: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _ts()
    last_attempt_at: datetime | None = _ts_opt()
    next_attempt_at: datetime | None = _ts_opt()


# --------------------------------------------------------------------------- cloud storages


class Storage(SQLModel, table=True):
    """A project's import or export storage, as Label Studio has them (``labeling.storages``):
    ``kind`` import|export, ``type`` s3|localfiles. The credentials are sealed
    (``labeling.secretbox``) in ``credentials`` and never returned."""

    __tablename__ = "storage"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind: str = Field(sa_type=sa.String(10))  # import | export
    type: str = Field(sa_type=sa.String(20))  # s3 | localfiles
    title: str | None = Field(default=None, sa_type=sa.String(256))
    description: str | None = Field(default=None, sa_type=sa.Text)
    bucket: str | None = Field(default=None, sa_type=sa.Text)
    prefix: str | None = Field(default=None, sa_type=sa.Text)
    path: str | None = Field(default=None, sa_type=sa.Text)  # localfiles
    regex_filter: str | None = Field(default=None, sa_type=sa.Text)
    use_blob_urls: bool = False
    presign: bool = True
    presign_ttl: int = 1  # minutes
    recursive_scan: bool = False
    can_delete_objects: bool | None = None
    region_name: str | None = Field(default=None, sa_type=sa.Text)
    s3_endpoint: str | None = Field(default=None, sa_type=sa.Text)
    credentials: str = Field(default="", sa_type=sa.Text)  # sealed JSON of the aws_* keys
    status: str = Field(default="initialized", sa_type=sa.String(30))
    last_sync: datetime | None = _ts_opt()
    last_sync_count: int | None = None
    last_sync_job: str | None = Field(default=None, sa_type=sa.String(256))
    traceback: str | None = Field(default=None, sa_type=sa.Text)
    meta: dict = _json()
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class StorageImportLink(SQLModel, table=True):
    """A task made by an import storage's sync from one object (``key``; ``row_index`` for the
    rows of a JSON list or JSON Lines object): a later sync never makes it again."""

    __tablename__ = "storage_import_link"
    __table_args__ = (sa.UniqueConstraint("storage_id", "key", "row_index"),)
    id: int | None = Field(default=None, primary_key=True)
    storage_id: int = Field(foreign_key="storage.id", index=True, ondelete="CASCADE")
    task_id: int = Field(foreign_key="task.id", index=True, ondelete="CASCADE")
    key: str = Field(sa_type=sa.Text)
    row_index: int = 0
    created_at: datetime = _ts()


class StorageExportLink(SQLModel, table=True):
    """An annotation an export storage has written (object key: the annotation's id)."""

    __tablename__ = "storage_export_link"
    __table_args__ = (sa.UniqueConstraint("storage_id", "annotation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    storage_id: int = Field(foreign_key="storage.id", index=True, ondelete="CASCADE")
    annotation_id: int = Field(foreign_key="annotation.id", index=True, ondelete="CASCADE")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
