"""Label issues of very large classification projects, out of core and fold by fold.

Pure functions over the files of one *batch folder* (no database, no jobs); the QC run's
fan-out (:mod:`quality.run.fanout`) runs each fold as a job and the gather as a final one
(ARCHITECTURE.md, quality/). The folder holds:

``features.f32``   the items' features, float32, ``n x dim``, a raw memory map written in chunks
``labels.npy``     each item's given class index (int16)
``folds.npy``      each item's fold (int8), stratified by class
``meta.json``      ``n``, ``dim``, ``n_classes``, ``n_folds``, ``seed``, ``fit_size``
``fold-K.npy``     written by :func:`run_fold`: the out-of-fold probabilities (float32) of the
                   items of fold K, in item order; written under a temporary name and renamed, so
                   a fold killed midway leaves no partial file
``pred_probs.npy`` written by :func:`gather`: every item's out-of-fold probabilities

A fold fits a standardised multinomial logistic regression on a stratified sample of at most
``fit_size`` items of the other folds (on 64-d embeddings the model stops improving long before
a million rows) and predicts its own items a chunk at a time. :func:`gather` finds the label
issues as an in-memory run does (:func:`quality.scoring.single_annotator_issues`): the labels of
lowest self-confidence, as many as the noise estimate from anchor items (:mod:`quality.noise`,
one column of ``pred_probs`` at a time) counts; cleanlab's confident joint is counted a batch at a
time with the thresholds of its batched finder (:mod:`cleanlab.experimental.label_issues_batched`).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quality import QCInputError

__all__ = [
    "FIT_SIZE",
    "Layout",
    "create",
    "find_issues",
    "fold_assignment",
    "gather",
    "run_fold",
    "score_in_process",
]

#: Most training items a fold's model is fitted on (a stratified sample of the other folds).
FIT_SIZE = 100_000
#: Rows read at once when predicting, assembling and scoring.
CHUNK = 100_000

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class Layout:
    """A batch folder and its shape."""

    root: Path
    n: int
    dim: int
    n_classes: int
    n_folds: int
    seed: int
    fit_size: int

    @classmethod
    def open(cls, root: str | os.PathLike) -> Layout:
        root = Path(root)
        meta = json.loads((root / "meta.json").read_text())
        return cls(root, **meta)

    def features(self, mode: str = "r") -> np.memmap:
        return np.memmap(self.root / "features.f32", dtype=np.float32, mode=mode,
                         shape=(self.n, self.dim))

    def labels(self) -> np.ndarray:
        return np.load(self.root / "labels.npy", mmap_mode="r")

    def folds(self) -> np.ndarray:
        return np.load(self.root / "folds.npy", mmap_mode="r")

    def fold_path(self, fold: int) -> Path:
        return self.root / f"fold-{fold}.npy"

    @property
    def pred_probs_path(self) -> Path:
        return self.root / "pred_probs.npy"


def fold_assignment(labels: np.ndarray, *, n_folds: int, seed: int) -> np.ndarray:
    """Each item's fold (int8): the items of every class shuffled and dealt round the folds, so
    every fold holds about ``1/n_folds`` of each class."""
    if n_folds < 2 or n_folds > 100:
        raise QCInputError(f"n_folds must be between 2 and 100, got {n_folds}")
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = np.empty(y.size, dtype=np.int8)
    order = np.argsort(y, kind="stable")
    bounds = np.flatnonzero(np.diff(y[order])) + 1
    for rows in np.split(order, bounds):
        if rows.size == 0:
            continue
        perm = rng.permutation(rows.size)
        folds[rows[perm]] = (np.arange(rows.size) + int(rng.integers(n_folds))) % n_folds
    return folds


def create(
    root: str | os.PathLike,
    *,
    n: int,
    dim: int,
    n_classes: int,
    n_folds: int = 5,
    seed: int = 0,
    fit_size: int = FIT_SIZE,
) -> tuple[Layout, np.memmap]:
    """Start a batch folder; returns its layout and the features map to fill (chunk by chunk,
    then :func:`finish`)."""
    if n < 2 * n_folds:
        raise QCInputError(f"{n} items are too few for {n_folds} folds")
    if n_classes < 2 or n_classes > np.iinfo(np.int16).max:
        raise QCInputError(f"n_classes must be between 2 and 32767, got {n_classes}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    layout = Layout(root, n, dim, n_classes, n_folds, seed, fit_size)
    return layout, layout.features("w+")


def finish(layout: Layout, features: np.memmap, labels: np.ndarray) -> None:
    """Write the labels, the folds and ``meta.json`` (last: a folder without it is unfinished)."""
    y = np.asarray(labels)
    if y.shape != (layout.n,):
        raise QCInputError(f"labels: expected {layout.n} labels, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= layout.n_classes):
        raise QCInputError(f"labels: class indices must be in 0..{layout.n_classes - 1}")
    features.flush()
    del features
    np.save(layout.root / "labels.npy", y.astype(np.int16))
    np.save(layout.root / "folds.npy", fold_assignment(y, n_folds=layout.n_folds, seed=layout.seed))
    meta = {k: getattr(layout, k) for k in ("n", "dim", "n_classes", "n_folds", "seed", "fit_size")}
    tmp = layout.root / "meta.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, layout.root / "meta.json")


def _sample(y: np.ndarray, rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A stratified sample of at most ``size`` of ``rows`` (sorted, every class kept)."""
    if rows.size <= size:
        return rows
    rng = np.random.default_rng(seed)
    frac = size / rows.size
    yr = y[rows]
    picked = []
    for c in np.unique(yr):
        mine = rows[yr == c]
        take = min(mine.size, max(2, int(round(mine.size * frac))))
        picked.append(rng.choice(mine, size=take, replace=False))
    return np.sort(np.concatenate(picked))


