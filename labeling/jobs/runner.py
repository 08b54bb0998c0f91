"""Running a job: claim, heartbeat, finish; the same wrapper for every kind (ARCHITECTURE.md, Jobs).

The ``job`` table is the source of truth; a dramatiq message carries only a job id. The actor
of a queue calls :func:`execute`, which claims the job atomically (a redelivered message finds it
taken and does nothing), runs the handler the registry lists for the job's kind while a thread
beats its heartbeat, and ends it ``done`` or ``failed``. A handler that writes results should do
so with :meth:`JobContext.complete` in the same transaction, so that a job re-run after a crash
writes its result exactly once. At start-up :func:`recover` sends again jobs left queued or
running; a running one is re-run once its heartbeat is stale, or at once when the process that
claimed it (``job.owner``) ran on this machine and is gone.
"""

from __future__ import annotations

import logging
import secrets
import threading
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import processes
from labeling.db import read_session, utcnow, write_session
from labeling.jobs import registry
from labeling.jobs.broker import broker
from labeling.models import Job, JobStatus
from labeling.settings import get_settings

log = logging.getLogger(__name__)


class JobError(Exception):
    """An expected failure: the job ends ``failed`` with this message (no traceback)."""


class JobLost(Exception):
    """This worker no longer owns the job (it was re-claimed after a stale heartbeat)."""


@dataclass
class JobContext:
    """What a running handler gets: its job's payload, and ways to report progress and finish."""

    job_id: int
    kind: str
    project_id: int | None
    payload: dict
    claim_token: str
    completed: bool = False

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1) and a heartbeat; raises JobLost if the job was taken over."""
        with write_session() as s:
            self._touch(s, progress=max(0.0, min(1.0, float(fraction))), message=message)

    def heartbeat(self) -> None:
        with write_session() as s:
            self._touch(s)

    def complete(self, session: Session, result: dict | None = None, message: str = "done") -> None:
        """Mark the job done inside the caller's transaction (which also writes the results)."""
        self._touch(
            session,
            status=JobStatus.done,
            progress=1.0,
            message=message,
            result=result or {},
            finished_at=utcnow(),
        )
        self.completed = True

    def _touch(self, session: Session, **values: Any) -> None:
        values.setdefault("heartbeat_at", utcnow())
        res = session.execute(
            sa.update(Job)
            .where(Job.id == self.job_id, Job.claim_token == self.claim_token, Job.status == JobStatus.running)
            .values(**values)
        )
        if res.rowcount != 1:
            raise JobLost(f"job {self.job_id} is no longer owned by this worker")


def send(job_id: int, queue: str, *, delay_ms: int | None = None) -> None:
    """Send a job's id to the actor of its queue (the outbox calls this after the job's commit)."""
    _actors[queue].send_with_options(args=(job_id,), delay=delay_ms)


def get_job(job_id: int) -> Job | None:
    """The job row, or None."""
    with read_session() as s:
        return s.get(Job, job_id)


def _claim(job_id: int) -> JobContext | None:
    """Take the job if it is queued, or running for a process that is gone: its heartbeat is
    stale, or its owner ran on this machine and is known dead (:func:`labeling.processes.alive`),
    which is taken over at once. A job of a live process, or of another machine with a fresh
    heartbeat, is left alone."""
    now = utcnow()
    stale = now - timedelta(seconds=get_settings().job_stale_seconds)
    taken_from = [Job.status == JobStatus.queued, sa.and_(Job.status == JobStatus.running, Job.heartbeat_at < stale)]
    with read_session() as s:
        current = s.exec(select(Job.status, Job.owner).where(Job.id == job_id)).first()
    dead = None
    if current is not None and current.status == JobStatus.running:
        owner = processes.Owner.parse(current.owner)
        if owner is not None and processes.alive(owner) is False:
            dead = current.owner  # taken only if no one took it meanwhile (the owner is still this)
            taken_from.append(sa.and_(Job.status == JobStatus.running, Job.owner == dead))
    token = secrets.token_hex(16)
    with write_session() as s:
        res = s.execute(
            sa.update(Job)
            .where(Job.id == job_id, sa.or_(*taken_from))
            .values(status=JobStatus.running, attempts=Job.attempts + 1, claim_token=token,
                    owner=str(processes.me()), started_at=now, heartbeat_at=now, message="running")
        )
        if res.rowcount != 1:
            return None
        job = s.get(Job, job_id)
        if dead is not None and job.attempts > 1:
            log.warning("job %s (%s) taken over from %s, a process that is gone", job_id, job.kind, dead)
        return JobContext(job.id, job.kind, job.project_id, dict(job.payload or {}), token)


