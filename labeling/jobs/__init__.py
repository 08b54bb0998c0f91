"""The job system (ARCHITECTURE.md, Jobs).

- :mod:`~labeling.jobs.registry`: every job kind, its queue and its handler;
- :mod:`~labeling.jobs.outbox`: :func:`enqueue`, a job inserted in the caller's transaction and
  sent after it commits;
- :mod:`~labeling.jobs.runner`: claim, heartbeat and finish, the one wrapper every kind runs in;
- :mod:`~labeling.jobs.broker`: the dramatiq broker of ``LABELFAB_BROKER_URL``;
- :mod:`~labeling.jobs.worker`: the worker entry point (``labelfab worker``, ``labelfab serve``);
- :mod:`~labeling.jobs.qc_trigger`: QC jobs, one per project at a time, and automatic QC.

What handlers and callers use is importable from the package itself.
"""

from labeling.jobs.outbox import enqueue
from labeling.jobs.runner import (
    JobContext,
    JobError,
    JobLost,
    execute,
    get_job,
    job_view,
    recover,
    send,
)

__all__ = ["JobContext", "JobError", "JobLost", "enqueue", "execute", "get_job", "job_view", "recover", "send"]
