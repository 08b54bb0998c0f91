"""Task comments (Label Studio's /api/comments): annotators flag a problem, leads and reviewers
answer and resolve

Revision ID: 0014_comments
Revises: 0013_storages
Create Date: 2026-12-04 03:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models


revision: str = '0014_comments'
down_revision: str | None = '0013_storages'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('region', sa.JSON(), nullable=True),
    sa.Column('is_resolved', sa.Boolean(), nullable=False),
    sa.Column('resolved_at', labeling.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_comment_annotation_id_annotation')),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_comment_created_by_user')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_comment_project_id_project')),
    sa.ForeignKeyConstraint(['resolved_by'], ['user.id'], name=op.f('fk_comment_resolved_by_user')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_comment_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_task_resolved', ['task_id', 'is_resolved'], unique=False)
        batch_op.create_index(batch_op.f('ix_comment_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_project_id'))
        batch_op.drop_index('ix_comment_task_resolved')
    op.drop_table('comment')
