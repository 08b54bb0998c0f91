"""The API's pydantic models: ML backends (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from web.api.schemas.common import Schema


class MLBackend(Schema):
    """An ML backend as Label Studio's ``MLBackendSerializer`` answers (the password never)."""

    id: int
    state: Literal["CO", "DI", "ER", "TR", "PR"]
    readable_state: str
    is_interactive: bool
    url: str
    error_message: str | None = None
    title: str | None = None
    auth_method: Literal["NONE", "BASIC_AUTH"]
    basic_auth_user: str | None = None
    basic_auth_pass_is_set: bool
    description: str | None = None
    extra_params: dict[str, Any] | None = None
    model_version: str | None = None
    timeout: float
    created_at: datetime
    updated_at: datetime
    auto_update: bool
    project: int


class MLBackendBody(Schema):
    url: str | None = Field(None, description="the model server (required on create)")
    project: int | None = Field(None, description="the project (required on create)")
    title: str | None = None
    description: str | None = None
    is_interactive: bool | None = None
    auth_method: Literal["NONE", "BASIC_AUTH"] | None = None
    basic_auth_user: str | None = None
    basic_auth_pass: str | None = Field(None, description="stored sealed, never returned")
    extra_params: dict[str, Any] | None = None
    timeout: float | None = None
    model_version: str | None = None
    auto_update: bool | None = None


class MLBackendsQuery(Schema):
    project: int
    is_interactive: bool | None = None


class MLTrainBody(Schema):
    use_ground_truth: bool | None = None


class MLTrainAnswer(Schema):
    job: int = Field(description="labelfab: the ml_train job that posts START_TRAINING to the server")


class MLVersions(Schema):
    versions: list[str | None]
    message: str | None = None


class MLInteractiveBody(Schema):
    task: int
    context: dict[str, Any] | None = None


class MLInteractiveAnswer(Schema):
    data: Any = None
    errors: list[str] | None = None
