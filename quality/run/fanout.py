"""QC runs of large classification projects, fanned out over the workers (ARCHITECTURE.md,
quality/).

A ``qc`` job whose project has at least ``LABELFAB_QC_FAN_OUT_FROM`` labeled tasks, one label
each, with ``data.embedding`` and no imported probabilities, does not cross-validate in its own
process. It writes the labeled tasks' embeddings into a batch folder under the shared files
folder a chunk at a time (:mod:`quality.batched`), records a :class:`QCBatch` and queues one
``qc_fold`` job per fold, all in the transaction that ends the ``qc`` job. Each fold job writes
its file, then, in one transaction with the project's batch row locked, adds its fold to the
batch's ``folds_done`` and ends itself; the fold that completes the set queues the ``qc_gather``
job in that transaction. So a fold whose worker dies is run again (the job system re-claims it),
the gather is queued exactly once, and the gather (a job like any other, claimed once) stores one
run: cleanlab's batched label issues, the annotators' scores and the QC policy's verdicts, with
the job's end, in one transaction (:func:`quality.run.store.store_run`).

The folds are the unit of parallel work; the gather is serial (one pass over ``pred_probs``).
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from labeling import jobs
from labeling.db import read_session, utcnow, write_session
from labeling.jobs import outbox
from labeling.models import QCBatch
from labeling.schema import schema_of
from labeling.settings import get_settings
from quality import QCInputError, batched
from quality.run.common import BATCH, TASK, LabelColumns, Probs, ProgressFn, Scored
from quality.run.load import Data, _parse_vector, _parse_vectors, imported_probs
from quality.run.store import store_failed, store_run

__all__ = ["N_FOLDS", "fan_out", "pending_jobs", "queue_folds", "run_fold_job", "run_gather_job", "scored_of", "wants_fan_out"]

#: Cross-validation folds of a fanned-out run: the number of fold jobs.
N_FOLDS = 5
FOLD_KIND = "qc_fold"
GATHER_KIND = "qc_gather"


def wants_fan_out(data: Data, *, threshold: int) -> bool:
    """Whether a run goes out to fold jobs: classification, at least ``threshold`` labeled tasks,
    each with one label, and no imported probabilities (those are scored in process)."""
    if data.kind != "classification" or data.n < max(threshold, 2 * N_FOLDS):
        return False
    if np.bincount(data.ann_item, minlength=data.n).max() != 1:
        return False  # several annotators: CROWDLAB needs the labels matrix in one process
    return not isinstance(imported_probs(data, multilabel=False), tuple)


def _folder(job_id: int) -> tuple[str, Path]:
    rel = f"qc/job-{job_id}"
    return rel, get_settings().shared_root / rel


def _write_embeddings(data: Data, root: Path, y: np.ndarray, progress: ProgressFn) -> str | None:
    """The labeled tasks' ``data.embedding`` into the batch folder, ``BATCH`` rows at a time;
    None, or why not (a task without one, vectors of two lengths...)."""
    ids = data.task_ids
    lay = fx = None
    pos = 0
    texts: list[str] = []
    start = 0

    def flush() -> str | None:
        nonlocal start
        parsed = _parse_vectors(texts, lay.dim)
        if parsed is None:
            for j, text in enumerate(texts):
                vec = _parse_vector(text)
                if vec is None or vec.size != lay.dim:
                    return (f"data.embedding of task {int(ids[start + j])} is not a list of "
                            f"{lay.dim} numbers")
        if not np.isfinite(parsed).all():
            row = int(np.flatnonzero(~np.isfinite(parsed).all(axis=1))[0])
            return f"data.embedding of task {int(ids[start + row])} holds NaN or infinity"
        fx[start:start + len(texts)] = parsed
        start += len(texts)
        texts.clear()
        return None

    with read_session() as s:
        q = (sa.select(TASK.c.id, TASK.c.data["embedding"].as_string())
             .where(TASK.c.project_id == data.project.id, TASK.c.id >= int(ids[0]), TASK.c.id <= int(ids[-1]))
             .order_by(TASK.c.id))
        for tid, text in s.connection().execution_options(stream_results=True, yield_per=BATCH).execute(q):
            if pos >= ids.size or ids[pos] != tid:
                continue  # not a scored task (unlabeled, gold, excluded)
            if not isinstance(text, str) or not text.lstrip().startswith("["):
                return f"task {tid} has no data.embedding"
            if lay is None:
                first = _parse_vector(text)
                if first is None:
                    return f"data.embedding of task {tid} is not a list of numbers"
                lay, fx = batched.create(root, n=data.n, dim=first.size, n_classes=len(data.class_names),
                                         n_folds=N_FOLDS, seed=0)
            texts.append(text)
            pos += 1
            if len(texts) >= BATCH:
                problem = flush()
                if problem:
                    return problem
                progress(0.1 + 0.3 * pos / data.n, f"writing the embeddings of {pos:,} tasks")
    if texts:
        problem = flush()
        if problem:
            return problem
    if lay is None or pos != data.n:
        return f"{data.n - pos:,} of {data.n:,} labeled tasks have no data.embedding"
    batched.finish(lay, fx, y)
    return None


def fan_out(data: Data, y: np.ndarray, ctx: jobs.JobContext, progress: ProgressFn) -> dict | str:
    """Write the batch folder, record the batch and queue its fold jobs, ending the ``qc`` job in
    the same transaction; the job's result, or why the run cannot fan out (it then runs in
    process)."""
    rel, root = _folder(ctx.job_id)
    if root.exists():  # an earlier attempt of this job, killed before its commit
        shutil.rmtree(root)
    try:
        problem = _write_embeddings(data, root, y, progress)
    except QCInputError as exc:
        problem = str(exc)
    if problem is not None:
        shutil.rmtree(root, ignore_errors=True)
        return problem
    meta = {"class_names": list(data.class_names), "notes": list(data.notes),
            "n_unlabeled": data.n_unlabeled, "n_prelabel_skipped": data.n_prelabel_skipped,
            "n_annotations": int(data.ann_item.size), "started": utcnow().isoformat()}
    np.save(root / "task_ids.npy", data.task_ids.astype(np.int64))
    who = np.zeros(data.n, dtype=np.int64)
    who[data.ann_item] = data.ann_user
    np.save(root / "users.npy", who)
    with write_session() as s:
        batch_id = queue_folds(s, project_id=data.project.id, job_id=ctx.job_id, folder=rel, meta=meta)
        result = {"status": "fanned_out", "batch": batch_id, "n_items": data.n, "n_folds": N_FOLDS}
        ctx.complete(s, result, message=f"{data.n:,} items: {N_FOLDS} fold jobs and a gather queued")
    return result


def queue_folds(s: Session, *, project_id: int, job_id: int, folder: str, meta: dict) -> int:
    """Record the batch of a written batch folder (relative to the shared files folder, holding
    ``task_ids.npy`` and ``users.npy`` too) and queue one fold job per fold, in the caller's
    transaction; returns the batch's id."""
    lay = batched.Layout.open(get_settings().shared_root / folder)
    batch = QCBatch(project_id=project_id, job_id=job_id, folder=folder, n_items=lay.n, n_folds=lay.n_folds,
                    meta=meta)
    s.add(batch)
    s.flush()
    for k in range(lay.n_folds):
        outbox.enqueue(FOLD_KIND, project_id=project_id, payload={"batch": batch.id, "fold": k}, session=s)
    return batch.id


