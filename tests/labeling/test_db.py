"""Engines: a pooled PostgreSQL connection that died while idle is replaced, not handed out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from labeling import db
from labeling.db import get_engine


@pytest.mark.skipif(get_engine().dialect.name != "postgresql", reason="server connections: PostgreSQL only")
def test_an_idle_connection_killed_by_the_server_is_replaced(monkeypatch):
    engine = get_engine()
    engine.dispose()  # a pool of exactly the two connections below
    with engine.connect() as other:
        with engine.connect() as conn:
            killed = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        # the first connection is back in the pool; the second kills its server process
        assert other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": killed}).scalar_one()
        other.commit()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # both have been idle long enough now
    try:
        with engine.connect() as first, engine.connect() as second:  # the whole pool, the dead one included
            pids = {c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for c in (first, second)}
        assert killed not in pids
    finally:
        engine.dispose()


def test_clearing_between_tests_empties_every_table_and_restarts_the_ids(lead):
    """`clear_tables` (run after every test) truncates only the tables a test used, on PostgreSQL:
    what it leaves must still be every table empty and every id counting from 1 again."""
    from sqlmodel import SQLModel, select

    from labeling import users
    from labeling.db import write_session
    from labeling.models import ApiToken
    from tests.conftest import clear_tables

    with write_session() as s:  # a table emptied by the test, its id sequence used all the same
        for token in s.exec(select(ApiToken)).all():
            s.delete(token)
    clear_tables()
    with get_engine().connect() as conn:
        counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                  for t in SQLModel.metadata.sorted_tables}
    assert set(counts.values()) == {0}, counts
    users.forget_tokens()
    user = users.create_user("again@example.com")
    assert user.id == 1
    assert users.create_token(user.id) and users.list_tokens(user.id)[0].id == 1
