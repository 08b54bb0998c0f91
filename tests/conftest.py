"""Shared fixtures: ``app``, ``client``, ``runner`` (flaskr style), a clean database per test,
users with tokens, an in-process job worker, and a live ``labelfab serve`` for end-to-end tests.

The database is SQLite in a temporary DATA_DIR unless LABELFAB_DATABASE_URL is set (CI runs the
suite again on PostgreSQL); the broker is LABELFAB_BROKER_URL (stub by default).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

_TMP = Path(tempfile.mkdtemp(prefix="labelfab-test-"))
pytest_plugins = ["tests.s3"]  # a real S3 API on 127.0.0.1 (moto's server) for the storage tests


def _test_database_url() -> str:
    """The database the tests may wipe: LABELFAB_TEST_DATABASE_URL, or a LABELFAB_DATABASE_URL
    whose database is plainly a throwaway one (named test* or labelfab_*). Never anything else."""
    url = os.environ.get("LABELFAB_TEST_DATABASE_URL", "")
    if url:
        return url
    url = os.environ.get("LABELFAB_DATABASE_URL", "")
    if url and not url.rsplit("/", 1)[-1].split("?")[0].startswith(("test", "labelfab_")):
        pytest.exit(f"refusing to run the tests (they empty the database) on {url}; "
                    "set LABELFAB_TEST_DATABASE_URL to a throwaway database", returncode=2)
    return url


# The tests never touch a user's data: their own DATA_DIR, and a database they may empty.
os.environ["LABELFAB_DATA_DIR"] = str(_TMP / "data")
os.environ["LABELFAB_DATABASE_URL"] = _test_database_url()
os.environ["LABELFAB_BROKER_URL"] = os.environ.get("LABELFAB_TEST_BROKER_URL") or os.environ.get(
    "LABELFAB_BROKER_URL", "stub://")
os.environ.setdefault("LABELFAB_JOB_STALE_SECONDS", "5")
# the test receivers (webhooks, ML backends, the local S3 server) listen on loopback
os.environ.setdefault("LABELFAB_OUTBOUND_ALLOW", "127.0.0.1")

import sqlalchemy as sa  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from labeling import migrate, users  # noqa: E402
from labeling.db import dispose_engines, get_engine  # noqa: E402
from labeling.models import Role  # noqa: E402
from labeling.settings import get_settings  # noqa: E402

ARTIFACTS = Path(os.environ.get("LABELFAB_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
PASSWORD = "correct horse battery"


def _reset_database() -> None:
    """Start the run from an empty schema at the newest revision."""
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db_file = Path(engine.url.database)
        dispose_engines()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)
    migrate.upgrade()


@pytest.fixture(scope="session", autouse=True)
def database():
    get_settings.cache_clear()
    _reset_database()
    yield get_engine()
    dispose_engines()


# the id sequences a test used set back to their start, as TRUNCATE ... RESTART IDENTITY does
_RESTART_USED_SEQUENCES = """
SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences
WHERE schemaname = current_schema() AND last_value IS NOT NULL"""


def clear_tables() -> None:
    """Every table emptied, children first, and on PostgreSQL every id sequence restarted.

    DELETE rather than TRUNCATE: TRUNCATE makes new files for every table it names and every
    table referencing one (CASCADE), 0.2-0.6 s after every test on PostgreSQL, while a test leaves
    a few rows in a few tables, which DELETE removes in milliseconds, to the same state."""
    engine = get_engine()
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for t in tables:
            conn.exec_driver_sql(f'DELETE FROM "{t}"')
        # the triggers on task append tally rows as its rows go: empty the tallies after it
        for t in ("task_tally", "final_tally"):
            conn.exec_driver_sql(f'DELETE FROM "{t}"')
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(_RESTART_USED_SEQUENCES))


# A test is `pure` when every fixture it requests is one of these (pytest's own, faker's, the
# autouse database ones below) or a value of its parametrization: no app, user, project, worker or
# server. Any other fixture may reach the database, so it makes the test not pure (when unsure, the
# test keeps running on PostgreSQL); so does a skip, skipif or xfail mark (the outcome may depend on
# the database or broker) and the browser, broker and fuzz marks. CI's PostgreSQL stage leaves the
# pure tests out (`-m "not pure"`): the SQLite stage runs them, and there a pure test fails if it
# opens a database connection or sends a broker message (`clean_db`) or is skipped at run time
# (`pytest_runtest_makereport`), so every run checks the rule.
PURE_FIXTURES = frozenset({
    "request", "tmp_path", "tmp_path_factory", "tmpdir", "tmpdir_factory", "monkeypatch", "capsys",
    "capsysbinary", "capfd", "capfdbinary", "caplog", "recwarn", "pytestconfig", "record_property",
    "record_testsuite_property", "record_xml_attribute", "cache", "doctest_namespace", "subtests",
    "_session_faker", "faker", "database", "clean_db",
})
NEVER_PURE_MARKS = ("browser", "broker", "fuzz", "skip", "skipif", "xfail")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = set(callspec.params) if callspec else set()
        if (not set(getattr(item, "fixturenames", ())) - PURE_FIXTURES - params
                and not any(item.get_closest_marker(name) for name in NEVER_PURE_MARKS)):
            item.add_marker(pytest.mark.pure)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and report.when != "teardown" and item.get_closest_marker("pure"):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} is marked pure but was skipped: CI's PostgreSQL stage leaves "
                           f"pure tests out, so it would run nowhere ({call.excinfo.value if call.excinfo else ''})")


def _database_of(url: sa.engine.URL) -> tuple:
    return url.get_backend_name(), url.host, url.port, url.database


class _ServiceGuard:
    """Records the connections to the test database and the broker messages a pure test's own
    thread makes (a database of the test's own, a SQLite file in its tmp_path, is no service)."""

    def __init__(self, broker):
        self.used: list[str] = []
        self.thread = threading.get_ident()
        self.broker = broker
        self.database = _database_of(get_engine().url)

    def _note(self, what: str) -> None:
        if threading.get_ident() == self.thread:
            self.used.append(what)

    def _on_connect(self, conn, *args):
        if _database_of(conn.engine.url) == self.database:
            self._note(f"a connection to {conn.engine.url.render_as_string(hide_password=True)}")

    def __enter__(self):
        sa.event.listen(sa.engine.Engine, "engine_connect", self._on_connect)
        enqueue = self.broker.enqueue

        def guarded(message, *args, **kwargs):
            self._note(f"the broker message {message.actor_name}")
            return enqueue(message, *args, **kwargs)

        self.broker.enqueue = guarded
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.engine.Engine, "engine_connect", self._on_connect)
        del self.broker.enqueue  # the class's method again


