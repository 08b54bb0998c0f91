"""The API's pydantic models: projects and tasks (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from web.api.schemas.common import Schema


class ProjectBody(Schema):
    """A Label Studio project body; Label Studio's keys labelfab has no setting for are accepted and
    ignored, other unknown keys refused (422)."""

    title: str | None = None
    label_config: str | None = Field(None, description="Label Studio XML (required to create)")
    description: str | None = None
    expert_instruction: str | None = Field(None, description="Label Studio's name for instructions")
    show_instruction: bool | None = Field(None, description="open the instructions before an annotator labels")
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
        None, ge=0.5, le=0.99, description="the precision QC aims at when it flags wrong labels; null: as many flags as labels estimated wrong")


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


RESOLVE_URI = ("false: task data as stored (s3:// URIs of import storages kept); true, the default: "
               "Label Studio's /tasks/ID/resolve/ proxy URLs")


class TasksQuery(Schema):
    project: int | None = Field(None, description="the project (a view alone names its own)")
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
    resolve_uri: bool = Field(True, description=RESOLVE_URI)


class ProjectTasksQuery(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1)
    state: str | None = None
    search: str | None = None
    q: str | None = None
    fields: Literal["all", "task_only"] | None = None
    resolve_uri: bool = Field(True, description=RESOLVE_URI)


class TaskQuery(Schema):
    resolve_uri: bool = Field(True, description=RESOLVE_URI)


class TaskBody(Schema):
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    priority: float | None = None


class MemberBody(Schema):
    user: int | str | None = Field(None, description="a user id or email (also user_id, email)")
    role: Literal["lead", "reviewer", "annotator"] = "annotator"
