"""Exports: a project's tasks with their final labels, streamed, in Label Studio's formats and more.

Two exports, each one domain function behind the browser, the REST API and the CLI:

- :func:`iter_ls_json`: Label Studio's own ``GET /api/projects/ID/export?exportType=JSON`` (every
  annotated task with all its annotations), for clients written for Label Studio.
- :func:`export`: the *clean* export a training pipeline wants (the export page, the API with
  any of its arguments and ``labelfab export``: the same choices give the same bytes): one row
  per task with its final label, or one per annotation (``rows``; ``JSON`` is Label Studio's
  with every annotation, the final label as extra keys), accepted tasks only unless asked
  otherwise (filters: state, label, annotator, date),
  gold tasks only when asked, with their answers (:mod:`~labeling.exports.selection`), in ``JSON``, ``JSON_MIN``, ``CSV``,
  ``TSV``, ``JSONL``, ``PARQUET`` (:mod:`~labeling.exports.writers`), and, through
  ``label_studio_sdk.converter``, ``COCO``, ``YOLO``, ``VOC`` and ``CONLL2003``
  (:mod:`~labeling.exports.converter`). Images are referenced by URL or included as files (a
  zip). It streams as it reads: memory stays flat whatever the size.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labeling import comments
from labeling import splits as placing
from labeling.access import require_project
from labeling.canonical import results_match
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.exports.converter import check_converter_config, converted_entries
from labeling.exports.options import Filters, Splits
from labeling.exports.selection import (
    BATCH,
    Batch,
    DataMap,
    Selection,
    check_filters,
    no_items_error,
    state_counts,
)
from labeling.exports.writers import (
    EXPORT_FORMATS,
    CsvWriter,
    ExportFormat,
    by_control,
    fits,
    make_writer,
    media_entries,
    resolve_format,
    skipped_entries,
    task_json,
    write_batches,
    zip_stream,
)
from labeling.models import Annotation, Prediction, Project, Task, TokenScope, User
from labeling.schema import schema_of
from labeling.spreadsheet import csv_text
from labeling.users import usernames

__all__ = ["ANNOTATION_COLUMNS", "ANNOTATION_ROW_FORMATS", "EXPORT_BATCH", "ROWS", "Export", "export",
           "export_project", "iter_ls_json", "start"]

#: Tasks per database round trip of Label Studio's export.
EXPORT_BATCH = 1000


def iter_ls_json(project_id: int, user: User, *, download_all_tasks: bool = False,
                 ids: list[int] | None = None, batch_size: int = EXPORT_BATCH,
                 include_gold: bool = False, where: Sequence[Any] = (), query: Any = None) -> Iterator[bytes]:
    """Stream a project's tasks as one Label Studio JSON array, ``batch_size`` tasks at a time.

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``export`` right in the project (checked now, before anything is streamed).
    download_all_tasks : bool
        False (Label Studio's default): only tasks with at least one annotation or skip.
    ids : list of int, optional
        Only these tasks.
    batch_size : int
        Tasks per query; each batch is read in its own short transaction.
    include_gold : bool
        Gold tasks too, with ``is_gold`` and ``gold_answer``; the annotation that gives the
        answer carries ``"ground_truth": true``, as Label Studio writes its ground truth.
    where : sequence of SQL conditions on the task table
        Further task filters (an export snapshot's task filter options).
    query : labeling.dm.filters.PrepareParams, optional
        Only the tasks a Data Manager query selects (its filters and ``selectedItems``: the data
        manager's "export" of ticked rows or of every task that matches); a query on the gold
        columns needs the right to see gold tasks.

    Returns
    -------
    iterator of bytes
        Chunks that concatenate to a JSON array. Gold tasks only when asked.
    """
    with read_session() as s:
        project = require_project(s, user, project_id, "export")
        if query is not None:
            from labeling.dm import filters, table

            table.check_query(s, user, project, query)
            where = [*where, *filters.where(query)]
    wanted = sorted(set(ids)) if ids else None
    return _stream(project_id, download_all_tasks=download_all_tasks, ids=wanted, batch_size=batch_size,
                   include_gold=include_gold, where=where)


def _stream(project_id: int, *, download_all_tasks: bool, ids: list[int] | None,
            batch_size: int, include_gold: bool = False, where: Sequence[Any] = ()) -> Iterator[bytes]:
    t, a, p = Task.__table__, Annotation.__table__, Prediction.__table__
    yield b"["
    first, last_id = True, 0
    while True:
        q = (sa.select(t).where(t.c.project_id == project_id, t.c.id > last_id)
             .order_by(t.c.id).limit(batch_size))
        if not include_gold:
            q = q.where(t.c.is_gold == sa.false())
        if not download_all_tasks:
            q = q.where((t.c.n_annotations > 0) | (t.c.n_skips > 0))
        if ids is not None:
            q = q.where(t.c.id.in_(ids))
        if where:
            q = q.where(*where)
        with read_session() as s:
            tasks = s.execute(q).mappings().all()
            if not tasks:
                break
            task_ids = [row["id"] for row in tasks]
            by_task: dict[int, tuple[list, list]] = {tid: ([], []) for tid in task_ids}
            for row in s.execute(sa.select(a).where(a.c.task_id.in_(task_ids)).order_by(a.c.id)).mappings():
                by_task[row["task_id"]][0].append(row)
            for row in s.execute(sa.select(p).where(p.c.task_id.in_(task_ids)).order_by(p.c.id)).mappings():
                by_task[row["task_id"]][1].append(row)
            remarks = comments.counts(s, task_ids)
            names = usernames((r["user_id"] for anns, _ in by_task.values() for r in anns), conn=s)
        parts = []
        for row in tasks:
            anns, preds = by_task[row["id"]]
            item = task_json(row, annotations=anns, predictions=preds, names=names,
                             comments=remarks.get(row["id"]) or comments.empty_counts())
            if row["is_gold"]:
                _ground_truth(item, row["gold_answer"])
            parts.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        chunk = ",".join(parts)
        yield (chunk if first else "," + chunk).encode()
        first = False
        last_id = task_ids[-1]
        if len(tasks) < batch_size:
            break
    yield b"]"


def _ground_truth(item: dict, answer: Any) -> None:
    """A gold task as Label Studio writes ground truth: the annotation giving the answer marked
    ``ground_truth``; the answer itself under labelfab's ``is_gold`` and ``gold_answer``."""
    item["is_gold"], item["gold_answer"] = True, answer
    for ann in item.get("annotations", ()):
        ann["ground_truth"] = answer is not None and not ann["was_cancelled"] and results_match(ann["result"], answer)


# --------------------------------------------------------------------------- the clean export


def start(project: Project, data_map: DataMap | None, *, filters: Filters, splits: Splits | None,
          batch_size: int = BATCH, with_meta: bool = False,
          keep_splits: bool = False) -> tuple[Selection, Iterator[Batch]]:
    """Open the selection and read its first batch now, so that an empty export is an error
    before anything is streamed. With ``keep_splits`` (the live export), released tasks keep
    the split their version gave them and new ones get the next version's
    (:meth:`Selection.keep_splits`); ``splits`` None means the project's.

    Returns
    -------
    (Selection, iterator of Batch)
        Close the selection when done (the iterator closes it when exhausted).

    Raises
    ------
    Conflict
        No task in the chosen states (and filters) has a label; with ``keep_splits``, ``splits``
        that differ from the project's split generation.
    """
    schema = schema_of(project)
    check_filters(schema, filters)
    selection = Selection(project, filters=filters, splits=splits or Splits(), batch_size=batch_size)
    try:
        if keep_splits:
            selection.keep_splits(placing.placement(selection.conn, project.id, splits))
        batches = selection.records(data_map or DataMap(schema), with_meta=with_meta)
        first = next(batches, None)
    except BaseException:
        selection.close()
        raise
    if first is None:
        selection.close()
        raise no_items_error(project.id, filters.states, state_counts(project.id))

    def all_batches() -> Iterator[Batch]:
        try:
            yield first
            yield from batches
        finally:
            selection.close()

    return selection, all_batches()


#: What a row of a tabular export is: a task's final label (accepted items, the dataset's
#: default) or one annotation (Label Studio's CSV: one row per annotation).
ROWS = ("final", "annotations")
#: The formats that write one row per annotation; Label Studio JSON always carries them all.
ANNOTATION_ROW_FORMATS = ("CSV", "TSV", "JSONL")
#: Label Studio's columns of an annotation row, after the task's data and the labels.
ANNOTATION_COLUMNS = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def _read_tasks(conn, ids: list[int]) -> tuple[dict[int, Any], dict[int, list], dict[int, list]]:
    """The task rows, annotations and predictions of ``ids`` (in the selection's transaction)."""
    t, a, p = Task.__table__, Annotation.__table__, Prediction.__table__
    rows = {r["id"]: r for r in conn.execute(sa.select(t).where(t.c.id.in_(ids))).mappings()}
    anns: dict[int, list] = {i: [] for i in ids}
    preds: dict[int, list] = {i: [] for i in ids}
    for r in conn.execute(sa.select(a).where(a.c.task_id.in_(ids)).order_by(a.c.id)).mappings():
        anns[r["task_id"]].append(r)
    for r in conn.execute(sa.select(p).where(p.c.task_id.in_(ids)).order_by(p.c.id)).mappings():
        preds[r["task_id"]].append(r)
    return rows, anns, preds


def _ls_json(selection: Selection, batches: Iterator[Batch]) -> Iterator[bytes]:
    """Label Studio JSON of the selected tasks: every annotation and prediction as Label Studio
    exports them, the final label (``final_label``), its source (``label_source``) and the
    ``split`` as extra keys; gold tasks (asked for) with ``ground_truth`` and their answer."""
    yield b"["
    first = True
    for batch in batches:
        rows, anns, preds = _read_tasks(selection.conn, batch.id)
        remarks = comments.counts(selection.conn, list(batch.id))
        names = usernames((r["user_id"] for found in anns.values() for r in found), conn=selection.conn)
        parts = []
        for tid, data, result, source, split in zip(batch.id, batch.data, batch.result, batch.source, batch.split,
                                                    strict=True):
            row = rows[tid]
            item = task_json(row, annotations=anns[tid], predictions=preds[tid], names=names,
                             comments=remarks.get(tid) or comments.empty_counts())
            item["data"] = json.loads(data)  # images as the export maps them
            if row["is_gold"]:
                _ground_truth(item, row["gold_answer"])
            item["final_label"], item["label_source"], item["split"] = json.loads(result), source, split
            parts.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        chunk = ",".join(parts)
        if chunk:
            yield (chunk if first else "," + chunk).encode()
            first = False
    yield b"]"


def _annotation_rows(fmt: ExportFormat, schema, selection: Selection, batches: Iterator[Batch], *,
                     csv_raw: bool = False) -> Iterator[bytes]:
    """One row per submitted annotation of the selected tasks, Label Studio's CSV columns: the
    task id, its data fields, the annotation's labels per control, then
    :data:`ANNOTATION_COLUMNS` (JSONL: the same keys, ``data`` and ``result`` whole). CSV and
    TSV cells are neutralised as :class:`CsvWriter` does, unless ``csv_raw``."""
    a, u = Annotation.__table__, User.__table__
    data_keys = sorted(schema.data_keys)
    controls = [c.name for c in schema.controls if c.name not in data_keys]
    tabular = fmt.name != "JSONL"
    if tabular:
        writer = CsvWriter(schema, delimiter="\t" if fmt.name == "TSV" else ",", raw=csv_raw)
        yield csv_text([writer.text_row(["id", *data_keys, *controls, *ANNOTATION_COLUMNS])],
                       delimiter=writer.delimiter).encode()
    for batch in batches:
        data_of = dict(zip(batch.id, batch.data, strict=True))
        q = (sa.select(a.c.id, a.c.task_id, a.c.result, a.c.created_at, a.c.updated_at, a.c.lead_time, u.c.email)
             .join(u, u.c.id == a.c.user_id)
             .where(a.c.task_id.in_(batch.id), a.c.was_cancelled == sa.false()).order_by(a.c.task_id, a.c.id))
        lines = []
        for ann_id, tid, result, created, updated, lead_time, email in selection.conn.execute(q):
            data = json.loads(data_of[tid])
            when = (created.isoformat() if created else None, updated.isoformat() if updated else None)
            if tabular:
                data = data if isinstance(data, dict) else {}
                labels = by_control(schema, result or [])
                lines.append([tid, *[writer._cell(data.get(k)) for k in data_keys],
                              *[writer._cell(labels.get(c)) for c in controls], writer._cell(email), ann_id, *when,
                              lead_time])
            else:
                lines.append(json.dumps({"id": tid, "data": data, "result": result, "annotator": email,
                                         "annotation_id": ann_id, "created_at": when[0], "updated_at": when[1],
                                         "lead_time": lead_time}, ensure_ascii=False, separators=(",", ":")))
        if tabular:
            yield csv_text(lines, delimiter=writer.delimiter).encode()
        elif lines:
            yield ("\n".join(lines) + "\n").encode()


class Export:
    """A streamed export: iterate for the bytes; ``close()`` ends its read transaction early.

    Attributes
    ----------
    filename, mimetype : str
        For ``Content-Disposition`` and ``Content-Type``.
    stats : Stats
        What was exported, complete once the bytes are consumed.
    """

    def __init__(self, project: Project, fmt: ExportFormat, *, filters: Filters, splits: Splits | None,
                 media: str, base_url: str, batch_size: int, rows: str = "final", csv_raw: bool = False):
        self.fmt = fmt
        self.project = project
        schema = schema_of(project)
        zipped = (fmt.converter and fmt.name != "CONLL2003") or media == "files"
        self.filename = f"project-{project.id}-{fmt.name.lower()}.{'zip' if zipped else fmt.ext}"
        self.mimetype = "application/zip" if zipped else fmt.mimetype
        self._tmp: Path | None = None
        #: images named in task data that are not the project's: left out (``media-skipped.txt``)
        self.media_skipped: dict[str, tuple[str, str]] = {}
        if fmt.converter:
            self.selection, batches = start(project, DataMap(schema), filters=filters, splits=splits,
                                            batch_size=batch_size, with_meta=True, keep_splits=True)
            self._tmp = Path(tempfile.mkdtemp(prefix="labelfab-export-"))
            entries = converted_entries(fmt, project, batches, self._tmp, media=media, base_url=base_url,
                                        selection=self.selection, skipped=self.media_skipped)
            if fmt.name == "CONLL2003":
                chunks = self._conll(entries)
            else:
                chunks = zip_stream(entries)
        else:
            data_map = DataMap(schema, media=media, base_url=base_url)
            writer = make_writer(fmt, schema, csv_raw=csv_raw)
            self.selection, batches = start(project, data_map, filters=filters, splits=splits,
                                            batch_size=batch_size, with_meta=writer.needs_meta, keep_splits=True)
            if fmt.name == "JSON":  # Label Studio's JSON carries every annotation
                body = _ls_json(self.selection, batches)
            elif rows == "annotations":
                body = _annotation_rows(fmt, schema, self.selection, batches, csv_raw=csv_raw)
            else:
                body = (parts[0] for parts in write_batches(batches, [writer]))
            if zipped:
                inner = f"project-{project.id}.{fmt.ext}"

                def entries() -> Iterator[tuple[str, Iterable[bytes], bool]]:
                    yield inner, body, fmt.name != "PARQUET"
                    yield from media_entries(data_map.used)
                    self.media_skipped.update(data_map.skipped)
                    yield from skipped_entries(self.media_skipped)

                chunks = zip_stream(entries())
            else:
                chunks = body
        self.stats = self.selection.stats
        self._chunks = chunks

    @staticmethod
    def _conll(entries: Iterator[tuple[str, Iterable[bytes], bool]]) -> Iterator[bytes]:
        for name, chunks, _ in entries:
            if name.endswith(".conll"):
                yield from chunks

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._chunks:
                if chunk:
                    yield chunk
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self.selection.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def export_project(project_id: int, user: User, *, scope: str = TokenScope.full) -> Project:
    """The project, if ``user`` may export it (NotFound / Forbidden otherwise)."""
    with read_session() as s:
        return require_project(s, user, project_id, "export", scope=scope)


def export(project_id: int, user: User, *, format: str = "JSONL", filters: Filters | None = None,
           splits: Splits | None = None, media: str | None = None, base_url: str = "",
           scope: str = TokenScope.full, batch_size: int = BATCH, rows: str = "final",
           csv_raw: bool = False) -> Export:
    """Export a project's tasks with their final labels (the function behind the browser form,
    ``GET /api/projects/ID/export`` and ``labelfab export``).

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``export`` right (admins and the project's leads).
    format : str
        One of :data:`EXPORT_FORMATS` (Label Studio's names; ``COCO_WITH_IMAGES`` and
        ``YOLO_WITH_IMAGES`` mean media as files).
    filters : Filters, optional
        Accepted tasks by default; gold tasks only with ``Filters.gold``.
    splits : Splits, optional
        Seed and shares of the train/validation/test split column; None: the project's. Once a
        version is published, the column is the versions' (a released task has its split, a
        new one the split the next version will give it), and ``splits`` given must be the
        current split generation's (a re-split changes them).
    media : {"urls", "files"}, optional
        Images as URLs (made absolute with ``base_url``) or as files in a zip.
    base_url : str
        The server's address, for absolute image URLs.
    scope : str
        The caller's token scope.
    batch_size : int
        Tasks read per query.
    rows : {"final", "annotations"}
        Tabular formats (CSV, TSV, JSONL): one row per task with its final label (the dataset's
        default), or one row per annotation with Label Studio's columns
        (:data:`ANNOTATION_COLUMNS`). ``JSON`` always carries every annotation, the final label
        and its source as extra keys.
    csv_raw : bool
        CSV and TSV: write every cell as it is. By default text that a spreadsheet would run
        as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a
        single quote in front (OWASP's rule, :func:`labeling.spreadsheet.csv_cell`); numbers
        stay numbers. JSON, JSON_MIN, JSON Lines and Parquet are always as stored.

    Returns
    -------
    Export
        Checked now (rights, format, filters, that something is exported); the bytes come as
        it is iterated, and its read transaction ends with the last byte or ``close()``.

    Raises
    ------
    Invalid
        An unknown format, media mode, label or annotator; a format that does not fit the
        project's labels (COCO for text classification...).
    NotFound, Forbidden
        No such project, or no right to export it.
    Conflict
        Nothing to export: no task in the chosen states has a label; ``splits`` other than the
        project's split generation.
    """
    fmt, media = resolve_format(format, media)
    if rows not in ROWS:
        raise Invalid(f"rows must be one of {', '.join(ROWS)}, got {rows!r}",
                      [{"row": None, "field": "rows", "detail": "final or annotations"}])
    if rows == "annotations" and fmt.name not in ANNOTATION_ROW_FORMATS + ("JSON",):
        raise Invalid(f"one row per annotation goes with {', '.join(ANNOTATION_ROW_FORMATS)} (JSON always "
                      f"carries every annotation); {fmt.name} writes final labels",
                      [{"row": None, "field": "rows", "detail": f"not with {fmt.name}"}])
    project = export_project(project_id, user, scope=scope)
    schema = schema_of(project)
    if not fits(fmt, schema):
        usable = [f.name for f in EXPORT_FORMATS.values() if fits(f, schema)]
        raise Invalid(f"{fmt.name} does not fit this project's labels ({schema.kind}); use one of "
                      f"{', '.join(usable)}", [{"row": None, "field": "exportType",
                                                "detail": f"{fmt.name} needs {' or '.join(fmt.kinds or ())}"}])
    check_converter_config(fmt, project.label_config)
    if media == "files" and not any(o.tag == "Image" for o in schema.objects.values()):
        raise Invalid("media=files applies to projects with images; this project has none",
                      [{"row": None, "field": "media", "detail": "no images in this project"}])
    return Export(project, fmt, filters=filters or Filters(), splits=splits, media=media,
                  base_url=base_url, batch_size=batch_size, rows=rows, csv_raw=csv_raw)
