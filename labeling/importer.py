"""Import: tasks, existing labels, predictions and images into a project, all or nothing.

One domain function, :func:`import_data`, serves the upload page, ``POST
/api/projects/ID/import`` and ``labelfab import``. It takes a decoded JSON body, uploaded files
or paths on disk (:mod:`labeling.import_formats` turns them into :class:`RawItem` rows) and:

1. checks every row against the project's label config: the data fields the config reads,
   annotation and prediction results (existing labels, valid spans and boxes), ``completed_by``
   (a user id or an email; an unknown email becomes an inactive annotator), prediction
   ``probs`` (finite, labels of the config, summing to 1) and ``data.embedding`` (finite
   numbers, one length across the project); images are verified and stored by content
   (:func:`labeling.media.store_media`) and the task's image field set to the URL the app
   serves them at;
2. refuses the whole import if any row is invalid, listing the first 100 problems by row and
   field (``skip_invalid=True`` imports the valid rows and reports the others);
3. writes everything in ONE transaction with bulk inserts (no per-row ORM objects): the
   :class:`ImportBatch`, new users, media, tasks, annotations, predictions and the task events
   of tasks that arrive labeled. A crash before the commit leaves nothing behind.

Gold (honeypot) tasks come in the Label Studio task form with ``"is_gold": true`` and their
answer: ``"gold_answer": [result items]``, or, without it, the task's one annotation, which is
then stored as the answer and not as an annotation (so it counts toward nothing). The answer is
checked against the label config exactly like an imported annotation (row and field named in
the errors, all or nothing). A gold task stays ``open`` on its own track: the router
interleaves it at ``Project.gold_rate``, each annotator's answers to it count for their gold
accuracy (:func:`labeling.review.gold_accuracy`), and exports never contain it. Annotations
given besides a ``gold_answer`` are imported as annotators' answers to the gold task.
``"gold_answer"`` without ``"is_gold": true`` is refused; ``"is_gold": false`` (as a labelfab
export with workflow fields has it) is an ordinary task. Flat rows (CSV, TSV, TXT, flat JSON
objects) carry no gold flag: every column is task data.

Existing labels count toward overlap: a task with as many imported annotations as the
project's overlap arrives ``labeled`` (with a TaskEvent). Labels that come without an
annotator (ImageFolder folder names, Label Studio annotations without ``completed_by``) are
attributed to a per-import, inactive "imported labels" user, so that later per-annotator QC
judges each labelled source on its own and never mixes it with the uploader's own work.

Large imports (more than ``settings.import_job_threshold`` rows, or uploads with many images
or a zip) run as an ``import`` job whose progress the browser shows; the uploaded bytes wait in
``DATA_DIR/imports/`` until the job has run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from json.encoder import c_make_encoder, encode_basestring
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import jobs
from labeling.access import require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, DomainError, Invalid, NotFound
from labeling.import_formats import (
    ImportFile,
    ImportFormatError,
    RawItem,
    format_error,
    parse_json_tasks,
    parse_path,
    parse_upload,
)
from labeling.jobs.broker import is_stub
from labeling.jobs.qc_trigger import tasks_labeled
from labeling.media import MediaError, media_path, store_media
from labeling.models import (
    ImportBatch,
    Job,
    Media,
    Project,
    Role,
    Task,
    TaskState,
    User,
)
from labeling.schema import (
    LabelSchema,
    result_from_labels,
    validate_result,
    validate_task_data,
)
from labeling.settings import get_settings
from labeling.users import UserError, normalize_email

log = logging.getLogger(__name__)

__all__ = [
    "ImportResult",
    "get_import",
    "import_data",
    "import_view",
    "media_url",
    "parse_body",
    "thumbnail_url",
]

MAX_ERRORS = 100
#: Uploads with more image files than this (or any zip) run as a job.
JOB_IMAGE_THRESHOLD = 50
PROBS_TOLERANCE = 1e-3
_CHUNK = 2000  # rows per executemany batch
_IMAGE_BATCH = 32  # images validated and stored concurrently
_PROGRESS_EVERY = 5000
_NUMBER = (int, float)
# LS annotation "completed_by" may be an id, an email, or {"id": .., "email": ..}.
_DIGITS = re.compile(r"^\d+$")

ProgressFn = Callable[[int, int | None, str], None]


# --------------------------------------------------------------------------- URLs


def media_url(project_id: int, sha256: str, ext: str) -> str:
    """URL at which the app serves a stored image to the users of ``project_id``."""
    return f"/media/{project_id}/{sha256}.{ext}"


def thumbnail_url(project_id: int, sha256: str) -> str:
    """URL of an image's thumbnail (made by the ``thumbnails`` job)."""
    return f"/media/{project_id}/thumbs/{sha256}.jpg"


# --------------------------------------------------------------------------- results


@dataclass
class ImportResult:
    """What an import did (or, for a background import, where to follow it)."""

    import_id: int | None = None
    job_id: int | None = None
    status: str = "done"  # done | queued | failed
    task_count: int = 0
    annotation_count: int = 0
    prediction_count: int = 0
    skipped_duplicates: int = 0
    skipped_invalid: int = 0
    errors: list[dict] = field(default_factory=list)
    duration: float = 0.0
    task_ids: list[int] | None = None
    files: list[str] = field(default_factory=list)
    thumbnail_job_id: int | None = None
    new_users: int = 0
    gold_count: int = 0

    def as_dict(self) -> dict:
        """Label Studio's import response fields, plus labelfab's own."""
        body = {
            "task_count": self.task_count,
            "annotation_count": self.annotation_count,
            "prediction_count": self.prediction_count,
            "duration": round(self.duration, 4),
            "file_upload_ids": [],
            "found_formats": sorted({os.path.splitext(f)[1].lower() for f in self.files if "." in f}),
            "import": self.import_id,
            "job": self.job_id,
            "status": self.status,
            "skipped_duplicates": self.skipped_duplicates,
            "skipped_invalid": self.skipped_invalid,
            "errors": self.errors,
            "new_users": self.new_users,
            "gold_count": self.gold_count,
            "thumbnail_job": self.thumbnail_job_id,
        }
        if self.task_ids is not None:
            body["task_ids"] = self.task_ids
        return body


