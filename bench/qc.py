"""The QC engine end to end, as a data lead uses it; prints one JSON line of figures last.

Everything goes through the product: projects are created with :mod:`labeling.projects`,
data come in through :func:`labeling.imports.import_data` (an ImageFolder of PNG files, a JSON
body), annotators label through :func:`labeling.annotations.submit`, and every QC run is a
``qc`` job (:func:`quality.run.skeleton.start_qc` + the job system), whose stored results
(``LabelIssue``, ``AnnotatorScore``, ``QualityRun``) are what is measured.

1. Label errors on images: scikit-learn's digits (1,797) rendered as 32x32 PNG files, imported
   as an ImageFolder whose folder names carry 10% (then 20%) labels flipped at random to another
   class; precision, recall and F1 of the flagged tasks against the flips (target F1 >= 0.90 at
   10%), and the estimated noise rate against the true one (target: within 2 points).
2. Label errors on text: a project of our own making -- 1,600 short texts on four topics that
   share a common vocabulary (and some words across topics), 10% of labels flipped; F1 and the
   noise estimate.
3. Consensus: the same digits, unlabeled, labeled by five simulated annotators of accuracy
   0.95, 0.85, 0.75, 0.60 and 0.50, three of them per item (overlap 3); the accuracy of the
   CROWDLAB consensus the run stores (target >= 0.97; majority vote and Dawid-Skene on the same
   labels for comparison) and whether the stored annotator quality ranks them in true order.
4. Scale: 100,000 labeled items with 64-dimensional embeddings and 10 classes (10% flipped),
   imported as JSON; ``labelfab qc run ID --wait`` in a child process: seconds of the QC run
   (load, pred_probs, scoring, saving), of the whole job (which also applies the QC policy
   in the same transaction) and of the command, and the command's peak RSS (targets
   <= 60 s and <= 1 GB). Bare cleanlab on the same
   arrays (cross-validated logistic regression + ``find_label_issues``) is timed in this process
   and ``overhead_ratio`` = labelfab run seconds / bare cleanlab seconds.
5. ``--million``: a project of 1,000,000 labeled tasks (written with bulk SQL, not the importer):
   the run must end at once with a clear message, not exhaust memory.

Usage: python bench/qc.py [--seed 0] [--scale-items 100000] [--skip-scale] [--million]
                          [--parts digits,text,consensus,scale]
(``LABELFAB_BENCH_DATABASE_URL`` runs it on PostgreSQL; default: SQLite in a temporary DATA_DIR.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ANNOTATOR_ACCURACY as ANNOTATORS
from common import BIN, ROOT, flip_labels, log, save_digit_png

TMP = Path(tempfile.mkdtemp(prefix="labelfab-bench-qc-"))
os.environ["LABELFAB_DATA_DIR"] = str(TMP / "data")
os.environ["LABELFAB_DATABASE_URL"] = os.environ.get("LABELFAB_BENCH_DATABASE_URL", "")
os.environ["LABELFAB_BROKER_URL"] = "stub://"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import select  # noqa: E402

from labeling import annotations, imports, jobs, migrate, projects, users  # noqa: E402
from labeling.db import get_engine, read_session  # noqa: E402
from labeling.models import AnnotatorScore, LabelIssue, QualityRun, Role, Task, User  # noqa: E402
from quality.run.skeleton import start_qc  # noqa: E402

DIGITS = ("<View><Image name=\"image\" value=\"$image\"/><Choices name=\"digit\" toName=\"image\">"
          + "".join(f'<Choice value="{d}"/>' for d in range(10)) + "</Choices></View>")
TOPICS = ("sport", "cooking", "finance", "travel")
TEXT = ("<View><Text name=\"text\" value=\"$text\"/><Choices name=\"topic\" toName=\"text\">"
        + "".join(f'<Choice value="{t}"/>' for t in TOPICS) + "</Choices></View>")
EMBED = ("<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\">"
         + "".join(f'<Choice value="c{k}"/>' for k in range(10)) + "</Choices></View>")


def prf(flagged: set[int], truth: set[int]) -> tuple[float, float, float]:
    tp = len(flagged & truth)
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_job(admin: User, project_id: int) -> tuple[dict, QualityRun, float]:
    """A QC run through the job system (the stub broker's job, executed here)."""
    t = time.perf_counter()
    job, _ = start_qc(admin, project_id)
    jobs.execute(job.id)
    seconds = time.perf_counter() - t
    done = jobs.get_job(job.id)
    if done.status != "done":
        raise SystemExit(f"QC job {job.id} failed: {done.message}")
    with read_session() as s:
        run = s.get(QualityRun, done.result["run"])
    return done.result, run, seconds


def flagged_tasks(run_id: int) -> dict[int, LabelIssue]:
    with read_session() as s:
        return {li.task_id: li for li in s.exec(select(LabelIssue).where(
            LabelIssue.run_id == run_id, LabelIssue.kind == "label"))}


def task_files(project_id: int) -> dict[int, str]:
    with read_session() as s:
        return dict(s.execute(sa.select(Task.id, Task.file_name).where(Task.project_id == project_id)).all())


def render_digits(folder: Path, labels: np.ndarray | None) -> np.ndarray:
    """The digits as 32x32 PNG files (ink bright on dark, as bench/qc_core.py renders them), in
    ``folder/<label>/`` when labels are given (ImageFolder), else flat; returns the true labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, im in enumerate(digits.images):
        target = folder / str(int(labels[i])) if labels is not None else folder
        target.mkdir(parents=True, exist_ok=True)
        save_digit_png(im, target / f"digit_{i:04d}.png")
    return digits.target.astype(np.int64)


def digit_index(file_name: str) -> int:
    return int(Path(file_name).stem.split("_")[1])


# --------------------------------------------------------------------------- 1. digits


def label_errors_digits(admin: User, seed: int) -> dict:
    from sklearn.datasets import load_digits

    y = load_digits().target.astype(np.int64)
    out: dict = {}
    for rate in (0.10, 0.20):
        tag = int(rate * 100)
        noisy = flip_labels(y, rate, 10, seed)
        truth = set(np.flatnonzero(noisy != y).tolist())
        folder = TMP / f"digits{tag}"
        render_digits(folder, noisy)
        pid = projects.create_project(admin, title=f"digits {tag}% flipped", label_config=DIGITS).id
        t = time.perf_counter()
        result = imports.import_data(admin, pid, paths=[folder])
        import_s = time.perf_counter() - t
        res, run, seconds = run_job(admin, pid)
        files = task_files(pid)
        issues = flagged_tasks(run.id)
        flagged = {digit_index(files[tid]) for tid, li in issues.items() if li.is_issue}
        p, r, f = prf(flagged, truth)
        out.update({f"digits_f1_{tag}": round(f, 4), f"digits_precision_{tag}": round(p, 4),
                    f"digits_recall_{tag}": round(r, 4), f"digits_noise_est_{tag}": round(run.noise_rate, 4),
                    f"digits_noise_true_{tag}": round(len(truth) / y.size, 4),
                    f"digits_model_{tag}": run.model_name, f"digits_cv_accuracy_{tag}": round(run.cv_accuracy, 4),
                    f"digits_qc_seconds_{tag}": round(seconds, 1)})
        log(f"digits {tag}%: imported {result.task_count} in {import_s:.1f}s; QC {seconds:.1f}s with {run.model_name} "
            f"(CV acc {run.cv_accuracy:.3f}, {run.pred_probs_source}); P {p:.3f} R {r:.3f} F1 {f:.3f}; "
            f"noise {run.noise_rate:.4f} vs {len(truth) / y.size:.4f}")
    return out


# --------------------------------------------------------------------------- 2. text


def make_texts(n_per_topic: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Short texts on four topics: 4 topic words, half the time 1 word of another topic, and 4
    common words; the words are made-up syllable strings, so no outside knowledge helps."""
    rng = np.random.default_rng(seed)
    syll = ["ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze", "ba", "do", "fi", "gu"]

    def words(n: int, salt: int) -> list[str]:
        r = np.random.default_rng(seed * 100 + salt)
        out: set[str] = set()
        while len(out) < n:
            out.add("".join(r.choice(syll, size=int(r.integers(2, 4)))))
        return sorted(out)

    vocab = {t: words(40, i) for i, t in enumerate(TOPICS)}
    common = words(300, 99)
    texts, labels = [], []
    for k, topic in enumerate(TOPICS):
        for _ in range(n_per_topic):
            other = TOPICS[(k + int(rng.integers(1, 4))) % 4]
            w = list(rng.choice(vocab[topic], 4)) + list(rng.choice(common, 4))
            if rng.random() < 0.5:
                w.append(rng.choice(vocab[other]))
            rng.shuffle(w)
            texts.append(" ".join(w))
            labels.append(k)
    return texts, np.asarray(labels)


def label_errors_text(admin: User, seed: int) -> dict:
    texts, y = make_texts(400, seed)
    noisy = flip_labels(y, 0.10, 4, seed)
    truth = set(np.flatnonzero(noisy != y).tolist())
    pid = projects.create_project(admin, title="topics 10% flipped", label_config=TEXT).id
    rows = [{"data": {"text": t, "n": i}, "annotations": [{"result": [
        {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [TOPICS[noisy[i]]]}}]}]}
        for i, t in enumerate(texts)]
    result = imports.import_data(admin, pid, body=rows, return_task_ids=True, background=False)
    position = {tid: i for i, tid in enumerate(result.task_ids)}
    res, run, seconds = run_job(admin, pid)
    flagged = {position[tid] for tid, li in flagged_tasks(run.id).items() if li.is_issue}
    p, r, f = prf(flagged, truth)
    log(f"text 10%: QC {seconds:.1f}s with {run.model_name} (CV acc {run.cv_accuracy:.3f}); P {p:.3f} R {r:.3f} "
        f"F1 {f:.3f}; noise {run.noise_rate:.4f} vs {len(truth) / y.size:.4f}")
    return {"text_f1_10": round(f, 4), "text_precision_10": round(p, 4), "text_recall_10": round(r, 4),
            "text_noise_est_10": round(run.noise_rate, 4), "text_noise_true_10": round(len(truth) / y.size, 4),
            "text_model": run.model_name, "text_qc_seconds": round(seconds, 1)}