def pending_jobs(batch_id: int) -> tuple[list[int], int | None]:
    """The ids of a batch's fold jobs not yet done, and its gather job's id (None until queued)."""
    from labeling.models import Job, JobStatus

    with read_session() as s:
        batch = s.get(QCBatch, batch_id)
        folds = s.execute(sa.select(Job.id).where(Job.kind == FOLD_KIND, Job.project_id == batch.project_id,
                                                  Job.status != JobStatus.done,
                                                  Job.payload["batch"].as_integer() == batch_id)).scalars().all()
        return list(folds), batch.gather_job_id


def _batch(batch_id: object) -> QCBatch:
    if not isinstance(batch_id, int):
        raise jobs.JobError("a QC fold or gather job needs its batch")
    with read_session() as s:
        batch = s.get(QCBatch, batch_id)
    if batch is None:
        raise jobs.JobError(f"QC batch {batch_id} is gone (its project was deleted?)")
    return batch


def _fail(batch: QCBatch, ctx: jobs.JobContext, message: str) -> NoReturn:
    """End the batch ``failed`` and store the run so; the job ends failed with the message."""
    with write_session() as s:
        s.execute(sa.update(QCBatch).where(QCBatch.id == batch.id)
                  .values(state="failed", finished_at=utcnow()))
    message = f"QC could not run: {message}"
    store_failed(batch.project_id, ctx, utcnow(), message, None, time.perf_counter())
    raise jobs.JobError(message)


def run_fold_job(ctx: jobs.JobContext) -> dict:
    """One fold of a fanned-out run (the ``qc_fold`` job); the fold completing the set queues
    the gather."""
    from quality.jobs import QC_LOCK

    batch = _batch(ctx.payload.get("batch"))
    fold = ctx.payload.get("fold")
    if not isinstance(fold, int) or not 0 <= fold < batch.n_folds:
        raise jobs.JobError(f"fold {fold!r} is not one of the batch's {batch.n_folds} folds")
    if batch.state != "folding":
        return {"batch": batch.id, "fold": fold, "skipped": f"the batch is {batch.state}"}
    with QC_LOCK:  # cleanlab and scikit-learn work: one at a time per process
        try:
            batched.run_fold(get_settings().shared_root / batch.folder, fold,
                             progress=lambda f, m: ctx.progress(0.95 * f, m))
        except QCInputError as exc:
            _fail(batch, ctx, str(exc))
    with write_session() as s:
        row = s.execute(sa.select(QCBatch).where(QCBatch.id == batch.id).with_for_update()).scalar_one()
        done = sorted(set(row.folds_done) | {fold})
        row.folds_done = done
        if len(done) == row.n_folds and row.gather_job_id is None and row.state == "folding":
            row.gather_job_id = outbox.enqueue(GATHER_KIND, project_id=row.project_id,
                                               payload={"batch": row.id}, session=s)
            row.state = "gathering"
        s.add(row)
        result = {"batch": row.id, "fold": fold, "folds_done": len(done), "gather_job": row.gather_job_id}
        ctx.complete(s, result, message=f"fold {fold + 1} of {row.n_folds} done")
    return result


