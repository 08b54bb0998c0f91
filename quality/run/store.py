"""Storing a QC run (ARCHITECTURE.md, quality/): one :class:`QualityRun` with its
:class:`LabelIssue` and :class:`AnnotatorScore` rows, the model's predictions for tasks still
needing labels (pre-annotations) and their ActiveLab priorities -- all in ONE transaction,
together with the QC policy's verdicts and marking the job done, so a job re-run after a crash
writes its results once. A run QC cannot score is stored ``failed`` with its message.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labeling import jobs, webhooks
from labeling.db import utcnow, write_session
from labeling.models import AnnotatorScore, LabelIssue, Project, QualityRun, TaskState, User
from quality.policy import apply_policy
from quality.run.common import BATCH, PREDICTION, QC_MODEL_PREFIX, TASK, Probs, Scored, jsonable
from quality.run.load import Data

__all__ = ["store_failed", "store_run"]


def _message(data: Data, scored: Scored, probs: Probs) -> str:
    parts = [f"{data.n:,} items scored, {scored.n_issues:,} label issue(s)"]
    if scored.noise_rate is not None:
        parts.append(f"estimated noise {scored.noise_rate:.1%}")
    parts.append(f"pred_probs from {probs.source} ({probs.model_name})")
    return "; ".join(parts) + (
        "." if not data.notes else ". " + " ".join(n.rstrip(".") + "." for n in data.notes)
    )


def _clear_job_run(s: Session, job_id: int | None) -> None:
    """Remove what an earlier attempt of this job stored (a failed run written before a crash)."""
    if job_id is None:
        return
    old = s.execute(sa.select(QualityRun.id).where(QualityRun.job_id == job_id)).scalars().all()
    if old:
        s.execute(sa.delete(LabelIssue).where(LabelIssue.run_id.in_(old)))
        s.execute(sa.delete(AnnotatorScore).where(AnnotatorScore.run_id.in_(old)))
        s.execute(sa.delete(QualityRun).where(QualityRun.id.in_(old)))


def store_failed(
    project_id: int,
    ctx: jobs.JobContext | None,
    started,
    message: str,
    data: Data | None,
    t0: float,
) -> dict:
    """Store a run that could not score, with its message; a job's run ends the job failed."""
    seconds = round(time.perf_counter() - t0, 3)
    with write_session() as s:
        if s.get(Project, project_id) is None:
            raise jobs.JobError(message)
        _clear_job_run(s, ctx.job_id if ctx else None)
        run = QualityRun(
            project_id=project_id,
            job_id=ctx.job_id if ctx else None,
            status="failed",
            message=message,
            n_items=data.n if data is not None else 0,
            class_names=data.class_names if data is not None else [],
            summary={"seconds": seconds},
            created_at=started,
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        run_id = run.id
        webhooks.emit(s, "QC_RUN_FINISHED", project_id, lambda: {"qc_run": {
            "id": run_id, "status": "failed", "message": message, "n_items": run.n_items, "n_issues": 0,
            "noise_rate": None, "job": run.job_id, "created_at": started.isoformat(),
            "finished_at": run.finished_at.isoformat()}})
    out = {"run": run_id, "status": "failed", "message": message, "seconds": seconds}
    if ctx is not None:
        raise jobs.JobError(message)
    return out


def store_run(
    project_id: int,
    ctx: jobs.JobContext | None,
    started,
    data: Data,
    scored: Scored,
    probs: Probs,
    t0: float,
    *,
    also: Callable[[Session], None] | None = None,
) -> dict:
    """Store a scored run, its rows and the QC policy's verdicts in one transaction (ending the
    job, if any, in it); returns the run's summary. ``also(session)`` writes the caller's own
    rows in that transaction (a fanned-out run's batch ends ``done`` with its run)."""
    message = _message(data, scored, probs)
    summary = dict(scored.summary)
    summary.update(probs.details)
    if data.notes:
        summary["notes"] = data.notes
    summary["n_unlabeled"] = data.n_unlabeled
    summary["n_prelabel_annotations_skipped"] = data.n_prelabel_skipped
    with write_session() as s:
        conn = s.connection()
        if s.get(Project, project_id) is None:
            raise jobs.JobError(f"project {project_id} was deleted during the QC run")
        _clear_job_run(s, ctx.job_id if ctx else None)
        # tasks deleted while the run worked drop out
        alive = set(conn.execute(sa.select(TASK.c.id).where(TASK.c.project_id == project_id)).scalars())
        summary["seconds_scoring"] = round(time.perf_counter() - t0, 3)
        run = QualityRun(
            project_id=project_id,
            job_id=ctx.job_id if ctx else None,
            status="done",
            message=message[:4000],
            n_items=data.n,
            n_issues=scored.n_issues,
            model_name=probs.model_name[:100],
            cv_accuracy=probs.cv_accuracy,
            pred_probs_source=probs.source,
            noise_rate=scored.noise_rate,
            class_names=list(data.class_names),
            per_class_noise=scored.per_class_noise,
            confident_joint=scored.confident_joint,
            agreement=jsonable(scored.agreement),
            summary=jsonable(summary),
            created_at=started,
        )
        s.add(run)
        s.flush()
        run_id = run.id
        _insert_issues(conn, run_id, project_id, scored.rows(), alive)
        users = (
            set(
                conn.execute(
                    sa.select(User.id).where(User.id.in_([a["user_id"] for a in scored.annotators]))
                ).scalars()
            )
            if scored.annotators
            else set()
        )
        ann_rows = [
            {"run_id": run_id, "project_id": project_id, **a}
            for a in scored.annotators
            if a["user_id"] in users
        ]
        if ann_rows:
            conn.execute(sa.insert(AnnotatorScore.__table__), ann_rows)
        n_pred = _write_predictions(conn, project_id, run_id, probs, scored.predictions, alive)
        n_prio = _write_priorities(conn, scored.priorities, alive)
        run.finished_at = utcnow()
        run.summary = {
            **run.summary,
            "n_predictions": n_pred,
            "n_prioritized": n_prio,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        s.add(run)
        back_priorities = scored.back_priorities
        scored.release()  # the policy below works in the same process: give it the memory
        probs.features = probs.pred_probs = probs.unlabeled_probs = None
        data.ann_value = []
        result = {
            "run": run_id,
            "status": "done",
            "message": message,
            "n_items": data.n,
            "n_issues": scored.n_issues,
            "noise_rate": scored.noise_rate,
            "model": probs.model_name,
            "source": probs.source,
            "cv_accuracy": probs.cv_accuracy,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        result["policy"] = apply_policy(
            project_id, run_id, session=s, priorities=back_priorities
        )  # the QC policy judges the run in the same transaction
        webhooks.emit(s, "QC_RUN_FINISHED", project_id, lambda: {"qc_run": jsonable({
            "id": run_id, "status": "done", "message": message, "n_items": data.n, "n_issues": scored.n_issues,
            "noise_rate": scored.noise_rate, "model": probs.model_name, "pred_probs_source": probs.source,
            "cv_accuracy": probs.cv_accuracy, "n_predictions": n_pred, "n_prioritized": n_prio,
            "policy": result["policy"], "job": run.job_id, "created_at": started.isoformat(),
            "finished_at": run.finished_at.isoformat()})})
        if also is not None:
            also(s)
        if ctx is not None:
            ctx.complete(s, result, message=message[:4000])
    return result


def _finite(v: float) -> float:
    v = float(v)
    return v if math.isfinite(v) else 0.0


# label_issue without column types: the JSON values are encoded here, once, and the driver
# gets plain strings (SQLAlchemy's per-value JSON processing costs seconds at 100,000 rows)
_LI_COLUMNS = ("run_id", "project_id", "task_id", "kind", "is_issue", "given", "suggested", "consensus",
               "score", "reason")
_LI_PLAIN = sa.table("label_issue", *(sa.column(c) for c in _LI_COLUMNS))


def _insert_issues(conn: Any, run_id: int, project_id: int, rows: Iterable[dict], alive: set[int]) -> int:
    """Insert LabelIssue rows in batches (tasks deleted meanwhile are left out)."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    stmt = sa.insert(_LI_PLAIN)
    batch: list[dict] = []
    n = 0
    for r in rows:
        if r["task_id"] not in alive:
            continue
        batch.append({"run_id": run_id, "project_id": project_id, "task_id": r["task_id"], "kind": r["kind"],
                      "is_issue": bool(r["is_issue"]), "given": dumps(r["given"]),
                      "suggested": dumps(r["suggested"]), "consensus": dumps(r["consensus"]),
                      "score": _finite(r["score"]), "reason": r["reason"][:2000]})
        if len(batch) >= BATCH:
            conn.execute(stmt, batch)
            n += len(batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)
        n += len(batch)
    return n


def _write_predictions(
    conn: Any, project_id: int, run_id: int, probs: Probs, rows: list[dict], alive: set[int]
) -> int:
    """Replace earlier QC predictions of open tasks with this run's (the annotators' pre-annotations)."""
    if probs.source == "imported":
        return 0
    open_tasks = sa.select(TASK.c.id).where(
        TASK.c.project_id == project_id,
        TASK.c.state.in_([TaskState.open.value, TaskState.imported.value]),
    )
    conn.execute(
        sa.delete(PREDICTION).where(
            PREDICTION.c.project_id == project_id,
            PREDICTION.c.model_version.startswith(QC_MODEL_PREFIX),
            PREDICTION.c.task_id.in_(open_tasks),
        )
    )
    if not rows:
        return 0
    version = f"{QC_MODEL_PREFIX} #{run_id} {probs.model_name}"[:255]
    now = utcnow()
    values = [
        {
            "task_id": r["task_id"],
            "project_id": project_id,
            "result": r["result"],
            "score": r["score"],
            "probs": r["probs"],
            "model_version": version,
            "created_at": now,
        }
        for r in rows
        if r["task_id"] in alive
    ]
    for start in range(0, len(values), BATCH):
        conn.execute(sa.insert(PREDICTION), values[start : start + BATCH])
    return len(values)


def _write_priorities(conn: Any, priorities: dict[int, float], alive: set[int]) -> int:
    """ActiveLab: higher priority for tasks that most need a label; only tasks still open."""
    if not priorities:
        return 0
    stmt = (
        sa.update(TASK)
        .where(TASK.c.id == sa.bindparam("tid"), TASK.c.state == TaskState.open.value)
        .values(priority=sa.bindparam("prio"))
    )
    params = [{"tid": tid, "prio": p} for tid, p in priorities.items() if tid in alive]
    for start in range(0, len(params), BATCH):
        conn.execute(stmt, params[start : start + BATCH])
    return len(params)
