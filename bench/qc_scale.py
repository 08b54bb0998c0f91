"""QC at scale: 2,000,000 items with 64-d embeddings and 10 classes, scored fold by fold.

1. Generates the items (Gaussian classes, ``--noise`` of the labels flipped at random to another
   class: the known noise) straight into a QC batch folder, a chunk at a time
   (``quality.batched``: the out-of-core features the fan-out writes from ``data.embedding``).
2. Scores them in one child process: every fold (``batched.run_fold``) and the gather
   (``batched.gather``: cleanlab's batched label-issue finder). Reports the seconds, the
   child's peak RSS, and the precision and recall of the flagged items against the flips.
3. The speed-up of two worker processes over one: real ``labelfab worker`` processes (one command
   per process, each in its own session as on its own machine; ``--one-command``: one command
   with ``--processes 2``, whose processes share one session's CPU share on a busy Linux) on the
   broker of ``--broker-url`` (Redis) and the database of ``--database-url`` (PostgreSQL; else
   SQLite in a fresh data folder) run the fold jobs of the same batch, queued by the fan-out's
   ``quality.run.fanout.queue_folds`` for a project of the bench; the fold that completes the set
   queues the gather, which stores the run (the batch's task ids are synthetic: the store leaves
   out ids that are not the project's tasks, so it stores the run and its policy only). Reports
   the seconds until every fold is done and until the gather is done, for 1 and 2 processes, in
   alternating rounds (medians; each round's workers first score a 2,000-item warm-up batch, as
   long-lived workers have their libraries loaded), how many folds ran at once (``parallelism``) and the worker
   processes' CPU seconds (the same work either way: what two processes save is wall time).

Usage::

    python bench/qc_scale.py [--items 2000000] [--dim 64] [--classes 10] [--noise 0.1]
        [--broker-url redis://127.0.0.1:6379/6] [--database-url postgresql://...] [--skip-workers]

Progress goes to stderr; the last line on stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import BIN, cpu_seconds, hwm_kib, load_average, log, process_tree  # noqa: E402

CHUNK = 100_000
WARM_ITEMS = 2000  # the warm-up batch each round's workers score before the measured one

_SCORE = """
import json, resource, sys, time
import numpy as np
from quality import batched
root = sys.argv[1]
flipped = np.load(sys.argv[2])
lay = batched.Layout.open(root)
t0 = time.perf_counter()
for k in range(lay.n_folds):
    batched.run_fold(root, k)
t1 = time.perf_counter()
found = batched.gather(root)
t2 = time.perf_counter()
m = found["is_label_issue"]
hit = int((m & flipped).sum())
print(json.dumps({
    "seconds_folds": round(t1 - t0, 2), "seconds_gather": round(t2 - t1, 2),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "cpu_seconds_scoring": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2),
    "n_issues": int(m.sum()), "precision": round(hit / max(int(m.sum()), 1), 4),
    "recall": round(hit / max(int(flipped.sum()), 1), 4), "noise_rate_estimated": round(found["noise_rate"], 4),
    "cv_accuracy": round(found["cv_accuracy"], 4)}))
"""


def generate(root: Path, *, n: int, dim: int, k: int, noise: float, seed: int) -> np.ndarray:
    """The items into a batch folder, a chunk at a time; returns the mask of flipped labels."""
    from quality import batched

    rng = np.random.default_rng(seed)
    centers = (rng.normal(size=(k, dim)) * 0.6).astype(np.float32)
    lay, fx = batched.create(root, n=n, dim=dim, n_classes=k, n_folds=5, seed=seed)
    given = np.empty(n, dtype=np.int64)
    flipped = np.empty(n, dtype=bool)
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        truth = rng.integers(k, size=b - a)
        fx[a:b] = centers[truth] + rng.standard_normal(size=(b - a, dim), dtype=np.float32)
        f = rng.random(b - a) < noise
        g = truth.copy()
        g[f] = (truth[f] + rng.integers(1, k, size=int(f.sum()))) % k
        given[a:b] = g
        flipped[a:b] = f
    batched.finish(lay, fx, given)
    return flipped


def score_in_child(root: Path, flipped_path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _SCORE, str(root), str(flipped_path)], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _link_batch(src: Path, dst: Path, n: int, user_id: int) -> None:
    """A round's batch folder: the generated files linked, its own task ids and annotators."""
    dst.mkdir(parents=True)
    for name in ("features.f32", "labels.npy", "folds.npy", "meta.json"):
        os.link(src / name, dst / name)
    np.save(dst / "task_ids.npy", np.arange(1, n + 1, dtype=np.int64) + 10**12)  # no such tasks
    np.save(dst / "users.npy", np.full(n, user_id, dtype=np.int64))


