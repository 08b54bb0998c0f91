"""Webhooks: what emitting costs an annotation submit, and how soon events arrive.

In one process (SQLite in a fresh DATA_DIR, stub broker, the in-process worker of ``labelfab
serve``): N submits through ``labeling.annotations.submit`` with no webhook, then N with a
project webhook that wants every event (its payload built, a delivery row and a job written in
each submit's transaction); then the worker delivers those N events to a receiver on 127.0.0.1,
which records when each arrived.

Reports submits/s and p50/p99 of a submit (ms) with and without the webhook, how fast the worker
drains the N queued deliveries (it starts after the submits), and how many arrived signed and
whole.

Usage::

    python bench/webhooks.py [--submits 300]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submits", type=int, default=300)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-webhooks-"))
    os.environ.update(LABELFAB_DATA_DIR=str(tmp / "data"), LABELFAB_DATABASE_URL="", LABELFAB_BROKER_URL="stub://",
                      LABELFAB_OUTBOUND_ALLOW="127.0.0.1")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from labeling import annotations, imports, migrate, projects, users, webhooks
    from labeling.jobs.worker import InProcessWorker
    from labeling.models import Role

    migrate.upgrade()
    lead = users.create_user("lead@example.com", role=Role.lead)
    annotator = users.create_user("ann@example.com", role=Role.annotator)
    arrived: dict[str, float] = {}
    bodies: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrived[self.headers["X-Labelfab-Delivery"]] = time.time()
            bodies.append((body, self.headers["X-Labelfab-Signature"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def run(project_id: int) -> list[float]:
        ids = imports.import_data(lead, project_id, body=[{"text": f"t{i}"} for i in range(args.submits)],
                                  return_task_ids=True, background=False).task_ids
        times = []
        for task_id in ids:
            t0 = time.perf_counter()
            annotations.submit(task_id, annotator, result=RESULT)
            times.append((time.perf_counter() - t0) * 1000)
        return times

    plain = run(projects.create_project(lead, title="plain", label_config=CONFIG).id)
    hooked_project = projects.create_project(lead, title="hooked", label_config=CONFIG)
    hook, secret = webhooks.create_webhook(lead, {"url": f"http://127.0.0.1:{server.server_port}/",
                                                  "project": hooked_project.id, "send_for_all_actions": False,
                                                  "actions": ["ANNOTATION_CREATED"]})
    committed = time.time()
    hooked = run(hooked_project.id)
    worker = InProcessWorker(2)
    t0 = time.time()
    worker.start()
    deadline = time.time() + 120
    while len(arrived) < args.submits and time.time() < deadline:
        time.sleep(0.05)
    drained = time.time() - t0
    worker.stop()
    server.shutdown()
    good = sum(1 for body, sig in bodies
               if hmac.compare_digest("sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(), sig)
               and json.loads(body)["action"] == "ANNOTATION_CREATED")
    figures = {
        "submits": args.submits,
        "without_webhook": {"submits_per_s": round(len(plain) / (sum(plain) / 1000), 1),
                            "p50_ms": _pct(plain, 0.5), "p99_ms": _pct(plain, 0.99)},
        "with_webhook": {"submits_per_s": round(len(hooked) / (sum(hooked) / 1000), 1),
                         "p50_ms": _pct(hooked, 0.5), "p99_ms": _pct(hooked, 0.99)},
        "overhead_p50_ms": round(_pct(hooked, 0.5) - _pct(plain, 0.5), 2),
        "deliveries": len(arrived), "signed_and_whole": good,
        "drain_seconds": round(drained, 2), "deliveries_per_s": round(len(arrived) / drained, 1) if drained else None,
        "seconds_submitting": round(time.time() - committed, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
