"""export snapshots: export_snapshot (Label Studio's /api/projects/ID/exports)

Revision ID: 0008_export_snapshots
Revises: 0007_job_owner
Create Date: 2026-12-03 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models


revision: str = '0008_export_snapshots'
down_revision: str | None = '0007_job_owner'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('export_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('counters', sa.JSON(), nullable=False),
    sa.Column('task_filter_options', sa.JSON(), nullable=False),
    sa.Column('annotation_filter_options', sa.JSON(), nullable=False),
    sa.Column('serialization_options', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', labeling.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_export_snapshot_created_by_user')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_export_snapshot_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_snapshot'))
    )
    with op.batch_alter_table('export_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_snapshot_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_snapshot_project_id'))
    op.drop_table('export_snapshot')
