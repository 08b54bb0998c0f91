"""Database engines, sessions and transactions, and the SQLite writer lock.

SQLite (the embedded default) runs in WAL mode with a busy timeout; every write transaction
opens with ``BEGIN IMMEDIATE`` so that concurrent writers queue up instead of failing half-way,
and inside one process the writers of :func:`unit_of_work` and :func:`hot_transaction` first
take turns on a lock (docs/ARCHITECTURE.md, "labeling/ — the domain": ``db``). PostgreSQL is
used as it is. Domain functions open one unit of work per operation::

    with unit_of_work() as s:   # one transaction: committed on success, rolled back on error
        ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlmodel import Session

from labeling.settings import SettingsError, get_settings, make_private

_engines: dict[str, Engine] = {}
_default: tuple[object, Engine] | None = None  # (the settings it was made for, the default engine)
_lock = threading.Lock()
#: The writers of this process take turns here before ``BEGIN IMMEDIATE`` on SQLite: SQLite's
#: busy handler sleeps in steps of up to 100 ms, a lock hands over at once.
_sqlite_writer = threading.Lock()
_immediate_engine: tuple[Engine | None, Engine | None] = (None, None)


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


def _private_database(settings, db_file: Path) -> None:
    """The SQLite file (and its WAL and shared-memory files) readable by this user only: DATA_DIR
    0700, the file created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the
    database file's mode), and files of an older install that others could read closed."""
    settings.ensure_data_dir()
    db_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(db_file, create_file=True)
    for suffix in ("-wal", "-shm", "-journal"):
        make_private(Path(str(db_file) + suffix))


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


PING_AFTER_IDLE_SECONDS = 10.0


def _server_engine(url: str) -> Engine:
    """A PostgreSQL engine whose pool tests a connection that sat idle before handing it out.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, the hot path's most
    frequent statement. A connection in steady use is known to be alive, so only one idle for
    ``PING_AFTER_IDLE_SECONDS`` is pinged; one found dead is replaced (the pool's pessimistic
    disconnect handling), and a connection that breaks in use invalidates the whole pool.
    """
    engine = create_engine(url, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc

    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    global _default
    settings = get_settings()
    if url is None and _default is not None and _default[0] is settings:
        return _default[1]  # the hot path: every request asks (building the URL resolves a path)
    default = url is None
    url = url or settings.sqlalchemy_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                parsed = make_url(url)
            except ArgumentError:
                raise SettingsError(f"bad configuration: LABELFAB_DATABASE_URL {url!r} is not a database URL") from None
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                    _private_database(settings, Path(parsed.database))
                engine = _sqlite_engine(url)
            else:
                engine = _server_engine(url)
            _engines[url] = engine
        if default:
            _default = (settings, engine)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (after fork, and in tests)."""
    global _default
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _default = None


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or get_engine()).dialect.name == "sqlite"


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reading (a deferred transaction, never committed)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def statement_connection() -> Iterator[Connection]:
    """A connection for reads of one statement each: on PostgreSQL in autocommit mode (no BEGIN
    and no ROLLBACK round trips; one statement sees one snapshot anyway), on SQLite a read
    transaction's (its connections are set up here; leave them so).

    A ROLLBACK also makes psycopg forget the statements it prepared on that connection (it
    prepares a statement on its fifth use), so a read transaction in a hot request costs the
    next requests on that connection their prepared plans too: hot reads of one statement use
    this instead."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        with read_session() as s:
            yield s.connection()
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn


@contextmanager
def write_session() -> Iterator[Session]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite): commit on success, rollback on error."""
    engine = get_engine()
    bind = _immediate(engine) if engine.dialect.name == "sqlite" else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _immediate(engine: Engine) -> Engine:
    """``engine`` with the option that makes labeling.db begin with ``BEGIN IMMEDIATE`` (cached)."""
    global _immediate_engine
    if _immediate_engine[0] is not engine:
        _immediate_engine = (engine, engine.execution_options(immediate=True))
    return _immediate_engine[1]


@contextmanager
def hot_transaction() -> Iterator[Connection]:
    """One write transaction on a plain connection, for the two requests of every annotation
    cycle (next, submit): the rules of :func:`write_session` (``BEGIN IMMEDIATE``
    on SQLite, commit on success, rollback on error) without an ORM session around it."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        with _sqlite_writer, _immediate(engine).begin() as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """:func:`write_session` taking its turn with :func:`hot_transaction`: what domain
    functions that write open.

    On SQLite the writers of this process take turns on a lock before ``BEGIN IMMEDIATE``:
    SQLite's busy handler sleeps in steps of up to 100 ms, a lock hands over at once.
    """
    if is_sqlite():
        with _sqlite_writer, write_session() as s:
            yield s
    else:
        with write_session() as s:
            yield s