def worker_rounds(work: Path, src: Path, n: int, dim: int, k: int, rounds: tuple[int, ...], *, separate: bool = True) -> dict:
    """Run the batch's fold jobs with 1, then 2 ``labelfab worker`` processes; seconds of each.

    ``separate``: each process is its own ``labelfab worker`` command (its own session, as on
    its own machine); else one command with ``--processes N``."""
    from sqlmodel import select

    from labeling import migrate, projects, users
    from labeling.db import read_session, utcnow, write_session
    from labeling.models import Job, JobStatus, QCBatch, Role
    from labeling.settings import get_settings
    from quality.run.fanout import queue_folds

    migrate.upgrade()
    lead = users.create_user("bench@example.com", role=Role.lead, password="bench-password")
    config = ("<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\">"
              + "".join(f"<Choice value=\"c{c}\"/>" for c in range(k)) + "</Choices></View>")
    out: dict = {}
    for i, n_proc in enumerate(rounds):
        rel = f"qc/bench-{i}"
        _link_batch(src, get_settings().shared_root / rel, n, lead.id)
        project = projects.create_project(lead, title=f"qc scale {i}: {n_proc} worker process(es)", label_config=config)
        warm_rel = f"qc/warm-{i}"
        generate(get_settings().shared_root / warm_rel, n=WARM_ITEMS, dim=dim, k=k, noise=0.1, seed=i)
        np.save(get_settings().shared_root / warm_rel / "task_ids.npy", np.arange(1, WARM_ITEMS + 1) + 10**12)
        np.save(get_settings().shared_root / warm_rel / "users.npy", np.full(WARM_ITEMS, lead.id, dtype=np.int64))
        warm_project = projects.create_project(lead, title=f"qc scale {i}: warm-up", label_config=config)
        # one ``labelfab worker`` command per process, each in its own session: as on separate
        # machines. Linux's autogroup scheduling gives every session one equal share of a busy
        # machine, so the processes of ONE command (one session) share one share between them.
        procs, logs = [], []
        for count in [1] * n_proc if separate else [n_proc]:
            log_file = open(work / f"worker-{i}-{len(procs)}.log", "w")  # noqa: SIM115
            logs.append(log_file)
            procs.append(subprocess.Popen(
                [str(BIN / "labelfab"), "worker", "--processes", str(count), "--threads", "1"], stdout=log_file,
                stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True, cwd=ROOT))
        deadline = time.monotonic() + 180  # each worker process loads the registry's handlers first
        while sum(Path(f.name).read_text().count("ready for action") for f in logs) < n_proc:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"the worker did not start; see {work}")
            time.sleep(0.5)
        tree = [q for p in procs for q in process_tree(p.pid)]
        try:
            # a warm-up batch first, through the same processes (scikit-learn imported, the code
            # loaded): long-lived workers pay that once, not per run
            for label, folder, owner, size in (("warm-up", warm_rel, warm_project, WARM_ITEMS), ("run", rel, project, n)):
                cpu0 = cpu_seconds(tree)
                with write_session() as s:
                    parent = Job(kind="qc", queue="quality", project_id=owner.id, status=JobStatus.done,
                                 result={"status": "fanned_out"}, finished_at=utcnow())
                    s.add(parent)
                    s.flush()
                    batch_id = queue_folds(s, project_id=owner.id, job_id=parent.id, folder=folder,
                                           meta={"class_names": [f"c{c}" for c in range(k)], "notes": [],
                                                 "n_unlabeled": 0, "n_prelabel_skipped": 0, "n_annotations": size,
                                                 "started": utcnow().isoformat()})
                t0 = time.perf_counter()
                folds_s = gather_s = None
                peak = 0
                while gather_s is None:
                    time.sleep(0.25)
                    tree = sorted({*tree, *(q for p in procs for q in process_tree(p.pid))})
                    peak = max([peak, *(hwm_kib(p) for p in tree)])
                    cpu = cpu_seconds(tree) - cpu0
                    with read_session() as s:
                        batch = s.get(QCBatch, batch_id)
                        statuses = s.exec(select(Job.status).where(Job.project_id == owner.id,
                                                                   Job.kind.in_(["qc_fold", "qc_gather"]))).all()
                        gather = s.get(Job, batch.gather_job_id) if batch.gather_job_id else None
                    if JobStatus.failed in statuses:
                        raise RuntimeError(f"a job failed; see the worker logs in {work}")
                    if folds_s is None and batch.gather_job_id is not None:
                        folds_s = time.perf_counter() - t0
                        log(f"{n_proc} worker process(es), {label}: folds done in {folds_s:.1f} s")
                    if gather is not None and gather.status == JobStatus.done:
                        gather_s = time.perf_counter() - t0 - folds_s
                        log(f"{n_proc} worker process(es), {label}: gather done in {gather_s:.1f} s")
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p, f in zip(procs, logs, strict=True):
                p.wait(60)
                f.close()
        with read_session() as s:
            spans = s.exec(select(Job.started_at, Job.finished_at).where(Job.project_id == project.id,
                                                                        Job.kind == "qc_fold")).all()
        busy = sum((b - a).total_seconds() for a, b in spans)
        out.setdefault(n_proc, []).append({
            "seconds_folds": round(folds_s, 2), "seconds_gather": round(gather_s, 2),
            "peak_rss_mb_per_process": round(peak / 1024, 1), "load_average": load_average(),
            "worker_cpu_seconds": round(cpu, 1),
            # how many folds ran at once on average: the fold jobs' summed run time over the fold phase
            "parallelism": round(busy / folds_s, 2)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--broker-url", default=os.environ.get("LABELFAB_BROKER_URL", "redis://127.0.0.1:6379/6"))
    parser.add_argument("--database-url", default="", help="PostgreSQL (emptied); default SQLite in a fresh folder")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--one-command", action="store_true",
                        help="N processes as one `labelfab worker --processes N` (one session) instead of N commands")
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 2, 1, 2],
                        help="worker processes of each round, in order (alternated: the machine's load drifts)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="labelfab-qc-scale-"))
    os.environ.update({"LABELFAB_DATA_DIR": str(work / "data"), "LABELFAB_SHARED_DIR": str(work / "shared"),
                       "LABELFAB_BROKER_URL": args.broker_url})
    os.environ.pop("LABELFAB_DATABASE_URL", None)
    if args.database_url:
        os.environ["LABELFAB_DATABASE_URL"] = args.database_url
    try:
        src = work / "shared" / "qc" / "bench"
        log(f"generating {args.items:,} items ({args.dim}-d, {args.classes} classes, {args.noise:.0%} flipped)")
        t0 = time.perf_counter()
        flipped = generate(src, n=args.items, dim=args.dim, k=args.classes, noise=args.noise, seed=args.seed)
        write_s = time.perf_counter() - t0
        np.save(work / "flipped.npy", flipped)
        log(f"written in {write_s:.1f} s; scoring in one process")
        scored = score_in_child(src, work / "flipped.npy")
        log(json.dumps(scored))
        figures: dict = {
            "items": args.items, "dim": args.dim, "classes": args.classes, "noise_true": round(float(flipped.mean()), 4),
            "seconds_write_features": round(write_s, 2),
            "seconds_scoring": round(scored["seconds_folds"] + scored["seconds_gather"], 2),
            **scored, "load_average_before_workers": load_average(),
        }
        if not args.skip_workers:
            if args.database_url:
                from labeling.db import get_engine

                with get_engine().begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            rounds = worker_rounds(work, src, args.items, args.dim, args.classes, tuple(args.rounds),
                                   separate=not args.one_command)

            def median(n_proc: int, key: str) -> float:
                return round(float(np.median([r[key] for r in rounds[n_proc]])), 2)

            figures.update({
                "rounds": {str(k): v for k, v in rounds.items()},
                "workers_1_seconds_folds": median(1, "seconds_folds"),
                "workers_2_seconds_folds": median(2, "seconds_folds"),
                "workers_1_seconds_gather": median(1, "seconds_gather"),
                "workers_2_seconds_gather": median(2, "seconds_gather"),
                "workers_2_parallelism": median(2, "parallelism"),
                "worker_peak_rss_mb": max(r["peak_rss_mb_per_process"] for v in rounds.values() for r in v),
                "speedup_folds_2_over_1": round(median(1, "seconds_folds") / median(2, "seconds_folds"), 2),
                "speedup_run_2_over_1": round(
                    (median(1, "seconds_folds") + median(1, "seconds_gather"))
                    / (median(2, "seconds_folds") + median(2, "seconds_gather")), 2),
                "workers_1_cpu_seconds": median(1, "worker_cpu_seconds"),
                "workers_2_cpu_seconds": median(2, "worker_cpu_seconds"),
                "worker_commands": "one per process" if not args.one_command else "one with --processes N",
                "broker": args.broker_url.split("://")[0], "database": "postgresql" if args.database_url else "sqlite",
            })
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
