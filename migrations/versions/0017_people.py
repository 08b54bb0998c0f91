"""People: one-time invite links to set a password, and Label Studio's show_instruction

Revision ID: 0017_people
Revises: 0016_task_order_indexes
Create Date: 2026-12-04 03:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models  # noqa: F401


revision: str = '0017_people'
down_revision: str | None = '0016_task_order_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', labeling.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', labeling.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invite_token_hash'), ['token_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_invite_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_instruction', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('show_instruction')
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invite_user_id'))
        batch_op.drop_index(batch_op.f('ix_invite_token_hash'))
    op.drop_table('invite')
