"""Project statistics for the dashboards: progress, throughput, labels, agreement, QC, annotators.

Every figure comes from grouped SQL queries over indexed columns (never a Python loop over task
or annotation rows); Python only reshapes grouped rows (at most one per hour and key).

- **Sums over annotations and task events** (per annotator, per hour, per label, gold answers,
  state changes per hour) are additive: they are cached per project and brought up to date
  with the rows added since (an id range), so a load reads only what is new. The key is the
  project's row count and the table's last id; a count that disagrees (rows deleted, or
  committed out of id order) recomputes in full, and so does age (:data:`CACHE_TTL`, for edits
  of existing annotations). See :func:`_incremental`.
- **Percentiles** of the time per item run in SQL: ``percentile_cont`` on PostgreSQL; on
  SQLite the two values around each percentile are read with ``LIMIT 2 OFFSET k`` walking an
  index in lead-time order, and interpolated as ``percentile_cont`` does. Cached, recomputed
  at most every :data:`PERCENTILE_REFRESH` seconds while annotations keep coming.
- **Labels** are read from the Label Studio JSON results in SQL (``json_each`` on SQLite,
  ``json_array_elements`` on PostgreSQL).
- **Agreement** (Krippendorff's alpha, Cohen's kappa, unanimity) is heavy: it comes from the
  latest QC run (``QualityRun.agreement``, written by the QC engine); what the run lacks (the
  pairs of annotators) is computed by a calculator the caller passes (``quality.agreement``
  via the web layer: ``labeling`` never imports ``quality``) and cached per project
  (recomputed at most every :data:`AGREEMENT_REFRESH` seconds while annotations change).
- Everything else (tasks by state, queues, QC runs, releases) is read live.

A panel is a dict ``{"panel", "title", "columns", "rows", ...summary}``: ``rows`` is the table
(also the CSV download, :func:`panel_csv`), the other keys are the panel's headline figures.

Public functions open their own read session and check that the caller may ``manage`` the
project (leads and admins).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import math
import multiprocessing
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from labeling.access import ACTIONS, project_role, require_project
from labeling.db import read_session, utcnow
from labeling.errors import Forbidden, Invalid
from labeling.label_config import LabelSchema
from labeling.models import (
    Annotation,
    AnnotationVersion,
    AnnotatorScore,
    DatasetVersion,
    Job,
    LabelIssue,
    Lease,
    Membership,
    Project,
    QualityRun,
    Role,
    Task,
    TaskEvent,
    TaskState,
    User,
)
from labeling.projects import visible_projects

__all__ = [
    "PANELS",
    "AgreementCalculator",
    "agreement_inputs",
    "clear_cache",
    "items",
    "overview",
    "panel_csv",
    "project_stats",
]

#: Panels in the order the dashboard shows them, with their titles.
PANELS: dict[str, str] = {
    "states": "Tasks by state",
    "progress": "Progress over time",
    "throughput": "Throughput",
    "labels": "Labels: given vs final",
    "agreement": "Agreement",
    "kappa": "Cohen's κ between annotators",
    "noise": "Noise rate per QC run",
    "confusion": "Confusion: given vs suggested",
    "confused_pairs": "Most confused pairs",
    "queues": "Queues",
    "annotators": "Annotators",
    "datasets": "Dataset versions",
}

#: Result field holding the label names, by Label Studio result type.
LABEL_FIELD = {"choices": "choices", "labels": "labels", "rectanglelabels": "rectanglelabels"}
#: The states of the production line, in order (``imported`` is folded into ``open``).
STATES = [TaskState.open, TaskState.labeled, TaskState.suspect, TaskState.review, TaskState.accepted,
          TaskState.excluded]
#: States in which annotation is finished (the task has all the labels it asked for).
ANNOTATED = {TaskState.labeled, TaskState.suspect, TaskState.review, TaskState.accepted, TaskState.excluded}
#: The states whose arrivals the progress panel counts ...
PROGRESS_STATES = ["labeled", "suspect", "accepted", "excluded"]
#: ... and the task events summed per hour for it.
EVENT_SUMS = [*PROGRESS_STATES, "annotated_in", "annotated_out", "final_in", "final_out"]
#: Time-series buckets: hours for the first days of a project, then days.
HOURLY_UP_TO = timedelta(days=3)
#: The window the finish date is extrapolated from.
RATE_WINDOW = timedelta(days=7)
CONFUSED_PAIRS = 15
NOISE_RUNS = 50

#: ``calculator(labels, class_names) -> dict``: ``labels`` is a list of ``(item, annotator,
#: label)`` triples; the result has ``alpha``, ``per_label`` ({label: alpha}), ``unanimous``,
#: ``n_items``, ``n_annotators``, ``kappa`` ([{"a", "b", "kappa", "n"}], annotators by user id)
#: and, when a figure is undefined, ``note``.
AgreementCalculator = Callable[[list[tuple[int, int, str]], list[str]], dict]

logger = logging.getLogger(__name__)

_A = Annotation.__table__
_T = Task.__table__
_E = TaskEvent.__table__
_R = QualityRun.__table__
_I = LabelIssue.__table__
_S = AnnotatorScore.__table__
_M = Membership.__table__
_U = User.__table__


# --------------------------------------------------------------------------- helpers


@dataclass
class _Ctx:
    """What every panel query needs: the connection, the project, its schema, one 'now'."""

    conn: Connection
    project: Project
    schema: LabelSchema
    now: datetime
    dialect: str
    run: Any  # the latest finished QC run (a row), or None
    agreement: AgreementCalculator | None = None
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.project.id

    @property
    def sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def rows(self, statement: Any, **params: Any) -> list[Any]:
        return list(self.conn.execute(statement, {"p": self.pid, **params}))

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


def _panel(name: str, columns: list[str], rows: list[dict], **summary: Any) -> dict:
    return {"panel": name, "title": PANELS[name], "columns": columns, "rows": rows, **summary}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _r(value: float | None, digits: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), digits)


# --------------------------------------------------------------------------- cache

_cache: OrderedDict[tuple, tuple[Any, float, Any]] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 128
#: Seconds a cached aggregate lives at most (a safety net: the keys see new, deleted and edited
#: annotations and new task events).
CACHE_TTL = 3600.0
#: Seconds between counts of a project's rows behind cached sums (and tasks by state): deleted
#: rows and rows committed out of id order show within this time.
RECOUNT_EVERY = 30.0
#: Percentiles and agreement are not additive: while annotations keep coming they are computed
#: again at most this often (seconds), and shown with the time they were computed.
PERCENTILE_REFRESH = 60.0
AGREEMENT_REFRESH = 300.0
#: Agreement computed from up to this many annotations is computed in the request; above, in
#: the background (pairwise kappa of many annotators over many items takes a while).
SYNC_AGREEMENT_UP_TO = 20_000
_running: set[tuple] = set()  # agreement computations under way (cache slots)


def _slot(name: str, ctx: _Ctx) -> tuple:
    # The project's creation time too: a deleted project's id may be given to a new one.
    return name, ctx.pid, ctx.project.created_at


def _cache_get(name: str, ctx: _Ctx) -> tuple[Any, float, Any] | None:
    """``(key, born, value)`` of a live entry, or None."""
    with _cache_lock:
        entry = _cache.get(_slot(name, ctx))
        if entry is not None and time.monotonic() - entry[1] < CACHE_TTL:
            _cache.move_to_end(_slot(name, ctx))
            return entry
        return None


def _cache_put(name: str, ctx: _Ctx, key: Any, value: Any, *, born: float | None = None) -> None:
    _cache_put_slot(_slot(name, ctx), key, value, born=born)


def _cache_put_slot(slot: tuple, key: Any, value: Any, *, born: float | None = None) -> None:
    with _cache_lock:
        _cache[slot] = (key, time.monotonic() if born is None else born, value)
        _cache.move_to_end(slot)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached statistic (tests, and after bulk changes)."""
    with _cache_lock:
        _cache.clear()


_V = AnnotationVersion.__table__


