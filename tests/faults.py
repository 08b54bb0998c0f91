"""A real failure in the middle of a domain function: a database trigger that refuses one kind
of write (on SQLite and PostgreSQL), so a test sees what a crash between two writes leaves."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from labeling.db import get_engine


@contextmanager
def refused(table: str, op: str = "INSERT"):
    """While inside, every ``op`` (INSERT, UPDATE, DELETE) on ``table`` fails with an error
    naming "refused by the test"."""
    engine = get_engine()
    name = f"lf_test_refuse_{table}_{op.lower()}"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
            conn.execute(sa.text(f'CREATE TRIGGER {name} BEFORE {op} ON "{table}" '
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()"))
        else:
            conn.exec_driver_sql(f'CREATE TRIGGER {name} BEFORE {op} ON "{table}" '
                                 "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    try:
        yield
    finally:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f'DROP TRIGGER {name} ON "{table}"'))
                conn.execute(sa.text(f"DROP FUNCTION {name}()"))
            else:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