def _data(batch: QCBatch, root: Path) -> Data:
    """The :class:`Data` the store needs, from the batch's files and row."""
    from labeling.models import Project

    meta = batch.meta
    with read_session() as s:
        project = s.get(Project, batch.project_id)
        if project is None:
            raise jobs.JobError(f"project {batch.project_id} was deleted during the QC run")
        schema = schema_of(project)
    task_ids = np.load(root / "task_ids.npy")
    n = int(task_ids.size)
    return Data(project=project, schema=schema, control=schema.primary_control, kind="classification",
                class_names=list(meta["class_names"]), task_ids=task_ids, open_mask=np.zeros(n, dtype=bool),
                content_hash=[], media_ids=[], ann_item=np.arange(n), ann_user=np.load(root / "users.npy"),
                ann_value=[], unlabeled_ids=np.zeros(0, dtype=np.int64), n_unlabeled=int(meta["n_unlabeled"]),
                n_prelabel_skipped=int(meta["n_prelabel_skipped"]), notes=list(meta["notes"]))


def scored_of(data: Data, found: dict, y: np.ndarray, dim: int, n_folds: int) -> tuple[Scored, Probs]:
    """A run's :class:`Scored` and :class:`Probs` from :func:`quality.batched.find_issues`."""
    from quality.scoring import _single_reason

    names = data.class_names
    k = len(names)
    is_issue = found["is_label_issue"]
    quality = found["label_quality"]
    suggested = found["suggested_label"]
    conf = found["suggested_confidence"]
    reasons = [_single_reason(names, int(y[i]), int(suggested[i]), float(conf[i]), float(quality[i]),
                              flagged=bool(is_issue[i])) for i in range(data.n)]
    agree = suggested == y
    annotators = []
    order = np.argsort(data.ann_user, kind="stable")
    users, starts = np.unique(data.ann_user[order], return_index=True)
    for u, rows in zip(users, np.split(order, starts[1:]), strict=True):
        annotators.append({"user_id": int(u), "n_items": int(rows.size), "agreement": float(agree[rows].mean()),
                           "quality": float(quality[rows].mean())})
    counts = np.bincount(y, minlength=k)
    per_class = {names[c]: (None if not np.isfinite(v) else round(float(v), 6))
                 for c, v in enumerate(found["noise_rate_per_class"])}
    summary = {"mode": "single_annotator", "n_annotations": data.n, "n_label_issues": found["n_issues"],
               "n_flagged_without_target": found["n_issues"],
               "n_items_by_class": {names[c]: int(counts[c]) for c in range(k)},
               "fanned_out": {"n_folds": n_folds, "finder": "cleanlab.experimental.label_issues_batched"}}
    scored = Scored(issues=[], annotators=annotators, noise_rate=found["noise_rate"], per_class_noise=per_class,
                    confident_joint=found["confident_joint"].astype(int).tolist(), agreement={},
                    summary=summary, n_issues=found["n_issues"],
                    labels=LabelColumns(data.task_ids, is_issue, y, suggested, None, quality, reasons, names))
    probs = Probs(pred_probs=None, source="embedding", model_name="logreg(C=1)", cv_accuracy=found["cv_accuracy"],
                  details={"features": "data.embedding", "n_features": dim, "n_folds": n_folds})
    return scored, probs


def run_gather_job(ctx: jobs.JobContext) -> dict:
    """The gather of a fanned-out run (the ``qc_gather`` job): cleanlab's batched label issues
    over every fold's probabilities, stored as one run with the job's end."""
    from quality.jobs import QC_LOCK

    batch = _batch(ctx.payload.get("batch"))
    root = get_settings().shared_root / batch.folder
    t0 = time.perf_counter()
    with QC_LOCK:
        try:
            lay = batched.Layout.open(root)
            ctx.progress(0.1, f"finding label issues in {lay.n:,} items")
            found = batched.gather(root)
            data = _data(batch, root)
            y = np.asarray(lay.labels(), dtype=np.int64)
        except QCInputError as exc:
            _fail(batch, ctx, str(exc))
        data.notes.append("a fanned-out run scores the labeled tasks only; tasks still needing labels "
                          "get no prediction")
        scored, probs = scored_of(data, found, y, lay.dim, lay.n_folds)
        ctx.progress(0.6, f"saving the results of {data.n:,} items")
        started = datetime.fromisoformat(batch.meta["started"])

        def batch_done(s: Session) -> None:  # with the run, in its transaction
            s.execute(sa.update(QCBatch).where(QCBatch.id == batch.id).values(state="done", finished_at=utcnow()))

        result = store_run(batch.project_id, ctx, started, data, scored, probs, t0, also=batch_done)
    shutil.rmtree(root, ignore_errors=True)
    return {**result, "batch": batch.id}
