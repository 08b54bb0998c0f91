"""Label Studio's custom hotkeys of a user (``/api/current-user/hotkeys``)

Revision ID: 0027_user_custom_hotkeys
Revises: 0026_annotation_draft
Create Date: 2026-12-05 10:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027_user_custom_hotkeys'
down_revision: str | None = '0026_annotation_draft'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ALTER TABLE (SQLite adds and drops a column in place): a batch copy of 'user' on
    # SQLite would drop the table every other one refers to
    op.add_column('user', sa.Column('custom_hotkeys', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('user', 'custom_hotkeys')
