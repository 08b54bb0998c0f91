"""Storages as rows: Label Studio's fields, checked on save, kept with sealed credentials, and
the JSON Label Studio answers with (minus the credentials: labelfab never returns them).

A storage is ``(kind, type)``: ``import`` or ``export``, ``s3`` or ``localfiles``. Only a
project's leads and admins may see or change its storages (access action ``manage``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import secretbox
from labeling.access import require_project
from labeling.db import read_session, write_session
from labeling.errors import DomainError, NotFound
from labeling.limits import MAX_ID
from labeling.models import Storage, StorageExportLink, StorageImportLink, User

KINDS = ("import", "export")
TYPES = ("s3", "localfiles")
#: the credential fields of an S3 storage: sealed, never returned
SECRET_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
MAX_TEXT = 4096
MAX_REGEX = 1000

_COMMON = {"title", "description", "regex_filter", "use_blob_urls"}
WRITABLE: dict[tuple[str, str], set[str]] = {
    ("import", "s3"): _COMMON | {"bucket", "prefix", "presign", "presign_ttl", "recursive_scan", "region_name",
                                 "s3_endpoint", *SECRET_FIELDS},
    ("export", "s3"): _COMMON | {"bucket", "prefix", "region_name", "s3_endpoint", "can_delete_objects",
                                 *SECRET_FIELDS},
    ("import", "localfiles"): _COMMON | {"path"},
    ("export", "localfiles"): _COMMON | {"path", "can_delete_objects"},
}
#: keys a client may send back as it read them (or the SDK sends) that change nothing
IGNORED = {"id", "type", "project", "created_at", "last_sync", "last_sync_count", "last_sync_job", "status",
           "traceback", "meta", "synchronizable", "aws_sse_kms_key_id", "has_credentials"}


class StorageError(DomainError):
    """A storage that cannot be saved or reached: 400 with the field, as Label Studio answers."""

    status = 400


def bad(field: str | None, detail: str) -> StorageError:
    return StorageError(detail, [{"field": field, "detail": detail}])


def check_kind(kind: str, type_: str) -> None:
    if kind not in KINDS or type_ not in TYPES:
        raise NotFound(f"no {kind} storage of type {type_!r}")


def _text(body: dict, key: str, limit: int = MAX_TEXT) -> str | None:
    value = body[key]
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise bad(key, f"{key} must be text of at most {limit} characters")
    if "\x00" in value:
        raise bad(key, f"{key} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad(key, f"{key} must be valid Unicode text (no lone surrogates)") from None
    return value


def _flag(body: dict, key: str) -> bool | None:
    value = body[key]
    if value is not None and not isinstance(value, bool):
        raise bad(key, f"{key} must be true or false")
    return value


def clean_fields(kind: str, type_: str, body: Any) -> dict[str, Any]:
    """The writable fields of ``body``, each checked; unknown fields are refused."""
    if not isinstance(body, dict):
        raise bad(None, "send a JSON object")
    allowed = WRITABLE[(kind, type_)]
    unknown = sorted(set(body) - allowed - IGNORED)
    if unknown:
        raise StorageError(f"unknown field(s) of a {type_} {kind} storage: {', '.join(unknown)}",
                           [{"field": k, "detail": "unknown field"} for k in unknown])
    out: dict[str, Any] = {}
    for key in sorted(allowed & set(body)):
        if key in ("use_blob_urls", "presign", "recursive_scan", "can_delete_objects"):
            value = _flag(body, key)
            if value is None and key != "can_delete_objects":
                continue
            out[key] = value
        elif key == "presign_ttl":
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32767:
                raise bad(key, "presign_ttl is a number of minutes from 1 to 32767")
            out[key] = value
        elif key == "title":
            out[key] = _text(body, key, 256)
        elif key == "regex_filter":
            value = _text(body, key, MAX_REGEX)
            if value:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise bad(key, f"regex_filter is not a regular expression: {exc}") from None
            out[key] = value
        else:
            out[key] = _text(body, key)
    return out


def project_field(body: Any) -> int:
    project_id = body.get("project") if isinstance(body, dict) else None
    if isinstance(project_id, bool) or not isinstance(project_id, int) or not 0 < project_id <= MAX_ID:
        raise bad("project", "give the project (its id)")
    return project_id


# --------------------------------------------------------------------------- credentials


def credentials(storage: Storage) -> dict[str, str]:
    """The storage's credentials, unsealed (just before a call to the storage)."""
    if not storage.credentials:
        return {}
    return json.loads(secretbox.unseal(storage.credentials))


