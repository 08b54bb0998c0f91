"""Saving, checking and syncing storages (the operations behind ``/api/storages/...``).

- ``create_storage``, ``update_storage``, ``validate_storage``: Label Studio's fields checked,
  the endpoint checked by :func:`labeling.outbound.check_url`, credentials sealed, and the
  connection tried (as Label Studio's serializer does) before anything is saved.
- ``sync_import``: every object not synced before becomes tasks, through the import path
  (:func:`labeling.imports.import_items`: every row checked against the label config, one
  transaction that also writes the links, so an object is never imported twice). A JSON object
  is one task, a JSON list or a JSON Lines object one task per row; with ``use_blob_urls`` each
  object is one task whose data field points at it (``s3://bucket/key``; a local file is stored
  as media, an image being the one blob a labelfab task takes from a file).
- ``sync_export``: every annotation of the project written as one object (key: the annotation's
  id, Label Studio's JSON), and the files of every published dataset version not written yet.

A sync runs in the request, as Label Studio's does without a job queue; the storage's ``status``
goes ``in_progress`` then ``completed``, ``completed_with_errors`` (rows skipped, listed in
``traceback``) or ``failed``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlmodel import Session, select

from labeling import wire
from labeling.access import require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, DomainError, Invalid
from labeling.imports import ImportResult, import_items
from labeling.imports.formats import RawItem, file_kind, parse_text
from labeling.models import (
    Annotation,
    DatasetVersion,
    Storage,
    StorageExportLink,
    StorageImportLink,
    Task,
    User,
)
from labeling.schema import schema_of
from labeling.settings import get_settings
from labeling.storages import common, localfiles, s3
from labeling.storages.common import StorageError, bad
from labeling.users import usernames

_TYPES = {"s3": s3, "localfiles": localfiles}
_CHUNK = 500
MAX_ERRORS = 100


def _module(type_: str):
    return _TYPES[type_]


def _apply(storage: Storage, fields: dict[str, Any]) -> None:
    common.set_credentials(storage, fields)
    for key, value in fields.items():
        setattr(storage, key, value)


def _prepare(user: User, kind: str, type_: str, body: Any, storage_id: int | None) -> Storage:
    """The storage as it would be saved (not saved), its fields and connection checked."""
    common.check_kind(kind, type_)
    if kind == "export" and type_ != "s3":
        raise Invalid("export storages are S3 storages")
    with read_session() as s:  # who may, first
        if storage_id is not None:
            storage = common.load(s, user, kind, type_, storage_id)
            s.expunge(storage)
        else:
            project_id = common.project_field(body)
            require_project(s, user, project_id, "manage")
            storage = Storage(project_id=project_id, kind=kind, type=type_, created_by=user.id)
    fields = common.clean_fields(kind, type_, body)
    _module(type_).check_fields(fields)
    _apply(storage, fields)
    _module(type_).validate_connection(storage)
    return storage


def validate_storage(user: User, kind: str, type_: str, body: Any) -> None:
    """Label Studio's ``POST .../validate``: the fields and the connection checked, nothing saved
    (with ``id``, the stored storage with the fields given)."""
    storage_id = body.get("id") if isinstance(body, dict) else None
    if storage_id is not None and (isinstance(storage_id, bool) or not isinstance(storage_id, int)):
        raise bad("id", "id must be a storage id")
    _prepare(user, kind, type_, body, storage_id)


def create_storage(user: User, kind: str, type_: str, body: Any) -> Storage:
    """Save a storage; an export storage is synced at once (Label Studio's default,
    ``SYNC_ON_TARGET_STORAGE_CREATION``): a failed sync leaves it saved with status ``failed``."""
    storage = _prepare(user, kind, type_, body, None)
    with write_session() as s:
        s.add(storage)
        s.flush()
        s.refresh(storage)
    if kind == "export":
        try:
            return sync_export(user, type_, storage.id)
        except DomainError:  # recorded on the storage (status, traceback), as Label Studio's job does
            return common.get_storage(user, kind, type_, storage.id)
    return storage


def update_storage(user: User, kind: str, type_: str, storage_id: int, body: Any) -> Storage:
    prepared = _prepare(user, kind, type_, body, storage_id)
    with write_session() as s:
        storage = common.load(s, user, kind, type_, storage_id, lock=True)
        for column in Storage.__table__.columns.keys():
            if column not in ("id", "project_id", "kind", "type", "created_at", "created_by"):
                setattr(storage, column, getattr(prepared, column))
        s.flush()
        return storage


# --------------------------------------------------------------------------- status


def _set(storage_id: int, **values: Any) -> None:
    with write_session() as s:
        s.execute(sa.update(Storage).where(Storage.id == storage_id).values(**values))


def _start(user: User, kind: str, type_: str, storage_id: int) -> Storage:
    with write_session() as s:
        storage = common.load(s, user, kind, type_, storage_id, lock=True)
        # Label Studio's meta: a sync runs as soon as asked, so it is queued, starts and is last
        # seen alive at the same moment
        now = _stamp(utcnow())
        meta = dict(storage.meta or {})
        meta.update(attempts=int(meta.get("attempts", 0)) + 1, time_queued=now, time_in_progress=now,
                    time_last_ping=now)
        storage.status, storage.traceback, storage.meta = "in_progress", None, meta
        s.flush()
        s.expunge(storage)
        return storage


def _stamp(moment: datetime) -> str:
    """A time in Label Studio's storage meta: ``str()`` of an aware datetime."""
    return str(moment)


