"""Progress and throughput: tasks by state, progress over time with the finish date,
annotations and skips per period, time per item (percentiles), queues and dataset versions.

**Percentiles** of the time per item run in SQL: ``percentile_cont`` on PostgreSQL; on SQLite
the two values around each percentile are read with ``LIMIT 2 OFFSET k`` walking an index in
lead-time order, and interpolated as ``percentile_cont`` does. Cached, recomputed at most every
:data:`PERCENTILE_REFRESH` seconds while annotations keep coming.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from insights.cache import (
    EVENT_SUMS,
    PROGRESS_STATES,
    annotation_key,
    annotation_sums,
    cache_get,
    cache_put,
    event_sums,
)
from insights.context import DONE, STATES, A, Ctx, iso, panel, ratio, rounded
from labeling import tally
from labeling.models import DatasetVersion, Job, Lease, TaskState

#: Time-series buckets: hours for the first days of a project, then days.
HOURLY_UP_TO = timedelta(days=3)

#: The window the finish date is extrapolated from.
RATE_WINDOW = timedelta(days=7)

#: Percentiles and agreement are not additive: while annotations keep coming they are computed
#: again at most this often (seconds), and shown with the time they were computed.
PERCENTILE_REFRESH = 60.0


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


def state_counts(ctx: Ctx) -> tuple[dict[str, int], int]:
    """Tasks by state (gold apart), from the tallies the database keeps as tasks change
    (:mod:`labeling.tally`): an index range over a few rows, however many tasks there are."""
    return ctx.memo("states", lambda: _state_counts(task_tally(ctx)))


def task_tally(ctx: Ctx) -> tally.Counts:
    """The project's :func:`labeling.tally.task_counts`, read once per dashboard."""
    return ctx.memo("tally", lambda: tally.task_counts(ctx.conn, [ctx.pid])[ctx.pid])


def _state_counts(counts_by_key: tally.Counts) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = {}
    gold = 0
    for (state, is_gold), (n, *_) in counts_by_key.items():
        if is_gold:
            gold += n
            continue
        state = TaskState.open.value if state == TaskState.imported else state
        counts[state] = counts.get(state, 0) + n
    return counts, gold


def states_panel(ctx: Ctx) -> dict:
    """Tasks by state; ``annotated``: the tasks with a submitted annotation, whatever their state
    (sent back for more labels too; Label Studio's ``num_tasks_with_annotations``, gold apart),
    the tasks the export's annotation rows cover; ``done``: those with every label they ask for
    (the states of :data:`insights.context.DONE`)."""
    counts, gold = state_counts(ctx)
    total = sum(counts.values())
    annotated = tally.annotated(task_tally(ctx))
    done = sum(n for s, n in counts.items() if s in DONE)
    final = counts.get(TaskState.accepted, 0) + counts.get(TaskState.excluded, 0)
    rows = [{"state": s.value, "tasks": counts.get(s, 0), "share": rounded(ratio(counts.get(s, 0), total))}
            for s in STATES]
    return panel("states", ["state", "tasks", "share"], rows, total=total, gold=gold, annotated=annotated,
                  annotated_share=rounded(ratio(annotated, total)), done=done, done_share=rounded(ratio(done, total)),
                  final=final, final_share=rounded(ratio(final, total)),
                  remaining=counts.get(TaskState.open, 0))


def progress_panel(ctx: Ctx, states: dict) -> dict:
    """Tasks reaching each state per period, and the tasks done labeling (every label they ask
    for) and the final ones over time (net: tasks sent back to be labeled again, by QC or a new
    overlap, leave the count until they are done again)."""
    hours = event_sums(ctx)
    unit, rows = _series(hours, EVENT_SUMS)
    done = final = 0
    for row in rows:
        done += row.pop("done_in") - row.pop("done_out")
        final += row.pop("final_in") - row.pop("final_out")
        row["done_total"], row["final_total"] = done, final
    # The finish date: the open tasks, at the pace tasks became done (net) over the last
    # days; over at least a day: an hour's work is no daily pace, nobody labels 24 hours a day.
    since = (ctx.now - RATE_WINDOW).strftime("%Y-%m-%d %H")
    i_in, i_out = EVENT_SUMS.index("done_in"), EVENT_SUMS.index("done_out")
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
    return panel("progress", ["period", *PROGRESS_STATES, "done_total", "final_total"], rows, unit=unit,
                  rate_per_day=rounded(rate, 1), remaining=remaining, tasks=states["total"], eta=iso(eta),
                  rate_window_days=RATE_WINDOW.days)


