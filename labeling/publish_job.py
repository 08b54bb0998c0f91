"""Publishing a dataset version, at once or as a job (ARCHITECTURE.md, Jobs).

:func:`request_publish` serves the dataset page, ``POST /api/projects/ID/datasets`` and
``labelfab dataset publish``: a project with more accepted tasks than
``settings.publish_job_threshold`` (``LABELFAB_PUBLISH_JOB_THRESHOLD``) is published by a
``publish`` job (:func:`run_publish_job`, listed in :mod:`labeling.jobs.registry`, sent by the
outbox after the transaction that creates it), the others at once by
:func:`labeling.datasets.publish`. The job ends in the transaction that writes the version, so a
redelivered message publishes nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from labeling import datasets, jobs
from labeling import splits as placing
from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import DomainError, Invalid
from labeling.exports import Splits
from labeling.models import DatasetVersion, Task, TaskState, User
from labeling.settings import get_settings

__all__ = ["PublishRequest", "request_publish", "run_publish_job"]

#: Seconds between two progress updates of a publish job.
_PROGRESS_SECONDS = 1.0


@dataclass(frozen=True)
class PublishRequest:
    """What a publish request did: the version (published at once), or the job that publishes it."""

    version: DatasetVersion | None = None
    created: bool = False
    job_id: int | None = None

    @property
    def queued(self) -> bool:
        return self.job_id is not None


def _accepted(project_id: int) -> int:
    t = Task.__table__
    with read_session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.project_id == project_id, t.c.state == TaskState.accepted, t.c.is_gold == sa.false())).scalar_one()


def request_publish(project_id: int, user: User, *, note: str = "", splits: Splits | None = None,
                    background: bool | None = None) -> PublishRequest:
    """Publish now, or queue a ``publish`` job for a large project.

    Parameters
    ----------
    background : bool, optional
        True: as a job; False: now; None (default): as a job when the project has more accepted
        tasks than ``settings.publish_job_threshold``.

    Raises
    ------
    NotFound, Forbidden, Conflict, Invalid
        As :func:`labeling.datasets.publish` (checked before a job is queued: the right to
        publish, the note, seed and shares that differ from the project's split generation).
    """
    note = (note or "").strip()
    if len(note) > 10_000:
        raise Invalid("the note is longer than 10,000 characters", [{"row": None, "field": "note",
                                                                      "detail": "too long"}])
    with read_session() as s:
        require_project(s, user, project_id, "export")
        placing.placement(s, project_id, splits)  # refuses splits of another generation now
    if background is None:
        background = _accepted(project_id) > get_settings().publish_job_threshold
    if not background:
        version, created = datasets.publish(project_id, user, note=note, splits=splits)
        return PublishRequest(version=version, created=created)
    payload: dict[str, Any] = {"user_id": user.id, "note": note,
                               "splits": None if splits is None else {"seed": splits.seed,
                                                                      "ratios": list(splits.ratios)}}
    job_id = jobs.enqueue("publish", project_id=project_id, payload=payload, created_by=user.id)
    return PublishRequest(job_id=job_id)


def run_publish_job(ctx: jobs.JobContext) -> dict:
    """The ``publish`` job's handler: publish the version; the job ends in its transaction."""
    p = ctx.payload
    with read_session() as s:
        user = s.get(User, p["user_id"])
    if user is None:
        raise jobs.JobError(f"user {p['user_id']} no longer exists")
    given = p.get("splits")
    splits = None if given is None else Splits(seed=int(given["seed"]), ratios=tuple(given["ratios"]))
    total = max(1, _accepted(ctx.project_id))
    ctx.progress(0.02, f"writing the dataset files ({total} items)")
    out: dict[str, Any] = {}
    last = [time.monotonic()]

    def progress(written: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_SECONDS:  # a job row update a second, whatever the size
            last[0] = now
            ctx.progress(0.02 + 0.9 * min(1.0, written / total), message)

    def done(s, version: DatasetVersion, created: bool) -> None:
        out.update({"version": version.number, "created": created, "sha256": version.sha256,
                    "n_items": version.n_items})
        ctx.complete(s, out, message=(f"published version {version.number}" if created else
                                      f"nothing changed since version {version.number}"))

    try:
        datasets.publish(ctx.project_id, user, note=p.get("note") or "", splits=splits, on_write=done,
                         progress=progress)
    except DomainError as exc:
        raise jobs.JobError(exc.detail) from None
    return out