#: The annotations of the project edited since a cached sum (``:old_edits < version id <=
#: :edits``) that existed then (``id <= :after``): their current rows ...
_EDITED = ("SELECT v2.annotation_id FROM annotation_version v2 JOIN annotation a2 ON a2.id = v2.annotation_id "
           "WHERE v2.id > :old_edits AND v2.id <= :edits AND a2.project_id = :p AND a2.id <= :after")
#: ... and what they were then: each one's first version copied after the sum (a FROM source
#: with the columns of ``annotation`` the sums read).
_AS_THEN = ("(SELECT a.id, a.project_id, a.task_id, a.user_id, a.created_at, v.result, v.was_cancelled, v.lead_time "
            "FROM annotation_version v JOIN annotation a ON a.id = v.annotation_id WHERE v.id IN ("
            "SELECT min(v2.id) FROM annotation_version v2 JOIN annotation a2 ON a2.id = v2.annotation_id "
            "WHERE v2.id > :old_edits AND v2.id <= :edits AND a2.project_id = :p AND a2.id <= :after "
            "GROUP BY v2.annotation_id)) annotation")

Sums = dict[str, dict[Any, list[int]]]


def _add(sums: Sums, delta: Sums, sign: int = 1) -> Sums:
    out = {part: {k: list(v) for k, v in values.items()} for part, values in sums.items()}
    for part, values in delta.items():
        into = out.setdefault(part, {})
        for k, v in values.items():
            into[k] = [a + sign * b for a, b in zip(into.get(k, [0] * len(v)), v, strict=True)]
    return out


def _incremental(ctx: _Ctx, name: str, table: sa.Table, compute: Callable[..., Sums]) -> tuple[tuple[int, ...], Sums]:
    """Sums over the rows of ``table`` (annotations, task events) of the project, cached and
    brought up to date incrementally; they are all additive over rows.

    The key is the table's largest id and, for annotations, the largest annotation version id
    (primary-key seeks). On a change only the project's rows with ``last < id <= newest`` are
    summed and added; an annotation edited meanwhile (every edit first copies the earlier
    version into ``annotation_version``) has what it was subtracted and what it is added.
    At most every :data:`RECOUNT_EVERY` seconds the project's rows are counted: a count that
    disagrees (rows deleted, or committed out of id order) computes the sums again in full, as
    does age (:data:`CACHE_TTL`).

    ``compute(id_filter, params, source="<table>")`` returns ``{part: {key: [numbers]}}`` summed
    over the rows of ``source`` passing the SQL ``id_filter`` (bind ``params``).
    Returns ``(key, sums)``, the key being ``(rows, newest id, newest version id)``.
    """
    def count() -> int:
        return ctx.conn.execute(sa.select(sa.func.count()).select_from(table)
                                .where(table.c.project_id == ctx.pid)).scalar_one()

    newest = ctx.conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    edits = (ctx.conn.execute(sa.select(sa.func.max(_V.c.id))).scalar() or 0) if table is _A else 0
    now = time.monotonic()
    entry = _cache_get(name, ctx)
    if entry is not None:
        (old_total, old_last, old_edits), born, (counted, sums) = entry
        recount = now - counted >= RECOUNT_EVERY
        if (old_last, old_edits) == (newest, edits) and not recount:
            return (old_total, old_last, old_edits), sums
        if old_last <= newest:
            newer = ctx.conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.project_id == ctx.pid, table.c.id > old_last, table.c.id <= newest)).scalar_one()
            total = old_total + newer
            if not recount or count() == total:
                if newer:
                    sums = _add(sums, compute(f"{table.name}.id > :after AND {table.name}.id <= :upto",
                                              {"after": old_last, "upto": newest}))
                if edits != old_edits:
                    params = {"after": old_last, "old_edits": old_edits, "edits": edits}
                    sums = _add(sums, compute(f"annotation.id IN ({_EDITED})", params, source=_AS_THEN), -1)
                    sums = _add(sums, compute(f"annotation.id IN ({_EDITED})", params))
                key = (total, newest, edits)
                _cache_put(name, ctx, key, (now if recount else counted, sums), born=born)
                return key, sums
    # In full: '+id' keeps the planner on the covering indexes instead of a primary-key range.
    total = count()
    sums = compute(f"+{table.name}.id <= :upto", {"upto": newest})
    key = (total, newest, edits)
    _cache_put(name, ctx, key, (now, sums))
    return key, sums


# --------------------------------------------------------------------------- time series


def _hour_sql(ctx: _Ctx, column: str) -> str:
    """SQL of ``column`` cut to the hour as text ``YYYY-MM-DD HH`` (UTC)."""
    if ctx.sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (labeling.models.UTCDateTime)
        return f"substr({column}, 1, 13)"
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def _hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC)


def _series(hourly: dict[str, list[int]], keys: list[str]) -> tuple[str, list[dict]]:
    """Counts per hour -> ``(unit, rows)`` per hour for up to three days, per day for up to 400
    days, then per week; periods without any count are rows of zeros (charts show the gaps)."""
    hours = sorted(h for h, v in hourly.items() if any(v))
    if not hours:
        return "day", []
    first, last = _hour(hours[0]), _hour(hours[-1])
    if last - first <= HOURLY_UP_TO:
        unit, step, fmt = "hour", timedelta(hours=1), "%Y-%m-%d %H:00"
    elif last - first <= timedelta(days=400):
        unit, step, fmt = "day", timedelta(days=1), "%Y-%m-%d"
        first = first.replace(hour=0)
    else:
        unit, step, fmt = "week", timedelta(days=7), "%Y-%m-%d"
        first = first.replace(hour=0) - timedelta(days=first.weekday())
    rows, index, t = [], {}, first
    while t <= last:
        index[t] = len(rows)
        rows.append({"period": t.strftime(fmt), **dict.fromkeys(keys, 0)})
        t += step
    for h in hours:
        t = _hour(h)
        start = t if unit == "hour" else t.replace(hour=0)
        if unit == "week":
            start -= timedelta(days=(start - first).days % 7)
        row = rows[index[start]]
        for k, n in zip(keys, hourly[h], strict=True):
            row[k] += n
    return unit, rows


# --------------------------------------------------------------------------- labels in SQL


def _primary(schema: LabelSchema) -> tuple[str, str] | None:
    """``(control name, result field)`` of the primary labeling control, or None."""
    control = schema.primary_control
    field_ = LABEL_FIELD.get(control.type)
    return (control.name, field_) if field_ else None


def _labels_sql(ctx: _Ctx, source: str, json_col: str, columns: str, where: str, *, strings_too: bool = False) -> str:
    """SQL of ``SELECT <columns>, lab FROM <source> WHERE <where>``, one row per label name of
    the primary control in the JSON result column ``json_col`` (Label Studio result items;
    with ``strings_too`` bare strings in the list, ``["cat"]``, count as labels as well).

    Binds ``:ctrl`` and ``:path`` (SQLite) / ``:field`` (PostgreSQL): :func:`_label_params`.
    """
    if ctx.sqlite:
        sql = (f"SELECT {columns}, lab.value AS lab FROM {source}, json_each({json_col}) it, "
               f"json_each(it.value, :path) lab WHERE {where} AND it.type = 'object' "
               f"AND json_extract(it.value, '$.from_name') = :ctrl")
        if strings_too:
            sql += (f" UNION ALL SELECT {columns}, it.value AS lab FROM {source}, json_each({json_col}) it "
                    f"WHERE {where} AND it.type = 'text'")
        return sql
    sql = (f"SELECT {columns}, lab.value AS lab FROM {source}, json_array_elements({json_col}) it, "
           f"json_array_elements_text(it.value -> 'value' -> :field) lab "
           f"WHERE {where} AND json_typeof(it.value) = 'object' AND it.value ->> 'from_name' = :ctrl")
    if strings_too:
        sql += (f" UNION ALL SELECT {columns}, it.value #>> '{{}}' AS lab FROM {source}, "
                f"json_array_elements({json_col}) it WHERE {where} AND json_typeof(it.value) = 'string'")
    return sql


def _label_params(ctx: _Ctx) -> dict[str, str]:
    control, field_ = _primary(ctx.schema)
    return {"ctrl": control, "path": f"$.value.{field_}", "field": field_}


