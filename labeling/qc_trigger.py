"""Automatic QC: start a QC run after every N newly labeled tasks (``Project.qc_every``).

``labeling`` never imports ``quality``: a QC run is started by job *kind* (``"qc"``, queue
``"quality"``), whose handler the workers load from :mod:`quality.jobs`.

Where a task becomes ``labeled`` (an annotation reaching the overlap, an import of labeled
tasks), the code calls :func:`tasks_labeled` inside its own transaction. It counts the tasks in
``Project.labeled_since_qc`` (only when the project has ``qc_every > 0``, so projects without
automatic QC never touch the project row on the labeling hot path) and, when the count reaches
``qc_every`` and no QC job of the project is queued or running, inserts a ``qc`` job in the same
transaction and resets the count. The job's message goes to the broker only after that
transaction has committed (DESIGN.md: messages are sent after the commit that creates the job);
a rolled back transaction sends nothing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from labeling.db import utcnow
from labeling.models import Job, JobStatus, Project

log = logging.getLogger(__name__)

__all__ = ["QC_JOB_KIND", "QC_QUEUE", "active_qc_job", "enqueue_qc", "tasks_labeled"]

QC_JOB_KIND = "qc"
QC_QUEUE = "quality"

_P = Project.__table__
_J = Job.__table__
_PENDING = "labelfab.jobs_pending"  # job ids inserted by the open transaction of a connection
_COMMITTED = "labelfab.jobs_committed"  # ... whose transaction committed: sent at check-in
_ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def active_qc_job(conn: Connection, project_id: int) -> int | None:
    """Id of the project's QC job that is queued or running, if any."""
    return conn.execute(
        sa.select(_J.c.id).where(_J.c.project_id == project_id, _J.c.kind == QC_JOB_KIND,
                                 _J.c.status.in_(_ACTIVE)).order_by(_J.c.id).limit(1)
    ).scalar_one_or_none()


def enqueue_qc(conn: Connection, project_id: int, *, created_by: int | None = None,
               payload: dict | None = None) -> tuple[int, bool]:
    """Start a QC job of the project inside the caller's transaction (sent after its commit).

    The project row is locked first, so two transactions cannot both start one. If a QC job of
    the project is queued or running already, its id is returned and nothing is created.

    Returns
    -------
    (int, bool)
        The job id, and True if the job was created now.
    """
    conn.execute(sa.select(_P.c.id).where(_P.c.id == project_id).with_for_update())
    existing = active_qc_job(conn, project_id)
    if existing is not None:
        return existing, False
    now = utcnow()
    job_id = conn.execute(
        sa.insert(_J).values(kind=QC_JOB_KIND, queue=QC_QUEUE, project_id=project_id, created_by=created_by,
                             payload=payload or {}, status=JobStatus.queued.value, progress=0.0, message="queued",
                             attempts=0, created_at=now).returning(_J.c.id)
    ).scalar_one()
    conn.execute(sa.update(_P).where(_P.c.id == project_id).values(labeled_since_qc=0))
    conn.info.setdefault(_PENDING, []).append((job_id, QC_QUEUE))
    return job_id, True


def tasks_labeled(conn: Connection, project_id: int, n: int = 1) -> int | None:
    """Count ``n`` tasks of a project that just became labeled; start QC when ``qc_every`` is reached.

    Call it inside the transaction that labels the tasks. Returns the id of the QC job started,
    if one was.
    """
    if n <= 0:
        return None
    row = conn.execute(
        sa.update(_P).where(_P.c.id == project_id, _P.c.qc_every > 0)
        .values(labeled_since_qc=_P.c.labeled_since_qc + n)
        .returning(_P.c.labeled_since_qc, _P.c.qc_every)
    ).first()
    if row is None or row.labeled_since_qc < row.qc_every:
        return None
    job_id, created = enqueue_qc(conn, project_id, payload={"trigger": "auto", "labeled": int(row.labeled_since_qc)})
    return job_id if created else None


# ---- sending after commit: the pending ids follow the DBAPI connection (Connection.info)


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
    """The transaction is over and committed: send the messages of the jobs it created."""
    if record is None:
        return
    info = record.info
    info.pop(_PENDING, None)  # never committed
    committed = info.pop(_COMMITTED, None)
    if not committed:
        return
    from labeling import jobs

    for job_id, queue in committed:
        try:
            jobs.send(job_id, queue)
        except Exception:  # the broker is down: the job stays queued and recover() sends it
            log.exception("could not send QC job %s; it will be sent again at the next start-up", job_id)
