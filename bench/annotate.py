"""Annotation throughput: N annotators, each with their own token, loop next -> submit.

Against a real ``labelfab serve`` for S seconds, in up to two set-ups:

(a) ``embedded``: the default (SQLite in a fresh DATA_DIR, stub broker), ``labelfab serve``;
(b) ``postgres``: PostgreSQL (``--pg-url``, a scratch database: its tables are DROPPED) with
    ``labelfab serve --workers 4``.

Reports cycles/s, next and submit p50/p99 (ms), duplicate assignments (a task handed to more
annotators than its overlap, or twice to one annotator) and lost tasks (submits that failed,
and tasks whose stored counters disagree with their annotation and lease rows).

With no think time every annotator is always waiting on the server, so by Little's law the
mean cycle time is N / throughput: at 50 annotators latency measures queueing, not the
router. ``--think-ms T`` adds a second run in which annotators take about T ms to label each
task (a paced load, as in real work) and reports its latencies under ``paced``.

``--peer-bench PATH`` also runs ``ls_bench.py`` (``../shared/peers/ls_bench.py``) unchanged
against each labelfab server; ``--ls-url/--ls-token/--ls-tokens`` runs it against a Label
Studio server too and reports the ratio of annotations/s.

Usage::

    python bench/annotate.py [--annotators 50] [--seconds 20] [--setups embedded,postgres]
        [--pg-url postgresql://postgres@127.0.0.1:5432/scratch] [--think-ms 250] [--peer-bench PATH]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (
    Server,
    bench_env,
    cpu_seconds,
    labelfab,
    machine_cpu_seconds,
    process_tree,
    python_json,
    reset_schema,
)

from web.server import default_threads

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>')
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]

SETUP_CODE = r"""
import json, sys
import sqlalchemy as sa
from labeling import projects, users
from labeling.db import get_engine, utcnow, write_session
from labeling.models import Role, Task
n_ann, n_tasks, overlap = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lead = users.create_user("lead@bench.local", role=Role.lead)
project = projects.create_project(lead, title="bench", label_config=sys.argv[4], overlap=overlap)
tokens = []
for i in range(n_ann):
    u = users.create_user(f"ann{i}@bench.local", role=Role.annotator)
    tokens.append(users.create_token(u.id))
now = utcnow()
rows = [dict(project_id=project.id, data={"text": f"item {i} some text to label"}, meta={}, state="open",
             priority=0.0, requeued=False, target_overlap=overlap, n_annotations=0, n_skips=0, n_leases=0,
             is_gold=False, created_at=now, updated_at=now) for i in range(n_tasks)]
with write_session() as s:
    for i in range(0, len(rows), 5000):
        s.execute(sa.insert(Task.__table__), rows[i:i + 5000])
if get_engine().dialect.name == "postgresql":
    with get_engine().begin() as c:
        c.exec_driver_sql("ANALYZE")
print(json.dumps({"project": project.id, "tokens": tokens, "lead_token": users.create_token(lead.id),
                  "admin_token": users.create_token(users.create_user("admin@bench.local", role=Role.admin).id)}))
"""

CHECK_CODE = r"""
import json, sys
import sqlalchemy as sa
from labeling.db import read_session
pid = int(sys.argv[1])
with read_session() as s:
    bad_counts = s.execute(sa.text(
        "SELECT count(*) FROM task t WHERE t.project_id = :p AND ("
        " t.n_annotations != (SELECT count(*) FROM annotation a WHERE a.task_id = t.id AND NOT a.was_cancelled)"
        " OR t.n_leases != (SELECT count(*) FROM lease l WHERE l.task_id = t.id)"
        " OR t.n_annotations > t.target_overlap"
        " OR (t.state = 'labeled') != (t.n_annotations >= t.target_overlap))"), {"p": pid}).scalar()
    per_user_dups = s.execute(sa.text(
        "SELECT count(*) FROM (SELECT task_id, user_id FROM annotation WHERE project_id = :p"
        " GROUP BY task_id, user_id HAVING count(*) > 1) x"), {"p": pid}).scalar()
    n_annotations = s.execute(sa.text("SELECT count(*) FROM annotation WHERE project_id = :p"), {"p": pid}).scalar()
print(json.dumps({"inconsistent_tasks": bad_counts, "per_user_duplicates": per_user_dups,
                  "annotations_stored": n_annotations}))
