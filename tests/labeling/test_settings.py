"""Settings come from the environment; bad values stop start-up with one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labeling.settings import SettingsError, load_settings

LABELFAB = str(Path(sys.executable).parent / "labelfab")


def test_defaults_and_secret_key_persisted(tmp_path, monkeypatch):
    for name in ("LABELFAB_BROKER_URL", "LABELFAB_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)  # the suite may run on Redis / PostgreSQL
    settings = load_settings(data_dir=tmp_path)
    assert settings.broker_url == "stub://"
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'labelfab.db').resolve()}"
    key = settings.resolved_secret_key()
    assert len(key) >= 32
    assert load_settings(data_dir=tmp_path).resolved_secret_key() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_relative_folders_are_taken_from_where_the_process_started(tmp_path, monkeypatch):
    """``labelfab serve`` with the default ``.data``: media are sent from an absolute path (a
    relative one was joined to the app's package folder by Flask's send_file, and every image 500'd)."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=Path(".data"), shared_dir=Path("shared"))
    assert settings.data_dir == tmp_path / ".data" and settings.media_root == tmp_path / "shared" / "media"
    monkeypatch.delenv("LABELFAB_DATA_DIR", raising=False)
    assert load_settings(_env_file=None).data_dir == tmp_path / ".data"  # the default, too


def test_postgres_urls_are_normalised():
    s = load_settings(database_url="postgres://u@h/db")
    assert s.sqlalchemy_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("env, fragment", [
    ({"LABELFAB_DATABASE_URL": "mysql://x@y/z"}, "LABELFAB_DATABASE_URL"),
    ({"LABELFAB_BROKER_URL": "kafka://x"}, "LABELFAB_BROKER_URL"),
    ({"LABELFAB_MAX_UPLOAD_MB": "lots"}, "LABELFAB_MAX_UPLOAD_MB"),
])
def test_bad_setting_is_refused(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(**{k.removeprefix("LABELFAB_").lower(): v for k, v in env.items()})


def test_bad_database_url_is_one_line_at_start_up(tmp_path):
    env = {**os.environ, "LABELFAB_DATA_DIR": str(tmp_path), "LABELFAB_DATABASE_URL": "mysql://root@localhost/x"}
    proc = subprocess.run([LABELFAB, "init"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "LABELFAB_DATABASE_URL" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("setting, url, module, extra", [
    ("database_url", "postgresql://u@h/db", "psycopg", "postgres"),
    ("broker_url", "redis://127.0.0.1:6379/0", "redis", "redis"),
    ("broker_url", "amqp://guest:guest@127.0.0.1:5672/", "pika", "rabbitmq"),
])
def test_a_url_whose_driver_is_missing_names_the_extra(setting, url, module, extra, monkeypatch):
    assert getattr(load_settings(**{setting: url}), setting)  # the suite installs every extra
    monkeypatch.setitem(sys.modules, module, None)  # an install without the extra: the import fails
    with pytest.raises(SettingsError) as err:
        load_settings(**{setting: url})
    message = str(err.value)
    assert f"LABELFAB_{setting.upper()}" in message and f"pip install 'labelfab[{extra}]'" in message
    assert f"{module!r} package" in message and "\n" not in message


def test_a_missing_extra_is_one_line_at_start_up(tmp_path):
    env = {**os.environ, "LABELFAB_DATA_DIR": str(tmp_path), "LABELFAB_BROKER_URL": "redis://127.0.0.1:6379/0"}
    code = "import sys; sys.modules['redis'] = None; sys.argv = ['labelfab', 'init']; from web.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "LABELFAB_BROKER_URL" in lines[0] and "labelfab[redis]" in lines[0]
