"""A featurizer and model zoo for ``pred_probs``, chosen per project by cross-validated log loss.

Pure functions: images or texts in, named feature sets out; feature sets and labels in,
out-of-sample ``pred_probs`` and the choice out. No database, no jobs.

* :func:`image_feature_sets` -- several featurizers of the same images: labelfab's own
  (:func:`quality.features.image_features`), multi-scale HOG (scikit-image), HOG with local binary
  patterns (scikit-image) and colour and intensity histograms, rotation- and colour-invariant
  gradient statistics, and pixel PCA.
* :func:`text_feature_sets` -- word n-gram TF-IDF, character n-gram TF-IDF, both, and binary
  word 1-3-grams (presence, not frequency).
* :func:`select_pred_probs` -- every (feature set, model) candidate is cross-validated on one
  split and calibrated by temperature scaling (on the plain log loss); the best by log loss (each
  item's loss capped, so that the labels a good model contradicts -- probably wrong -- do not
  dominate it) is chosen, averaged with up to two more when that lowers the loss (forward
  selection, :func:`_forward_selection`); its
  ``pred_probs`` are then computed afresh on another split, so the probabilities cleanlab sees
  are not the ones the choice was made on.

Why this is honest. Choosing the smallest of several cross-validated losses is optimistic: the
winner's loss is biased low, and the more candidates, the more so. Two things keep that out of
QC. The candidate set is small and fixed (a handful of featurizers times two or three models),
so the bias is small next to the spread between featurizers that differ in kind. And the chosen
model's ``pred_probs`` -- what cleanlab ranks and counts -- come from a second K-fold split with
another seed, fitted anew in each fold, so they are out of sample for every item whatever the
choice; its reported CV accuracy is measured on that second split too, not on the split that
chose it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from PIL import Image

from quality import QCInputError
from quality.features import _load_rgb, _standardize, image_features, text_features
from quality.pred_probs import (
    _folds,
    _run_cv,
    _stratified_subsample,
    cross_val_pred_probs,
)

__all__ = [
    "IMAGE_CANDIDATES",
    "TEXT_CANDIDATES",
    "candidates_for",
    "image_feature_sets",
    "select_pred_probs",
    "text_feature_sets",
]

#: Candidates on the embeddings of a project's own ONNX encoder (:mod:`quality.encoders`; rows of
#: unit norm); skipped, as every candidate whose feature set is missing, when none is set.
ONNX_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("onnx", "logreg(C=10)"),
    ("onnx", "svm_rbf(C=10)"),
)
#: (feature set, model) candidates for images. SVM C is chosen between two values.
IMAGE_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("labelfab", "svm_rbf(C=1)"),
    ("labelfab", "svm_rbf(C=10)"),
    ("labelfab", "logreg(C=0.01)"),
    ("hog", "svm_rbf(C=10)"),
    ("hog_lbp_colour", "svm_rbf(C=1)"),
    ("invariant", "svm_rbf(C=10)"),
    *ONNX_CANDIDATES,
)
#: ... and for texts (TF-IDF rows have unit norm: logistic regression needs a large C).
TEXT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("words+chars", "logreg(C=1)"),
    ("words+chars", "logreg(C=10)"),
    ("words", "logreg(C=1)"),
    ("words", "logreg(C=10)"),
    ("chars", "logreg(C=1)"),
    ("chars", "logreg(C=10)"),
    ("binary", "logreg(C=3)"),
    *ONNX_CANDIDATES,
)

#: Items on which candidates are compared at most (a stratified subsample above it).
SELECTION_SIZE = 3_000
#: Folds of the selection split (the final pred_probs use the caller's n_folds).
SELECTION_FOLDS = 3

#: Candidates a run tries at most on a large project (more than :data:`LARGE_PROJECT` items):
#: each costs a cross-validation on the selection subsample and its features a pass over every
#: item, so a large image project computes only the feature sets of these.
MAX_CANDIDATES_LARGE = 2
#: Items above which a project is large for the zoo.
LARGE_PROJECT = 20_000

_SIDE = 48  # images are described at this size (HOG cells of 8 and 16 pixels, LBP)


def candidates_for(candidates: Sequence[tuple[str, str]], *, n_items: int) -> tuple[tuple[str, str], ...]:
    """The candidates a run of `n_items` labeled items tries, in their order.

    A candidate whose model family cannot run on that many items (an RBF SVM above its limit in
    :data:`quality.pred_probs.MODELS`) is left out, since its final cross-validation on every
    item would refuse it; above :data:`LARGE_PROJECT` items, only the first
    :data:`MAX_CANDIDATES_LARGE` that remain, so that the zoo's time stays bounded (their
    feature sets are the only ones computed: :func:`feature_sets_of`).
    """
    from quality.pred_probs import MODELS, _parse_model_name

    def runs(model: str) -> bool:
        limit = MODELS[_parse_model_name(model)[0]]
        return limit is None or n_items <= limit

    kept = tuple(c for c in candidates if runs(c[1]))
    return kept[:MAX_CANDIDATES_LARGE] if n_items > LARGE_PROJECT else kept


def feature_sets_of(candidates: Sequence[tuple[str, str]]) -> list[str]:
    """The feature sets some candidates use, in their order."""
    return list(dict.fromkeys(f for f, _ in candidates))


# ---------------------------------------------------------------------------------------------
# image featurizers
# ---------------------------------------------------------------------------------------------
def _hog(gray: np.ndarray, cell: int) -> np.ndarray:
    from skimage.feature import hog

    return hog(gray, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2),
               block_norm="L2-Hys", feature_vector=True).astype(np.float32)


def _lbp_hist(gray: np.ndarray) -> np.ndarray:
    """Uniform LBP histograms (P=8, R=1), over the image and its 2x2 quarters."""
    from skimage.feature import local_binary_pattern

    g8 = (gray * 255).astype(np.uint8)
    out = []
    half = g8.shape[0] // 2
    for p, r in ((8, 1),):
        codes = local_binary_pattern(g8, p, r, method="uniform")
        bins = p + 2
        for part in (codes, codes[:half, :half], codes[:half, half:], codes[half:, :half], codes[half:, half:]):
            h = np.bincount(part.astype(np.int64).ravel(), minlength=bins)[:bins].astype(np.float32)
            out.append(h / max(1.0, h.sum()))
    return np.concatenate(out)


def _colour_hist(rgb: np.ndarray, bins: int = 8) -> np.ndarray:
    """Per-channel and intensity histograms, intensity percentiles and contrast of a chunk of
    images ``(m, side, side, 3)`` in [0, 1]."""
    m = rgb.shape[0]
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    chans = np.concatenate([rgb.reshape(m, -1, 3), gray.reshape(m, -1, 1)], axis=2)  # (m, p, 4)
    idx = np.minimum((chans * bins).astype(np.int64), bins - 1)
    offsets = (np.arange(m)[:, None, None] * 4 + np.arange(4)[None, None, :]) * bins
    hist = np.bincount((idx + offsets).ravel(), minlength=m * 4 * bins).reshape(m, 4 * bins)
    hist = hist.astype(np.float32) / idx.shape[1]
    flat = gray.reshape(m, -1)
    pct = np.percentile(flat, [5, 25, 50, 75, 95], axis=1).T.astype(np.float32)
    spread = np.stack([flat.std(axis=1), rgb.reshape(m, -1, 3).std(axis=1).mean(axis=1)], axis=1)
    return np.concatenate([hist, pct, spread.astype(np.float32)], axis=1)


def _invariant(rgb: np.ndarray, bins: int = 36) -> np.ndarray:
    """Rotation- and colour-invariant gradient statistics of a chunk of images ``(m, side, side, 3)``.

    Each pixel's gradient is that of its strongest colour channel (as HOG takes it), so the
    colours of object and background do not matter, only their edges. Then, over the image:
    the magnitudes of the Fourier transform of the orientation histogram (a rotation shifts the
    histogram circularly and leaves them unchanged: edges in 3, 4 or 5 directions, stripes,
    curves), the radial profile of the gradient mass about its centroid (scaled by its mean
    radius), the histogram of each gradient's angle to the radius through it (edges facing the
    centre or across it), the eccentricity of the gradient mass and its total.
    """
    m, s = rgb.shape[0], rgb.shape[1]
    gy, gx = np.gradient(rgb, axis=(1, 2))
    mag = np.sqrt(gx**2 + gy**2)
    best = mag.argmax(axis=3)[..., None]
    gx = np.take_along_axis(gx, best, 3)[..., 0]
    gy = np.take_along_axis(gy, best, 3)[..., 0]
    mag = np.take_along_axis(mag, best, 3)[..., 0]
    ang = np.arctan2(gy, gx)
    rows = np.arange(m)[:, None]

    def hist(index: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
        flat = (rows * k + index.reshape(m, -1)).ravel()
        return np.bincount(flat, weights=weights.reshape(m, -1).ravel(), minlength=m * k).reshape(m, k)

    orient = hist(((ang + np.pi) / (2 * np.pi) * bins).astype(np.int64) % bins, mag, bins)
    total = orient.sum(axis=1, keepdims=True) + 1e-9
    spectrum = np.abs(np.fft.rfft(orient / total, axis=1))[:, 1:]
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    w = mag / (mag.sum(axis=(1, 2), keepdims=True) + 1e-9)
    cy = (w * yy).sum(axis=(1, 2))[:, None, None]
    cx = (w * xx).sum(axis=(1, 2))[:, None, None]
    dy, dx = yy[None] - cy, xx[None] - cx
    r = np.sqrt(dy**2 + dx**2)
    mean_r = (w * r).sum(axis=(1, 2))[:, None, None] + 1e-9
    radial = hist(np.minimum((r / mean_r * 8).astype(np.int64), 23), w, 24)
    facing = hist(((ang - np.arctan2(dy, dx)) % (2 * np.pi) / (2 * np.pi) * 16).astype(np.int64) % 16, w, 16)
    a, b, c = (w * dx * dx).sum((1, 2)), (w * dy * dy).sum((1, 2)), (w * dx * dy).sum((1, 2))
    eccentricity = np.sqrt(((a - b) / 2) ** 2 + c**2) / ((a + b) / 2 + 1e-9)
    return np.concatenate([spectrum, radial, facing, eccentricity[:, None], np.log(total / (s * s))],
                          axis=1).astype(np.float32)


def _weighted(blocks: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Standardized blocks, each weighted so that it adds ``weight`` to squared distances."""
    out = [_standardize(b) * np.float32(np.sqrt(w / b.shape[1])) for b, w in zip(blocks, weights, strict=True)]
    x = np.concatenate(out, axis=1)
    return x * np.float32(np.sqrt(x.shape[1] / sum(weights)))


