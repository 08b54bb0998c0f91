"""Import: tasks, existing labels, predictions and images into a project, all or nothing.

One domain function, :func:`import_data`, serves the upload page, ``POST
/api/projects/ID/import`` and ``labelfab import``. It takes a decoded JSON body, uploaded files
or paths on disk (:mod:`labeling.imports.sources` and :mod:`labeling.imports.formats` turn
them into :class:`~labeling.imports.formats.RawItem` rows) and:

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
``DATA_DIR/imports/`` until the job has run (:func:`run_import_job`, its handler, is listed in
:mod:`labeling.jobs.registry`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labeling import jobs, limits
from labeling.access import require_project
from labeling.canonical import dumps, sha256_text
from labeling.copyrows import PlainRows
from labeling.db import is_sqlite, read_session, write_session
from labeling.errors import Conflict, DomainError, Invalid, NotFound
from labeling.imports.bulk import (
    Row,
    Stored,
    Written,
    remove_unreferenced,
    with_images,
    write,
    write_encoded,
)
from labeling.imports.formats import (
    MAX_ERRORS,
    ImportFile,
    RawItem,
    format_error,
    gc_paused,
    parse_body,
    parse_json_tasks,
    quick_thread_switches,
)
from labeling.imports.rows import Checker, Extra, Owner, check_owners, check_user_map
from labeling.imports.sources import (
    chain,
    open_paths,
    parse_files,
    stage_body,
    stage_files,
    staged_files,
    staging_root,
    with_folder_labels,
)
from labeling.imports.stream import ENCODE_AHEAD, EncodedRows, StreamedFile, encoder_pool
from labeling.jobs.broker import is_stub
from labeling.media import MediaError, media_url
from labeling.models import ImportBatch, Project, User
from labeling.schema import result_from_labels, schema_of
from labeling.settings import get_settings

__all__ = [
    "JOB_IMAGE_THRESHOLD",
    "ImportResult",
    "import_data",
    "import_items",
    "run_import_job",
]

log = logging.getLogger(__name__)

#: Uploads with more image files than this (or any zip) run as a job.
JOB_IMAGE_THRESHOLD = 50
_PROGRESS_EVERY = 5000
#: Rows of a streamed import written at a time (:func:`_run`).
_STREAM_CHUNK = 50_000

ProgressFn = Callable[[int, int | None, str], None]

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
    #: what was read but not imported, row by row (predictions given as ids, say)
    notes: list[dict] = field(default_factory=list)
    #: how every distinct ``completed_by`` was attributed (:func:`labeling.imports.rows.check_owners`)
    attribution: list[dict] = field(default_factory=list)
    #: positions (0-based) of the rows that became the tasks ``task_ids``, in that order
    row_positions: list[int] | None = None

    def as_dict(self) -> dict:
        """Label Studio's import response fields, plus labelfab's own."""
        body = {
            "task_count": self.task_count,
            "annotation_count": self.annotation_count,
            "prediction_count": self.prediction_count,
            "duration": round(self.duration, 4),
            "file_upload_ids": [],
            "found_formats": sorted({os.path.splitext(f)[1].lower() for f in self.files if "." in f}),
            # Label Studio's: a CSV, TSV or TXT file was uploaded (its rows could be tasks, or one
            # task per file); the data columns common to the uploaded files' tasks, which labelfab
            # does not collect: [], Label Studio's answer to tasks sent as JSON
            "could_be_tasks_list": any(os.path.splitext(f)[1].lower() in (".csv", ".tsv", ".txt")
                                       for f in self.files),
            "data_columns": [],
            "import": self.import_id,
            "job": self.job_id,
            "status": self.status,
            "skipped_duplicates": self.skipped_duplicates,
            "skipped_invalid": self.skipped_invalid,
            "errors": self.errors,
            "new_users": self.new_users,
            "gold_count": self.gold_count,
            "thumbnail_job": self.thumbnail_job_id,
            "notes": self.notes,
            "attribution": self.attribution,
        }
        if self.task_ids is not None:
            body["task_ids"] = self.task_ids
        return body


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
    user_map: dict[int, str] | None = None,
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
    user_map : dict, optional
        Another instance's user ids -> emails: an annotation ``completed_by`` such an id is
        attributed by that email (an existing user, or a new inactive placeholder).

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
    user_map = check_user_map(user_map)
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
            staging = stage_body(body, raw)
            if is_stub():  # the job runs in this process: hand it the parsed rows as well
                with _parsed_lock:
                    while len(_parsed) >= _PARSED_MAX:  # jobs not run here read the staged file
                        _parsed.pop(next(iter(_parsed)))
                    _parsed[staging.name] = items
            return _enqueue(user, project, {"kind": "body"}, [], staging,
                            skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids,
                            user_map=user_map)
        return _run(user.id, project_id, items, total=len(items), files=[], skip_invalid=skip_invalid,
                    dedupe=dedupe, return_task_ids=return_task_ids, progress=progress,
                    user_map=user_map)
    if files is not None:
        if not files:
            raise Invalid("no files were uploaded", [{"row": None, "file": None, "field": "file", "detail": "no files"}])
        parsed, total, n_images, has_zip = parse_files(files)
        n_text = (total or 0) - n_images
        if background is None:
            background = has_zip or n_images > JOB_IMAGE_THRESHOLD or n_text > st.import_job_threshold
        names = [f.name for f in files]
        if background:
            for it in parsed:  # close archives opened for the checks
                if hasattr(it, "close"):
                    it.close()
            return _enqueue(user, project, {"kind": "files"}, names, stage_files(files),
                            skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids,
                            user_map=user_map)
        return _run(user.id, project_id, with_folder_labels(chain(parsed), names), total=total, files=names,
                    skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids, progress=progress,
                    user_map=user_map, streams=_streamed(parsed))
    # paths (the CLI and the import job)
    sources, total = open_paths([Path(p) for p in paths or []])
    if background:
        raise Invalid("imports of paths on disk run in the calling process")
    return _run(user.id, project_id, chain(sources), total=total, files=[str(p) for p in paths or []],
                skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids, progress=progress,
                user_map=user_map, streams=_streamed(sources))


def _streamed(sources: list) -> list[StreamedFile]:
    """The streamed JSON Lines and Parquet files among the sources (with one, the rows are
    written a chunk at a time: :func:`_run`)."""
    return [src for src in sources if isinstance(src, StreamedFile)]


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


def _enqueue(user: User, project: Project, payload: dict, names: list[str], staging: Path, *,
             skip_invalid: bool, dedupe: bool, return_task_ids: bool,
             user_map: dict[int, str] | None = None) -> ImportResult:
    """The batch and its ``import`` job, in one transaction (the job is sent after it commits)."""
    try:
        with write_session() as s:
            batch = ImportBatch(project_id=project.id, user_id=user.id, status="queued", files=names)
            s.add(batch)
            s.flush()
            batch_id = batch.id
            payload = dict(payload, batch_id=batch_id, user_id=user.id, staging=staging.name,
                           skip_invalid=skip_invalid, dedupe=dedupe, return_task_ids=return_task_ids,
                           user_map={str(k): v for k, v in (user_map or {}).items()})
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
    staging = staging_root() / p["staging"]
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
            total, names, streams = len(items), [], []
        else:
            files = staged_files(staging)
            names = [f.name for f in files]
            sources, total, _, _ = parse_files(files)
            items = with_folder_labels(chain(sources), names)
            streams = _streamed(sources)

        quiet = bool(streams) and is_sqlite()

        def report(done: int, n: int | None, message: str) -> None:
            if ctx.completed:  # the import's transaction has ended the job already
                return
            if quiet:  # SQLite's one writer is the streamed import's open transaction: the
                return  # job's progress would wait for it (PostgreSQL shows it as it goes)
            ctx.progress(0.95 * done / n if n else 0.5, message)

        result = _run(user.id, ctx.project_id, items, total=total, files=names, skip_invalid=p["skip_invalid"],
                      dedupe=p["dedupe"], return_task_ids=p.get("return_task_ids", False), progress=report,
                      user_map={int(k): v for k, v in (p.get("user_map") or {}).items()},
                      batch_id=batch_id, on_commit=lambda s, r: ctx.complete(s, _job_result(r)), streams=streams)
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


# --------------------------------------------------------------------------- the import itself


def _run(user_id: int, project_id: int, items: Iterable[RawItem], *, total: int | None, files: list[str],
         skip_invalid: bool, dedupe: bool, return_task_ids: bool, progress: ProgressFn | None,
         batch_id: int | None = None, on_commit: Callable[[Session, ImportResult], None] | None = None,
         user_map: dict[int, str] | None = None, streams: list[StreamedFile] | None = None) -> ImportResult:
    """Check every row, then write them all in one transaction.

    ``streams`` (the streamed JSON Lines and Parquet files among the sources): if there is one,
    the rows are written a chunk at a time, as they are checked, into the import's one
    transaction, opened with the first chunk; memory stays that of a few chunks. A problem found
    later still rolls back everything (unless ``skip_invalid``), and once one is found nothing
    more is written. On PostgreSQL, a large JSON Lines file's plain rows are read, checked and
    encoded by worker processes (:meth:`StreamedFile.encode_plain`) while this process writes.
    """
    t0 = time.perf_counter()
    stream = bool(streams)
    with read_session() as s:
        user = s.get(User, user_id)
        project = require_project(s, user, project_id, "manage")
    if project.archived_at is not None:
        raise Conflict(f"project {project_id} is archived; unarchive it to import data")
    schema = schema_of(project)
    check = Checker(project, schema, user_map=user_map)
    notes: list[dict] = []
    rows: list[Row] = []
    extras: list[Extra] = []
    media: dict[str, Stored] = {}
    new_files: set[tuple[str, str]] = set()
    single_text_key = check.data_keys[0] if len(check.data_keys) == 1 and check.text_keys else None
    empty_meta = "{}"
    every = _PROGRESS_EVERY
    append = rows.append

    def encode(value: Any, index: int = -1, item: RawItem | None = None, fld: str = "data") -> str:
        try:
            return dumps(value)
        except (ValueError, TypeError) as exc:  # NaN or a non-JSON value handed over from Python
            check.fail(index, item, fld, f"cannot be stored as JSON ({exc})")
            return "null"

    # a streamed import: what its chunks wrote so far, in the transaction ``stack`` holds open
    stack = contextlib.ExitStack()
    session: list[Session] = []
    done = Written(import_id=batch_id or 0)
    owners: dict[tuple, int] = {}
    lines: dict[tuple, dict] = {}
    offset = 0  # the index (among all rows) of rows[0]
    encoded = 0  # rows that worker processes read, checked and encoded
    written_ids: list[int] = []

    # one chunk is written by the writer thread while the next is read and checked
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-stream") if stream else None
    pending: list = []  # the chunk being written: (future, its last row's position)

    def settle() -> None:
        """Wait for the chunk being written (raising its error) and count what it wrote."""
        nonlocal batch_id
        if not pending:
            return
        future, upto = pending.pop()
        w = future.result()
        batch_id = done.import_id = w.import_id
        for name in ("task_count", "annotation_count", "prediction_count", "skipped_duplicates",
                     "new_users", "gold_count"):
            setattr(done, name, getattr(done, name) + getattr(w, name))
        if return_task_ids:
            written_ids.extend(w.task_ids or ())
        if progress is not None:
            progress(upto, total, f"wrote {done.task_count} tasks")

    def writing() -> Session:
        """The import's transaction (a streamed import opens it with its first chunk)."""
        if not session:
            session.append(stack.enter_context(write_session()))
        return session[0]

    def flush() -> None:
        nonlocal offset
        n = len(rows)
        if n:
            for line in check_owners(check, extras):
                key = (repr(line["completed_by"]), line["how"])
                if key in lines:
                    lines[key]["annotations"] += line["annotations"]
                else:
                    lines[key] = line
        settle()
        if n and (skip_invalid or not check.errors.total):
            bad = {i - offset for i in check.bad if i >= offset}
            chunk_extras = [dataclasses.replace(e, index=e.index - offset) for e in extras]
            pending.append((writer.submit(write, writing(), user, project, rows=list(rows), extras=chunk_extras,
                                          bad=bad, media=dict(media), dedupe=dedupe, batch_id=batch_id,
                                          files=files, return_task_ids=return_task_ids, owners=owners),
                            offset + n))
        offset += n
        rows.clear()
        extras.clear()
        media.clear()

    def flush_encoded(block: EncodedRows) -> None:
        """The rows before ``block`` written first, then the block (rows a worker encoded)."""
        nonlocal offset, encoded
        flush()
        settle()
        if skip_invalid or not check.errors.total:
            pending.append((writer.submit(write_encoded, writing(), user, project, pieces=block.pieces,
                                          n_rows=block.n, batch_id=batch_id, files=files,
                                          file_name=block.file_name[:1024], return_task_ids=return_task_ids),
                            offset + block.n))
        offset += block.n
        encoded += block.n

    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="import-images")
    try:
        # The cyclic garbage collector is paused until the import ends (it is the stack's first
        # context, so it ends last): reading, checking and writing rows makes no reference cycles,
        # while each full collection walked every row held (the chunk being checked and the one
        # being written) and every module loaded; it took 40-45% of a streamed import's CPU.
        stack.enter_context(gc_paused())
        stack.enter_context(quick_thread_switches())
        simple_keys = check.text_keys if check.simple else None
        encodable = [src for src in streams or () if src.encodable] if check.simple and not dedupe else []
        if encodable and not is_sqlite():  # plain rows read, checked and encoded by worker processes
            workers = stack.enter_context(encoder_pool())
            st = get_settings()
            rules = PlainRows(tuple(check.text_keys), st.max_task_fields, st.max_task_data_kb * 1024)
            for src in encodable:
                src.encode_plain(rules, workers, ahead=ENCODE_AHEAD)
        index = -1
        for item, stored in with_images(items, pool, new_files):
            if type(item) is EncodedRows:
                flush_encoded(item)
                index += item.n
                if progress is not None:
                    progress(index + 1, total, f"checked {index + 1} rows")
                continue
            index += 1
            data = limits.check_import_row(item, check.fail, index)
            if item.prediction_ids:
                notes.append({"row": item.row, "file": item.file, "field": "predictions",
                              "detail": f"predictions {item.prediction_ids[:10]} are ids (of the instance that "
                                        "exported them), not predictions; skipped"})
            if item.annotations and item.is_gold is None and item.gold_answer is None:
                truth = _ground_truth(item)
                if truth is not None:  # Label Studio's ground truth: the task's gold answer
                    item.is_gold, item.gold_answer = True, truth
                    notes.append({"row": item.row, "file": item.file, "field": "annotations",
                                  "detail": "a ground_truth annotation: the task is a gold task with its result "
                                            "as the answer"})
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
                    append(Row(data_json, encode(meta, index, item, "meta") if meta else empty_meta,
                                file_name[:1024] if file_name else None, sha256_text(data_json), None))
                else:
                    append(Row(None, encode(meta, index, item, "meta") if meta else empty_meta,
                                file_name[:1024] if file_name else None, None, None, data))
                if progress is not None and (index + 1) % every == 0:
                    progress(index + 1, total, f"checked {index + 1} rows")
                if stream and len(rows) >= _STREAM_CHUNK:
                    flush()
                continue
            image_size = None
            sha = None
            if item.is_image:
                every = 20
                if isinstance(stored, MediaError):
                    check.fail(index, item, "audio or video" if item.is_av else "image", stored.detail)
                    data = {}
                elif check.media_keys.get(stored.kind) is None:
                    tag = {"image": "<Image>", "audio": "<Audio>", "video": "<Video>", "pdf": "<Pdf>"}[stored.kind]
                    check.fail(index, item, stored.kind, f"the label config has no {tag}, so {stored.kind} "
                               "files cannot be imported into this project")
                    data = {}
                else:
                    media[stored.sha256] = stored
                    sha = stored.sha256
                    data = dict(data)
                    data[check.media_keys[stored.kind]] = media_url(project_id, stored.sha256, stored.ext)
                    image_size = (stored.width, stored.height) if stored.kind == "image" else None
            elif (single_text_key and single_text_key != "text" and item.file_name
                  and item.file_name.lower().endswith(".txt") and list(data) == ["text"]):
                data = {single_text_key: data["text"]}  # a TXT line goes to the config's text field
            if data or not item.is_image:
                check.check_data(index, item, data)
            if item.annotations or item.predictions or item.label is not None or gold:
                extra = Extra(index, item.row, item.file)
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
                        extra.annotations.append((Owner("labels"), {
                            "result": result_from_labels(schema, item.label), "was_cancelled": False,
                            "lead_time": None}, "label"))
                extras.append(extra)
            data_json = encode(data, index, item) if index not in check.bad else "null"  # bad: never stored
            meta = item.meta
            file_name = item.file_name
            append(Row(data_json, encode(meta, index, item, "meta") if meta else empty_meta,
                        file_name[:1024] if file_name else None,
                        sha256_text(data_json) if data else None, sha))
            if progress is not None and (index + 1) % every == 0:
                progress(index + 1, total, f"checked {index + 1} rows")
            if stream and len(rows) >= _STREAM_CHUNK:
                flush()
        if not rows and not offset:
            raise Invalid("there is nothing to import", [{"row": None, "file": None, "field": None, "detail": "no rows"}])
        if stream:
            flush()
            settle()
            attribution = list(lines.values())
            if encodable and not is_sqlite():
                log.info("import #%s: %d of %d rows read, checked and encoded by worker processes", batch_id,
                         encoded, offset)
        else:
            attribution = check_owners(check, extras)
        n_rows = offset + len(rows)
        if check.errors.total and not skip_invalid:
            n_bad = len(check.bad)
            detail = (f"{check.errors.total} problem(s) in {n_bad} of {n_rows} row(s); nothing was imported"
                      + (" (the first 100 are listed)" if check.errors.total > MAX_ERRORS else "")
                      + ". First: " + format_error(check.errors.items[0]))
            raise Invalid(detail, check.errors.items)
        if progress is not None:
            progress(n_rows, total or n_rows, "saving")
        if stream and not session:  # every row was refused (skip_invalid): an import of nothing
            session.append(stack.enter_context(write_session()))
            done.import_id = write(session[0], user, project, rows=[], extras=[], bad=set(), media={},
                                   dedupe=False, batch_id=batch_id, files=files, return_task_ids=False).import_id
        with (contextlib.nullcontext(session[0]) if stream else write_session()) as s:
            if stream:
                written = done
                written.task_ids = written_ids if return_task_ids else None
                s.execute(sa.update(ImportBatch).where(ImportBatch.id == done.import_id).values(
                    status="done", task_count=done.task_count, annotation_count=done.annotation_count,
                    prediction_count=done.prediction_count, skipped_duplicates=done.skipped_duplicates))
            else:
                written = write(s, user, project, rows=rows, extras=extras, bad=check.bad, media=media,
                                dedupe=dedupe, batch_id=batch_id, files=files, return_task_ids=return_task_ids)
            result = ImportResult(files=files, **vars(written))
            result.skipped_invalid = len(check.bad)
            result.notes, result.attribution = notes, attribution
            result.errors = check.errors.items
            result.duration = time.perf_counter() - t0
            if return_task_ids and not dedupe:
                result.row_positions = [i for i in range(len(rows)) if i not in check.bad]
            s.execute(sa.update(ImportBatch).where(ImportBatch.id == result.import_id)
                      .values(duration=result.duration, errors=result.errors))
            if media and result.task_count:
                from labeling.thumbnails import enqueue_thumbnails

                result.thumbnail_job_id = enqueue_thumbnails(project_id=project_id, created_by=user_id, session=s)
            if result.task_count:  # the project's ML backend pre-labels the new tasks, as a job
                from labeling.ml import request_predictions

                request_predictions(s, project_id, reason="import", created_by=user_id)
            if on_commit is not None:
                on_commit(s, result)
        stack.close()  # a streamed import's transaction commits
    except BaseException as exc:
        if writer is not None:
            writer.shutdown(wait=True, cancel_futures=True)  # the chunk being written ends first
        stack.__exit__(type(exc), exc, exc.__traceback__)  # a streamed import's transaction rolls back
        pool.shutdown(wait=True, cancel_futures=True)
        remove_unreferenced(new_files)
        raise
    pool.shutdown(wait=True)
    if writer is not None:
        writer.shutdown(wait=True)
    if check.bad:
        remove_unreferenced(new_files)
    if progress is not None:
        progress(n_rows, total or n_rows, "done")
    return result


def import_items(user: User, project_id: int, items: list[RawItem], *, files: list[str],
                 on_commit: Callable[[Session, ImportResult], None]) -> ImportResult:
    """Rows read elsewhere (a storage's sync) through the same checks and bulk writing as every
    import: invalid rows are skipped and reported, and ``on_commit(session, result)`` runs inside
    the import's transaction with ``task_ids`` and ``row_positions`` (which row made which task)."""
    return _run(user.id, project_id, items, total=len(items), files=files, skip_invalid=True, dedupe=False,
                return_task_ids=True, progress=None, on_commit=on_commit)


def _ground_truth(item: RawItem) -> Any:
    """The result of a task's (last) ``ground_truth: true`` annotation that was not skipped, or None."""
    found = None
    for ann in item.annotations:
        if type(ann) is dict and ann.get("ground_truth") is True and ann.get("was_cancelled") is not True:
            found = ann.get("result")
    return found
