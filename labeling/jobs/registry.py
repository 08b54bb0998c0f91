"""Every job kind: its queue and the function that runs it (ARCHITECTURE.md, Jobs).

This list is the one place that says which code runs a kind of job. A handler is named by its
dotted path and imported only when a worker loads the registry (:func:`load`) or first runs a
job of that kind (:func:`handler`), so ``labeling`` names the handlers living in ``quality`` and
``insights`` without importing them. Every worker entry point loads it: the module dramatiq runs
for ``labelfab worker`` and the in-process worker of ``labelfab serve`` both import
:mod:`labeling.jobs.worker`, which calls :func:`load` (a worker whose handlers cannot be imported
stops at start-up instead of failing jobs). Enqueueing a kind that is not listed here fails.

A handler is ``fn(ctx: JobContext) -> dict | None``: it reads ``ctx.payload``, reports with
``ctx.progress``, raises :class:`labeling.jobs.runner.JobError` for an expected failure, and
returns the job's result (or writes it with ``ctx.complete`` in its own last transaction).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labeling.jobs.runner import JobContext

__all__ = ["KINDS", "QUEUES", "Kind", "RegistryError", "UnknownKind", "get_kind", "handler", "load"]

Handler = Callable[["JobContext"], "dict | None"]


@dataclass(frozen=True)
class Kind:
    """A kind of job: its name (``Job.kind``), its dramatiq queue and its handler's dotted path."""

    name: str
    queue: str
    handler: str
    description: str


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("import", "default", "labeling.imports.service.run_import_job",
         "a large import, read from its staged upload"),
    Kind("thumbnails", "default", "labeling.thumbnails.run_thumbnails",
         "previews of every stored image that has none"),
    Kind("agreement", "default", "insights.agreement.run_agreement_job",
         "a project's agreement between annotators from its annotations, stored for the dashboards"),
    Kind("publish", "default", "labeling.publish_job.run_publish_job",
         "a dataset version of a large project, published"),
    Kind("ml_predict", "default", "labeling.ml.run_predict_job",
         "predictions asked of a project's ML backend, in batches (import, Data Manager, look-ahead)"),
    Kind("ml_train", "default", "labeling.ml.run_train_job",
         "Label Studio's START_TRAINING webhook posted to an ML backend"),
    Kind("webhook", "webhooks", "labeling.webhooks.run_delivery",
         "one attempt to deliver a webhook event (a failed one queues the next, later)"),
    Kind("qc", "quality", "quality.jobs.run_qc_job",
         "a QC run of a project (cleanlab and scikit-learn, one run at a time per process)"),
    Kind("qc_fold", "quality", "quality.run.fanout.run_fold_job",
         "one cross-validation fold of a large QC run fanned out over the workers"),
    Kind("qc_gather", "quality", "quality.run.fanout.run_gather_job",
         "the label issues of a fanned-out QC run from its folds' files, stored as the run"),
)}

#: The queues a worker consumes, in the order of first use above.
QUEUES: tuple[str, ...] = tuple(dict.fromkeys(k.queue for k in KINDS.values()))


class UnknownKind(KeyError):
    """A job kind the registry does not list."""


class RegistryError(RuntimeError):
    """A listed handler cannot be imported; the message names the kind and the path."""


def get_kind(name: str) -> Kind:
    """The registered kind ``name``.

    Raises
    ------
    UnknownKind
        ``name`` is not listed in :data:`KINDS`.
    """
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"no job kind {name!r}; the kinds are {', '.join(KINDS)}") from None


_resolved: dict[str, Handler] = {}
_lock = threading.Lock()


def handler(name: str) -> Handler:
    """The function that runs jobs of kind ``name``, imported on first use.

    Raises
    ------
    UnknownKind
        ``name`` is not a registered kind.
    RegistryError
        Its module cannot be imported, or has no such function.
    """
    found = _resolved.get(name)
    if found is not None:
        return found
    spec = get_kind(name)
    module_name, _, attr = spec.handler.rpartition(".")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"job kind {name!r}: cannot load {spec.handler}: {exc}") from exc
    if not callable(fn):
        raise RegistryError(f"job kind {name!r}: {spec.handler} is not a function")
    with _lock:
        _resolved[name] = fn
    return fn


def load() -> dict[str, Handler]:
    """Import the handler of every registered kind; what every worker entry point calls.

    Returns
    -------
    dict
        Kind name -> handler, for every kind of :data:`KINDS`.

    Raises
    ------
    RegistryError
        Some handler cannot be loaded (all such problems are listed).
    """
    loaded: dict[str, Handler] = {}
    problems: list[str] = []
    for name in KINDS:
        try:
            loaded[name] = handler(name)
        except RegistryError as exc:
            problems.append(str(exc))
    if problems:
        raise RegistryError("; ".join(problems))
    return loaded