def run_fold(root: str | os.PathLike, fold: int, *, progress: ProgressFn | None = None) -> Path:
    """Fit the fold's model on the other folds and write its items' probabilities
    (``fold-K.npy``); returns the file. Running it again rewrites the same file."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    lay = Layout.open(root)
    if not 0 <= fold < lay.n_folds:
        raise QCInputError(f"fold {fold} is not one of 0..{lay.n_folds - 1}")
    X = lay.features()
    y = np.asarray(lay.labels(), dtype=np.int64)
    folds = np.asarray(lay.folds())
    train = _sample(y, np.flatnonzero(folds != fold), lay.fit_size, lay.seed + fold)
    test = np.flatnonzero(folds == fold)
    ytr = y[train]
    if np.unique(ytr).size < 2:
        raise QCInputError(f"fold {fold}: its training items hold fewer than 2 classes")
    if progress:
        progress(0.05, f"fold {fold}: fitting on {train.size:,} items")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*converge.*")
        Xtr = np.asarray(X[train], dtype=np.float64)
        scaler = StandardScaler().fit(Xtr)
        model = LogisticRegression(C=1.0, max_iter=200, tol=1e-4, random_state=lay.seed)
        model.fit(scaler.transform(Xtr), ytr)
        del Xtr
        classes = np.asarray(model.classes_, dtype=np.int64)
        prior = np.bincount(ytr, minlength=lay.n_classes) / ytr.size
        final = lay.fold_path(fold)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(test.size, lay.n_classes))
        for a in range(0, test.size, CHUNK):
            rows = test[a:a + CHUNK]
            proba = model.predict_proba(scaler.transform(np.asarray(X[rows], dtype=np.float64)))
            block = np.zeros((rows.size, lay.n_classes), dtype=np.float64)
            block[:, classes] = proba
            unseen = ~np.isin(y[rows], classes)  # a class absent from training: the prior, never flagged
            block[unseen] = prior
            out[a:a + rows.size] = block / block.sum(axis=1, keepdims=True)
            if progress:
                progress(0.1 + 0.85 * (a + rows.size) / test.size, f"fold {fold}: predicted {a + rows.size:,} items")
        out.flush()
        del out
    os.replace(tmp, final)
    return final


def assemble(lay: Layout) -> np.memmap:
    """``pred_probs.npy`` from the folds' files (each must exist); returns it mapped read-only."""
    folds = np.asarray(lay.folds())
    missing = [k for k in range(lay.n_folds) if not lay.fold_path(k).exists()]
    if missing:
        raise QCInputError(f"the output of fold(s) {', '.join(map(str, missing))} is missing")
    tmp = lay.root / f".pred_probs.{os.getpid()}.tmp.npy"
    pp = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(lay.n, lay.n_classes))
    for k in range(lay.n_folds):
        rows = np.flatnonzero(folds == k)
        part = np.load(lay.fold_path(k), mmap_mode="r")
        if part.shape != (rows.size, lay.n_classes):
            raise QCInputError(f"fold {k}'s output has shape {part.shape}, expected {(rows.size, lay.n_classes)}")
        for a in range(0, rows.size, CHUNK):
            pp[rows[a:a + CHUNK]] = part[a:a + CHUNK]
    pp.flush()
    del pp
    os.replace(tmp, lay.pred_probs_path)
    return np.load(lay.pred_probs_path, mmap_mode="r")


