"""Tallies of a project's tasks, kept up to date as tasks change (ARCHITECTURE.md, "Dashboard
tallies"): tasks by state and gold (with the tasks sent back by QC, the annotations still wanted
the tasks with a submitted annotation, and the tasks' submitted and skipped annotations) and the
labels in the final labels of accepted tasks.

Triggers on ``task`` (migrations 0021_scale_tallies, 0028_tally_annotated, 0030_tally_annotations) append rows of differences to ``task_tally``
and ``final_tally`` in the transaction of every statement that writes tasks, whatever the path;
a project's figures are the sums of its rows, read by an index range. The rows only grow, so a
reader that finds more than :data:`FOLD_AT` rows beyond one per key folds them (:func:`compact`):
one transaction deletes them, RETURNING what it deleted, and inserts their sums, so rows that
concurrent writers add meanwhile are neither lost nor counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from labeling.db import unit_of_work
from labeling.models import FinalTally, TaskTally

__all__ = ["FOLD_AT", "annotated", "compact", "final_labels", "forget", "task_counts"]

_TT = TaskTally.__table__
_FT = FinalTally.__table__

#: ``task_tally``'s summed columns, in the order of :data:`Counts`' lists.
_SUMS = ("tasks", "requeued", "wanted", "annotated", "annotations", "skips")

#: Rows beyond one per key a project may have before a reader folds them.
FOLD_AT = 256

#: ``(state, is_gold) -> [tasks, requeued, annotations wanted, tasks with a submitted annotation,
#: submitted annotations, skipped annotations]``
Counts = dict[tuple[str, bool], list[int]]


def task_counts(conn: Connection, project_ids: Iterable[int], *, fold: bool = True) -> dict[int, Counts]:
    """Tasks of each project by ``(state, is_gold)``: ``[tasks, requeued, wanted, annotated,
    annotations, skips]``, where ``requeued`` counts the tasks QC sent back, ``wanted`` sums
    ``target_overlap - n_annotations``, ``annotated`` counts the tasks with a submitted
    annotation (``n_annotations > 0``), ``annotations`` and ``skips`` sum ``n_annotations`` and
    ``n_skips``. Keys with no task are left out. Folds a project's rows when they are many
    (``fold=False``: never; for a caller inside a write transaction, which on SQLite holds the
    lock the fold's own transaction would wait for)."""
    ids = sorted(set(project_ids))
    out: dict[int, Counts] = {pid: {} for pid in ids}
    if not ids:
        return out
    rows: dict[int, int] = defaultdict(int)
    for pid, state, gold, n, tasks, *values in conn.execute(
            sa.select(_TT.c.project_id, _TT.c.state, _TT.c.is_gold, sa.func.count(),
                      *(sa.func.sum(_TT.c[c]) for c in _SUMS))
            .where(_TT.c.project_id.in_(ids)).group_by(_TT.c.project_id, _TT.c.state, _TT.c.is_gold)):
        rows[pid] += n - 1
        if tasks:
            out[pid][(state, bool(gold))] = [int(tasks), *(int(v or 0) for v in values)]
    if fold:
        _fold_later([pid for pid, extra in rows.items() if extra > FOLD_AT])
    return out


def annotated(counts: Counts, *, gold: bool = False) -> int:
    """The tasks with at least one submitted annotation, whatever their state (Label Studio's
    ``num_tasks_with_annotations``), of one project's :func:`task_counts`; the ordinary tasks,
    or with ``gold`` the gold ones. The dashboard's "annotated" and the export page's annotated
    tasks both read it."""
    return sum(v[3] for (_state, is_gold), v in counts.items() if is_gold == gold)


def final_labels(conn: Connection, project_id: int, *, control: str, field: str) -> dict[str, int]:
    """``{label: accepted tasks' final labels naming it}`` for result items of ``control``
    whose labels are in ``value[field]``, plus bare strings in the final label lists (as
    :func:`insights.sql.labels_sql` with ``strings_too`` reads them). Labels counted zero times
    are left out."""
    where = sa.and_(_FT.c.project_id == project_id,
                    sa.or_(sa.and_(_FT.c.control == control, _FT.c.field == field), _FT.c.field.is_(None)))
    found = conn.execute(sa.select(_FT.c.label, sa.func.sum(_FT.c.n)).where(where).group_by(_FT.c.label)).all()
    extra = conn.execute(sa.select(sa.func.count() - sa.func.count(sa.distinct(
        sa.func.coalesce(_FT.c.control, "") + "\x1f" + sa.func.coalesce(_FT.c.field, "") + "\x1f"
        + sa.func.coalesce(_FT.c.label, "")))).where(_FT.c.project_id == project_id)).scalar_one()
    if extra > FOLD_AT:
        _fold_later([project_id])
    return {label: int(n) for label, n in found if n}


def _fold_later(project_ids: list[int]) -> None:
    # A reader's own transaction may be read-only (a dashboard's): fold in a transaction of its own.
    for pid in project_ids:
        compact(pid)


def compact(project_id: int) -> None:
    """Fold a project's tally rows into one row per key (their sums; keys summing to nothing
    go), in one write transaction."""
    with unit_of_work() as s:
        conn = s.connection()
        if conn.dialect.name == "postgresql":  # one statement each, summed in the database
            _fold_pg(conn, project_id)
            return
        sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(_SUMS))
        for state, gold, *values in conn.execute(
                sa.delete(_TT).where(_TT.c.project_id == project_id)
                .returning(_TT.c.state, _TT.c.is_gold, *(_TT.c[c] for c in _SUMS))):
            v = sums[(state, bool(gold))]
            for i, n in enumerate(values):
                v[i] += n
        rows = [{"project_id": project_id, "state": k[0], "is_gold": k[1], **dict(zip(_SUMS, v, strict=True))}
                for k, v in sums.items() if any(v)]
        if rows:
            conn.execute(sa.insert(_TT), rows)
        labels: dict[tuple, int] = defaultdict(int)
        for control, field, label, n in conn.execute(
                sa.delete(_FT).where(_FT.c.project_id == project_id)
                .returning(_FT.c.control, _FT.c.field, _FT.c.label, _FT.c.n)):
            labels[(control, field, label)] += n
        rows = [{"project_id": project_id, "control": k[0], "field": k[1], "label": k[2], "n": n}
                for k, n in labels.items() if n]
        if rows:
            conn.execute(sa.insert(_FT), rows)


def _fold_pg(conn: Connection, project_id: int) -> None:
    for table, keys, values in ((_TT, ("state", "is_gold"), _SUMS),
                                (_FT, ("control", "field", "label"), ("n",))):
        gone = (sa.delete(table).where(table.c.project_id == project_id)
                .returning(*(table.c[k] for k in (*keys, *values))).cte("gone"))
        sums = [sa.func.sum(gone.c[v]) for v in values]
        conn.execute(sa.insert(table).from_select(
            ["project_id", *keys, *values],
            sa.select(sa.literal(project_id), *(gone.c[k] for k in keys), *sums)
            .group_by(*(gone.c[k] for k in keys)).having(sa.or_(*(v != 0 for v in sums)))))


def forget(conn: Connection, project_id: int) -> None:
    """Delete a deleted project's tally rows (after its tasks: their triggers write rows too)."""
    conn.execute(sa.delete(_TT).where(_TT.c.project_id == project_id))
    conn.execute(sa.delete(_FT).where(_FT.c.project_id == project_id))