class _Errors:
    """Problems by row and field; keeps the first MAX_ERRORS, counts all."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.total = 0

    def add(self, row: int | None, file: str | None, fld: str | None, detail: str) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append({"row": row, "file": file, "field": fld, "detail": detail})


# --------------------------------------------------------------------------- inputs


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body strictly (no NaN/Infinity); DomainError (400) names the place."""
    if not raw or not raw.strip():
        raise DomainError("the request body is empty; send a JSON list of tasks",
                          [{"row": None, "file": "request body", "field": None, "detail": "empty body"}])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(f"the request body is not UTF-8 (byte at position {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        detail = f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise DomainError(detail, [{"row": None, "file": "request body", "field": None, "detail": detail}]) from None
    except (ValueError, RecursionError) as exc:
        detail = f"malformed JSON: {exc}"
        raise DomainError(detail, [{"row": None, "file": "request body", "field": None, "detail": detail}]) from None


def _limits() -> dict:
    st = get_settings()
    return {"max_bytes": st.max_upload_bytes, "max_unpacked_bytes": st.zip_max_total_mb * 1024 * 1024,
            "max_ratio": st.zip_max_ratio}


def _is_zip(name: str, head: bytes) -> bool:
    return name.lower().endswith(".zip") or head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def _is_image_name(name: str) -> bool:
    from labeling.media import IMAGE_EXTENSIONS

    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


# --------------------------------------------------------------------------- the entry point


def import_data(
    user: User,
    project_id: int,
    *,
    body: Any = None,
    files: list[ImportFile] | None = None,
    paths: list[Path | str] | None = None,
    skip_invalid: bool = False,
    dedupe: bool = False,
    return_task_ids: bool = False,
    background: bool | None = None,
    progress: ProgressFn | None = None,
) -> ImportResult:
    """Import tasks into a project (the one function behind the browser, REST and the CLI).

    Parameters
    ----------
    user : User
        Who imports; needs the ``manage`` right on the project.
    project_id : int
    body : Any, optional
        A JSON body (bytes as received, or decoded): a list of Label Studio tasks or of flat
        objects, or one task.
    files : list of ImportFile, optional
        Uploaded files (JSON, JSON Lines, CSV, TSV, TXT, images, zip archives).
    paths : list of path, optional
        Files or folders on disk (the CLI); a folder in ImageFolder layout gives labels.
    skip_invalid : bool
        Import the valid rows and report the invalid ones, instead of refusing everything.
    dedupe : bool
        Skip rows whose data equal (by content hash) a task of the project or an earlier row.
    return_task_ids : bool
        Put the new tasks' ids in the result.
    background : bool, optional
        Run as an ``import`` job (True), in this call (False), or decide by size (None:
        more than ``settings.import_job_threshold`` rows, more than 50 images, or a zip).
    progress : callable, optional
        ``progress(done, total_or_None, message)``, called now and then by an in-call import.

    Returns
    -------
    ImportResult
        Counts and the import's id; for a background import ``status="queued"`` and the job id.

    Raises
    ------
    Invalid
        Any invalid row (unless ``skip_invalid``), listing the first 100 problems.
    DomainError, TooLarge
        Malformed or over-size input. Nothing is stored in any of these cases.
    NotFound, Forbidden, Conflict
        No such project, no right to manage it, or the project is archived.
    """
    given = [x is not None for x in (body, files, paths)]
    if sum(given) != 1:
        raise Invalid("give exactly one of body, files or paths to import")
    project = _check_project(user, project_id)
    st = get_settings()
    if body is not None:
        raw = None
        if isinstance(body, bytes | bytearray):
            raw, body = bytes(body), parse_body(body)
        items = parse_json_tasks(body, file="request body")
        for item in items:
            item.file_name = None  # tasks sent in a body were not made from a file
        if background is None:
            background = len(items) > st.import_job_threshold
        if background:
            staging = _stage_body(body, raw)
            if is_stub():  # the job runs in this process: hand it the parsed rows as well
                with _parsed_lock:
                    while len(_parsed) >= _PARSED_MAX:  # jobs not run here read the staged file
                        _parsed.pop(next(iter(_parsed)))
                    _parsed[staging.name] = items
            return _enqueue(user, project, {"kind": "body"}, [], staging,
                            skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids)
        return _run(user.id, project_id, items, total=len(items), files=[], skip_invalid=skip_invalid,
                    dedupe=dedupe, return_task_ids=return_task_ids, progress=progress)
    if files is not None:
        if not files:
            raise Invalid("no files were uploaded", [{"row": None, "file": None, "field": "file", "detail": "no files"}])
        parsed, total, n_images, has_zip = _parse_files(files)
        n_text = (total or 0) - n_images
        if background is None:
            background = has_zip or n_images > JOB_IMAGE_THRESHOLD or n_text > st.import_job_threshold
        names = [f.name for f in files]
        if background:
            for it in parsed:  # close archives opened for the checks
                if hasattr(it, "close"):
                    it.close()
            return _enqueue(user, project, {"kind": "files"}, names, _stage_files(files),
                            skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids)
        return _run(user.id, project_id, _with_folder_labels(_chain(parsed), names), total=total, files=names,
                    skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids, progress=progress)
    # paths (the CLI and the import job)
    sources, total = _open_paths([Path(p) for p in paths or []])
    if background:
        raise Invalid("imports of paths on disk run in the calling process")
    return _run(user.id, project_id, _chain(sources), total=total, files=[str(p) for p in paths or []],
                skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids, progress=progress)


def _chain(sources: Iterable[Iterable[RawItem]]) -> Iterator[RawItem]:
    for source in sources:
        yield from source


def _open_paths(paths: list[Path]) -> tuple[list, int | None]:
    if not paths:
        raise Invalid("no files or folders to import", [{"row": None, "file": None, "field": "path", "detail": "none given"}])
    limits = _limits()
    sources: list = []
    total: int | None = 0
    for p in paths:
        items_it = parse_path(p, **limits)
        if p.is_dir() or not _is_zip(p.name, _head(p)):
            items_list = list(items_it)  # folder and text items hold paths or small dicts, not bytes
            sources.append(items_list)
            if total is not None:
                total += len(items_list)
        else:
            sources.append(items_it)
            total = None
    return sources, total


def _head(path: Path, n: int = 8) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _check_project(user: User, project_id: int) -> Project:
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
    if project.archived_at is not None:
        raise Conflict(f"project {project_id} is archived; unarchive it to import data")
    return project


# --------------------------------------------------------------------------- background imports


# Rows of a staged JSON body, parsed by the request, for its job when it runs in this process
# (stub broker); any other worker reads the staged file.
_parsed: dict[str, list[RawItem]] = {}
_parsed_lock = threading.Lock()
_PARSED_MAX = 4


def _staging_root() -> Path:
    return get_settings().data_dir / "imports"


def _new_staging_dir() -> Path:
    root = _staging_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / secrets.token_hex(12)
    path.mkdir()
    return path


def _stage_body(body: Any, raw: bytes | None) -> Path:
    folder = _new_staging_dir()
    if raw is not None:  # the bytes as received: no need to encode them again
        (folder / "body.json").write_bytes(raw)
    else:
        with open(folder / "body.json", "w", encoding="utf-8") as fh:
            json.dump(body, fh, ensure_ascii=False, separators=(",", ":"))
    return folder


def _stage_files(files: list[ImportFile]) -> Path:
    """Keep uploaded files for the job: ``NNNNN.bin`` each, and their names in ``files.json``."""
    folder = _new_staging_dir()
    manifest = []
    for i, f in enumerate(files):
        target = folder / f"{i:05d}.bin"
        if f.path is not None:
            shutil.copyfile(f.path, target)
        else:
            target.write_bytes(f.data)
        manifest.append({"name": f.name, "file": target.name})
    (folder / "files.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _staged_files(folder: Path) -> list[ImportFile]:
    manifest = json.loads((folder / "files.json").read_text(encoding="utf-8"))
    return [ImportFile(name=m["name"], path=folder / m["file"]) for m in manifest]


def _parse_files(files: list[ImportFile]) -> tuple[list, int | None, int, bool]:
    """Parse uploads (every format check runs here); returns (sources, total, images, has_zip).

    Files held on disk (a staged upload) are read one at a time as the sources are consumed.
    """
    limits = _limits()
    parsed: list = []
    total: int | None = 0
    n_images, has_zip = 0, False
    for f in files:
        if f.path is not None and _is_image_name(f.name):
            parse_upload(f.name, _head(f.path, 4096), **limits)  # checks the header; read later
            parsed.append(_lazy_upload(f, limits))
            n_images += 1
            total = None if total is None else total + 1
            continue
        data = f.read()
        if _is_zip(f.name, data[:8]):
            has_zip, total = True, None
            parsed.append(parse_upload(f.name, data, **limits))
        else:
            items = list(parse_upload(f.name, data, **limits))
            n_images += sum(1 for it in items if it.is_image)
            total = None if total is None else total + len(items)
            parsed.append(items)
    return parsed, total, n_images, has_zip


def _lazy_upload(f: ImportFile, limits: dict) -> Iterator[RawItem]:
    yield from parse_upload(f.name, f.read(), **limits)


def _folder_labels(names: list[str]) -> dict[str, str]:
    """ImageFolder labels of uploaded image files sent with their relative paths (a dropped folder).

    The folders common to all paths are the root; an image in a sub-folder of the root gets
    that sub-folder's name (``photos/cat/1.png`` and ``cat/1.png`` both give ``cat``).
    """
    split = [n.replace("\\", "/").strip("/").split("/") for n in names if _is_image_name(n)]
    split = [p for p in split if len(p) > 1]
    if not split:
        return {}
    common = 0
    shortest = min(len(p) - 1 for p in split)
    while common < shortest and len({p[common] for p in split}) == 1:
        common += 1
    return {"/".join(p): p[common] for p in split if len(p) - 1 > common}


def _with_folder_labels(items: Iterator[RawItem], names: list[str]) -> Iterator[RawItem]:
    labels = _folder_labels(names)
    for item in items:
        if labels and item.is_image and item.label is None and item.file_name:
            item.label = labels.get(item.file_name.replace("\\", "/").strip("/"))
        yield item


def _enqueue(user: User, project: Project, payload: dict, names: list[str], staging: Path, *,
             skip_invalid: bool, dedupe: bool, return_task_ids: bool) -> ImportResult:
    """The batch and its ``import`` job, in one transaction (the job is sent after it commits)."""
    try:
        with write_session() as s:
            batch = ImportBatch(project_id=project.id, user_id=user.id, status="queued", files=names)
            s.add(batch)
            s.flush()
            batch_id = batch.id
            payload = dict(payload, batch_id=batch_id, user_id=user.id, staging=staging.name,
                           skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids)
            job_id = jobs.enqueue("import", project_id=project.id, payload=payload, created_by=user.id, session=s)
            batch.job_id = job_id
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ImportResult(import_id=batch_id, job_id=job_id, status="queued", files=names)


def run_import_job(ctx: jobs.JobContext) -> dict:
    """Run a staged import (the ``import`` job's handler, listed in :mod:`labeling.jobs.registry`);
    its results and the job's end are written in one transaction."""
    p = ctx.payload
    staging = _staging_root() / p["staging"]
    batch_id = p["batch_id"]
    finished = False
    try:
        with read_session() as s:
            user = s.get(User, p["user_id"])
        if user is None:
            raise NotFound(f"user {p['user_id']} no longer exists")
        with write_session() as s:
            s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(status="running"))
        if p["kind"] == "body":
            with _parsed_lock:
                items: Any = _parsed.pop(p["staging"], None)
            if items is None:
                body = parse_body((staging / "body.json").read_bytes())
                items = parse_json_tasks(body, file="request body")
                for item in items:
                    item.file_name = None
            total, names = len(items), []
        else:
            files = _staged_files(staging)
            names = [f.name for f in files]
            sources, total, _, _ = _parse_files(files)
            items = _with_folder_labels(_chain(sources), names)

        def report(done: int, n: int | None, message: str) -> None:
            if ctx.completed:  # the import's transaction has ended the job already
                return
            ctx.progress(0.95 * done / n if n else 0.5, message)

        result = _run(user.id, ctx.project_id, items, total=total, files=names, skip_invalid=p["skip_invalid"],
                      dedupe=p["dedupe"], return_task_ids=p.get("return_task_ids", False), progress=report,
                      batch_id=batch_id, on_commit=lambda s, r: ctx.complete(s, _job_result(r)))
        finished = True
        return _job_result(result)
    except DomainError as exc:
        with write_session() as s:
            s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id)
                      .values(status="failed", errors=exc.errors[:MAX_ERRORS] or [{"row": None, "file": None, "field": None, "detail": exc.detail}]))
        finished = True
        raise jobs.JobError(exc.detail) from None
    except jobs.JobLost:
        raise
    except Exception:
        with write_session() as s:
            s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(status="failed"))
        finished = True
        raise
    finally:
        if finished:
            shutil.rmtree(staging, ignore_errors=True)


