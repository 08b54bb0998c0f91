"""pre-labels: project.show_predictions may be unset (the default: on with overlap 1, off above),
annotation.parent_prediction marks an annotation made from a pre-label

Revision ID: 0005_prelabels
Revises: 0004
Create Date: 2026-12-03 16:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import labeling.models  # noqa: F401


revision: str = '0005_prelabels'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_prediction', sa.Integer(), nullable=True))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.alter_column('show_predictions', existing_type=sa.Boolean(), nullable=True)
    # "on" was the column's default, never a choice a lead could tell from it: unset it, so
    # that projects with overlap > 1 stop pre-filling (a lead turns it on again in settings)
    op.execute(sa.text("UPDATE project SET show_predictions = NULL WHERE show_predictions = :on")
               .bindparams(on=True))


def downgrade() -> None:
    op.execute(sa.text("UPDATE project SET show_predictions = (overlap = 1) WHERE show_predictions IS NULL"))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.alter_column('show_predictions', existing_type=sa.Boolean(), nullable=False)
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_column('parent_prediction')