def image_feature_sets(
    images: Sequence[Image.Image | str | os.PathLike[str]],
    *,
    names: Sequence[str] | None = None,
    pca_components: int = 48,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Several featurizers of the same images, by name (each standardized, float32).

    ``labelfab``
        :func:`quality.features.image_features` (pixels, HOG-like histograms, colour).
    ``hog``
        HOG of the grayscale image at two scales (cells of 8 and 16 pixels on 48x48).
    ``hog_lbp_colour``
        That HOG, uniform local binary pattern histograms (texture) and colour and intensity
        histograms, each block weighted equally.
    ``invariant``
        Rotation- and colour-invariant gradient statistics (:func:`_invariant`): what an
        object's edges look like whatever its orientation and colours.
    ``pixels_pca``
        Grayscale 24x24 pixels projected on their first `pca_components` principal components
        (whitened).

    Parameters
    ----------
    images : sequence of PIL.Image.Image or path-like
        The images (see :func:`quality.features.image_features`).
    names : sequence of str, optional
        The feature sets to compute (default: all but ``pixels_pca``, which no default
        candidate uses).
    pca_components : int, default 48
        Components kept by ``pixels_pca`` (at most the number of images - 1).
    seed : int, default 0
        Seed of the randomized PCA.

    Returns
    -------
    dict of str to np.ndarray
        ``name -> (n_images, n_features)``.

    Raises
    ------
    QCInputError
        As :func:`quality.features.image_features`, or on an unknown feature set name.
    """
    wanted = list(names) if names is not None else ["labelfab", "hog", "hog_lbp_colour", "invariant"]
    unknown = set(wanted) - {"labelfab", "hog", "hog_lbp_colour", "invariant", "pixels_pca"}
    if unknown:
        raise QCInputError(f"unknown image feature sets: {', '.join(sorted(unknown))}")
    n = len(images)
    if n == 0:
        raise QCInputError("image_feature_sets: no images given")
    out: dict[str, np.ndarray] = {}
    if "labelfab" in wanted:
        out["labelfab"] = image_features(images)
    rest = [w for w in wanted if w != "labelfab"]
    if not rest:
        return out
    hog8, hog16, lbp, colour, invariant, pixels = [], [], [], [], [], []
    chunk: list[np.ndarray] = []
    for i in range(n):
        img = _load_rgb(images[i], i).resize((_SIDE, _SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgb = np.asarray(img, dtype=np.float32) / 255.0
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        hog8.append(_hog(gray, 8))
        hog16.append(_hog(gray, 16))
        if "hog_lbp_colour" in rest:
            lbp.append(_lbp_hist(gray))
        if "hog_lbp_colour" in rest or "invariant" in rest:
            chunk.append(rgb)
            if len(chunk) == 256 or i == n - 1:
                if "hog_lbp_colour" in rest:
                    colour.append(_colour_hist(np.stack(chunk)))
                if "invariant" in rest:
                    invariant.append(_invariant(np.stack(chunk)))
                chunk = []
        if "pixels_pca" in rest:
            pixels.append(np.asarray(img.convert("L").resize((24, 24), Image.Resampling.BOX),
                                     dtype=np.float32).ravel() / 255.0)
    hog = [np.stack(hog8), np.stack(hog16)]
    if "hog" in rest:
        out["hog"] = _weighted(hog, (1.0, 0.6))
    if "hog_lbp_colour" in rest:
        out["hog_lbp_colour"] = _weighted(hog + [np.stack(lbp), np.concatenate(colour)], (1.0, 0.6, 0.8, 0.8))
    if "invariant" in rest:
        out["invariant"] = _standardize(np.concatenate(invariant))
    if "pixels_pca" in rest:
        from sklearn.decomposition import PCA

        P = np.stack(pixels)
        k = int(min(pca_components, n - 1, P.shape[1]))
        if k < 1:
            raise QCInputError("image_feature_sets: pixels_pca needs at least 2 images")
        Z = PCA(n_components=k, whiten=True, svd_solver="randomized", random_state=seed).fit_transform(P)
        out["pixels_pca"] = Z.astype(np.float32)
    return {w: out[w] for w in wanted}


# ---------------------------------------------------------------------------------------------
# text featurizers
# ---------------------------------------------------------------------------------------------
#: Columns of the ``words`` and ``chars`` sets at most, and of the ``binary`` set (most frequent
#: n-grams first), and the texts an n-gram of ``binary`` must occur in: the matrices stay sparse
#: and their width bounded whatever the number of texts (and the chosen model's cost with it).
TEXT_MAX_FEATURES = 25_000
BINARY_MAX_FEATURES = 10_000
BINARY_MIN_DF = 2
TEXT_SETS = ("words+chars", "words", "chars", "binary")


def text_feature_sets(texts: Sequence[str], *, names: Sequence[str] | None = None) -> dict[str, sp.csr_matrix]:
    """Sparse feature sets of the same texts, by name; rows of unit norm (an empty text: zeros).

    ``words+chars``
        labelfab's :func:`quality.features.text_features` (word 1-2-gram and character
        2-5-gram TF-IDF, at most 50,000 columns).
    ``words``
        Word 1-2-gram TF-IDF (at most :data:`TEXT_MAX_FEATURES` columns).
    ``chars``
        Character 2-5-gram TF-IDF inside word boundaries (likewise).
    ``binary``
        Binary word 1-3-grams: whether an n-gram occurs, not how often, and no IDF weighting
        (n-grams in fewer than :data:`BINARY_MIN_DF` texts dropped, unless none is in as many;
        at most :data:`BINARY_MAX_FEATURES` columns): a phrase's presence weighs the same in a
        short text as in a long one, and longer phrases ("not worth it") count.

    Raises
    ------
    QCInputError
        As :func:`quality.features.text_features`, or on an unknown feature set name.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    wanted = list(names) if names is not None else list(TEXT_SETS)
    unknown = set(wanted) - set(TEXT_SETS)
    if unknown:
        raise QCInputError(f"unknown text feature sets: {', '.join(sorted(unknown))}")
    both = text_features(texts)  # validates the texts
    docs = list(texts)
    out: dict[str, sp.csr_matrix] = {}
    for name in wanted:
        if name == "words+chars":
            out[name] = both
            continue
        if name == "binary":
            try:
                out[name] = _binary_ngrams(docs, BINARY_MIN_DF)
            except ValueError:  # no n-gram is in that many texts: keep them all
                out[name] = _binary_ngrams(docs, 1)
            continue
        vec = (
            TfidfVectorizer(
                analyzer="word",
                ngram_range=(1, 2),
                sublinear_tf=True,
                max_features=TEXT_MAX_FEATURES,
                token_pattern=r"(?u)\b\w+\b",
            )
            if name == "words"
            else TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                sublinear_tf=True,
                max_features=TEXT_MAX_FEATURES,
            )
        )
        try:
            out[name] = sp.csr_matrix(vec.fit_transform(docs))
        except ValueError as exc:  # empty vocabulary
            raise QCInputError(f"text feature set {name!r}: {exc}") from exc
    return out