def _job_result(r: ImportResult) -> dict:
    out = r.as_dict()
    out["errors"] = r.errors[:20]
    return out


def get_import(user: User, project_id: int, import_id: int) -> tuple[ImportBatch, dict | None]:
    """An import of a project (and its job's view), for the project's leads and admins."""
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        batch = s.get(ImportBatch, import_id)
        if batch is None or batch.project_id != project_id:
            raise NotFound(f"import {import_id} not found in project {project_id}")
        job = jobs.job_view(s.get(Job, batch.job_id)) if batch.job_id else None
        return batch, job


_LS_STATUS = {"queued": "created", "running": "in_progress", "done": "completed", "failed": "failed"}


def import_view(batch: ImportBatch, job: dict | None = None, *, task_ids: list[int] | None = None) -> dict:
    """An import as ``GET /api/projects/ID/imports/IID`` shows it (Label Studio's status names)."""
    body = {
        "id": batch.id, "project": batch.project_id, "status": _LS_STATUS.get(batch.status, batch.status),
        "task_count": batch.task_count, "annotation_count": batch.annotation_count,
        "prediction_count": batch.prediction_count, "skipped_duplicates": batch.skipped_duplicates,
        "duration": batch.duration, "files": batch.files, "errors": batch.errors,
        "created_at": batch.created_at.isoformat(), "job": job,
        "progress": job["progress"] if job else (1.0 if batch.status == "done" else 0.0),
    }
    if task_ids is not None:
        body["task_ids"] = task_ids
    return body


def import_task_ids(import_id: int) -> list[int]:
    with read_session() as s:
        return list(s.exec(select(Task.id).where(Task.import_id == import_id).order_by(Task.id)))


# --------------------------------------------------------------------------- checking rows


@dataclass
class _Owner:
    """Who an imported annotation belongs to: an existing id, an email, or the import's labels user."""

    kind: str  # id | email | labels
    value: Any = None


@dataclass
class _Extra:
    """The annotations and predictions of one row, and what its task needs after insert."""

    index: int
    row: int
    file: str
    annotations: list[tuple[_Owner, dict, str]] = field(default_factory=list)  # owner, row dict, field
    predictions: list[dict] = field(default_factory=list)
    gold_answer: list | None = None  # set: a gold task with this (checked) answer


