"""A project's gold tasks found by their own partial index

The dashboard's gold accuracy asks for a project's gold tasks (``project_id = :p AND is_gold``);
the only index leading with ``project_id`` and holding ``is_gold`` is the router's, where
``is_gold`` comes after ``state``, so PostgreSQL walked every task of the project's part of it
(at 10 million tasks: 107,763 index pages, 0.3-0.6 s of the dashboard's first load). The partial
index holds gold tasks only, so writing the other tasks costs one predicate test.

Revision ID: 0022_task_gold_index
Revises: 0021_scale_tallies
Create Date: 2026-12-04 19:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022_task_gold_index'
down_revision: str | None = '0021_scale_tallies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GOLD = sa.text('is_gold')


def upgrade() -> None:
    op.create_index('ix_task_project_gold', 'task', ['project_id', 'id'], unique=False,
                    postgresql_where=_GOLD, sqlite_where=_GOLD)


def downgrade() -> None:
    op.drop_index('ix_task_project_gold', table_name='task')
