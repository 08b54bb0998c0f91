"""On PostgreSQL, the rows an import adds reach the GIN index on the tasks' data in large sorted
merges, not in the small ones its pending list makes on its own

``ix_task_data_gin`` (``(data::jsonb) jsonb_path_ops``) takes new rows into its pending list and
merges the list into its entry tree when the list passes ``gin_pending_list_limit`` (4 MB), a
``work_mem``'s worth of keys (4 MB: some 40,000 keys) at a time. A task's keys are nearly all
unique, so once the index outgrows ``shared_buffers`` each merge reads and dirties a page of the
tree for nearly every key. Sorted merges of hundreds of thousands of keys put many keys on each
page they touch.

- The index's own ``gin_pending_list_limit`` is 32 MB (about 1.6M rows of a short text task): an
  import's rows wait in the list between merges; a reader scans at most that much of it.
- ``task_gin_merge``, a statement trigger after each INSERT or COPY into ``task``, merges the
  list (``gin_clean_pending_list``, with 256 MB of ``maintenance_work_mem``: the function's own
  setting) once the transaction has inserted ``labelfab.gin_merge_rows`` task rows (500,000
  unless set) since its last merge, counted from the end of its first INSERT or COPY (the
  statistics' count of the transaction's rows can hold earlier transactions' rows). An import's
  50,000-row COPYs merge after every tenth; a transaction that adds a few tasks merges nothing,
  and autovacuum merges what an import leaves (at most that many rows), as before. The function
  runs as its owner (``SECURITY DEFINER``): ``gin_clean_pending_list`` needs the index's owner.

Measured with ``bench/task_copy.py --prefill 8000000 --statement-rows 50000`` (``gin_trigger``):
ARCHITECTURE.md, "Imports at scale". SQLite has no such index.

Revision ID: 0032_task_gin_merge
Revises: 0031_task_no_hash_index
Create Date: 2026-12-05 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032_task_gin_merge"
down_revision: str | None = "0031_task_no_hash_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MERGE = """
CREATE FUNCTION task_gin_merge() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET maintenance_work_mem = '256MB' SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint := pg_stat_get_xact_tuples_inserted(TG_RELID);
  since text := current_setting('labelfab.gin_merged_at', true);
  every bigint := coalesce(nullif(current_setting('labelfab.gin_merge_rows', true), '')::bigint, 500000);
BEGIN
  -- the count can hold rows of the backend's earlier transactions not yet reported to the
  -- statistics, so a transaction counts from the end of its first INSERT into task
  IF coalesce(since, '') = '' THEN
    PERFORM set_config('labelfab.gin_merged_at', n::text, true);
  ELSIF n - since::bigint >= every THEN
    PERFORM gin_clean_pending_list(format('%I.ix_task_data_gin', TG_TABLE_SCHEMA)::regclass);
    PERFORM set_config('labelfab.gin_merged_at', n::text, true);
  END IF;
  RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_task_data_gin SET (gin_pending_list_limit = 32768)")
        op.execute(_MERGE)
        op.execute(
            "CREATE TRIGGER task_gin_merge AFTER INSERT ON task FOR EACH STATEMENT "
            "EXECUTE FUNCTION task_gin_merge()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER task_gin_merge ON task")
        op.execute("DROP FUNCTION task_gin_merge()")
        op.execute("ALTER INDEX ix_task_data_gin RESET (gin_pending_list_limit)")