def set_credentials(storage: Storage, fields: dict[str, Any]) -> None:
    """Seal the credential fields given (an empty value removes one); the others are kept."""
    given = {k: fields.pop(k) for k in SECRET_FIELDS if k in fields}
    if not given:
        return
    current = credentials(storage) if storage.credentials else {}
    for key, value in given.items():
        if value:
            current[key] = value
        else:
            current.pop(key, None)
    if bool(current.get("aws_access_key_id")) != bool(current.get("aws_secret_access_key")):
        missing = "aws_secret_access_key" if current.get("aws_access_key_id") else "aws_access_key_id"
        raise bad(missing, "Access Key ID and Secret Access Key must be provided together.")
    storage.credentials = secretbox.seal(json.dumps(current, sort_keys=True)) if current else ""


# --------------------------------------------------------------------------- the JSON answered


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def storage_json(storage: Storage) -> dict[str, Any]:
    """Label Studio's storage JSON; the credentials are left out (``has_credentials`` says
    whether some are stored)."""
    out: dict[str, Any] = {
        "id": storage.id,
        "type": storage.type,
        "synchronizable": True,
        "title": storage.title,
        "description": storage.description,
        "created_at": _iso(storage.created_at),
        "last_sync": _iso(storage.last_sync),
        "last_sync_count": storage.last_sync_count,
        "last_sync_job": storage.last_sync_job,
        "status": storage.status,
        "traceback": storage.traceback,
        "meta": storage.meta or {},
        "regex_filter": storage.regex_filter,
        "use_blob_urls": storage.use_blob_urls,
        "project": storage.project_id,
    }
    if storage.type == "s3":
        out.update({"bucket": storage.bucket, "prefix": storage.prefix, "region_name": storage.region_name,
                    "s3_endpoint": storage.s3_endpoint, "has_credentials": bool(storage.credentials),
                    # Label Studio's server-side encryption key id: labelfab sets none (its default)
                    "aws_sse_kms_key_id": None})
        if storage.kind == "import":
            out.update({"presign": storage.presign, "presign_ttl": storage.presign_ttl,
                        "recursive_scan": storage.recursive_scan})
    else:
        out["path"] = storage.path
    if storage.kind == "export":
        out["can_delete_objects"] = storage.can_delete_objects
    return out


# --------------------------------------------------------------------------- rows


def load(s: Session, user: User, kind: str, type_: str, storage_id: int, *, lock: bool = False) -> Storage:
    """A storage the user manages (NotFound otherwise: ids are not probed)."""
    check_kind(kind, type_)
    if isinstance(storage_id, bool) or not isinstance(storage_id, int) or not 0 < storage_id <= MAX_ID:
        raise NotFound(f"{type_} {kind} storage {storage_id} not found")
    q = select(Storage).where(Storage.id == storage_id, Storage.kind == kind, Storage.type == type_)
    if lock:
        q = q.with_for_update()
    storage = s.exec(q).first()
    if storage is None:
        raise NotFound(f"{type_} {kind} storage {storage_id} not found")
    try:
        require_project(s, user, storage.project_id, "manage")
    except DomainError:
        raise NotFound(f"{type_} {kind} storage {storage_id} not found") from None
    return storage


def list_storages(user: User, project_id: int, kind: str, type_: str | None = None) -> list[Storage]:
    """A project's storages of one kind (and type), oldest first."""
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        q = select(Storage).where(Storage.project_id == project_id, Storage.kind == kind)
        if type_ is not None:
            check_kind(kind, type_)
            q = q.where(Storage.type == type_)
        return list(s.exec(q.order_by(Storage.id)))


def get_storage(user: User, kind: str, type_: str, storage_id: int) -> Storage:
    with read_session() as s:
        return load(s, user, kind, type_, storage_id)


def delete_storage(user: User, kind: str, type_: str, storage_id: int) -> None:
    """Delete a storage and its links (the tasks and objects it made stay, as in Label Studio)."""
    with write_session() as s:
        storage = load(s, user, kind, type_, storage_id, lock=True)
        s.execute(sa.delete(StorageImportLink).where(StorageImportLink.storage_id == storage.id))
        s.execute(sa.delete(StorageExportLink).where(StorageExportLink.storage_id == storage.id))
        s.execute(sa.delete(Storage).where(Storage.id == storage.id))
