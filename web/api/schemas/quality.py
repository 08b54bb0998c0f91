"""The API's pydantic models: quality and review (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from quality.kinds import ISSUE_KINDS
from web.api.schemas.common import Job, Schema


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
    model_name: str | None = Field(None, description="the model (or model zoo choice) that scored the run")
    cv_accuracy: float | None = Field(None, description="the model's cross-validated accuracy")
    pred_probs_source: str | None = Field(None, description="imported, embedding or features")
    noise_rate: float | None
    class_names: list[Any] = Field(default_factory=list, description="the classes, in the order of the matrices")
    per_class_noise: dict[str, Any] = Field(default_factory=dict, description="estimated noise per class")
    confident_joint: list[Any] = Field(default_factory=list, description="cleanlab's confident joint, given x true")
    agreement: dict[str, Any] = Field(default_factory=dict, description="the annotators' agreement per control")
    summary: dict[str, Any] = Field(default_factory=dict, description="what the run did: model selection, "
                                    "precision, findings by kind")
    created_at: datetime
    finished_at: datetime | None
    annotators: list[dict[str, Any]] | None = Field(None, description="annotator scores (one run only)")


class LabelIssuesQuery(Schema):
    run: int | None = None
    kind: Literal[ISSUE_KINDS] | None = None  # quality.policy.ISSUE_KINDS
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
    objects: list[dict[str, Any]] = Field(default=[], description="every object of the config: name, tag, data key")
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
