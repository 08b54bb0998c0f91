"""Inter-annotator agreement metrics and simple label aggregation, as pure vectorised functions.

Every function takes a *labels matrix* of shape ``(n_items, n_annotators)``: the class index
each annotator gave each item, NaN where the annotator did not label the item (the layout
of cleanlab's ``labels_multiannotator``). No database, no jobs.

* :func:`krippendorff_alpha` -- Krippendorff's alpha for a whole project (nominal for labels,
  ordinal for ratings; the ``krippendorff`` package computes it), and
  :func:`krippendorff_alpha_per_class` -- one alpha per class (that class vs. the rest).
* :func:`pairwise_cohen_kappa` -- Cohen's kappa of every pair of annotators on shared items.
* :func:`unanimous_share` -- share of multiply-labelled items on which all annotators agree.
* :func:`majority_vote` and :func:`dawid_skene` -- aggregate labels (for comparison with
  CROWDLAB in :func:`quality.scoring.multiannotator`).
* :func:`independent_annotations` -- which annotations are independent labels (the rule for
  annotations made from a pre-label), for QC and the dashboard alike.
"""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np

from quality import QCInputError

__all__ = [
    "LEVELS",
    "dawid_skene",
    "independent_annotations",
    "krippendorff_alpha",
    "krippendorff_alpha_per_class",
    "label_counts",
    "majority_vote",
    "pairwise_cohen_kappa",
    "unanimous_share",
]


def independent_annotations(items: Any, from_prelabel: Any) -> np.ndarray:
    """Which annotations count as labels of their own, one rule for every measure of people.

    An annotation made from a pre-label (Label Studio's ``parent_prediction``) repeats the model
    more than it judges; where its item has an annotation made without one, it is left out (of
    CROWDLAB's consensus, agreement, annotator scores). An item labelled only from pre-labels
    keeps them: it has no other label to check. ARCHITECTURE.md, Pre-labels.

    Parameters
    ----------
    items : array-like, shape (n_annotations,)
        The item (task id) of each annotation.
    from_prelabel : array-like of bool, shape (n_annotations,)
        Whether each annotation was made from a pre-label.

    Returns
    -------
    np.ndarray of bool, shape (n_annotations,)
        True for the annotations to keep.

    Examples
    --------
    >>> independent_annotations([1, 1, 2], [True, False, True]).tolist()
    [False, True, True]
    """
    item_of = np.asarray(items)
    pre = np.asarray(from_prelabel, dtype=bool)
    if item_of.shape != pre.shape:
        raise QCInputError(f"items and from_prelabel differ in shape: {item_of.shape} and {pre.shape}")
    if not pre.any():
        return np.ones(pre.shape, dtype=bool)
    return ~(pre & np.isin(item_of, np.unique(item_of[~pre])))


