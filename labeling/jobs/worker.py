"""The worker entry point (ARCHITECTURE.md, Jobs): the module ``labelfab worker`` runs in every
dramatiq process (``dramatiq labeling.jobs.worker``), and the one ``labelfab serve`` starts its
in-process worker from, with the stub broker.

Importing it sets the broker, declares the actors (one per queue of the registry) and loads the
registry: every handler is imported, so a worker runs every kind of job, and a handler that
cannot be imported stops the worker at start-up.
"""

from __future__ import annotations

import dramatiq

from labeling.jobs import registry
from labeling.jobs import runner as _runner  # noqa: F401  (declares the actors on the broker)
from labeling.jobs.broker import broker

__all__ = ["HANDLERS", "InProcessWorker"]

#: Every kind's handler, loaded when a worker process starts.
HANDLERS = registry.load()


class InProcessWorker:
    """dramatiq worker threads inside the web process, for the stub broker."""

    def __init__(self, threads: int):
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
