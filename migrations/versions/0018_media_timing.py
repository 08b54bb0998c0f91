"""Audio and video media: duration, frame rate and audio channels read at import (labeling/media_info.py)

Revision ID: 0018_media_timing
Revises: 0017_people
Create Date: 2026-12-04 08:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_media_timing'
down_revision: str | None = '0017_people'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.add_column(sa.Column('duration', sa.Float(), nullable=True))
        batch.add_column(sa.Column('fps', sa.Float(), nullable=True))
        batch.add_column(sa.Column('channels', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.drop_column('channels')
        batch.drop_column('fps')
        batch.drop_column('duration')
