"""Which tasks an export takes, and with which final labels and splits.

The clean export (:mod:`labeling.exports.service`) reads a consistent snapshot (one read
transaction, :class:`Selection`) in one pass, in id order, ``batch_size`` tasks per query
(keyset pagination on the primary key, task data as stored JSON text, no ORM objects): the
final label of each task (``Task.final_label``, else the latest reviewer result, else
:func:`labeling.aggregation.final_label` over the annotations), filtered by state, label,
annotator and date (:class:`~labeling.exports.options.Filters`; gold tasks only when asked), with its split: the one a
published version gave it, kept (:mod:`labeling.splits`, :meth:`Selection.keep_splits`), else drawn
as the tasks go by (:class:`~labeling.exports.options.SplitAssigner`: deterministic and stratified by label), as the next
version will draw it. The tasks come out as
:class:`Batch` columns, their data mapped for the output by a :class:`DataMap` (image URLs as
files, absolute URLs or local paths).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from labeling import canonical, limits, tally
from labeling.aggregation import final_label, label_names, label_value
from labeling.db import get_engine, read_session
from labeling.errors import Conflict, Invalid
from labeling.exports.options import SPLIT_NAMES, Filters, SplitAssigner, Splits
from labeling.media import parse_media_url
from labeling.mediastore import local_path
from labeling.models import Annotation, Project, ReviewDecision, Task, TaskState, User
from labeling.schema import LabelSchema, schema_of
from labeling.thumbnails import project_media

__all__ = [
    "BATCH",
    "Batch",
    "DataMap",
    "Record",
    "Selection",
    "Stats",
    "annotated_tasks",
    "check_filters",
    "no_items_error",
    "state_counts",
]

#: Tasks per query of the clean export.
BATCH = 5000
_MEDIA_RELATIVE = re.compile(r"^images/([0-9a-f]{64})\.([a-z0-9]{2,5})$")  # media as files, in a zip
# Stored JSON as it is, in canonical form (ARCHITECTURE.md, "labeling/ — the domain": canonical).
_dumps = partial(canonical.dumps, allow_nan=True)


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


class DataMap:
    """Maps a task's data JSON text for the output: image URLs this app serves become
    ``images/<sha>.<ext>`` (media as files), absolute URLs (``base_url``) or local paths (for
    the converter); ``canonical`` re-encodes with sorted keys. Without either: the text as
    stored, untouched (the fast path).

    Media as files or local paths take only the images that belong to the project
    (:func:`labeling.thumbnails.project_media`), looked up once per image in the selection's
    transaction (:meth:`Selection.bind`): an image of another project named in task data keeps
    its URL, is never packed or handed to the converter, and is listed in :attr:`skipped`.
    """

    def __init__(self, schema: LabelSchema, *, media: str = "urls", base_url: str = "",
                 canonical: bool = False):
        self.keys = [o.value_key for o in schema.objects.values() if o.tag == "Image"]
        self.media = media
        self.base_url = base_url.rstrip("/")
        self.canonical = canonical
        self.used: dict[str, tuple[str, str]] = {}  # file name -> (sha256, ext)
        self.skipped: dict[str, tuple[str, str]] = {}  # named, not the project's: left out
        self.identity = not canonical and (not self.keys or (media == "urls" and not self.base_url))
        self._conn: Connection | None = None
        self._project_id: int | None = None
        self._owned: dict[str, bool] = {}

    def bind(self, conn: Connection, project_id: int) -> None:
        """Look up whose images are named through ``conn`` (the export's read transaction)."""
        self._conn, self._project_id = conn, project_id

    def _belongs(self, sha: str) -> bool:
        owned = self._owned.get(sha)
        if owned is None:
            if self._conn is None or self._project_id is None:
                raise RuntimeError("DataMap.bind() the export's connection before mapping media as files")
            owned = self._owned[sha] = bool(project_media(self._conn, self._project_id, [sha]))
        return owned

    def _image(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        served = parse_media_url(value)
        if served is not None:
            _, sha, ext = served
        elif self.media == "local" and (m := _MEDIA_RELATIVE.match(value)) is not None:
            sha, ext = m.group(1), m.group(2)
        else:
            return value
        name = f"{sha}.{ext}"
        if self.media in ("files", "local"):
            if not self._belongs(sha):
                self.skipped[name] = (sha, ext)
                return value
            self.used[name] = (sha, ext)
        if self.media == "files":
            return f"images/{name}"
        if self.media == "local":
            return str(local_path(sha, ext))
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

    def __init__(self, project: Project, *, filters: Filters, splits: Splits, batch_size: int = BATCH):
        self.project = project
        self.schema = schema_of(project)
        self.filters = filters
        self.splits = splits
        self.batch_size = max(1, batch_size)
        self.labeler = _Labeler(self.schema)
        self.stats = Stats()
        self.place: Any = None  # labeling.splits.Placement: the splits the versions keep
        self._pending: dict[int, int] | None = None  # id -> split of tasks the next version places
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

    def bind(self, *maps: DataMap) -> None:
        """Let data maps applied by writers (not :meth:`records`) look up the project's media."""
        for data_map in maps:
            data_map.bind(self.conn, self.project.id)

    def _annotator(self) -> int | None:
        who = self.filters.annotator
        if who is None:
            return None
        u = User.__table__
        q = sa.select(u.c.id).where(u.c.id == int(who)) if limits.is_id(who) else \
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
        if f.gold:  # gold tasks stay open on their own track: taken whatever the states asked
            conds = [project == self.project.id,
                     sa.or_(t.c.is_gold == sa.true(), sa.and_(t.c.is_gold == sa.false(), t.c.state.in_(f.states)))]
        else:
            conds = [project == self.project.id, t.c.is_gold == sa.false(), t.c.state.in_(f.states)]
        if f.since is not None:
            conds.append(t.c.updated_at >= f.since)
        if f.until is not None:
            conds.append(t.c.updated_at < f.until)
        if self.annotator_id is not None:
            conds.append(sa.exists().where(a.c.task_id == t.c.id, a.c.user_id == self.annotator_id,
                                           a.c.was_cancelled == sa.false()))
        return conds

    def keep_splits(self, place: Any) -> None:
        """Write each task's split as the dataset versions keep it (ARCHITECTURE.md, Datasets).

        ``place`` is :func:`labeling.splits.placement` read in this selection's transaction. A
        task a version released has its stored split; the tasks the next version would release
        (accepted, not gold, not yet placed) get the splits it will give them (the generation's
        draws carried on, in id order, whatever this export's filters leave out); any other task
        exported (another state, a gold task) a draw of the same rule on a stream of its own, so
        that it moves no other task's split.
        """
        self.place = place
        if self.filters != Filters():  # else the export streams exactly the next version's tasks
            self._pending = self._next_version(place)

    def _next_version(self, place: Any) -> dict[int, int]:
        """The splits the next version gives the tasks it would release that no version placed."""
        t = Task.__table__
        q = (sa.select(t.c.id, sa.cast(t.c.final_label, sa.Text))
             .where(t.c.project_id == self.project.id, t.c.is_gold == sa.false(),
                    t.c.state == TaskState.accepted.value, t.c.id > sa.bindparam("after"))
             .order_by(t.c.id).limit(self.batch_size))
        out: dict[int, int] = {}
        after = -1
        while rows := self.conn.execute(q, {"after": after}).all():
            after = rows[-1][0]
            rows = [r for r in rows if r[0] not in place.stored]
            missing = [tid for tid, text in rows if _missing(text)]
            derived = _fallback_labels(self.conn, self.schema, missing) if missing else {}
            for tid, text in rows:
                if _missing(text):
                    text = derived.get(tid, (None, None))[0]
                    if text is None:
                        continue  # no label: no version releases it
                out[tid] = place.assigner((self.labeler.cache.get(text) or self.labeler(text))[4])
        return out

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
        if self.filters.gold:  # a gold task's label is its answer
            gold = t.c.is_gold == sa.true()
            cols[1] = sa.case((gold, sa.cast(t.c.gold_answer, sa.Text)), else_=sa.cast(t.c.final_label, sa.Text))
            cols[2] = sa.case((gold, sa.literal("gold")), else_=t.c.final_source)
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

    def records(self, data_map: DataMap, *, with_meta: bool = False) -> Iterator[Batch]:
        """The exported tasks in id order, a batch at a time, with their final labels and splits;
        :attr:`stats` counts them as they go."""
        wanted = set(self.filters.labels)
        labeler, cache = self.labeler, self.labeler.cache
        place, pending = self.place, self._pending
        stored: dict[int, int] = place.stored if place is not None else {}
        if place is None:
            assign = SplitAssigner(self.splits)  # drawn afresh (a dataset version places its own)
        elif pending is None:
            assign = place.assigner  # the tasks of the next version, in its order
        else:
            assign = SplitAssigner(place.splits)  # tasks no version releases: a stream of their own
        states, size, shuffled = assign.state, assign.size, assign._shuffled
        counts = self.stats.counts
        names_of = SPLIT_NAMES
        self.bind(data_map)
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
                code = stored.get(row[0]) if stored else None  # released: its version's split
                if code is None and pending is not None:
                    code = pending.get(row[0])
                if code is None:
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


# --------------------------------------------------------------------------- checks and counts


def no_items_error(project_id: int, states: tuple[str, ...], counts: dict[str, int]) -> Conflict:
    """The clear error for an export (or publish) that would be empty."""
    have = ", ".join(f"{n} {st}" for st, n in sorted(counts.items()) if n) or "no tasks"
    wanted = " or ".join(states)
    return Conflict(f"project {project_id} has no {wanted} tasks with a label to export ({have}); "
                    f"accept items through QC and review first, or choose other states or filters",
                    [{"row": None, "field": "state", "detail": f"no {wanted} tasks match"}])


def annotated_tasks(project_id: int) -> int:
    """Ordinary tasks with a submitted annotation, whatever their state: the dashboard's
    "annotated" (:func:`labeling.tally.annotated`, read from the tallies), the tasks whose
    annotations an export of every state writes (one row per annotation)."""
    with read_session() as s:
        return tally.annotated(tally.task_counts(s.connection(), [project_id])[project_id])


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


