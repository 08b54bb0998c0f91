"""Running the WSGI app: Granian (a Rust HTTP server) with worker processes and threads, and the
in-process job worker for the stub broker.

Granian parses HTTP in Rust and calls the Flask app from a pool of Python threads per worker
process; it streams request bodies to the app (an upload over the limit is refused without being
read). Each worker process imports :mod:`web.wsgi`, which makes the app and starts the
background work of that process (:func:`start_background`).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Threads per serving process: 8, or Granian's advice of 2 x cores + 1 where that is fewer
    (requests mostly wait on the database, so more threads than cores keep the CPU busy)."""
    return min(8, 2 * (os.cpu_count() or 1) + 1)


def housekeeping() -> None:
    """What a process that serves or runs jobs does when it starts: remove the staging folders of
    publishes that crashed (never one of a publish still running: :mod:`labeling.staging`)."""
    from labeling.datasets import clean_staging

    clean_staging()


def start_background() -> object | None:
    """In a serving process: clean up after crashes (:func:`housekeeping`); with the stub broker
    start worker threads (the worker entry point, which loads every job kind of the registry) and
    re-send unfinished jobs (one whose process is gone is taken over at once)."""
    from labeling import jobs
    from labeling.db import dispose_engines
    from labeling.jobs.broker import is_stub
    from labeling.settings import get_settings

    dispose_engines()  # connections must not cross a fork
    housekeeping()
    worker = None
    if is_stub():
        from labeling.jobs.worker import InProcessWorker

        worker = InProcessWorker(get_settings().worker_threads)
        worker.start()
        n = jobs.recover()
        if n:
            log.warning("re-sent %d unfinished job(s)", n)
    return worker


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve ``web.wsgi:app`` until SIGINT/SIGTERM; a worker process that dies is started again."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        "web.wsgi:app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    ).serve()
