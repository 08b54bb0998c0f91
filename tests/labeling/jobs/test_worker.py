"""The worker entry point (labeling.jobs.worker) loads every job kind of the registry by itself.

It is started in a fresh interpreter, as ``labelfab worker`` starts it (``dramatiq
labeling.jobs.worker`` imports that module in each process): a kind whose handler only this
test process happens to have imported would pass in-process and fail in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from labeling.jobs import registry

PROBE = textwrap.dedent("""
    import json, sys
    before = set(sys.modules)
    import labeling.jobs.worker as worker
    from labeling.jobs import registry
    from labeling.jobs.broker import broker
    print(json.dumps({
        "handlers": {kind: f"{fn.__module__}.{fn.__qualname__}" for kind, fn in worker.HANDLERS.items()},
        "resolved": {kind: f"{(fn := registry.handler(kind)).__module__}.{fn.__qualname__}"
                     for kind in registry.KINDS},
        "actors": {name: broker.get_actor(name).queue_name for name in broker.get_declared_actors()},
        "queues": sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ"))),
        "preloaded": sorted(m for m in before if m.startswith(("labeling", "quality", "web"))),
    }))
""")


@pytest.fixture(scope="module")
def fresh() -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=240,
                          env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_fresh_worker_loads_every_kind_of_the_registry(fresh):
    assert fresh["preloaded"] == []  # nothing of labelfab was imported before the entry point
    expected = {kind: spec.handler for kind, spec in registry.KINDS.items()}
    assert fresh["handlers"] == expected
    assert fresh["resolved"] == expected
    assert {"import", "thumbnails", "qc"} <= set(expected)


def test_a_fresh_worker_consumes_every_queue_of_the_registry(fresh):
    assert fresh["queues"] == sorted(registry.QUEUES)
    assert sorted(fresh["actors"].values()) == sorted(registry.QUEUES)
    assert {spec.queue for spec in registry.KINDS.values()} == set(registry.QUEUES)


def test_an_unlisted_kind_is_not_a_job():
    with pytest.raises(registry.UnknownKind, match="no job kind 'no_such_kind'; the kinds are import, "):
        registry.handler("no_such_kind")


@pytest.mark.parametrize("url", ["stub://", "redis://127.0.0.1:6379/15", "amqp://guest:guest@127.0.0.1:5672/"])
def test_a_worker_opens_no_metrics_port(url):
    """dramatiq's default Prometheus exporter would listen on 0.0.0.0:9191 in every worker
    process; the broker keeps every other default middleware (connections are made lazily)."""
    from dramatiq.middleware import Prometheus, Retries, TimeLimit

    from labeling.jobs.broker import make_broker

    kinds = [type(m) for m in make_broker(url).middleware]
    assert Prometheus not in kinds
    assert Retries in kinds and TimeLimit in kinds
