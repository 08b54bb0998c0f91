"""Export snapshots: Label Studio's ``/api/projects/ID/exports`` (create, list, get, download,
delete), so that the SDK's snapshot calls work.

A snapshot is a project's Label Studio JSON export written once, at its creation, to
``DATA_DIR/exports/<project>/snapshot-<id>.json``: the bytes of :func:`~labeling.exports.iter_ls_json`,
the function behind ``GET /api/projects/ID/export?exportType=JSON``, so a snapshot with Label
Studio's default options equals that direct export with ``download_all_tasks=true`` (and
``only_with_annotations`` equals it without). Other formats are converted from the stored JSON by
``label_studio_sdk.converter`` at download, as Label Studio converts a snapshot.

The options are Label Studio's. Task filters (``only_with_annotations``, ``annotated``,
``finished``, ``skipped``: ``only`` or ``exclude``) are applied; annotation filters and
serialization options other than Label Studio's defaults are refused (400), never ignored, as
is a Data Manager ``view``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from labeling import projects, wire
from labeling.access import require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Invalid, NotFound
from labeling.exports.converter import run_converter
from labeling.exports.service import iter_ls_json
from labeling.exports.writers import file_chunks, fits, resolve_format, zip_stream
from labeling.limits import check_text
from labeling.models import ExportSnapshot, Project, Task, TokenScope, User
from labeling.schema import schema_of
from labeling.settings import get_settings
from labeling.spreadsheet import csv_cell, csv_text

__all__ = ["SNAPSHOT_FORMATS", "SnapshotFile", "create_snapshot", "delete_snapshot", "get_snapshot",
           "list_snapshots", "ls_export_file", "snapshot_file", "snapshot_view"]

#: Formats a snapshot downloads as: its stored JSON, and what Label Studio's converter makes of it.
SNAPSHOT_FORMATS = ("JSON", "JSON_MIN", "CSV", "TSV", "COCO", "YOLO", "VOC", "CONLL2003")
#: How many snapshots the list shows, newest first (Label Studio's limit).
LIST_LIMIT = 100
TITLE_MAX = 2048

_TASK_FILTERS = ("annotated", "finished", "skipped")
_CHOICES = ("only", "exclude", None)
#: Label Studio's defaults of the options labelfab does not apply: anything else is refused.
_ANNOTATION_DEFAULTS = {"usual": True, "ground_truth": None, "skipped": None}
_SERIALIZATION_DEFAULTS: dict[str, Any] = {"drafts": None, "predictions": None, "annotations__completed_by": None,
                                           "include_annotation_history": False, "interpolate_key_frames": False}


def _problem(field: str, detail: str) -> Invalid:
    return Invalid(f"{field}: {detail}", [{"row": None, "field": field, "detail": detail}])


def _object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _problem(field, "must be an object")
    return value


def check_options(task_filter_options: Any = None, annotation_filter_options: Any = None,
                  serialization_options: Any = None) -> tuple[dict, dict, dict]:
    """Label Studio's snapshot options, checked: the task filters applied, the rest at their
    defaults (anything else is refused, never ignored)."""
    tasks = _object(task_filter_options, "task_filter_options")
    for key, value in tasks.items():
        if key == "only_with_annotations":
            if not isinstance(value, bool):
                raise _problem("task_filter_options.only_with_annotations", "must be true or false")
        elif key in _TASK_FILTERS:
            if value not in _CHOICES:
                raise _problem(f"task_filter_options.{key}", "must be \"only\", \"exclude\" or null")
        elif key == "view":
            if value is not None:
                raise _problem("task_filter_options.view", "Data Manager views are not applied to snapshots yet")
        else:
            raise _problem(f"task_filter_options.{key}", "unknown option")
    annotations = _object(annotation_filter_options, "annotation_filter_options")
    for key, value in annotations.items():
        if key not in _ANNOTATION_DEFAULTS:
            raise _problem(f"annotation_filter_options.{key}", "unknown option")
        if value != _ANNOTATION_DEFAULTS[key]:
            raise _problem(f"annotation_filter_options.{key}",
                           f"only {_ANNOTATION_DEFAULTS[key]!r} is supported: every annotation is exported")
    serialization = _object(serialization_options, "serialization_options")
    for key, value in serialization.items():
        if key not in _SERIALIZATION_DEFAULTS:
            raise _problem(f"serialization_options.{key}", "unknown option")
        default = _SERIALIZATION_DEFAULTS[key]
        plain = value if not isinstance(value, dict) else (value.get("only_id") or None)
        if plain not in (default, None, False):
            raise _problem(f"serialization_options.{key}", "only Label Studio's default is supported")
    return tasks, annotations, serialization


def _conditions(options: dict) -> list:
    t = Task.__table__
    labeled = t.c.state.notin_(("imported", "open"))
    columns = {"annotated": t.c.n_annotations > 0, "finished": labeled, "skipped": t.c.n_skips > 0}
    where = []
    for key in _TASK_FILTERS:
        if options.get(key) == "only":
            where.append(columns[key])
        elif options.get(key) == "exclude":
            where.append(sa.not_(columns[key]))
    return where


def _folder(project_id: int) -> Path:
    return get_settings().shared_root / "exports" / str(project_id)


def _require(s, user: User, project_id: int, scope: str) -> Project:
    return require_project(s, user, project_id, "export", scope=scope)


def create_snapshot(project_id: int, user: User, *, title: str = "", task_filter_options: Any = None,
                    annotation_filter_options: Any = None, serialization_options: Any = None,
                    scope: str = TokenScope.full) -> ExportSnapshot:
    """Export a project now and keep the file (Label Studio's ``POST /api/projects/ID/exports``).

    The row is stored ``in_progress``, the JSON is streamed to a temporary file beside its place
    (its md5 and task count taken as it is written) and moved there, then the row is
    ``completed``; a failure while writing leaves it ``failed`` and no file.

    Raises
    ------
    Invalid
        An option Label Studio has that labelfab does not apply, or a bad title.
    NotFound, Forbidden
        No such project, or no right to export it (leads of the project and admins).
    """
    if title is None:
        title = ""
    if not isinstance(title, str):
        raise _problem("title", "must be a string")
    check_text(title, "title", max_chars=TITLE_MAX)
    tasks, annotations, serialization = check_options(task_filter_options, annotation_filter_options,
                                                      serialization_options)
    with write_session() as s:
        _require(s, user, project_id, scope)
        snap = ExportSnapshot(project_id=project_id, title=title, status="in_progress", created_by=user.id,
                              task_filter_options=tasks, annotation_filter_options=annotations,
                              serialization_options=serialization, counters={})
        s.add(snap)
        s.flush()
        snap_id = snap.id
    folder = _folder(project_id)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"snapshot-{snap_id}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".snapshot-{snap_id}-", suffix=".json", dir=folder)
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        where = _conditions(tasks)
        chunks = iter_ls_json(project_id, user, download_all_tasks=not tasks.get("only_with_annotations", False),
                              where=where)
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                md5.update(chunk)
        count = _count(project_id, tasks, where)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        with write_session() as s:
            failed = s.get(ExportSnapshot, snap_id)
            if failed is not None:
                failed.status, failed.finished_at = "failed", utcnow()
                s.add(failed)
        raise
    with write_session() as s:
        snap = s.get(ExportSnapshot, snap_id)
        snap.status, snap.md5, snap.finished_at = "completed", md5.hexdigest(), utcnow()
        snap.counters = {"task_number": count}
        snap.path = final.relative_to(get_settings().shared_root).as_posix()
        s.add(snap)
        s.flush()
        return snap


def _count(project_id: int, tasks: dict, where: list) -> int:
    """The tasks the snapshot wrote (counted the way :func:`iter_ls_json` chose them)."""
    t = Task.__table__
    q = sa.select(sa.func.count()).select_from(t).where(t.c.project_id == project_id, t.c.is_gold == sa.false(),
                                                        *where)
    if tasks.get("only_with_annotations"):
        q = q.where((t.c.n_annotations > 0) | (t.c.n_skips > 0))
    with read_session() as s:
        return int(s.execute(q).scalar_one())


def list_snapshots(project_id: int, user: User, *, scope: str = TokenScope.full) -> list[tuple[ExportSnapshot, User | None]]:
    """A project's snapshots, newest first (at most :data:`LIST_LIMIT`), with who made them."""
    with read_session() as s:
        _require(s, user, project_id, scope)
        rows = s.execute(select(ExportSnapshot, User).outerjoin(User, User.id == ExportSnapshot.created_by)
                         .where(ExportSnapshot.project_id == project_id)
                         .order_by(ExportSnapshot.created_at.desc(), ExportSnapshot.id.desc()).limit(LIST_LIMIT))
        return [tuple(r) for r in rows]


def get_snapshot(project_id: int, snapshot_id: int, user: User, *,
                 scope: str = TokenScope.full) -> tuple[ExportSnapshot, User | None]:
    with read_session() as s:
        _require(s, user, project_id, scope)
        snap = s.get(ExportSnapshot, snapshot_id)
        if snap is None or snap.project_id != project_id:
            raise NotFound(f"export {snapshot_id} not found in project {project_id}")
        return snap, (s.get(User, snap.created_by) if snap.created_by is not None else None)


def delete_snapshot(project_id: int, snapshot_id: int, user: User, *, scope: str = TokenScope.full) -> None:
    """Delete a snapshot and its file."""
    with write_session() as s:
        _require(s, user, project_id, scope)
        snap = s.get(ExportSnapshot, snapshot_id)
        if snap is None or snap.project_id != project_id:
            raise NotFound(f"export {snapshot_id} not found in project {project_id}")
        path = snap.path
        s.delete(snap)
    if path:
        (get_settings().shared_root / path).unlink(missing_ok=True)


def snapshot_view(snap: ExportSnapshot, creator: User | None, *, created: bool = False) -> dict:
    """A snapshot in Label Studio's ``Export`` shape (``created``: the create answer, with the options)."""
    view = {
        "id": snap.id,
        "title": snap.title,
        "created_by": wire.user_simple(creator) if creator is not None else None,
        "created_at": snap.created_at.isoformat() if snap.created_at else None,
        "finished_at": snap.finished_at.isoformat() if snap.finished_at else None,
        "status": snap.status,
        "md5": snap.md5,
        "counters": snap.counters or {},
        "converted_formats": [],
    }
    if created:
        view.update(task_filter_options=snap.task_filter_options, annotation_filter_options=snap.annotation_filter_options,
                    serialization_options=snap.serialization_options)
    return view


@dataclass
class SnapshotFile:
    """What a snapshot download sends: the bytes, their name and media type; ``close()`` removes
    a conversion's temporary folder (iterating to the end does too)."""

    chunks: Iterator[bytes]
    filename: str
    mimetype: str
    tmp: Path | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.chunks
        finally:
            self.close()

    def close(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def snapshot_file(project_id: int, snapshot_id: int, user: User, *, export_type: str | None = None,
                  csv_raw: bool = False, scope: str = TokenScope.full) -> SnapshotFile:
    """A snapshot's file in ``export_type`` (Label Studio's ``exportType``; JSON by default):
    the stored JSON as it is, or Label Studio's converter's output made from it (CSV, TSV,
    JSON_MIN and CONLL2003 one file, the others a zip, as the direct export sends them). CSV and TSV cells a spreadsheet would run are neutralised unless
    ``csv_raw``, as in every export.

    Raises
    ------
    Invalid
        A format snapshots do not convert to, or one that does not fit the project's labels.
    NotFound
        No such snapshot, or it has no file (not completed).
    """
    fmt, _ = resolve_format(export_type or "JSON")
    if fmt.name not in SNAPSHOT_FORMATS:
        raise Invalid(f"a snapshot downloads as {', '.join(SNAPSHOT_FORMATS)}; {fmt.name} is made by the "
                      "direct export (GET /api/projects/ID/export)",
                      [{"row": None, "field": "exportType", "detail": f"not for snapshots: {fmt.name}"}])
    snap, _ = get_snapshot(project_id, snapshot_id, user, scope=scope)
    if snap.status != "completed" or not snap.path:
        raise NotFound(f"export {snapshot_id} has no file (status {snap.status})")
    stored = get_settings().shared_root / snap.path
    base = f"project-{project_id}-at-{snap.created_at:%Y-%m-%d-%H-%M}-{snap.md5[:8]}"
    if fmt.name == "JSON":
        return SnapshotFile(file_chunks(stored), f"{base}.json", "application/json")
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-snapshot-"))
    return _converted(project_id, fmt, stored, base, csv_raw=csv_raw, tmp=tmp)


def ls_export_file(project_id: int, user: User, *, export_type: str, csv_raw: bool = False,
                   download_all_tasks: bool = False, ids: list[int] | None = None, include_gold: bool = False,
                   query: Any = None) -> SnapshotFile:
    """Label Studio's direct export in a format its converter makes (``GET /api/projects/ID/export``
    with ``exportType`` JSON_MIN, CSV, TSV, COCO, YOLO, VOC or CONLL2003 and Label Studio's own
    arguments only): the Label Studio JSON of the tasks it chooses (:func:`iter_ls_json`: those with
    an annotation unless ``download_all_tasks``, every annotation of each), converted as Label Studio
    converts it and as a snapshot of the same tasks downloads.

    Raises
    ------
    Invalid
        A format Label Studio's converter does not make, or one that does not fit the project.
    """
    fmt, _ = resolve_format(export_type)
    if fmt.name not in SNAPSHOT_FORMATS or fmt.name == "JSON":
        raise Invalid(f"Label Studio's export converts to {', '.join(SNAPSHOT_FORMATS[1:])}; {fmt.name} is "
                      "labelfab's clean export (add state=accepted, or any of its arguments)",
                      [{"row": None, "field": "exportType", "detail": f"not converted: {fmt.name}"}])
    chunks = iter_ls_json(project_id, user, download_all_tasks=download_all_tasks, ids=ids,
                          include_gold=include_gold, query=query)  # checks the right to export first
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-export-"))
    try:
        stored = tmp / "tasks.json"
        with open(stored, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _converted(project_id, fmt, stored, f"project-{project_id}", csv_raw=csv_raw, tmp=tmp)


def _converted(project_id: int, fmt: Any, stored: Path, base: str, *, csv_raw: bool, tmp: Path) -> SnapshotFile:
    """Label Studio JSON (the file ``stored``) converted to ``fmt`` by label_studio_sdk's converter in
    ``tmp`` (removed when the download ends, or now if the conversion fails); CSV and TSV cells a
    spreadsheet would run neutralised unless ``csv_raw``."""
    try:
        project = projects.get_project(project_id)
        if not fits(fmt, schema_of(project)):
            raise Invalid(f"{fmt.name} does not fit this project's labels ({schema_of(project).kind})",
                          [{"row": None, "field": "exportType",
                            "detail": f"{fmt.name} needs {' or '.join(fmt.kinds or ())}"}])
        files = run_converter(fmt, project.label_config, stored, tmp / "out", media="urls", base_url="",
                              project_id=project_id)
        if fmt.name in ("CSV", "TSV") and not csv_raw:
            files = [(name, _neutralised(path, "\t" if fmt.name == "TSV" else ",")) for name, path in files]
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not fmt.converter or fmt.name == "CONLL2003":  # one file, as the direct export sends these
        name, path = next(((n, p) for n, p in files if n.endswith(f".{fmt.ext}")), files[0])
        return SnapshotFile(file_chunks(path), f"{base}{Path(name).suffix or '.' + fmt.ext}", fmt.mimetype, tmp)
    entries = ((name, file_chunks(path), True) for name, path in files)
    return SnapshotFile(zip_stream(entries), f"{base}-{fmt.name.lower()}.zip", "application/zip", tmp)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _neutralised(path: Path, delimiter: str, rows_per_write: int = 1000) -> Path:
    """The converter's CSV or TSV with every text cell a spreadsheet would run neutralised
    (:func:`labeling.spreadsheet.csv_cell`; a cell that reads as a number is a number), as every
    CSV labelfab writes is."""
    out = path.with_name(path.name + ".safe")
    with open(path, newline="", encoding="utf-8") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        batch: list[list[str]] = []
        for row in csv.reader(src, delimiter=delimiter):
            batch.append([cell if _number(cell) else csv_cell(cell) for cell in row])
            if len(batch) >= rows_per_write:
                dst.write(csv_text(batch, delimiter=delimiter))
                batch = []
        if batch:
            dst.write(csv_text(batch, delimiter=delimiter))
    return out