# --------------------------------------------------------------------------- 3. consensus


def consensus(admin: User, seed: int) -> dict:
    from quality.agreement import dawid_skene, majority_vote

    folder = TMP / "digits-unlabeled"
    y = render_digits(folder, None)
    pid = projects.create_project(admin, title="digits, five annotators", label_config=DIGITS, overlap=3).id
    imports.import_data(admin, pid, paths=[folder])
    files = task_files(pid)
    task_of = {digit_index(name): tid for tid, name in files.items()}
    people = [users.create_user(f"annotator{j}@bench.local", role=Role.annotator) for j in range(len(ANNOTATORS))]
    rng = np.random.default_rng(seed + 1)
    acc = np.asarray(ANNOTATORS)
    L = np.full((y.size, acc.size), np.nan)
    t = time.perf_counter()
    for i in range(y.size):
        for a in rng.choice(acc.size, 3, replace=False):
            label = y[i] if rng.random() < acc[a] else (y[i] + rng.integers(1, 10)) % 10
            L[i, a] = label
            annotations.submit(task_of[i], people[a], result=[
                {"from_name": "digit", "to_name": "image", "type": "choices", "value": {"choices": [str(label)]}}])
    log(f"consensus: {3 * y.size} annotations submitted in {time.perf_counter() - t:.1f}s")
    res, run, seconds = run_job(admin, pid)
    issues = flagged_tasks(run.id)
    consensus_label = np.asarray([int(issues[task_of[i]].consensus) for i in range(y.size)])
    with read_session() as s:
        quality = dict(s.execute(sa.select(AnnotatorScore.user_id, AnnotatorScore.quality)
                                 .where(AnnotatorScore.run_id == run.id)).all())
    q = np.asarray([quality[p.id] for p in people])
    mv, _ = majority_vote(L, n_classes=10, seed=seed)
    ds = dawid_skene(L, n_classes=10)
    out = {"consensus_acc": round(float(np.mean(consensus_label == y)), 4),
           "consensus_majority_acc": round(float(np.mean(mv == y)), 4),
           "consensus_dawid_skene_acc": round(float(np.mean(ds["labels"] == y)), 4),
           "annotator_ranking_ok": bool(np.array_equal(np.argsort(-q), np.argsort(-acc))),
           "annotator_quality": [round(float(v), 3) for v in q],
           "consensus_model": run.model_name, "consensus_qc_seconds": round(seconds, 1),
           "krippendorff_alpha": run.agreement.get("krippendorff_alpha")}
    log(f"consensus: CROWDLAB {out['consensus_acc']} (model {run.model_name}), majority {out['consensus_majority_acc']}, "
        f"Dawid-Skene {out['consensus_dawid_skene_acc']}; quality {out['annotator_quality']} "
        f"(true {list(ANNOTATORS)}), ranking ok {out['annotator_ranking_ok']}; QC {seconds:.1f}s")
    return out