def _set_agg(ctx: _Ctx) -> str:
    """SQL aggregate joining a group's labels, sorted, with ``|``."""
    return "group_concat(lab, '|')" if ctx.sqlite else "string_agg(lab, '|' ORDER BY lab)"


# --------------------------------------------------------------------------- aggregates


def _annotation_sums(ctx: _Ctx) -> Sums:
    """Additive sums over the project's annotations (see :func:`_incremental`):

    - ``users``: ``{user: [rows, skips, submits with a lead time]}``;
    - ``hours``: ``{"YYYY-MM-DD HH": [submits, skips]}``;
    - ``labels``: ``{label: [times given]}`` (the primary control's labels, read from the JSON);
    - ``gold``: ``{user: [gold answers, correct]}``: correct when the labels of the primary
      control equal the gold answer's, as sets.
    """

    def compute(ids: str, params: dict[str, int], source: str = "annotation") -> Sums:
        where = f"annotation.project_id = :p AND {ids}"
        out: Sums = {"users": {}, "hours": {}, "labels": {}, "gold": {}}
        for uid, rows, skips, timed in ctx.rows(sa.text(
                f"SELECT user_id, count(*), sum(CASE WHEN was_cancelled THEN 1 ELSE 0 END), "
                f"count(CASE WHEN was_cancelled THEN NULL ELSE lead_time END) FROM {source} WHERE {where} "
                f"GROUP BY user_id"), **params):
            out["users"][uid] = [rows, skips or 0, timed]
        hour = _hour_sql(ctx, "created_at")
        for h, submits, skips in ctx.rows(sa.text(
                f"SELECT {hour} AS h, sum(CASE WHEN was_cancelled THEN 0 ELSE 1 END), "
                f"sum(CASE WHEN was_cancelled THEN 1 ELSE 0 END) FROM {source} WHERE {where} GROUP BY h"), **params):
            out["hours"][h] = [submits or 0, skips or 0]
        if _primary(ctx.schema) is None:
            return out
        labels = _label_params(ctx)
        given = _labels_sql(ctx, source, "annotation.result", "annotation.id",
                            f"{where} AND annotation.was_cancelled = :no")
        for lab, n in ctx.rows(sa.text(f"SELECT lab, count(*) FROM ({given}) x GROUP BY lab"), no=False,
                               **params, **labels):
            out["labels"][lab] = [n]
        gold = _labels_sql(ctx, "task", "task.gold_answer", "task.id AS task_id",
                           "task.project_id = :p AND task.is_gold = :yes AND task.gold_answer IS NOT NULL",
                           strings_too=True)
        ann = _labels_sql(ctx, f"task JOIN {source} ON annotation.task_id = task.id", "annotation.result",
                          "annotation.task_id, annotation.user_id",
                          f"task.project_id = :p AND task.is_gold = :yes AND {where} AND annotation.was_cancelled = :no")
        agg = _set_agg(ctx)
        for uid, n, correct in ctx.rows(sa.text(
                f"WITH g AS (SELECT task_id, {agg} AS labels FROM (SELECT * FROM ({gold}) y ORDER BY lab) x "
                f"GROUP BY task_id), "
                f"a AS (SELECT task_id, user_id, {agg} AS labels FROM (SELECT * FROM ({ann}) y ORDER BY lab) x "
                f"GROUP BY task_id, user_id) "
                f"SELECT a.user_id, count(*), sum(CASE WHEN a.labels = g.labels THEN 1 ELSE 0 END) "
                f"FROM a JOIN g ON g.task_id = a.task_id GROUP BY a.user_id"), yes=True, no=False, **params, **labels):
            out["gold"][uid] = [n, correct or 0]
        return out

    return ctx.memo("annotations", lambda: _incremental(ctx, "annotations", _A, compute))[1]


def _event_sums(ctx: _Ctx) -> dict[str, list[int]]:
    """``{"YYYY-MM-DD HH": [n for each of EVENT_SUMS]}``: the project's task events by hour:
    arrivals in each state of :data:`PROGRESS_STATES`, and tasks entering and leaving the
    annotated states and the final ones (accepted, excluded). Additive (see :func:`_incremental`)."""
    annotated = ", ".join(f"'{s.value}'" for s in sorted(ANNOTATED))
    final = "'accepted', 'excluded'"
    columns = [f"sum(CASE WHEN to_state = '{s}' THEN 1 ELSE 0 END)" for s in PROGRESS_STATES]
    for group in (annotated, final):
        columns.append(f"sum(CASE WHEN to_state IN ({group}) AND (from_state IS NULL OR from_state NOT IN ({group})) "
                       f"THEN 1 ELSE 0 END)")
        columns.append(f"sum(CASE WHEN from_state IN ({group}) AND to_state NOT IN ({group}) THEN 1 ELSE 0 END)")

    def compute(ids: str, params: dict[str, int], source: str = "task_event") -> Sums:
        rows = ctx.rows(sa.text(
            f"SELECT {_hour_sql(ctx, 'created_at')} AS h, {', '.join(columns)} FROM {source} "
            f"WHERE task_event.project_id = :p AND {ids} GROUP BY h"), **params)
        return {"hours": {h: [int(n or 0) for n in ns] for h, *ns in rows}}

    return ctx.memo("events", lambda: _incremental(ctx, "events", _E, compute))[1]["hours"]


def _annotation_key(ctx: _Ctx) -> tuple[int, ...]:
    """What changes when annotations come or go (the key of the non-additive caches)."""
    _annotation_sums(ctx)
    return ctx.memo("annotations", lambda: None)[0]


# --------------------------------------------------------------------------- panels


def _state_counts(ctx: _Ctx) -> tuple[dict[str, int], int]:
    """Tasks by state (gold apart), cached: every state change writes a task event, so the
    counts stand while no event and no task was added (two primary-key seeks), and are counted
    again at least every :data:`RECOUNT_EVERY` seconds (deleted tasks)."""
    key = (ctx.conn.execute(sa.select(sa.func.max(_E.c.id))).scalar(),
           ctx.conn.execute(sa.select(sa.func.max(_T.c.id))).scalar())
    entry = _cache_get("states", ctx)
    if entry is not None and entry[0] == key and time.monotonic() - entry[1] < RECOUNT_EVERY:
        return entry[2]
    counts: dict[str, int] = {}
    gold = 0
    for state, is_gold, n in ctx.rows(
            sa.select(_T.c.state, _T.c.is_gold, sa.func.count()).where(_T.c.project_id == sa.bindparam("p"))
            .group_by(_T.c.state, _T.c.is_gold)):
        if is_gold:
            gold += n
            continue
        state = TaskState.open.value if state == TaskState.imported else state
        counts[state] = counts.get(state, 0) + n
    _cache_put("states", ctx, key, (counts, gold))
    return counts, gold


def _states(ctx: _Ctx) -> dict:
    counts, gold = _state_counts(ctx)
    total = sum(counts.values())
    annotated = sum(n for s, n in counts.items() if s in ANNOTATED)
    final = counts.get(TaskState.accepted, 0) + counts.get(TaskState.excluded, 0)
    rows = [{"state": s.value, "tasks": counts.get(s, 0), "share": _r(_ratio(counts.get(s, 0), total))}
            for s in STATES]
    return _panel("states", ["state", "tasks", "share"], rows, total=total, gold=gold, annotated=annotated,
                  annotated_share=_r(_ratio(annotated, total)), final=final, final_share=_r(_ratio(final, total)),
                  remaining=counts.get(TaskState.open, 0))


