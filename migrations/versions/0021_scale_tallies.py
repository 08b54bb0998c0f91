"""Tallies of tasks kept up to date as tasks change: ``task_tally`` (tasks by project, state and
gold, with the requeued ones and the annotations still wanted) and ``final_tally`` (labels in the
final labels of accepted tasks), written by triggers on ``task``, and filled from the tasks there
are (labeling/tally.py; ARCHITECTURE.md, "Dashboard tallies")

Why triggers: the dashboard's first load counted every task of the project and read every final
label (6.6 s at a million tasks). Tasks are written by many paths (COPY imports, the annotation
hot path's combined statements, QC's bulk moves, curation, gold, deletes, a project's delete table
by table); a trigger sees them all, in the writer's own transaction, and none can forget it.

The triggers only append rows of differences (never update a shared row), so concurrent writers
of one project never wait on each other; readers sum a project's rows and now and then fold them
into one row per key (:func:`labeling.tally.compact`).

- PostgreSQL: one statement-level trigger per operation with its transition tables (one grouped
  INSERT per statement, also for a COPY of millions of rows).
- SQLite: row-level triggers (it has no other kind); the UPDATE ones fire only when a column the
  tallies read has changed.

Revision ID: 0021_scale_tallies
Revises: 0020_task_import_cost
Create Date: 2026-12-04 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021_scale_tallies'
down_revision: str | None = '0020_task_import_cost'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIELDS = "('choices', 'labels', 'rectanglelabels')"  # insights.sql.LABEL_FIELD


def _pg_tally(rows: str, sign: str) -> str:
    return (f"SELECT project_id, state, is_gold, {sign} AS tasks, {sign} * (CASE WHEN requeued THEN 1 ELSE 0 END) "
            f"AS requeued, {sign} * (target_overlap - n_annotations) AS wanted FROM {rows}")


def _pg_final(rows: str, sign: str) -> str:
    """One row per label of an accepted ordinary task's final label. Every JSON function's
    argument is guarded by its type: a malformed final label counts nothing instead of failing
    the write that carries it."""
    arr = f"CASE WHEN json_typeof(r.final_label) = 'array' THEN r.final_label ELSE '[]'::json END"
    val = "CASE WHEN json_typeof(it.value -> 'value') = 'object' THEN it.value -> 'value' ELSE '{}'::json END"
    labs = f"CASE WHEN f.key IN {_FIELDS} AND json_typeof(f.value) = 'array' THEN f.value ELSE '[]'::json END"
    accepted = "r.state = 'accepted' AND NOT r.is_gold"
    return (f"SELECT r.project_id, it.value ->> 'from_name' AS control, f.key AS field, lab AS label, {sign} AS n "
            f"FROM {rows} r CROSS JOIN LATERAL json_array_elements({arr}) it "
            f"CROSS JOIN LATERAL json_each({val}) f CROSS JOIN LATERAL json_array_elements_text({labs}) lab "
            f"WHERE {accepted} AND json_typeof(it.value) = 'object' "
            f"UNION ALL SELECT r.project_id, NULL, NULL, it.value #>> '{{}}', {sign} "
            f"FROM {rows} r CROSS JOIN LATERAL json_array_elements({arr}) it "
            f"WHERE {accepted} AND json_typeof(it.value) = 'string'")


_TALLY_COLUMNS = "project_id, state, is_gold, tasks, requeued, wanted"
_FINAL_COLUMNS = "project_id, control, field, label, n"


def _pg_insert(parts: list[str], *, tally: bool) -> str:
    union = " UNION ALL ".join(parts)
    if tally:
        return (f"INSERT INTO task_tally ({_TALLY_COLUMNS}) SELECT project_id, state, is_gold, sum(tasks), "
                f"sum(requeued), sum(wanted) FROM ({union}) x GROUP BY project_id, state, is_gold "
                f"HAVING sum(tasks) <> 0 OR sum(requeued) <> 0 OR sum(wanted) <> 0")
    return (f"INSERT INTO final_tally ({_FINAL_COLUMNS}) SELECT project_id, control, field, label, sum(n) "
            f"FROM ({union}) x GROUP BY project_id, control, field, label HAVING sum(n) <> 0")


_PG_FUNCTION = f"""
CREATE FUNCTION task_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_insert([_pg_tally('new_rows', '1')], tally=True)};
    {_pg_insert([_pg_final('new_rows', '1')], tally=False)};
  ELSIF TG_OP = 'DELETE' THEN
    {_pg_insert([_pg_tally('old_rows', '-1')], tally=True)};
    {_pg_insert([_pg_final('old_rows', '-1')], tally=False)};
  ELSE
    {_pg_insert([_pg_tally('new_rows', '1'), _pg_tally('old_rows', '-1')], tally=True)};
    {_pg_insert([_pg_final('new_rows', '1'), _pg_final('old_rows', '-1')], tally=False)};
  END IF;
  RETURN NULL;
