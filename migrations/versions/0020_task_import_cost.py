"""Task rows cheaper to write in bulk: the media index only over tasks made from a file, and no
foreign-key check of each task's import (measured: bench/scale_10m.py, ARCHITECTURE.md "Imports
at scale")

A task made from text has no media; its NULL entry in ``ix_task_media_id`` served no query (every
reader asks for one media id). ``task.import_id`` records which import made the task, as
``review_issue_id`` records its finding: the import batch and its tasks belong to one project and
are deleted with it, so the per-row check the foreign key made on every imported task (one
lookup and row lock of ``import_batch`` per task) guarded nothing.

Revision ID: 0020_task_import_cost
Revises: 0019_media_pages
Create Date: 2026-12-04 12:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020_task_import_cost'
down_revision: str | None = '0019_media_pages'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_MEDIA = sa.text('media_id IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_task_media_id', table_name='task')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_import_id_import_batch', type_='foreignkey')
    op.create_index('ix_task_media_id', 'task', ['media_id'], unique=False,
                    postgresql_where=_HAS_MEDIA, sqlite_where=_HAS_MEDIA)


def downgrade() -> None:
    op.drop_index('ix_task_media_id', table_name='task')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_task_import_id_import_batch', 'import_batch', ['import_id'], ['id'])
    op.create_index('ix_task_media_id', 'task', ['media_id'], unique=False)
