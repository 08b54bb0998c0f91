"""The API's pydantic models: Data Manager (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from web.api.schemas.common import Schema


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
    id: str = Field(description="the action: delete_tasks, delete_tasks_annotations, delete_tasks_predictions, "
                                "retrieve_tasks_predictions; "
                                "labelfab's send_to_review, reopen, accept, exclude, include, mark_gold, "
                                "unmark_gold")
    project: int
    view: int | None = Field(None, description="a view whose query selects the tasks (before the body's)")


class DmActionBody(Schema):
    filters: dict[str, Any] | None = None
    ordering: list[str] | None = None
    selectedItems: dict[str, Any] | None = None  # noqa: N815 (Label Studio's key)
    reason: str | None = Field(None, max_length=2000, description="labelfab's acts: kept in each task's event")
    more: int | None = Field(None, ge=1, le=50, description="reopen: how many more annotators")


class DmRefusal(Schema):
    id: int
    state: str
    detail: str


class DmActionResult(Schema):
    processed_items: int
    detail: str | None = None
    reload: bool | None = None
    refused: int | None = Field(None, description="labelfab's acts: tasks that could not make the move")
    refusals: list[DmRefusal] | None = Field(None, description="the first 100 of them, with why")