class _Checker:
    """Turns raw items into insert rows, collecting problems by row and field."""

    def __init__(self, project: Project, schema: LabelSchema):
        self.project = project
        self.schema = schema
        self.embedding_dim: int | None = None
        self.embedding_origin: str | None = None
        self.embedding_looked_up = False
        self.errors = _Errors()
        self.bad: set[int] = set()
        self.image_key = next((o.value_key for o in schema.objects.values() if o.tag == "Image"), None)
        self.data_keys = sorted(schema.data_keys)
        self.primary = schema.primary_control
        self.primary_labels = set(self.primary.labels)
        self.is_choices = self.primary.tag == "Choices"
        # only text objects: the fast path checks presence and type in one loop
        self.text_keys = [o.value_key for o in schema.objects.values() if o.tag == "Text"]
        self.simple = not self.image_key

    def fail(self, index: int, item: RawItem, fld: str | None, detail: str) -> None:
        self.bad.add(index)
        self.errors.add(item.row, item.file, fld, detail)

    # ---- data
    def check_data(self, index: int, item: RawItem, data: dict) -> None:
        if self.simple:
            ok = True
            for key in self.text_keys:
                if type(data.get(key)) is not str:
                    ok = False
                    break
            if not ok:
                for problem in validate_task_data(self.schema, data):
                    self.fail(index, item, "data", problem)
        else:
            for problem in validate_task_data(self.schema, data):
                self.fail(index, item, "data", problem)
        if "embedding" in data:
            self.check_embedding(index, item, data["embedding"])

    def check_embedding(self, index: int, item: RawItem, emb: Any) -> None:
        if type(emb) is not list or not emb:
            self.fail(index, item, "data.embedding", "must be a non-empty list of numbers")
            return
        for i, v in enumerate(emb):
            if type(v) not in _NUMBER or not math.isfinite(v):
                self.fail(index, item, "data.embedding", f"value {i} is {v!r}; every value must be a finite number")
                return
        if not self.embedding_looked_up:  # only imports with embeddings look at the project's
            self.embedding_looked_up = True
            with read_session() as s:
                self.embedding_dim = _existing_embedding_dim(s, self.project.id)
            if self.embedding_dim is not None:
                self.embedding_origin = "the project's tasks"
        if self.embedding_dim is None:
            self.embedding_dim = len(emb)
            self.embedding_origin = f"row {item.row}"
        elif len(emb) != self.embedding_dim:
            self.fail(index, item, "data.embedding",
                      f"has {len(emb)} values, but the embeddings of {self.embedding_origin} have {self.embedding_dim}; "
                      "all embeddings of a project have one length")

    # ---- annotations
    def owner_of(self, index: int, item: RawItem, value: Any, fld: str) -> _Owner | None:
        if value is None:
            return _Owner("labels")
        if isinstance(value, dict):
            value = value.get("email") or value.get("id")
        if isinstance(value, bool):
            value = None
        if isinstance(value, int):
            return _Owner("id", value)
        if isinstance(value, str):
            text = value.strip()
            if _DIGITS.match(text):
                return _Owner("id", int(text))
            try:
                return _Owner("email", normalize_email(text))
            except UserError as exc:
                self.fail(index, item, fld, f"{exc}; completed_by must be a user id or an email")
                return None
        self.fail(index, item, fld, f"completed_by must be a user id or an email, got {value!r}")
        return None

    def annotation(self, index: int, item: RawItem, data: dict, ann: dict, i: int,
                   image_size: tuple[int, int] | None, extra: _Extra) -> None:
        where = f"annotations[{i}]"
        cancelled = ann.get("was_cancelled", False)
        if type(cancelled) is not bool:
            self.fail(index, item, f"{where}.was_cancelled", f"must be true or false, got {cancelled!r}")
            return
        result = ann.get("result", [])
        if result is None:
            result = []
        if not cancelled:
            if type(result) is not list or not result:
                self.fail(index, item, f"{where}.result", "must be a non-empty list of result items "
                          "(a skipped annotation has was_cancelled: true)")
                return
            problems = validate_result(self.schema, result, data, image_size=image_size)
            if problems:
                for problem in problems:
                    self.fail(index, item, f"{where}.result", problem)
                return
        elif type(result) is not list:
            self.fail(index, item, f"{where}.result", "must be a list")
            return
        lead_time = ann.get("lead_time")
        if lead_time is not None and (type(lead_time) not in _NUMBER or not math.isfinite(lead_time) or lead_time < 0):
            self.fail(index, item, f"{where}.lead_time", f"must be a number of seconds >= 0, got {lead_time!r}")
            return
        owner = self.owner_of(index, item, ann.get("completed_by"), f"{where}.completed_by")
        if owner is None:
            return
        extra.annotations.append((owner, {"result": result, "was_cancelled": cancelled,
                                          "lead_time": float(lead_time) if lead_time is not None else None},
                                  f"{where}.completed_by"))

    # ---- gold
    def gold(self, index: int, item: RawItem, data: dict, image_size: tuple[int, int] | None,
             extra: _Extra) -> bool:
        """Check a row's ``is_gold`` / ``gold_answer`` and record the answer on ``extra``.

        Returns True when the row's one annotation is (meant as) its gold answer: it is then not
        checked or imported as an annotation.
        """
        flag = item.is_gold
        if flag is None:
            flag = False
        if type(flag) is not bool:
            self.fail(index, item, "is_gold", f"must be true or false, got {flag!r}")
            return False
        answer = item.gold_answer
        if not flag:
            if answer is not None:
                self.fail(index, item, "gold_answer", 'is given, but the task is not marked gold; add "is_gold": true '
                          "(or leave gold_answer out)")
            return False
        from_annotation = answer is None
        if from_annotation:
            if len(item.annotations) != 1:
                self.fail(index, item, "gold_answer", "a gold task needs its answer: give gold_answer (a list of "
                          f"result items), or exactly one annotation to take it from (the task has "
                          f"{len(item.annotations)})")
                return False
            ann = item.annotations[0]
            if ann.get("was_cancelled", False) is not False:
                self.fail(index, item, "annotations[0].was_cancelled",
                          "a skipped annotation cannot be a gold answer; give gold_answer")
                return True
            answer, fld = ann.get("result"), "annotations[0].result"
        else:
            fld = "gold_answer"
        if type(answer) is not list or not answer:
            self.fail(index, item, fld, f"a gold answer must be a non-empty list of result items, got {answer!r}"[:300])
            return from_annotation
        problems = validate_result(self.schema, answer, data, image_size=image_size)
        if problems:
            for problem in problems:
                self.fail(index, item, fld, problem)
            return from_annotation
        extra.gold_answer = answer
        return from_annotation

    # ---- predictions
    def check_probs(self, probs: Any) -> str | None:
        if not self.primary_labels:
            return (f"probs need a control with labels; the primary control {self.primary.name!r} "
                    f"(<{self.primary.tag}>) has none")
        if type(probs) is not dict or not probs:
            return 'must be an object {"label": probability, ...}'
        unknown = [k for k in probs if k not in self.primary_labels]
        if unknown:
            return f"unknown label(s) {unknown[:5]} for control {self.primary.name!r}; labels are {self.primary.labels}"
        total = 0.0
        for label, p in probs.items():
            if type(p) not in _NUMBER or not math.isfinite(p):
                return f"probability of {label!r} is {p!r}; it must be a finite number"
            if p < 0 or p > 1:
                return f"probability of {label!r} is {p}; it must be between 0 and 1"
            total += p
        if abs(total - 1.0) > PROBS_TOLERANCE:
            return f"probabilities sum to {total:.6g}; they must sum to 1"
        return None

    def prediction(self, index: int, item: RawItem, data: dict, pred: dict, i: int,
                   image_size: tuple[int, int] | None, extra: _Extra) -> None:
        where = f"predictions[{i}]"
        probs = pred.get("probs")
        if probs is not None:
            problem = self.check_probs(probs)
            if problem:
                self.fail(index, item, f"{where}.probs", problem)
                return
        result = pred.get("result")
        if result is None or result == []:
            if probs is None:
                self.fail(index, item, f"{where}.result", "a prediction needs a result (or probs)")
                return
            if not self.is_choices:
                self.fail(index, item, f"{where}.result",
                          f"a prediction for <{self.primary.tag}> needs a result; probs alone fit <Choices> only")
                return
            if self.primary.choice == "multiple":
                result = result_from_labels(self.schema, [k for k, v in probs.items() if v >= 0.5])
            else:
                result = result_from_labels(self.schema, max(probs, key=probs.get))
        else:
            problems = validate_result(self.schema, result, data, image_size=image_size)
            if problems:
                for problem in problems:
                    self.fail(index, item, f"{where}.result", problem)
                return
        score = pred.get("score")
        if score is None and probs:
            score = max(probs.values())
        if score is not None and (type(score) not in _NUMBER or not math.isfinite(score)):
            self.fail(index, item, f"{where}.score", f"must be a finite number, got {score!r}")
            return
        version = pred.get("model_version", "")
        if version is None:
            version = ""
        if not isinstance(version, str | int | float) or isinstance(version, bool):
            self.fail(index, item, f"{where}.model_version", "must be a string")
            return
        extra.predictions.append({"result": result, "score": float(score) if score is not None else None,
                                  "probs": {k: float(v) for k, v in probs.items()} if probs else None,
                                  "model_version": str(version)[:255]})


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} cannot be stored as JSON")


