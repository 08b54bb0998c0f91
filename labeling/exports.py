"""Exports: a project's tasks with their final labels, streamed, in Label Studio's formats and more.

Two kinds of export live here:

- :func:`iter_ls_json`: Label Studio's own ``GET /api/projects/ID/export?exportType=JSON`` (every
  annotated task with all its annotations), for clients written for Label Studio.
- :func:`export`: the *clean* export a training pipeline wants: one row per task with its final
  label (``Task.final_label``, else :func:`labeling.aggregation.final_label` over the
  annotations), accepted tasks only unless asked otherwise (filters: state, label, annotator,
  date), gold tasks never, in ``JSON`` (Label Studio tasks whose one annotation is the final
  label), ``JSON_MIN``, ``CSV``, ``TSV``, ``JSONL``, ``PARQUET`` (one row per task: ``id``,
  ``data``, ``label``, ``label_source``, ``split``), and, through
  ``label_studio_sdk.converter``, ``COCO``, ``YOLO``, ``VOC`` (boxes on images) and
  ``CONLL2003`` (spans on text). Images are referenced by URL or included as files (a zip).

The clean export reads a consistent snapshot (one read transaction) in one pass, in id order,
``batch_size`` tasks per query (keyset pagination on the primary key, task data as stored JSON
text, no ORM objects), and streams as it reads: memory stays flat whatever the size. Splits are
drawn as the tasks go by (:class:`SplitAssigner`): deterministic and stratified by label.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from labeling.access import require_project
from labeling.aggregation import final_label, label_names, label_value
from labeling.db import get_engine, read_session
from labeling.errors import Conflict, Invalid
from labeling.models import (
    Annotation,
    Prediction,
    Project,
    ReviewDecision,
    Task,
    TaskState,
    TokenScope,
    User,
)
from labeling.schema import LabelSchema
from labeling.settings import get_settings

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_FORMATS",
    "Export",
    "Filters",
    "Splits",
    "annotation_json",
    "SplitAssigner",
    "available_formats",
    "export",
    "export_project",
    "iter_ls_json",
    "parse_filters",
    "parse_splits",
    "prediction_json",
    "task_json",
]

#: Tasks per database round trip of the export.
EXPORT_BATCH = 1000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _get(row: Any, name: str) -> Any:
    """An attribute of an ORM object (or Core row) or a column of a mapping (a dict, a Core row
    mapping). No hasattr: on an ORM object a missing attribute costs an exception."""
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def annotation_json(a: Any) -> dict[str, Any]:
    """An annotation (ORM object or row mapping) as Label Studio shows it."""
    cancelled = bool(_get(a, "was_cancelled"))
    version = _get(a, "version")
    return {
        "id": _get(a, "id"),
        "result": _get(a, "result"),
        "task": _get(a, "task_id"),
        "project": _get(a, "project_id"),
        "completed_by": _get(a, "user_id"),
        "updated_by": _get(a, "user_id"),
        "was_cancelled": cancelled,
        "skip_reason": _get(a, "skip_reason"),
        "ground_truth": False,
        "lead_time": _get(a, "lead_time"),
        "version": version,
        "source": _get(a, "source"),
        "last_action": "skipped" if cancelled else ("updated" if version > 1 else "submitted"),
        "created_at": _iso(_get(a, "created_at")),
        "updated_at": _iso(_get(a, "updated_at")),
    }


def prediction_json(p: Any) -> dict[str, Any]:
    """A prediction (ORM object or row mapping) as Label Studio shows it (plus ``probs``)."""
    return {
        "id": _get(p, "id"),
        "result": _get(p, "result"),
        "score": _get(p, "score"),
        "probs": _get(p, "probs"),
        "model_version": _get(p, "model_version"),
        "task": _get(p, "task_id"),
        "project": _get(p, "project_id"),
        "created_at": _iso(_get(p, "created_at")),
        "updated_at": _iso(_get(p, "created_at")),
    }


def task_json(task: Any, *, annotations: Iterable[Any] = (), predictions: Iterable[Any] = (),
              private: bool = False) -> dict[str, Any]:
    """A task (ORM object or row mapping) in Label Studio's task format.

    Parameters
    ----------
    task : Task or row mapping
    annotations, predictions : iterable
        ORM objects or row mappings to embed (the caller decides who may see which).
    private : bool
        Add labelfab's workflow fields (state, priority, gold flag, final label); for leads and
        reviewers only, since an annotator must not learn which tasks are gold.
    """
    preds = [prediction_json(p) for p in predictions]
    n_annotations = _get(task, "n_annotations")
    out = {
        "id": _get(task, "id"),
        "data": _get(task, "data"),
        "meta": _get(task, "meta"),
        "project": _get(task, "project_id"),
        "inner_id": _get(task, "id"),
        "file_upload": _get(task, "file_name"),
        "is_labeled": n_annotations >= _get(task, "target_overlap"),
        "overlap": _get(task, "target_overlap"),
        "total_annotations": n_annotations,
        "cancelled_annotations": _get(task, "n_skips"),
        "total_predictions": len(preds),
        "annotations": [annotation_json(a) for a in annotations],
        "predictions": preds,
        "drafts": [],
        "created_at": _iso(_get(task, "created_at")),
        "updated_at": _iso(_get(task, "updated_at")),
    }
    if private:
        out.update({
            "state": _get(task, "state"),
            "priority": _get(task, "priority"),
            "requeued": _get(task, "requeued"),
            "is_gold": _get(task, "is_gold"),
            "final_label": _get(task, "final_label"),
            "final_source": _get(task, "final_source"),
        })
    return out


def iter_ls_json(project_id: int, user: User, *, download_all_tasks: bool = False,
                 ids: list[int] | None = None, batch_size: int = EXPORT_BATCH) -> Iterator[bytes]:
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

    Returns
    -------
    iterator of bytes
        Chunks that concatenate to a JSON array. Gold tasks are never exported.
    """
    with read_session() as s:
        require_project(s, user, project_id, "export")
    wanted = sorted(set(ids)) if ids else None
    return _stream(project_id, download_all_tasks=download_all_tasks, ids=wanted, batch_size=batch_size)


