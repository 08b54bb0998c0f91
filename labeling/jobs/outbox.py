"""The outbox: every job is inserted in its caller's transaction and sent after that commits
(ARCHITECTURE.md, Jobs).

:func:`enqueue` writes the ``job`` row with the caller's session or connection, so the job exists
exactly when the work that asks for it does (an import's batch, the labels that start an
automatic QC run): a rolled-back transaction leaves no job and sends nothing. Without a session
it opens a transaction of its own. The ids of the jobs a transaction inserted follow its DBAPI
connection (``Connection.info``, the pool record's dict): they are set aside when it commits,
dropped when it rolls back, and sent when the connection goes back to the pool, that is once
the transaction is over and its rows are visible to a worker. A send that fails (the broker is
down) leaves the job queued; :func:`labeling.jobs.runner.recover` sends it when a worker starts.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from labeling.db import utcnow, write_session
from labeling.jobs import registry, runner
from labeling.models import Job, JobStatus

log = logging.getLogger(__name__)

__all__ = ["enqueue"]

_J = Job.__table__
_PENDING = "labelfab.jobs_pending"  # (job id, queue, delay) inserted by the open transaction of a connection
_COMMITTED = "labelfab.jobs_committed"  # ... whose transaction committed: sent at check-in


def enqueue(kind: str, *, project_id: int | None = None, payload: dict | None = None,
            created_by: int | None = None, session: Session | Connection | None = None,
            delay_ms: int | None = None) -> int:
    """Create a job of a registered kind; its message is sent once the transaction commits.

    Parameters
    ----------
    kind : str
        A kind listed in :data:`labeling.jobs.registry.KINDS` (its queue comes from there).
    project_id, created_by : int, optional
        The job's project and the user who asked for it.
    payload : dict, optional
        What the handler reads (JSON).
    session : Session or Connection, optional
        The caller's open transaction, which the job joins. Without it, the job is committed
        (and sent) before this function returns.
    delay_ms : int, optional
        Send its message this many milliseconds after the commit (a retry's backoff); the job is
        queued meanwhile, so :func:`labeling.jobs.runner.recover` may send it sooner.

    Returns
    -------
    int
        The job id.

    Raises
    ------
    UnknownKind
        ``kind`` is not registered.
    """
    spec = registry.get_kind(kind)
    if session is None:
        with write_session() as s:
            return _insert(s.connection(), spec, project_id, payload, created_by, delay_ms)
    conn = session.connection() if isinstance(session, Session) else session
    return _insert(conn, spec, project_id, payload, created_by, delay_ms)


def _insert(conn: Connection, spec: registry.Kind, project_id: int | None, payload: dict | None,
            created_by: int | None, delay_ms: int | None = None) -> int:
    job_id = conn.execute(
        sa.insert(_J).values(kind=spec.name, queue=spec.queue, project_id=project_id, created_by=created_by,
                             payload=payload or {}, status=JobStatus.queued.value, progress=0.0,
                             message="queued", attempts=0, created_at=utcnow()).returning(_J.c.id)
    ).scalar_one()
    conn.info.setdefault(_PENDING, []).append((job_id, spec.queue, delay_ms))
    return job_id


@event.listens_for(Engine, "commit")
def _on_commit(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending:
        conn.info.setdefault(_COMMITTED, []).extend(pending)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection, record) -> None:
    """The transaction is over: send the messages of the jobs it committed."""
    if record is None:
        return
    info = record.info
    info.pop(_PENDING, None)  # never committed
    committed = info.pop(_COMMITTED, None)
    for job_id, queue, delay_ms in committed or ():
        try:
            runner.send(job_id, queue, delay_ms=delay_ms)
        except Exception:  # the broker is down: the job stays queued and recover() sends it
            log.exception("could not send job %s; it will be sent again when a worker starts", job_id)
