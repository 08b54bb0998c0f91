"""Label Studio's annotation drafts (``/api/tasks/ID/drafts``, ``/api/drafts/ID``)

Revision ID: 0026_annotation_draft
Revises: 0025_task_project_key_check
Create Date: 2026-12-05 10:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import labeling.models

revision: str = '0026_annotation_draft'
down_revision: str | None = '0025_task_project_key_check'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('annotation_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('lead_time', sa.Float(), nullable=True),
    sa.Column('was_postponed', sa.Boolean(), nullable=False),
    sa.Column('import_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_annotation_draft_annotation_id_annotation')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_annotation_draft_task_id_task')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_annotation_draft_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_draft'))
    )
    with op.batch_alter_table('annotation_draft', schema=None) as batch_op:
        batch_op.create_index('ix_annotation_draft_task_user', ['task_id', 'user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_draft_annotation_id'), ['annotation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_draft_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('annotation_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_draft_user_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_draft_annotation_id'))
        batch_op.drop_index('ix_annotation_draft_task_user')
    op.drop_table('annotation_draft')
