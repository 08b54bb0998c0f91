"""job.owner: the process running a job (host digest, pid, start time), so that a job whose
process is known dead is taken over at once instead of after its heartbeat goes stale

Revision ID: 0007_job_owner
Revises: 0006_tokens_sessions_logins
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_job_owner'
down_revision: str | None = '0006_tokens_sessions_logins'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('owner')
