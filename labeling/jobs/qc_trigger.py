"""Starting QC jobs: at most one per project at a time, and automatically after every
``Project.qc_every`` newly labeled tasks (ARCHITECTURE.md, Jobs).

``labeling`` never imports ``quality``: a QC run is started by job *kind* (``"qc"``), whose
handler the registry names and the workers load.

Where a task becomes ``labeled`` (an annotation reaching the overlap, an import of labeled
tasks), the code calls :func:`tasks_labeled` inside its own transaction. It counts the tasks in
``Project.labeled_since_qc`` (only when the project has ``qc_every > 0``, so projects without
automatic QC never touch the project row on the labeling hot path) and, when the count reaches
``qc_every`` and no QC job of the project is queued or running, inserts a ``qc`` job in the same
transaction through the outbox and resets the count: the job's message goes to the broker only
after that transaction has committed, and a rolled back transaction sends nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from labeling.jobs import outbox
from labeling.models import Job, JobStatus, Project

__all__ = ["QC_JOB_KIND", "QC_RUN_KINDS", "active_qc_job", "enqueue_qc", "tasks_labeled"]

QC_JOB_KIND = "qc"
#: The kinds of a QC run: the run, and the fold and gather jobs of a run fanned out over the workers.
QC_RUN_KINDS = (QC_JOB_KIND, "qc_fold", "qc_gather")

_P = Project.__table__
_J = Job.__table__
_ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def active_qc_job(conn: Connection, project_id: int) -> int | None:
    """Id of the project's QC job that is queued or running (or a fold or the gather of its
    fanned-out run), if any."""
    return conn.execute(
        sa.select(_J.c.id).where(_J.c.project_id == project_id, _J.c.kind.in_(QC_RUN_KINDS),
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
    job_id = outbox.enqueue(QC_JOB_KIND, project_id=project_id, created_by=created_by, payload=payload,
                            session=conn)
    conn.execute(sa.update(_P).where(_P.c.id == project_id).values(labeled_since_qc=0))
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
