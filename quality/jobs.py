"""The ``qc`` job's handler: a QC run on the ``quality`` queue (its kind is listed in
:mod:`labeling.jobs.registry`).

cleanlab and scikit-learn work runs one job at a time per process (DESIGN.md): a process-wide
lock serializes the runs of the worker threads, so two runs never compete for the same cores and
memory. A job waiting for the lock keeps its heartbeat (the job system beats for it) and says so
in its progress message.
"""

from __future__ import annotations

import threading

from labeling import jobs
from quality.run.skeleton import run_qc

__all__ = ["QC_LOCK", "run_qc_job"]

#: Held while a QC run computes; one run per process at a time.
QC_LOCK = threading.Lock()


def run_qc_job(ctx: jobs.JobContext) -> dict:
    """Run QC on the job's project; the results and the job's end are written together."""
    if ctx.project_id is None:
        raise jobs.JobError("a qc job needs a project")
    if not QC_LOCK.acquire(blocking=False):
        ctx.progress(0.0, "waiting for another QC run in this worker to finish")
        QC_LOCK.acquire()
    try:
        options = {k: v for k, v in ctx.payload.items() if k in ("predict_unlabeled", "models")}
        return run_qc(ctx.project_id, ctx=ctx, options=options)
    finally:
        QC_LOCK.release()
