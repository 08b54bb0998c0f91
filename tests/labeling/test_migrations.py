"""Models and migrations agree, and the migrations go down and up again, on this run's database."""

import pytest
import sqlalchemy as sa

from labeling import migrate


@pytest.mark.usefixtures("db_engine")
def test_alembic_check_models_match_migrations():
    migrate.check()  # raises if autogenerate would find a difference


def test_downgrade_to_base_and_upgrade_again(db_engine):
    migrate.downgrade("base")
    tables = set(sa.inspect(db_engine).get_table_names())
    assert tables <= {"alembic_version"}
    migrate.upgrade()
    tables = set(sa.inspect(db_engine).get_table_names())
    assert {"user", "project", "task", "annotation", "job", "lease", "task_event"} <= tables
