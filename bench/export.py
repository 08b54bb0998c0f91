"""Export speed, measured end to end; prints one JSON line of figures last.

1. 1,000,000 annotated text tasks: imported with ``labelfab import`` (Label Studio JSON Lines with
   one annotation each, so they arrive ``labeled``), then accepted with their final label
   stored, as QC and review do (a bulk SQL update with a TaskEvent per task stands in for them:
   running Cleanlab over a million items is another benchmark). A real ``labelfab serve``
   (Granian) on that DATA_DIR (SQLite, or LABELFAB_BENCH_DATABASE_URL) answers
   ``GET /api/projects/ID/export?exportType=JSONL`` and ``...=PARQUET``; the client streams the
   body and checks it (1,000,000 lines / rows). Reported: seconds and tasks/s of each, the
   server's peak RSS (VmHWM of the server's main and worker processes) over the whole run, and, before
   the accept step, the same JSONL export with labels derived from the annotations
   (``state=labeled``: :func:`labeling.aggregation.final_label` per task). Targets: <= 10 s
   each, peak RSS <= 500 MB.
2. Label Studio 1.23.2 on this machine, in the same run (``../shared/peers/label-studio.sh``, with
   its own LS_HOME so that other benchmarks' servers are left alone): 10,000 tasks with one
   annotation each are imported, and its ``GET /api/projects/ID/export?exportType=JSON`` is
   timed; the ratio of tasks/s is reported. If Label Studio cannot be started, the line says so.
3. Label Studio's JSON export from labelfab, every annotation with its annotator's
   ``created_username``: ``GET /api/projects/ID/export?exportType=JSON`` as Label Studio's
   clients call it (``json_ls_s``) and the clean export's JSON of the accepted tasks
   (``exportType=JSON&state=accepted``, ``json_clean_s``). With ``--ab SRC`` these two are
   timed ``--rounds`` times on the same data, alternating a server running the code in SRC (A:
   another checkout, put first on ``PYTHONPATH``) and one running this tree (B), the machine's
   load average beside each pair (``ab``).

Usage: python bench/export.py [--tasks N] [--ls-tasks N] [--no-ls] [--ab SRC [--rounds N]]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from common import (
    LEAD_EMAIL,
    LabelStudioError,
    Server,
    bench_env,
    children,
    cpu_seconds,
    init_with_lead,
    label_studio,
    labelfab,
    load_average,
    log,
    peak_rss_mb,
    python_json,
)

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>"""
LABELS = ("pos", "neg", "neu")

ACCEPT = """
import sys
import sqlalchemy as sa
from labeling.db import get_engine, utcnow
pid = int(sys.argv[1])
now = utcnow()
engine = get_engine()
ts = now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now
with engine.begin() as conn:
    if engine.dialect.name == "postgresql":  # fresh statistics: without them the final label's subquery
        conn.execute(sa.text("ANALYZE task, annotation"))  # walked pk_annotation for every task
    conn.execute(sa.text(
        "INSERT INTO task_event (task_id, project_id, user_id, from_state, to_state, reason, created_at) "
        "SELECT id, project_id, NULL, state, 'accepted', 'bench: accepted (stands in for QC and review)', :ts "
        "FROM task WHERE project_id = :pid AND state = 'labeled'"), {"pid": pid, "ts": ts})
    n = conn.execute(sa.text(
        "UPDATE task SET state = 'accepted', final_source = 'single', updated_at = :ts, final_label = "
        "(SELECT a.result FROM annotation a WHERE a.task_id = task.id AND a.was_cancelled = :f ORDER BY a.id LIMIT 1) "
        "WHERE project_id = :pid AND state = 'labeled'"), {"pid": pid, "ts": ts, "f": False}).rowcount
print(n)
"""

LS_EXPORT = r"""
import json, sys, time
import requests
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = sys.argv[4]
s = requests.Session()
s.headers["Authorization"] = f"Token {token}"
p = s.post(f"{url}/api/projects", json={"title": f"export bench {time.time()}", "label_config": config}).json()
labels = ["pos", "neg", "neu"]
tasks = [{"data": {"text": f"item {i} some text to label"},
          "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                       "value": {"choices": [labels[i % 3]]}}]}]} for i in range(n)]
r = s.post(f"{url}/api/projects/{p['id']}/import", json=tasks)
r.raise_for_status()
t0 = time.perf_counter()
r = s.get(f"{url}/api/projects/{p['id']}/export", params={"exportType": "JSON"}, stream=True)
r.raise_for_status()
body = b"".join(r.iter_content(1 << 20))
seconds = time.perf_counter() - t0
exported = len(json.loads(body))
print(json.dumps({"tasks": n, "exported": exported, "export_s": round(seconds, 3), "bytes": len(body)}))
"""


