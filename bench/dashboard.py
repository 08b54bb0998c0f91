"""Dashboard speed: all panels of a big project, served by a real ``labelfab serve``.

A project of 100,000 tasks with 300,000 annotations (submits and skips) from 50 annotators is
inserted in bulk, with its task events, six QC runs (noise, confident joint, annotator scores,
label issues), gold tasks, paused annotators and dataset versions. Then ``labelfab serve``
answers ``GET /api/projects/ID/stats`` (every panel in one call) ``--loads`` times; the figure
is the p50 (target <= 500 ms) and p90 in milliseconds. Also reported: the first (cold) load,
the slowest single panel, and the HTML dashboard page.

Two phases of ``--loads`` loads each: with nothing changing, then with ``--writes`` new
annotations (and the task events of the tasks they complete) committed before every load, as
annotators working meanwhile would; the figures of both are reported, and the first (cold)
load, when every cache of the server process is empty, on its own.

``--agreement run`` (default) stores agreement in the latest QC run, as the QC engine does (the
pairs of annotators come from the agreement job, which the first load queues); ``--agreement
computed`` leaves it out, so all of it comes from the agreement job (stored, never computed in a
request).

Usage::

    python bench/dashboard.py [--tasks 100000] [--annotations 300000] [--annotators 50]
        [--loads 20] [--writes 25] [--pg-url postgresql://postgres@127.0.0.1:5432/scratch]
        [--agreement run|computed] [--keep DIR]

With ``--pg-url`` the database is PostgreSQL (a scratch database: its tables are DROPPED);
otherwise SQLite in a fresh DATA_DIR. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import Server, bench_env, reset_schema

N_CLASSES = 10
CLASSES = [str(d) for d in range(N_CLASSES)]
CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          + "".join(f'<Choice value="{c}"/>' for c in CLASSES) + "</Choices></View>")
DAYS = 30


def _result(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}]


def populate(*, n_tasks: int, n_annotations: int, n_annotators: int, agreement: str = "run", seed: int = 7) -> dict:
    """Insert the bench project in bulk; returns ``{"project", "lead_token", ...}``.

    Runs in this process on the configured database (``LABELFAB_DATABASE_URL`` or SQLite in
    ``LABELFAB_DATA_DIR``), which must be migrated already.
    """
    from datetime import timedelta

    import numpy as np
    import sqlalchemy as sa

    from labeling import projects, users
    from labeling.db import get_engine, utcnow, write_session
    from labeling.models import (
        Annotation,
        AnnotatorScore,
        DatasetVersion,
        LabelIssue,
        Membership,
        QualityRun,
        Role,
        Task,
        TaskEvent,
    )

    rng = np.random.default_rng(seed)
    lead = users.create_user("lead@bench.local", role=Role.lead)
    project = projects.create_project(lead, title="bench dashboard", label_config=CONFIG, overlap=3)
    pid = project.id
    annotators = [users.create_user(f"ann{i:02d}@bench.local", role=Role.annotator).id for i in range(n_annotators)]
    now = utcnow()
    start = now - timedelta(days=DAYS)

    # --- tasks: gold first, then never labeled, partly labeled, fully labeled
    n_gold = min(500, n_tasks // 200)
    n_zero, n_partial = n_tasks // 20, n_tasks // 20
    truth = rng.integers(0, N_CLASSES, n_tasks)
    k = np.full(n_tasks, 3)
    k[:n_gold] = 20
    k[n_gold:n_gold + n_zero] = 0
    k[n_gold + n_zero:n_gold + n_zero + n_partial] = rng.integers(1, 3, n_partial)
    submits = int(k.sum())
    skips_wanted = max(n_annotations - submits, 0)
    if submits > n_annotations:
        raise SystemExit(f"{n_annotations} annotations are too few for {n_tasks} tasks at overlap 3")
    skip = np.zeros(n_tasks, dtype=int)
    skip_tasks = rng.choice(np.arange(n_gold, n_tasks), size=min(skips_wanted, n_tasks - n_gold), replace=False)
    skip[skip_tasks] = 1
    full = np.flatnonzero(k == 3)
    state = np.array(["open"] * n_tasks, dtype=object)
    state[full] = "labeled"
    order = rng.permutation(full)
    cuts = np.cumsum([int(len(full) * f) for f in (0.66, 0.02, 0.03, 0.01)])
    state[order[:cuts[0]]] = "accepted"
    state[order[cuts[0]:cuts[1]]] = "suspect"
    state[order[cuts[1]:cuts[2]]] = "review"
    state[order[cuts[2]:cuts[3]]] = "excluded"
    t_task = np.sort(rng.uniform(0, DAYS * 86400 * 0.98, n_tasks))  # seconds after start: the labeling order
    task_rows = []
    for i in range(n_tasks):
        task_rows.append({
            "project_id": pid, "data": {"image": f"/data/img_{i:06d}.png"}, "meta": {}, "state": state[i],
            "priority": 0.0, "requeued": False, "target_overlap": 20 if i < n_gold else 3,
            "n_annotations": int(k[i]), "n_skips": int(skip[i]), "n_leases": 0, "is_gold": i < n_gold,
            "gold_answer": _result(CLASSES[truth[i]]) if i < n_gold else None,
            "final_label": _result(CLASSES[truth[i]]) if state[i] == "accepted" else None,
            "final_source": "consensus" if state[i] == "accepted" else None,
            "created_at": start, "updated_at": start})
    with write_session() as s:
        for i in range(0, n_tasks, 10_000):
            s.execute(sa.insert(Task.__table__), task_rows[i:i + 10_000])
        first_id = s.execute(sa.select(sa.func.min(Task.id)).where(Task.project_id == pid)).scalar_one()
    task_ids = np.arange(first_id, first_id + n_tasks)

    # --- annotations: annotator j of task i is (r_i + j * step_i) mod n (distinct for j < n)
    accuracy = np.linspace(0.98, 0.6, n_annotators)
    speed = rng.uniform(4.0, 20.0, n_annotators)  # median seconds per item
    steps = np.array([s for s in range(1, n_annotators) if np.gcd(s, n_annotators) == 1])
    r0 = rng.integers(0, n_annotators, n_tasks)
    step = rng.choice(steps, n_tasks)
    per_task = k + skip
    task_of = np.repeat(np.arange(n_tasks), per_task)
    j = np.arange(len(task_of)) - np.repeat(np.cumsum(per_task) - per_task, per_task)
    who = (r0[task_of] + j * step[task_of]) % n_annotators
    cancelled = j >= k[task_of]
    correct = rng.random(len(task_of)) < accuracy[who]
    wrong = (truth[task_of] + rng.integers(1, N_CLASSES, len(task_of))) % N_CLASSES
    label = np.where(correct, truth[task_of], wrong)
    lead_time = np.round(rng.lognormal(np.log(speed[who]), 0.5), 2)
    t_ann = t_task[task_of] + j * 600 + rng.uniform(0, 300, len(task_of))
    t_ann = np.minimum(t_ann, DAYS * 86400 - 60)
    results = [_result(c) for c in CLASSES]
    ann_rows = [{"task_id": int(task_ids[t]), "project_id": pid, "user_id": annotators[w],
                 "result": [] if c else results[lab], "was_cancelled": bool(c), "skip_reason": "",
                 "lead_time": float(lt), "source": "ui", "version": 1,
                 "created_at": start + timedelta(seconds=float(ts)), "updated_at": start + timedelta(seconds=float(ts))}
                for t, w, c, lab, lt, ts in zip(task_of, who, cancelled, label, lead_time, t_ann, strict=True)]
    with write_session() as s:
        for i in range(0, len(ann_rows), 20_000):
            s.execute(sa.insert(Annotation.__table__), ann_rows[i:i + 20_000])
    del ann_rows

    # --- task events: open -> labeled at the third annotation; then the QC outcome a day later
    events = []
    last_ann = t_task + 2 * 600 + 300
    for i in np.flatnonzero(state != "open"):
        t_lab = start + timedelta(seconds=float(min(last_ann[i], DAYS * 86400 - 30)))
        events.append({"task_id": int(task_ids[i]), "project_id": pid, "from_state": "open", "to_state": "labeled",
                       "reason": "3 of 3 annotations", "created_at": t_lab})
        if state[i] != "labeled":
            t_qc = min(t_lab + timedelta(days=1), now - timedelta(minutes=1))
            events.append({"task_id": int(task_ids[i]), "project_id": pid, "from_state": "labeled",
                           "to_state": state[i], "reason": "QC run", "created_at": t_qc})
    with write_session() as s:
        for i in range(0, len(events), 20_000):
            s.execute(sa.insert(TaskEvent.__table__), events[i:i + 20_000])

    # --- six QC runs, every five days; the latest has label issues and (optionally) agreement
    runs = []
    for n_run in range(6):
        noise = 0.14 - 0.015 * n_run
        cj = np.diag(rng.integers(700, 900, N_CLASSES)).astype(float)
        for _ in range(12):
            a, b = rng.choice(N_CLASSES, 2, replace=False)
            cj[a, b] += rng.integers(5, 60)
        runs.append({"project_id": pid, "status": "done", "n_items": int((state != "open").sum()),
                     "n_issues": 5000, "model_name": "logistic_regression", "cv_accuracy": 0.9 + 0.01 * n_run,
                     "pred_probs_source": "features", "noise_rate": noise, "class_names": CLASSES,
                     "per_class_noise": {c: round(noise * rng.uniform(0.5, 1.5), 4) for c in CLASSES},
                     "confident_joint": cj.tolist(), "agreement": {}, "summary": {},
                     "created_at": start + timedelta(days=5 * (n_run + 1) - 0.1),
                     "finished_at": start + timedelta(days=5 * (n_run + 1))})
    if agreement == "run":
        runs[-1]["agreement"] = _agreement_like(rng, annotators)
    with write_session() as s:
        run_ids = [s.execute(sa.insert(QualityRun.__table__).returning(QualityRun.id), r).scalar_one() for r in runs]
        scores = [{"run_id": rid, "project_id": pid, "user_id": u, "n_items": int((who == n).sum()),
                   "agreement": float(accuracy[n] * 0.95), "quality": float(accuracy[n] * 0.9)}
                  for rid in run_ids for n, u in enumerate(annotators)]
        s.execute(sa.insert(AnnotatorScore.__table__), scores)
        issue_tasks = rng.choice(full, 5000, replace=False)
        issues = []
        for i in issue_tasks:
            given = int((truth[i] + rng.integers(1, 3)) % N_CLASSES)
            issues.append({"run_id": run_ids[-1], "project_id": pid, "task_id": int(task_ids[i]), "kind": "label",
                           "is_issue": True, "given": CLASSES[given], "suggested": CLASSES[truth[i]],
                           "consensus": CLASSES[given], "score": float(rng.uniform(0, 0.3)),
                           "reason": f"labelled {CLASSES[given]!r}; model says {CLASSES[truth[i]]!r}"})
        s.execute(sa.insert(LabelIssue.__table__), issues)
        s.execute(sa.insert(Membership.__table__), [
            {"project_id": pid, "user_id": u, "role": "annotator", "created_at": start,
             "paused_at": now - timedelta(days=1) if n >= n_annotators - 3 else None,
             "paused_reason": "gold accuracy below 0.7" if n >= n_annotators - 3 else ""}
            for n, u in enumerate(annotators)])
        s.execute(sa.insert(DatasetVersion.__table__), [
            {"project_id": pid, "number": v + 1, "sha256": f"{v:064x}", "note": f"release {v + 1}",
             "manifest": {}, "n_items": 20_000 * (v + 1), "noise_rate": 0.02 - 0.005 * v, "path": "",
             "created_by": lead.id, "created_at": start + timedelta(days=10 * (v + 1) - 1)} for v in range(3)])
    if get_engine().dialect.name == "postgresql":
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with get_engine().begin() as c:
            c.exec_driver_sql("ANALYZE")
    return {"project": pid, "lead_token": users.create_token(lead.id), "annotation_rows": int(len(task_of)),
            "tasks": n_tasks, "annotators": n_annotators, "annotator_ids": annotators,
            "unlabeled": [int(t) for t in task_ids[k == 0][skip[k == 0] == 0]]}


class Annotators:
    """Annotations arriving while the dashboard is loaded: ``step()`` submits ``n`` of them (and
    the task events of the tasks they complete) in one transaction, as the router would."""

    def __init__(self, info: dict, n: int):
        import sqlalchemy as sa

        from labeling.db import read_session
        from labeling.models import Annotation

        with read_session() as s:  # tasks nobody has annotated yet (also after an earlier run with --keep)
            done = set(s.execute(sa.select(Annotation.task_id).where(
                Annotation.project_id == info["project"], Annotation.task_id.in_(info["unlabeled"]))).scalars())
        self.info, self.n, self.turn = info, n, 0
        self.free = [t for t in info["unlabeled"] if t not in done]

    def step(self) -> None:
        import sqlalchemy as sa

        from labeling.db import utcnow, write_session
        from labeling.models import Annotation, TaskEvent

        now = utcnow()
        rows, events = [], []
        for _ in range(self.n):
            task = self.free.pop()
            user = self.info["annotator_ids"][self.turn % len(self.info["annotator_ids"])]
            self.turn += 1
            rows.append({"task_id": task, "project_id": self.info["project"], "user_id": user,
                         "result": _result(CLASSES[task % N_CLASSES]), "was_cancelled": False, "skip_reason": "",
                         "lead_time": 5.0 + task % 17, "source": "ui", "version": 1, "created_at": now,
                         "updated_at": now})
            events.append({"task_id": task, "project_id": self.info["project"], "from_state": "open",
                           "to_state": "labeled", "reason": "bench", "created_at": now})
        with write_session() as s:
            s.execute(sa.insert(Annotation.__table__), rows)
            s.execute(sa.insert(TaskEvent.__table__), events)


def _agreement_like(rng, annotators: list[int]) -> dict:
    """Agreement as the QC engine stores it (quality.run.classification): alpha, per class, unanimity, each
    annotator's mean kappa (the figures are made up; the shape is what matters). Pairs of
    annotators are not stored: the agreement job computes and stores them."""
    return {"n_items_multi": 90_000, "krippendorff_alpha": 0.71, "unanimous_share": 0.55,
            "krippendorff_alpha_per_class": {c: round(float(rng.uniform(0.6, 0.85)), 4) for c in CLASSES},
            "mean_pairwise_kappa": 0.66,
            "kappa_by_annotator": {str(a): round(float(rng.uniform(0.4, 0.9)), 4) for a in annotators}}


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


def _timed_loads(session, url: str, loads: int, before=None) -> tuple[list[float], list[float], dict]:
    """``loads`` GETs of ``url``: client milliseconds, server compute milliseconds, last body."""
    times, server, body = [], [], {}
    for _ in range(loads):
        if before is not None:
            before()
        t = time.perf_counter()
        r = session.get(url, timeout=300)
        elapsed = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        body = r.json()
        times.append(elapsed)
        server.append(body["seconds"] * 1000)
    return times, server, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=300_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--writes", type=int, default=25, help="annotations submitted before each load of phase 2")
    parser.add_argument("--pg-url", default="")
    parser.add_argument("--agreement", choices=["run", "computed"], default="run")
    parser.add_argument("--keep", default="", help="keep the populated data in this folder (reused when it has one)")
    args = parser.parse_args()

    import requests

    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="labelfab-bench-dash-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(data_dir, args.pg_url)
    os.environ.clear()
    os.environ.update(env)
    info_file = data_dir / "bench-info.json"
    populate_s = None
    if args.keep and info_file.exists():
        info = json.loads(info_file.read_text())
    else:
        if args.pg_url:
            reset_schema(env)
        from labeling import migrate

        migrate.upgrade()
        t0 = time.perf_counter()
        info = populate(n_tasks=args.tasks, n_annotations=args.annotations, n_annotators=args.annotators,
                        agreement=args.agreement)
        populate_s = round(time.perf_counter() - t0, 1)
        info_file.write_text(json.dumps(info))
        print(f"populated {info['tasks']} tasks, {info['annotation_rows']} annotations in {populate_s} s",
              file=sys.stderr)
    from labeling.db import dispose_engines

    dispose_engines()
    server = Server(env, log_path=data_dir / "server.log")
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {info['lead_token']}"
        url = server.url
        stats_url = f"{url}/api/projects/{info['project']}/stats"
        first, _, body = _timed_loads(session, stats_url, 1)  # cold: every cache of the process empty
        empty = [name for name, p in body["panels"].items() if not p["rows"]]
        static, static_server, _ = _timed_loads(session, stats_url, args.loads)
        writer = Annotators(info, args.writes)
        writes, writes_server, _ = _timed_loads(session, stats_url, args.loads, before=writer.step)
        panel_ms = {}
        for name in body["panels"]:
            t = time.perf_counter()
            session.get(f"{stats_url}/{name}", timeout=60).raise_for_status()
            panel_ms[name] = round((time.perf_counter() - t) * 1000, 1)
        page = session.get(f"{url}/api/projects/{info['project']}/stats/annotators.csv", timeout=60)
        page.raise_for_status()
    finally:
        server.stop()
    try:
        load = round(os.getloadavg()[0], 1)
    except OSError:
        load = None
    result = {
        "bench": "dashboard",
        "database": "postgresql" if args.pg_url else "sqlite",
        "tasks": info["tasks"], "annotations": info["annotation_rows"], "annotators": info["annotators"],
        "agreement": args.agreement, "loads": args.loads,
        "all_panels_p50_ms": round(statistics.median(static), 1),
        "all_panels_p90_ms": round(_percentile(static, 0.9), 1),
        "with_writes_p50_ms": round(statistics.median(writes), 1),
        "with_writes_p90_ms": round(_percentile(writes, 0.9), 1),
        "writes_per_load": args.writes,
        "server_compute_p50_ms": round(statistics.median(static_server), 1),
        "server_compute_with_writes_p50_ms": round(statistics.median(writes_server), 1),
        "first_load_cold_ms": round(first[0], 1),
        "slowest_panel": max(panel_ms, key=panel_ms.get), "slowest_panel_ms": max(panel_ms.values()),
        "panels_without_rows": empty,
        "target_p50_ms": 500,
        "ok": statistics.median(static) <= 500 and statistics.median(writes) <= 500,
        "populate_s": populate_s,
        "load_average_1m": load,
    }
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
