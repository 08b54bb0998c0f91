"""The API's pydantic models: storages (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from web.api.schemas.common import Schema


class StorageProjectQuery(Schema):
    project: int = Field(description="the project")


class StorageType(Schema):
    name: str
    title: str


class StorageBody(Schema):
    """Label Studio's storage fields (those of the storage's type; others are refused). The
    credentials are stored sealed and never returned."""

    project: int | None = Field(None, description="the project (required to create)")
    id: int | None = Field(None, description="validate: the stored storage these fields change")
    title: str | None = Field(None, max_length=256)
    description: str | None = None
    bucket: str | None = None
    prefix: str | None = None
    path: str | None = Field(None, description="localfiles: a folder under LABELFAB_LOCAL_FILES_DOCUMENT_ROOT")
    regex_filter: str | None = Field(None, max_length=1000)
    use_blob_urls: bool | None = None
    presign: bool | None = None
    presign_ttl: int | None = Field(None, ge=1, le=32767, description="minutes")
    recursive_scan: bool | None = None
    can_delete_objects: bool | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    region_name: str | None = None
    s3_endpoint: str | None = None


class Storage(Schema):
    """A storage as Label Studio answers it, without the credentials (``has_credentials``)."""

    id: int
    type: str
    project: int
    title: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    last_sync: datetime | None = None
    last_sync_count: int | None = None
    last_sync_job: str | None = None
    status: str
    traceback: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    synchronizable: bool = True
    regex_filter: str | None = None
    use_blob_urls: bool = False
    bucket: str | None = None
    prefix: str | None = None
    path: str | None = None
    region_name: str | None = None
    s3_endpoint: str | None = None
    has_credentials: bool | None = None
    presign: bool | None = None
    presign_ttl: int | None = None
    recursive_scan: bool | None = None
    can_delete_objects: bool | None = None
