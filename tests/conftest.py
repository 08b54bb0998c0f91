"""Shared fixtures: ``app``, ``client``, ``runner`` (flaskr style), a clean database per test,
users with tokens, an in-process job worker, and a live ``labelfab serve`` for end-to-end tests.

The database is SQLite in a temporary DATA_DIR unless LABELFAB_DATABASE_URL is set (CI runs the
suite again on PostgreSQL); the broker is LABELFAB_BROKER_URL (stub by default).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


def clear_tables() -> None:
    engine = get_engine()
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for t in tables:
                conn.exec_driver_sql(f'DELETE FROM "{t}"')
            # the triggers on task append tally rows as its rows go: empty the tallies after it
            for t in ("task_tally", "final_tally"):
                conn.exec_driver_sql(f'DELETE FROM "{t}"')


@pytest.fixture(autouse=True)
def clean_db(database):
    from labeling.jobs.broker import broker

    yield
    clear_tables()
    users.forget_tokens()  # tables emptied behind the domain's back
    broker.flush_all()  # jobs about rows that are gone: never run in a later test (a shared Redis or RabbitMQ)


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


class Actor:
    """A user of the tests: the row, a password, and an API token."""

    def __init__(self, email: str, role: str):
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
