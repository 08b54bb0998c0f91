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
