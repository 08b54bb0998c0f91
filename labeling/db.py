"""Database engine and units of work.

SQLite (the embedded default) runs in WAL mode with a busy timeout; every write session opens
with ``BEGIN IMMEDIATE`` so that concurrent writers queue up instead of failing half-way.
PostgreSQL is used as it is. Domain functions open one unit of work per operation::

    with write_session() as s:   # one transaction: committed on success, rolled back on error
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from labeling.settings import SettingsError, get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below emits BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    settings = get_settings()
    url = url or settings.sqlalchemy_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                parsed = make_url(url)
            except ArgumentError:
                raise SettingsError(f"bad configuration: LABELFAB_DATABASE_URL {url!r} is not a database URL") from None
            if parsed.get_backend_name() == "sqlite":
                if parsed.database:
                    settings.data_dir.mkdir(parents=True, exist_ok=True)
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (after fork, and in tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or get_engine()).dialect.name == "sqlite"


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reading (a deferred transaction, never committed)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session() -> Iterator[Session]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite): commit on success, rollback on error."""
    engine = get_engine()
    bind = engine.execution_options(immediate=True) if engine.dialect.name == "sqlite" else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
