"""The data manager page at 1,000,000 tasks on PostgreSQL: how long a page with a filter and a
sort takes through the real Flask app.

It empties the database it is given (default ``postgresql://postgres@127.0.0.1:5432/bench_dm``,
created if missing), migrates it, and writes one project of N tasks (default 1,000,000) with
``INSERT ... SELECT generate_series`` (states 40 % labeled, 35 % open, 20 % accepted, 5 %
suspect; ``data`` with a text and a city; an annotation for each labeled, accepted and suspect
task; a QC finding for each suspect), then ANALYZE. A lead logs in through the login form and
asks, 20 times each, for the table (``/projects/P/tasks/_table``, what htmx loads after a sort or
a filter) under several queries, the whole page once per query, and the count (a request of its
own, which the page loads after the table).

Usage::

    python bench/dm_page.py [--tasks 1000000] [--pg-url postgresql://...] [--runs 20]

The last line printed is one JSON object: per query, p50/p95 (ms) of the table and the count,
the page's p50, the CPU time this process spent per table and page request (p50; the machine's
load does not inflate it as it does the wall times), and whether the table met the 300 ms target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import log  # noqa: E402

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
TARGET_MS = 300


def _item(column: str, operator: str, value, type_: str = "String") -> dict:
    return {"filter": f"filter:tasks:{column}", "operator": operator, "type": type_, "value": value}


QUERIES = {
    "state=labeled, newest first": {"filters": {"conjunction": "and", "items": [_item("state", "equal", "labeled")]},
                                    "ordering": ["-tasks:created_at"]},
    "state=suspect, by id descending": {"filters": {"conjunction": "and",
                                                    "items": [_item("state", "equal", "suspect")]},
                                        "ordering": ["-tasks:id"]},
    "data.city=Rome, by updated": {"filters": {"conjunction": "and", "items": [_item("data.city", "equal", "Rome")]},
                                   "ordering": ["tasks:updated_at"]},
    "annotations >= 1 and state=accepted, by id": {
        "filters": {"conjunction": "and", "items": [_item("total_annotations", "greater_or_equal", 1, "Number"),
                                                    _item("state", "equal", "accepted")]},
        "ordering": ["tasks:id"]},
}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))], 1)


def _fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _fill(project_id: int, user_id: int, n: int) -> float:
    """Write the tasks, their annotations and QC findings in bulk; seconds it took."""
    from sqlalchemy import text

    from labeling.db import get_engine

    start = time.perf_counter()
    with get_engine().begin() as conn:
        conn.execute(text("""
            INSERT INTO task (project_id, data, meta, state, priority, requeued, target_overlap, n_annotations,
                              n_skips, n_leases, is_gold, final_label, final_source, created_at, updated_at)
            SELECT :p, json_build_object('text', 'item ' || g, 'city', (ARRAY['Paris','Rome','Oslo','Lima'])[1 + g % 4]),
                   '{}'::json,
                   CASE WHEN g % 20 < 8 THEN 'labeled' WHEN g % 20 < 15 THEN 'open'
                        WHEN g % 20 < 19 THEN 'accepted' ELSE 'suspect' END,
                   0, false, 1, CASE WHEN g % 20 BETWEEN 8 AND 14 THEN 0 ELSE 1 END, 0, 0, false,
                   CASE WHEN g % 20 >= 15 AND g % 20 < 19
                        THEN '[{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]'::json
                        ELSE NULL END,
                   CASE WHEN g % 20 >= 15 AND g % 20 < 19 THEN 'single' ELSE NULL END,
                   now() - make_interval(secs => :n - g), now() - make_interval(secs => (g::bigint * 7919) % :n)
            FROM generate_series(1, :n) AS g"""), {"p": project_id, "n": n})
        conn.execute(text("""
            INSERT INTO annotation (task_id, project_id, user_id, result, was_cancelled, skip_reason, source, version,
                                    lead_time, created_at, updated_at)
            SELECT id, project_id, :u,
                   '[{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]'::json,
                   false, '', 'api', 1, 3.5, created_at, created_at
            FROM task WHERE project_id = :p AND n_annotations = 1"""), {"p": project_id, "u": user_id})
        run_id = conn.execute(text("INSERT INTO quality_run (project_id, status, message, n_items, n_issues, model_name, "
                                   "pred_probs_source, class_names, per_class_noise, confident_joint, agreement, "
                                   "summary, created_at) VALUES (:p, 'done', '', 0, 0, '', '', '[]', '{}', '[]', "
                                   "'{}', '{}', now()) RETURNING id"), {"p": project_id}).scalar_one()
        conn.execute(text("""
            INSERT INTO label_issue (run_id, project_id, task_id, kind, is_issue, given, suggested, consensus, score,
                                     reason)
            SELECT :r, project_id, id, 'label', true, '"pos"', '"neg"', 'null', (id % 100) / 100.0, 'model says neg'
            FROM task WHERE project_id = :p AND state = 'suspect'"""), {"p": project_id, "r": run_id})
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - start


def measure(project_id: int, email: str, password: str, runs: int) -> dict[str, dict]:
    """Per query of :data:`QUERIES`: the table's p50/p95, the count's and the whole page's p50
    (ms) and this process's CPU per request, through the real Flask app (in this process, on the
    database of ``LABELFAB_DATABASE_URL``) for the lead ``email`` logged in with ``password``."""
    from web import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" [^>]*value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.status_code

    base = f"/projects/{project_id}/tasks"
    figures: dict[str, dict] = {}
    for name, query in QUERIES.items():
        q = quote(json.dumps(query))
        times: dict[str, list[float]] = {"table": [], "count": [], "page": []}
        cpu: dict[str, list[float]] = {"table": [], "count": [], "page": []}
        rows = None
        for kind, url, n in (("table", f"{base}/_table?query={q}", runs),
                             ("count", f"{base}/_count?query={q}", max(3, runs // 4)),
                             ("page", f"{base}?query={q}", max(3, runs // 4))):
            for _ in range(n):
                start, start_cpu = time.perf_counter(), time.process_time()
                r = client.get(url)
                times[kind].append((time.perf_counter() - start) * 1000)
                cpu[kind].append((time.process_time() - start_cpu) * 1000)
                assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
                if kind == "table":
                    rows = r.get_data(as_text=True).count('class="dm-select"')
        figures[name] = {"rows": rows, "table_p50_ms": _pct(times["table"], .5),
                         "table_p95_ms": _pct(times["table"], .95), "count_p50_ms": _pct(times["count"], .5),
                         "page_p50_ms": _pct(times["page"], .5),
                         # this process's CPU per request (the app's Python work, the database's
                         # apart): what the wall times above cost when the machine is not shared
                         "table_cpu_p50_ms": _pct(cpu["table"], .5), "page_cpu_p50_ms": _pct(cpu["page"], .5),
                         "met": _pct(times["table"], .95) <= TARGET_MS}
        log(f"{name}: {figures[name]}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_dm")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the tasks an earlier run wrote (migrating the database to head)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-dm-"))
    os.environ.update(LABELFAB_DATA_DIR=str(tmp / "data"), LABELFAB_DATABASE_URL=args.pg_url,
                      LABELFAB_BROKER_URL="stub://")
    if not args.reuse:
        _fresh_database(args.pg_url)

    from sqlmodel import select

    from labeling import migrate, projects, users
    from labeling.db import read_session
    from labeling.models import Project, Role

    migrate.upgrade()
    password = "bench-password-9f3k2"
    if args.reuse:
        lead = users.get_user_by_email("lead@example.com")
        with read_session() as s:
            project = s.exec(select(Project).where(Project.title == "dm bench")).one()
        fill_s = 0.0
    else:
        lead = users.create_user("lead@example.com", role=Role.lead, password=password)
        project = projects.create_project(lead, title="dm bench", label_config=CONFIG)
        log(f"writing {args.tasks} tasks ...")
        fill_s = _fill(project.id, lead.id, args.tasks)
        log(f"written in {fill_s:.1f} s")

    figures = measure(project.id, lead.email, password, args.runs)
    print(json.dumps({"bench": "dm_page", "database": "postgresql", "tasks": args.tasks, "runs": args.runs,
                      "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                      "fill_seconds": round(fill_s, 1), "target_ms": TARGET_MS, "queries": figures,
                      "all_met": all(f["met"] for f in figures.values())}))


if __name__ == "__main__":
    main()
