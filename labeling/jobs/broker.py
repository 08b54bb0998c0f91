"""The dramatiq broker, chosen from ``LABELFAB_BROKER_URL`` (ARCHITECTURE.md, Jobs).

``stub://`` (the embedded default) is dramatiq's StubBroker; ``labelfab serve`` runs an
in-process worker on it. ``redis://...`` and ``amqp://...`` are for ``labelfab worker``
processes on any number of machines. The broker is set when this module is first imported,
before any actor is declared; it declares every queue of the registry.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Prometheus, default_middleware

from labeling.jobs.registry import QUEUES
from labeling.settings import get_settings


def middleware() -> list[dramatiq.Middleware]:
    """dramatiq's default middleware (time and age limits, retries, shutdown notices, callbacks,
    pipelines) without its Prometheus exporter, which would open an HTTP server on every worker
    machine (0.0.0.0:9191, no authentication) that nobody asked for."""
    return [m() for m in default_middleware if m is not Prometheus]


def make_broker(url: str) -> dramatiq.Broker:
    """A broker for ``url``; the connection to Redis or RabbitMQ is made lazily by dramatiq."""
    if url.startswith("stub://"):
        broker: dramatiq.Broker = StubBroker(middleware=middleware())
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url, middleware=middleware())
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=middleware())
    else:  # settings validate the scheme; this guards direct callers
        raise ValueError(f"unsupported broker URL {url!r}")
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


broker = make_broker(get_settings().broker_url)
dramatiq.set_broker(broker)


def is_stub() -> bool:
    """True for the embedded default, whose jobs run inside ``labelfab serve``."""
    return isinstance(broker, StubBroker)


def broker_status() -> tuple[bool, str]:
    """(ok, description) for ``/health``."""
    name = type(broker).__name__
    try:
        if is_stub():
            return True, "stub (in-process)"
        if name == "RedisBroker":
            broker.client.ping()
        else:
            broker.channel  # noqa: B018  (opens the connection, raises if RabbitMQ is down)
        return True, name
    except Exception as exc:  # any connection failure is reported, not raised
        return False, f"{name}: {exc.__class__.__name__}: {exc}"