def _stream(project_id: int, *, download_all_tasks: bool, ids: list[int] | None,
            batch_size: int) -> Iterator[bytes]:
    t, a, p = Task.__table__, Annotation.__table__, Prediction.__table__
    yield b"["
    first, last_id = True, 0
    while True:
        q = (sa.select(t).where(t.c.project_id == project_id, t.c.id > last_id, t.c.is_gold == sa.false())
             .order_by(t.c.id).limit(batch_size))
        if not download_all_tasks:
            q = q.where((t.c.n_annotations > 0) | (t.c.n_skips > 0))
        if ids is not None:
            q = q.where(t.c.id.in_(ids))
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
        parts = []
        for row in tasks:
            anns, preds = by_task[row["id"]]
            item = task_json(row, annotations=anns, predictions=preds)
            parts.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        chunk = ",".join(parts)
        yield (chunk if first else "," + chunk).encode()
        first = False
        last_id = task_ids[-1]
        if len(tasks) < batch_size:
            break
    yield b"]"



# =========================================================================== the clean export

_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_CHUNK = 5000
SPLIT_NAMES = ("train", "validation", "test")
_MEDIA_URL = re.compile(r"^/media/\d+/([0-9a-f]{64})\.([a-z0-9]{2,5})$")
_MEDIA_RELATIVE = re.compile(r"^images/([0-9a-f]{64})\.([a-z0-9]{2,5})$")  # media as files, in a zip


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class ExportFormat:
    """An export format: Label Studio's name (``exportType``), and what it fits."""

    name: str
    title: str
    description: str
    ext: str
    mimetype: str
    kinds: tuple[str, ...] | None = None  # project kinds it fits; None: every project
    converter: bool = False  # made by label_studio_sdk.converter from Label Studio JSON on disk


EXPORT_FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("JSON", "JSON", "Label Studio JSON: each task with its final label as its one annotation.",
                 "json", "application/json"),
    ExportFormat("JSON_MIN", "JSON-MIN", "Label Studio JSON-MIN: task data with one key per control holding the "
                 "final label.", "json", "application/json"),
    ExportFormat("CSV", "CSV", "One row per task: id, the data fields of the label config, one column per "
                 "control, label_source, split.", "csv", "text/csv"),
    ExportFormat("TSV", "TSV", "As CSV, separated by tabs.", "tsv", "text/tab-separated-values"),
    ExportFormat("JSONL", "JSON Lines", "One JSON object per line: id, data, label, label_source, split.",
                 "jsonl", "application/x-ndjson"),
    ExportFormat("PARQUET", "Parquet", "Apache Parquet (row groups of 100,000 tasks): id, data (JSON text), "
                 "label, label_source, split.", "parquet", "application/vnd.apache.parquet"),
    ExportFormat("COCO", "COCO", "COCO detection JSON (a zip), made by label_studio_sdk.converter.",
                 "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("YOLO", "YOLO", "YOLO label files and classes.txt (a zip), made by label_studio_sdk.converter.",
                 "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("VOC", "Pascal VOC XML", "Pascal VOC annotation XML files (a zip), made by "
                 "label_studio_sdk.converter.", "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("CONLL2003", "CONLL2003", "Tokens with IOB tags, made by label_studio_sdk.converter.",
                 "conll", "text/plain", kinds=("ner",), converter=True),
)}

# Label Studio names that are one of ours with images included.
FORMAT_ALIASES: dict[str, tuple[str, str | None]] = {
    "COCO_WITH_IMAGES": ("COCO", "files"),
    "YOLO_WITH_IMAGES": ("YOLO", "files"),
    "JSON_LINES": ("JSONL", None),
}
MEDIA_MODES = ("urls", "files")


def _format_error(name: str) -> Invalid:
    known = ", ".join(EXPORT_FORMATS)
    return Invalid(f"unknown export format {name!r}; use one of {known}",
                   [{"row": None, "field": "exportType", "detail": f"unknown format {name!r}; known: {known}"}])


def resolve_format(name: str | None, media: str | None = None) -> tuple[ExportFormat, str]:
    """The format called ``name`` (case-insensitive, Label Studio's names) and the media mode.

    Raises
    ------
    Invalid
        An unknown format or media mode.
    """
    raw = (name or "").strip()
    key = raw.upper().replace("-", "_")
    if key in FORMAT_ALIASES:
        key, forced = FORMAT_ALIASES[key]
        media = forced or media
    fmt = EXPORT_FORMATS.get(key)
    if fmt is None:
        raise _format_error(raw)
    media = (media or "urls").strip().lower()
    if media not in MEDIA_MODES:
        raise Invalid(f"media must be one of {', '.join(MEDIA_MODES)}, got {media!r}",
                      [{"row": None, "field": "media", "detail": "urls or files"}])
    return fmt, media


def fits(fmt: ExportFormat, schema: LabelSchema) -> bool:
    """Whether ``fmt`` can express this project's labels (the converter's own rules: boxes on an
    image for COCO, YOLO and VOC, spans on a text for CONLL2003, one data field)."""
    if fmt.kinds is not None and schema.kind not in fmt.kinds:
        return False
    return not fmt.converter or len(schema.data_keys) == 1


def available_formats(project: Project) -> list[dict[str, Any]]:
    """Every format, as Label Studio's ``GET /api/projects/ID/export/formats`` lists them."""
    schema = LabelSchema.model_validate(project.label_schema)
    return [{"name": f.name, "title": f.title, "description": f.description, "disabled": not fits(f, schema),
             "tags": ["labelfab"] if f.name in ("JSONL", "PARQUET") else []}
            for f in EXPORT_FORMATS.values()]


# --------------------------------------------------------------------------- filters and splits


@dataclass(frozen=True)
class Filters:
    """Which tasks an export takes (gold tasks never).

    Attributes
    ----------
    states : tuple of str
        Task states; ``("accepted",)`` by default.
    labels : tuple of str
        Keep tasks whose final label carries one of these label names (all if empty).
    annotator : str or None
        A user id or email: keep tasks this user annotated (a submitted annotation).
    since, until : datetime or None
        Keep tasks whose last state change (``Task.updated_at``) is in ``[since, until)``.
    """

    states: tuple[str, ...] = (TaskState.accepted.value,)
    labels: tuple[str, ...] = ()
    annotator: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"states": list(self.states), "labels": list(self.labels), "annotator": self.annotator,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