def _ended(storage: Storage, key: str, **more: Any) -> dict[str, Any]:
    """The storage's meta at the end of a sync: ``key`` (``time_completed``, ``time_failure``)
    now and the ``duration`` since it started, in seconds, as Label Studio writes them."""
    now = utcnow()
    meta = dict(storage.meta or {})
    started = datetime.fromisoformat(meta["time_in_progress"]) if meta.get("time_in_progress") else now
    duration = (now - (started if started.tzinfo is not None else started.replace(tzinfo=UTC))).total_seconds()
    meta.update({key: _stamp(now), "duration": duration, **more})
    return meta


def _failed(storage: Storage, detail: str) -> None:
    _set(storage.id, status="failed", traceback=detail[:65536], meta=_ended(storage, "time_failure"))


# --------------------------------------------------------------------------- import


def _data_key(project_id: int) -> str | None:
    """The task field a blob goes to (Label Studio's ``$undefined$``, resolved to the config's
    object): the Image's value, or the config's only data field."""
    with read_session() as s:
        from labeling.models import Project

        schema = schema_of(s.get(Project, project_id))
    image = next((o.value_key for o in schema.objects.values() if o.tag == "Image"), None)
    keys = sorted(schema.data_keys)
    return image or (keys[0] if keys else None)


def _items(storage: Storage, key: str, data_key: str | None) -> list[RawItem]:
    """The rows of one object (with ``row`` numbering its rows from 1)."""
    mod = _module(storage.type)
    if storage.use_blob_urls:
        if storage.type == "s3":
            if data_key is None:
                raise bad("use_blob_urls", "the label config reads no data field to point at the objects")
            return [RawItem(row=1, file=key, data={data_key: s3.uri(storage, key)}, file_name=key)]
        return [RawItem(row=1, file=key, image_path=Path(key), file_name=Path(key).name)]
    limit = get_settings().max_upload_bytes
    raw = mod.read(storage, key, limit=limit)
    kind = file_kind(key, raw[:1024])
    if kind not in ("json", "jsonl"):
        raise bad(None, f'Error loading JSON from file "{key}". If you\'re trying to import non-JSON data '
                        '(images, audio, text, etc.), edit storage settings and enable "Tasks" import method')
    if kind == "json" and raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        raw = b"[" + raw + b"]"  # one object is one task, its data or a whole Label Studio task
    return parse_text(key, kind, raw, key)


def sync_import(user: User, type_: str, storage_id: int) -> Storage:
    """Make tasks of every object the storage has not synced yet (see the module's docstring)."""
    storage = _start(user, "import", type_, storage_id)
    try:
        data_key = _data_key(storage.project_id)
        with read_session() as s:
            done = set(s.exec(select(StorageImportLink.key).where(StorageImportLink.storage_id == storage.id)))
        keys = [k for k in _module(type_).iter_keys(storage) if k not in done]
        items: list[RawItem] = []
        origins: list[tuple[str, int]] = []
        problems: list[str] = []
        for key in keys:
            try:
                rows = _items(storage, key, data_key)
            except (DomainError, OSError, BotoCoreError, ClientError) as exc:
                problems.append(f"{key}: {getattr(exc, 'detail', None) or exc}")
                continue
            for index, item in enumerate(rows):
                items.append(item)
                origins.append((key, index))
        count = 0
        if items:
            result = import_items(user, storage.project_id, items, files=[f"storage {storage.id}"],
                                  on_commit=lambda s, r: _link_tasks(s, storage.id, origins, r))
            count = result.task_count
            problems += [f"{e.get('file')}, row {e.get('row')}: {e.get('detail')}" for e in result.errors]
    except sa.exc.IntegrityError:
        _failed(storage, "another sync of this storage ran at the same time")
        raise Conflict("another sync of this storage ran at the same time") from None
    except (DomainError, BotoCoreError, ClientError, OSError) as exc:
        _failed(storage, getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}")
        if isinstance(exc, DomainError):
            raise
        raise StorageError(f"{type_} storage {storage.id}: {type(exc).__name__}: {exc}") from None
    meta = _ended(storage, "time_completed", tasks_existed=len(done), tasks_failed_validation=len(problems))
    _set(storage.id, status="completed_with_errors" if problems else "completed", last_sync=utcnow(),
         last_sync_count=count, traceback="\n".join(problems[:MAX_ERRORS]) or None, meta=meta)
    return common.get_storage(user, "import", type_, storage.id)