def _progress(ctx: _Ctx, states: dict) -> dict:
    """Tasks reaching each state per period, and the annotated and final tasks over time (net:
    tasks sent back to be labeled again, by QC or a new overlap, leave the count)."""
    hours = _event_sums(ctx)
    unit, rows = _series(hours, EVENT_SUMS)
    annotated = final = 0
    for row in rows:
        annotated += row.pop("annotated_in") - row.pop("annotated_out")
        final += row.pop("final_in") - row.pop("final_out")
        row["annotated_total"], row["final_total"] = annotated, final
    # The finish date: the open tasks, at the pace tasks became annotated (net) over the last
    # days; over at least a day: an hour's work is no daily pace, nobody labels 24 hours a day.
    since = (ctx.now - RATE_WINDOW).strftime("%Y-%m-%d %H")
    i_in, i_out = EVENT_SUMS.index("annotated_in"), EVENT_SUMS.index("annotated_out")
    recent = {h: v[i_in] - v[i_out] for h, v in hours.items() if h >= since and (v[i_in] or v[i_out])}
    net = sum(recent.values())
    rate = None
    if recent and net > 0:
        span = max(ctx.now - _hour(min(recent)), timedelta(days=1))
        rate = net / (span.total_seconds() / 86400)
    remaining = states["remaining"]
    eta = None
    if remaining == 0 and states["total"]:
        eta = ctx.now
    elif rate:
        eta = ctx.now + timedelta(days=remaining / rate)
    return _panel("progress", ["period", *PROGRESS_STATES, "annotated_total", "final_total"], rows, unit=unit,
                  rate_per_day=_r(rate, 1), remaining=remaining, tasks=states["total"], eta=_iso(eta),
                  rate_window_days=RATE_WINDOW.days)


def _interpolate(values: list[float], pos: float) -> float | None:
    """``percentile_cont``'s interpolation between v[floor(pos)] and v[floor(pos) + 1]."""
    if not values:
        return None
    lo, hi = min(values), max(values)
    return lo + (pos - math.floor(pos)) * (hi - lo)


def _percentiles_sql(ctx: _Ctx, counts: dict[Any, int], *, per_user: bool) -> dict[Any, tuple[float, float]]:
    """Median and p90 of the lead time of submitted annotations, per annotator or overall.

    PostgreSQL: ``percentile_cont`` in one grouped query. SQLite: for each group of n values,
    the values at positions floor(q (n - 1)) and the next are read with ``ORDER BY lead_time
    LIMIT 2 OFFSET ...`` walking an index already in lead-time order (from whichever end is
    nearer; ``ix_annotation_stats_user`` / ``ix_annotation_stats_lead_time``), then
    interpolated as ``percentile_cont`` does.
    """
    base = [_A.c.project_id == ctx.pid, _A.c.was_cancelled == sa.false(), _A.c.lead_time.is_not(None)]
    if not ctx.sqlite:
        p50 = sa.func.percentile_cont(0.5).within_group(_A.c.lead_time)
        p90 = sa.func.percentile_cont(0.9).within_group(_A.c.lead_time)
        if per_user:
            q = sa.select(_A.c.user_id, p50, p90).where(*base).group_by(_A.c.user_id)
            return {r[0]: (r[1], r[2]) for r in ctx.conn.execute(q)}
        r = ctx.conn.execute(sa.select(p50, p90).where(*base)).one()
        return {None: (r[0], r[1])} if r[0] is not None else {}
    wanted = [(key, n, q * (n - 1)) for key, n in counts.items() if n for q in (0.5, 0.9)]
    found: dict[int, list[float]] = {}
    for chunk in range(0, len(wanted), 200):  # SQLite allows 500 terms in a compound SELECT
        parts = []
        for n, (key, size, pos) in enumerate(wanted[chunk:chunk + 200]):
            where = [*base, _A.c.user_id == key] if per_user else base
            f = math.floor(pos)
            if f < size / 2:  # walk from the low end ...
                sub = sa.select(_A.c.lead_time).where(*where).order_by(_A.c.lead_time).limit(2).offset(f)
            else:  # ... or from the high end: v[f + 1], v[f] in descending order
                sub = (sa.select(_A.c.lead_time).where(*where).order_by(_A.c.lead_time.desc())
                       .limit(2 if f + 1 < size else 1).offset(max(size - 2 - f, 0)))
            sub = sub.subquery(f"s{n}")
            parts.append(sa.select(sa.literal(chunk + n).label("k"), sub.c.lead_time))
        for k, value in ctx.conn.execute(sa.union_all(*parts)):
            found.setdefault(k, []).append(value)
    out: dict[Any, list] = {}
    for k, (key, _size, pos) in enumerate(wanted):
        out.setdefault(key, []).append(_interpolate(found.get(k, []), pos))
    return {key: (v[0], v[1]) for key, v in out.items()}


def _percentiles(ctx: _Ctx) -> dict[str, Any]:
    """``{"overall": (p50, p90), "users": {user: (p50, p90)}, "computed_at"}``, cached: computed
    again when annotations changed, at most every :data:`PERCENTILE_REFRESH` seconds."""

    def compute() -> dict[str, Any]:
        users = _annotation_sums(ctx)["users"]
        timed = {uid: v[2] for uid, v in users.items()}
        overall = _percentiles_sql(ctx, {None: sum(timed.values())}, per_user=False).get(None, (None, None))
        return {"overall": overall, "users": _percentiles_sql(ctx, timed, per_user=True),
                "computed_at": ctx.now.isoformat()}

    def get() -> dict[str, Any]:
        key = _annotation_key(ctx)
        entry = _cache_get("percentiles", ctx)
        if entry is not None and (entry[0] == key or time.monotonic() - entry[1] < PERCENTILE_REFRESH):
            return entry[2]
        value = compute()
        _cache_put("percentiles", ctx, key, value)
        return value

    return ctx.memo("percentiles", get)


def _recent(ctx: _Ctx) -> dict[int, tuple[int, datetime | None]]:
    """Per annotator: submitted annotations in the last 24 hours and the time of their last
    annotation; index seeks and ranges on ``ix_annotation_project_user``, one per annotator."""

    def compute() -> dict[int, tuple[int, datetime | None]]:
        users = _annotation_sums(ctx)["users"]
        if not users:
            return {}
        ids = sa.values(sa.column("u", sa.Integer), name="u").data([(int(uid),) for uid in users]).cte("u")
        mine = (_A.c.project_id == ctx.pid, _A.c.user_id == ids.c.u)
        recent = sa.select(sa.func.count()).where(*mine, _A.c.created_at >= ctx.now - timedelta(hours=24),
                                                  _A.c.was_cancelled == sa.false())
        last = sa.select(_A.c.created_at).where(*mine).order_by(_A.c.created_at.desc()).limit(1)
        return {uid: (n, when) for uid, n, when in
                ctx.conn.execute(sa.select(ids.c.u, recent.scalar_subquery(), last.scalar_subquery()))}

    return ctx.memo("recent", compute)


def _throughput(ctx: _Ctx) -> dict:
    sums = _annotation_sums(ctx)
    unit, rows = _series(sums["hours"], ["annotations", "skips"])
    recent = [n for n, _ in _recent(ctx).values()]
    users = sums["users"].values()
    times = _percentiles(ctx)
    last_day = sum(recent)
    return _panel("throughput", ["period", "annotations", "skips"], rows, unit=unit,
                  total=sum(u[0] - u[1] for u in users), skips=sum(u[1] for u in users),
                  last_24h=last_day, per_hour_24h=_r(last_day / 24, 1), active_annotators_24h=sum(1 for n in recent if n),
                  median_seconds=_r(times["overall"][0], 1), p90_seconds=_r(times["overall"][1], 1),
                  timed_items=sum(u[2] for u in users), times_computed_at=times["computed_at"])


def _final_counts(ctx: _Ctx, accepted: int) -> dict[str, int]:
    """Final labels of the accepted tasks, cached until a task is accepted or a QC run ends."""
    last = ctx.conn.execute(sa.select(_E.c.created_at).where(
        _E.c.project_id == ctx.pid, _E.c.to_state == TaskState.accepted).order_by(_E.c.created_at.desc()).limit(1)
    ).scalar()
    key = (accepted, last, ctx.run.id if ctx.run is not None else None)
    entry = _cache_get("labels_final", ctx)
    if entry is not None and entry[0] == key:
        return entry[2]
    sql = _labels_sql(ctx, "task", "task.final_label", "task.id",
                      "task.project_id = :p AND task.state = 'accepted' AND task.is_gold = :no "
                      "AND task.final_label IS NOT NULL", strings_too=True)
    counts = dict(ctx.rows(sa.text(f"SELECT lab, count(*) FROM ({sql}) x GROUP BY lab"), no=False,
                           **_label_params(ctx)))
    _cache_put("labels_final", ctx, key, counts)
    return counts


