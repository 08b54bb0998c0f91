"""The API's pydantic models: webhooks (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from web.api.schemas.common import Schema


class WebhooksQuery(Schema):
    project: str | None = Field(None, description="a project id, or isnull: organisation-wide webhooks only")


class WebhookInfoQuery(Schema):
    organization_only: bool | None = Field(None, alias="organization-only",
                                           description="only the organisation-only events, or only the others")


class WebhookBody(Schema):
    """Label Studio's webhook body (``project`` is read-only once made)."""
    url: str | None = Field(None, description="http or https; a private address is refused", max_length=2048)
    project: int | None = Field(None, description="the project; null: every project the creator manages")
    send_payload: bool | None = None
    send_for_all_actions: bool | None = None
    headers: dict[str, str] | None = Field(None, description="at most 10 extra headers, stored sealed")
    is_active: bool | None = None
    actions: list[str] | None = Field(None, description="the events when send_for_all_actions is false")


class Webhook(Schema):
    """Label Studio's ``Webhook``; header values are masked, ``secret`` only in the create answer."""
    id: int
    organization: int | None = None
    project: int | None
    url: str
    send_payload: bool
    send_for_all_actions: bool
    headers: dict[str, str]
    is_active: bool
    actions: list[str]
    created_at: datetime
    updated_at: datetime
    created_by: int | None = None
    secret: str | None = Field(None, description="the signing secret, in the create answer only")


class WebhookAction(Schema):
    name: str
    description: str
    key: str
    organization_only: bool = Field(alias="organization-only")


class DeliveriesQuery(Schema):
    limit: int = Field(50, ge=1, le=200)


class WebhookDelivery(Schema):
    id: int
    webhook: int
    action: str
    status: Literal["pending", "retrying", "delivered", "failed"]
    attempts: int
    response_status: int | None
    error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
