"""The ``labelfab`` command of labelfab-client without a server: what it refuses, and its
progress line."""

from __future__ import annotations

import io

import pytest
from labelfab_client.cli import Progress, run


def test_a_server_command_is_refused_with_what_the_client_has(capsys):
    assert run(["serve", "--port", "8000"]) == 2
    err = capsys.readouterr().err
    assert "'serve' is a command of the labelfab server" in err and "'pull' only" in err


def test_pull_needs_a_token_and_a_project_number(capsys, monkeypatch):
    monkeypatch.delenv("LABELFAB_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        run(["pull", "http://127.0.0.1:9", "1"])
    assert exit_.value.code == 2 and "--token, or set LABELFAB_TOKEN" in capsys.readouterr().err
    assert run(["pull", "http://127.0.0.1:9", "1@two", "--token", "t"]) == 1
    assert "PROJECT@VERSION (numbers), got '1@two'" in capsys.readouterr().err
    # a version as `labelfab dataset list` prints it (v2) is taken: the pull goes on to the server
    assert run(["pull", "http://127.0.0.1:9", "1@v2", "--token", "t"]) == 1
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_an_unreachable_server_is_one_error_line(capsys):
    assert run(["pull", "http://127.0.0.1:9", "1", "--token", "t"]) == 1  # port 9: nothing listens
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach http://127.0.0.1:9")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_rewritten_on_a_terminal_and_nothing_elsewhere():
    screen = Terminal()
    progress = Progress(screen)
    progress(0, 3 * 1024 * 1024)
    progress(1024, 3 * 1024 * 1024)  # within a tenth of a second of the last: not shown
    progress(3 * 1024 * 1024, 3 * 1024 * 1024)  # the end is always shown
    progress.close()
    assert screen.getvalue().split("\r")[1:] == ["pulling: 0 B of 3.0 MiB (0%)   ",
                                                  "pulling: 3.0 MiB of 3.0 MiB (100%)   \n"]
    log = io.StringIO()
    quiet = Progress(log)
    quiet(5, 10)
    quiet.close()
    assert log.getvalue() == ""


def test_the_readme_says_how_to_get_the_images():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    client = readme[readme.index("A training pipeline pulls"):readme.index("## Production")]
    assert "media=True" in client and "--media" in client and "media.zip" in client


def test_a_server_url_without_its_scheme_is_refused_by_name(capsys):
    assert run(["pull", "127.0.0.1:5252", "1", "--token", "t"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: give the server's URL with http:// or https:// (https://host[:port]), got '127.0.0.1:5252'"]