END $$
"""

_PG_TRIGGERS = {
    "task_tally_insert": "AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows",
    "task_tally_update": "AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "task_tally_delete": "AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows",
}


def _sqlite_tally(row: str, sign: str) -> str:
    return (f"INSERT INTO task_tally ({_TALLY_COLUMNS}) VALUES ({row}.project_id, {row}.state, {row}.is_gold, "
            f"{sign}, {sign} * {row}.requeued, {sign} * ({row}.target_overlap - {row}.n_annotations));")


def _sqlite_final(row: str, sign: str, source: str = "") -> str:
    """As insights.sql.labels_sql reads them: json_each over the result list, then over the
    labels at '$.value.<field>' of each object item; bare strings ('text' items) too.
    ``source``: a FROM item before the JSON ones (the backfill's ``task, ``)."""
    accepted = f"{row}.state = 'accepted' AND NOT {row}.is_gold"
    arr = (f"CASE WHEN json_valid({row}.final_label) AND json_type({row}.final_label) = 'array' "
           f"THEN {row}.final_label ELSE '[]' END")  # as on PostgreSQL: only a list counts
    obj = "CASE WHEN it.type = 'object' THEN it.value ELSE '{}' END"
    key = f"CASE WHEN f.key IN {_FIELDS} THEN f.key ELSE 'choices' END"  # a path SQLite can read
    return (f"INSERT INTO final_tally ({_FINAL_COLUMNS}) "
            f"SELECT {row}.project_id, json_extract(it.value, '$.from_name'), f.key, lab.value, {sign} "
            f"FROM {source}json_each({arr}) it, json_each({obj}, '$.value') f, "
            f"json_each({obj}, '$.value.' || {key}) lab "
            f"WHERE {accepted} AND it.type = 'object' AND f.key IN {_FIELDS} "
            f"UNION ALL SELECT {row}.project_id, NULL, NULL, it.value, {sign} FROM {source}json_each({arr}) it "
            f"WHERE {accepted} AND it.type = 'text';")


def _changed(columns: list[str]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


_TALLY_READS = ["project_id", "state", "is_gold", "requeued", "target_overlap", "n_annotations"]
_FINAL_READS = ["project_id", "state", "is_gold", "final_label"]

_SQLITE_TRIGGERS = {
    "task_tally_insert": f"AFTER INSERT ON task BEGIN {_sqlite_tally('NEW', '1')} {_sqlite_final('NEW', '1')} END",
    "task_tally_delete": f"AFTER DELETE ON task BEGIN {_sqlite_tally('OLD', '-1')} {_sqlite_final('OLD', '-1')} END",
    "task_tally_update": (f"AFTER UPDATE OF {', '.join(_TALLY_READS)} ON task WHEN {_changed(_TALLY_READS)} BEGIN "
                          f"{_sqlite_tally('OLD', '-1')} {_sqlite_tally('NEW', '1')} END"),
    "final_tally_update": (f"AFTER UPDATE OF {', '.join(_FINAL_READS)} ON task WHEN {_changed(_FINAL_READS)} BEGIN "
                           f"{_sqlite_final('OLD', '-1')} {_sqlite_final('NEW', '1')} END"),
}


def upgrade() -> None:
    op.create_table(
        'task_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('is_gold', sa.Boolean(), nullable=False),
        sa.Column('tasks', sa.BigInteger(), nullable=False),
        sa.Column('requeued', sa.BigInteger(), nullable=False),
        sa.Column('wanted', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_task_tally_project', 'task_tally', ['project_id', 'state', 'is_gold'], unique=False)
    op.create_table(
        'final_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('control', sa.Text(), nullable=True),
        sa.Column('field', sa.String(length=20), nullable=True),
        sa.Column('label', sa.Text(), nullable=True),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_final_tally_project', 'final_tally', ['project_id', 'control', 'field'], unique=False)
    pg = op.get_bind().dialect.name == "postgresql"
    # the backfill: the tasks there are, as the INSERT trigger would have counted them
    if pg:
        op.execute(_pg_insert([_pg_tally('task', '1')], tally=True))
        op.execute(_pg_insert([_pg_final('task', '1')], tally=False))
        op.execute(_PG_FUNCTION)
        for name, when in _PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION task_tally_apply()")
    else:
        op.execute(f"INSERT INTO task_tally ({_TALLY_COLUMNS}) SELECT project_id, state, is_gold, count(*), "
                   f"sum(requeued), sum(target_overlap - n_annotations) FROM task GROUP BY project_id, state, is_gold")
        op.execute(_sqlite_final("task", "1", source="task, ").rstrip(";"))
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON task")
        op.execute("DROP FUNCTION IF EXISTS task_tally_apply()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_final_tally_project', table_name='final_tally')
    op.drop_table('final_tally')
    op.drop_index('ix_task_tally_project', table_name='task_tally')
    op.drop_table('task_tally')
