"""Ten million tasks on PostgreSQL: import, export, publish, dashboard and router at scale.

1. A JSON Lines file of ``--tasks`` text tasks is generated, then imported by ``labelfab import``
   (the streamed import: read a chunk at a time, written with COPY into one transaction):
   tasks/s of the import (target >= 50,000; also with the CLI process's start-up), the import
   process's peak RSS and CPU seconds, and the database backends' CPU seconds.
2. Every task but the last ``--open`` is accepted with a final label by one SQL statement (a
   stand-in for labeling, QC and review; no annotations or events are made for them).
3. A fresh ``labelfab serve`` streams ``GET /api/projects/ID/export`` as JSONL and as PARQUET
   (every accepted task): seconds each (target <= 100 s) and the server's peak RSS over both
   (target <= 500 MB).
4. The dashboard, ``GET /api/projects/ID/stats``: the cold load and the p50 of ``--loads`` loads
   (target <= 500 ms).
5. The router: 50 paced annotators (``--think-ms`` between taking a task and submitting it)
   take and submit tasks for ``--seconds``: next-task p50 and p99 (target p99 <= 50 ms).
6. Publish a dataset version of the accepted tasks, as a job (``POST /api/projects/ID/datasets``
   answers 202), followed at ``/api/jobs/ID`` until done: seconds.

Usage::

    python bench/scale_10m.py --pg-url postgresql://postgres@127.0.0.1:5432/scratch
        [--tasks 10000000] [--open 200000] [--seconds 30] [--think-ms 1000] [--loads 5]
        [--skip publish,router,...] [--import-only] [--reuse PROJECT_ID]

Import figures (``import_*``): tasks/s over the import's own seconds (the CLI's report) and
with the process's start; the importer's CPU seconds (the ``labelfab import`` process and the
worker processes, which ``import_workers_cpu_s`` also gives alone; the process's user and
system CPU apart), the process's context switches, and the share of
the import's seconds it kept a core busy (``import_busy_pct``, above 100 with workers); the
database's CPU seconds, per task (``import_db_us_per_task``) and its share of the import's
seconds (``import_db_busy_pct``: 100 means the one backend of the import's transaction never
waited for the importer, nor for a core on a busy machine); the share of the samples of
``pg_stat_activity`` (every 0.2 s) in which a backend in a transaction waited for the client's
next data or statement (``import_db_waits_for_importer_pct``; a backend waiting for a core
counts as working, so this share, unlike the busy share, does not grow with the machine's
load); peak RSS of the importer's process.

Acceptance of the importer's overlap with the database (decided before it was measured): at
``--tasks 2000000`` on one PostgreSQL, runs of main and of the change alternated (A B A B) under
the same load, the change is kept if in every pair its ``import_tasks_per_s`` and
``import_db_busy_pct`` are higher than main's, while its ``import_db_us_per_task`` is at most
1 us above main's (the database does no more work per task). Issue 22's figure is
``import_tasks_per_s`` at 10M tasks, >= 50,000, measured on a quiet machine.

``--reuse`` measures steps 3-6 again on a project an earlier run left in the database (nothing
dropped, imported or accepted; new tokens for its lead and annotators), e.g. after a change to the
router.

The database is a scratch PostgreSQL one: its tables are DROPPED. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from annotate import quantile, run_clients
from common import (
    BIN,
    LEAD_EMAIL,
    ROOT,
    Server,
    bench_env,
    children,
    cpu_seconds,
    init_with_lead,
    labelfab,
    load_average,
    log,
    machine_cpu_seconds,
    peak_rss_mb,
    process_tree,
    python_json,
    reset_schema,
)
from export import CONFIG

ANNOTATORS = r"""
import json, sys
from labeling import users
from labeling.models import Role
tokens = []
for i in range(int(sys.argv[1])):
    u = users.create_user(f"ann{i}@scale.local", role=Role.annotator)
    tokens.append(users.create_token(u.id))
