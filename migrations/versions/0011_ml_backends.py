"""ml_backend: model servers speaking Label Studio's ML backend protocol, connected to projects

Revision ID: 0011_ml_backends
Revises: 0010_qc_target_precision
Create Date: 2026-12-04 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import labeling.models

revision: str = '0011_ml_backends'
down_revision: str | None = '0010_qc_target_precision'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'ml_backend',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('is_interactive', sa.Boolean(), nullable=False),
        sa.Column('auth_method', sa.String(length=20), nullable=False),
        sa.Column('basic_auth_user', sa.Text(), nullable=False),
        sa.Column('basic_auth_pass_sealed', sa.Text(), nullable=False),
        sa.Column('extra_params', sa.JSON(), nullable=True),
        sa.Column('model_version', sa.Text(), nullable=False),
        sa.Column('timeout', sa.Float(), nullable=False),
        sa.Column('auto_update', sa.Boolean(), nullable=False),
        sa.Column('state', sa.String(length=2), nullable=False),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('ml_backend', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ml_backend_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ml_backend', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ml_backend_project_id'))
    op.drop_table('ml_backend')