def _fail(ctx: JobContext, message: str) -> None:
    try:
        with write_session() as s:
            ctx._touch(s, status=JobStatus.failed, message=message[:4000], finished_at=utcnow())
    except JobLost:
        log.warning("job %s was taken over before it could be marked failed", ctx.job_id)


def execute(job_id: int) -> None:
    """Claim and run one job. Called by the actors; safe to call for a job already taken."""
    ctx = _claim(job_id)
    if ctx is None:
        job = get_job(job_id)
        if job is not None and job.status == JobStatus.running:
            # Someone else holds it; look again once its heartbeat could have gone stale.
            send(job_id, job.queue, delay_ms=get_settings().job_stale_seconds * 1000)
        return
    try:
        fn = registry.handler(ctx.kind)
    except (registry.UnknownKind, registry.RegistryError) as exc:
        _fail(ctx, str(exc.args[0]))
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(ctx, stop), daemon=True)
    beat.start()
    try:
        result = fn(ctx)
        if not ctx.completed:
            with write_session() as s:
                ctx.complete(s, result)
    except JobLost:
        log.warning("job %s was re-claimed by another worker; this run's results were discarded", job_id)
    except JobError as exc:
        _fail(ctx, str(exc))
    except Exception as exc:  # an unexpected failure still ends the job with a message
        log.error("job %s (%s) failed:\n%s", job_id, ctx.kind, traceback.format_exc())
        _fail(ctx, f"{exc.__class__.__name__}: {exc}")
    finally:
        stop.set()


def _heartbeat_loop(ctx: JobContext, stop: threading.Event) -> None:
    interval = max(1.0, get_settings().job_stale_seconds / 4)
    while not stop.wait(interval):
        try:
            ctx.heartbeat()
        except JobLost:
            return
        except Exception:  # a passing database error: try again on the next beat
            log.exception("heartbeat of job %s failed", ctx.job_id)


def recover() -> int:
    """Send again every unfinished job (at start-up); returns how many.

    Queued jobs run at once. A running job is claimed once its heartbeat is stale, or at once
    when its owner ran on this machine and is gone (a worker restarted after a crash); while its
    owner is alive, or on another machine with a fresh heartbeat, :func:`execute` looks again
    later, so a job whose worker is alive is never run twice.
    """
    with read_session() as s:
        rows = s.exec(
            select(Job.id, Job.queue).where(Job.status.in_([JobStatus.queued, JobStatus.running]))
        ).all()
    for job_id, queue in rows:
        send(job_id, queue)
    return len(rows)


def job_view(job: Job) -> dict:
    """The JSON shape of a job (``GET /api/jobs/ID``)."""
    return {
        "id": job.id, "kind": job.kind, "project": job.project_id, "status": job.status,
        "progress": job.progress, "message": job.message, "result": job.result,
        "attempts": job.attempts, "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


# One actor per queue of the registry; each runs any kind. Retries are off: the job table and
# recover() decide what runs again, not dramatiq's retry middleware.
_actors = {
    queue: dramatiq.actor(execute, actor_name=f"labelfab_{queue}", queue_name=queue, broker=broker,
                          max_retries=0, time_limit=6 * 3600 * 1000)
    for queue in registry.QUEUES
}
