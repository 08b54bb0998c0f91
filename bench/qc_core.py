"""QC core: accuracy and speed of the pure QC functions, on known data.

Measures the four targets of the QC engine's pure core (``quality.features``,
``quality.pred_probs``, ``quality.scoring``, ``quality.agreement``):

1. label-error detection: scikit-learn's digits (1,797 8x8 images) rendered as 32x32 grayscale
   PNG files, 10% and then 20% of labels flipped at random to another class; labelfab's
   ``image_features`` -> ``cross_val_pred_probs`` -> ``single_annotator_issues``; F1 of the
   flagged items against the flips (target >= 0.90). For comparison, bare cleanlab with
   logistic regression on the raw 8x8 pixels (``baseline_f1_10``).
2. noise-rate estimate (quality.noise, from anchor items) against the true flip rate
   (target: within 2 percentage points).
3. consensus: five simulated annotators with accuracy 0.95, 0.85, 0.75, 0.60, 0.50, three
   random annotators per digit; CROWDLAB consensus accuracy (target >= 0.97) against majority
   vote and Dawid-Skene, and whether CROWDLAB's annotator quality ranks the annotators in their
   true order.
4. scale: 100,000 items with 64-dimensional embeddings and 10 classes (10% flipped):
   ``embedding_features`` + ``cross_val_pred_probs`` + ``single_annotator_issues`` +
   ``outlier_issues`` (from pred_probs), run in a child process whose peak RSS is reported
   (targets <= 60 s and <= 1 GB); bare cleanlab (``find_label_issues`` on the same arrays) is
   timed too, and ``overhead_ratio`` = labelfab scoring seconds / bare cleanlab seconds.
   ``--with-knn`` also times the feature kNN graph, outliers and near duplicates there.

Usage::

    python bench/qc_core.py [--seed 0] [--scale-items 100000] [--skip-scale] [--with-knn]

Progress goes to stderr; the last line on stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import ANNOTATOR_ACCURACY, flip_labels, log, save_digit_png  # noqa: E402

from quality.agreement import dawid_skene, majority_vote  # noqa: E402
from quality.features import embedding_features, image_features  # noqa: E402
from quality.outlier import knn_graph, near_duplicate_issues, outlier_issues  # noqa: E402
from quality.pred_probs import cross_val_pred_probs  # noqa: E402
from quality.scoring import multiannotator, single_annotator_issues  # noqa: E402


def f1(flagged: np.ndarray, truth: np.ndarray) -> float:
    tp = int(np.sum(flagged & truth))
    return 2.0 * tp / max(int(flagged.sum() + truth.sum()), 1)


def render_digits(directory: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """sklearn digits as 32x32 grayscale PNG files; returns paths, labels and raw pixels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    paths = []
    for i, im in enumerate(digits.images):
        p = directory / f"digit_{i:04d}.png"
        save_digit_png(im, p)
        paths.append(p)
    return paths, digits.target.astype(np.int64), digits.data


def bare_cleanlab_f1(pixels: np.ndarray, noisy: np.ndarray, truth: np.ndarray, seed: int) -> float:
    """Bare cleanlab: logistic regression on raw pixels, cleanlab's own CV, find_label_issues."""
    import cleanlab.count
    import cleanlab.filter
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence on unscaled pixels, as users see it
        pp = cleanlab.count.estimate_cv_predicted_probabilities(
            pixels, noisy, clf=LogisticRegression(max_iter=2000), cv_n_folds=5, seed=seed
        )
    return f1(cleanlab.filter.find_label_issues(noisy, pp), truth)


def label_errors(X: np.ndarray, y: np.ndarray, pixels: np.ndarray, seed: int) -> dict:
    names = [str(c) for c in range(10)]
    out: dict = {}
    for rate in (0.10, 0.20):
        tag = f"{int(rate * 100)}"
        noisy = flip_labels(y, rate, 10, seed)
        truth = noisy != y
        t = time.perf_counter()
        pp, model, acc = cross_val_pred_probs(X, noisy, n_classes=10, seed=seed)
        res = single_annotator_issues(noisy, pp, class_names=names)
        secs = time.perf_counter() - t
        out[f"f1_{tag}"] = round(f1(res["is_label_issue"], truth), 4)
        out[f"noise_est_{tag}"] = round(res["noise_rate"], 4)
        out[f"noise_true_{tag}"] = round(float(truth.mean()), 4)
        out[f"model_{tag}"] = model
        out[f"digits_seconds_{tag}"] = round(secs, 1)
        log(
            f"digits {tag}% flipped: model {model} (cv acc {acc:.3f}), "
            f"F1 {out[f'f1_{tag}']}, noise est {res['noise_rate']:.4f} vs {truth.mean():.4f}, "
            f"{secs:.1f}s"
        )
        if rate == 0.10:
            out["baseline_f1_10"] = round(bare_cleanlab_f1(pixels, noisy, truth, seed), 4)
            log(f"bare cleanlab (logreg on raw pixels) F1 {out['baseline_f1_10']}")
    return out


