"""``s3://`` URIs in task data, served as Label Studio 1.23 serves them: through its resolve
proxy. :func:`url_resolver` gives the function that :func:`labeling.wire.task_json` applies to
a task's data (``urls=``) for one project, or None when the project has no S3 import storage:
a URI of a bucket one of the project's import storages reads becomes
``{LABELFAB_PUBLIC_URL}/tasks/ID/resolve/?fileuri=<the URI in URL-safe base64>``; other values
are left as they are. :func:`open_uri` answers that URL (and Label Studio's older
``/tasks/ID/presign/``): for a user who may view the task, and only for a URI its data holds,
a redirect to a pre-signed URL valid for the storage's ``presign_ttl`` (``presign`` on, the
default), or the object's bytes relayed by the server (``presign`` off: the bucket is never
exposed; and always for the app's own pages, signed in by their session, whose
Content-Security-Policy loads images and media from the app's origin alone). Stored data never
change: exports keep the ``s3://`` URIs, as Label Studio's do.
:func:`storage_filenames` gives the object each task came from (Label Studio's ``storage_filename``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlmodel import Session, select

from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import NotFound
from labeling.models import Storage, StorageImportLink, Task, User
from labeling.settings import get_settings
from labeling.storages import s3

#: ``resolve(data, task_id)``: a task's data as sent.
Resolver = Callable[[Any, int], Any]

#: The object keys of some tasks (``ids``), built once (a task list runs it on every page).
_KEYS = (sa.select(StorageImportLink.task_id, StorageImportLink.key)
         .where(StorageImportLink.task_id.in_(sa.bindparam("ids", expanding=True)))
         .order_by(StorageImportLink.id))


def storage_filenames(s: Session, task_ids: list[int]) -> dict[int, str]:
    """Label Studio's ``storage_filename`` of each task an import storage made: the key of its
    object (one query; tasks made otherwise are absent)."""
    if not task_ids:
        return {}
    out: dict[int, str] = {}
    for task_id, key in s.execute(_KEYS, {"ids": list(task_ids)}):
        out.setdefault(task_id, key)
    return out


#: The storages whose URIs :func:`url_resolver` resolves (the router asks whether a project has
#: any in its access query, and skips the resolver's query when it has none).
RESOLVING = (Storage.kind == "import", Storage.type == "s3")


def _import_storages(s: Session, project_id: int) -> dict[str, Storage]:
    """A project's S3 import storages by bucket (the first made, when several read one bucket)."""
    by_bucket: dict[str, Storage] = {}
    for st in s.exec(select(Storage).where(Storage.project_id == project_id, *RESOLVING).order_by(Storage.id)):
        if st.bucket:
            by_bucket.setdefault(st.bucket, st)
    return by_bucket


def _uris(value: Any) -> set[str]:
    """The ``s3://`` URIs a task's data holds (in any string, at any depth)."""
    if isinstance(value, str):
        return set(s3.URI.findall(value))
    found: set[str] = set()
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        found |= _uris(item)
    return found


def url_resolver(s: Session, project_id: int) -> Resolver | None:
    """The resolver of a project's task data (read in the caller's session), or None."""
    buckets = set(_import_storages(s, project_id))
    if not buckets:
        return None
    base = get_settings().public_url.rstrip("/")

    def one(uri: str, task_id: int) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket not in buckets or not key:
            return uri
        return f"{base}/tasks/{task_id}/resolve/?fileuri={base64.urlsafe_b64encode(uri.encode()).decode()}"

    def resolve(value: Any, task_id: int) -> Any:
        if isinstance(value, str):
            return s3.URI.sub(lambda m: one(m.group(0), task_id), value) if "s3://" in value else value
        if isinstance(value, dict):
            return {k: resolve(v, task_id) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, task_id) for v in value]
        return value

    return resolve


@dataclass(frozen=True)
class Redirect:
    """Where the object is fetched from (a pre-signed URL) and how long that URL holds."""

    url: str
    max_age: int


def _decode(fileuri: str) -> str:
    """``fileuri`` as Label Studio reads it: URL-safe base64, else the URI itself, quoted or not
    (label-studio-sdk's ``get_local_path`` sends ``s3://...`` as it is)."""
    if "://" in fileuri:
        return fileuri
    try:
        return base64.urlsafe_b64decode(fileuri.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return unquote(fileuri)


def open_uri(user: User, task_id: int, fileuri: str, *, relay: bool = False,
             range_header: str | None = None) -> Redirect | s3.ObjectStream:
    """The object behind a task's ``s3://`` URI for a user who may view the task: a redirect to
    a pre-signed URL (the storage's ``presign``, Label Studio's default), or its bytes relayed
    (``presign`` off, or ``relay``: the app's own pages, whose Content-Security-Policy loads
    media from the app's origin alone). Only URIs the task's data holds are served, so the
    route never reads the rest of a bucket; anything else is NotFound."""
    uri = _decode(fileuri)
    with read_session() as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        require_project(s, user, task.project_id, "view")
        storage = _import_storages(s, task.project_id).get(uri.removeprefix("s3://").partition("/")[0])
        if storage is None or uri not in _uris(task.data):
            raise NotFound(f"task {task_id} has no file {uri[:200]!r} in a storage of its project")
        s.expunge(storage)
    key = uri.removeprefix("s3://").partition("/")[2]
    if storage.presign and not relay:
        try:
            return Redirect(s3.presigned_url(storage, key), storage.presign_ttl * 60)
        except (BotoCoreError, ClientError) as exc:
            raise NotFound(f"{uri[:200]}: cannot sign a URL ({type(exc).__name__})") from None  # as Label Studio
    return s3.open_object(storage, key, range_header=range_header)
