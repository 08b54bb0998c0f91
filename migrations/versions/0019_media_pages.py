"""Media: a PDF document's page count (labeling.pdfs)

Revision ID: 0019_media_pages
Revises: 0018_media_timing
Create Date: 2026-12-04 08:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019_media_pages'
down_revision: str | None = '0018_media_timing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pages', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_column('pages')