def _items(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0, 0))
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} must be a date (2025-01-31) or an ISO date and time, got {text!r}",
                      [{"row": None, "field": name, "detail": "not a date"}]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_filters(*, state: str | Iterable[str] | None = None, label: str | Iterable[str] | None = None,
                  annotator: str | int | None = None, since: str | None = None,
                  until: str | None = None) -> Filters:
    """Filters from text (query arguments, CLI options); comma-separated lists allowed.

    ``state="all"`` takes every state (tasks without any label are still left out).

    Raises
    ------
    Invalid
        An unknown state, or a date that does not parse; ``errors`` names the field.
    """
    states = _items(state) or [TaskState.accepted.value]
    if "all" in states:
        states = [s.value for s in TaskState]
    known = {s.value for s in TaskState}
    bad = [s for s in states if s not in known]
    if bad:
        raise Invalid(f"unknown task state {bad[0]!r}; states are {', '.join(sorted(known))} (or all)",
                      [{"row": None, "field": "state", "detail": f"unknown state {s!r}"} for s in bad])
    who = str(annotator).strip() if annotator not in (None, "") else None
    start, end = _when(since, "since"), _when(until, "until")
    if start and end and start >= end:
        raise Invalid("since must be before until", [{"row": None, "field": "until", "detail": "before since"}])
    return Filters(states=tuple(dict.fromkeys(states)), labels=tuple(dict.fromkeys(_items(label))),
                   annotator=who, since=start, until=end)


@dataclass(frozen=True)
class Splits:
    """Train/validation/test shares and the seed that draws them."""

    seed: int = 42
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "ratios": dict(zip(SPLIT_NAMES, self.ratios, strict=True))}


def parse_splits(*, seed: str | int | None = None, split: str | None = None) -> Splits:
    """Splits from text: ``seed`` a whole number, ``split`` three shares ``80,10,10`` (or 0.8,...).

    Raises
    ------
    Invalid
        A seed that is not a whole number, or shares that are not three numbers >= 0 with a
        positive sum.
    """
    value = Splits()
    if seed not in (None, ""):
        try:
            value = Splits(seed=int(str(seed)), ratios=value.ratios)
        except ValueError:
            raise Invalid(f"seed must be a whole number, got {seed!r}",
                          [{"row": None, "field": "seed", "detail": "not a whole number"}]) from None
    if split not in (None, ""):
        try:
            shares = [float(x) for x in str(split).split(",")]
        except ValueError:
            shares = []
        if len(shares) != 3 or any(not math.isfinite(x) or x < 0 for x in shares) or sum(shares) <= 0:
            raise Invalid(f"split must be three shares train,validation,test such as 80,10,10; got {split!r}",
                          [{"row": None, "field": "split", "detail": "three numbers >= 0"}])
        total = sum(shares)
        value = Splits(seed=value.seed, ratios=tuple(round(x / total, 6) for x in shares))
    return value


def _block(ratios: tuple[float, float, float]) -> list[int]:
    """The slots of one block: the shortest list (at most 100) holding the shares exactly
    (``[0]*8 + [1] + [2]`` for 80/10/10), else 100 slots with rounded shares."""
    size = 100
    for n in range(1, 101):
        if all(abs(n * p - round(n * p)) < 1e-6 for p in ratios):
            size = n
            break
    n_val, n_test = round(size * ratios[1]), round(size * ratios[2])
    n_train = max(size - n_val - n_test, 0)
    return [0] * n_train + [1] * n_val + [2] * (size - n_train - n_val)


