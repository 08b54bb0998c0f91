"""A QC run fanned out over the workers (quality.run.fanout): one job per fold and a gather,
on whatever database and broker the suite runs on (SQLite and the stub broker, or PostgreSQL and
Redis). The stored run is what the batched finder finds in one process; a fold whose worker died
is run again, and the gather runs once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import jobs
from labeling.db import read_session, utcnow, write_session
from labeling.jobs import runner
from labeling.jobs.worker import InProcessWorker
from labeling.models import Job, JobStatus, LabelIssue, QCBatch, QualityRun, Task, TaskState
from labeling.settings import get_settings
from quality import batched
from quality.run.skeleton import start_qc
from tests.conftest import _TMP, login, wait_for
from tests.quality.test_qc import blobs, embedding_rows, flip, import_rows, make_project


@pytest.fixture
def fan_out_small(monkeypatch):
    monkeypatch.setenv("LABELFAB_QC_FAN_OUT_FROM", "100")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def stored_x(X) -> np.ndarray:
    """The embeddings as the import stores them (5 decimals) and the fan-out reads them (float32)."""
    return np.array([[round(float(v), 5) for v in row] for row in X], dtype=np.float32)


def project_with_noise(lead, n_per_class=80, n_flipped=24):
    X, truth = blobs(n_per_class, seed=7, spread=1.6)
    given, flipped = flip(truth, n_flipped, 3, seed=2)
    pid = make_project(lead)
    ids = import_rows(lead, pid, embedding_rows(X, given))
    return pid, np.asarray(ids), X, given, flipped


def jobs_of(pid: int, kind: str) -> list[Job]:
    with read_session() as s:
        return list(s.exec(select(Job).where(Job.project_id == pid, Job.kind == kind).order_by(Job.id)))


def finished(pid: int):
    gathers = jobs_of(pid, "qc_gather")
    return gathers and gathers[0].status in ("done", "failed") and gathers[0]


def test_a_large_run_fans_out_and_stores_what_the_batched_finder_finds(lead, fan_out_small, worker, tmp_path,
                                                                       client):
    pid, ids, X, given, flipped = project_with_noise(lead)
    job = start_qc(lead.user, pid)[0]
    gather = wait_for(lambda: finished(pid), timeout=120)
    assert gather.status == "done", gather.message
    qc = jobs.get_job(job.id)
    assert qc.status == "done" and qc.result["status"] == "fanned_out" and qc.result["n_folds"] == 5
    folds = jobs_of(pid, "qc_fold")
    assert sorted(f.payload["fold"] for f in folds) == [0, 1, 2, 3, 4]
    assert all(f.status == "done" and f.attempts == 1 for f in folds)

    expected = batched.score_in_process(tmp_path / "b", stored_x(X), given, n_classes=3, n_folds=5, seed=0)
    with read_session() as s:
        runs = s.exec(select(QualityRun).where(QualityRun.project_id == pid)).all()
        assert len(runs) == 1 and runs[0].status == "done" and runs[0].job_id == gather.id
        run = runs[0]
        rows = s.exec(select(LabelIssue).where(LabelIssue.run_id == run.id).order_by(LabelIssue.task_id)).all()
        states = dict(s.execute(sa.select(Task.id, Task.state).where(Task.project_id == pid)).all())
        batch = s.exec(select(QCBatch).where(QCBatch.project_id == pid)).one()
    assert run.n_items == ids.size and run.pred_probs_source == "embedding"
    assert run.n_issues == expected["n_issues"]
    assert run.noise_rate == pytest.approx(expected["noise_rate"])
    assert run.confident_joint == expected["confident_joint"].tolist()
    flagged = {r.task_id for r in rows if r.is_issue}
    assert flagged == set(ids[expected["is_label_issue"]].tolist())
    assert len(flagged & set(ids[sorted(flipped)].tolist())) >= 0.8 * len(flagged)
    assert all(r.given == ["ant", "bee", "cow"][given[int(np.searchsorted(ids, r.task_id))]] for r in rows)
    # the QC policy judged the run: the flagged tasks wait for review, the others are accepted
    assert {states[t] for t in flagged} == {TaskState.review.value}
    assert {states[t] for t in set(ids.tolist()) - flagged} == {TaskState.accepted.value}
    assert batch.state == "done" and batch.folds_done == [0, 1, 2, 3, 4]
    assert not (get_settings().shared_root / batch.folder).exists()  # the batch's files are removed
    # the QC page and the API show the run as they show any
    listed = client.get(f"/api/projects/{pid}/qc/runs", headers=lead.headers).get_json()
    assert [r["id"] for r in listed] == [run.id] and listed[0]["n_issues"] == run.n_issues
    issues = client.get(f"/api/projects/{pid}/label-issues?page_size=500", headers=lead.headers)
    assert issues.headers["X-Total-Count"] == str(len(flagged)) and issues.headers["X-QC-Run"] == str(run.id)
    assert {i["task"] for i in issues.get_json()} == flagged
    login(client, lead.email)
    page = client.get(f"/projects/{pid}/quality")
    assert page.status_code == 200 and f"{ids.size:,} items scored" in page.get_data(as_text=True)


def test_a_small_project_is_still_scored_in_one_job(lead, worker):
    pid, ids, *_ = project_with_noise(lead, n_per_class=20, n_flipped=3)
    job = start_qc(lead.user, pid)[0]
    done = wait_for(lambda: (j := jobs.get_job(job.id)) and j.status in ("done", "failed") and j, timeout=120)
    assert done.status == "done", done.message
    assert done.result["n_items"] == ids.size and "batch" not in done.result
    assert jobs_of(pid, "qc_fold") == [] and jobs_of(pid, "qc_gather") == []


def dead_owner() -> str:
    """The owner string of a process of this machine that has exited (a killed worker)."""
    out = subprocess.run([sys.executable, "-c", "from labeling.processes import me; print(me())"],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    return out.stdout.strip()


def test_a_fold_whose_worker_died_runs_again_and_the_gather_runs_once(lead, fan_out_small):
    pid, ids, X, given, _ = project_with_noise(lead)
    job = start_qc(lead.user, pid)[0]
    runner.execute(job.id)  # the qc job, here: it fans out; no worker takes the folds yet
    folds = jobs_of(pid, "qc_fold")
    assert len(folds) == 5 and all(f.status == JobStatus.queued for f in folds)
    with read_session() as s:
        batch = s.exec(select(QCBatch).where(QCBatch.project_id == pid)).one()
    folder = get_settings().shared_root / batch.folder
    # fold 2's worker was killed midway: the job is running for a process that is gone, and its
    # half-written output lies under a temporary name
    with write_session() as s:
        s.execute(sa.update(Job).where(Job.id == folds[2].id).values(
            status=JobStatus.running, owner=dead_owner(), attempts=1, claim_token="gone",
            started_at=utcnow(), heartbeat_at=utcnow(), progress=0.4))
    (folder / ".fold-2.npy.4242.tmp").write_bytes(b"half a fold")

    w = InProcessWorker(2)
    w.start()
    try:
        runner.recover()  # what a worker does when it starts
        gather = wait_for(lambda: finished(pid), timeout=120)
    finally:
        w.stop()
    assert gather.status == "done", gather.message
    folds = jobs_of(pid, "qc_fold")
    assert [f.attempts for f in folds] == [1, 1, 2, 1, 1]
    assert all(f.status == "done" for f in folds)
    gathers = jobs_of(pid, "qc_gather")
    assert len(gathers) == 1 and gathers[0].attempts == 1
    with read_session() as s:
        runs = s.exec(select(QualityRun).where(QualityRun.project_id == pid)).all()
    assert len(runs) == 1 and runs[0].job_id == gathers[0].id and runs[0].n_items == ids.size


def test_a_fold_job_run_twice_counts_its_fold_once(lead, fan_out_small):
    pid, *_ = project_with_noise(lead)
    job = start_qc(lead.user, pid)[0]
    runner.execute(job.id)
    folds = jobs_of(pid, "qc_fold")
    for f in folds[:4]:
        runner.execute(f.id)
        runner.execute(f.id)  # a redelivered message: the job is done, nothing runs
    with read_session() as s:
        batch = s.exec(select(QCBatch).where(QCBatch.project_id == pid)).one()
    assert batch.folds_done == [0, 1, 2, 3] and batch.gather_job_id is None and batch.state == "folding"
    runner.execute(folds[4].id)
    with read_session() as s:
        batch = s.get(QCBatch, batch.id)
    assert batch.state == "gathering" and len(jobs_of(pid, "qc_gather")) == 1
    # while the run's folds and gather are pending, a second QC of the project is the same run
    assert start_qc(lead.user, pid) [1] is False
    runner.execute(batch.gather_job_id)
    runner.execute(batch.gather_job_id)
    with read_session() as s:
        assert len(s.exec(select(QualityRun).where(QualityRun.project_id == pid)).all()) == 1


@pytest.mark.skipif(os.environ.get("LABELFAB_BROKER_URL", "stub://").startswith("stub"),
                    reason="a separate worker process needs a real broker (Redis or RabbitMQ)")
def test_a_worker_process_killed_during_a_fold_is_replaced_and_the_run_stored_once(lead, fan_out_small):
    pid, ids, *_ = project_with_noise(lead, n_per_class=4000, n_flipped=600)
    labelfab = Path(sys.executable).parent / "labelfab"
    env = {**os.environ, "LABELFAB_QC_FAN_OUT_FROM": "100"}

    def start_worker(name: str) -> subprocess.Popen:
        log = open(_TMP / f"fanout-{name}.log", "w")  # noqa: SIM115
        return subprocess.Popen([str(labelfab), "worker", "--processes", "1", "--threads", "1"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    first = start_worker("first")
    try:
        start_qc(lead.user, pid)
        running = wait_for(lambda: [f for f in jobs_of(pid, "qc_fold") if f.status == JobStatus.running],
                           timeout=120, interval=0.02)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    victim = running[0]
    assert jobs.get_job(victim.id).status == JobStatus.running  # killed midway, not finished
    second = start_worker("second")
    try:
        gather = wait_for(lambda: finished(pid), timeout=300)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    assert gather.status == "done", gather.message
    assert jobs.get_job(victim.id).attempts == 2
    assert len(jobs_of(pid, "qc_gather")) == 1
    with read_session() as s:
        runs = s.exec(select(QualityRun).where(QualityRun.project_id == pid)).all()
    assert len(runs) == 1 and runs[0].n_items == ids.size


def test_the_cli_follows_a_fanned_out_run_to_its_stored_run(runner, admin, lead, fan_out_small, worker):
    pid, ids, *_ = project_with_noise(lead)
    result = runner.invoke(args=["qc", "run", str(pid), "--wait"])
    assert result.exit_code == 0, result.output
    assert "fold jobs and a gather queued" in result.output
    assert f"{ids.size:,} items scored" in result.output
    gather = jobs_of(pid, "qc_gather")[0]
    assert gather.status == "done" and result.output.strip().splitlines()[-1] == str(jobs_of(pid, "qc")[0].id)


def test_the_gather_stores_its_run_and_ends_its_batch_in_one_transaction(lead, fan_out_small):
    """A failure ending the batch leaves no stored run (they were two transactions: the run was
    stored and the job done while the batch stayed "gathering" for ever)."""
    from tests.faults import refused

    pid, *_ = project_with_noise(lead)
    runner.execute(start_qc(lead.user, pid)[0].id)
    for f in jobs_of(pid, "qc_fold"):
        runner.execute(f.id)
    with read_session() as s:
        batch = s.exec(select(QCBatch).where(QCBatch.project_id == pid)).one()
    assert batch.state == "gathering"
    with refused("qc_batch", "UPDATE"):
        runner.execute(batch.gather_job_id)
    gather = jobs_of(pid, "qc_gather")[0]
    assert gather.status == JobStatus.failed and "refused by the test" in gather.message
    with read_session() as s:
        assert s.get(QCBatch, batch.id).state == "gathering"
        assert s.exec(select(QualityRun).where(QualityRun.project_id == pid, QualityRun.status == "done")).all() == []
        assert s.exec(select(LabelIssue).where(LabelIssue.project_id == pid)).all() == []
