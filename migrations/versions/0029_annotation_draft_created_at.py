"""Label Studio's ``draft_created_at`` of an annotation: the creation time of the draft it was
submitted from (``draft_id``), null otherwise

Revision ID: 0029_annotation_draft_created_at
Revises: 0028_tally_annotated
Create Date: 2026-12-05 13:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import labeling.models

revision: str = '0029_annotation_draft_created_at'
down_revision: str | None = '0028_tally_annotated'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ALTER TABLE adding a nullable column (no table copy on SQLite, no rewrite on PostgreSQL)
    op.add_column('annotation', sa.Column('draft_created_at', labeling.models.UTCDateTime(timezone=True),
                                          nullable=True))


def downgrade() -> None:
    op.drop_column('annotation', 'draft_created_at')