def _binary_ngrams(docs: list[str], min_df: int) -> sp.csr_matrix:
    """Binary word 1-3-grams of `docs` in at least `min_df` of them, rows of unit norm."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 3),
        binary=True,
        use_idf=False,
        min_df=min_df,
        max_features=BINARY_MAX_FEATURES,
        token_pattern=r"(?u)\b\w+\b",
    )
    try:
        return sp.csr_matrix(vec.fit_transform(docs))
    except ValueError as exc:
        if min_df > 1:
            raise
        raise QCInputError(f"text feature set 'binary': {exc}") from exc


# ---------------------------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------------------------
def select_pred_probs(
    feature_sets: Mapping[str, Any],
    labels: Any,
    *,
    n_classes: int,
    candidates: Sequence[tuple[str, str]],
    n_folds: int = 5,
    seed: int = 0,
    selection_size: int = SELECTION_SIZE,
    ensemble: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[np.ndarray, str, float, dict[str, Any]]:
    """Choose a (feature set, model) by cross-validated log loss; its out-of-sample pred_probs.

    1. Every candidate is cross-validated on one stratified split (:data:`SELECTION_FOLDS` folds,
       seed ``seed + 1``; on a stratified subsample of `selection_size` items when there are
       more), calibrated by temperature scaling (one temperature per candidate, from a fixed
       grid, minimizing the plain log loss, so that models whose probabilities are merely over-
       or under-confident are not penalized for it) and scored by its calibrated log loss,
       capped per item, against the given labels.
    2. The best candidate is chosen; with `ensemble`, others are added to an equal-weight
       average one at a time (at most :data:`ENSEMBLE_MOST` in all), each the one whose addition
       lowers the average's loss on the same split most, while one does.
    3. The chosen model(s) are cross-validated again on all items with `n_folds` folds and seed
       `seed`, and calibrated with the temperature found in 1: those are the ``pred_probs``
       returned, and the CV accuracy is theirs.

    Parameters
    ----------
    feature_sets : mapping of str to matrix
        Named feature matrices of the same items (dense or sparse), e.g. from
        :func:`image_feature_sets`.
    labels : array-like of int
        Given labels, ``0..n_classes-1``.
    n_classes : int
        Number of classes.
    candidates : sequence of (feature set, model name)
        Model names as :func:`quality.pred_probs.cross_val_pred_probs` takes them. Candidates
        whose feature set is missing are skipped.
    n_folds, seed : int
        Folds and seed of the final cross-validation.
    selection_size : int, default 3000
        Largest number of items the candidates are compared on.
    ensemble : bool, default True
        Allow an average of up to :data:`ENSEMBLE_MOST` candidates.
    progress : callable, optional
        ``progress(fraction, message)`` as candidates are tried.

    Returns
    -------
    pred_probs : np.ndarray
        ``(n_items, n_classes)``, out of sample for every item.
    model_name : str
        What was chosen, e.g. ``"hog + svm_rbf(C=10)"`` or ``"a + m1 & b + m2"`` for an average.
    cv_accuracy : float
        Accuracy of `pred_probs` against the given labels.
    details : dict
        ``log_loss_by_candidate``, ``accuracy_by_candidate`` (selection split), ``chosen`` (list
        of candidate names), ``selected_on`` (items), ``selection_folds``, ``n_folds``,
        ``fallback_rows``, ``features`` (the chosen feature sets), ``temperature`` (per chosen).

    Raises
    ------
    QCInputError
        On invalid input, or when no candidate can run.
    """
    usable = [(f, m) for f, m in candidates if f in feature_sets]
    if not usable:
        raise QCInputError("select_pred_probs: no candidate has its feature set")
    y = np.asarray(labels)
    n = y.shape[0]
    too_many = [c for c in usable if c not in candidates_for(usable, n_items=min(n, LARGE_PROJECT))]
    usable = [c for c in usable if c not in too_many]
    if not usable:
        raise QCInputError(f"select_pred_probs: no candidate model can run on {n:,} items")
    for name, X in feature_sets.items():
        if X.shape[0] != n:
            raise QCInputError(f"feature set {name!r}: {X.shape[0]} rows for {n} labels")
    report = progress or (lambda _f, _m: None)
    # the full cross-validation of one candidate checks every input (and is what we return)
    first_f, first_m = usable[0]
    if len(usable) == 1:
        pp, name, acc, det = cross_val_pred_probs(feature_sets[first_f], y, n_classes=n_classes,
                                                  candidates=(first_m,), n_folds=n_folds, seed=seed,
                                                  return_details=True)
        chosen = f"{first_f} + {name}"
        return pp, chosen, acc, _details({chosen: None}, {chosen: None}, [chosen], n, 0, det, [first_f])

    y = y.astype(np.int64)
    sub = _stratified_subsample(y, selection_size, seed) if n > selection_size else np.arange(n)
    ys = y[sub]
    counts = np.bincount(ys, minlength=n_classes)
    prior = counts / counts.sum()
    folds = _folds(ys, SELECTION_FOLDS, seed + 1)
    losses: dict[str, float] = {}
    accuracy: dict[str, float] = {}
    oof: dict[str, np.ndarray] = {}
    temps: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for j, (fset, model) in enumerate(usable):
        key = f"{fset} + {model}"
        report(j / len(usable), f"cross-validating {key} ({j + 1} of {len(usable)})")
        X = feature_sets[fset]
        try:
            pp, _ = _run_cv(model, X[sub], ys, n_classes=n_classes, folds=folds, prior=prior, seed=seed)
        except (QCInputError, ValueError) as exc:
            skipped[key] = str(exc)
            continue
        temps[key] = _temperature(pp, ys)
        oof[key] = _scaled(pp, temps[key])
        losses[key] = _log_loss(oof[key], ys)
        accuracy[key] = float(np.mean(pp.argmax(axis=1) == ys))
    if not oof:
        raise QCInputError("no candidate model can run on this data: "
                           + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    ranked = sorted(oof, key=lambda k: (losses[k], k))
    chosen = _forward_selection(ranked, oof, losses, ys) if ensemble else ranked[:1]
    report(0.9, f"cross-validating the choice: {' & '.join(chosen)}")
    parts = []
    fallback = np.zeros(0, dtype=np.int64)
    det: dict[str, Any] = {}
    for key in chosen:
        fset, model = key.split(" + ", 1)
        pp, _, _, det = cross_val_pred_probs(feature_sets[fset], y, n_classes=n_classes, candidates=(model,),
                                             n_folds=n_folds, seed=seed, return_details=True)
        parts.append(_scaled(pp, temps[key]))
        fallback = np.union1d(fallback, np.asarray(det["fallback_rows"], dtype=np.int64))
    pred_probs = np.mean(parts, axis=0)
    pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    acc = float(np.mean(pred_probs.argmax(axis=1) == y))
    det = {**det, "fallback_rows": fallback}
    out = _details(losses, accuracy, chosen, sub.size, len(folds), det, [k.split(" + ", 1)[0] for k in chosen])
    out["temperature"] = {k: round(temps[k], 4) for k in chosen}
    skipped.update({f"{f} + {m}": f"{m.split('(')[0]} does not run on {n:,} items" for f, m in too_many})
    if skipped:
        out["skipped"] = skipped
    return pred_probs, " & ".join(chosen), acc, out


#: Candidates the chosen average holds at most (each is cross-validated again on every item).
ENSEMBLE_MOST = 3


def _forward_selection(ranked: list[str], oof: Mapping[str, np.ndarray], losses: Mapping[str, float],
                       y: np.ndarray) -> list[str]:
    """The candidates whose equal-weight average is chosen (Caruana et al.'s forward ensemble
    selection, without repeats): the best alone, then, while the average has fewer than
    :data:`ENSEMBLE_MOST`, the candidate whose addition lowers the average's capped loss on the
    selection split most, if it lowers it at all. The partner added is the one that helps the
    average most, not the second best alone (two models of one feature set often err together)."""
    chosen = ranked[:1]
    best = losses[ranked[0]]
    while len(chosen) < min(ENSEMBLE_MOST, len(ranked)):
        total = np.sum([oof[k] for k in chosen], axis=0)
        trial = {k: _log_loss((total + oof[k]) / (len(chosen) + 1), y) for k in ranked if k not in chosen}
        add = min(trial, key=lambda k: (trial[k], ranked.index(k)))
        if trial[add] >= best:
            break
        chosen.append(add)
        best = trial[add]
    return chosen


_TEMPERATURES = np.geomspace(0.2, 5.0, 33)

#: Each item's loss is capped at ``-log(LOSS_FLOOR)``: a given label the model flatly contradicts
#: is probably wrong, and a model that points it out must not be charged without bound for it
#: (plain log loss on noisy labels favours models that hedge, which find label errors worse).
LOSS_FLOOR = 0.02


def _log_loss(pp: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss of the given labels, each item's capped at ``-log(LOSS_FLOOR)``."""
    return float(-np.mean(np.log(np.clip(pp[np.arange(y.size), y], LOSS_FLOOR, None))))