def consensus(X: np.ndarray, y: np.ndarray, seed: int) -> dict:
    rng = np.random.default_rng(seed + 1)
    acc = np.array(ANNOTATOR_ACCURACY)
    n = y.size
    L = np.full((n, acc.size), np.nan)
    for i in range(n):
        for a in rng.choice(acc.size, 3, replace=False):
            L[i, a] = y[i] if rng.random() < acc[a] else (y[i] + rng.integers(1, 10)) % 10
    names = [str(c) for c in range(10)]
    mv, _ = majority_vote(L, n_classes=10, seed=seed)
    ds = dawid_skene(L, n_classes=10)
    t = time.perf_counter()
    pp, model, _ = cross_val_pred_probs(X, mv, n_classes=10, seed=seed)
    res = multiannotator(L, pp, class_names=names)
    secs = time.perf_counter() - t
    quality = res["annotator_quality"]
    out = {
        "consensus_acc": round(float(np.mean(res["consensus_label"] == y)), 4),
        "majority_acc": round(float(np.mean(mv == y)), 4),
        "dawid_skene_acc": round(float(np.mean(ds["labels"] == y)), 4),
        "ranking_ok": bool(np.array_equal(np.argsort(-quality), np.argsort(-acc))),
        "annotator_quality": [round(float(q), 3) for q in quality],
        "consensus_seconds": round(secs, 1),
    }
    log(
        f"consensus: CROWDLAB {out['consensus_acc']} (model {model}), majority "
        f"{out['majority_acc']}, Dawid-Skene {out['dawid_skene_acc']}, annotator quality "
        f"{out['annotator_quality']} (true {list(ANNOTATOR_ACCURACY)}), ranking ok {out['ranking_ok']}"
    )
    return out


def scale_child(n: int, seed: int, with_knn: bool) -> None:
    """Run in a fresh process: the scale pipeline, then its own peak RSS, as one JSON line."""
    import cleanlab.filter

    k, d = 10, 64
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    vectors = (rng.normal(size=(k, d)) * 0.5)[y] + rng.normal(size=(n, d))
    noisy = flip_labels(y, 0.10, k, seed)
    names = [f"class_{c}" for c in range(k)]

    t0 = time.perf_counter()
    X = embedding_features(vectors)
    pp, model, acc = cross_val_pred_probs(X, noisy, n_classes=k, seed=seed)
    t1 = time.perf_counter()
    res = single_annotator_issues(noisy, pp, class_names=names)
    outlier_issues(pred_probs=pp, labels=noisy)
    t2 = time.perf_counter()
    bare = cleanlab.filter.find_label_issues(noisy, pp)
    t3 = time.perf_counter()
    out = {
        "scale_items": n,
        "scale_model": model,
        "scale_cv_accuracy": round(acc, 4),
        "scale_f1": round(f1(res["is_label_issue"], noisy != y), 4),
        "scale_noise_est": round(res["noise_rate"], 4),
        "scale_pred_probs_seconds": round(t1 - t0, 2),
        "scale_scoring_seconds": round(t2 - t1, 2),
        "scale_seconds": round(t2 - t0, 2),
        "bare_cleanlab_seconds": round(t3 - t2, 2),
        "bare_cleanlab_issues": int(np.sum(bare)),
        "overhead_ratio": round((t2 - t1) / max(t3 - t2, 1e-9), 2),
    }
    if with_knn:
        t4 = time.perf_counter()
        knn = knn_graph(X, k=10)
        outlier_issues(knn=knn)
        near_duplicate_issues(knn=knn)
        out["scale_knn_seconds"] = round(time.perf_counter() - t4, 2)
    out["scale_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out), flush=True)


def scale(n: int, seed: int, with_knn: bool) -> dict:
    cmd = [sys.executable, __file__, "--scale-child", str(n), "--seed", str(seed)]
    if with_knn:
        cmd.append("--with-knn")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"scale run failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log(
        f"scale {n:,} items: {out['scale_seconds']}s (pred_probs {out['scale_pred_probs_seconds']}s,"
        f" scoring {out['scale_scoring_seconds']}s), peak {out['scale_peak_mb']} MB, bare "
        f"cleanlab {out['bare_cleanlab_seconds']}s, overhead x{out['overhead_ratio']}, "
        f"F1 {out['scale_f1']}"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale-items", type=int, default=100_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--with-knn", action="store_true")
    ap.add_argument("--scale-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scale_child is not None:
        scale_child(args.scale_child, args.seed, args.with_knn)
        return

    t = time.perf_counter()
    figures: dict = {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory(prefix="qc_core_digits_") as tmp:
        paths, y, pixels = render_digits(Path(tmp))
        t_feat = time.perf_counter()
        X = image_features(paths)
        figures["image_features_seconds"] = round(time.perf_counter() - t_feat, 2)
        log(f"image_features: {X.shape} from {len(paths)} PNG files")
    figures.update(label_errors(X, y, pixels, args.seed))
    figures.update(consensus(X, y, args.seed))
    if not args.skip_scale:
        figures.update(scale(args.scale_items, args.seed, args.with_knn))
    figures["total_seconds"] = round(time.perf_counter() - t, 1)
    keys = [
        "f1_10",
        "f1_20",
        "noise_est_10",
        "noise_est_20",
        "consensus_acc",
        "majority_acc",
        "dawid_skene_acc",
        "ranking_ok",
        "scale_seconds",
        "scale_peak_mb",
        "bare_cleanlab_seconds",
        "overhead_ratio",
    ]
    ordered = {k: figures[k] for k in keys if k in figures}
    ordered.update({k: v for k, v in figures.items() if k not in ordered})
    print(json.dumps(ordered))


if __name__ == "__main__":
    main()
