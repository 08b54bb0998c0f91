"""Deployment hardening: X-Forwarded-* trusted only behind configured proxies, the data directory
and SQLite file readable by their user only, /health naming no backend to strangers, HSTS with
secure cookies."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import users
from labeling.models import LoginThrottle
from labeling.settings import load_settings
from tests.conftest import PASSWORD, login

LABELFAB = str(Path(sys.executable).parent / "labelfab")


def _app(**settings):
    from web import create_app

    app = create_app(load_settings(**settings))
    app.config.update(TESTING=True)
    return app


def _log_in(client, email: str, password: str, forwarded_for: str):
    """The log-in form, sent with a (forged, or a proxy's) X-Forwarded-For."""
    headers = {"X-Forwarded-For": forwarded_for}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token}, headers=headers)


def _throttled_keys() -> set[str]:
    from labeling.db import read_session

    with read_session() as s:
        return set(s.exec(select(LoginThrottle.key)))


# --------------------------------------------------------------------------- X-Forwarded-*


def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(annotator):
    client = _app().test_client()
    assert _log_in(client, annotator.email, "wrong password", "203.0.113.9").status_code == 401
    # the failure counts against the connection's address (the test client's), not the header's
    assert _throttled_keys() == set(users._throttle_keys("127.0.0.1", annotator.email))
    for i in range(1, 5):  # a new forged address for every guess changes nothing
        assert _log_in(client, annotator.email, "wrong password", f"203.0.113.{10 + i}").status_code == 401
    assert _log_in(client, annotator.email, PASSWORD, "198.51.100.1").status_code == 429


def test_forwarded_for_is_the_address_behind_a_trusted_proxy(annotator):
    client = _app(trusted_proxies=1).test_client()
    assert _log_in(client, annotator.email, "wrong password", "203.0.113.9").status_code == 401
    assert _throttled_keys() == set(users._throttle_keys("203.0.113.9", annotator.email))
    for _ in range(4):
        assert _log_in(client, annotator.email, "wrong password", "203.0.113.9").status_code == 401
    assert _log_in(client, annotator.email, PASSWORD, "203.0.113.9").status_code == 429  # that client waits
    assert _log_in(client, annotator.email, PASSWORD, "198.51.100.1").status_code == 302  # the owner does not


def test_only_the_configured_number_of_proxies_is_trusted(annotator):
    """Behind one proxy, the client's own X-Forwarded-For (the left part) is not its address."""
    client = _app(trusted_proxies=1).test_client()
    _log_in(client, annotator.email, "wrong password", "10.9.9.9, 203.0.113.9")
    assert _throttled_keys() == set(users._throttle_keys("203.0.113.9", annotator.email))


def test_trusted_proxies_is_a_bounded_setting():
    assert load_settings().trusted_proxies == 0
    with pytest.raises(Exception, match="LABELFAB_TRUSTED_PROXIES"):
        load_settings(trusted_proxies=-1)


# --------------------------------------------------------------------------- files of the data directory


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def _init(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELFAB_DATABASE_URL"}  # the SQLite default
    env.update(LABELFAB_DATA_DIR=str(data_dir), LABELFAB_BROKER_URL="stub://")
    proc = subprocess.run(["sh", "-c", 'umask 022 && exec "$0" init', LABELFAB], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_new_data_directory_is_readable_by_its_user_only(tmp_path):
    data = tmp_path / "data"
    _init(data)  # under the usual umask 022
    assert _mode(data) == "0o700"
    assert _mode(data / "labelfab.db") == "0o600"
    assert _mode(data / "secret_key") == "0o600"
    for suffix in ("-wal", "-shm"):
        extra = data / f"labelfab.db{suffix}"
        assert not extra.exists() or _mode(extra) == "0o600"
    engine = sa.create_engine(f"sqlite:///{data / 'labelfab.db'}")
    with engine.connect() as conn:  # a real database, migrated, in that file
        assert conn.execute(sa.text("SELECT count(*) FROM user")).scalar_one() == 1
    engine.dispose()


def test_an_older_install_open_to_others_is_closed(tmp_path):
    data = tmp_path / "data"
    _init(data)
    data.chmod(0o755)
    for name in ("labelfab.db", "secret_key"):
        (data / name).chmod(0o644)
    _init(data)
    assert _mode(data) == "0o700"
    assert _mode(data / "labelfab.db") == "0o600" and _mode(data / "secret_key") == "0o600"


# --------------------------------------------------------------------------- /health


def test_health_tells_strangers_only_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    text = response.get_data(as_text=True).lower()
    assert not any(name in text for name in ("sqlite", "postgres", "stub", "redis", "rabbit", "broker"))
    assert response.headers["Cache-Control"] == "no-store"


def test_health_details_for_an_admin_only(app, admin, lead):
    from labeling.db import get_engine

    as_lead = app.test_client()
    login(as_lead, lead.email)
    assert as_lead.get("/health").get_json() == {"status": "ok"}
    as_admin = app.test_client()
    login(as_admin, admin.email)
    body = as_admin.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "detail": get_engine().dialect.name}
    assert body["broker"]["ok"] is True and body["broker"]["detail"]


def test_health_when_the_database_is_down_names_nothing(client, admin, monkeypatch, tmp_path):
    from web.views import main

    broken = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    monkeypatch.setattr(main, "get_engine", lambda: broken)
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json() == {"status": "error"}
    login(client, admin.email)  # the log-in itself uses the real database
    body = client.get("/health").get_json()
    assert body["status"] == "error" and body["database"]["ok"] is False
    assert "OperationalError" in body["database"]["detail"]


def test_health_when_the_broker_is_down_names_nothing(client, monkeypatch):
    from web.views import main

    monkeypatch.setattr(main, "broker_status",
                        lambda: (False, "RedisBroker: ConnectionError: redis://:secret@10.0.0.5:6379 refused"))
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json() == {"status": "error"}


# --------------------------------------------------------------------------- HSTS


@pytest.mark.parametrize("path", ["/login", "/health", "/api/projects"])
@pytest.mark.usefixtures("db_engine")  # /health asks the database
def test_hsts_when_cookies_are_secure(path):
    secure = _app(session_cookie_secure=True).test_client().get(path)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = _app().test_client().get(path)
    assert "Strict-Transport-Security" not in plain.headers