@pytest.fixture(autouse=True)
def clean_db(request, database):
    from labeling.jobs.broker import broker

    if request.node.get_closest_marker("pure"):
        with _ServiceGuard(broker) as guard:
            yield
        if not guard.used:
            return  # nothing to clear: the test reached neither the database nor the broker
        clear_tables()
        users.forget_tokens()
        broker.flush_all()
        pytest.fail(f"{request.node.nodeid} is marked pure (it requests no database fixture) but made "
                    f"{guard.used[0]}: request the fixtures it needs (`db_engine`, `app`, `lead`, ...)",
                    pytrace=False)
    yield
    clear_tables()
    users.forget_tokens()  # tables emptied behind the domain's back
    broker.flush_all()  # jobs about rows that are gone: never run in a later test (a shared Redis or RabbitMQ)


@pytest.fixture
def db_engine(database):
    """The test database's engine, for a test that uses it without an app or a user (migrations):
    requesting it keeps the test off the pure ones, so it runs on PostgreSQL too."""
    return database


@pytest.fixture
def app():
    from web import create_app

    app = create_app()
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_hash_once = functools.cache(generate_password_hash)


class Actor:
    """A user of the tests: the row, a password, and an API token."""

    def __init__(self, email: str, role: str):
        # scrypt takes 0.1-0.5 s a password and every test user has the same one: its hash is made
        # once (a real scrypt hash, which every log-in checks for real) and reused for them all
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(users, "generate_password_hash", _hash_once)
            self.user = users.create_user(email, role=role, password=PASSWORD)
        self.id = self.user.id
        self.email = email
        self.token = users.create_token(self.id)
        self.headers = {"Authorization": f"Token {self.token}"}


@pytest.fixture
def make_user():
    def make(email: str, role: str = Role.annotator) -> Actor:
        return Actor(email, role)

    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin@example.com", Role.admin)


@pytest.fixture
def lead(make_user):
    return make_user("lead@example.com", Role.lead)


@pytest.fixture
def annotator(make_user):
    return make_user("ann@example.com", Role.annotator)


def login(client, email: str, password: str = PASSWORD):
    """Log in through the real form (with its CSRF token) and return the response."""
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def worker():
    """dramatiq worker threads in this process, on whatever broker is configured: the worker entry
    point of ``labelfab serve`` (which loads every job kind of the registry)."""
    from labeling.jobs.worker import InProcessWorker

    w = InProcessWorker(2)
    w.start()
    yield w
    w.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


class LiveServer:
    """``labelfab serve`` in a subprocess, on this test run's database."""

    def __init__(self, workers: int = 1, threads: int = 4, wait: bool = True):
        import requests

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        labelfab = Path(sys.executable).parent / "labelfab"
        self.log = open(_TMP / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(labelfab), "serve", "--port", str(self.port), "--workers", str(workers), "--threads", str(threads)],
            stdout=self.log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True,
        )

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                return requests.get(self.url + "/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        self.worker = None
        if not os.environ.get("LABELFAB_BROKER_URL", "stub://").startswith("stub"):
            # With Redis or RabbitMQ, jobs run in `labelfab worker` processes, as in production.
            self.worker = subprocess.Popen([str(labelfab), "worker", "--processes", "1", "--threads", "2"],
                                           stdout=self.log, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                           start_new_session=True)
        if wait:
            wait_for(up, timeout=60)

    def kill(self):
        """kill -9 of the server and its worker processes (a crash, not a shutdown)."""
        for proc in (self.proc, self.worker):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()

    def stop(self):
        for proc in (self.proc, self.worker):
            if proc is None:
                continue
            if proc is self.worker:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


@pytest.fixture
def live_server():
    server = LiveServer()
    yield server
    server.stop()