print(json.dumps(tokens))
"""

# --reuse: tokens for the annotators an earlier run made, the project's accepted and whole counts
REUSED = r"""
import json, sys
import sqlalchemy as sa
from labeling import users
from labeling.db import get_engine
pid, n = int(sys.argv[1]), int(sys.argv[2])
with get_engine().connect() as conn:
    ids = [conn.execute(sa.text("SELECT id FROM \"user\" WHERE email = :e"), {"e": f"ann{i}@scale.local"}).scalar_one()
           for i in range(n)]
    count = sa.text("SELECT count(*) FILTER (WHERE state = 'accepted'), count(*) FROM task WHERE project_id = :p")
    accepted, tasks = conn.execute(count, {"p": pid}).one()
print(json.dumps({"tokens": [users.create_token(i) for i in ids], "accepted": accepted, "tasks": tasks}))
"""

# Every task but the newest ``keep_open`` accepted with a final label (one statement).
ACCEPT = r"""
import sys, time
import sqlalchemy as sa
from labeling.db import get_engine, utcnow
pid, keep_open = int(sys.argv[1]), int(sys.argv[2])
engine = get_engine()
with engine.begin() as conn:
    top = conn.execute(sa.text("SELECT max(id) FROM task WHERE project_id = :p"), {"p": pid}).scalar()
    n = conn.execute(sa.text(
        "UPDATE task SET state = 'accepted', final_source = 'single', updated_at = :ts, final_label = "
        "CAST('[{\"from_name\": \"label\", \"to_name\": \"text\", \"type\": \"choices\", \"value\": {\"choices\": [\"' "
        "|| (CASE id % 3 WHEN 0 THEN 'pos' WHEN 1 THEN 'neg' ELSE 'neu' END) || '\"]}}]' AS JSON) "
        "WHERE project_id = :p AND id <= :top"), {"p": pid, "ts": utcnow(), "top": top - keep_open}).rowcount
with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
    conn.exec_driver_sql("VACUUM ANALYZE task")
print(n)
"""


def write_jsonl(path: Path, n: int) -> None:
    words = ("good", "bad", "fine", "awful", "great", "slow", "fast", "broken", "lovely", "odd")
    with open(path, "w", encoding="utf-8", buffering=1 << 22) as fh:
        for start in range(0, n, 100_000):
            fh.write("".join(f'{{"text": "item {i}: a {words[i % 10]} product, {words[(i * 7) % 10]} delivery"}}\n'
                             for i in range(start, min(n, start + 100_000))))


class DatabaseCpu:
    """CPU seconds of the database's server processes while the block runs (PostgreSQL on this
    machine: ``/proc`` of the backends ``pg_stat_activity`` lists for the database, polled every
    0.2 s; a backend's last reading stands once it has ended)."""

    def __init__(self, pg_url: str):
        self.pg_url = pg_url
        self.seconds = 0.0

    def __enter__(self) -> DatabaseCpu:
        import threading

        self._before: dict[int, float] = {}
        self._now: dict[int, float] = {}
        # samples of the backends in a transaction: waiting for the client's next data or
        # statement ("client"), or not ("working": on a core, waiting for one, or for I/O or a lock)
        self.states = {"client": 0, "working": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            while True:
                rows = conn.execute("SELECT pid, state, wait_event FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND pid <> pg_backend_pid()").fetchall()
                for _, state, wait in rows:
                    if state == "idle in transaction" or (state == "active" and wait == "ClientRead"):
                        self.states["client"] += 1
                    elif state == "active":
                        self.states["working"] += 1
                for bp, _, _ in rows:
                    used = cpu_seconds([bp])  # 0 once it has ended
                    self._before.setdefault(bp, used)
                    self._now[bp] = max(self._now.get(bp, 0.0), used)
                if self._stop.wait(0.2):
                    return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        # backends already running when the block began count only what they used since
        self.seconds = sum(self._now[bp] - self._before[bp] for bp in self._now)


class DescendantsCpu:
    """CPU seconds of the descendants of process ``pid`` that it does not wait for (polled from
    ``/proc`` every 0.2 s, a process's last reading standing once it has ended): the importer's
    worker processes are children of multiprocessing's fork server, so the importer's own
    resource usage never counts them."""

    def __init__(self, pid: int):
        import threading

        self.pid = pid
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            for p in process_tree(self.pid)[1:]:
                self.last[p] = max(self.last.get(p, 0.0), cpu_seconds([p]))
            if self._stop.wait(0.2):
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self.last.values())