"""


def quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 2)


# --------------------------------------------------------------------------- the client


def _annotator(port: int, token: str, pid: int, stop_at: float, out: dict, think: float = 0.0) -> None:
    rng = random.Random(token)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = json.dumps({"result": RESULT}).encode()
    lat_next, lat_submit, served, failures = [], [], [], 0
    if think:  # paced annotators start one by one, as people do, not all in the same millisecond
        time.sleep(rng.uniform(0, 2 * think))
    while time.perf_counter() < stop_at:
        a = time.perf_counter()
        conn.request("GET", f"/api/projects/{pid}/next", headers=headers)
        r = conn.getresponse()
        data = r.read()
        b = time.perf_counter()
        if r.status != 200:
            out.setdefault("next_status", []).append(r.status)
            break
        task_id = json.loads(data)["id"]
        lat_next.append(b - a)
        if think:
            time.sleep(rng.uniform(0.5, 1.5) * think)  # the annotator labels the task
            b = time.perf_counter()
        conn.request("POST", f"/api/tasks/{task_id}/annotations", body=body, headers=headers)
        r2 = conn.getresponse()
        r2.read()
        c = time.perf_counter()
        if r2.status not in (200, 201):
            failures += 1
        lat_submit.append(c - b)
        served.append(task_id)
    conn.close()
    out["next"] = lat_next
    out["submit"] = lat_submit
    out["served"] = served
    out["failures"] = failures


def _client_process(port: int, tokens: list[str], pid: int, start_at: float, seconds: float, think: float,
                    conn) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    stop_at = time.perf_counter() + seconds
    outs = [{} for _ in tokens]
    threads = [threading.Thread(target=_annotator, args=(port, tok, pid, stop_at, out, think))
               for tok, out in zip(tokens, outs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs[0]["client_cpu"] = time.process_time()
    conn.send(outs)
    conn.close()


def run_clients(port: int, tokens: list[str], pid: int, seconds: float, processes: int,
                think: float = 0.0) -> tuple[list[dict], float]:
    ctx = mp.get_context("spawn")
    start_at = time.time() + 2.0  # every process starts together
    procs, pipes = [], []
    for i in range(processes):
        mine = tokens[i::processes]
        if not mine:
            continue
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_client_process, args=(port, mine, pid, start_at, seconds, think, child))
        p.start()
        procs.append(p)
        pipes.append(parent)
    outs: list[dict] = []
    for parent in pipes:
        outs.extend(parent.recv())
    for p in procs:
        p.join()
    return outs, seconds


def run_peer_bench(script: str, url: str, token: str, tokens: list[str], n_tasks: int, n_ann: int,
                   seconds: float, python: str = sys.executable) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(tokens))
        tokens_file = f.name
    try:
        out = subprocess.run([python, script, url, token, str(n_tasks), str(n_ann), str(seconds), tokens_file],
                             capture_output=True, text=True, timeout=seconds + 600)
    finally:
        os.unlink(tokens_file)
    if out.returncode != 0:
        return {"error": out.stderr[-1500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(outs: list[dict], seconds: float) -> dict:
    """Throughput and latency of one client run (latencies exclude the think time)."""
    lat_next = [x for o in outs for x in o.get("next", [])]
    lat_submit = [x for o in outs for x in o.get("submit", [])]
    cycles = sum(len(o.get("served", [])) for o in outs)
    return {"cycles_per_s": round(cycles / seconds, 1), "next_p50_ms": quantile(lat_next, 0.5),
            "next_p99_ms": quantile(lat_next, 0.99), "submit_p50_ms": quantile(lat_submit, 0.5),
            "submit_p99_ms": quantile(lat_submit, 0.99)}


def bench_setup(name: str, args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"labelfab-bench-{name}-"))
    postgres = name == "postgres"
    env = bench_env(data_dir, args.pg_url if postgres else None)
    workers = args.workers if postgres else 1
    if postgres:
        reset_schema(env)
    labelfab(env, "init")
    n_tasks = args.tasks or max(20_000, int(args.seconds * 1500))
    setup = python_json(env, SETUP_CODE, str(args.annotators), str(n_tasks), str(args.overlap), CONFIG)
    server = Server(env, workers=workers, threads=args.threads)
    try:
        cpu_before, machine_before = cpu_seconds(process_tree(server.pid)), machine_cpu_seconds()
        outs, seconds = run_clients(server.port, setup["tokens"], setup["project"], args.seconds, args.client_processes)
        server_cpu = cpu_seconds(process_tree(server.pid)) - cpu_before
        machine_cpu = machine_cpu_seconds() - machine_before
        paced, paced_outs = None, []
        if args.think_ms:
            paced_outs, _ = run_clients(server.port, setup["tokens"], setup["project"], args.seconds,
                                        args.client_processes, think=args.think_ms / 1000)
            paced = _summary(paced_outs, args.seconds)
            paced["think_ms"] = args.think_ms
        peer = None
        if args.peer_bench:
            peer = run_peer_bench(args.peer_bench, server.url, setup["admin_token"], setup["tokens"],
                                  args.peer_tasks, args.peer_annotators or args.annotators, args.peer_seconds)
    finally:
        server.stop()
    check = python_json(env, CHECK_CODE, str(setup["project"]))
    lat_next = [x for o in outs for x in o.get("next", [])]
    lat_submit = [x for o in outs for x in o.get("submit", [])]
    served = [t for o in outs for t in o.get("served", [])]
    per_task: dict[int, int] = {}
    for t in served + [t for o in paced_outs for t in o.get("served", [])]:
        per_task[t] = per_task.get(t, 0) + 1
    # one annotator's two runs (saturated, paced) are one token: count them together
    by_token: dict[int, list[int]] = {}
    for i, o in enumerate(outs):
        by_token.setdefault(i, []).extend(o.get("served", []))
    for i, o in enumerate(paced_outs):
        by_token.setdefault(i, []).extend(o.get("served", []))
    per_user_twice = sum(len(v) - len(set(v)) for v in by_token.values())
    over = sum(n - args.overlap for n in per_task.values() if n > args.overlap)
    failures = sum(o.get("failures", 0) for o in outs + paced_outs)
    result = {
        "setup": name, "database": "postgresql" if name == "postgres" else "sqlite", "server_workers": workers,
        "server_threads": args.threads or default_threads(), "annotators": args.annotators, "overlap": args.overlap,
        "tasks": n_tasks, "seconds": seconds, "cycles": len(served),
        "cycles_per_s": round(len(served) / seconds, 1),
        "next_p50_ms": quantile(lat_next, 0.5), "next_p99_ms": quantile(lat_next, 0.99),
        "submit_p50_ms": quantile(lat_submit, 0.5), "submit_p99_ms": quantile(lat_submit, 0.99),
        "duplicate_assignments": over + per_user_twice + check["per_user_duplicates"],
        "lost_tasks": failures + check["inconsistent_tasks"],
        "failed_submits": failures, "annotations_stored": check["annotations_stored"],
        # CPU the labelfab server processes spent per cycle: robust to a busy machine, unlike cycles/s
        "server_cpu_ms_per_cycle": round(server_cpu * 1000 / max(1, len(served)), 2),
        "client_cpu_ms_per_cycle": round(sum(o.get("client_cpu", 0) for o in outs) * 1000 / max(1, len(served)), 2),
        # and the whole machine (server, database, the bench's clients, anything else running)
        "machine_cpu_ms_per_cycle": round(machine_cpu * 1000 / max(1, len(served)), 2),
        "stopped_early": sum(1 for o in outs if o.get("next_status")),
    }
    if paced is not None:
        result["paced"] = paced
    if peer is not None:
        result["ls_bench"] = peer
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--annotators", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--tasks", type=int, default=0, help="default: enough for the run")
    ap.add_argument("--overlap", type=int, default=1)
    ap.add_argument("--setups", default="", help="embedded,postgres (default: embedded, and postgres with --pg-url)")
    ap.add_argument("--pg-url", default=os.environ.get("LABELFAB_BENCH_PG_URL", ""),
                    help="a scratch PostgreSQL database; its tables are dropped")
    ap.add_argument("--workers", type=int, default=3, help="server processes for the postgres set-up")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per server process (default: labelfab serve's)")
    ap.add_argument("--client-processes", type=int, default=4)
    ap.add_argument("--think-ms", type=float, default=0,
                    help="also run with annotators that take this long (mean) to label a task, and report "
                         "latency at that paced load under 'paced'")
    ap.add_argument("--peer-bench", default="", help="path of ls_bench.py to run against each labelfab server")
    ap.add_argument("--peer-tasks", type=int, default=10_000)
    ap.add_argument("--peer-annotators", type=int, default=0, help="ls_bench.py threads (default: --annotators)")
    ap.add_argument("--peer-seconds", type=float, default=20)
    ap.add_argument("--ls-url", default="", help="a Label Studio server to run ls_bench.py against")
    ap.add_argument("--ls-token", default="")
    ap.add_argument("--ls-tokens", default="", help="file of Label Studio annotator tokens")
    ap.add_argument("--ls-python", default=sys.executable)

    args = ap.parse_args()
    setups = [s for s in (args.setups or ("embedded,postgres" if args.pg_url else "embedded")).split(",") if s]
    if "postgres" in setups and not args.pg_url:
        ap.error("the postgres set-up needs --pg-url (a scratch database)")
    report: dict = {"bench": "annotate"}
    for name in setups:
        r = bench_setup(name, args)
        print(json.dumps(r), flush=True)
        report[name] = r
    if args.ls_url and args.peer_bench:
        tokens = Path(args.ls_tokens).read_text().split() if args.ls_tokens else [args.ls_token]
        n = args.peer_annotators or args.annotators
        ls = run_peer_bench(args.peer_bench, args.ls_url, args.ls_token, tokens, args.peer_tasks, n,
                            args.peer_seconds, python=args.ls_python)
        print(json.dumps({"label_studio": ls}), flush=True)
        report["label_studio"] = ls
        for name in setups:
            ours = report[name].get("ls_bench", {}).get("annotations_per_s")
            if ours and ls.get("annotations_per_s"):
                report[name]["ratio_vs_label_studio"] = round(ours / ls["annotations_per_s"], 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
