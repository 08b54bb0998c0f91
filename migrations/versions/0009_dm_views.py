"""dm_view: Label Studio's Data Manager views (tabs) with their filters, ordering and columns;
on PostgreSQL a GIN index on the tasks' data (jsonb_path_ops) for Data Manager equality filters

Revision ID: 0009_dm_views
Revises: 0008_export_snapshots
Create Date: 2026-12-03 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models


revision: str = '0009_dm_views'
down_revision: str | None = '0008_export_snapshots'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dm_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('order', sa.Integer(), nullable=True),
    sa.Column('selected_items', sa.JSON(), nullable=True),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_dm_view_project_id_project')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_dm_view_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dm_view'))
    )
    with op.batch_alter_table('dm_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dm_view_project_id'), ['project_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':  # labeling.dm.filters.data_may_equal uses it
        op.execute('CREATE INDEX ix_task_data_gin ON task USING gin ((CAST(data AS JSONB)) jsonb_path_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_task_data_gin')
    with op.batch_alter_table('dm_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dm_view_project_id'))

    op.drop_table('dm_view')