def _interpolate(values: list[float], pos: float) -> float | None:
    """``percentile_cont``'s interpolation between v[floor(pos)] and v[floor(pos) + 1]."""
    if not values:
        return None
    lo, hi = min(values), max(values)
    return lo + (pos - math.floor(pos)) * (hi - lo)


def _percentiles_sql(ctx: Ctx, counts: dict[Any, int], *, per_user: bool) -> dict[Any, tuple[float, float]]:
    """Median and p90 of the lead time of submitted annotations, per annotator or overall.

    PostgreSQL: ``percentile_cont`` in one grouped query. SQLite: for each group of n values,
    the values at positions floor(q (n - 1)) and the next are read with ``ORDER BY lead_time
    LIMIT 2 OFFSET ...`` walking an index already in lead-time order (from whichever end is
    nearer; ``ix_annotation_stats_user`` / ``ix_annotation_stats_lead_time``), then
    interpolated as ``percentile_cont`` does.
    """
    base = [A.c.project_id == ctx.pid, A.c.was_cancelled == sa.false(), A.c.lead_time.is_not(None)]
    if not ctx.sqlite:
        p50 = sa.func.percentile_cont(0.5).within_group(A.c.lead_time)
        p90 = sa.func.percentile_cont(0.9).within_group(A.c.lead_time)
        if per_user:
            q = sa.select(A.c.user_id, p50, p90).where(*base).group_by(A.c.user_id)
            return {r[0]: (r[1], r[2]) for r in ctx.conn.execute(q)}
        r = ctx.conn.execute(sa.select(p50, p90).where(*base)).one()
        return {None: (r[0], r[1])} if r[0] is not None else {}
    wanted = [(key, n, q * (n - 1)) for key, n in counts.items() if n for q in (0.5, 0.9)]
    found: dict[int, list[float]] = {}
    for chunk in range(0, len(wanted), 200):  # SQLite allows 500 terms in a compound SELECT
        parts = []
        for n, (key, size, pos) in enumerate(wanted[chunk:chunk + 200]):
            where = [*base, A.c.user_id == key] if per_user else base
            f = math.floor(pos)
            if f < size / 2:  # walk from the low end ...
                sub = sa.select(A.c.lead_time).where(*where).order_by(A.c.lead_time).limit(2).offset(f)
            else:  # ... or from the high end: v[f + 1], v[f] in descending order
                sub = (sa.select(A.c.lead_time).where(*where).order_by(A.c.lead_time.desc())
                       .limit(2 if f + 1 < size else 1).offset(max(size - 2 - f, 0)))
            sub = sub.subquery(f"s{n}")
            parts.append(sa.select(sa.literal(chunk + n).label("k"), sub.c.lead_time))
        for k, value in ctx.conn.execute(sa.union_all(*parts)):
            found.setdefault(k, []).append(value)
    out: dict[Any, list] = {}
    for k, (key, _size, pos) in enumerate(wanted):
        out.setdefault(key, []).append(_interpolate(found.get(k, []), pos))
    return {key: (v[0], v[1]) for key, v in out.items()}


