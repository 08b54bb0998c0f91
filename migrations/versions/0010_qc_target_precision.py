"""project.qc_target_precision: the precision QC aims at when it flags wrong labels (null:
cleanlab's own flags)

Revision ID: 0010_qc_target_precision
Revises: 0009_dm_views
Create Date: 2026-12-06 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_qc_target_precision'
down_revision: str | None = '0009_dm_views'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qc_target_precision', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('qc_target_precision')