def _scaled(pp: np.ndarray, t: float) -> np.ndarray:
    """Probabilities with their log scaled by ``1 / t`` (temperature scaling), rows summing to 1."""
    if t == 1.0:
        return pp
    z = np.log(np.clip(pp, 1e-12, None)) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(pp: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss of the given labels, uncapped (what calibration minimizes)."""
    return float(-np.mean(np.log(np.clip(pp[np.arange(y.size), y], 1e-12, None))))


def _temperature(pp: np.ndarray, y: np.ndarray) -> float:
    """The temperature (one number, from a fixed grid) that minimizes the plain log loss of `pp`.

    Calibration minimizes the proper, uncapped loss: the capped one (:func:`_log_loss`) charges
    an over-confident model too little for the labels it contradicts, so a temperature fitted
    on it makes probabilities sharper than they are, and cleanlab's confident joint then counts
    the model's own mistakes as wrong labels (it over-estimates the noise and flags too much).
    """
    return float(min(_TEMPERATURES, key=lambda t: (_nll(_scaled(pp, float(t)), y), abs(np.log(t)))))


def _details(losses: dict, accuracy: dict, chosen: list[str], selected_on: int, selection_folds: int,
             det: dict, features: list[str]) -> dict[str, Any]:
    return {
        "log_loss_by_candidate": {k: (None if v is None else round(v, 4)) for k, v in losses.items()},
        "accuracy_by_candidate": {k: (None if v is None else round(v, 4)) for k, v in accuracy.items()},
        "chosen": chosen,
        "selected_on": int(selected_on),
        "selection_folds": int(selection_folds),
        "n_folds": det.get("n_folds"),
        "fallback_rows": det.get("fallback_rows", np.zeros(0, dtype=np.int64)),
        "features": list(dict.fromkeys(features)),
    }
