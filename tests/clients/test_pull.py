"""labelfab-client against a live server: pull verifies and resumes, errors, and the ``labelfab
pull`` command (the server's, which runs the client's, and the console script)."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import labelfab_client as lf
import pytest

from labeling import datasets

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python" / "labelfab_client"
LABELFAB = str(Path(sys.executable).parent / "labelfab")
ALLOWED = {"labelfab_client", "requests", "pandas", "pyarrow"}  # its dependency and its extras'


def test_the_client_imports_only_the_standard_library_requests_and_its_extras():
    imported = set()
    for source in CLIENT.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert {"requests", "pyarrow", "pandas", "labelfab_client"} <= imported  # the walk saw them
    assert imported - ALLOWED - sys.stdlib_module_names == set()


def test_client_imports_neither_flask_nor_the_database():
    code = ("import sys, labelfab_client, labelfab_client.cli; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlmodel', 'sqlalchemy', 'pydantic', 'labeling', 'quality', 'web', 'numpy', 'click')]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pull_verifies_and_resumes(live_server, lead, project, pipeline, tmp_path: Path):
    v, _ = datasets.publish(project, lead.user, note="for the pipeline")
    seen = []
    path = lf.pull(live_server.url, project, token=pipeline.read_token, format="parquet", out_dir=tmp_path,
                   progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / f"project-{project}" / "v1" / "dataset.parquet"
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert json.loads((path.parent / "manifest.json").read_text())["sha256"] == v.sha256
    df = lf.dataframe(path)
    assert len(df) == 9 and set(df["split"]) <= {"train", "validation", "test"} and df["data"][0] == {"text": "text number 0"}
    rows = list(lf.records(lf.pull(live_server.url, project, 1, token=pipeline.read_token, out_dir=tmp_path)))
    assert [r["label"] for r in rows] == list(df["label"])

    # an interrupted download: the first bytes are there; the pull fetches the rest (Range)
    full = path.read_bytes()
    path.unlink()

    def stop(done: int, total: int) -> None:
        if done < total:
            raise KeyboardInterrupt  # the pipeline is stopped half-way
    with pytest.raises(KeyboardInterrupt):
        lf.pull(live_server.url, project, 1, token=pipeline.read_token, format="parquet", out_dir=tmp_path,
                chunk_size=1000, progress=stop)
    part = path.with_name(path.name + ".part")
    assert part.read_bytes() == full[:1000] and not path.exists()
    assert lf.pull(live_server.url, project, 1, token=pipeline.read_token, format="parquet",
                   out_dir=tmp_path).read_bytes() == full
    # a corrupt partial file: caught by the hash check, deleted, and the next pull is right
    path.unlink()
    part.write_bytes(b"x" * 1000)
    with pytest.raises(lf.HashMismatch) as err:
        lf.pull(live_server.url, project, 1, token=pipeline.read_token, format="parquet", out_dir=tmp_path)
    assert "corrupt" in str(err.value) and not part.exists() and not path.exists()
    assert lf.pull(live_server.url, project, 1, token=pipeline.read_token, format="parquet",
                   out_dir=tmp_path).read_bytes() == full


def test_pull_errors_and_the_pull_command(live_server, runner, lead, project, pipeline, annotator, tmp_path: Path):
    """(One live server for these, to keep the suite fast.)"""
    with pytest.raises(lf.ClientError) as err:
        lf.pull(live_server.url, project, token=pipeline.read_token, out_dir=tmp_path)
    assert err.value.status == 404 and "none is published yet" in str(err.value)
    v, _ = datasets.publish(project, lead.user)
    with pytest.raises(lf.ClientError) as err:
        lf.pull(live_server.url, project, 5, token=pipeline.read_token, out_dir=tmp_path)
    assert err.value.status == 404 and "no version 5" in str(err.value)
    with pytest.raises(lf.ClientError) as err:
        lf.pull(live_server.url, project, token=annotator.token, out_dir=tmp_path)
    assert err.value.status == 403
    with pytest.raises(lf.ClientError) as err:
        lf.pull(live_server.url, project, token="wrong", out_dir=tmp_path)
    assert err.value.status == 401
    with pytest.raises(lf.ClientError) as err:
        lf.pull(live_server.url, project, token=pipeline.read_token, format="coco", out_dir=tmp_path)
    assert "has no 'coco' file" in str(err.value)

    result = runner.invoke(args=["pull", live_server.url, f"{project}@1", "--token", pipeline.read_token,
                                 "--format", "csv", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    assert path.name == "dataset.csv" and "sha256 verified" in result.output
    assert hashlib.sha256(path.read_bytes()).hexdigest() == {f["format"]: f for f in v.manifest["files"]}["csv"]["sha256"]
    result = runner.invoke(args=["pull", live_server.url, f"{project}@3", "--token", pipeline.read_token,
                                 "--out", str(tmp_path)])
    assert result.exit_code == 1 and "no version 3" in result.output
    result = runner.invoke(args=["pull", live_server.url, "abc", "--token", "t"])
    assert result.exit_code == 1 and "PROJECT@VERSION" in result.output
    (tmp_path / "a-file").write_text("")  # --out a file, not a folder: one line, no traceback
    result = runner.invoke(args=["pull", live_server.url, str(project), "--token", pipeline.read_token,
                                 "--out", str(tmp_path / "a-file")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.output.splitlines() == [f"error: cannot write {tmp_path / 'a-file' / f'project-{project}' / 'v1'}: "
                                          "Not a directory"]

    # the console script of this install (the server's command, whose pull is the client's)
    out = subprocess.run([LABELFAB, "pull", live_server.url, f"{project}@latest", "--format", "jsonl",
                          "--out", str(tmp_path / "script")], env={**os.environ,
                          "LABELFAB_TOKEN": pipeline.read_token}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "script" / f"project-{project}" / "v1" / "dataset.jsonl"
    assert len(list(lf.records(path))) == 9


def test_the_pull_command_writes_no_server_file_where_it_runs(tmp_path: Path):
    """A client never creates server files: no .data/secret_key (nor a database) in its folder."""
    work = tmp_path / "training-job"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELFAB_")}
    out = subprocess.run([LABELFAB, "pull", "http://127.0.0.1:9", "1", "--token", "t", "--out", "data"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "cannot reach http://127.0.0.1:9" in out.stderr
    assert sorted(p.name for p in work.rglob("*")) == []