def _link_tasks(s: Session, storage_id: int, origins: list[tuple[str, int]], result: ImportResult) -> None:
    rows = [{"storage_id": storage_id, "task_id": task_id, "key": origins[pos][0], "row_index": origins[pos][1],
             "created_at": utcnow()}
            for task_id, pos in zip(result.task_ids or [], result.row_positions or [], strict=True)]
    for start in range(0, len(rows), _CHUNK):
        s.execute(sa.insert(StorageImportLink), rows[start:start + _CHUNK])


# --------------------------------------------------------------------------- export


def annotation_export_json(annotation: Annotation, task: Task, author: User | None) -> dict:
    """Label Studio's storage annotation JSON: the annotation with its task (without the task's
    annotations) and its author's id, names and email."""
    names = {author.id: wire.user_label(author.name, author.email, author.id)} if author is not None \
        else usernames([annotation.user_id])
    out = wire.annotation_json(annotation, names=names)
    out["task"] = wire.task_json(task, annotations=None, predictions=None)
    if author is not None:
        first, _, last = (author.name or "").partition(" ")
        out["completed_by"] = {"id": author.id, "first_name": first, "last_name": last, "email": author.email}
    return out


def sync_export(user: User, type_: str, storage_id: int) -> Storage:
    """Write every annotation of the project, and each published dataset version not written yet."""
    storage = _start(user, "export", type_, storage_id)
    try:
        s3.client(storage)  # the endpoint checked again before the calls
        count = _export_annotations(storage)
        written = _export_versions(storage)
    except (DomainError, BotoCoreError, ClientError, OSError) as exc:
        _failed(storage, getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}")
        if isinstance(exc, DomainError):
            raise
        raise StorageError(f"S3 {storage.bucket}: {type(exc).__name__}: {exc}") from None
    meta = _ended(storage, "time_completed", total_annotations=count, dataset_versions=written)
    _set(storage.id, status="completed", last_sync=utcnow(), last_sync_count=count, meta=meta)
    return common.get_storage(user, "export", type_, storage.id)


def _export_annotations(storage: Storage) -> int:
    count, after = 0, 0
    while True:
        with read_session() as s:
            rows = s.exec(select(Annotation, Task, User).join(Task, Task.id == Annotation.task_id)
                          .outerjoin(User, User.id == Annotation.user_id)
                          .where(Annotation.project_id == storage.project_id, Annotation.id > after)
                          .order_by(Annotation.id).limit(_CHUNK)).all()
            linked = set(s.exec(select(StorageExportLink.annotation_id).where(
                StorageExportLink.storage_id == storage.id,
                StorageExportLink.annotation_id.in_([a.id for a, _, _ in rows])))) if rows else set()
        if not rows:
            return count
        for annotation, task, author in rows:
            body = json.dumps(annotation_export_json(annotation, task, author), ensure_ascii=False).encode()
            s3.put(storage, s3.object_key(storage, str(annotation.id)), body)
        now = utcnow()
        with write_session() as s:
            ids = [a.id for a, _, _ in rows]
            new = [{"storage_id": storage.id, "annotation_id": i, "created_at": now, "updated_at": now}
                   for i in ids if i not in linked]
            if new:
                s.execute(sa.insert(StorageExportLink), new)
            s.execute(sa.update(StorageExportLink).where(StorageExportLink.storage_id == storage.id,
                                                         StorageExportLink.annotation_id.in_(linked))
                      .values(updated_at=now))
        count += len(rows)
        after = rows[-1][0].id


def _export_versions(storage: Storage) -> list[int]:
    """Each published version's files under ``<prefix>/datasets/v<N>/``, once (versions never change)."""
    written = sorted(set((storage.meta or {}).get("dataset_versions") or []))
    with read_session() as s:
        versions = list(s.exec(select(DatasetVersion).where(DatasetVersion.project_id == storage.project_id)
                               .order_by(DatasetVersion.number)))
    root = get_settings().shared_root
    for v in versions:
        if v.number in written:
            continue
        for entry in v.manifest.get("files", []):
            path = root / v.path / entry["name"]
            s3.client(storage, check=False).upload_file(
                str(path), storage.bucket, s3.object_key(storage, f"datasets/v{v.number}/{entry['name']}"))
        written.append(v.number)
    return sorted(written)
