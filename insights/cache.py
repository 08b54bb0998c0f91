"""Sums over annotations and task events, cached per project and brought up to date
incrementally (ARCHITECTURE.md, insights).

The sums (per annotator, per hour, per label, gold answers, state changes per hour) are
additive: they are cached per project and brought up to date with the rows added since (an id
range), so a load reads only what is new. The key is the project's row count and the table's
last id; a count that disagrees (rows deleted, or committed out of id order) recomputes in full,
and so does age (:data:`CACHE_TTL`). See :func:`incremental`. The same process-wide cache holds
the panels' other cached figures (percentiles; tasks by state and final labels come from
labeling.tally, kept by the database).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from insights.context import DONE, A, Ctx, E, V
from insights.sql import hour_sql, label_params, labels_sql, primary, set_agg

#: The states whose arrivals the progress panel counts ...
PROGRESS_STATES = ["labeled", "suspect", "accepted", "excluded"]
#: ... and the task events summed per hour for it.
EVENT_SUMS = [*PROGRESS_STATES, "done_in", "done_out", "final_in", "final_out"]

_cache: OrderedDict[tuple, tuple[Any, float, Any]] = OrderedDict()

_cache_lock = threading.Lock()

CACHE_SIZE = 128

#: Seconds a cached aggregate lives at most (a safety net: the keys see new, deleted and edited
#: annotations and new task events).
CACHE_TTL = 3600.0

#: Seconds between counts of a project's rows behind cached sums: deleted
#: rows and rows committed out of id order show within this time.
RECOUNT_EVERY = 30.0


def slot(name: str, ctx: Ctx) -> tuple:
    # The project's creation time too: a deleted project's id may be given to a new one.
    return name, ctx.pid, ctx.project.created_at


def cache_get(name: str, ctx: Ctx) -> tuple[Any, float, Any] | None:
    """``(key, born, value)`` of a live entry, or None."""
    with _cache_lock:
        entry = _cache.get(slot(name, ctx))
        if entry is not None and time.monotonic() - entry[1] < CACHE_TTL:
            _cache.move_to_end(slot(name, ctx))
            return entry
        return None


def cache_put(name: str, ctx: Ctx, key: Any, value: Any, *, born: float | None = None) -> None:
    cache_put_slot(slot(name, ctx), key, value, born=born)


def cache_put_slot(slot: tuple, key: Any, value: Any, *, born: float | None = None) -> None:
    with _cache_lock:
        _cache[slot] = (key, time.monotonic() if born is None else born, value)
        _cache.move_to_end(slot)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached statistic (tests, and after bulk changes)."""
    with _cache_lock:
        _cache.clear()

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


def incremental(ctx: Ctx, name: str, table: sa.Table, compute: Callable[..., Sums]) -> tuple[tuple[int, ...], Sums]:
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
    edits = (ctx.conn.execute(sa.select(sa.func.max(V.c.id))).scalar() or 0) if table is A else 0
    now = time.monotonic()
    entry = cache_get(name, ctx)
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
                cache_put(name, ctx, key, (now if recount else counted, sums), born=born)
                return key, sums
    # In full: '+id' keeps the planner on the covering indexes instead of a primary-key range.
    total = count()
    sums = compute(f"+{table.name}.id <= :upto", {"upto": newest})
    key = (total, newest, edits)
    cache_put(name, ctx, key, (now, sums))
    return key, sums


def annotation_sums(ctx: Ctx) -> Sums:
    """Additive sums over the project's annotations (see :func:`incremental`):

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
        hour = hour_sql(ctx, "created_at")
        for h, submits, skips in ctx.rows(sa.text(
                f"SELECT {hour} AS h, sum(CASE WHEN was_cancelled THEN 0 ELSE 1 END), "
                f"sum(CASE WHEN was_cancelled THEN 1 ELSE 0 END) FROM {source} WHERE {where} GROUP BY h"), **params):
            out["hours"][h] = [submits or 0, skips or 0]
        if primary(ctx.schema) is None:
            return out
        labels = label_params(ctx)
        given = labels_sql(ctx, source, "annotation.result", "annotation.id",
                            f"{where} AND annotation.was_cancelled = :no")
        for lab, n in ctx.rows(sa.text(f"SELECT lab, count(*) FROM ({given}) x GROUP BY lab"), no=False,
                               **params, **labels):
            out["labels"][lab] = [n]
        gold = labels_sql(ctx, "task", "task.gold_answer", "task.id AS task_id",
                           "task.project_id = :p AND task.is_gold = :yes AND task.gold_answer IS NOT NULL",
                           strings_too=True)
        ann = labels_sql(ctx, f"task JOIN {source} ON annotation.task_id = task.id", "annotation.result",
                          "annotation.task_id, annotation.user_id",
                          f"task.project_id = :p AND task.is_gold = :yes AND {where} AND annotation.was_cancelled = :no")
        agg = set_agg(ctx)
        for uid, n, correct in ctx.rows(sa.text(
                f"WITH g AS (SELECT task_id, {agg} AS labels FROM (SELECT * FROM ({gold}) y ORDER BY lab) x "
                f"GROUP BY task_id), "
                f"a AS (SELECT task_id, user_id, {agg} AS labels FROM (SELECT * FROM ({ann}) y ORDER BY lab) x "
                f"GROUP BY task_id, user_id) "
                f"SELECT a.user_id, count(*), sum(CASE WHEN a.labels = g.labels THEN 1 ELSE 0 END) "
                f"FROM a JOIN g ON g.task_id = a.task_id GROUP BY a.user_id"), yes=True, no=False, **params, **labels):
            out["gold"][uid] = [n, correct or 0]
        return out

    return ctx.memo("annotations", lambda: incremental(ctx, "annotations", A, compute))[1]


def event_sums(ctx: Ctx) -> dict[str, list[int]]:
    """``{"YYYY-MM-DD HH": [n for each of EVENT_SUMS]}``: the project's task events by hour:
    arrivals in each state of :data:`PROGRESS_STATES`, and tasks entering and leaving the
    states where labeling is done (:data:`insights.context.DONE`) and the final ones (accepted,
    excluded). Additive (see :func:`incremental`)."""
    done = ", ".join(f"'{s.value}'" for s in sorted(DONE))
    final = "'accepted', 'excluded'"
    columns = [f"sum(CASE WHEN to_state = '{s}' THEN 1 ELSE 0 END)" for s in PROGRESS_STATES]
    for group in (done, final):
        columns.append(f"sum(CASE WHEN to_state IN ({group}) AND (from_state IS NULL OR from_state NOT IN ({group})) "
                       f"THEN 1 ELSE 0 END)")
        columns.append(f"sum(CASE WHEN from_state IN ({group}) AND to_state NOT IN ({group}) THEN 1 ELSE 0 END)")

    def compute(ids: str, params: dict[str, int], source: str = "task_event") -> Sums:
        rows = ctx.rows(sa.text(
            f"SELECT {hour_sql(ctx, 'created_at')} AS h, {', '.join(columns)} FROM {source} "
            f"WHERE task_event.project_id = :p AND {ids} GROUP BY h"), **params)
        return {"hours": {h: [int(n or 0) for n in ns] for h, *ns in rows}}

    return ctx.memo("events", lambda: incremental(ctx, "events", E, compute))[1]["hours"]


def annotation_key(ctx: Ctx) -> tuple[int, ...]:
    """What changes when annotations come or go (the key of the non-additive caches)."""
    annotation_sums(ctx)
    return ctx.memo("annotations", lambda: None)[0]
