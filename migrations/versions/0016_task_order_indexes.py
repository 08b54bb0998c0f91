"""Indexes for the data manager's sorted pages: a project's tasks by id, by creation and by
last change (each with the id, the pages' tie-break)

Revision ID: 0016_task_order_indexes
Revises: 0015_qc_batches
Create Date: 2026-12-04 04:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0016_task_order_indexes'
down_revision: str | None = '0015_qc_batches'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_task_project_id', 'task', ['project_id', 'id'], unique=False)
    op.create_index('ix_task_project_created', 'task', ['project_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_task_project_updated', 'task', ['project_id', 'updated_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_task_project_updated', table_name='task')
    op.drop_index('ix_task_project_created', table_name='task')
    op.drop_index('ix_task_project_id', table_name='task')