class SplitAssigner:
    """Deterministic, stratified train/validation/test splits, drawn as the tasks stream by.

    Within each stratum (a class; a set of labels for multi-label; one stratum for spans and
    boxes) the tasks, in id order, are dealt in blocks whose slots hold the exact shares (10
    slots for 80/10/10); the slots of each block are shuffled by a hash of the seed, the
    stratum and the block number. So the same tasks and seed give the same splits on any
    machine, every stratum is split in the given shares (up to one block), and tasks added
    later never move an earlier task to another split.

    Examples
    --------
    >>> assign = SplitAssigner(Splits(seed=1))
    >>> [assign("cat") for _ in range(10)].count(0)
    8
    """

    def __init__(self, splits: Splits):
        self.seed = splits.seed
        self.pattern = _block(splits.ratios)
        self.size = len(self.pattern)
        self.nbytes = int(math.lgamma(self.size + 1) / math.log(2)) // 8 + 9
        self.state: dict[str, list] = {}  # stratum -> [tasks seen, slots of the current block]

    def _shuffled(self, key: str, block: int) -> list[int]:
        """The block's slots shuffled (Fisher-Yates) by a number drawn from
        SHAKE-256(seed, stratum, block), a few bytes longer than log2(size!) so that every order
        is (nearly) equally likely."""
        x = int.from_bytes(hashlib.shake_256(f"{self.seed}\x1f{key}\x1f{block}".encode()).digest(self.nbytes), "big")
        slots = list(self.pattern)
        for i in range(self.size - 1, 0, -1):
            x, j = divmod(x, i + 1)
            slots[i], slots[j] = slots[j], slots[i]
        return slots

    def __call__(self, key: str) -> int:
        """The split (0 train, 1 validation, 2 test) of the next task of stratum ``key``."""
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = [0, None]
        k = st[0]
        st[0] = k + 1
        pos = k % self.size
        if pos == 0:
            st[1] = self._shuffled(key, k // self.size)
        return st[1][pos]


# --------------------------------------------------------------------------- labels


class _Labeler:
    """Final-label JSON text -> (result JSON, label value, label JSON, label names, stratum),
    memoised for classification and multi-label (a handful of distinct texts)."""

    def __init__(self, schema: LabelSchema):
        self.schema = schema
        self.memo = schema.kind in ("classification", "multilabel")
        self.cache: dict[str, tuple[str, Any, str, tuple[str, ...], str]] = {}

    def __call__(self, text: str) -> tuple[str, Any, str, tuple[str, ...], str]:
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        result = json.loads(text)
        if not isinstance(result, list):
            result = []
        value = label_value(self.schema, result)
        result_json = _dumps(result)
        names = tuple(label_names(self.schema, result))
        stratum = "\x1f".join(sorted(names)) if self.memo else ""
        out = (result_json, value, result_json if value is result else _dumps(value), names, stratum)
        if self.memo:
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[text] = out
        return out


def _missing(text: str | None) -> bool:
    return text is None or text == "null"


def _fallback_labels(conn: Connection, schema: LabelSchema, task_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Final labels of tasks that have none stored: the latest reviewer result, else
    :func:`labeling.aggregation.final_label` over the submitted annotations.

    ``task_ids`` are ascending; annotations and decisions are read by id range (index scans),
    and a task's only annotation is passed on as its JSON text, without decoding it."""
    a, r = Annotation.__table__, ReviewDecision.__table__
    texts: dict[int, list[str]] = {}
    reviewed: dict[int, str] = {}
    wanted = set(task_ids)
    for i in range(0, len(task_ids), 1000):
        lo, hi = task_ids[i], task_ids[min(i + 1000, len(task_ids)) - 1]
        q = (sa.select(a.c.task_id, sa.cast(a.c.result, sa.Text))
             .where(a.c.task_id >= lo, a.c.task_id <= hi, a.c.was_cancelled == sa.false())
             .order_by(a.c.task_id, a.c.id))
        for tid, text in conn.execute(q):
            if tid in wanted and not _missing(text):
                texts.setdefault(tid, []).append(text)
        q = (sa.select(r.c.task_id, sa.cast(r.c.result, sa.Text))
             .where(r.c.task_id >= lo, r.c.task_id <= hi, r.c.undone_at.is_(None),
                    r.c.decision.not_in(("exclude", "gold")))
             .order_by(r.c.id))
        for tid, text in conn.execute(q):
            if tid in wanted and not _missing(text):
                reviewed[tid] = text
    parsed: dict[str, list] = {}

    def load(text: str) -> list:
        value = parsed.get(text)
        if value is None:
            if len(parsed) > 10_000:
                parsed.clear()
            value = parsed[text] = json.loads(text)
        return value

    out = {}
    for tid in task_ids:
        review, mine = reviewed.get(tid), texts.get(tid, [])
        if review is not None:
            out[tid] = (review, "reviewer")
        elif len(mine) == 1:
            out[tid] = (mine[0], "single")  # final_label(schema, [one]) is that one
        elif mine:
            result, source = final_label(schema, [load(t) for t in mine])
            if result is not None:
                out[tid] = (_dumps(result), source)
    return out


# --------------------------------------------------------------------------- the selection


class Record(NamedTuple):
    """One exported task."""

    id: int
    data: str  # JSON text of the task data, after the media mapping
    result: str  # JSON text of the final result (Label Studio result items)
    label: Any  # class name, list of names, or result items
    label_json: str  # JSON text of ``label``
    source: str  # reviewer | consensus | single | majority
    split: str  # train | validation | test
    meta: str | None


@dataclass
class Batch:
    """Exported tasks as columns (parallel lists), the unit the writers consume: one list per
    field costs far less than one object per task (and gives the garbage collector nothing to
    scan: the lists hold strings and numbers)."""

    id: list[int] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    result: list[str] = field(default_factory=list)
    label: list[Any] = field(default_factory=list)
    label_json: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    meta: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.id)

    def records(self) -> Iterator[Record]:
        """The tasks one by one, for the writers that build one object per task anyway."""
        return map(Record._make, zip(self.id, self.data, self.result, self.label, self.label_json, self.source,
                                     self.split, self.meta or [None] * len(self.id), strict=True))

    def with_data(self, data: list[str]) -> Batch:
        return Batch(self.id, data, self.result, self.label, self.label_json, self.source, self.split, self.meta)


class _DataMap:
    """Maps a task's data JSON text for the output: image URLs this app serves become
    ``images/<sha>.<ext>`` (media as files), absolute URLs (``base_url``) or local paths (for
    the converter); ``canonical`` re-encodes with sorted keys. Without either: the text as
    stored, untouched (the fast path)."""

    def __init__(self, schema: LabelSchema, *, media: str = "urls", base_url: str = "",
                 canonical: bool = False):
        self.keys = [o.value_key for o in schema.objects.values() if o.tag == "Image"]
        self.media = media
        self.base_url = base_url.rstrip("/")
        self.canonical = canonical
        self.used: dict[str, tuple[str, str]] = {}  # file name -> (sha256, ext)
        self.media_root = get_settings().media_root
        self.identity = not canonical and (not self.keys or (media == "urls" and not self.base_url))

    def _image(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        m = _MEDIA_URL.match(value)
        if m is None and self.media == "local":
            m = _MEDIA_RELATIVE.match(value)
        if m is None:
            return value
        name = f"{m.group(1)}.{m.group(2)}"
        if self.media in ("files", "local"):
            self.used[name] = (m.group(1), m.group(2))
        if self.media == "files":
            return f"images/{name}"
        if self.media == "local":
            from labeling.media import media_path

            return str(media_path(self.media_root, m.group(1), m.group(2)))
        return self.base_url + value if self.base_url else value

    def __call__(self, text: str) -> str:
        if self.identity:
            return text
        data = json.loads(text)
        if isinstance(data, dict):
            for key in self.keys:
                if key in data:
                    data[key] = self._image(data[key])
        return _dumps(data)


@dataclass
class Stats:
    """What an export contained, counted as it streamed: ``counts`` maps (label names, split
    code, label source) to a number of tasks; the properties add them up."""

    counts: dict[tuple[tuple[str, ...], int, str], int] = field(default_factory=dict)
    unlabeled: int = 0  # selected tasks without any label, left out

    @property
    def n_items(self) -> int:
        return sum(self.counts.values())

    def splits(self) -> dict[str, int]:
        out = dict.fromkeys(SPLIT_NAMES, 0)
        for (_, split, _), n in self.counts.items():
            out[SPLIT_NAMES[split]] += n
        return out

    def labels(self) -> dict[str, int]:
        """Tasks carrying each label name (a multi-label task counts for each of its names)."""
        out: dict[str, int] = {}
        for (names, _, _), n in self.counts.items():
            for name in names:
                out[name] = out.get(name, 0) + n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def label_splits(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {name: dict.fromkeys(SPLIT_NAMES, 0) for name in self.labels()}
        for (names, split, _), n in self.counts.items():
            for name in names:
                out[name][SPLIT_NAMES[split]] += n
        return out

    def sources(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, _, source), n in self.counts.items():
            out[source] = out.get(source, 0) + n
        return dict(sorted(out.items()))

    def as_dict(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "unlabeled_left_out": self.unlabeled, "labels": self.labels(),
                "splits": self.splits(), "label_splits": self.label_splits(), "label_sources": self.sources()}


class Selection:
    """The tasks an export takes, read in ONE read transaction (a consistent snapshot; REPEATABLE
    READ on PostgreSQL) held open until :meth:`close`, in id order, ``batch_size`` at a time."""

    def __init__(self, project: Project, *, filters: Filters, splits: Splits, batch_size: int = _CHUNK):
        self.project = project
        self.schema = LabelSchema.model_validate(project.label_schema)
        self.filters = filters
        self.splits = splits
        self.batch_size = max(1, batch_size)
        self.labeler = _Labeler(self.schema)
        self.stats = Stats()
        engine = get_engine()
        conn = engine.connect()
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        self.conn: Connection | None = conn
        try:
            conn.begin()
            self.annotator_id = self._annotator()
            self.bounds = self._bounds()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            conn.close()

    def _annotator(self) -> int | None:
        who = self.filters.annotator
        if who is None:
            return None
        u = User.__table__
        q = sa.select(u.c.id).where(u.c.id == int(who)) if who.isdigit() else \
            sa.select(u.c.id).where(sa.func.lower(u.c.email) == who.lower())
        found = self.conn.execute(q).scalar()
        if found is None:
            raise Invalid(f"annotator {who!r}: no such user", [{"row": None, "field": "annotator",
                                                               "detail": "no such user"}])
        return found

    def _conditions(self, *, by_range: bool) -> list:
        t, a = Task.__table__, Annotation.__table__
        f = self.filters
        # In the id-range reads the project is compared as "project_id + 0" so that the database
        # walks the primary key (in order) instead of the project's index.
        project = (t.c.project_id + 0) if by_range else t.c.project_id
        conds = [project == self.project.id, t.c.is_gold == sa.false(), t.c.state.in_(f.states)]
        if f.since is not None:
            conds.append(t.c.updated_at >= f.since)
        if f.until is not None:
            conds.append(t.c.updated_at < f.until)
        if self.annotator_id is not None:
            conds.append(sa.exists().where(a.c.task_id == t.c.id, a.c.user_id == self.annotator_id,
                                           a.c.was_cancelled == sa.false()))
        return conds

    def _bounds(self) -> tuple[int, int] | None:
        t = Task.__table__
        row = self.conn.execute(sa.select(sa.func.min(t.c.id), sa.func.max(t.c.id))
                                .where(*self._conditions(by_range=False))).first()
        return None if row is None or row[0] is None else (row[0], row[1])

    def _chunks(self, *, with_meta: bool) -> Iterator[list[tuple]]:
        if self.bounds is None:
            return
        t = Task.__table__
        cols = [t.c.id, sa.cast(t.c.final_label, sa.Text), t.c.final_source, sa.cast(t.c.data, sa.Text)]
        if with_meta:
            cols.append(sa.cast(t.c.meta, sa.Text))
        q = (sa.select(*cols).where(t.c.id > sa.bindparam("after"), t.c.id <= self.bounds[1],
                                    *self._conditions(by_range=True))
             .order_by(t.c.id).limit(self.batch_size))
        after = self.bounds[0] - 1
        while True:
            result = self.conn.execute(q, {"after": after})
            rows = result.cursor.fetchall()  # plain tuples: no per-row Row objects
            result.close()
            if not rows:
                return
            yield rows
            after = rows[-1][0]
            if len(rows) < self.batch_size:
                return

    def records(self, data_map: _DataMap, *, with_meta: bool = False) -> Iterator[Batch]:
        """The exported tasks in id order, a batch at a time, with their final labels and splits;
        :attr:`stats` counts them as they go."""
        wanted = set(self.filters.labels)
        labeler, cache = self.labeler, self.labeler.cache
        assign = SplitAssigner(self.splits)
        states, size, shuffled = assign.state, assign.size, assign._shuffled
        counts = self.stats.counts
        names_of = SPLIT_NAMES
        dm = None if data_map.identity else data_map
        for rows in self._chunks(with_meta=with_meta):
            missing = [row[0] for row in rows if row[1] is None or row[1] == "null"]
            derived = _fallback_labels(self.conn, self.schema, missing) if missing else {}
            batch = Batch()
            add_id, add_data, add_result = batch.id.append, batch.data.append, batch.result.append
            add_label, add_label_json = batch.label.append, batch.label_json.append
            add_source, add_split, add_meta = batch.source.append, batch.split.append, batch.meta.append
            for row in rows:
                text, source = row[1], row[2]
                if text is None or text == "null":
                    text, source = derived.get(row[0], (None, None))
                    if text is None:
                        self.stats.unlabeled += 1
                        continue
                labels = cache.get(text) or labeler(text)
                if wanted and wanted.isdisjoint(labels[3]):
                    continue
                # SplitAssigner.__call__, inlined (this loop runs once per exported task)
                stratum = labels[4]
                st = states.get(stratum)
                if st is None:
                    st = states[stratum] = [0, None]
                k = st[0]
                st[0] = k + 1
                pos = k % size
                if pos == 0:
                    st[1] = shuffled(stratum, k // size)
                code = st[1][pos]
                source = source or "unknown"
                key = (labels[3], code, source)
                counts[key] = counts.get(key, 0) + 1
                add_id(row[0])
                add_data(row[3] if dm is None else dm(row[3]))
                add_result(labels[0])
                add_label(labels[1])
                add_label_json(labels[2])
                add_source(source)
                add_split(names_of[code])
                if with_meta:
                    add_meta(row[4])
            if batch.id:
                yield batch



# --------------------------------------------------------------------------- writers


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream whose bytes are taken out as they come (for Parquet and zip)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return False

    def seek(self, *args) -> int:
        raise io.UnsupportedOperation("this stream cannot seek")

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class Writer:
    """Turns batches of records into bytes: ``begin()``, ``rows(batch)`` per batch, ``end()``."""

    needs_meta = False

    def __init__(self, schema: LabelSchema, data_map: _DataMap | None = None):
        self.schema = schema
        self.data_map = data_map  # applied to the records by write_batches, if any

    def begin(self) -> bytes:
        return b""

    def rows(self, batch: Batch) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        return b""


class _JsonStrings(dict):
    """str -> its JSON text, made once."""

    def __missing__(self, key: str) -> str:
        value = self[key] = json.dumps(key)
        return value


_JS = _JsonStrings()


def _json_str(value: str) -> str:
    return _JS[value]


class JsonlWriter(Writer):
    def rows(self, batch: Batch) -> bytes:
        js = _JS
        return "".join([
            f'{{"id":{i},"data":{d},"label":{lj},"label_source":{js[src]},"split":{js[sp]}}}\n'
            for i, d, lj, src, sp in zip(batch.id, batch.data, batch.label_json, batch.source, batch.split,
                                         strict=True)]).encode()


class ParquetWriter(Writer):
    """Parquet, written a row group (``row_group_size`` tasks) at a time into a stream."""

    def __init__(self, schema: LabelSchema, data_map: _DataMap | None = None, *, row_group_size: int = 100_000):
        super().__init__(schema, data_map)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.multilabel = schema.kind == "multilabel"
        self.classification = schema.kind == "classification"
        label_type = pa.list_(pa.string()) if self.multilabel else pa.string()
        self.arrow_schema = pa.schema([("id", pa.int64()), ("data", pa.string()), ("label", label_type),
                                       ("label_source", pa.string()), ("split", pa.string())],
                                      metadata={b"labelfab.kind": schema.kind.encode()})
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.arrow_schema, compression="snappy")
        self.row_group_size = row_group_size
        self._cols: tuple[list, list, list, list, list] = ([], [], [], [], [])

    def _flush(self) -> None:
        if not self._cols[0]:
            return
        ids, data, labels, sources, splits = self._cols
        pa = self.pa
        table = pa.Table.from_arrays([pa.array(ids, pa.int64()), pa.array(data, pa.string()),
                                      pa.array(labels, self.arrow_schema.field("label").type),
                                      pa.array(sources, pa.string()).dictionary_encode(),
                                      pa.array(splits, pa.string()).dictionary_encode()],
                                     schema=None, names=self.arrow_schema.names)
        table = table.cast(self.arrow_schema)
        self.writer.write_table(table, row_group_size=self.row_group_size)
        self._cols = ([], [], [], [], [])

    def rows(self, batch: Batch) -> bytes:
        ids, data, labels, sources, splits = self._cols
        ids.extend(batch.id)
        data.extend(batch.data)
        labels.extend(batch.label if self.classification or self.multilabel else batch.label_json)
        sources.extend(batch.source)
        splits.extend(batch.split)
        if len(ids) >= self.row_group_size:
            self._flush()
        return self.sink.take()

    def end(self) -> bytes:
        self._flush()
        self.writer.close()
        return self.sink.take()


class LsJsonWriter(Writer):
    """Label Studio tasks whose one annotation is the final label (``ground_truth``)."""

    needs_meta = True

    def begin(self) -> bytes:
        self.first = True
        return b"["

    def rows(self, batch: Batch) -> bytes:
        js = _json_str
        parts = [
            f'{{"id":{r.id},"data":{r.data},"meta":{r.meta or "{}"},"annotations":[{{"id":{r.id},'
            f'"result":{r.result},"ground_truth":true,"was_cancelled":false,"completed_by":null,'
            f'"label_source":{js(r.source)}}}],"predictions":[],"label_source":{js(r.source)},'
            f'"split":{js(r.split)}}}' for r in batch.records()]
        out = ("" if self.first else ",") + ",".join(parts)
        self.first = False
        return out.encode()

    def end(self) -> bytes:
        return b"]"


def _prettify(values: list[dict]) -> Any:
    """label_studio_sdk.converter.utils.prettify_result, without importing the converter (slow):
    one choice or text -> the string; anything else -> the list of values without ``type``."""
    out, tag = [], None
    for v in values:
        v = dict(v)
        tag = v.pop("type")
        if tag == "Choices" and len(v.get("choices", [])) == 1:
            out.append(v["choices"][0])
        elif tag == "TextArea" and len(v.get("text", [])) == 1:
            out.append(v["text"][0])
        else:
            out.append(v)
    return out[0] if tag in ("Choices", "TextArea") and len(out) == 1 else out


def _by_control(schema: LabelSchema, result: list[dict]) -> dict[str, Any]:
    """Label Studio's JSON_MIN value per control (``prettify_result``): a class name for a single
    choice, a list of names, or the result values (spans, boxes)."""
    grouped: dict[str, list[dict]] = {}
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        try:
            control = schema.control(item.get("from_name"))
        except KeyError:
            continue
        value = dict(item["value"])
        value["type"] = control.tag
        for k in ("original_width", "original_height"):
            if k in item:
                value[k] = item[k]
        grouped.setdefault(control.name, []).append(value)
    return {name: _prettify(values) for name, values in grouped.items()}


class JsonMinWriter(Writer):
    def begin(self) -> bytes:
        self.first = True
        return b"["

    def rows(self, batch: Batch) -> bytes:
        parts = []
        for r in batch.records():
            record = json.loads(r.data)
            record = record if isinstance(record, dict) else {"data": record}
            record["id"] = r.id
            record.update(_by_control(self.schema, json.loads(r.result)))
            record["label_source"] = r.source
            record["split"] = r.split
            parts.append(_dumps(record))
        out = ("" if self.first else ",") + ",".join(parts)
        self.first = False
        return out.encode()

    def end(self) -> bytes:
        return b"]"


class CsvWriter(Writer):
    """Label Studio's CSV shape: the data fields of the config, one column per control."""

    def __init__(self, schema: LabelSchema, data_map: _DataMap | None = None, *, delimiter: str = ","):
        super().__init__(schema, data_map)
        self.delimiter = delimiter
        self.data_keys = sorted(schema.data_keys)
        self.controls = [c.name for c in schema.controls if c.name not in self.data_keys]
        self.header = ["id", *self.data_keys, *self.controls, "label_source", "split"]

    def _cell(self, value: Any) -> Any:
        if value is None or isinstance(value, str | int | float):
            return value
        return _dumps(value)

    def begin(self) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.delimiter, lineterminator="\n").writerow(self.header)
        return buf.getvalue().encode()

    def rows(self, batch: Batch) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=self.delimiter, lineterminator="\n")
        cell = self._cell
        for r in batch.records():
            data = json.loads(r.data)
            data = data if isinstance(data, dict) else {}
            labels = _by_control(self.schema, json.loads(r.result))
            w.writerow([r.id, *[cell(data.get(k)) for k in self.data_keys],
                        *[cell(labels.get(c)) for c in self.controls], r.source, r.split])
        return buf.getvalue().encode()


def make_writer(fmt: ExportFormat, schema: LabelSchema, data_map: _DataMap | None = None) -> Writer:
    """The writer of a format that is not made by the converter (JSON for those)."""
    if fmt.name == "JSONL":
        return JsonlWriter(schema, data_map)
    if fmt.name == "PARQUET":
        return ParquetWriter(schema, data_map)
    if fmt.name == "CSV":
        return CsvWriter(schema, data_map)
    if fmt.name == "TSV":
        return CsvWriter(schema, data_map, delimiter="\t")
    if fmt.name == "JSON_MIN":
        return JsonMinWriter(schema, data_map)
    return LsJsonWriter(schema, data_map)  # JSON, and the input of the converter formats


def write_batches(batches: Iterable[Batch], writers: list[Writer]) -> Iterator[list[bytes]]:
    """Feed the same records to several writers (one read, many files): yields, per step, one
    bytes chunk per writer. A writer with a ``data_map`` sees the data mapped by it."""
    yield [w.begin() for w in writers]
    for batch in batches:
        out = []
        for w in writers:
            m = w.data_map
            out.append(w.rows(batch if m is None or m.identity else batch.with_data([m(d) for d in batch.data])))
        yield out
    yield [w.end() for w in writers]


# --------------------------------------------------------------------------- zip and converter


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def zip_stream(entries: Iterable[tuple[str, Iterable[bytes], bool]]) -> Iterator[bytes]:
    """A zip archive, streamed: ``entries`` are ``(name, chunks, compress)``. Entries carry a
    fixed date so that the same content gives the same bytes."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        for name, chunks, compress in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as w:
                for chunk in chunks:
                    w.write(chunk)
                    out = sink.take()
                    if out:
                        yield out
            yield sink.take()
    yield sink.take()


def media_entries(used: dict[str, tuple[str, str]]) -> Iterator[tuple[str, Iterable[bytes], bool]]:
    """``images/<sha>.<ext>`` zip entries from the media store, in name order."""
    from labeling.media import media_path

    root = get_settings().media_root
    for name in sorted(used):
        sha, ext = used[name]
        path = media_path(root, sha, ext)
        if path.is_file():
            yield f"images/{name}", file_chunks(path), False
        else:
            log.warning("export: image %s is missing from the media store", path)


def public_url(project_id: int, name: str, base_url: str = "") -> str:
    """The URL the app serves a stored image at (absolute with ``base_url``)."""
    url = f"/media/{project_id}/{name}"
    return f"{base_url.rstrip('/')}{url}" if base_url else url


def run_converter(fmt: ExportFormat, label_config: str, ls_json: Path, out_dir: Path, *,
                  media: str, base_url: str, project_id: int) -> list[tuple[str, Path]]:
    """Convert a Label Studio JSON file (image fields: local paths) with label_studio_sdk.converter.

    Parameters
    ----------
    media : {"urls", "files", "relative"}
        How the COCO image file names end up: ``images/<name>`` for files and relative, the
        image URL for urls.

    Returns
    -------
    list of (str, Path)
        The files made, as (name in an archive, path), images left out.
    """
    from label_studio_sdk.converter import Converter

    out_dir.mkdir(parents=True, exist_ok=True)
    converter = Converter(config=label_config, project_dir=str(out_dir), download_resources=False)
    converter.convert(str(ls_json), str(out_dir), fmt.name, is_dir=False,
                      image_dir=str(out_dir / "images"), label_dir=str(out_dir / "labels"))
    media_root = str(get_settings().media_root)
    if fmt.name == "COCO":
        result = out_dir / "result.json"
        coco = json.loads(result.read_text(encoding="utf-8"))
        for image in coco.get("images", []):
            name = image.get("file_name")
            if isinstance(name, str) and name.startswith(media_root):
                name = Path(name).name
                image["file_name"] = public_url(project_id, name, base_url) if media == "urls" else f"images/{name}"
        coco.get("info", {}).update({"contributor": "labelfab", "date_created": "", "year": 0})
        result.write_text(json.dumps(coco, indent=1, ensure_ascii=False), encoding="utf-8")
    notes = out_dir / "notes.json"
    if notes.exists():  # YOLO: no dates, so that the same content gives the same bytes
        body = json.loads(notes.read_text(encoding="utf-8"))
        body.get("info", {}).update({"contributor": "labelfab", "year": 0})
        notes.write_text(json.dumps(body, indent=1), encoding="utf-8")
    files = [(p.relative_to(out_dir).as_posix(), p) for p in sorted(out_dir.rglob("*")) if p.is_file()]
    return [(name, path) for name, path in files if not name.startswith("images/")]


def converted_entries(fmt: ExportFormat, project: Project, batches: Iterable[Batch], tmp: Path, *,
                      media: str, base_url: str) -> Iterator[tuple[str, Iterable[bytes], bool]]:
    """The zip entries of a converter format: Label Studio JSON (with local image paths) is
    written to ``tmp``, converted, and its files listed; then the images (media as files) or an
    ``images.txt`` of image names and URLs (media as urls)."""
    schema = LabelSchema.model_validate(project.label_schema)
    local = _DataMap(schema, media="local")
    ls_json = tmp / "tasks.json"
    with open(ls_json, "wb") as fh:
        for parts in write_batches(batches, [LsJsonWriter(schema, local)]):
            fh.write(parts[0])
    files = run_converter(fmt, project.label_config, ls_json, tmp / "out", media=media, base_url=base_url,
                          project_id=project.id)
    for name, path in files:
        yield name, file_chunks(path), True
    if media == "files":
        yield from media_entries(local.used)
    elif media == "urls" and local.used:
        listing = "".join(f"{name}\t{public_url(project.id, name, base_url)}\n" for name in sorted(local.used))
        yield "images.txt", [listing.encode()], True


# --------------------------------------------------------------------------- the export


def no_items_error(project_id: int, states: tuple[str, ...], counts: dict[str, int]) -> Conflict:
    """The clear error for an export (or publish) that would be empty."""
    have = ", ".join(f"{n} {st}" for st, n in sorted(counts.items()) if n) or "no tasks"
    wanted = " or ".join(states)
    return Conflict(f"project {project_id} has no {wanted} tasks with a label to export ({have}); "
                    f"accept items through QC and review first, or choose other states or filters",
                    [{"row": None, "field": "state", "detail": f"no {wanted} tasks match"}])


def state_counts(project_id: int) -> dict[str, int]:
    """Non-gold tasks per state."""
    t = Task.__table__
    with read_session() as s:
        rows = s.execute(sa.select(t.c.state, sa.func.count()).where(t.c.project_id == project_id,
                                                                      t.c.is_gold == sa.false())
                         .group_by(t.c.state)).all()
    return {state: n for state, n in rows}


def check_filters(schema: LabelSchema, filters: Filters) -> None:
    """Label names of the filter must be labels of the project."""
    known = {name for c in schema.controls for name in c.labels}
    bad = [name for name in filters.labels if name not in known]
    if bad:
        raise Invalid(f"unknown label {bad[0]!r}; the project's labels are {', '.join(sorted(known))}",
                      [{"row": None, "field": "label", "detail": f"unknown label {n!r}"} for n in bad])


def start(project: Project, data_map: _DataMap | None, *, filters: Filters, splits: Splits,
          batch_size: int = _CHUNK, with_meta: bool = False) -> tuple[Selection, Iterator[Batch]]:
    """Open the selection and read its first batch now, so that an empty export is an error
    before anything is streamed.

    Returns
    -------
    (Selection, iterator of Batch)
        Close the selection when done (the iterator closes it when exhausted).

    Raises
    ------
    Conflict
        No task in the chosen states (and filters) has a label.
    """
    schema = LabelSchema.model_validate(project.label_schema)
    check_filters(schema, filters)
    selection = Selection(project, filters=filters, splits=splits, batch_size=batch_size)
    try:
        batches = selection.records(data_map or _DataMap(schema), with_meta=with_meta)
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


class Export:
    """A streamed export: iterate for the bytes; ``close()`` ends its read transaction early.

    Attributes
    ----------
    filename, mimetype : str
        For ``Content-Disposition`` and ``Content-Type``.
    stats : Stats
        What was exported, complete once the bytes are consumed.
    """

    def __init__(self, project: Project, fmt: ExportFormat, *, filters: Filters, splits: Splits,
                 media: str, base_url: str, batch_size: int):
        self.fmt = fmt
        self.project = project
        schema = LabelSchema.model_validate(project.label_schema)
        zipped = (fmt.converter and fmt.name != "CONLL2003") or media == "files"
        self.filename = f"project-{project.id}-{fmt.name.lower()}.{'zip' if zipped else fmt.ext}"
        self.mimetype = "application/zip" if zipped else fmt.mimetype
        self._tmp: Path | None = None
        if fmt.converter:
            self.selection, batches = start(project, _DataMap(schema), filters=filters, splits=splits,
                                            batch_size=batch_size, with_meta=True)
            self._tmp = Path(tempfile.mkdtemp(prefix="labelfab-export-"))
            entries = converted_entries(fmt, project, batches, self._tmp, media=media, base_url=base_url)
            if fmt.name == "CONLL2003":
                chunks = self._conll(entries)
            else:
                chunks = zip_stream(entries)
        else:
            data_map = _DataMap(schema, media=media, base_url=base_url)
            writer = make_writer(fmt, schema)
            self.selection, batches = start(project, data_map, filters=filters, splits=splits,
                                            batch_size=batch_size, with_meta=writer.needs_meta)
            body = (parts[0] for parts in write_batches(batches, [writer]))
            if zipped:
                inner = f"project-{project.id}.{fmt.ext}"

                def entries() -> Iterator[tuple[str, Iterable[bytes], bool]]:
                    yield inner, body, fmt.name != "PARQUET"
                    yield from media_entries(data_map.used)

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
           scope: str = TokenScope.full, batch_size: int = _CHUNK) -> Export:
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
        Accepted tasks by default; gold tasks are never exported.
    splits : Splits, optional
        Seed and shares of the train/validation/test split column.
    media : {"urls", "files"}, optional
        Images as URLs (made absolute with ``base_url``) or as files in a zip.
    base_url : str
        The server's address, for absolute image URLs.
    scope : str
        The caller's token scope.
    batch_size : int
        Tasks read per query.

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
        Nothing to export: no task in the chosen states has a label.
    """
    fmt, media = resolve_format(format, media)
    project = export_project(project_id, user, scope=scope)
    schema = LabelSchema.model_validate(project.label_schema)
    if not fits(fmt, schema):
        usable = [f.name for f in EXPORT_FORMATS.values() if fits(f, schema)]
        raise Invalid(f"{fmt.name} does not fit this project's labels ({schema.kind}); use one of "
                      f"{', '.join(usable)}", [{"row": None, "field": "exportType",
                                                "detail": f"{fmt.name} needs {' or '.join(fmt.kinds or ())}"}])
    if media == "files" and not any(o.tag == "Image" for o in schema.objects.values()):
        raise Invalid("media=files applies to projects with images; this project has none",
                      [{"row": None, "field": "media", "detail": "no images in this project"}])
    return Export(project, fmt, filters=filters or Filters(), splits=splits or Splits(), media=media,
                  base_url=base_url, batch_size=batch_size)
