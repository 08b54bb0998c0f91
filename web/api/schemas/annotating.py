"""The API's pydantic models: annotating (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from labeling.wire import Annotation, Task
from web.api.schemas.common import Schema


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
    draft_id: int | None = Field(None, ge=1, description="the caller's draft of the task it was made from: "
                                 "deleted once the annotation is stored")


class DraftBody(Schema):
    result: list[dict[str, Any]] = Field(description="the result so far (required on creation)")
    lead_time: float | None = Field(None, ge=0)
    was_postponed: bool | None = Field(None, description="the annotator moved on without submitting")
    import_id: int | None = Field(None, ge=1)


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
    media: dict[str, Any] | None = Field(None, description="facts read at import of the task's audio or video file "
                                         "(duration, fps, width, height, channels, mime), else null")
    lease: dict[str, Any] | None
    counters: Counters
    prefetch: bool


class Previous(Schema):
    annotation: Annotation | None
    task: Task | None
    editable: bool | None = None


class CsrfToken(Schema):
    csrf_token: str


class TimeSeriesData(Schema):
    """What a TimeSeries plots: ``x`` the time axis as numbers (milliseconds since 1970 with a
    ``timeFormat``), ``keys`` the same points as region ``start``/``end`` store them, the
    values of each channel (null where a cell is no number)."""

    name: str
    x: list[float]
    keys: list[float | str]
    channels: dict[str, list[float | None]]
