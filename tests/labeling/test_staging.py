"""Publishing's staging folders (labeling.staging): every file and folder fsync'd before the
commit that records a version; what a crashed publish leaves is removed when a process starts,
never the folder of a publish still running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from labeling import datasets, processes, staging
from labeling.db import read_session
from labeling.models import DatasetVersion
from labeling.settings import get_settings
from tests.conftest import LiveServer
from tests.labeling.test_exports import accept, make_project, task_ids, text_task


@pytest.fixture(autouse=True)
def no_stored_versions():
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


def _killed_after_make(root: Path) -> Path:
    """A staging folder of a process that died (kill -9) while writing it."""
    code = ("import os, signal, sys; from pathlib import Path; from labeling import staging; "
            "p = staging.make(Path(sys.argv[1])); (p / 'dataset.jsonl').write_text('{}'); "
            "print(p, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return Path(proc.stdout.strip())


class _Writing:
    """Another process in the middle of a publish: its staging folder made, still running."""

    def __init__(self, root: Path):
        code = ("import sys, time; from pathlib import Path; from labeling import staging; "
                "print(staging.make(Path(sys.argv[1])), flush=True); time.sleep(120)")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True)
        self.folder = Path(self.proc.stdout.readline().strip())

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def _aged(folder: Path, seconds: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "dataset.csv").write_text("id\n")
    when = time.time() - seconds
    for p in (folder / "dataset.csv", folder):
        os.utime(p, (when, when))
    return folder


def test_clean_removes_what_dead_processes_left_and_spares_running_publishes(tmp_path):
    top = tmp_path / "datasets"
    mine = staging.make(top / "1")  # this process is publishing
    writing = _Writing(top / "1")
    try:
        dead = _killed_after_make(top / "1")
        assert dead.is_dir() and dead.parent == top / "1"
        old = staging.ORPHAN_SECONDS + 60
        # another machine's (a shared data directory) and those named before folders carried
        # their process: only once nothing in them changed for ORPHAN_SECONDS
        other_fresh = _aged(top / "2" / ".staging-0123456789abcdef-7-1700000000.00-0a0b", 60)
        other_old = _aged(top / "2" / ".staging-0123456789abcdef-8-1700000000.00-0c0d", old)
        unnamed_fresh = _aged(top / "3" / ".staging-00112233aabbccdd", 60)
        unnamed_old = _aged(top / "3" / ".staging-44556677aabbccdd", old)
        version = _aged(top / "3" / "1", old)  # a published version is no staging folder

        removed = staging.clean(top)

        assert sorted(removed) == sorted([dead, other_old, unnamed_old])
        for folder in (mine, writing.folder, other_fresh, unnamed_fresh, version):
            assert folder.is_dir(), folder
        for folder in removed:
            assert not folder.exists()
    finally:
        writing.stop()
    assert staging.clean(top) == [writing.folder]  # once its process is gone
    assert mine.is_dir()


def test_staging_folders_are_named_after_their_process(tmp_path):
    folder = staging.make(tmp_path / "1")
    me = processes.me()
    assert folder.name.startswith(f".staging-{me.node}-{me.pid}-{me.started:.2f}-")
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct((tmp_path / "1").stat().st_mode & 0o777) == "0o700"


# --------------------------------------------------------------------------- durable before the commit


def test_every_file_and_folder_is_fsynced_before_the_version_is_committed(lead, monkeypatch):
    pid = make_project(lead.user, [text_task(i, ["pos", "neg"][i % 2]) for i in range(6)])
    accept(pid, task_ids(pid))
    final = datasets.datasets_root(pid) / "1"
    trail: list[tuple[str, str | bool]] = []
    real_fsync = os.fsync

    def fsync(fd):
        trail.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def after_commit(_session):
        trail.append(("commit", final.exists()))

    monkeypatch.setattr(os, "fsync", fsync)
    event.listen(Session, "after_commit", after_commit)
    try:
        version, created = datasets.publish(pid, lead.user)
    finally:
        event.remove(Session, "after_commit", after_commit)
    assert created and version.number == 1
    # the transaction that records the version is the first to commit with its folder in place
    at = trail.index(("commit", True))
    before = [path for what, path in trail[:at] if what == "fsync"]
    names = {Path(p).name for p in before}
    files = sorted(p.name for p in final.iterdir())
    assert {"dataset.jsonl", "dataset.parquet", "dataset.csv", "dataset.json", "README.md", "manifest.json"} \
        <= set(files)
    assert set(files) <= names, set(files) - names
    assert all(oct((final / f).stat().st_mode & 0o777) == "0o400" for f in files)  # this user's, read-only
    assert oct(final.stat().st_mode & 0o777) == "0o700"
    for folder in (final, final.parent, final.parent.parent):
        assert str(folder.resolve()) in before, folder
    # the folder's own fsync comes after its move in place (its path is the final one)
    assert before.index(str(final.resolve())) > max(i for i, p in enumerate(before) if Path(p).name == "manifest.json")


# --------------------------------------------------------------------------- a real crash, then a start


def test_a_publish_killed_midway_leaves_a_folder_that_the_next_start_removes(lead):
    pid = make_project(lead.user, [text_task(i, ["pos", "neg"][i % 2]) for i in range(8)])
    accept(pid, task_ids(pid))
    root = datasets.datasets_root(pid)
    code = ("import os, signal, sys; from labeling import datasets, users\n"
            "def crash(*args, **kwargs):\n"  # the files are written, the version not yet committed
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "datasets.qc_summary = crash\n"
            "datasets.publish(int(sys.argv[1]), users.get_user(int(sys.argv[2])))\n")
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code, str(pid), str(lead.id)], capture_output=True,
                              text=True, timeout=120, env=os.environ.copy())
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = sorted(root.glob(".staging-*"))
    assert len(left) == 2 and all((p / "dataset.jsonl").stat().st_size > 0 for p in left)
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(DatasetVersion)).scalar_one() == 0
    writing = _Writing(root)
    try:
        server = LiveServer(threads=2)  # `labelfab serve`: its process cleans up as it starts
        server.stop()
        assert sorted(root.glob(".staging-*")) == [writing.folder]
    finally:
        writing.stop()
    version, created = datasets.publish(pid, lead.user)
    assert created and version.number == 1 and version.n_items == 8


def test_labelfab_worker_cleans_up_before_it_starts_its_processes(runner, monkeypatch):
    from labeling.jobs import broker

    root = datasets.datasets_root(9)
    dead = _killed_after_make(root)
    started = []

    def execv(path, args):
        started.append((args, dead.exists()))
        raise SystemExit(0)

    monkeypatch.setattr(broker, "is_stub", lambda: False)  # as with Redis or RabbitMQ
    monkeypatch.setattr(os, "execv", execv)
    result = runner.invoke(args=["worker", "--processes", "1"])
    assert result.exit_code == 0, result.output
    (args, still_there), = started
    assert args[1:4] == ["-m", "dramatiq", "labeling.jobs.worker"] and not still_there
