"""An import's tasks found by the range of their ids, and no index on ``task.import_id``

The only reader of ``task.import_id`` by value is Label Studio's import status with its task ids
(``labeling.imports.batches.import_task_ids``), yet every imported task paid an insert into its
B-tree, one key repeated for every task of an import (COPY of 2,000,000 rows into ``task``: 0.6 us
of the backend's CPU and 68 bytes of WAL a row; ARCHITECTURE.md, "Imports at scale"). An import's task ids come
from the sequence inside its transaction, so ``import_batch`` records the smallest and the largest
(``first_task_id``, ``last_task_id``) and the reader scans that range of the primary key, keeping
``import_id = :id``. The batches already stored get their range from their tasks here, while the
index still exists.

Revision ID: 0024_import_task_range
Revises: 0023_task_hash_key
Create Date: 2026-12-05 01:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024_import_task_range'
down_revision: str | None = '0023_task_hash_key'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_task_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_task_id', sa.Integer(), nullable=True))
    op.execute('UPDATE import_batch SET first_task_id = r.low, last_task_id = r.high '
               'FROM (SELECT import_id, min(id) AS low, max(id) AS high FROM task '
               'WHERE import_id IS NOT NULL GROUP BY import_id) AS r WHERE r.import_id = import_batch.id')
    op.drop_index('ix_task_import_id', table_name='task')


def downgrade() -> None:
    op.create_index('ix_task_import_id', 'task', ['import_id'], unique=False)
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('last_task_id')
        batch_op.drop_column('first_task_id')