# The C encoder of the json module, made once: canonical JSON (sorted keys, compact, UTF-8,
# no NaN). json.dumps (and JSONEncoder.encode) build a new one on every call, which costs
# more than encoding a small task. Imported data are parsed JSON: no cycles to look for.
_iterencode = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, False)


def _encode(value: Any) -> str:
    """Canonical JSON of ``value``; ValueError for NaN or infinity, TypeError for non-JSON types."""
    return "".join(_iterencode(value, 0))


def _content_hash(data_json: str) -> str:
    """sha256 of a task's canonical JSON data (sorted keys, compact), which is also what is stored."""
    return hashlib.sha256(data_json.encode("utf-8")).hexdigest()


def _existing_embedding_dim(s: Session, project_id: int) -> int | None:
    """Length of the embeddings already in the project (the first task that has one)."""
    if s.get_bind().dialect.name == "postgresql":
        expr = sa.text("SELECT json_array_length(data -> 'embedding') FROM task WHERE project_id = :p "
                       "AND json_typeof(data -> 'embedding') = 'array' LIMIT 1")
    else:
        expr = sa.text("SELECT json_array_length(data, '$.embedding') FROM task WHERE project_id = :p "
                       "AND json_type(data, '$.embedding') = 'array' LIMIT 1")
    return s.execute(expr, {"p": project_id}).scalar()


# --------------------------------------------------------------------------- images


@dataclass
class _Stored:
    sha256: str
    ext: str
    mime: str
    width: int
    height: int
    size: int
    new_file: bool


def _store_image(item: RawItem, written: set[tuple[str, str]]) -> _Stored | MediaError:
    st = get_settings()
    try:
        data = item.read_image()
    except OSError as exc:
        return MediaError(f"{item.file}: cannot be read ({exc})")
    sha = hashlib.sha256(data).hexdigest()
    existed = any(media_path(st.media_root, sha, ext).exists() for ext in ("png", "jpg", "webp", "gif", "tiff", "bmp"))
    try:
        info = store_media(data, media_root=st.media_root, name=item.file_name or item.file,
                           max_pixels=st.max_image_pixels)
    except MediaError as exc:
        return exc
    if not existed:
        written.add((info.sha256, info.ext))  # set.add is atomic: safe from the pool's threads
    return _Stored(info.sha256, info.ext, info.mime, info.width, info.height, info.size, not existed)


def _with_images(items: Iterable[RawItem], pool: ThreadPoolExecutor,
                 written: set[tuple[str, str]]) -> Iterator[tuple[RawItem, Any]]:
    """Items paired with their stored image (or the MediaError); images are stored in parallel,
    a few dozen at a time, and items come out in their order."""
    batch: list[RawItem] = []

    def flush():
        futures = [pool.submit(_store_image, it, written) if it.is_image else None for it in batch]
        for it, fut in zip(batch, futures, strict=True):
            yield it, (fut.result() if fut is not None else None)
            it.image_bytes = None  # free the bytes as soon as the image is stored

    for item in items:
        if not batch and item.image_bytes is None and item.image_path is None:
            yield item, None  # the common case of text rows: no batching
            continue
        batch.append(item)
        if len(batch) >= _IMAGE_BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


# --------------------------------------------------------------------------- the import itself


@dataclass(slots=True)
class _Row:
    """A task to insert: its data as canonical JSON (stored as is) and its content hash.

    For plain text rows of an import without ``dedupe`` both are computed later, while the
    rows before them are being written (see :func:`_write_plain`); ``data`` holds the dict.
    """

    data_json: str | None
    meta_json: str
    file_name: str | None
    content_hash: str | None
    media_sha: str | None = None
    data: dict | None = None


