"""Outliers and near duplicates as pure functions, in cleanlab's style: features (or
``pred_probs``) in, issue arrays out; two issue kinds apart from label issues.

* :func:`knn_graph` -- the k-nearest-neighbour graph both use (cleanlab's ``knn_graph``).
* :func:`outlier_issues` -- items far from every other (cleanlab's ``OutOfDistribution``).
* :func:`near_duplicate_issues` -- sets of (near) identical items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from quality import QCInputError, quiet
from quality.pred_probs import validate_pred_probs
from quality.scoring import check_single_labels

__all__ = ["knn_graph", "near_duplicate_issues", "outlier_issues"]


# ---------------------------------------------------------------------------------------------
# outliers and near duplicates
# ---------------------------------------------------------------------------------------------
def _check_knn_features(features: Any) -> Any:
    if sp.issparse(features):
        X = sp.csr_matrix(features, dtype=np.float64)
        if not np.isfinite(X.data).all():
            raise QCInputError("features: NaN or infinity in the feature matrix")
    else:
        try:
            X = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QCInputError(f"features: not a numeric matrix ({exc})") from exc
        if X.ndim != 2:
            raise QCInputError(f"features: expected a 2-D matrix, got shape {X.shape}")
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            raise QCInputError(f"features: row {np.flatnonzero(bad)[0]} holds NaN or infinity")
    if X.shape[0] < 3 or X.shape[1] == 0:
        raise QCInputError(
            f"features: need at least 3 items with at least 1 feature, got shape {X.shape}"
        )
    return X


def knn_graph(
    features: Any,
    *,
    k: int = 10,
    metric: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every item among the other items.

    The same graph serves :func:`outlier_issues` and :func:`near_duplicate_issues`, so it
    is computed once. Exact duplicates are neighbours at distance 0.

    Parameters
    ----------
    features : np.ndarray or scipy.sparse matrix, shape (n_items, n_features)
        Features (see :mod:`quality.features`).
    k : int, default 10
        Number of neighbours (reduced to ``n_items - 1`` for tiny data).
    metric : str, optional
        Distance, ``"euclidean"`` or ``"cosine"``. By default cosine for sparse features
        (TF-IDF) and euclidean otherwise.

    Returns
    -------
    distances : np.ndarray
        Shape ``(n_items, k)``, ascending per row.
    indices : np.ndarray
        Shape ``(n_items, k)``, the neighbours' row indices.

    Raises
    ------
    QCInputError
        Fewer than 3 items, NaN or infinite features, or an invalid `k`.
    """
    from sklearn import config_context
    from sklearn.neighbors import NearestNeighbors

    X = _check_knn_features(features)
    if not isinstance(k, int | np.integer) or k < 1:
        raise QCInputError(f"k must be a positive integer, got {k!r}")
    k = int(min(k, X.shape[0] - 1))
    if metric is None:
        metric = "cosine" if sp.issparse(X) else "euclidean"
    if metric not in ("euclidean", "cosine"):
        raise QCInputError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    if not sp.issparse(X):
        X = X.astype(np.float32)
    # keep sklearn's pairwise chunks small: bounded memory at 100k items
    with config_context(working_memory=128):
        nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute", n_jobs=1)
        nn.fit(X)
        dist, idx = nn.kneighbors(None)  # None: neighbours exclude the item itself
    dist = np.maximum(np.asarray(dist, dtype=np.float64), 0.0)
    return dist, np.asarray(idx, dtype=np.int64)


