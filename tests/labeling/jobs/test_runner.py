"""The job runner (labeling.jobs.runner): claim, heartbeat, finish, on the configured broker
(stub by default; CI repeats it on Redis and RabbitMQ).

The job table is the source of truth: a job is committed, then sent; an actor claims it
atomically; a re-delivered message is harmless; a worker killed mid-job leaves a job that is
run again after restart, with its result written exactly once.
"""

import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import select

from labeling import jobs, processes
from labeling.db import read_session, utcnow, write_session
from labeling.jobs import runner
from labeling.jobs.broker import broker, is_stub
from labeling.media import store_media, thumbnail_path
from labeling.models import Job, JobStatus, Media
from labeling.settings import get_settings
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.broker


def add_images(n: int, size: int = 64) -> list[Media]:
    """Store ``n`` distinct PNG images as media rows."""
    rows = []
    for i in range(n):
        img = Image.new("RGB", (size, size), (i % 256, (i // 256) % 256, 128))
        img.putpixel((i % size, 0), (255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        info = store_media(buf.getvalue(), media_root=get_settings().media_root, name=f"img{i}.png")
        rows.append(dict(sha256=info.sha256, ext=info.ext, mime=info.mime, width=info.width,
                         height=info.height, size=info.size))
    with write_session() as s:
        s.execute(sa.insert(Media), rows)
    with read_session() as s:
        return list(s.exec(select(Media)))


def wait_job(job_id: int, timeout: float = 60) -> Job:
    return wait_for(lambda: (j := jobs.get_job(job_id)) and j.status in ("done", "failed") and j, timeout=timeout)


def test_thumbnail_job_runs_to_done(worker):
    media = add_images(5)
    job_id = jobs.enqueue("thumbnails")
    job = wait_job(job_id)
    assert job.status == JobStatus.done, job.message
    assert job.result == {"thumbnails": 5, "failed": [], "n_failed": 0}
    assert job.progress == 1.0 and job.attempts == 1
    for m in media:
        assert thumbnail_path(get_settings().media_root, m.sha256).exists()
    with read_session() as s:
        assert all(s.exec(select(Media.thumbnail_ready)))


def test_failing_job_ends_failed_with_message(worker):
    job = wait_job(jobs.enqueue("qc"))  # an expected failure (JobError) of a registered kind
    assert job.status == JobStatus.failed
    assert job.message == "a qc job needs a project"


def test_a_redelivered_message_is_harmless(worker):
    add_images(2)
    job_id = jobs.enqueue("thumbnails")
    wait_job(job_id)
    jobs.send(job_id, "default")  # as if the broker delivered it again
    jobs.execute(job_id)
    job = jobs.get_job(job_id)
    assert job.status == JobStatus.done and job.attempts == 1


def test_unknown_kind_is_refused():
    with pytest.raises(KeyError):
        jobs.enqueue("no_such_kind")


def test_recover_resends_queued_jobs(worker):
    add_images(1)
    with write_session() as s:  # a job whose message was lost (the stub broker forgets on restart)
        job = Job(kind="thumbnails", queue="default")
        s.add(job)
        s.flush()
        job_id = job.id
    assert jobs.recover() >= 1
    assert wait_job(job_id).status == JobStatus.done


def _start_worker_process() -> object:
    """What runs jobs in production for this broker: `labelfab serve` (stub) or `labelfab worker`."""
    if is_stub():
        return LiveServer(threads=4, wait=False)  # it picks the job up while starting
    labelfab = Path(sys.executable).parent / "labelfab"
    proc = subprocess.Popen([str(labelfab), "worker", "--processes", "1", "--threads", "1"],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    return proc


def _kill9(runner) -> None:
    """kill -9 of the whole process group: the server's main and worker processes, or dramatiq's."""
    if isinstance(runner, LiveServer):
        runner.kill()
    else:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"])


def _owner_of(proc: subprocess.Popen) -> processes.Owner:
    """What a job claimed by ``proc`` records (as processes.me() would in that process)."""
    return processes.Owner(processes.node(), proc.pid, round(psutil.Process(proc.pid).create_time(), 2))


def _gone_owner() -> str:
    """The owner of a process of this machine that has ended (killed, as by kill -9)."""
    proc = _sleeper()
    owner = _owner_of(proc)
    proc.kill()
    proc.wait()
    return str(owner)


def _running_job(owner: str, *, heartbeat_age: float = 0.0) -> int:
    """A thumbnails job left running by ``owner``, its heartbeat ``heartbeat_age`` seconds old."""
    with write_session() as s:
        job = Job(kind="thumbnails", queue="default", status=JobStatus.running, attempts=1,
                  claim_token="f" * 32, owner=owner, heartbeat_at=utcnow() - timedelta(seconds=heartbeat_age))
        s.add(job)
        s.flush()
        return job.id


def test_a_job_whose_process_on_this_machine_is_gone_is_taken_over_at_once():
    add_images(2)
    gone = _gone_owner()
    job_id = _running_job(gone)  # its heartbeat is fresh: before, it waited job_stale_seconds
    started = time.monotonic()
    jobs.execute(job_id)
    job = jobs.get_job(job_id)
    assert job.status == JobStatus.done, job.message
    assert job.attempts == 2 and job.result["thumbnails"] == 2
    assert job.owner == str(processes.me()) != gone
    assert time.monotonic() - started < get_settings().job_stale_seconds


def test_a_job_whose_pid_is_now_another_process_is_taken_over():
    sleeper = _sleeper()
    try:
        real = _owner_of(sleeper)
        before = processes.Owner(real.node, real.pid, real.started - 3600)  # the pid, reused since
        job_id = _running_job(str(before))
        assert runner._claim(job_id) is not None
        assert jobs.get_job(job_id).owner == str(processes.me())
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_job_of_a_live_process_is_not_taken():
    sleeper = _sleeper()
    alive = str(_owner_of(sleeper))
    try:
        for owner in (alive, str(processes.me())):
            job_id = _running_job(owner)
            assert runner._claim(job_id) is None
            job = jobs.get_job(job_id)
            assert job.status == JobStatus.running and job.attempts == 1 and job.owner == owner
    finally:
        sleeper.kill()
        sleeper.wait()
    job_id = _running_job(alive)
    assert runner._claim(job_id) is not None  # once it is gone, it is


def test_a_job_of_another_machine_waits_for_its_heartbeat():
    other = str(processes.Owner("0123456789abcdef", 1, 1.0, "elsewhere"))  # pid 1 here says nothing of it
    job_id = _running_job(other)
    assert runner._claim(job_id) is None
    assert jobs.get_job(job_id).attempts == 1
    stale = get_settings().job_stale_seconds + 1
    with write_session() as s:
        s.execute(sa.update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=stale)))
    assert runner._claim(job_id) is not None
    assert jobs.get_job(job_id).attempts == 2


def test_owners_are_written_and_read_back():
    me = processes.me()
    assert processes.Owner.parse(str(me)) == me
    assert processes.alive(me) is True
    assert processes.Owner.parse(None) is None and processes.Owner.parse("worker-3") is None


def test_worker_killed_mid_job_is_rerun_and_result_written_once(monkeypatch):
    # The worker processes wait 10 minutes for a stale heartbeat: the re-run below must not wait
    # for it, the second worker finding the first one's process gone.
    monkeypatch.setenv("LABELFAB_JOB_STALE_SECONDS", "600")
    n = 1200
    add_images(n, size=128)
    job_id = jobs.enqueue("thumbnails")  # on the stub broker the server picks it up at start-up
    first = _start_worker_process()
    try:
        wait_for(lambda: (j := jobs.get_job(job_id)).status == "running" and j.progress > 0, timeout=60, interval=0.02)
    finally:
        _kill9(first)
    job = jobs.get_job(job_id)
    assert job.status == JobStatus.running and job.attempts == 1  # killed in the middle
    with read_session() as s:
        ready_before = s.exec(select(sa.func.count()).select_from(Media).where(Media.thumbnail_ready)).one()
    assert 0 < ready_before < n

    second = _start_worker_process()
    try:
        if not is_stub():
            jobs.recover()
        job = wait_job(job_id, timeout=120)  # far less than the 600 s heartbeat
    finally:
        second.stop() if isinstance(second, LiveServer) else _kill9(second)
    assert job.status == JobStatus.done, job.message
    assert job.attempts == 2
    assert job.result["thumbnails"] == n - ready_before  # the re-run did only what was left
    with read_session() as s:
        assert s.exec(select(sa.func.count()).select_from(Media).where(Media.thumbnail_ready)).one() == n


def test_broker_is_the_configured_one():
    url = get_settings().broker_url
    scheme = url.split(":")[0]
    expected = {"stub": "StubBroker", "redis": "RedisBroker", "rediss": "RedisBroker",
                "amqp": "RabbitmqBroker", "amqps": "RabbitmqBroker"}[scheme]
    assert type(broker).__name__ == expected