def _labels(ctx: _Ctx, states: dict) -> dict:
    columns = ["label", "given", "given_share", "final", "final_share"]
    if _primary(ctx.schema) is None:
        return _panel("labels", columns, [], note="this label config has no labels to count")
    params = _label_params(ctx)
    given = {lab: v[0] for lab, v in _annotation_sums(ctx)["labels"].items()}
    final = _final_counts(ctx, next(r["tasks"] for r in states["rows"] if r["state"] == TaskState.accepted))
    names = list(ctx.schema.primary_control.labels)
    names += sorted((set(given) | set(final)) - set(names))
    n_given, n_final = sum(given.values()), sum(final.values())
    rows = [{"label": name, "given": given.get(name, 0), "given_share": _r(_ratio(given.get(name, 0), n_given)),
             "final": final.get(name, 0), "final_share": _r(_ratio(final.get(name, 0), n_final))}
            for name in names]
    return _panel("labels", columns, rows, control=params["ctrl"], given_total=n_given, final_total=n_final,
                  final_of="accepted tasks")


def agreement_inputs(conn: Connection, project: Project) -> tuple[list[tuple[int, int, str]], list[str]]:
    """``(item, annotator, label)`` of every submitted annotation, and the class names.

    The label is the primary control's label; with several (multiple choice), their sorted
    ``|``-joined set. Gold tasks are left out. The rows come from one SQL query.
    """
    schema = LabelSchema.model_validate(project.label_schema)
    ctx = _Ctx(conn, project, schema, utcnow(), conn.dialect.name, None)
    params = _label_params(ctx)
    where = ("annotation.project_id = :p AND annotation.was_cancelled = :no AND annotation.task_id NOT IN "
             "(SELECT id FROM task WHERE project_id = :p AND is_gold = :yes)")
    sql = _labels_sql(ctx, "annotation", "annotation.result", "annotation.task_id, annotation.user_id", where)
    if schema.primary_control.choice == "multiple":
        sql = (f"SELECT task_id, user_id, {_set_agg(ctx)} FROM (SELECT * FROM ({sql}) y ORDER BY lab) x "
               f"GROUP BY task_id, user_id")
    rows = ctx.rows(sa.text(sql), no=False, yes=True, **params)
    return [(r[0], r[1], r[2]) for r in rows], list(schema.primary_control.labels)


def _normalise_agreement(raw: dict) -> dict:
    """The agreement dict of a QC run (``quality.qc``: ``krippendorff_alpha``,
    ``krippendorff_alpha_per_class``, ``unanimous_share``, ``n_items_multi``,
    ``kappa_by_annotator``, ``mean_pairwise_kappa``) or of a calculator (``alpha``, ``per_label``,
    ``unanimous``, ``n_items``, ``kappa`` pairs) with the keys the dashboard shows."""

    def first(*keys: str) -> Any:
        return next((raw[k] for k in keys if raw.get(k) is not None), None)

    per_label = first("per_label", "krippendorff_alpha_per_class") or {}
    by_annotator = first("kappa_by_annotator") or {}
    pairs = first("kappa", "pairs", "pairwise_kappa")
    kappa = None
    if isinstance(pairs, list):
        kappa = [{"a": p.get("a"), "b": p.get("b"), "kappa": _r(p.get("kappa")), "n": p.get("n")}
                 for p in pairs if isinstance(p, dict)]
    notes = raw.get("notes") or ([raw["note"]] if raw.get("note") else [])
    return {
        "alpha": _r(first("alpha", "krippendorff_alpha")),
        "unanimous": _r(first("unanimous", "unanimous_share")),
        "per_label": {str(k): _r(v) for k, v in per_label.items()} if isinstance(per_label, dict) else {},
        "n_items": first("n_items", "n_items_multi"),
        "n_annotators": first("n_annotators") or (len(by_annotator) or None),
        "kappa": kappa,
        "kappa_by_annotator": {int(k): _r(v) for k, v in by_annotator.items()} if isinstance(by_annotator, dict)
        else {},
        "mean_kappa": _r(first("mean_kappa", "mean_pairwise_kappa")),
        "note": "; ".join(str(n) for n in notes) or None,
    }


def _agreement_now(conn: Connection, project: Project, calculator: AgreementCalculator) -> dict:
    triples, names = agreement_inputs(conn, project)
    return {**_normalise_agreement(calculator(triples, names)), "computed_at": utcnow().isoformat()}


def _agreement_job(project_id: int, calculator: AgreementCalculator) -> dict:
    """In a child process: the agreement of a project (its own read session)."""
    with read_session() as s:
        project = s.get(Project, project_id)
        if project is None:
            return {"note": f"project {project_id} no longer exists"}
        return _agreement_now(s.connection(), project, calculator)


def _agreement_done(slot: tuple, key: tuple, project_id: int, future: Future) -> None:
    try:
        data = future.result()
    except Exception as exc:  # noqa: BLE001  (reported in the panel and the log, not lost with the process)
        logger.error("agreement of project %s failed: %r", project_id, exc)
        data = {"note": f"agreement could not be computed: {exc}", "computed_at": utcnow().isoformat()}
    finally:
        with _cache_lock:
            _running.discard(slot)
    _cache_put_slot(slot, key, data)


def _start_agreement(slot: tuple, key: tuple, project_id: int, calculator: AgreementCalculator) -> None:
    """Compute a large project's agreement in a child process: the heavy numerical work (pairwise
    kappa of many annotators) then holds neither this request nor the web process's GIL. The
    process ends when it is done; its result lands in the cache."""
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    future = executor.submit(_agreement_job, project_id, calculator)
    future.add_done_callback(functools.partial(_agreement_done, slot, key, project_id))
    executor.shutdown(wait=False)


def _computed_agreement(ctx: _Ctx) -> dict:
    """Agreement computed by the caller's calculator from the annotations, cached per project
    (recomputed when annotations changed, at most every :data:`AGREEMENT_REFRESH` seconds).

    Up to :data:`SYNC_AGREEMENT_UP_TO` annotations it is computed in the request; above, in a
    child process (:func:`_start_agreement`), and until it is there the panel says so
    (``pending``) and shows the previous figures if there are any: a page never waits for it.
    """
    key = _annotation_key(ctx)
    entry = _cache_get("agreement", ctx)
    if entry is not None and (entry[0] == key or time.monotonic() - entry[1] < AGREEMENT_REFRESH):
        return {**entry[2], "source": "annotations (cached)"}
    if key[0] <= SYNC_AGREEMENT_UP_TO:
        data = _agreement_now(ctx.conn, ctx.project, ctx.agreement)
        _cache_put("agreement", ctx, key, data)
        return {**data, "source": "annotations"}
    slot = _slot("agreement", ctx)
    with _cache_lock:
        start = slot not in _running
        _running.add(slot)
    if start:
        _start_agreement(slot, key, ctx.pid, ctx.agreement)
    if entry is not None:
        return {**entry[2], "source": "annotations (being brought up to date)", "pending": True}
    return {"note": "agreement is being computed from the annotations; it shows here in a moment",
            "pending": True, "kappa": None}


def _agreement_data(ctx: _Ctx, *, pairs: bool) -> dict:
    """Agreement from the latest QC run that measured it, else computed from the annotations.

    A QC run stores each annotator's mean kappa but not every pair; with ``pairs`` (the kappa
    panel) the pairs come from the computed (cached) agreement.
    """
    if _primary(ctx.schema) is None or ctx.schema.kind not in ("classification", "multilabel"):
        return {"note": f"agreement is measured for classification projects (this one is {ctx.schema.kind})"}
    data: dict[str, Any] = {}
    for r in ctx.conn.execute(
            sa.select(_R.c.id, _R.c.agreement, _R.c.finished_at, _R.c.created_at)
            .where(_R.c.project_id == ctx.pid, _R.c.status == "done").order_by(_R.c.id.desc()).limit(5)):
        raw = r.agreement or {}
        if any(raw.get(k) is not None for k in ("alpha", "krippendorff_alpha")):
            data = {**_normalise_agreement(raw), "source": f"QC run {r.id}", "run_id": r.id,
                    "computed_at": _iso(r.finished_at or r.created_at)}
            break
    if data and (data["kappa"] is not None or not pairs):
        return data
    if ctx.agreement is None:
        return data or {"note": "no QC run has measured agreement yet"}
    computed = _computed_agreement(ctx)
    if not data:
        return computed
    return {**data, "kappa": computed.get("kappa"), "kappa_source": computed.get("source"),
            "kappa_computed_at": computed.get("computed_at"), "kappa_pending": computed.get("pending", False),
            "kappa_note": computed.get("note")}