def _run(user_id: int, project_id: int, items: Iterable[RawItem], *, total: int | None, files: list[str],
         skip_invalid: bool, dedupe: bool, return_task_ids: bool, progress: ProgressFn | None,
         batch_id: int | None = None, on_commit: Callable[[Session, ImportResult], None] | None = None) -> ImportResult:
    t0 = time.perf_counter()
    with read_session() as s:
        user = s.get(User, user_id)
        project = require_project(s, user, project_id, "manage")
    if project.archived_at is not None:
        raise Conflict(f"project {project_id} is archived; unarchive it to import data")
    schema = LabelSchema.model_validate(project.label_schema)
    check = _Checker(project, schema)
    rows: list[_Row] = []
    extras: list[_Extra] = []
    media: dict[str, _Stored] = {}
    new_files: set[tuple[str, str]] = set()
    single_text_key = check.data_keys[0] if len(check.data_keys) == 1 and check.text_keys else None
    empty_meta = "{}"
    every = _PROGRESS_EVERY
    append = rows.append

    def encode(value: Any, index: int = -1, item: RawItem | None = None, fld: str = "data") -> str:
        try:
            return _encode(value)
        except (ValueError, TypeError) as exc:  # NaN or a non-JSON value handed over from Python
            check.fail(index, item, fld, f"cannot be stored as JSON ({exc})")
            return "null"

    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="import-images")
    try:
        simple_keys = check.text_keys if check.simple else None
        for index, (item, stored) in enumerate(_with_images(items, pool, new_files)):
            data = item.data
            # The fast path: a text row without labels, predictions or embedding.
            gold = item.gold_answer is not None or (item.is_gold is not None and item.is_gold is not False)
            if (simple_keys is not None and stored is None and not item.annotations and not item.predictions
                    and item.label is None and not gold and "embedding" not in data
                    and not (single_text_key and item.file_name)):
                for key in simple_keys:
                    if type(data.get(key)) is not str:
                        check.check_data(index, item, data)
                        break
                meta = item.meta
                file_name = item.file_name
                if dedupe:  # the hashes are needed before anything is written
                    data_json = encode(data, index, item)
                    append(_Row(data_json, encode(meta, index, item, "meta") if meta else empty_meta,
                                file_name[:1024] if file_name else None, _content_hash(data_json), None))
                else:
                    append(_Row(None, encode(meta, index, item, "meta") if meta else empty_meta,
                                file_name[:1024] if file_name else None, None, None, data))
                if progress is not None and (index + 1) % every == 0:
                    progress(index + 1, total, f"checked {index + 1} rows")
                continue
            image_size = None
            sha = None
            if item.is_image:
                every = 20
                if isinstance(stored, MediaError):
                    check.fail(index, item, "image", stored.detail)
                    data = {}
                elif check.image_key is None:
                    check.fail(index, item, "image", "the label config has no <Image>, so images cannot be "
                               "imported into this project")
                    data = {}
                else:
                    media[stored.sha256] = stored
                    sha = stored.sha256
                    data = dict(data)
                    data[check.image_key] = media_url(project_id, stored.sha256, stored.ext)
                    image_size = (stored.width, stored.height)
            elif (single_text_key and single_text_key != "text" and item.file_name
                  and item.file_name.lower().endswith(".txt") and list(data) == ["text"]):
                data = {single_text_key: data["text"]}  # a TXT line goes to the config's text field
            if data or not item.is_image:
                check.check_data(index, item, data)
            if item.annotations or item.predictions or item.label is not None or gold:
                extra = _Extra(index, item.row, item.file)
                answered = gold and check.gold(index, item, data, image_size, extra)
                for i, ann in enumerate(() if answered else item.annotations):
                    check.annotation(index, item, data, ann, i, image_size, extra)
                for i, pred in enumerate(item.predictions):
                    check.prediction(index, item, data, pred, i, image_size, extra)
                if item.label is not None:
                    if not check.is_choices:
                        check.fail(index, item, "label", f"folder '{item.label}' gives a label, but the primary "
                                   f"control {check.primary.name!r} is <{check.primary.tag}>, not <Choices>")
                    elif item.label not in check.primary_labels:
                        check.fail(index, item, "label", f"folder '{item.label}' is not a label of control "
                                   f"{check.primary.name!r}; labels are {check.primary.labels}")
                    else:
                        extra.annotations.append((_Owner("labels"), {
                            "result": result_from_labels(schema, item.label), "was_cancelled": False,
                            "lead_time": None}, "label"))
                extras.append(extra)
            data_json = encode(data, index, item) if index not in check.bad else "null"  # bad: never stored
            meta = item.meta
            file_name = item.file_name
            append(_Row(data_json, encode(meta, index, item, "meta") if meta else empty_meta,
                        file_name[:1024] if file_name else None,
                        _content_hash(data_json) if data else None, sha))
            if progress is not None and (index + 1) % every == 0:
                progress(index + 1, total, f"checked {index + 1} rows")
        if not rows:
            raise Invalid("there is nothing to import", [{"row": None, "file": None, "field": None, "detail": "no rows"}])
        _check_owners(check, extras)
        if check.errors.total and not skip_invalid:
            n_bad = len(check.bad)
            detail = (f"{check.errors.total} problem(s) in {n_bad} of {len(rows)} row(s); nothing was imported"
                      + (" (the first 100 are listed)" if check.errors.total > MAX_ERRORS else "")
                      + ". First: " + format_error(check.errors.items[0]))
            raise Invalid(detail, check.errors.items)
        if progress is not None:
            progress(len(rows), total or len(rows), "saving")
        result = ImportResult(files=files)
        with write_session() as s:
            _write(s, result, user, project, rows=rows, extras=extras, bad=check.bad, media=media,
                   dedupe=dedupe, batch_id=batch_id, files=files, return_task_ids=return_task_ids)
            result.skipped_invalid = len(check.bad)
            result.errors = check.errors.items
            result.duration = time.perf_counter() - t0
            s.execute(sa.update(ImportBatch).where(ImportBatch.id == result.import_id)
                      .values(duration=result.duration, errors=result.errors))
            if media and result.task_count:
                from labeling.thumbnails import enqueue_thumbnails

                result.thumbnail_job_id = enqueue_thumbnails(project_id=project_id, created_by=user_id, session=s)
            if on_commit is not None:
                on_commit(s, result)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        _remove_unreferenced(new_files)
        raise
    pool.shutdown(wait=True)
    if check.bad:
        _remove_unreferenced(new_files)
    if progress is not None:
        progress(len(rows), total or len(rows), "done")
    return result


def _check_owners(check: _Checker, extras: list[_Extra]) -> None:
    """completed_by ids must exist; one annotator annotates a task at most once."""
    ids = {o.value for e in extras for o, _, _ in e.annotations if o.kind == "id"}
    emails = {o.value for e in extras for o, _, _ in e.annotations if o.kind == "email"}
    id_email: dict[int, str] = {}
    email_id: dict[str, int] = {}
    if ids or emails:
        with read_session() as s:
            for chunk in _chunks(sorted(ids), 500):
                id_email.update(s.execute(select(User.id, User.email).where(User.id.in_(chunk))).all())
            for chunk in _chunks(sorted(emails), 500):
                email_id.update(s.execute(select(User.email, User.id).where(User.email.in_(chunk))).all())
    for e in extras:
        seen: set = set()
        for owner, _, fld in e.annotations:
            if owner.kind == "id" and owner.value not in id_email:
                check.bad.add(e.index)
                check.errors.add(e.row, e.file, fld, f"no user with id {owner.value} (give completed_by as an "
                                 "email to import the labels of someone without an account here)")
                continue
            if owner.kind == "email" and owner.value in email_id:
                key: tuple = ("id", email_id[owner.value])
            else:
                key = (owner.kind, owner.value)
            if key in seen:
                who = "the import's unattributed labels" if owner.kind == "labels" else f"user {owner.value}"
                check.bad.add(e.index)
                check.errors.add(e.row, e.file, fld, f"{who}: more than one annotation of this task; "
                                 "a task has at most one annotation per annotator")
            seen.add(key)


def _chunks(seq: list, n: int) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _remove_unreferenced(files: set[tuple[str, str]]) -> None:
    """Delete image files this import wrote that no Media row refers to (after a rollback)."""
    if not files:
        return
    root = get_settings().media_root
    try:
        with read_session() as s:
            known: set[str] = set()
            for chunk in _chunks(sorted(sha for sha, _ in files), 500):
                known.update(s.exec(select(Media.sha256).where(Media.sha256.in_(chunk))))
    except sa.exc.SQLAlchemyError:
        log.exception("could not check which imported images to remove")
        return
    for sha, ext in files:
        if sha not in known:
            try:
                media_path(root, sha, ext).unlink()
            except FileNotFoundError:
                pass


