"""On PostgreSQL, no foreign key from ``task.project_id`` to ``project``: an import locks its
project once instead of the key's check locking it for every task row

The check ran for every row an import COPYs (a lookup of the project's primary key and a
``FOR KEY SHARE`` lock of its row, through SPI): 2.6 us of the backend's CPU a row at 2,000,000
rows, about 12 % of what a 10-million-task import cost the database (ARCHITECTURE.md, "Imports
at scale").
Tasks are made by one function, ``labeling.imports.bulk.write``, which now takes that lock once
per transaction (``SELECT ... FOR KEY SHARE`` of the project row) and refuses a project that is
gone; the one delete of a project, ``labeling.projects.delete_project``, locks the row
``FOR UPDATE`` before deleting the project's tasks, so it waits for an import that is running and
then deletes its tasks too, and an import that starts after the delete finds no project. SQLite
keeps the foreign key (its check is cheap there, and its writers are serialised anyway).

Revision ID: 0025_task_project_key_check
Revises: 0024_import_task_range
Create Date: 2026-12-05 01:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0025_task_project_key_check'
down_revision: str | None = '0024_import_task_range'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('fk_task_project_id_project', 'task', type_='foreignkey')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key('fk_task_project_id_project', 'task', 'project', ['project_id'], ['id'])
