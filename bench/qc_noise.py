"""The noise estimate and the flag count on bench/qc_zoo.py's datasets, in seconds once probabilities are cached.

``bench/qc_zoo.py`` measures QC through the product (a project, an import, a ``qc`` job) and costs
about half an hour for its 18 rows. What the noise estimate and the number of flags depend on is
only the given labels and the out-of-sample ``pred_probs``; this script computes those with the
zoo's pure functions (the product's feature sets and candidates: ``quality.zoo``), each
dataset's features once for its three noise levels, and keeps them in ``--cache`` (one ``.npz``
per row: true labels, given labels, pred_probs). Later runs read the cache and only score:

* the noise estimate of ``quality.noise.estimate_noise`` (what a QC run stores) and cleanlab's
  ``1 - trace`` of the calibrated joint, each against the true share of flipped labels;
* F1 of the flags of ``quality.scoring.single_annotator_issues`` (the lowest self-confidence, as
  many as the estimate) and of cleanlab's ``find_label_issues(filter_by="low_self_confidence")``
  (its own count), with the F1 of the same ranking cut at the true count for reference.

The folds differ from a product run's (task order), so figures are close to, not equal to,
``qc_zoo``'s. Usage::

    python bench/qc_noise.py [--cache DIR] [--datasets glyphs,reviews] [--noise 0.1,0.2] [--n 900]

A line per row goes to stderr; the last line on stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import qc_zoo
from common import flip_labels, log


def probs(name: str, n: int, rates: list[float], seed: int, cache: Path) -> dict[float, Path]:
    """The cached ``.npz`` of each noise level of one dataset, computed where missing."""
    from threadpoolctl import threadpool_limits

    from quality.zoo import (
        IMAGE_CANDIDATES,
        TEXT_CANDIDATES,
        candidates_for,
        feature_sets_of,
        image_feature_sets,
        select_pred_probs,
        text_feature_sets,
    )

    files = {r: cache / f"{name}-n{n}-s{seed}-{int(round(r * 100))}.npz" for r in rates}
    todo = [r for r, f in files.items() if not f.exists()]
    if not todo:
        return files
    image = name in qc_zoo.IMAGE_SETS
    items, y, names = qc_zoo.MAKERS[name](n, seed)
    cands = candidates_for(IMAGE_CANDIDATES if image else TEXT_CANDIDATES, n_items=n)
    wanted = [f for f in feature_sets_of(cands) if f != "onnx"]
    t = time.perf_counter()
    sets = image_feature_sets(items, names=wanted) if image else text_feature_sets(items, names=wanted)
    log(f"{name}: features {', '.join(wanted)} in {time.perf_counter() - t:.1f}s")
    for rate in todo:
        noisy = flip_labels(y, rate, len(names), seed + int(round(rate * 100)))
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp, model, _, _ = select_pred_probs(sets, noisy, n_classes=len(names), candidates=cands, seed=seed)
        np.savez(files[rate], y=y, noisy=noisy, pred_probs=pp)
        log(f"{name} {rate:.0%}: {model}")
    return files


def f1(flagged: np.ndarray, truth: np.ndarray) -> float:
    tp = int(np.sum(flagged & truth))
    return 2.0 * tp / max(int(flagged.sum() + truth.sum()), 1)


def score(path: Path) -> dict:
    import cleanlab.count
    import cleanlab.filter

    from quality.scoring import single_annotator_issues

    d = np.load(path)
    y, noisy, pp = d["y"], d["noisy"], d["pred_probs"]
    truth = noisy != y
    k = pp.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = single_annotator_issues(noisy, pp, class_names=[str(c) for c in range(k)], min_class_count=1)
        cl_flags = cleanlab.filter.find_label_issues(noisy, pp, filter_by="low_self_confidence", n_jobs=1)
        cl_noise = 1.0 - float(np.trace(cleanlab.count.estimate_joint(noisy, pp)))
    at_truth = np.zeros(y.size, dtype=bool)
    at_truth[np.argsort(pp[np.arange(y.size), noisy], kind="stable")[: int(truth.sum())]] = True
    return {"noise_true": round(float(truth.mean()), 4), "noise_est": round(res["noise_rate"], 4),
            "noise_cleanlab": round(cl_noise, 4), "f1": round(f1(res["is_label_issue"], truth), 4),
            "f1_cleanlab_count": round(f1(cl_flags, truth), 4), "f1_true_count": round(f1(at_truth, truth), 4),
            "cv_accuracy": round(float(np.mean(pp.argmax(axis=1) == noisy)), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default=",".join(qc_zoo.MAKERS))
    ap.add_argument("--noise", default=",".join(str(r) for r in qc_zoo.NOISE))
    ap.add_argument("--n", type=int, default=900, help="items per image dataset (text: 4/3 of it)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "labelfab-qc-noise"))
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rates = [float(r) for r in args.noise.split(",")]
    t = time.perf_counter()
    rows = []
    for name in [d for d in args.datasets.split(",") if d]:
        n = args.n if name in qc_zoo.IMAGE_SETS else int(args.n * 4 / 3)
        for rate, path in probs(name, n, rates, args.seed, cache).items():
            row = {"dataset": name, "noise": rate, **score(path)}
            log(f"{name} {rate:.0%}: noise {row['noise_est']:.3f} (cleanlab {row['noise_cleanlab']:.3f}) vs "
                f"{row['noise_true']:.3f}; F1 {row['f1']:.3f} (cleanlab's count {row['f1_cleanlab_count']:.3f}, "
                f"true count {row['f1_true_count']:.3f}); CV acc {row['cv_accuracy']:.3f}")
            rows.append(row)
    err = [abs(r["noise_est"] - r["noise_true"]) for r in rows]
    cl_err = [abs(r["noise_cleanlab"] - r["noise_true"]) for r in rows]
    print(json.dumps({"max_noise_error": round(max(err), 4), "mean_noise_error": round(float(np.mean(err)), 4),
                      "max_noise_error_cleanlab": round(max(cl_err), 4),
                      "mean_noise_error_cleanlab": round(float(np.mean(cl_err)), 4),
                      "mean_f1": round(float(np.mean([r["f1"] for r in rows])), 4),
                      "mean_f1_cleanlab_count": round(float(np.mean([r["f1_cleanlab_count"] for r in rows])), 4),
                      "rows_within_2_points": int(sum(e <= 0.02 for e in err)), "runs": len(rows),
                      "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 1),
                      "total_seconds": round(time.perf_counter() - t, 1), "rows": rows}))


if __name__ == "__main__":
    main()
