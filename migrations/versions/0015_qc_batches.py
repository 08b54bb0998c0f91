"""QC runs fanned out as one job per cross-validation fold and a gather: their state

Revision ID: 0015_qc_batches
Revises: 0014_comments
Create Date: 2026-12-04 03:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models  # noqa: F401


revision: str = '0015_qc_batches'
down_revision: str | None = '0014_comments'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qc_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('n_folds', sa.Integer(), nullable=False),
    sa.Column('folds_done', sa.JSON(), nullable=False),
    sa.Column('gather_job_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', labeling.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['gather_job_id'], ['job.id'], name=op.f('fk_qc_batch_gather_job_id_job')),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_qc_batch_job_id_job')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_qc_batch_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qc_batch')),
    sa.UniqueConstraint('job_id', name=op.f('uq_qc_batch_job_id'))
    )
    with op.batch_alter_table('qc_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qc_batch_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('qc_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qc_batch_project_id'))

    op.drop_table('qc_batch')
