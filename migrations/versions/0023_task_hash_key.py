"""On PostgreSQL, the tasks' content hashes indexed by a 64-bit key of the hash

An import with ``dedupe`` asks which of its content hashes a project has already
(``project_id = :p AND content_hash IN (...)``); nothing else looks tasks up by their hash.
``ix_task_project_hash`` answered it with B-tree keys of 64-character text, inserted in random
order: the largest cost of an imported task row to PostgreSQL (COPY of 2,000,000 rows into
``task``: 22.6-23.0 us of backend CPU per row with it, 15.2-15.6 without, 1,444 against 1,012
bytes of WAL, its pages written again after each checkpoint). ``ix_task_project_key`` holds
``(project_id, hashtextextended(content_hash, 0))``, 16 bytes a key: 18.3 us a row. The lookup
adds the key's condition (``labeling.imports.bulk.known_hashes``) and keeps the exact one.

A hash index (``USING hash (content_hash)``) was cheaper to write (16.7-17.1 us), but it walks
every page of a bucket's chain to insert one more copy of a value: 400,000 identical rows cost
52.5 us a row (a B-tree on the key: 14.4). SQLite keeps its plain index.

Revision ID: 0023_task_hash_key
Revises: 0022_task_gold_index
Create Date: 2026-12-04 22:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0023_task_hash_key'
down_revision: str | None = '0022_task_gold_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_task_project_key ON task (project_id, hashtextextended(content_hash, 0))')
        op.drop_index('ix_task_project_hash', table_name='task')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_task_project_hash', 'task', ['project_id', 'content_hash'], unique=False)
        op.execute('DROP INDEX ix_task_project_key')
