"""The API's pydantic models: common answers (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


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
    active_organization_meta: dict[str, Any] | None = None
    allow_newsletters: bool | None = None
    date_joined: datetime | None = None
    role: str
    is_active: bool


class Hotkeys(Schema):
    custom_hotkeys: dict[str, dict[str, Any]] = Field(
        description='{"section:action": {"key": "ctrl+enter", "active": true}}: at most 200')


class UserToken(Schema):
    token: str = Field(description="an API key: send it as 'Authorization: Token <key>'")


class WhoAmI(User):
    permissions: list[str] = Field(default_factory=list, description="Label Studio's permission names the "
                                   "caller's role holds (a project membership may add to them there)")
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
