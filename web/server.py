"""Running the WSGI app: gunicorn with threads, and the in-process job worker for the stub broker."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


def start_background() -> object | None:
    """In a serving process: with the stub broker start worker threads; re-send unfinished jobs."""
    from labeling import broker, jobs
    from labeling.db import dispose_engines
    from labeling.settings import get_settings

    dispose_engines()  # connections must not cross a fork
    worker = None
    if broker.is_stub():
        worker = broker.InProcessWorker(get_settings().worker_threads)
        worker.start()
        n = jobs.recover()
        if n:
            log.warning("re-sent %d unfinished job(s)", n)
    return worker


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app

        return create_app()


def _post_worker_init(_worker) -> None:
    start_background()


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 10,
        "keepalive": 30,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "post_worker_init": _post_worker_init,
    }).run()