class _Bulk:
    """Bulk inserts straight through the driver: executemany on SQLite, COPY on PostgreSQL.

    Values are given ready for the database (JSON as text, timestamps converted once), so no
    per-row ORM object or SQLAlchemy type processing is involved; ids are allocated up front
    so that annotations can point at their tasks without RETURNING.
    """

    def __init__(self, s: Session):
        self.s = s
        self.pg = s.get_bind().dialect.name == "postgresql"
        self.conn = s.connection()  # the transaction's connection, also used by a writer thread
        if not self.pg:
            self.conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay in memory

    def close(self) -> None:
        """Give the pooled connection its default page cache back (the big one is freed)."""
        if not self.pg:
            self.conn.exec_driver_sql("PRAGMA cache_size=-2000")

    def ts(self, value):
        if self.pg:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def flag(self, value: bool):
        return value if self.pg else int(value)

    def next_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        conn = self.conn
        if self.pg:
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            return list(conn.execute(sa.text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                                     {"seq": seq, "n": n}).scalars())
        # SQLite: the write transaction (BEGIN IMMEDIATE) holds the database's write lock.
        top = conn.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{table}"').scalar()
        return list(range(top + 1, top + n + 1))

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], consts: dict[str, Any] | None = None) -> None:
        """Insert ``rows`` (values of ``columns``); ``consts`` are columns with one value for all rows.

        On SQLite the constants go into the statement as literals (binding fewer parameters
        per row is a third faster); COPY on PostgreSQL gets them appended to every row.
        """
        if not rows:
            return
        consts = consts or {}
        conn = self.conn
        if self.pg:
            names = (*columns, *consts)
            tail = tuple(consts.values())
            cols = ", ".join(f'"{c}"' for c in names)
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                write = copy.write_row
                if tail:
                    for row in rows:
                        write(row + tail)
                else:
                    for row in rows:
                        write(row)
            return
        cols = ", ".join(f'"{c}"' for c in (*columns, *consts))
        values = ", ".join(["?"] * len(columns) + [_sql_literal(v) for v in consts.values()])
        sql = f'INSERT INTO "{table}" ({cols}) VALUES ({values})'
        for chunk in _chunks(rows, 20_000):
            conn.exec_driver_sql(sql, chunk)


_PIPELINE_CHUNK = 10_000


def _write_plain(bulk: _Bulk, rows: list[_Row], ids: list[int], keep, columns: tuple[str, ...],
                 consts: dict[str, Any]) -> None:
    """Insert plain text rows, encoding chunk k+1 while a writer thread inserts chunk k.

    The database driver lets go of the GIL while SQLite (or the network to PostgreSQL) works,
    so the JSON encoding and hashing of the next chunk runs meanwhile on the other core. One
    thread at a time uses the connection: a chunk is handed over only when the last is in.
    """
    encode, digest = _encode, _content_hash

    def build(pairs) -> list[tuple]:
        out = []
        for task_id, i in pairs:
            r = rows[i]
            if r.data_json is None:
                try:
                    r.data_json = encode(r.data)
                except (ValueError, TypeError) as exc:  # NaN or a non-JSON value given from Python
                    raise Invalid(f"task {i + 1}: its data cannot be stored as JSON ({exc})",
                                  [{"row": i + 1, "file": None, "field": "data", "detail": str(exc)}]) from None
                r.content_hash = digest(r.data_json)
            out.append((task_id, r.data_json, r.content_hash))
        return out

    pairs = list(zip(ids, keep, strict=True))
    if len(pairs) <= _PIPELINE_CHUNK:
        bulk.insert("task", columns, build(pairs), consts)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
        pending = None
        for chunk in _chunks(pairs, _PIPELINE_CHUNK):
            built = build(chunk)
            if pending is not None:
                pending.result()  # raises the writer's error, if any
            pending = writer.submit(bulk.insert, "task", columns, built, consts)
        pending.result()