def import_file(env: dict, pid: int, path: Path, log_path: Path, pg_url: str) -> dict:
    """``labelfab import`` of one file in its own process: its wall seconds, the import's own
    seconds (the CLI's report, without the process's start-up), peak RSS, CPU seconds, and the
    CPU seconds of the database's server processes meanwhile (:class:`DatabaseCpu`). On a busy
    machine the CPU figures say what rate the importer and the database could reach on their own."""
    import re

    cmd = [str(BIN / "labelfab"), "import", str(pid), str(path), "--as", LEAD_EMAIL]
    t0 = time.perf_counter()
    with DatabaseCpu(pg_url) as db, open(log_path, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        workers = DescendantsCpu(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        workers_s = workers.stop()
    seconds = time.perf_counter() - t0
    text = log_path.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"labelfab import failed: {text[-2000:]}")
    own = re.search(r"predictions in ([0-9.]+) s", text)
    return {"wall_s": seconds, "import_s": float(own.group(1)) if own else None, "rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime + workers_s, "workers_s": workers_s,
            "user_s": usage.ru_utime, "system_s": usage.ru_stime,
            "switches": usage.ru_nvcsw, "preempted": usage.ru_nivcsw, "db_cpu_s": db.seconds,
            "db_waits_pct": 100 * db.states["client"] / max(db.states["client"] + db.states["working"], 1)}


def timed_export(s: requests.Session, url: str, pid: int, fmt: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = s.get(f"{url}/api/projects/{pid}/export", params={"exportType": fmt}, stream=True, timeout=3600)
    if r.status_code != 200:
        raise RuntimeError(f"export {fmt}: {r.status_code} {r.text[:500]}")
    size = 0
    lines = 0
    for chunk in r.iter_content(1 << 20):
        size += len(chunk)
        if fmt == "JSONL":
            lines += chunk.count(b"\n")
    return time.perf_counter() - t0, lines if fmt == "JSONL" else size


def tree_peak_mb(pid: int) -> float:
    return max(peak_rss_mb(p) for p in [pid, *children(pid)])


def setup_and_import(args, env: dict, tmp: Path, out: dict) -> tuple[str, int, list[str], int | None]:
    """Steps 1-2: a new schema, the lead, the project and its annotators, the import, the accept
    (``accepted`` None with ``--import-only``)."""
    reset_schema(env)
    token = init_with_lead(env)
    (tmp / "config.xml").write_text(CONFIG)
    pid = int(labelfab(env, "project", "create", "--title", "scale", "--config", str(tmp / "config.xml"),
                       "--as", LEAD_EMAIL).strip().splitlines()[-1])
    out["project_id"] = pid
    tokens = python_json(env, ANNOTATORS, str(args.annotators))

    path = tmp / "tasks.jsonl"
    t0 = time.perf_counter()
    write_jsonl(path, args.tasks)
    out["generate_s"] = round(time.perf_counter() - t0, 1)
    out["file_mb"] = round(path.stat().st_size / 1e6)
    log(f"importing {args.tasks:,} tasks ({out['file_mb']} MB of JSON Lines)")
    load = load_average()
    imp = import_file(env, pid, path, tmp / "import.log", args.pg_url)
    path.unlink()
    seconds, own = imp["wall_s"], imp["import_s"] or imp["wall_s"]
    out.update({"import_s": round(own, 1), "import_tasks_per_s": round(args.tasks / own),
                "import_process_s": round(seconds, 1), "import_process_tasks_per_s": round(args.tasks / seconds),
                "import_peak_rss_mb": round(imp["rss_mb"]), "import_cpu_s": round(imp["cpu_s"], 1),
                "import_tasks_per_cpu_s": round(args.tasks / imp["cpu_s"]),
                "import_db_cpu_s": round(imp["db_cpu_s"], 1),
                "import_tasks_per_db_cpu_s": round(args.tasks / max(imp["db_cpu_s"], 1e-9)),
                "import_user_s": round(imp["user_s"], 1), "import_system_s": round(imp["system_s"], 1),
                "import_workers_cpu_s": round(imp["workers_s"], 1),
                "import_voluntary_switches": imp["switches"], "import_involuntary_switches": imp["preempted"],
                "import_busy_pct": round(100 * imp["cpu_s"] / own, 1),
                "import_db_us_per_task": round(1e6 * imp["db_cpu_s"] / args.tasks, 2),
                "import_db_busy_pct": round(100 * imp["db_cpu_s"] / own, 1),
                "import_db_waits_for_importer_pct": round(imp["db_waits_pct"], 1),
                "import_load_average_before": load, "import_load_average_after": load_average()})
    log(f"import: {own:.1f} s ({seconds:.1f} s with the process's start), {args.tasks / own:,.0f} tasks/s, "
        f"peak RSS {imp['rss_mb']:.0f} MB, CPU {imp['cpu_s']:.1f} s, database CPU {imp['db_cpu_s']:.1f} s")
    if args.import_only:
        return token, pid, tokens, None

    t0 = time.perf_counter()
    accepted = python_json(env, ACCEPT, str(pid), str(args.open))
    out.update({"accepted": accepted, "setup_accept_s": round(time.perf_counter() - t0, 1)})
    log(f"accepted {accepted:,} tasks in {out['setup_accept_s']} s")
    return token, pid, tokens, accepted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--tasks", type=int, default=10_000_000)
    ap.add_argument("--open", type=int, default=200_000, help="tasks left open for the router")
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think-ms", type=float, default=1000)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma-separated: export,dashboard,router,publish")
    ap.add_argument("--import-only", action="store_true", help="stop after the import (no server started)")
    ap.add_argument("--reuse", type=int, default=0, help="a project an earlier run left: measure steps 3-6 on it")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-scale-"))
    env = bench_env(tmp / "data", args.pg_url)
    out: dict = {"bench": "scale_10m", "database": "postgresql", "tasks": args.tasks, "load_average_start": load_average()}
    server = None
    try:
        if args.reuse:
            pid = out["project_id"] = args.reuse
            token = labelfab(env, "token", "create", LEAD_EMAIL).strip().splitlines()[-1]
            reused = python_json(env, REUSED, str(pid), str(args.annotators))
            tokens, accepted = reused["tokens"], reused["accepted"]
            out.update({"reused": True, "accepted": accepted, "tasks": reused["tasks"]})
        else:
            token, pid, tokens, accepted = setup_and_import(args, env, tmp, out)
            if accepted is None:
                return finish(out, tmp, None)

        server = Server(env, workers=2, threads=8, log_path=tmp / "server.log", timeout=120)
        s = requests.Session()
        s.headers["Authorization"] = f"Token {token}"
        if "export" not in skip:
            for fmt in ("JSONL", "PARQUET"):
                log(f"export {fmt} (load average {load_average()})")
                seconds, n = timed_export(s, server.url, pid, fmt)
                if fmt == "JSONL":
                    assert n == accepted, (n, accepted)
                    out["export_jsonl_s"] = round(seconds, 1)
                else:
                    out.update({"export_parquet_s": round(seconds, 1), "export_parquet_mb": round(n / 1e6)})
                log(f"export {fmt}: {seconds:.1f} s")
            out["export_server_peak_rss_mb"] = round(tree_peak_mb(server.pid))
        if "dashboard" not in skip:
            times = []
            for _ in range(args.loads + 1):
                t0 = time.perf_counter()
                r = s.get(f"{server.url}/api/projects/{pid}/stats", timeout=600)
                r.raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            out.update({"dashboard_cold_ms": round(times[0]), "dashboard_p50_ms": round(sorted(times[1:])[len(times[1:]) // 2])})
            log(f"dashboard: cold {times[0]:.0f} ms, p50 {out['dashboard_p50_ms']} ms")
        if "router" not in skip:
            # the server's and the database's CPU per request (a next and a submit per cycle)
            # tell our cost apart from the waits a busy machine adds to the latencies
            server_cpu = cpu_seconds(process_tree(server.pid))
            machine, wall = machine_cpu_seconds(), time.perf_counter()
            with DatabaseCpu(args.pg_url) as db:
                outs, secs = run_clients(server.port, tokens, pid, args.seconds, 2, think=args.think_ms / 1000)
            server_cpu = cpu_seconds(process_tree(server.pid)) - server_cpu
            # over the whole wall time (the clients' start-up included): every core's share
            machine = (machine_cpu_seconds() - machine) / (time.perf_counter() - wall)
            lat = [x for o in outs for x in o.get("next", [])]
            served = [t for o in outs for t in o.get("served", [])]
            n_requests = len(lat) + sum(len(o.get("submit", [])) for o in outs)
            out.update({"router_annotators": len(tokens), "router_think_ms": args.think_ms,
                        "router_cycles": len(served), "next_p50_ms": quantile(lat, 0.5),
                        "next_p99_ms": quantile(lat, 0.99),
                        "router_requests": n_requests,
                        "router_server_cpu_ms_per_request": round(server_cpu * 1000 / max(n_requests, 1), 2),
                        "router_db_cpu_ms_per_request": round(db.seconds * 1000 / max(n_requests, 1), 2),
                        "router_machine_busy_cores": round(machine, 2),
                        "router_load_average": load_average(),
                        "router_duplicate_assignments": len(served) - len(set(served))})
            log(f"router: next p50 {out['next_p50_ms']} ms, p99 {out['next_p99_ms']} ms over {len(served)} cycles; "
                f"CPU per request: server {out['router_server_cpu_ms_per_request']} ms, database "
                f"{out['router_db_cpu_ms_per_request']} ms; machine busy {out['router_machine_busy_cores']} cores")
        if "publish" not in skip:
            t0 = time.perf_counter()
            r = s.post(f"{server.url}/api/projects/{pid}/datasets", json={"note": "scale", "background": True}, timeout=600)
            if r.status_code != 202:
                raise RuntimeError(f"publish: {r.status_code} {r.text[:500]}")
            out["publish_answer_ms"] = round((time.perf_counter() - t0) * 1000)
            job_url = server.url + r.json()["url"]
            seen = set()
            while True:
                job = s.get(job_url, timeout=60).json()
                seen.add(round(job["progress"], 2))
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(1)
            if job["status"] != "done":
                raise RuntimeError(f"publish job failed: {job}")
            out.update({"publish_s": round(time.perf_counter() - t0, 1), "publish_items": job["result"]["n_items"],
                        "publish_progress_steps": len(seen)})
            log(f"publish: {out['publish_s']} s, {job['result']['n_items']:,} items")
        out["server_peak_rss_mb"] = round(tree_peak_mb(server.pid))
    except BaseException:
        finish(None, tmp, server)
        raise
    finish(out, tmp, server)


def finish(out: dict | None, tmp: Path, server: Server | None) -> None:
    """Stop the server, remove the scratch folder and print the figures (when there are some)."""
    if server is not None:
        server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    if out is not None:
        out["load_average_end"] = load_average()
        out["max_rss_self_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
