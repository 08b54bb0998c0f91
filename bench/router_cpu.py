"""The router's cost per request, in process: CPU of one ``next`` + ``submit`` cycle.

The app is called through its WSGI entry with Flask's test client (no HTTP server, no other
client on the CPU), for ``--annotators`` users in turn, each asking for a task and submitting a
label. Reported per request (a cycle is two): this process's CPU inside the app (the test
client's own work left out), the database's CPU (PostgreSQL backends on this machine, read from
``/proc``, as ``scale_10m.py`` does), and the statements sent (SQLAlchemy's cursor executes,
each one round trip). ``--profile N`` prints cProfile's N costliest functions (cumulative) to
stderr.

Usage::

    python bench/router_cpu.py --pg-url postgresql://postgres@127.0.0.1:5432/SCRATCH
        [--tasks 100000] [--annotators 50] [--cycles 2000] [--profile 40] [--revision REV]

``--revision`` migrates the scratch database to that revision instead of the newest (an A/B of a
migration's triggers, e.g. ``0027_user_custom_hotkeys`` against ``head``).

The database is a scratch one: its tables are DROPPED. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from common import load_average, log

RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>')


def setup(n_tasks: int, n_annotators: int, revision: str = "head") -> tuple[int, list[str]]:
    """An empty schema, a project of ``n_tasks`` open text tasks, annotators with tokens."""
    import sqlalchemy as sa

    from labeling import migrate, projects, users
    from labeling.db import get_engine, utcnow, write_session
    from labeling.models import Role, Task

    with get_engine().begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(revision)
    lead = users.create_user("lead@bench.local", role=Role.lead)
    project = projects.create_project(lead, title="bench", label_config=CONFIG, overlap=1)
    tokens = [users.create_token(users.create_user(f"ann{i}@bench.local", role=Role.annotator).id)
              for i in range(n_annotators)]
    now = utcnow()
    with write_session() as s:
        for start in range(0, n_tasks, 10_000):
            s.execute(sa.insert(Task.__table__), [
                dict(project_id=project.id, data={"text": f"item {i}: a product, a delivery"}, meta={}, state="open",
                     priority=0.0, requeued=False, target_overlap=1, n_annotations=0, n_skips=0, n_leases=0,
                     is_gold=False, created_at=now, updated_at=now)
                for i in range(start, min(n_tasks, start + 10_000))])
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    return project.id, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--profile", type=int, default=0, help="print cProfile's N costliest functions")
    ap.add_argument("--profile-out", help="also write the profile's stats to this file (pstats)")
    ap.add_argument("--revision", default="head", help="migrate the scratch database to this revision")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-router-cpu-"))
    os.environ.update({"LABELFAB_DATA_DIR": str(tmp / "data"), "LABELFAB_DATABASE_URL": args.pg_url,
                       "LABELFAB_BROKER_URL": "stub://"})
    from scale_10m import DatabaseCpu
    from sqlalchemy import event

    from labeling.db import get_engine
    from web import create_app

    t0 = time.perf_counter()
    pid, tokens = setup(args.tasks, args.annotators, args.revision)
    log(f"set up {args.tasks:,} tasks in {time.perf_counter() - t0:.1f} s")
    app = create_app()
    statements = [0]

    @event.listens_for(get_engine(), "before_cursor_execute")
    def _count(*_a):
        statements[0] += 1

    inside = [0.0]
    wsgi = app.wsgi_app

    def timed(environ, start_response):  # the app's own CPU, the test client's left out
        t = time.thread_time()
        try:
            return list(wsgi(environ, start_response))
        finally:
            inside[0] += time.thread_time() - t

    app.wsgi_app = timed
    client = app.test_client()
    body = json.dumps({"result": RESULT})
    headers = [{"Authorization": f"Token {t}", "Content-Type": "application/json"} for t in tokens]

    def cycles(n: int) -> None:
        for i in range(n):
            h = headers[i % len(headers)]
            r = client.get(f"/api/projects/{pid}/next", headers=h)
            assert r.status_code == 200, r.get_data(as_text=True)
            r2 = client.post(f"/api/tasks/{r.get_json()['id']}/annotations", data=body, headers=h)
            assert r2.status_code == 201, r2.get_data(as_text=True)

    cycles(max(100, 2 * args.annotators))  # warm: caches, prepared statements, the pool
    inside[0], statements[0] = 0.0, 0
    # the functions' own CPU (thread time), not the time they waited on the database or a core
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    load = load_average()
    with DatabaseCpu(args.pg_url) as db:
        wall = time.perf_counter()
        if profiler:
            profiler.enable()
        cycles(args.cycles)
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - wall
    n = 2 * args.cycles
    if profiler:
        out = io.StringIO()
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue(), file=sys.stderr)
    print(json.dumps({"bench": "router_cpu", "revision": args.revision, "tasks": args.tasks, "annotators": args.annotators, "cycles": args.cycles,
                      "profiled": bool(profiler),
                      "server_cpu_ms_per_request": round(inside[0] * 1000 / n, 3),
                      "db_cpu_ms_per_request": round(db.seconds * 1000 / n, 3),
                      "statements_per_request": round(statements[0] / n, 2),
                      "wall_ms_per_request": round(wall * 1000 / n, 3),
                      "load_average_before": load, "load_average_after": load_average()}))


if __name__ == "__main__":
    main()