def _sql_literal(value: Any) -> str:
    """An SQL literal of one of the importer's own constants (never of user data)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _insert_media(s: Session, media: dict[str, _Stored]) -> dict[str, int]:
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    now = utcnow()
    rows = [{"sha256": m.sha256, "ext": m.ext, "mime": m.mime, "width": m.width, "height": m.height,
             "size": m.size, "thumbnail_ready": False, "created_at": now} for m in media.values()]
    stmt = dialect_insert(Media.__table__).on_conflict_do_nothing(index_elements=["sha256"])
    for chunk in _chunks(rows, _CHUNK):
        s.execute(stmt, chunk)
    ids: dict[str, int] = {}
    for chunk in _chunks(list(media), 500):
        ids.update(s.execute(select(Media.sha256, Media.id).where(Media.sha256.in_(chunk))).all())
    return ids


def _labels_user(s: Session, batch_id: int, files: list[str]) -> int:
    source = ", ".join(os.path.basename(str(f)) for f in files[:3]) or "request body"
    user = User(email=f"imported-labels-{batch_id}@labelfab.local",
                name=f"imported labels #{batch_id} ({source})"[:255], role=Role.annotator, is_active=False)
    s.add(user)
    s.flush()
    return user.id


_ANNOTATION_COLUMNS = ("task_id", "project_id", "user_id", "result", "was_cancelled", "skip_reason", "lead_time",
                       "source", "version", "created_at", "updated_at")
_PREDICTION_COLUMNS = ("task_id", "project_id", "result", "score", "probs", "model_version", "created_at")
_EVENT_COLUMNS = ("task_id", "project_id", "user_id", "from_state", "to_state", "reason", "created_at")


def _write(s: Session, result: ImportResult, user: User, project: Project, *, rows: list[_Row],
           extras: list[_Extra], bad: set[int], media: dict[str, _Stored], dedupe: bool,
           batch_id: int | None, files: list[str], return_task_ids: bool) -> None:
    """Everything of one import, inside the caller's transaction."""
    current = s.get(Project, project.id)
    if current is None:
        raise NotFound(f"project {project.id} not found")
    if current.archived_at is not None:
        raise Conflict(f"project {project.id} is archived; unarchive it to import data")
    if current.label_config != project.label_config:
        raise Conflict("the project's label config changed during the import; import again")
    if batch_id is None:
        batch = ImportBatch(project_id=project.id, user_id=user.id, status="running", files=[str(f) for f in files])
        s.add(batch)
        s.flush()
        batch_id = batch.id
    result.import_id = batch_id
    bulk = _Bulk(s)

    # which rows go in
    keep = [i for i in range(len(rows)) if i not in bad] if bad else range(len(rows))
    if dedupe:
        seen: set[str] = set()
        for chunk in _chunks(sorted({rows[i].content_hash for i in keep if rows[i].content_hash}), 500):
            seen.update(s.exec(select(Task.content_hash).where(Task.project_id == project.id,
                                                                Task.content_hash.in_(chunk))))
        kept = []
        for i in keep:
            h = rows[i].content_hash
            if h is not None and h in seen:
                result.skipped_duplicates += 1
                continue
            if h is not None:
                seen.add(h)
            kept.append(i)
        keep = kept

    used_media = {rows[i].media_sha for i in keep if rows[i].media_sha}
    media_ids = _insert_media(s, {sha: media[sha] for sha in used_media}) if used_media else {}
    extra_of = {e.index: e for e in extras}

    # users: the import's labels user, and unknown emails as inactive annotators
    owner_ids: dict[tuple, int] = {}
    needs = [o for i in keep if i in extra_of for o, _, _ in extra_of[i].annotations]
    if needs:
        emails = sorted({o.value for o in needs if o.kind == "email"})
        existing: dict[str, int] = {}
        for chunk in _chunks(emails, 500):
            existing.update(s.execute(select(User.email, User.id).where(User.email.in_(chunk))).all())
        for email in emails:
            if email not in existing:
                u = User(email=email, name=email.split("@")[0], role=Role.annotator, is_active=False)
                s.add(u)
                s.flush()
                existing[email] = u.id
                result.new_users += 1
        for email, uid in existing.items():
            owner_ids[("email", email)] = uid
        if any(o.kind == "labels" for o in needs):
            owner_ids[("labels", None)] = _labels_user(s, batch_id, files)

    def owner_id(o: _Owner) -> int:
        return o.value if o.kind == "id" else owner_ids[(o.kind, o.value if o.kind == "email" else None)]

    # task rows, with counters and state from the imported annotations
    now = utcnow()
    ts = bulk.ts(now)
    false, pid, overlap = bulk.flag(False), project.id, project.overlap
    null = "null"
    ids = bulk.next_ids("task", len(keep))
    task_rows: list[tuple] = []
    ann_rows: list[tuple] = []
    pred_rows: list[tuple] = []
    event_rows: list[tuple] = []
    reason = f"import #{batch_id}: labeled by imported annotations"
    state_open = TaskState.open.value
    consts = {"project_id": pid, "priority": 0.0, "requeued": false, "target_overlap": overlap, "n_leases": 0,
              "final_label": null, "final_source": None, "import_id": batch_id, "created_at": ts, "updated_at": ts}
    plain = not extra_of and not any(r.meta_json != "{}" or r.file_name or r.media_sha for r in rows)
    if plain:  # the common bulk case: only id, data and hash differ from row to row
        consts.update(meta="{}", state=state_open, n_annotations=0, n_skips=0, file_name=None, media_id=None,
                      is_gold=false, gold_answer=null)
        columns: tuple[str, ...] = ("id", "data", "content_hash")
        _write_plain(bulk, rows, ids, keep, columns, consts)
    else:
        columns = ("id", "data", "meta", "state", "n_annotations", "n_skips", "content_hash", "file_name", "media_id",
                   "is_gold", "gold_answer")
    n_gold = 0
    for task_id, i in zip(ids, keep, strict=True) if not plain else ():
        r = rows[i]
        state, n_done, n_skips, is_gold, gold_answer = state_open, 0, 0, false, null
        e = extra_of.get(i) if extra_of else None
        if e is not None:
            for owner, a, _ in e.annotations:
                if a["was_cancelled"]:
                    n_skips += 1
                else:
                    n_done += 1
                ann_rows.append((task_id, pid, owner_id(owner), _encode(a["result"]), bulk.flag(a["was_cancelled"]),
                                 "", a["lead_time"], "import", 1, ts, ts))
            for p in e.predictions:
                pred_rows.append((task_id, pid, _encode(p["result"]), p["score"],
                                  _encode(p["probs"]) if p["probs"] is not None else null, p["model_version"], ts))
            if e.gold_answer is not None:  # a gold task: its own track, open whatever it has
                is_gold, gold_answer = bulk.flag(True), _encode(e.gold_answer)
                n_gold += 1
            elif n_done >= overlap:
                state = TaskState.labeled.value
                event_rows.append((task_id, pid, user.id, TaskState.open.value, state, reason, ts))
        if r.data_json is None:
            r.data_json = _encode(r.data)
            r.content_hash = _content_hash(r.data_json)
        task_rows.append((task_id, r.data_json, r.meta_json, state, n_done, n_skips, r.content_hash, r.file_name,
                          media_ids[r.media_sha] if r.media_sha else None, is_gold, gold_answer))
    if not plain:
        bulk.insert("task", columns, task_rows, consts)
    bulk.insert("annotation", _ANNOTATION_COLUMNS, ann_rows)
    bulk.insert("prediction", _PREDICTION_COLUMNS, pred_rows)
    bulk.insert("task_event", _EVENT_COLUMNS, event_rows)
    tasks_labeled(s.connection(), pid, len(event_rows))
    bulk.close()

    result.task_count = len(ids)
    result.annotation_count = len(ann_rows)
    result.prediction_count = len(pred_rows)
    result.gold_count = n_gold
    if return_task_ids:
        result.task_ids = list(ids)
    s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(
        status="done", task_count=result.task_count, annotation_count=result.annotation_count,
        prediction_count=result.prediction_count, skipped_duplicates=result.skipped_duplicates))


def import_error_summary(exc: ImportFormatError | DomainError) -> str:
    """One line for the CLI: the detail, then up to five problems."""
    lines = [exc.detail]
    for e in exc.errors[:5]:
        lines.append("  " + format_error(e))
    return "\n".join(lines)


_MEDIA_URL = re.compile(r"^/media/(\d+)/([0-9a-f]{64})\.[a-z]+$")


def thumbnail_for(url: Any) -> str | None:
    """The thumbnail URL of an image URL this app serves (``/media/P/<sha>.png``), else None."""
    if not isinstance(url, str):
        return None
    m = _MEDIA_URL.match(url)
    return thumbnail_url(int(m.group(1)), m.group(2)) if m else None


def list_imports(user: User, project_id: int, *, limit: int = 20, action: str = "view") -> list[ImportBatch]:
    """The latest imports of a project, newest first, for a user who may ``action`` in it."""
    with read_session() as s:
        require_project(s, user, project_id, action)
        return list(s.exec(select(ImportBatch).where(ImportBatch.project_id == project_id)
                           .order_by(ImportBatch.id.desc()).limit(limit)))


def media_file(user: User, project_id: int, sha256: str, ext: str, *, thumbnail: bool = False) -> tuple[Path, str, bool]:
    """The file of a stored image (or its thumbnail) for a user of a project that uses it.

    Returns ``(path, mime type, final)``: ``final`` is False when the thumbnail is not made yet
    and the original is served in its place (not to be cached for good).
    """
    from labeling.thumbnails import thumbnail_path

    with read_session() as s:
        require_project(s, user, project_id, "view")
        media = s.exec(select(Media).where(Media.sha256 == sha256)).first()
        if media is None or (not thumbnail and media.ext != ext):
            raise NotFound("no such image")
        used = s.execute(select(Task.id).where(Task.project_id == project_id, Task.media_id == media.id)
                         .limit(1)).first()
        if used is None:
            raise NotFound("no such image")
    root = get_settings().media_root
    original = media_path(root, media.sha256, media.ext)
    if thumbnail:
        thumb = thumbnail_path(root, media.sha256)
        if thumb.is_file():
            return thumb, "image/jpeg", True
        if not original.is_file():
            raise NotFound("no such image")
        return original, media.mime, False
    if not original.is_file():
        raise NotFound("the image file is missing from the media store")
    return original, media.mime, True