def outlier_issues(
    *,
    features: Any = None,
    pred_probs: Any = None,
    labels: Any = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    k: int = 10,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Outliers: items unlike the rest of the data (an issue kind separate from labels).

    From features (or a precomputed :func:`knn_graph`), as cleanlab's Datalab does: the
    score is ``exp(-d / median(d))`` of the average distance ``d`` to the `k` nearest
    neighbours, and an item is an outlier when ``d > Q3 + (1 / threshold - 1) * IQR``
    (default threshold 0.37037, i.e. Q3 + 1.7 IQR). From `pred_probs` alone, with
    :class:`cleanlab.outlier.OutOfDistribution` (entropy-based, adjusted by class
    thresholds when `labels` are given); an item is an outlier when its score is below
    ``threshold * median(score)`` (default 0.13).

    Parameters
    ----------
    features : np.ndarray or scipy.sparse matrix, optional
        Features, shape ``(n_items, n_features)``.
    pred_probs : array-like, shape (n_items, n_classes), optional
        Used only when neither `features` nor `knn` is given.
    labels : array-like of int, optional
        Given labels, to adjust `pred_probs` scores by per-class thresholds.
    knn : tuple (distances, indices), optional
        Output of :func:`knn_graph`, to avoid computing it twice.
    k : int, default 10
        Number of neighbours averaged over.
    threshold : float, optional
        See above; defaults to Datalab's values.

    Returns
    -------
    result : dict
        ``is_outlier`` (bool, n_items), ``outlier_score`` (in [0, 1], low = more unusual),
        ``ranked_issues`` (flagged items, most unusual first), ``n_issues``, ``method``
        (``"features"`` or ``"pred_probs"``), ``issue_threshold`` and ``reasons``.

    Raises
    ------
    QCInputError
        If neither features, `knn` nor `pred_probs` is given, or on invalid input.
    """
    if knn is None and features is not None:
        knn = knn_graph(features, k=k)
    if knn is not None:
        dist = np.asarray(knn[0], dtype=np.float64)
        if dist.ndim != 2 or dist.shape[0] < 3 or not np.isfinite(dist).all():
            raise QCInputError("knn: expected finite distances of shape (n_items, k)")
        t = 0.37037 if threshold is None else float(threshold)
        if not 0 < t <= 1:
            raise QCInputError(f"threshold must be in (0, 1] for feature outliers, got {t}")
        avg = dist[:, : min(k, dist.shape[1])].mean(axis=1)
        q1, q3 = np.percentile(avg, [25, 75])
        issue_threshold = float(q3 + (1.0 / t - 1.0) * (q3 - q1))
        scale = max(float(np.median(avg)), 100 * np.finfo(np.float64).eps)
        scores = np.exp(-avg / scale)
        is_outlier = avg > issue_threshold
        method = "features"
        rel = avg / scale
        reasons = [
            f"{rel[i]:.1f}x the typical distance to its {dist.shape[1]} nearest items"
            for i in range(avg.size)
        ]
    elif pred_probs is not None:
        from cleanlab.outlier import OutOfDistribution

        arr = np.asarray(pred_probs, dtype=np.float64)
        if arr.ndim != 2:
            raise QCInputError(f"pred_probs: expected a 2-D matrix, got shape {arr.shape}")
        pp = validate_pred_probs(arr, n_items=arr.shape[0], n_classes=arr.shape[1])
        if pp.shape[0] < 3 or pp.shape[1] < 2:
            raise QCInputError("pred_probs: need at least 3 items and 2 classes")
        y = None
        if labels is not None:
            names = [str(c) for c in range(pp.shape[1])]
            y = check_single_labels(labels, names, min_class_count=1)
            if y.size != pp.shape[0]:
                raise QCInputError(f"labels: {y.size} labels for {pp.shape[0]} pred_probs rows")
        t = 0.13 if threshold is None else float(threshold)
        if t < 0:
            raise QCInputError(f"threshold must be non-negative, got {t}")
        try:
            with quiet():
                ood = OutOfDistribution(params={"adjust_pred_probs": y is not None})
                scores = ood.fit_score(pred_probs=pp, labels=y, verbose=False)
        except ValueError as exc:
            raise QCInputError(f"cleanlab could not score these pred_probs: {exc}") from exc
        scores = np.asarray(scores, dtype=np.float64)
        issue_threshold = float(t * np.median(scores))
        is_outlier = scores < issue_threshold
        method = "pred_probs"
        reasons = [f"model is unsure which class this is (score {s:.2f})" for s in scores]
    else:
        raise QCInputError("outlier_issues: pass features, knn or pred_probs")
    ranked = np.flatnonzero(is_outlier)
    ranked = ranked[np.argsort(scores[ranked], kind="stable")]
    return {
        "is_outlier": is_outlier,
        "outlier_score": scores,
        "ranked_issues": ranked,
        "n_issues": int(is_outlier.sum()),
        "method": method,
        "issue_threshold": issue_threshold,
        "reasons": reasons,
    }


def near_duplicate_issues(
    *,
    features: Any = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    k: int = 10,
    threshold: float = 0.13,
) -> dict[str, Any]:
    """Near duplicates: items (almost) identical to another item (a separate issue kind).

    As cleanlab's Datalab does: two items are near duplicates when their distance is below
    ``threshold`` times the median distance from an item to its nearest neighbour; the
    relation is symmetric. Exact duplicates are always near duplicates.

    Parameters
    ----------
    features : np.ndarray or scipy.sparse matrix, optional
        Features, shape ``(n_items, n_features)``.
    knn : tuple (distances, indices), optional
        Output of :func:`knn_graph`, instead of `features`.
    k : int, default 10
        Number of neighbours searched (a set can hold at most ``k + 1`` items).
    threshold : float, default 0.13
        Relative distance below which items are near duplicates.

    Returns
    -------
    result : dict
        ``is_near_duplicate`` (bool, n_items), ``near_duplicate_score`` (in [0, 1], low =
        closer to its nearest neighbour), ``near_duplicate_sets`` (per item, sorted array of
        the other items it nearly duplicates), ``groups`` (connected groups of near
        duplicates, each a sorted list, largest first), ``nearest_distance``, ``n_issues``
        and ``reasons``.

    Raises
    ------
    QCInputError
        If neither features nor `knn` is given, or on invalid input.
    """
    from scipy.sparse.csgraph import connected_components

    if knn is None:
        if features is None:
            raise QCInputError("near_duplicate_issues: pass features or knn")
        knn = knn_graph(features, k=k)
    dist = np.asarray(knn[0], dtype=np.float64)
    idx = np.asarray(knn[1], dtype=np.int64)
    if dist.shape != idx.shape or dist.ndim != 2 or dist.shape[0] < 3:
        raise QCInputError("knn: expected distances and indices of the same shape (n_items, k)")
    if threshold < 0:
        raise QCInputError(f"threshold must be non-negative, got {threshold}")
    n = dist.shape[0]
    nearest = dist[:, 0]
    median = max(float(np.median(nearest)), 1e-12)
    close = dist < threshold * median
    rows = np.repeat(np.arange(n), dist.shape[1])[close.ravel()]
    cols = idx.ravel()[close.ravel()]
    adj = sp.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).tocsr()
    sets = [np.sort(adj.indices[adj.indptr[i] : adj.indptr[i + 1]]) for i in range(n)]
    is_dup = np.diff(adj.indptr) > 0
    _, comp = connected_components(adj, directed=False)
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(is_dup):
        groups.setdefault(int(comp[i]), []).append(int(i))
    group_list = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    scores = 1.0 - np.exp(-nearest / median)
    reasons = [
        (
            f"near duplicate of item(s) {', '.join(str(j) for j in sets[i][:5])}"
            + (" ..." if sets[i].size > 5 else "")
        )
        if is_dup[i]
        else ""
        for i in range(n)
    ]
    return {
        "is_near_duplicate": is_dup,
        "near_duplicate_score": scores,
        "near_duplicate_sets": sets,
        "groups": group_list,
        "nearest_distance": nearest,
        "n_issues": int(is_dup.sum()),
        "reasons": reasons,
    }