def _agreement(ctx: _Ctx, data: dict) -> dict:
    rows = [{"label": k, "alpha": v} for k, v in (data.get("per_label") or {}).items()]
    summary = {k: data.get(k) for k in ("alpha", "unanimous", "n_items", "n_annotators", "mean_kappa", "source",
                                        "computed_at", "note")}
    summary["pending"] = bool(data.get("pending"))
    return _panel("agreement", ["label", "alpha"], rows, **summary)


def _emails(ctx: _Ctx, ids: Iterable[int]) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return dict(ctx.conn.execute(sa.select(_U.c.id, _U.c.email).where(_U.c.id.in_(ids))).all())


def _kappa(ctx: _Ctx, data: dict) -> dict:
    pairs = data.get("kappa") or []
    emails = _emails(ctx, [p["a"] for p in pairs] + [p["b"] for p in pairs])
    rows = sorted(({"annotator_a": p["a"], "email_a": emails.get(p["a"], str(p["a"])), "annotator_b": p["b"],
                    "email_b": emails.get(p["b"], str(p["b"])), "kappa": p["kappa"], "items": p["n"]}
                   for p in pairs), key=lambda r: (r["kappa"] is None, r["kappa"] if r["kappa"] is not None else 0))
    values = [r["kappa"] for r in rows if r["kappa"] is not None]
    pending = data.get("kappa_pending", data.get("pending", False))
    note = data.get("kappa_note") or data.get("note")
    if not rows and not note:
        note = "no two annotators have labeled the same items yet"
    return _panel("kappa", ["annotator_a", "email_a", "annotator_b", "email_b", "kappa", "items"], rows,
                  pairs=len(rows), mean=_r(sum(values) / len(values)) if values else None,
                  source=data.get("kappa_source", data.get("source")), note=note, pending=pending)


def _noise(ctx: _Ctx) -> dict:
    runs = ctx.conn.execute(
        sa.select(_R.c.id, _R.c.created_at, _R.c.finished_at, _R.c.noise_rate, _R.c.per_class_noise, _R.c.n_items,
                  _R.c.n_issues, _R.c.model_name, _R.c.cv_accuracy, _R.c.class_names)
        .where(_R.c.project_id == ctx.pid, _R.c.status == "done").order_by(_R.c.id.desc()).limit(NOISE_RUNS)).all()
    runs = runs[::-1]
    classes: list[str] = []
    for run in runs:
        for c in [*(run.class_names or []), *(run.per_class_noise or {})]:
            if str(c) not in classes:
                classes.append(str(c))
    rows = []
    for run in runs:
        per_class = {str(k): v for k, v in (run.per_class_noise or {}).items()}
        rows.append({"run_id": run.id, "finished_at": _iso(run.finished_at or run.created_at),
                     "noise_rate": _r(run.noise_rate), "items": run.n_items, "issues": run.n_issues,
                     "model": run.model_name, "cv_accuracy": _r(run.cv_accuracy),
                     **{f"noise:{c}": _r(per_class.get(c)) for c in classes}})
    columns = ["run_id", "finished_at", "noise_rate", "items", "issues", "model", "cv_accuracy",
               *(f"noise:{c}" for c in classes)]
    latest = rows[-1] if rows else None
    return _panel("noise", columns, rows, classes=classes, latest=latest["noise_rate"] if latest else None,
                  latest_run=latest["run_id"] if latest else None)


def _confusion(ctx: _Ctx) -> dict:
    run = ctx.conn.execute(
        sa.select(_R.c.id, _R.c.class_names, _R.c.confident_joint)
        .where(_R.c.project_id == ctx.pid, _R.c.status == "done", _R.c.id == ctx.run.id)).first() if ctx.run else None
    names = [str(c) for c in (run.class_names or [])] if run else []
    matrix = run.confident_joint if run else []
    if not names or not matrix or len(matrix) != len(names):
        return _panel("confusion", ["given", "suggested", "count", "row_share"], [], class_names=names, matrix=[],
                      run_id=run.id if run else None, note="no QC run with a confident joint yet")
    rows = []
    for given, counts in zip(names, matrix, strict=True):
        row_total = sum(counts) or 0
        for suggested, n in zip(names, counts, strict=False):
            rows.append({"given": given, "suggested": suggested, "count": _r(n, 2),
                         "row_share": _r(_ratio(n, row_total))})
    total = sum(sum(r) for r in matrix)
    off = total - sum(matrix[i][i] for i in range(len(names)) if i < len(matrix[i]))
    return _panel("confusion", ["given", "suggested", "count", "row_share"], rows, class_names=names,
                  matrix=[[_r(v, 2) for v in r] for r in matrix], run_id=run.id,
                  off_diagonal_share=_r(_ratio(off, total)))


def _confused_pairs(ctx: _Ctx) -> dict:
    columns = ["given", "suggested", "items", "given_json", "suggested_json"]
    if ctx.run is None:
        return _panel("confused_pairs", columns, [], run_id=None)
    given, suggested = sa.cast(_I.c.given, sa.Text), sa.cast(_I.c.suggested, sa.Text)
    found = ctx.conn.execute(
        sa.select(given.label("g"), suggested.label("s"), sa.func.count().label("n"))
        .where(_I.c.run_id == ctx.run.id, _I.c.is_issue.is_(True), _I.c.kind == "label", _I.c.suggested.is_not(None),
               suggested != "null")
        .group_by(given, suggested).order_by(sa.func.count().desc(), given, suggested).limit(CONFUSED_PAIRS * 2)).all()
    rows = []
    for g, s, n in found:
        if g == s or g is None or s is None:
            continue
        rows.append({"given": _label_text(g), "suggested": _label_text(s), "items": n, "given_json": g,
                     "suggested_json": s})
    return _panel("confused_pairs", columns, rows[:CONFUSED_PAIRS], run_id=ctx.run.id)


def _label_text(stored: str | None) -> str:
    """A label as stored in JSON (``"cat"``, ``["a", "b"]``, a result) -> text for people."""
    if stored is None:
        return ""
    try:
        value = json.loads(stored)
    except ValueError:
        return str(stored)
    return _label_value_text(value)


def _label_value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_label_value_text(v) for v in value)
    if isinstance(value, dict):
        inner = value.get("value") if isinstance(value.get("value"), dict) else value
        for field in LABEL_FIELD.values():
            if isinstance(inner.get(field), list):
                return ", ".join(str(v) for v in inner[field])
    return json.dumps(value) if value is not None else ""


def _queues(ctx: _Ctx, states: dict) -> dict:
    open_, relabel, needed = ctx.conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((_T.c.requeued.is_(True), 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(_T.c.target_overlap - _T.c.n_annotations), 0))
        .where(_T.c.project_id == ctx.pid, _T.c.state.in_([TaskState.open, TaskState.imported]),
               _T.c.is_gold.is_(False))).one()
    leases = ctx.conn.execute(
        sa.select(Lease.kind, sa.func.count()).where(Lease.project_id == ctx.pid, Lease.expires_at > ctx.now)
        .group_by(Lease.kind)).all()
    leased = dict(leases)
    jobs = dict(ctx.conn.execute(
        sa.select(Job.status, sa.func.count()).where(Job.project_id == ctx.pid, Job.queue == "quality",
                                                     Job.status.in_(["queued", "running"])).group_by(Job.status)).all())
    by_state = {r["state"]: r["tasks"] for r in states["rows"]}
    rows = [
        {"queue": "to label", "items": open_ - relabel, "detail": f"{needed:,} annotations still wanted"},
        {"queue": "relabel (sent back by QC)", "items": relabel, "detail": "served first"},
        {"queue": "being labeled now", "items": leased.get("annotate", 0), "detail": "live leases"},
        {"queue": "suspect (awaiting QC policy)", "items": by_state.get(TaskState.suspect, 0), "detail": ""},
        {"queue": "review", "items": by_state.get(TaskState.review, 0),
         "detail": f"{leased.get('review', 0)} being reviewed now"},
        {"queue": "QC jobs", "items": jobs.get("queued", 0) + jobs.get("running", 0),
         "detail": f"{jobs.get('running', 0)} running, {jobs.get('queued', 0)} queued"},
    ]
    return _panel("queues", ["queue", "items", "detail"], rows, annotations_wanted=needed)


