"""The labelfab command line: users, tokens, init, help."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labeling import users
from labeling.errors import NotFound

LABELFAB = str(Path(sys.executable).parent / "labelfab")


def test_user_create_and_token_create(runner, client):
    result = runner.invoke(args=["user", "create", "new@example.com", "--role", "lead", "--password", "longenough1"])
    assert result.exit_code == 0, result.output
    assert "created lead new@example.com" in result.output
    result = runner.invoke(args=["token", "create", "new@example.com"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert len(key) == 40
    assert client.get("/api/me", headers={"Authorization": f"Token {key}"}).get_json()["role"] == "lead"


def test_user_invite_prints_a_one_time_link(runner):
    from labeling import invites

    out = runner.invoke(args=["user", "invite", "Someone@Example.com", "--role", "reviewer"])
    assert out.exit_code == 0, out.output
    assert "created reviewer someone@example.com" in out.output
    key = out.output.strip().rsplit("/invite/", 1)[1]
    assert invites.check_invite(key).email == "someone@example.com"
    again = runner.invoke(args=["user", "invite", "someone@example.com"])
    assert again.exit_code == 0 and "new link for" in again.output  # the operator may: the first link is dead
    with pytest.raises(NotFound):
        invites.check_invite(key)


def test_user_invite_prints_no_address_it_does_not_know(runner, monkeypatch):
    """Without LABELFAB_PUBLIC_URL the command cannot know where labelfab is served: it prints the
    link's path and says so (never a guessed http://127.0.0.1:8000); with it, the whole link."""
    from labeling import invites
    from labeling.settings import get_settings

    monkeypatch.delenv("LABELFAB_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    out = runner.invoke(args=["user", "invite", "pathonly@example.com"])
    assert out.exit_code == 0, out.output
    assert "LABELFAB_PUBLIC_URL is not set" in out.output and "127.0.0.1" not in out.output
    path = out.output.strip().splitlines()[-1].rsplit(": ", 1)[1]
    assert path.startswith("/invite/")
    assert invites.check_invite(path.removeprefix("/invite/")).email == "pathonly@example.com"
    monkeypatch.setenv("LABELFAB_PUBLIC_URL", "https://labels.example.com/")
    get_settings.cache_clear()
    try:
        out = runner.invoke(args=["user", "invite", "pathonly@example.com"])
    finally:
        monkeypatch.delenv("LABELFAB_PUBLIC_URL")
        get_settings.cache_clear()
    assert out.exit_code == 0 and "not set" not in out.output
    assert out.output.strip().splitlines()[-1].rsplit(": ", 1)[1].startswith("https://labels.example.com/invite/")


def test_user_create_generates_a_password_when_none_is_given(runner):
    result = runner.invoke(args=["user", "create", "gen@example.com"])
    assert result.exit_code == 0
    password = result.output.strip().splitlines()[-1].removeprefix("password: ")
    assert users.authenticate("gen@example.com", password).user is not None


def test_user_create_refuses_bad_input(runner):
    assert runner.invoke(args=["user", "create", "not-an-email"]).exit_code == 1
    result = runner.invoke(args=["user", "create", "x@example.com", "--password", "short"])
    assert result.exit_code == 1 and "at least 8 characters" in result.output


def test_token_for_unknown_user(runner):
    result = runner.invoke(args=["token", "create", "ghost@example.com"])
    assert result.exit_code == 1 and "no user ghost@example.com" in result.output


def test_init_creates_one_admin_with_a_generated_password(runner):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert "created admin admin@labelfab.local with password" in first.output
    password = first.output.split("with password ")[1].split()[0]
    assert users.authenticate("admin@labelfab.local", password).user.role == "admin"
    again = runner.invoke(args=["init"])
    assert "created admin" not in again.output


@pytest.mark.parametrize("command", [[], ["init"], ["serve"], ["worker"], ["user", "create"], ["token", "create"]])
def test_help_on_each_command(command):
    proc = subprocess.run([LABELFAB, *command, "--help"], capture_output=True, text=True, timeout=60, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: labelfab" in proc.stdout
    assert "--env-file" not in proc.stdout and "--app" not in proc.stdout  # Flask's options are not labelfab's


def test_worker_refuses_the_stub_broker():
    env = {**os.environ, "LABELFAB_BROKER_URL": "stub://"}
    proc = subprocess.run([LABELFAB, "worker"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1 and "stub broker" in proc.stderr


def test_import_a_label_studio_export_with_a_user_map_then_take_the_placeholder_over(runner, admin, tmp_path):
    import json

    from labeling import projects
    config = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
              '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
    project = projects.create_project(admin.user, title="from elsewhere", label_config=config)
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
    path = tmp_path / "ls-export.json"
    path.write_text(json.dumps([{"id": 3, "data": {"text": "a"}, "predictions": [9],
                                 "annotations": [{"id": 4, "result": result, "completed_by": 77}]}]))
    done = runner.invoke(args=["import", str(project.id), str(path), "--user-map", "77=Moved@Example.org"])
    assert done.exit_code == 0, done.output
    assert "note: " in done.output and "[9]" in done.output
    assert "completed_by 77: new inactive placeholder" in done.output and "moved@example.org" in done.output
    assert users.authenticate("moved@example.org", "").user is None
    done = runner.invoke(args=["user", "create", "moved@example.org", "--password", "longenough1"])
    assert done.exit_code == 0, done.output
    assert users.authenticate("moved@example.org", "longenough1").user is not None


def test_export_and_project_create_refusals_are_one_line(runner, lead, annotator, tmp_path):
    """An --out in a folder that does not exist, or a broken label config, is one line, never a traceback."""
    from tests.labeling.test_review import annotate_all, make_project

    project = make_project(lead.user)
    annotate_all(project, annotator, ["pos", "neg"])
    out = runner.invoke(args=["export", str(project.id), "--state", "all", "--out", str(tmp_path / "no" / "x.jsonl"),
                              "--as", lead.email])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.exception
    assert out.output.splitlines() == [f"error: cannot write {tmp_path / 'no' / 'x.jsonl'}: No such file or directory"]
    assert not (tmp_path / "no").exists()
    config = tmp_path / "bad.xml"
    config.write_text("not xml")
    out = runner.invoke(args=["project", "create", "--title", "t", "--config", str(config), "--as", lead.email])
    assert out.exit_code == 1 and len(out.output.splitlines()) == 1 and "not valid XML" in out.output, out.output


def test_serve_starts_its_processes_without_progress_bars(runner, monkeypatch):
    """cleanvision and cleanlab draw tqdm bars as they score; a server's log has none (the
    processes Granian starts read TQDM_DISABLE when they import tqdm)."""
    import web.server

    seen = {}
    monkeypatch.setenv("TQDM_DISABLE", "")  # recorded, so the command's setting is undone after the test
    monkeypatch.delenv("TQDM_DISABLE")
    monkeypatch.setattr(web.server, "serve", lambda **kw: seen.update(kw, bars=os.environ.get("TQDM_DISABLE")))
    result = runner.invoke(args=["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["port"] == 8123 and seen["bars"] == "1"


def test_import_refusals_of_an_empty_folder_or_a_csv_not_in_utf8_say_it_once(runner, admin, tmp_path):
    """An empty folder, an empty zip or file, a CSV in Latin-1: one line each, its place said once
    (a CSV's lines are its rows: the row, not also the line), never the same problem twice."""
    import zipfile

    from labeling import projects

    config = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
              '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
    project = projects.create_project(admin.user, title="refusals", label_config=config)
    (tmp_path / "nothing").mkdir()
    with zipfile.ZipFile(tmp_path / "nothing.zip", "w") as zf:
        zf.writestr("folder/", b"")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "latin.csv").write_bytes("text,label\nabc,pos\ncafé,neg\n".encode("latin-1"))
    (tmp_path / "latin.json").write_bytes('[{"text": "abc"},\n {"text": "café"}]'.encode("latin-1"))
    expected = {
        "nothing": "error: nothing contains no files to import",
        "nothing.zip": "error: nothing.zip contains no files to import",
        "empty.csv": "error: empty.csv is empty",
        "latin.csv": "error: latin.csv, row 3: not UTF-8 text (byte 0xe9 at position 22)",
        "latin.json": "error: latin.json: not UTF-8 text (byte 0xe9 at position 32) on line 2",
    }
    said = {}
    for name in expected:
        result = runner.invoke(args=["import", str(project.id), str(tmp_path / name)])
        assert result.exit_code == 1, result.output
        said[name] = result.output.strip()
    assert said == expected


def test_a_command_before_init_says_to_run_init(tmp_path):
    """A new data directory (or a mistyped one): one line that names the database and the fix."""
    env = {**os.environ, "LABELFAB_DATA_DIR": str(tmp_path / "new"), "LABELFAB_DATABASE_URL": "",
           "LABELFAB_BROKER_URL": "stub://"}
    for command in (["project", "list"], ["qc", "runs", "1"]):
        proc = subprocess.run([LABELFAB, *command], capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"error: the database sqlite:///{(tmp_path / 'new' / 'labelfab.db').resolve()} is not set up: run "
            "'labelfab init' first (LABELFAB_DATA_DIR or LABELFAB_DATABASE_URL names another one?)"]