def write_tasks(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            result = [{"from_name": "label", "to_name": "text", "type": "choices",
                       "value": {"choices": [LABELS[i % 3]]}}]
            fh.write(json.dumps({"data": {"text": f"item {i} some text to label"},
                                 "annotations": [{"result": result}]}) + "\n")


def timed_export(s: requests.Session, url: str, pid: int, query: str, pids: list[int]) -> tuple[float, bytes, float]:
    """(seconds, body, server CPU seconds) of one streamed export."""
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    r = s.get(f"{url}/api/projects/{pid}/export?{query}", stream=True, timeout=600)
    if r.status_code != 200:
        raise RuntimeError(f"export {query} failed: {r.status_code} {r.text[:500]}")
    body = b"".join(r.iter_content(1 << 20))
    return time.perf_counter() - t0, body, cpu_seconds(pids) - cpu0


def json_exports(env: dict, tmp: Path, token: str, pid: int, n_tasks: int) -> dict:
    """Seconds of Label Studio's JSON export and of the clean JSON export on a fresh server of ``env``."""
    out = {}
    with Server(env, workers=1, threads=4, log_path=tmp / "server-json.log", timeout=120) as server:
        s = requests.Session()
        s.headers["Authorization"] = f"Token {token}"
        for key, query in (("json_ls", "exportType=JSON"), ("json_clean", "exportType=JSON&state=accepted")):
            seconds, body, cpu = timed_export(s, server.url, pid, query, [server.pid, *children(server.pid)])
            tasks = json.loads(body)
            assert len(tasks) == n_tasks, len(tasks)
            out.update({f"{key}_s": round(seconds, 2), f"{key}_server_cpu_s": round(cpu, 2),
                        f"{key}_named": bool(tasks[-1]["annotations"][0].get("created_username"))})
            del body, tasks
    return out


def ab_rounds(env: dict, tmp: Path, token: str, pid: int, n_tasks: int, src: str, rounds: int) -> list[dict]:
    """The JSON exports alternately on A (the code in ``src``) and B (this tree), ``rounds`` pairs,
    the order of each pair alternating too (AB, BA, ...)."""
    sides = {"A": {**env, "PYTHONPATH": str(Path(src).resolve())}, "B": env}
    pairs = []
    for i in range(rounds):
        pair: dict = {"round": i + 1, "load_average_before": load_average()}
        for side in ("A", "B") if i % 2 == 0 else ("B", "A"):
            figures = json_exports(sides[side], tmp, token, pid, n_tasks)
            pair.update({f"{side}_{k}": v for k, v in figures.items()})
            log(f"labelfab: round {i + 1} {side}: {figures}")
        pair["load_average_after"] = load_average()
        pairs.append(pair)
    return pairs


def bench_labelfab(n_tasks: int, ab: str | None = None, rounds: int = 3) -> dict:
    import pyarrow.parquet as pq

    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-export-"))
    env = bench_env(tmp / "data", os.environ.get("LABELFAB_BENCH_DATABASE_URL"))
    out: dict = {"database": "postgresql" if "LABELFAB_DATABASE_URL" in env else "sqlite", "tasks": n_tasks}
    server = None
    try:
        token = init_with_lead(env)
        (tmp / "config.xml").write_text(CONFIG)
        pid = int(labelfab(env, "project", "create", "--title", "export bench", "--config", str(tmp / "config.xml"),
                           "--as", LEAD_EMAIL).strip().splitlines()[-1])
        write_tasks(tmp / "tasks.jsonl", n_tasks)
        log(f"labelfab: importing {n_tasks} annotated tasks with labelfab import")
        t0 = time.perf_counter()
        labelfab(env, "import", str(pid), str(tmp / "tasks.jsonl"), "--as", LEAD_EMAIL)
        out["setup_import_s"] = round(time.perf_counter() - t0, 1)
        (tmp / "tasks.jsonl").unlink()

        server = Server(env, workers=1, threads=4, log_path=tmp / "server.log", timeout=120)
        url = server.url
        s = requests.Session()
        s.headers["Authorization"] = f"Token {token}"
        pids = [server.pid, *children(server.pid)]

        log("labelfab: JSONL export of the labeled tasks, labels derived from the annotations")
        seconds, body, cpu = timed_export(s, url, pid, "exportType=JSONL&state=labeled", pids)
        assert body.count(b"\n") == n_tasks, body.count(b"\n")
        out.update({"jsonl_derived_s": round(seconds, 2), "jsonl_derived_tasks_per_s": round(n_tasks / seconds)})
        del body

        log("labelfab: accepting every task with its final label (stand-in for QC and review)")
        t0 = time.perf_counter()
        accepted = python_json(env, ACCEPT, str(pid))
        assert accepted == n_tasks, accepted
        out["setup_accept_s"] = round(time.perf_counter() - t0, 1)

        for fmt in ("JSONL", "PARQUET"):
            load = load_average()
            log(f"labelfab: {fmt} export of {n_tasks} accepted tasks (load average {load})")
            seconds, body, cpu = timed_export(s, url, pid, f"exportType={fmt}", pids)
            if fmt == "JSONL":
                lines = body.splitlines()
                assert len(lines) == n_tasks and json.loads(lines[-1])["label_source"] == "single"
                del lines
            else:
                table = pq.read_table(io.BytesIO(body))
                assert table.num_rows == n_tasks and table.column_names[:3] == ["id", "data", "label"]
                del table
            key = fmt.lower()
            out.update({f"{key}_s": round(seconds, 2), f"{key}_tasks_per_s": round(n_tasks / seconds),
                        f"{key}_mb": round(len(body) / 1e6, 1), f"{key}_server_cpu_s": round(cpu, 2),
                        f"{key}_load_average_before": load})
            log(f"labelfab: {fmt} {seconds:.2f} s ({n_tasks / seconds:,.0f} tasks/s, {len(body) / 1e6:.0f} MB)")
            del body
        out["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        log(f"labelfab: server peak RSS {out['server_peak_rss_mb']} MB")
        server.stop()
        server = None
        load = load_average()
        out.update(json_exports(env, tmp, token, pid, n_tasks))
        out["json_load_average_before"] = load
        log(f"labelfab: JSON exports {out['json_ls_s']} s (Label Studio's), {out['json_clean_s']} s (clean)")
        if ab:
            out["ab"] = ab_rounds(env, tmp, token, pid, n_tasks, ab, rounds)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def bench_label_studio(n_tasks: int) -> dict:
    shared = Path.home() / ".cache" / "label-studio-peer"
    ls_home = Path(os.environ.get("LS_HOME", Path.home() / ".cache" / "labelfab-bench-export-ls"))
    ls_home.mkdir(parents=True, exist_ok=True)
    if not (ls_home / "venv").exists() and (shared / "venv" / "bin" / "label-studio").exists():
        (ls_home / "venv").symlink_to(shared / "venv")  # reuse the installed Label Studio
    try:
        with label_studio(ls_home) as (ls_url, token):
            log(f"label studio: importing {n_tasks} annotated tasks, then timing its JSON export")
            load = load_average()
            bench = subprocess.run([str(ls_home / "venv" / "bin" / "python"), "-c", LS_EXPORT, ls_url, token,
                                    str(n_tasks), CONFIG], capture_output=True, text=True, timeout=3600)
    except LabelStudioError as e:
        return {"ls_error": str(e)}
    except subprocess.TimeoutExpired:
        return {"ls_error": "Label Studio timed out"}
    if bench.returncode != 0:
        return {"ls_error": f"Label Studio export bench failed: {bench.stderr[-500:]}"}
    figures = json.loads(bench.stdout.strip().splitlines()[-1])
    assert figures["exported"] == n_tasks, figures
    log(f"label studio: JSON export {figures['export_s']} s")
    return {"ls_version": "1.23.2", "ls_tasks": n_tasks, "ls_export_json_s": figures["export_s"],
            "ls_export_tasks_per_s": round(n_tasks / figures["export_s"]), "ls_load_average_before": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--ls-tasks", type=int, default=10_000)
    ap.add_argument("--no-ls", action="store_true", help="skip Label Studio")
    ap.add_argument("--ab", metavar="SRC", help="also time the JSON exports alternately on the code in SRC (A) "
                                                "and this tree (B)")
    ap.add_argument("--rounds", type=int, default=3, help="A/B pairs (default 3)")
    args = ap.parse_args()
    figures: dict = {"bench": "export"}
    figures.update(bench_labelfab(args.tasks, args.ab, args.rounds))
    if not args.no_ls:
        figures.update(bench_label_studio(args.ls_tasks))
        if "ls_export_tasks_per_s" in figures:
            for key in ("jsonl", "parquet"):
                figures[f"ratio_{key}_tasks_per_s_vs_ls"] = round(
                    figures[f"{key}_tasks_per_s"] / figures["ls_export_tasks_per_s"], 1)
    figures["target_10s_met"] = figures["jsonl_s"] <= 10 and figures["parquet_s"] <= 10
    figures["target_rss_met"] = figures["server_peak_rss_mb"] <= 500
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