def lead_time_percentiles(ctx: Ctx) -> dict[str, Any]:
    """``{"overall": (p50, p90), "users": {user: (p50, p90)}, "computed_at"}``, cached: computed
    again when annotations changed, at most every :data:`PERCENTILE_REFRESH` seconds."""

    def compute() -> dict[str, Any]:
        users = annotation_sums(ctx)["users"]
        timed = {uid: v[2] for uid, v in users.items()}
        overall = _percentiles_sql(ctx, {None: sum(timed.values())}, per_user=False).get(None, (None, None))
        return {"overall": overall, "users": _percentiles_sql(ctx, timed, per_user=True),
                "computed_at": ctx.now.isoformat()}

    def get() -> dict[str, Any]:
        key = annotation_key(ctx)
        entry = cache_get("percentiles", ctx)
        if entry is not None and (entry[0] == key or time.monotonic() - entry[1] < PERCENTILE_REFRESH):
            return entry[2]
        value = compute()
        cache_put("percentiles", ctx, key, value)
        return value

    return ctx.memo("percentiles", get)


def recent_activity(ctx: Ctx) -> dict[int, tuple[int, datetime | None]]:
    """Per annotator: submitted annotations in the last 24 hours and the time of their last
    annotation; index seeks and ranges on ``ix_annotation_project_user``, one per annotator."""

    def compute() -> dict[int, tuple[int, datetime | None]]:
        users = annotation_sums(ctx)["users"]
        if not users:
            return {}
        ids = sa.values(sa.column("u", sa.Integer), name="u").data([(int(uid),) for uid in users]).cte("u")
        mine = (A.c.project_id == ctx.pid, A.c.user_id == ids.c.u)
        recent = sa.select(sa.func.count()).where(*mine, A.c.created_at >= ctx.now - timedelta(hours=24),
                                                  A.c.was_cancelled == sa.false())
        last = sa.select(A.c.created_at).where(*mine).order_by(A.c.created_at.desc()).limit(1)
        return {uid: (n, when) for uid, n, when in
                ctx.conn.execute(sa.select(ids.c.u, recent.scalar_subquery(), last.scalar_subquery()))}

    return ctx.memo("recent", compute)


def throughput_panel(ctx: Ctx) -> dict:
    sums = annotation_sums(ctx)
    unit, rows = _series(sums["hours"], ["annotations", "skips"])
    recent = [n for n, _ in recent_activity(ctx).values()]
    users = sums["users"].values()
    times = lead_time_percentiles(ctx)
    last_day = sum(recent)
    return panel("throughput", ["period", "annotations", "skips"], rows, unit=unit,
                  total=sum(u[0] - u[1] for u in users), skips=sum(u[1] for u in users),
                  last_24h=last_day, per_hour_24h=rounded(last_day / 24, 1), active_annotators_24h=sum(1 for n in recent if n),
                  median_seconds=rounded(times["overall"][0], 1), p90_seconds=rounded(times["overall"][1], 1),
                  timed_items=sum(u[2] for u in users), times_computed_at=times["computed_at"])


def queues_panel(ctx: Ctx, states: dict) -> dict:
    waiting = [v for (state, is_gold), v in task_tally(ctx).items()
               if not is_gold and state in (TaskState.open, TaskState.imported)]
    open_, relabel, needed = (sum(v[i] for v in waiting) for i in range(3))
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
    return panel("queues", ["queue", "items", "detail"], rows, annotations_wanted=needed)


def datasets_panel(ctx: Ctx) -> dict:
    found = ctx.conn.execute(
        sa.select(DatasetVersion.number, DatasetVersion.created_at, DatasetVersion.n_items, DatasetVersion.noise_rate,
                  DatasetVersion.sha256, DatasetVersion.note)
        .where(DatasetVersion.project_id == ctx.pid).order_by(DatasetVersion.number)).all()
    rows = [{"version": v.number, "created_at": iso(v.created_at), "items": v.n_items, "noise_rate": rounded(v.noise_rate),
             "sha256": v.sha256, "note": v.note} for v in found]
    return panel("datasets", ["version", "created_at", "items", "noise_rate", "sha256", "note"], rows,
                  latest=rows[-1]["version"] if rows else None)