def find_issues(labels: np.ndarray, pred_probs: np.ndarray, *, batch_size: int = CHUNK) -> dict:
    """The label issues and the figures a QC run stores, reading ``pred_probs`` a batch (or a
    column) at a time.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given class indices (a memory map is fine).
    pred_probs : array-like of float, shape (n, n_classes)
        Out-of-sample probabilities (a memory map is fine).
    batch_size : int
        Rows read at once.

    Returns
    -------
    dict
        ``is_label_issue`` (bool mask), ``label_quality`` (self-confidence), ``suggested_label``,
        ``suggested_confidence``, ``n_issues``, ``noise_rate`` and ``noise_rate_per_class``
        (:func:`quality.noise.estimate_noise`), ``noise_rate_cleanlab`` (1 - trace of the
        calibrated confident joint),
        ``confident_joint`` (calibrated, counted with the batched finder's thresholds),
        ``confident_thresholds``, ``cv_accuracy``.
    """
    from cleanlab.count import calibrate_confident_joint
    from cleanlab.experimental.label_issues_batched import LabelInspector

    from quality.noise import estimate_noise, lowest_flags

    n, k = pred_probs.shape
    if len(labels) != n:
        raise QCInputError(f"labels: {len(labels)} labels for {n} rows of pred_probs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inspector = LabelInspector(num_class=k, store_results=False, verbose=False, n_jobs=1)
        for a in range(0, n, batch_size):
            inspector.update_confident_thresholds(np.asarray(labels[a:a + batch_size]),
                                                  np.asarray(pred_probs[a:a + batch_size]))
    thresholds = inspector.get_confident_thresholds(silent=True)
    quality = np.empty(n, dtype=np.float64)
    suggested = np.empty(n, dtype=np.int64)
    confidence = np.empty(n, dtype=np.float64)
    y_all = np.empty(n, dtype=np.int64)
    cj = np.zeros((k, k), dtype=np.int64)
    for a in range(0, n, batch_size):
        y = np.asarray(labels[a:a + batch_size], dtype=np.int64)
        p = np.asarray(pred_probs[a:a + batch_size], dtype=np.float64)
        rows = np.arange(y.size)
        y_all[a:a + y.size] = y
        quality[a:a + y.size] = p[rows, y]
        suggested[a:a + y.size] = s = p.argmax(axis=1)
        confidence[a:a + y.size] = p[rows, s]
        # cleanlab's confident joint: an item counts for (given, most likely class above its threshold)
        above = p >= thresholds - 1e-6
        some = above.any(axis=1)
        true = np.where(above, p, -1.0).argmax(axis=1)
        np.add.at(cj, (y[some], true[some]), 1)
    cj = np.asarray(calibrate_confident_joint(cj, y_all))
    # the noise as cleanlab estimates it (count.estimate_joint): the calibrated joint's off-diagonal
    joint = cj / max(float(cj.sum()), 1.0)
    # the flags as an in-memory run sets them: the lowest self-confidence, as many as the anchors count
    noise = estimate_noise(y_all, pred_probs)
    mask = lowest_flags(quality, noise["noise_rate"])
    return {
        "is_label_issue": mask,
        "label_quality": quality,
        "suggested_label": suggested,
        "suggested_confidence": confidence,
        "n_issues": int(mask.sum()),
        "noise_rate": noise["noise_rate"],
        "noise_rate_per_class": noise["noise_rate_per_class"],
        "noise_rate_cleanlab": float(1.0 - np.trace(joint)),
        "confident_joint": np.asarray(cj),
        "confident_thresholds": np.asarray(thresholds),
        "cv_accuracy": float(np.mean(suggested == y_all)) if n else 0.0,
    }


def gather(root: str | os.PathLike, *, batch_size: int = CHUNK) -> dict:
    """Assemble the folds' probabilities and find the label issues (:func:`find_issues`)."""
    lay = Layout.open(root)
    pp = assemble(lay)
    return find_issues(lay.labels(), pp, batch_size=batch_size)


def score_in_process(
    root: str | os.PathLike,
    X: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    n_folds: int = 5,
    seed: int = 0,
    fit_size: int = FIT_SIZE,
    batch_size: int = CHUNK,
) -> dict:
    """Every step in this process: the batch folder written from ``X`` in chunks, each fold,
    the gather. What the fan-out computes, for a caller without a job system."""
    lay, fx = create(root, n=X.shape[0], dim=X.shape[1], n_classes=n_classes, n_folds=n_folds,
                     seed=seed, fit_size=fit_size)
    for a in range(0, X.shape[0], CHUNK):
        fx[a:a + CHUNK] = X[a:a + CHUNK]
    finish(lay, fx, labels)
    for k in range(n_folds):
        run_fold(root, k)
    return gather(root, batch_size=batch_size)