def _check_matrix(labels_matrix: Any, n_classes: int | None) -> tuple[np.ndarray, int]:
    """Validate the labels matrix; return it as float64 (NaN = missing) and n_classes."""
    if hasattr(labels_matrix, "to_numpy"):  # pandas DataFrame
        values = labels_matrix.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.array(labels_matrix, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QCInputError(f"labels_matrix: not a numeric matrix ({exc})") from exc
    if values.ndim != 2:
        raise QCInputError(
            f"labels_matrix: expected shape (n_items, n_annotators), got {values.shape}"
        )
    given = ~np.isnan(values)
    if not given.any():
        raise QCInputError("labels_matrix: no labels")
    v = values[given]
    bad = ~np.isfinite(v) | (v != np.round(v)) | (v < 0)
    if bad.any():
        r, c = np.argwhere(given)[np.flatnonzero(bad)[0]]
        raise QCInputError(
            f"labels_matrix: item {r}, annotator {c}: {float(values[r, c]):g} is not a class index"
        )
    top = int(v.max())
    if n_classes is None:
        n_classes = max(top + 1, 2)
    elif not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise QCInputError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    elif top >= n_classes:
        r, c = np.argwhere(given & (values >= n_classes))[0]
        raise QCInputError(
            f"labels_matrix: item {r}, annotator {c}: class index {int(values[r, c])} "
            f"is outside 0..{n_classes - 1}"
        )
    return values, int(n_classes)


def label_counts(labels_matrix: Any, *, n_classes: int | None = None) -> np.ndarray:
    """Number of annotators who gave each class to each item.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing.
    n_classes : int, optional
        Number of classes (default: largest index + 1).

    Returns
    -------
    counts : np.ndarray
        Integer array of shape ``(n_items, n_classes)``.
    """
    values, k = _check_matrix(labels_matrix, n_classes)
    return _counts(values, k)


def _counts(values: np.ndarray, k: int) -> np.ndarray:
    n = values.shape[0]
    rows, cols = np.nonzero(~np.isnan(values))
    lab = values[rows, cols].astype(np.int64)
    return np.bincount(rows * k + lab, minlength=n * k).reshape(n, k)


def _multi_counts(
    labels_matrix: Any, n_classes: int | None, who: str, hint: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate; per-item class counts, labels per item, and the mask of items with >= 2 labels.

    Raises QCInputError naming the metric ``who`` (then ``hint``) if no item has two labels.
    """
    values, k = _check_matrix(labels_matrix, n_classes)
    counts = _counts(values, k)
    m = counts.sum(axis=1)
    multi = m >= 2
    if not multi.any():
        raise QCInputError(f"{who}: no item has labels from 2 annotators{hint}")
    return counts, m, multi


#: Krippendorff's levels of measurement: ``nominal`` for labels, ``ordinal`` for ratings (class
#: indices in rating order), ``interval`` and ``ratio`` for numbers (the class indices).
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _alpha_from_counts(counts: np.ndarray, level: str = "nominal") -> float:
    """Krippendorff's alpha (the ``krippendorff`` package) from per-item value counts; NaN if
    undefined (no item with two labels, or a single value used on them).

    Items with fewer than two labels and values nobody used change no level's alpha, so they
    are left out before the package builds its coincidences: its memory grows with items x
    values squared.
    """
    multi = counts[counts.sum(axis=1) >= 2]
    used = multi.sum(axis=0) > 0
    if not multi.shape[0] or used.sum() < 2:
        return float("nan")
    return float(krippendorff.alpha(value_counts=multi[:, used], value_domain=np.flatnonzero(used),
                                    level_of_measurement=level))


def krippendorff_alpha(
    labels_matrix: Any, *, n_classes: int | None = None, level_of_measurement: str = "nominal"
) -> float:
    """Krippendorff's alpha over a whole project, computed by the ``krippendorff`` package.

    1 is perfect agreement, 0 is agreement at chance level, negative is systematic
    disagreement. Items with fewer than two labels do not count. Nominal for labels; ordinal
    for ratings, whose class indices are in rating order.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing.
    n_classes : int, optional
        Number of classes (default: largest index + 1). Unused classes do not change alpha.
    level_of_measurement : {"nominal", "ordinal", "interval", "ratio"}, default "nominal"
        How far apart two classes are (:data:`LEVELS`).

    Returns
    -------
    alpha : float

    Raises
    ------
    QCInputError
        If no item has two labels, or every label is the same class (alpha is undefined:
        there is no variation to agree on), on an unknown level, or on an invalid matrix.
    """
    if level_of_measurement not in LEVELS:
        raise QCInputError(f"level_of_measurement must be one of {', '.join(LEVELS)}, "
                           f"got {level_of_measurement!r}")
    counts, _, _ = _multi_counts(
        labels_matrix, n_classes, "krippendorff_alpha", "; alpha needs overlap"
    )
    alpha = _alpha_from_counts(counts, level_of_measurement)
    if np.isnan(alpha):
        raise QCInputError(
            "krippendorff_alpha: every label on multiply-labelled items is the same class; "
            "alpha is undefined"
        )
    return alpha


def krippendorff_alpha_per_class(labels_matrix: Any, *, n_classes: int | None = None) -> np.ndarray:
    """Krippendorff's alpha of each class against all others (binary nominal alpha).

    Shows which labels annotators agree on and which they confuse: for class ``c`` every
    label is recoded as "``c``" or "not ``c``" and the nominal alpha computed by the
    ``krippendorff`` package.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing.
    n_classes : int, optional
        Number of classes (default: largest index + 1).

    Returns
    -------
    alpha : np.ndarray
        Shape ``(n_classes,)``; NaN for a class that is never (or always) used on the
        multiply-labelled items, where alpha is undefined.

    Raises
    ------
    QCInputError
        If no item has two labels, or on an invalid matrix.
    """
    counts, m, keep = _multi_counts(
        labels_matrix, n_classes, "krippendorff_alpha_per_class", "; alpha needs overlap"
    )
    c = counts[keep]
    mk = m[keep]
    return np.array([_alpha_from_counts(np.column_stack([c[:, k], mk - c[:, k]]))
                     for k in range(counts.shape[1])])


def pairwise_cohen_kappa(
    labels_matrix: Any,
    *,
    n_classes: int | None = None,
    min_shared: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa of every pair of annotators, on the items both labelled.

    All pairs at once, as sparse products: for annotators ``a`` and ``b`` sharing ``n``
    items, ``A`` of which they gave the same class, and ``r_c``, ``s_c`` the times each gave
    class ``c`` on those items, kappa = ``(n A - sum_c r_c s_c) / (n^2 - sum_c r_c s_c)`` in
    integers; the same figure as :func:`sklearn.metrics.cohen_kappa_score` of the pair.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing.
    n_classes : int, optional
        Number of classes (default: largest index + 1).
    min_shared : int, default 2
        Pairs sharing fewer items get NaN.

    Returns
    -------
    kappa : np.ndarray
        Symmetric ``(n_annotators, n_annotators)`` matrix, 1 on the diagonal for annotators
        with labels; NaN where the pair shares fewer than `min_shared` items or kappa is
        undefined (both gave one and the same class to every shared item).
    n_shared : np.ndarray
        Integer ``(n_annotators, n_annotators)`` matrix of shared item counts.

    Raises
    ------
    QCInputError
        On an invalid matrix.
    """
    from scipy import sparse

    values, k = _check_matrix(labels_matrix, n_classes)
    n, m = values.shape
    item, annot = np.nonzero(~np.isnan(values))
    lab = values[item, annot].astype(np.int64)
    ones = np.ones(item.size, dtype=np.int64)
    given = sparse.csc_matrix((ones, (item, annot)), shape=(n, m))
    shared = np.asarray((given.T @ given).todense(), dtype=np.int64)
    # by_class[:, a * k + c]: the items annotator a gave class c
    by_class = sparse.csc_matrix((ones, (item, annot * k + lab)), shape=(n, m * k))
    # given_class[a, c, b]: items annotator a gave class c that annotator b labelled too
    given_class = np.asarray((by_class.T @ given).todense(), dtype=np.int64).reshape(m, k, m)
    chance = np.einsum("acb,bca->ab", given_class, given_class)  # sum_c r_c s_c of each pair
    same = np.zeros((m, m), dtype=np.int64)
    for c in range(k):
        of_c = by_class[:, c::k]  # (n, m): who gave class c to which item
        same += np.asarray((of_c.T @ of_c).todense(), dtype=np.int64)
    numerator = shared * same - chance
    denominator = shared * shared - chance
    kappa = np.full((m, m), np.nan)
    ok = (shared >= max(min_shared, 1)) & (denominator != 0)
    kappa[ok] = numerator[ok] / denominator[ok]
    labelled = np.diag(shared) > 0
    kappa[np.diag_indices(m)] = np.where(labelled, 1.0, np.nan)
    return kappa, shared


def unanimous_share(labels_matrix: Any) -> float:
    """Share of items with at least 2 labels on which every annotator gave the same class.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing.

    Returns
    -------
    share : float

    Raises
    ------
    QCInputError
        If no item has two labels, or on an invalid matrix.
    """
    counts, m, multi = _multi_counts(labels_matrix, None, "unanimous_share")
    return float(np.mean(counts[multi].max(axis=1) == m[multi]))


def majority_vote(
    labels_matrix: Any,
    *,
    n_classes: int | None = None,
    pred_probs: Any = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Majority-vote label of each item.

    Ties are broken by `pred_probs` when given (the tied class the model prefers, as
    cleanlab's ``get_majority_vote_label`` does), else at random with `seed` (never
    systematically towards low class indices).

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing. Every item needs a label.
    n_classes : int, optional
        Number of classes (default: largest index + 1).
    pred_probs : array-like, shape (n_items, n_classes), optional
        Model probabilities used to break ties.
    seed : int, default 0
        Seed for random tie breaking.

    Returns
    -------
    labels : np.ndarray
        Integer array of shape ``(n_items,)``.
    agreement : np.ndarray
        Share of the item's annotators who chose that label.

    Raises
    ------
    QCInputError
        If an item has no label, `pred_probs` has the wrong shape, or on an invalid matrix.
    """
    values, k = _check_matrix(labels_matrix, n_classes)
    counts = _counts(values, k).astype(np.float64)
    m = counts.sum(axis=1)
    empty = np.flatnonzero(m == 0)
    if empty.size:
        raise QCInputError(f"majority_vote: item {empty[0]} has no label")
    if pred_probs is not None:
        pp = np.asarray(pred_probs, dtype=np.float64)
        if pp.shape != counts.shape or not np.isfinite(pp).all():
            raise QCInputError(
                f"pred_probs: expected finite values of shape {counts.shape}, got {pp.shape}"
            )
        tie = pp / (pp.max(axis=1, keepdims=True) + 1.0) * 0.5  # < 0.5: ranks within ties only
    else:
        tie = np.random.default_rng(seed).random(counts.shape) * 0.5
    labels = np.argmax(counts + tie, axis=1)
    agreement = counts[np.arange(counts.shape[0]), labels] / m
    return labels.astype(np.int64), agreement


def dawid_skene(
    labels_matrix: Any,
    *,
    n_classes: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> dict[str, Any]:
    """Dawid-Skene: aggregate labels by EM over per-annotator confusion matrices.

    Each annotator ``j`` has a confusion matrix ``pi_j[c, l]`` = P(annotator says ``l`` |
    true class ``c``). Starting from the vote shares, EM alternates estimating the class
    posterior of every item and the confusion matrices (with additive `smoothing`) until the
    log-likelihood improves by less than `tol` (relative).

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices, NaN where missing. Every item needs a label.
    n_classes : int, optional
        Number of classes (default: largest index + 1).
    max_iter : int, default 100
        Most EM iterations.
    tol : float, default 1e-6
        Relative log-likelihood improvement below which EM stops.
    smoothing : float, default 0.01
        Pseudo-count added to every confusion-matrix cell and class prior.

    Returns
    -------
    result : dict
        ``labels`` (n_items,), ``posteriors`` (n_items x n_classes), ``confusion``
        (n_annotators x n_classes x n_classes, rows = true class), ``priors`` (n_classes,),
        ``annotator_accuracy`` (n_annotators,: prior-weighted diagonal of the confusion
        matrix), ``n_iter`` and ``converged``.

    Raises
    ------
    QCInputError
        If an item has no label, or on an invalid matrix or option.
    """
    values, k = _check_matrix(labels_matrix, n_classes)
    if not isinstance(max_iter, int) or max_iter < 1:
        raise QCInputError(f"max_iter must be a positive integer, got {max_iter!r}")
    if smoothing < 0:
        raise QCInputError(f"smoothing must be non-negative, got {smoothing!r}")
    n, m = values.shape
    item, annot = np.nonzero(~np.isnan(values))
    lab = values[item, annot].astype(np.int64)
    per_item = np.bincount(item, minlength=n)
    if (per_item == 0).any():
        raise QCInputError(f"dawid_skene: item {np.flatnonzero(per_item == 0)[0]} has no label")
    pair = annot * k + lab  # (annotator, given label) of each annotation

    counts = _counts(values, k).astype(np.float64)
    post = counts / counts.sum(axis=1, keepdims=True)
    prev = -np.inf
    converged = False
    n_iter = 0
    conf = np.zeros((m, k, k))
    priors = np.full(k, 1.0 / k)
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported after the loop
        # M-step: priors and confusion matrices from the current posteriors
        priors = post.sum(axis=0) + smoothing
        priors /= priors.sum()
        for c in range(k):
            conf[:, c, :] = np.bincount(pair, weights=post[item, c], minlength=m * k).reshape(m, k)
        conf += smoothing
        conf /= conf.sum(axis=2, keepdims=True)
        # E-step: log posterior of each class for each item
        log_conf = np.log(conf)
        loglik = np.tile(np.log(priors), (n, 1))
        for c in range(k):
            loglik[:, c] += np.bincount(item, weights=log_conf[annot, c, lab], minlength=n)
        top = loglik.max(axis=1, keepdims=True)
        post = np.exp(loglik - top)
        norm = post.sum(axis=1, keepdims=True)
        post /= norm
        total = float(np.sum(top[:, 0] + np.log(norm[:, 0])))
        if np.isfinite(prev) and abs(total - prev) <= tol * abs(total):
            converged = True
            break
        prev = total
    diag = np.einsum("jcc->jc", conf)
    return {
        "labels": post.argmax(axis=1).astype(np.int64),
        "posteriors": post,
        "confusion": conf,
        "priors": priors,
        "annotator_accuracy": diag @ priors,
        "n_iter": n_iter,
        "converged": converged,
    }
