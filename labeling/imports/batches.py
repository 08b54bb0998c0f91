"""An import as seen afterwards: one import of a project (its batch, its job, its tasks) and a
project's latest imports, for the import page, ``GET /api/projects/ID/imports/IID`` and the
project page. The import itself is :mod:`labeling.imports.service`."""

from __future__ import annotations

from sqlmodel import select

from labeling import jobs
from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import NotFound
from labeling.models import ImportBatch, Job, Task, User

__all__ = ["get_import", "import_task_ids", "import_view", "list_imports"]


def get_import(user: User, project_id: int, import_id: int) -> tuple[ImportBatch, dict | None]:
    """An import of a project (and its job's view), for the project's leads and admins."""
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        batch = s.get(ImportBatch, import_id)
        if batch is None or batch.project_id != project_id:
            raise NotFound(f"import {import_id} not found in project {project_id}")
        job = jobs.job_view(s.get(Job, batch.job_id)) if batch.job_id else None
        return batch, job


_LS_STATUS = {"queued": "created", "running": "in_progress", "done": "completed", "failed": "failed"}


def import_view(batch: ImportBatch, job: dict | None = None, *, task_ids: list[int] | None = None) -> dict:
    """An import as ``GET /api/projects/ID/imports/IID`` shows it (Label Studio's status names)."""
    body = {
        "id": batch.id, "project": batch.project_id, "status": _LS_STATUS.get(batch.status, batch.status),
        "task_count": batch.task_count, "annotation_count": batch.annotation_count,
        "prediction_count": batch.prediction_count, "skipped_duplicates": batch.skipped_duplicates,
        "duration": batch.duration, "files": batch.files, "errors": batch.errors,
        "created_at": batch.created_at.isoformat(), "job": job,
        "progress": job["progress"] if job else (1.0 if batch.status == "done" else 0.0),
    }
    if task_ids is not None:
        body["task_ids"] = task_ids
    return body


def import_task_ids(import_id: int) -> list[int]:
    """The ids of the tasks an import made, read through the id range its batch records (the
    primary key; ``task.import_id`` has no index of its own)."""
    with read_session() as s:
        batch = s.get(ImportBatch, import_id)
        if batch is None or batch.first_task_id is None:
            return []
        return list(s.exec(select(Task.id).where(Task.id.between(batch.first_task_id, batch.last_task_id),
                                                 Task.import_id == import_id).order_by(Task.id)))


def list_imports(user: User, project_id: int, *, limit: int = 20, action: str = "view") -> list[ImportBatch]:
    """The latest imports of a project, newest first, for a user who may ``action`` in it."""
    with read_session() as s:
        require_project(s, user, project_id, action)
        return list(s.exec(select(ImportBatch).where(ImportBatch.project_id == project_id)
                           .order_by(ImportBatch.id.desc()).limit(limit)))
