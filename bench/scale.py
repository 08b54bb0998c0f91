"""Issue 22's one line of figures: import rate, next-task p99, dashboard and data-manager times
and export time at N tasks on PostgreSQL; QC time and peak memory at 2M items; the QC fan-out's
speed-up from one worker process to two.

It runs the benches that measure each part and gathers their figures (no copies of their code):

1. ``bench/scale_10m.py`` (a child process) at ``--tasks`` on the scratch database ``--pg-url``:
   import, export (JSONL, Parquet), dashboard (cold and p50), router (next-task p50/p99 with 50
   paced annotators, and the server's and database's CPU per request), and publish unless
   skipped. Its tables are DROPPED first; the project it leaves behind is measured next.
2. ``bench/dm_page.measure`` (in this process) on that project: the data manager's filtered,
   sorted table page (p50/p95 per query).
3. ``bench/qc_scale.py`` (a child process) at ``--qc-items``: scoring seconds and peak RSS, and
   the fold fan-out over one and two ``labelfab worker`` processes on ``--broker-url``.

Usage::

    python bench/scale.py --pg-url postgresql://postgres@127.0.0.1:5432/scratch
        [--tasks 10000000] [--qc-items 2000000] [--skip publish] [--broker-url redis://...]
        [--qc-rounds 1 2 1 2] [--runs 20]

The machine's load average is recorded with every part. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import LEAD_EMAIL, ROOT, load_average, log

HERE = Path(__file__).resolve().parent
LEAD_PASSWORD = "bench-password"  # common.init_with_lead's

TARGETS = {"import_tasks_per_s": 50_000, "next_p99_ms": 50, "dashboard_ms": 500, "dm_table_ms": 300,
           "export_s": 100, "export_server_mb": 500, "qc_s": 120, "qc_peak_mb": 2048}


def child_json(args: list[str]) -> dict:
    """Run ``python bench/ARGS...``; its last stdout line as JSON (its progress goes to our stderr)."""
    out = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True, help="a scratch PostgreSQL database: its tables are dropped")
    ap.add_argument("--tasks", type=int, default=10_000_000)
    ap.add_argument("--qc-items", type=int, default=2_000_000)
    ap.add_argument("--skip", default="publish", help="parts of scale_10m.py to skip (comma-separated)")
    ap.add_argument("--seconds", type=float, default=30, help="the router's run")
    ap.add_argument("--runs", type=int, default=20, help="data manager table requests per query")
    ap.add_argument("--broker-url", default=os.environ.get("LABELFAB_BROKER_URL", "redis://127.0.0.1:6379/6"))
    ap.add_argument("--qc-rounds", type=int, nargs="+", default=[1, 2, 1, 2])
    args = ap.parse_args()

    log(f"scale_10m at {args.tasks:,} tasks")
    big = child_json([str(HERE / "scale_10m.py"), "--pg-url", args.pg_url, "--tasks", str(args.tasks),
                      "--skip", args.skip, "--seconds", str(args.seconds),
                      "--open", str(min(200_000, args.tasks // 5))])  # tasks left open for the router

    log("data manager pages on the same project")
    os.environ.update(LABELFAB_DATA_DIR=tempfile.mkdtemp(prefix="labelfab-scale-dm-"),
                      LABELFAB_DATABASE_URL=args.pg_url, LABELFAB_BROKER_URL="stub://")
    import dm_page

    dm_load = load_average()
    dm = dm_page.measure(big["project_id"], LEAD_EMAIL, LEAD_PASSWORD, args.runs)

    log(f"QC at {args.qc_items:,} items")
    qc = child_json([str(HERE / "qc_scale.py"), "--items", str(args.qc_items), "--broker-url", args.broker_url,
                     "--rounds", *map(str, args.qc_rounds)])

    dm_p95 = max(q["table_p95_ms"] for q in dm.values())
    out = {
        "bench": "scale", "database": "postgresql", "tasks": args.tasks, "cpus": os.cpu_count(),
        "import_tasks_per_s": big["import_tasks_per_s"], "import_load_average": big["import_load_average_before"],
        "next_p50_ms": big.get("next_p50_ms"), "next_p99_ms": big.get("next_p99_ms"),
        "next_server_cpu_ms_per_request": big.get("router_server_cpu_ms_per_request"),
        "next_db_cpu_ms_per_request": big.get("router_db_cpu_ms_per_request"),
        "router_load_average": big.get("router_load_average"),
        "dashboard_cold_ms": big.get("dashboard_cold_ms"), "dashboard_p50_ms": big.get("dashboard_p50_ms"),
        "dm_table_p95_ms_worst_query": dm_p95, "dm_table_p50_ms": {k: v["table_p50_ms"] for k, v in dm.items()},
        "dm_load_average": dm_load,
        "export_jsonl_s": big.get("export_jsonl_s"), "export_parquet_s": big.get("export_parquet_s"),
        "export_server_peak_rss_mb": big.get("export_server_peak_rss_mb"),
        "publish_s": big.get("publish_s"),
        "qc_items": qc["items"], "qc_seconds": qc["seconds_scoring"], "qc_peak_rss_mb": qc["peak_rss_mb"],
        "qc_workers_speedup_run_2_over_1": qc.get("speedup_run_2_over_1"),
        "qc_workers_speedup_folds_2_over_1": qc.get("speedup_folds_2_over_1"),
        "qc_load_average": qc.get("load_average_before_workers"),
        "load_average_start": big["load_average_start"], "load_average_end": load_average(),
    }
    checks = {"import_tasks_per_s": out["import_tasks_per_s"] >= TARGETS["import_tasks_per_s"],
              "next_p99_ms": out["next_p99_ms"] is not None and out["next_p99_ms"] <= TARGETS["next_p99_ms"],
              "dashboard_ms": out["dashboard_cold_ms"] is not None and out["dashboard_cold_ms"] <= TARGETS["dashboard_ms"],
              "dm_table_ms": dm_p95 <= TARGETS["dm_table_ms"],
              "export_s": None not in (out["export_jsonl_s"], out["export_parquet_s"])
              and max(out["export_jsonl_s"], out["export_parquet_s"]) <= TARGETS["export_s"],
              "qc_s": out["qc_seconds"] <= TARGETS["qc_s"], "qc_peak_mb": out["qc_peak_rss_mb"] <= TARGETS["qc_peak_mb"]}
    out["targets"] = TARGETS
    out["met"] = checks
    out["parts"] = {"scale_10m": big, "dm_page": dm, "qc_scale": qc}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