# --------------------------------------------------------------------------- 4. scale


def child_env() -> dict:
    return {**os.environ, "LABELFAB_DATABASE_URL": os.environ["LABELFAB_DATABASE_URL"]}


# A small parent for the measured command: a child's ru_maxrss counts what it had before exec(),
# i.e. the forking process's pages, so forking from this (large) bench would inflate the figure.
_SPAWN = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess, float, float]:
    """``labelfab ARGS`` in a child process: (completed, seconds, peak RSS of that command in MB)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _SPAWN, str(BIN / "labelfab"), *args], env=child_env(),
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return proc, seconds, peak_kb / 1024


def scale(admin: User, n: int, seed: int) -> dict:
    import cleanlab.filter
    import cleanlab.rank
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    k, d = 10, 64
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = ((rng.normal(size=(k, d)) * 0.5)[y] + rng.normal(size=(n, d))).astype(np.float32)
    noisy = flip_labels(y, 0.10, k, seed)
    pid = projects.create_project(admin, title=f"scale {n} embeddings", label_config=EMBED).id
    t = time.perf_counter()
    rows = [{"data": {"text": f"item {i}", "embedding": [round(float(v), 4) for v in X[i]]},
             "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                          "value": {"choices": [f"c{noisy[i]}"]}}]}]} for i in range(n)]
    result = imports.import_data(admin, pid, body=rows, return_task_ids=True, background=False)
    del rows
    ids = result.task_ids
    log(f"scale: imported {n:,} labeled items with {d}-dim embeddings in {time.perf_counter() - t:.1f}s")

    proc, process_s, peak = run_cli("qc", "run", str(pid), "--wait")
    if proc.returncode != 0:
        raise SystemExit(f"scale QC failed:\n{proc.stdout}\n{proc.stderr[-2000:]}")
    with read_session() as s:
        run = s.exec(select(QualityRun).where(QualityRun.project_id == pid).order_by(QualityRun.id.desc())).first()
    run_s = run.summary["seconds"]
    job = jobs.get_job(run.job_id)
    job_s = (job.finished_at - job.started_at).total_seconds()  # with the QC policy applied in the job
    position = {tid: i for i, tid in enumerate(ids)}
    flagged = {position[tid] for tid, li in flagged_tasks(run.id).items() if li.is_issue}
    p, r, f = prf(flagged, set(np.flatnonzero(noisy != y).tolist()))

    # bare cleanlab on the same arrays: 5-fold logistic regression + find_label_issues + scores
    Xb = np.round(X.astype(np.float64), 4)  # the values as imported
    t = time.perf_counter()
    with threadpool_limits(limits=1):
        pp = np.zeros((n, k))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(Xb, noisy):
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=100, tol=1e-3))
            model.fit(Xb[train], noisy[train])
            pp[test] = model.predict_proba(Xb[test])
        bare_issues = cleanlab.filter.find_label_issues(noisy, pp, n_jobs=1)
        cleanlab.rank.get_label_quality_scores(noisy, pp)
    bare_s = time.perf_counter() - t
    out = {"scale_items": n, "scale_seconds": round(run_s, 2), "scale_job_seconds": round(job_s, 2),
           "scale_process_seconds": round(process_s, 2),
           "scale_peak_mb": round(peak, 1), "scale_model": run.model_name,
           "scale_cv_accuracy": round(run.cv_accuracy, 4), "scale_f1": round(f, 4),
           "scale_noise_est": round(run.noise_rate, 4), "bare_cleanlab_seconds": round(bare_s, 2),
           "bare_cleanlab_issues": int(np.sum(bare_issues)), "overhead_ratio": round(run_s / bare_s, 2)}
    log(f"scale: QC run {run_s:.1f}s (job with the policy {job_s:.1f}s, command {process_s:.1f}s), peak RSS "
        f"{peak:.0f} MB, F1 {f:.3f}; bare "
        f"cleanlab {bare_s:.1f}s -> overhead x{out['overhead_ratio']}")
    return out


# --------------------------------------------------------------------------- 5. a million


def million(admin: User) -> dict:
    """1,000,000 labeled tasks written with bulk SQL; QC must refuse them at once, clearly."""
    n = 1_000_000
    pid = projects.create_project(admin, title="a million", label_config=EMBED).id
    engine = get_engine()
    labels_user = users.create_user("million@bench.local", role=Role.annotator)
    t = time.perf_counter()
    with engine.begin() as conn:
        top = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM task")).scalar()
        now = "2025-01-01 00:00:00"
        chunk = 50_000
        for start in range(0, n, chunk):
            ids = range(top + 1 + start, top + 1 + min(n, start + chunk))
            conn.execute(sa.text(
                "INSERT INTO task (id, project_id, data, meta, state, priority, requeued, target_overlap, "
                "n_annotations, n_skips, n_leases, is_gold, created_at, updated_at) VALUES "
                "(:id, :p, :data, '{}', 'labeled', 0, false, 1, 1, 0, 0, false, :now, :now)"),
                [{"id": i, "p": pid, "data": json.dumps({"text": f"t{i}"}), "now": now} for i in ids])
            conn.execute(sa.text(
                "INSERT INTO annotation (task_id, project_id, user_id, result, was_cancelled, skip_reason, source, "
                "version, created_at, updated_at) VALUES (:id, :p, :u, :r, false, '', 'import', 1, :now, :now)"),
                [{"id": i, "p": pid, "u": labels_user.id, "now": now,
                  "r": json.dumps([{"from_name": "label", "to_name": "text", "type": "choices",
                                    "value": {"choices": [f"c{i % 10}"]}}])} for i in ids])
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('task', 'id'), (SELECT max(id) FROM task))"))
    log(f"million: wrote {n:,} labeled tasks in {time.perf_counter() - t:.1f}s")
    proc, seconds, peak = run_cli("qc", "run", str(pid), "--wait")
    message = (proc.stdout.strip().splitlines() or [""])[-1]
    log(f"million: exit {proc.returncode} in {seconds:.1f}s, peak {peak:.0f} MB: {message}")
    return {"million_exit": proc.returncode, "million_seconds": round(seconds, 2), "million_message": message}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale-items", type=int, default=100_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--parts", default="digits,text,consensus,scale",
                    help="comma-separated parts to run (digits, text, consensus, scale)")
    ap.add_argument("--million", action="store_true")
    args = ap.parse_args()
    migrate.upgrade()
    admin = users.create_user("admin@bench.local", role=Role.admin)
    t = time.perf_counter()
    figures: dict = {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 1),
                     "database": get_engine().dialect.name}
    parts = set(args.parts.split(","))
    if "digits" in parts:
        figures.update(label_errors_digits(admin, args.seed))
    if "text" in parts:
        figures.update(label_errors_text(admin, args.seed))
    if "consensus" in parts:
        figures.update(consensus(admin, args.seed))
    if "scale" in parts and not args.skip_scale:
        figures.update(scale(admin, args.scale_items, args.seed))
    if args.million:
        figures.update(million(admin))
    figures["total_seconds"] = round(time.perf_counter() - t, 1)
    keys = ["digits_f1_10", "digits_f1_20", "digits_noise_est_10", "digits_noise_true_10", "digits_noise_est_20",
            "digits_noise_true_20", "text_f1_10", "consensus_acc", "annotator_ranking_ok", "scale_seconds",
            "scale_peak_mb", "overhead_ratio"]
    ordered = {k: figures[k] for k in keys if k in figures}
    ordered.update({k: v for k, v in figures.items() if k not in ordered})
    print(json.dumps(ordered))


if __name__ == "__main__":
    main()
