"""``task_tally.annotations`` and ``task_tally.skips``: the sums of the tasks' ``n_annotations``
and ``n_skips`` (Label Studio's project ``total_annotations_number`` and
``skipped_annotations_number``), kept by the tally triggers like the other figures, so that the
project API's counts read the tallies instead of grouping every task and annotation of the
project (seconds at millions of tasks; labeling/tally.py; ARCHITECTURE.md, "Dashboard tallies")

The trigger function (PostgreSQL) and the INSERT, DELETE and UPDATE triggers of ``task_tally``
(SQLite) are made again with the new columns, the UPDATE one also firing when ``n_skips`` changes;
``final_tally``'s statements are 0021's, unchanged. The backfill adds one row per (project, state,
gold) with the sums there are.

Revision ID: 0030_tally_annotations
Revises: 0029_annotation_draft_created_at
Create Date: 2026-12-05 16:35:00
"""
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = '0030_tally_annotations'
down_revision: str | None = '0029_annotation_draft_created_at'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _migration(name: str):
    """An earlier migration's module (its trigger builders: 0021's final_tally statements, 0028's
    triggers for the downgrade)."""
    spec = importlib.util.spec_from_file_location(f"_m{name[:4]}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_COLUMNS = "project_id, state, is_gold, tasks, requeued, wanted, annotated, annotations, skips"
_SUMS = ("tasks", "requeued", "wanted", "annotated", "annotations", "skips")


def _pg_tally(rows: str, sign: str) -> str:
    return (f"SELECT project_id, state, is_gold, {sign} AS tasks, {sign} * (CASE WHEN requeued THEN 1 ELSE 0 END) "
            f"AS requeued, {sign} * (target_overlap - n_annotations) AS wanted, "
            f"{sign} * (CASE WHEN n_annotations > 0 THEN 1 ELSE 0 END) AS annotated, "
            f"{sign} * n_annotations AS annotations, {sign} * n_skips AS skips FROM {rows}")


def _pg_insert_tally(parts: list[str]) -> str:
    sums = ", ".join(f"sum({c})" for c in _SUMS)
    having = " OR ".join(f"sum({c}) <> 0" for c in _SUMS)
    return (f"INSERT INTO task_tally ({_COLUMNS}) SELECT project_id, state, is_gold, {sums} "
            f"FROM ({' UNION ALL '.join(parts)}) x GROUP BY project_id, state, is_gold HAVING {having}")


def _pg_function(old) -> str:
    final = old._pg_final
    return f"""
CREATE OR REPLACE FUNCTION task_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_insert_tally([_pg_tally('new_rows', '1')])};
    {old._pg_insert([final('new_rows', '1')], tally=False)};
  ELSIF TG_OP = 'DELETE' THEN
    {_pg_insert_tally([_pg_tally('old_rows', '-1')])};
    {old._pg_insert([final('old_rows', '-1')], tally=False)};
  ELSE
    {_pg_insert_tally([_pg_tally('new_rows', '1'), _pg_tally('old_rows', '-1')])};
    {old._pg_insert([final('new_rows', '1'), final('old_rows', '-1')], tally=False)};
  END IF;
  RETURN NULL;
END $$
"""


def _sqlite_tally(row: str, sign: str) -> str:
    return (f"INSERT INTO task_tally ({_COLUMNS}) VALUES ({row}.project_id, {row}.state, {row}.is_gold, "
            f"{sign}, {sign} * {row}.requeued, {sign} * ({row}.target_overlap - {row}.n_annotations), "
            f"{sign} * ({row}.n_annotations > 0), {sign} * {row}.n_annotations, {sign} * {row}.n_skips);")


def _sqlite_triggers(old) -> dict[str, str]:
    reads = [*old._TALLY_READS, "n_skips"]
    return {
        "task_tally_insert": f"AFTER INSERT ON task BEGIN {_sqlite_tally('NEW', '1')} {old._sqlite_final('NEW', '1')} END",
        "task_tally_delete": f"AFTER DELETE ON task BEGIN {_sqlite_tally('OLD', '-1')} {old._sqlite_final('OLD', '-1')} END",
        "task_tally_update": (f"AFTER UPDATE OF {', '.join(reads)} ON task WHEN {old._changed(reads)} BEGIN "
                              f"{_sqlite_tally('OLD', '-1')} {_sqlite_tally('NEW', '1')} END"),
    }


def _replace_sqlite_triggers(triggers: dict[str, str]) -> None:
    for name, body in triggers.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    old = _migration("0021_scale_tallies")
    op.add_column('task_tally', sa.Column('annotations', sa.BigInteger(), nullable=False, server_default='0'))
    op.add_column('task_tally', sa.Column('skips', sa.BigInteger(), nullable=False, server_default='0'))
    # the backfill, then the triggers that keep it (one transaction: no write in between)
    op.execute(f"INSERT INTO task_tally ({_COLUMNS}) SELECT project_id, state, is_gold, 0, 0, 0, 0, "
               f"sum(n_annotations), sum(n_skips) FROM task WHERE n_annotations <> 0 OR n_skips <> 0 "
               f"GROUP BY project_id, state, is_gold")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(old))
    else:
        _replace_sqlite_triggers(_sqlite_triggers(old))


def downgrade() -> None:
    old, before = _migration("0021_scale_tallies"), _migration("0028_tally_annotated")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(before._pg_function(old))
    else:
        _replace_sqlite_triggers(before._sqlite_triggers(old))
    # rows that only carried these sums sum to nothing once the columns go
    op.execute("DELETE FROM task_tally WHERE tasks = 0 AND requeued = 0 AND wanted = 0 AND annotated = 0")
    op.drop_column('task_tally', 'skips')
    op.drop_column('task_tally', 'annotations')