def _annotators(ctx: _Ctx, data: dict) -> dict:
    per_user: dict[int, dict] = {}

    def row(uid: int) -> dict:
        return per_user.setdefault(uid, {"user_id": uid, "items": 0, "skips": 0, "last_24h": 0, "median_seconds": None,
                                         "p90_seconds": None, "gold_items": 0, "gold_accuracy": None,
                                         "agreement": None, "quality": None, "mean_kappa": None,
                                         "paused": False, "paused_reason": "", "last_active": None})

    sums = _annotation_sums(ctx)
    for uid, (rows_, skips, _timed) in sums["users"].items():
        row(uid).update(items=rows_ - skips, skips=skips)
    for uid, (n, when) in _recent(ctx).items():
        row(uid).update(last_24h=n, last_active=_iso(when))
    for uid, (p50, p90) in _percentiles(ctx)["users"].items():
        row(uid).update(median_seconds=_r(p50, 1), p90_seconds=_r(p90, 1))
    for uid, (n, correct) in sums["gold"].items():
        row(uid).update(gold_items=n, gold_accuracy=_r(_ratio(correct or 0, n)))
    if ctx.run is not None:
        for uid, agreement, quality in ctx.conn.execute(
                sa.select(_S.c.user_id, _S.c.agreement, _S.c.quality).where(_S.c.run_id == ctx.run.id)):
            row(uid).update(agreement=_r(agreement), quality=_r(quality))
    mean_kappa = dict(data.get("kappa_by_annotator") or {})
    if not mean_kappa:  # each annotator's mean over the pairs they are in
        kappas: dict[int, list[float]] = {}
        for pair in data.get("kappa") or []:
            if pair.get("kappa") is not None:
                kappas.setdefault(pair["a"], []).append(pair["kappa"])
                kappas.setdefault(pair["b"], []).append(pair["kappa"])
        mean_kappa = {uid: _r(sum(v) / len(v)) for uid, v in kappas.items()}
    for uid, value in mean_kappa.items():
        if uid in per_user:
            per_user[uid]["mean_kappa"] = value
    for uid, role, paused_at, reason in ctx.conn.execute(
            sa.select(_M.c.user_id, _M.c.role, _M.c.paused_at, _M.c.paused_reason).where(_M.c.project_id == ctx.pid)):
        if uid in per_user or role == Role.annotator or paused_at is not None:
            row(uid).update(paused=paused_at is not None, paused_reason=reason or "")
    emails = _emails(ctx, per_user)
    rows = sorted(per_user.values(), key=lambda r: (-r["items"], r["user_id"]))
    for r in rows:
        r["email"] = emails.get(r["user_id"], "")
    columns = ["user_id", "email", "items", "skips", "last_24h", "median_seconds", "p90_seconds", "gold_items",
               "gold_accuracy", "agreement", "quality", "mean_kappa", "paused", "paused_reason", "last_active"]
    return _panel("annotators", columns, [{c: r[c] for c in columns} for r in rows],
                  annotators=len(rows), paused=sum(1 for r in rows if r["paused"]),
                  scores_run=ctx.run.id if ctx.run is not None else None)


def _datasets(ctx: _Ctx) -> dict:
    found = ctx.conn.execute(
        sa.select(DatasetVersion.number, DatasetVersion.created_at, DatasetVersion.n_items, DatasetVersion.noise_rate,
                  DatasetVersion.sha256, DatasetVersion.note)
        .where(DatasetVersion.project_id == ctx.pid).order_by(DatasetVersion.number)).all()
    rows = [{"version": v.number, "created_at": _iso(v.created_at), "items": v.n_items, "noise_rate": _r(v.noise_rate),
             "sha256": v.sha256, "note": v.note} for v in found]
    return _panel("datasets", ["version", "created_at", "items", "noise_rate", "sha256", "note"], rows,
                  latest=rows[-1]["version"] if rows else None)


# --------------------------------------------------------------------------- entry points


def _latest_run(conn: Connection, project_id: int) -> Any:
    return conn.execute(
        sa.select(_R.c.id, _R.c.created_at, _R.c.finished_at, _R.c.noise_rate)
        .where(_R.c.project_id == project_id, _R.c.status == "done").order_by(_R.c.id.desc()).limit(1)).first()


