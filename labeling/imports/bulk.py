"""Bulk writing of an import: images to the media store, then every row in one transaction.

Images are verified and stored by content (:func:`labeling.media.store_media`), a few dozen at
a time in a thread pool (:func:`with_images`); files an import wrote that end up unreferenced
(a rollback, refused rows) are removed again (:func:`remove_unreferenced`). :func:`write` puts
everything of one import in the caller's transaction with bulk inserts straight through the
driver (executemany on SQLite, COPY on PostgreSQL; no per-row ORM objects): the
:class:`~labeling.models.ImportBatch`, new users, media, tasks, annotations, predictions and the
task events of tasks that arrive labeled (:func:`labeling.lifecycle.event_row`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Session, select

from labeling import webhooks
from labeling.bulkwrite import BulkWriter
from labeling.canonical import dumps, sha256_text
from labeling.db import read_session, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.imports.formats import RawItem
from labeling.imports.rows import Extra, Owner, chunks
from labeling.jobs.qc_trigger import tasks_labeled
from labeling.lifecycle import EVENT_COLUMNS, Cause, event_row
from labeling.media import MediaError, store_image
from labeling.media_info import store_av
from labeling.mediastore import get_store, media_key
from labeling.models import ImportBatch, Media, Project, Role, Task, TaskState, User
from labeling.pdfs import is_pdf, store_pdf
from labeling.router import prioritize_uncertain
from labeling.settings import get_settings

log = logging.getLogger(__name__)

__all__ = ["Row", "Stored", "Written", "known_hashes", "remove_unreferenced", "with_images", "write",
           "write_encoded"]

_CHUNK = 2000  # rows per executemany batch
_IMAGE_BATCH = 32  # images validated and stored concurrently


# --------------------------------------------------------------------------- images


@dataclass
class Stored:
    sha256: str
    ext: str
    mime: str
    width: int
    height: int
    size: int
    new_file: bool
    kind: str = "image"  # or "audio", "video" (labeling/media_info.py), "pdf" (labeling/pdfs.py)
    duration: float | None = None
    fps: float | None = None
    channels: int | None = None
    pages: int | None = None  # a PDF's page count


def _store_image(item: RawItem, written: set[tuple[str, str]]) -> Stored | MediaError:
    st = get_settings()
    try:
        data = item.read_image()
    except OSError as exc:
        return MediaError(f"{item.file}: cannot be read ({exc})")
    name = item.file_name or item.file
    if item.is_av:
        try:
            av, new = store_av(data, store=get_store(), name=name)
        except MediaError as exc:
            return exc
        if new:
            written.add((av.sha256, av.ext))
        return Stored(av.sha256, av.ext, av.mime, av.width, av.height, av.size, new, av.kind, av.duration, av.fps,
                      av.channels or None)
    try:
        if is_pdf(data[:1024]):
            pdf, new = store_pdf(data, store=get_store(), name=name, max_bytes=st.max_pdf_mb * 1024 * 1024,
                                 max_pages=st.max_pdf_pages)
            if new:
                written.add((pdf.sha256, pdf.ext))
            return Stored(pdf.sha256, pdf.ext, pdf.mime, pdf.width, pdf.height, pdf.size, new, "pdf", pages=pdf.pages)
        info, new = store_image(data, store=get_store(), name=name, max_pixels=st.max_image_pixels)
    except MediaError as exc:
        return exc
    if new:
        written.add((info.sha256, info.ext))  # set.add is atomic: safe from the pool's threads
    return Stored(info.sha256, info.ext, info.mime, info.width, info.height, info.size, new)


def with_images(items: Iterable[RawItem], pool: ThreadPoolExecutor,
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


@dataclass(slots=True)
class Row:
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


def remove_unreferenced(files: set[tuple[str, str]]) -> None:
    """Delete image files this import wrote that no Media row refers to (after a rollback)."""
    if not files:
        return
    store = get_store()
    try:
        with read_session() as s:
            known: set[str] = set()
            for chunk in chunks(sorted(sha for sha, _ in files), 500):
                known.update(s.exec(select(Media.sha256).where(Media.sha256.in_(chunk))))
    except sa.exc.SQLAlchemyError:
        log.exception("could not check which imported images to remove")
        return
    for sha, ext in files:
        if sha not in known:
            store.delete(media_key(sha, ext))


# --------------------------------------------------------------------------- the transaction


_PIPELINE_CHUNK = 10_000
def _write_plain(bulk: BulkWriter, rows: list[Row], ids: list[int], keep, columns: tuple[str, ...],
                 consts: dict[str, Any]) -> None:
    """Insert plain text rows, encoding chunk k+1 while a writer thread inserts chunk k.

    The database driver lets go of the GIL while SQLite (or the network to PostgreSQL) works,
    so the JSON encoding and hashing of the next chunk runs meanwhile on the other core. One
    thread at a time uses the connection: a chunk is handed over only when the last is in.
    """
    encode, digest = dumps, sha256_text

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
        for chunk in chunks(pairs, _PIPELINE_CHUNK):
            built = build(chunk)
            if pending is not None:
                pending.result()  # raises the writer's error, if any
            pending = writer.submit(bulk.insert, "task", columns, built, consts)
        pending.result()


def _insert_media(s: Session, media: dict[str, Stored]) -> dict[str, int]:
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    now = utcnow()
    # audio, video and PDFs have no thumbnail: marked ready so the thumbnails job passes them by
    rows = [{"sha256": m.sha256, "ext": m.ext, "mime": m.mime, "width": m.width, "height": m.height,
             "size": m.size, "thumbnail_ready": m.kind != "image", "duration": m.duration, "fps": m.fps,
             "channels": m.channels, "pages": m.pages, "created_at": now} for m in media.values()]
    stmt = dialect_insert(Media.__table__).on_conflict_do_nothing(index_elements=["sha256"])
    for chunk in chunks(rows, _CHUNK):
        s.execute(stmt, chunk)
    ids: dict[str, int] = {}
    for chunk in chunks(list(media), 500):
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


def known_hashes(s: Session, project_id: int, docs: dict[str, str]) -> set[str]:
    """The content hashes among ``docs`` (content hash -> the row's data as canonical JSON) that
    tasks of the project have.

    SQLite looks the hashes up in ``ix_task_project_hash``. PostgreSQL has no index of the
    hashes (migration 0031: in an import of millions of tasks its random-order inserts were the
    backend's dearest per-row cost): a task with a row's hash holds the row's data, so the GIN
    index on the data (``ix_task_data_gin``, which the data manager's filters read) finds the
    tasks whose data contains it, and the exact hash picks among them. Data without a scalar
    value anywhere (``{}``, empty lists) gives the GIN nothing to look up; those few hashes are
    looked up among the project's tasks.
    """
    seen: set[str] = set()
    if s.get_bind().dialect.name != "postgresql":
        for chunk in chunks(sorted(docs), 500):
            seen.update(s.exec(select(Task.content_hash).where(Task.project_id == project_id,
                                                               Task.content_hash.in_(chunk))))
        return seen
    indexed = sorted(h for h, d in docs.items() if _has_scalar(json.loads(d)))
    if indexed:
        # the planner expects ~1% of a large table from a hundred rows' data and finds a few
        # tasks: JIT compiling and parallel workers for that cost ~100 ms a query (for the rest of
        # the import's transaction, whose other statements are COPYs and small lookups)
        s.execute(sa.text("SET LOCAL jit = off"))
        s.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
    bare = sorted(set(docs).difference(indexed))
    for chunk in chunks(indexed, 100):
        # one GIN probe per row into one bitmap of candidate tasks; every task with one of the
        # hashes holds that row's data, so the exact condition on the hashes finds them all
        candidates = sa.cast(Task.data, JSONB).op("@>")(sa.any_(sa.cast(
            sa.bindparam("docs", [docs[h] for h in chunk], type_=ARRAY(sa.Text)), ARRAY(JSONB))))
        seen.update(s.exec(select(Task.content_hash).where(Task.project_id == project_id, candidates,
                                                           Task.content_hash.in_(chunk))))
    if bare:
        seen.update(s.exec(select(Task.content_hash).where(Task.project_id == project_id,
                                                           Task.content_hash.in_(bare))))
    return seen


def _has_scalar(value: Any) -> bool:
    """Whether a JSON value holds a string, number, boolean or null anywhere (what the GIN indexes)."""
    if isinstance(value, dict):
        return any(_has_scalar(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_scalar(v) for v in value)
    return True


@dataclass
class Written:
    """What :func:`write` wrote (the counts of an import's result)."""

    import_id: int
    task_count: int = 0
    annotation_count: int = 0
    prediction_count: int = 0
    skipped_duplicates: int = 0
    new_users: int = 0
    gold_count: int = 0
    task_ids: list[int] | None = None


def _begin(s: Session, user: User, project: Project, batch_id: int | None, files: list[str]) -> int:
    """Lock the project's row for the import and check it; make the import's batch if it has
    none yet; returns the batch's id."""
    # FOR KEY SHARE: on PostgreSQL task.project_id has no foreign key (migration 0025), so the
    # import holds its project's row as the key's check did, once; a delete waits for it
    current = s.exec(select(Project).where(Project.id == project.id).with_for_update(key_share=True)).first()
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
    return batch_id


def _consts(bulk: BulkWriter, project: Project, batch_id: int, ts: Any, file_name: str | None = None,
            *, plain: bool) -> dict[str, Any]:
    """The task columns one value fills for every row of a chunk (COPY constants on PostgreSQL,
    SQL literals on SQLite); ``plain``: also those of a plain row (text data from one file)."""
    false, null = bulk.flag(False), "null"
    consts = {"project_id": project.id, "priority": 0.0, "requeued": false, "target_overlap": project.overlap,
              "n_leases": 0, "final_label": null, "final_source": None, "import_id": batch_id, "created_at": ts,
              "updated_at": ts}
    if plain:
        consts.update(meta="{}", state=TaskState.open.value, n_annotations=0, n_skips=0, file_name=file_name,
                      media_id=None, is_gold=false, gold_answer=null)
    return consts


def write(s: Session, user: User, project: Project, *, rows: list[Row], extras: list[Extra], bad: set[int],
          media: dict[str, Stored], dedupe: bool, batch_id: int | None, files: list[str],
          return_task_ids: bool, owners: dict[tuple, int] | None = None) -> Written:
    """Everything of one import (or one chunk of a streamed import), inside the caller's
    transaction; returns what was written.

    ``owners`` keeps the annotators found or created (and the import's labels user) from one
    chunk of a streamed import to the next, so each is made once.
    """
    batch_id = _begin(s, user, project, batch_id, files)
    result = Written(import_id=batch_id)
    bulk = BulkWriter(s)

    # which rows go in
    keep = [i for i in range(len(rows)) if i not in bad] if bad else range(len(rows))
    if dedupe:
        seen = known_hashes(s, project.id, {rows[i].content_hash: rows[i].data_json for i in keep
                                            if rows[i].content_hash})
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
    owner_ids: dict[tuple, int] = owners if owners is not None else {}
    needs = [o for i in keep if i in extra_of for o, _, _ in extra_of[i].annotations]
    if needs:
        emails = sorted({o.value for o in needs if o.kind == "email"})
        existing: dict[str, int] = {}
        for chunk in chunks(emails, 500):
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
        if ("labels", None) not in owner_ids and any(o.kind == "labels" for o in needs):
            owner_ids[("labels", None)] = _labels_user(s, batch_id, files)

    def owner_id(o: Owner) -> int:
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
    # the tasks whose imported annotations reach the overlap arrive labeled, with their event
    labeled_event = event_row(Cause.imported, project_id=pid, user_id=user.id, from_state=TaskState.open,
                              to_state=TaskState.labeled, reason=f"import #{batch_id}: labeled by imported annotations",
                              now=ts)
    state_open = TaskState.open.value
    # The rows of one file share its name (a streamed JSON Lines or Parquet file): a constant
    # too, on PostgreSQL (COPY escapes it); SQLite's constants are SQL literals, never user data.
    file_names = {r.file_name for r in rows} if not extra_of else ()
    plain = (len(file_names) == 1 and (bulk.pg or None in file_names)
             and not any(r.meta_json != "{}" or r.media_sha for r in rows))
    consts = _consts(bulk, project, batch_id, ts, file_names.pop() if plain else None, plain=bool(plain))
    if plain:  # the common bulk case: only id, data and hash differ from row to row
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
                ann_rows.append((task_id, pid, owner_id(owner), dumps(a["result"]), bulk.flag(a["was_cancelled"]),
                                 "", a["lead_time"], "import", 1, ts, ts))
            for p in e.predictions:
                pred_rows.append((task_id, pid, dumps(p["result"]), p["score"],
                                  dumps(p["probs"]) if p["probs"] is not None else null, p["model_version"], ts))
            if e.gold_answer is not None:  # a gold task: its own track, open whatever it has
                is_gold, gold_answer = bulk.flag(True), dumps(e.gold_answer)
                n_gold += 1
            elif n_done >= overlap:
                state = TaskState.labeled.value
                event_rows.append(labeled_event(task_id))
        if r.data_json is None:
            r.data_json = dumps(r.data)
            r.content_hash = sha256_text(r.data_json)
        task_rows.append((task_id, r.data_json, r.meta_json, state, n_done, n_skips, r.content_hash, r.file_name,
                          media_ids[r.media_sha] if r.media_sha else None, is_gold, gold_answer))
    if not plain:
        bulk.insert("task", columns, task_rows, consts)
    bulk.insert("annotation", _ANNOTATION_COLUMNS, ann_rows)
    bulk.insert("prediction", _PREDICTION_COLUMNS, pred_rows)
    bulk.insert("task_event", EVENT_COLUMNS, event_rows)
    tasks_labeled(s.connection(), pid, len(event_rows))
    bulk.close()
    task_ids = list(ids)
    webhooks.emit_many(s, "TASKS_CREATED", pid, task_ids, lambda chunk: {"tasks": webhooks.tasks_payload(s, chunk)})
    if ann_rows:
        annotated = {row[0] for row in ann_rows}
        webhooks.emit_many(s, "ANNOTATIONS_CREATED", pid, [i for i in task_ids if i in annotated],
                           lambda chunk: {"annotation": webhooks.annotations_payload(s, task_ids=chunk),
                                          "task": webhooks.tasks_payload(s, chunk)})
    if pred_rows and project.uncertain_first:  # the model's least sure items first
        prioritize_uncertain(s.connection(), pid, sorted({r[0] for r in pred_rows}))

    result.task_count = len(ids)
    result.annotation_count = len(ann_rows)
    result.prediction_count = len(pred_rows)
    result.gold_count = n_gold
    if return_task_ids:
        result.task_ids = list(ids)
    s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(
        status="done", task_count=result.task_count, annotation_count=result.annotation_count,
        prediction_count=result.prediction_count, skipped_duplicates=result.skipped_duplicates,
        **(_id_range(min(ids), max(ids)) if ids else {})))
    return result


def write_encoded(s: Session, user: User, project: Project, *, pieces: list[bytes], n_rows: int,
                  batch_id: int | None, files: list[str], file_name: str | None,
                  return_task_ids: bool) -> Written:
    """Plain rows of one file already encoded as COPY text (:func:`labeling.copyrows.encode_block`),
    into the caller's transaction on PostgreSQL: what :func:`write` does with such rows, but the
    tasks' ids come from COPY, each row drawing the next value of the id's sequence (in the
    rows' order, as :func:`write` draws them); the ids are read back only when wanted (a
    webhook for ``TASKS_CREATED``, ``return_task_ids``)."""
    batch_id = _begin(s, user, project, batch_id, files)
    bulk = BulkWriter(s)
    conn = bulk.conn
    # every id this COPY draws lies above ``low`` (this connection's own draw before it) and is
    # at most ``high`` (its last draw): the batch's id range holds them all
    low = conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('task', 'id'))")).scalar_one()
    bulk.copy_lines("task", ("data", "content_hash"), pieces,
                    _consts(bulk, project, batch_id, bulk.ts(utcnow()), file_name, plain=True))
    high = conn.execute(sa.text("SELECT currval(pg_get_serial_sequence('task', 'id'))")).scalar_one()
    result = Written(import_id=batch_id, task_count=n_rows)
    if return_task_ids or webhooks.targets(conn, "TASKS_CREATED", project.id):
        ids = list(conn.execute(select(Task.id).where(Task.id > low, Task.id <= high, Task.import_id == batch_id)
                                .order_by(Task.id)).scalars())
        webhooks.emit_many(s, "TASKS_CREATED", project.id, ids,
                           lambda chunk: {"tasks": webhooks.tasks_payload(s, chunk)})
        result.task_ids = ids if return_task_ids else None
    s.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(
        status="done", task_count=n_rows, annotation_count=0, prediction_count=0, skipped_duplicates=0,
        **_id_range(low + 1, high)))
    return result

def _id_range(low: int, high: int) -> dict[str, sa.ColumnElement]:
    """``ImportBatch``'s id range widened to hold ``low..high`` (a streamed import's chunks
    each add theirs): the range :func:`labeling.imports.batches.import_task_ids` reads."""
    first, last = ImportBatch.first_task_id, ImportBatch.last_task_id
    return {"first_task_id": sa.case((first.is_(None) | (first > low), low), else_=first),
            "last_task_id": sa.case((last.is_(None) | (last < high), high), else_=last)}
