"""On PostgreSQL, no index of the tasks' content hashes: an import's dedupe finds a row's earlier
copies through the GIN index on the data instead

``ix_task_project_key`` (``(project_id, hashtextextended(content_hash, 0))``, migration 0023)
served one reader, an import with ``dedupe``. Its keys are random, so each imported task inserted
into a random leaf of it; past a few million tasks the index no longer fits in
``shared_buffers`` and each of those inserts read a page, and wrote a full-page image of it to
WAL after every checkpoint. COPY of 1,000,000 rows into a table of 8,000,000 tasks
(``bench/task_copy.py --prefill``): the backend's CPU a row with it and without it in
ARCHITECTURE.md, "Imports at scale".
A task with a row's content hash holds the row's data, so ``ix_task_data_gin`` (``(data::jsonb)
jsonb_path_ops``, made for the data manager's filters) finds the tasks whose data contains it and
the hash picks among them (``labeling.imports.bulk.known_hashes``). SQLite keeps
``ix_task_project_hash``.

Revision ID: 0031_task_no_hash_index
Revises: 0030_tally_annotations
Create Date: 2026-12-05 16:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0031_task_no_hash_index'
down_revision: str | None = '0030_tally_annotations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_task_project_key')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_task_project_key ON task (project_id, hashtextextended(content_hash, 0))')