def _compute(ctx: _Ctx, wanted: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    need = set(wanted)
    states = _states(ctx) if need & {"states", "progress", "queues", "labels"} else None
    agreement = _agreement_data(ctx, pairs="kappa" in need) if need & {"agreement", "kappa", "annotators"} else {}
    for name in wanted:
        if name == "states":
            out[name] = states
        elif name == "progress":
            out[name] = _progress(ctx, states)
        elif name == "throughput":
            out[name] = _throughput(ctx)
        elif name == "labels":
            out[name] = _labels(ctx, states)
        elif name == "agreement":
            out[name] = _agreement(ctx, agreement)
        elif name == "kappa":
            out[name] = _kappa(ctx, agreement)
        elif name == "noise":
            out[name] = _noise(ctx)
        elif name == "confusion":
            out[name] = _confusion(ctx)
        elif name == "confused_pairs":
            out[name] = _confused_pairs(ctx)
        elif name == "queues":
            out[name] = _queues(ctx, states)
        elif name == "annotators":
            out[name] = _annotators(ctx, agreement)
        elif name == "datasets":
            out[name] = _datasets(ctx)
    return out


def _check_panels(panels: Iterable[str] | None) -> list[str]:
    if panels is None:
        return list(PANELS)
    wanted = list(panels)
    unknown = [p for p in wanted if p not in PANELS]
    if unknown:
        raise Invalid(f"unknown statistics panel {unknown[0]!r}; the panels are {', '.join(PANELS)}",
                      [{"row": None, "field": "panel", "detail": f"unknown panel {p!r}"} for p in unknown])
    return wanted


def project_stats(user: User, project_id: int, panels: Iterable[str] | None = None, *,
                  agreement: AgreementCalculator | None = None) -> dict:
    """The dashboard figures of one project: ``{"project": {...}, "generated_at", "panels": {name: panel}}``.

    Parameters
    ----------
    user : User
        Must be allowed to ``manage`` the project (a lead of it, or an admin).
    project_id : int
    panels : iterable of str, optional
        Names from :data:`PANELS`; all of them by default.
    agreement : callable, optional
        ``calculator(triples, class_names) -> dict`` used when no QC run has measured agreement
        yet (its result is cached until the project's annotations change).

    Raises
    ------
    NotFound, Forbidden
        As :func:`labeling.access.require_project` does.
    Invalid
        For an unknown panel name.
    """
    wanted = _check_panels(panels)
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        conn = s.connection()
        ctx = _Ctx(conn, project, LabelSchema.model_validate(project.label_schema), utcnow(), conn.dialect.name,
                   _latest_run(conn, project_id), agreement)
        started = time.perf_counter()
        panels_out = _compute(ctx, wanted)
        return {"project": {"id": project.id, "title": project.title, "kind": ctx.schema.kind},
                "generated_at": ctx.now.isoformat(), "seconds": round(time.perf_counter() - started, 4),
                "panels": panels_out}


def panel_csv(panel: dict) -> str:
    """A panel's table as CSV text (its ``columns``, then one line per row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(panel["columns"])
    for row in panel["rows"]:
        writer.writerow(["" if row.get(c) is None else _csv_cell(row.get(c)) for c in panel["columns"]])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    # Spreadsheets run cells that start with = + - @ as formulas: quote them as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --------------------------------------------------------------------------- overview


def overview(user: User) -> dict:
    """Every active project the user leads (all of them for admins), one line each.

    Columns: tasks, share annotated and final, annotations in the last 24 h, rate and finish
    date, suspects and items in review, latest noise rate and agreement, paused annotators.
    All figures come from grouped queries over the listed projects.
    """
    if user.role not in (Role.admin, Role.lead):
        raise Forbidden("the overview is for leads and admins")
    now = utcnow()
    with read_session() as s:
        projects = [p for p in visible_projects(s, user) if _may_manage(s, user, p)]
        ids = [p.id for p in projects]
        per: dict[int, dict] = {p.id: {"project_id": p.id, "title": p.title, "tasks": 0, "open": 0, "annotated": 0,
                                       "final": 0, "suspect": 0, "review": 0, "annotations_24h": 0,
                                       "rate_per_day": None, "eta": None, "noise_rate": None, "alpha": None,
                                       "last_qc": None, "paused": 0} for p in projects}
        if ids:
            _overview_fill(s, ids, per, now)
    rows = []
    for p in projects:
        r = per[p.id]
        r["annotated_share"] = _r(_ratio(r["annotated"], r["tasks"]))
        r["final_share"] = _r(_ratio(r["final"], r["tasks"]))
        rows.append(r)
    columns = ["project_id", "title", "tasks", "open", "annotated_share", "final_share", "annotations_24h",
               "rate_per_day", "eta", "suspect", "review", "noise_rate", "alpha", "last_qc", "paused"]
    return {"panel": "overview", "title": "Projects", "columns": columns,
            "rows": [{c: r[c] for c in columns} for r in rows], "generated_at": now.isoformat()}


def _may_manage(s: Session, user: User, project: Project) -> bool:
    return project_role(s, user, project) in ACTIONS["manage"]


def _overview_fill(s: Session, ids: list[int], per: dict[int, dict], now: datetime) -> None:
    for pid, state, n in s.execute(
            sa.select(_T.c.project_id, _T.c.state, sa.func.count())
            .where(_T.c.project_id.in_(ids), _T.c.is_gold.is_(False)).group_by(_T.c.project_id, _T.c.state)):
        r = per[pid]
        r["tasks"] += n
        if state in (TaskState.open, TaskState.imported):
            r["open"] += n
        if state in ANNOTATED:
            r["annotated"] += n
        if state in (TaskState.accepted, TaskState.excluded):
            r["final"] += n
        if state in (TaskState.suspect, TaskState.review):
            r[state] += n
    since = now - timedelta(hours=24)
    for pid, n in s.execute(
            sa.select(_A.c.project_id, sa.func.count())
            .where(_A.c.project_id.in_(ids), _A.c.created_at >= since, _A.c.was_cancelled.is_(False))
            .group_by(_A.c.project_id)):
        per[pid]["annotations_24h"] = n
    # the pace as on the dashboard: tasks entering the annotated states less those leaving them
    annotated = [s_.value for s_ in ANNOTATED]
    entering = sa.and_(_E.c.to_state.in_(annotated),
                       sa.or_(_E.c.from_state.is_(None), _E.c.from_state.not_in(annotated)))
    leaving = sa.and_(_E.c.from_state.in_(annotated), _E.c.to_state.not_in(annotated))
    for pid, net, first in s.execute(
            sa.select(_E.c.project_id, sa.func.sum(sa.case((entering, 1), else_=-1)), sa.func.min(_E.c.created_at))
            .where(_E.c.project_id.in_(ids), _E.c.created_at >= now - RATE_WINDOW, sa.or_(entering, leaving))
            .group_by(_E.c.project_id)):
        if not net or net <= 0:
            continue
        rate = net / (max(now - first, timedelta(days=1)).total_seconds() / 86400)
        r = per[pid]
        r["rate_per_day"] = _r(rate, 1)
        r["eta"] = _iso(now + timedelta(days=r["open"] / rate))
    latest = sa.select(sa.func.max(_R.c.id)).where(_R.c.project_id.in_(ids), _R.c.status == "done") \
        .group_by(_R.c.project_id).scalar_subquery()
    for pid, noise, agreement, finished in s.execute(
            sa.select(_R.c.project_id, _R.c.noise_rate, _R.c.agreement, _R.c.finished_at).where(_R.c.id.in_(latest))):
        r = per[pid]
        r["noise_rate"] = _r(noise)
        r["alpha"] = _normalise_agreement(agreement or {})["alpha"]
        r["last_qc"] = _iso(finished)
    for pid, n in s.execute(
            sa.select(_M.c.project_id, sa.func.count()).where(_M.c.project_id.in_(ids), _M.c.paused_at.is_not(None))
            .group_by(_M.c.project_id)):
        per[pid]["paused"] = n
    for r in per.values():
        if r["open"] == 0 and r["tasks"]:
            r["eta"] = None


# --------------------------------------------------------------------------- items behind a figure


def items(user: User, project_id: int, *, annotator: int | None = None, given: str | None = None,
          suggested: str | None = None, run_id: int | None = None, page: int = 1, page_size: int = 50) -> dict:
    """The tasks behind a dashboard figure: an annotator's items, or a confused label pair's.

    ``given`` and ``suggested`` are labels as the QC run stored them (JSON text, as the
    ``confused_pairs`` panel gives them in ``given_json`` / ``suggested_json``); the run is the
    latest one unless ``run_id`` is given. Returns ``{"total", "page", "rows": [...]}``.
    """
    if annotator is None and given is None and suggested is None:
        raise Invalid("say whose items (annotator) or which label pair (given, suggested) to list",
                      [{"row": None, "field": "annotator", "detail": "missing"}])
    page = max(int(page), 1)
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        conn = s.connection()
        if annotator is not None:
            base = (sa.select(_A.c.task_id, _A.c.result, _A.c.was_cancelled, _A.c.lead_time, _A.c.created_at,
                              _T.c.state, _T.c.is_gold)
                    .join(_T, _T.c.id == _A.c.task_id)
                    .where(_A.c.project_id == project_id, _A.c.user_id == annotator))
            total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
            found = conn.execute(base.order_by(_A.c.created_at.desc(), _A.c.id.desc())
                                 .limit(page_size).offset((page - 1) * page_size)).all()
            email = conn.execute(sa.select(_U.c.email).where(_U.c.id == annotator)).scalar() or str(annotator)
            rows = [{"task_id": r.task_id, "state": r.state, "gold": r.is_gold,
                     "label": "(skipped)" if r.was_cancelled else _label_value_text(r.result),
                     "seconds": _r(r.lead_time, 1), "created_at": _iso(r.created_at)} for r in found]
            return {"what": f"items labeled by {email}", "total": total, "page": page, "page_size": page_size,
                    "columns": ["task_id", "state", "gold", "label", "seconds", "created_at"], "rows": rows}
        latest = _latest_run(conn, project_id) if run_id is None else None
        run = run_id if run_id is not None else (latest.id if latest is not None else None)
        if run is None:
            return {"what": "no QC run yet", "total": 0, "page": page, "page_size": page_size, "columns": [],
                    "rows": []}
        where = [_I.c.run_id == run, _I.c.project_id == project_id, _I.c.is_issue.is_(True), _I.c.kind == "label"]
        if given is not None:
            where.append(sa.cast(_I.c.given, sa.Text) == given)
        if suggested is not None:
            where.append(sa.cast(_I.c.suggested, sa.Text) == suggested)
        base = (sa.select(_I.c.task_id, _I.c.kind, _I.c.given, _I.c.suggested, _I.c.score, _I.c.reason, _T.c.state)
                .join(_T, _T.c.id == _I.c.task_id).where(*where))
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        found = conn.execute(base.order_by(_I.c.score, _I.c.id).limit(page_size).offset((page - 1) * page_size)).all()
        rows = [{"task_id": r.task_id, "state": r.state, "kind": r.kind, "given": _label_value_text(r.given),
                 "suggested": _label_value_text(r.suggested), "score": _r(r.score), "reason": r.reason}
                for r in found]
        what = f"items given {_label_text(given)!r}" if given is not None else "items"
        if suggested is not None:
            what += f" that QC suggests are {_label_text(suggested)!r}"
        return {"what": f"{what} (QC run {run})", "total": total, "page": page, "page_size": page_size,
                "columns": ["task_id", "state", "kind", "given", "suggested", "score", "reason"], "rows": rows}
