"""``task_tally.annotated``: the tasks with at least one submitted annotation, whatever their
state (Label Studio's ``num_tasks_with_annotations``), kept by the tally triggers like the other
figures, so the dashboard's "annotated" counts the tasks sent back for more labels too without
reading the tasks (labeling/tally.py; ARCHITECTURE.md, "Dashboard tallies")

The trigger function (PostgreSQL) and the INSERT, DELETE and UPDATE triggers of ``task_tally``
(SQLite) are made again with the new column; ``final_tally``'s statements are 0021's, unchanged.
The backfill adds one row per (project, state, gold) with the annotated tasks there are.

Revision ID: 0028_tally_annotated
Revises: 0027_user_custom_hotkeys
Create Date: 2026-12-05 13:40:00
"""
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = '0028_tally_annotated'
down_revision: str | None = '0027_user_custom_hotkeys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tallies_0021():
    """0021's trigger builders (its final_tally statements, and its own triggers for the downgrade)."""
    spec = importlib.util.spec_from_file_location("_tallies_0021", Path(__file__).with_name("0021_scale_tallies.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_COLUMNS = "project_id, state, is_gold, tasks, requeued, wanted, annotated"


def _pg_tally(rows: str, sign: str) -> str:
    return (f"SELECT project_id, state, is_gold, {sign} AS tasks, {sign} * (CASE WHEN requeued THEN 1 ELSE 0 END) "
            f"AS requeued, {sign} * (target_overlap - n_annotations) AS wanted, "
            f"{sign} * (CASE WHEN n_annotations > 0 THEN 1 ELSE 0 END) AS annotated FROM {rows}")


def _pg_insert_tally(parts: list[str]) -> str:
    return (f"INSERT INTO task_tally ({_COLUMNS}) SELECT project_id, state, is_gold, sum(tasks), sum(requeued), "
            f"sum(wanted), sum(annotated) FROM ({' UNION ALL '.join(parts)}) x GROUP BY project_id, state, is_gold "
            f"HAVING sum(tasks) <> 0 OR sum(requeued) <> 0 OR sum(wanted) <> 0 OR sum(annotated) <> 0")


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
            f"{sign} * ({row}.n_annotations > 0));")


def _sqlite_triggers(old) -> dict[str, str]:
    reads = old._TALLY_READS  # n_annotations among them: an annotation counted fires the update
    return {
        "task_tally_insert": f"AFTER INSERT ON task BEGIN {_sqlite_tally('NEW', '1')} {old._sqlite_final('NEW', '1')} END",
        "task_tally_delete": f"AFTER DELETE ON task BEGIN {_sqlite_tally('OLD', '-1')} {old._sqlite_final('OLD', '-1')} END",
        "task_tally_update": (f"AFTER UPDATE OF {', '.join(reads)} ON task WHEN {old._changed(reads)} BEGIN "
                              f"{_sqlite_tally('OLD', '-1')} {_sqlite_tally('NEW', '1')} END"),
    }


def upgrade() -> None:
    old = _tallies_0021()
    op.add_column('task_tally', sa.Column('annotated', sa.BigInteger(), nullable=False, server_default='0'))
    # the backfill, then the triggers that keep it (one transaction: no write in between)
    op.execute(f"INSERT INTO task_tally ({_COLUMNS}) SELECT project_id, state, is_gold, 0, 0, 0, count(*) "
               f"FROM task WHERE n_annotations > 0 GROUP BY project_id, state, is_gold")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(old))
    else:
        for name, body in _sqlite_triggers(old).items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    old = _tallies_0021()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(old._PG_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    else:
        for name in _sqlite_triggers(old):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {old._SQLITE_TRIGGERS[name]}")
    # rows that only carried annotated tasks sum to nothing once the column goes
    op.execute("DELETE FROM task_tally WHERE tasks = 0 AND requeued = 0 AND wanted = 0")
    op.drop_column('task_tally', 'annotated')
