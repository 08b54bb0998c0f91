"""``s3://`` URIs in task data, turned into pre-signed URLs when a task is served (Label Studio
resolves them at serving time too). :func:`url_resolver` gives the function that
:func:`labeling.wire.task_json` applies to a task's data (``urls=``) for one project, or None
when the project has no S3 import storage: a URI is resolved by the project's import storage
of that bucket, with its credentials and ``presign_ttl``; other values are left as they are.
Stored data never changes: exports keep the ``s3://`` URIs, as Label Studio's do.
:func:`storage_filenames` gives the object each task came from (Label Studio's ``storage_filename``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlmodel import Session, select

from labeling.errors import DomainError
from labeling.models import Storage, StorageImportLink
from labeling.storages import s3

Resolver = Callable[[Any], Any]

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


def url_resolver(s: Session, project_id: int) -> Resolver | None:
    """The resolver of a project's task data (read in the caller's session), or None."""
    storages = list(s.exec(select(Storage).where(Storage.project_id == project_id, *RESOLVING).order_by(Storage.id)))
    if not storages:
        return None
    by_bucket: dict[str, Storage] = {}
    for st in storages:
        if st.bucket:
            by_bucket.setdefault(st.bucket, st)

    def one(uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        storage = by_bucket.get(bucket)
        if storage is None or not key:
            return uri
        try:
            return s3.presigned_url(storage, key)
        except (DomainError, BotoCoreError, ClientError):
            return uri  # credentials unreadable or refused: the URI stays, the page shows it missing

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            return s3.URI.sub(lambda m: one(m.group(0)), value) if "s3://" in value else value
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return resolve
