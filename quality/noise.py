"""How many labels are wrong: the noise rate from anchor items, a pure function.

cleanlab's figure (``1 - trace`` of the calibrated confident joint) counts an item off the
diagonal whenever the model is confident enough in another class than its label. A weak model is
often confidently wrong, so that figure adds the model's own mistakes to the wrong labels: on
bench/qc_zoo.py's review texts (cross-validated accuracy 0.60-0.75) it is 12-17 points too high.

:func:`estimate_noise` separates the two the way the noise-transition literature does (Liu & Tao
2016, Patrini et al. 2017: *anchor points*): wrong labels are assumed independent of the item
once its true class is known (class-conditional noise, the assumption cleanlab makes too), so
among items that surely belong to class ``j`` the share given each label is column ``j`` of the
noise matrix, ``P(given label | true class j)``. The items the out-of-sample model ranks highest
for ``j`` are those sure items. How far down that ranking to go is a trade between purity (near
the top, every item is truly ``j``) and sampling error (few items): as in the *best bin*
mixture-proportion estimator (Garg et al. 2021), the depth taken is the one whose share of other
labels plus a Hoeffding bound on its sampling error is smallest. Items of another class that
slip into the top only raise the share (they mostly carry their own label), so a shallow,
impure cut is never preferred to a pure one.

With the noise matrix ``T`` (columns from the anchors) and the given labels' shares ``p``, the
true class shares ``pi`` solve ``T @ pi = p`` and the noise rate is ``1 - sum_j T[j, j] pi[j]``.
No constant is fitted to any data set: the only setting is the bound's confidence.

Where it errs. The depth is chosen on the same items the share is read from, so the chosen share
is a little optimistic (low): with a strong model it comes out 1-2.5 points under the truth at
20 % noise. A class the model is never sure of (no region where it is alone) has no pure anchors,
and its impure ones raise the estimate (the review texts at 5-10 %: 3-4 points over).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ANCHOR_DELTA", "MIN_ANCHORS", "anchor_noise_matrix", "estimate_noise"]

#: Confidence of the Hoeffding bound that picks each class's depth (one-sided, per depth).
ANCHOR_DELTA = 0.05
#: Fewest items a class's anchor set holds (fewer give a share too coarse to mean anything),
#: unless the class itself is smaller.
MIN_ANCHORS = 10


def anchor_noise_matrix(labels: Any, pred_probs: Any, *, delta: float = ANCHOR_DELTA) -> tuple[np.ndarray, np.ndarray]:
    """The noise matrix from anchor items, and how many anchors each class had.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given labels, ``0..k-1``.
    pred_probs : array-like of float, shape (n, k)
        Out-of-sample probabilities (a model that never saw the item's own label).
    delta : float
        Confidence of the bound that chooses each class's depth.

    Returns
    -------
    noise_matrix : np.ndarray, shape (k, k)
        ``T[c, j]`` = estimated P(given label c | true class j); columns sum to 1.
    anchors : np.ndarray of int, shape (k,)
        Items taken as sure members of each class.
    """
    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    n, k = pp.shape
    T = np.eye(k)
    anchors = np.zeros(k, dtype=np.int64)
    depth = np.arange(1, n + 1, dtype=np.float64)
    bonus = np.sqrt(np.log(1.0 / delta) / (2.0 * depth))
    pred = pp.argmax(axis=1)
    for j in range(k):
        order = np.argsort(-pp[:, j], kind="stable")
        given = y[order]
        # the share of the top m items given another label than j, for every m
        other = np.cumsum(given != j) / depth
        # no deeper than the items the model calls j (past them the ranking is of other classes)
        # and no deeper than the items labelled j (the class's size): a small class has few anchors
        limit = max(1, int(min(np.sum(pred == j), np.sum(y == j))))
        lo = min(MIN_ANCHORS, limit)
        # a cut is a threshold on the score: items of equal score go in or out together
        scores = pp[order, j]
        cuts = np.flatnonzero(np.append(scores[:-1] > scores[1:], True)) + 1
        ok = cuts[(cuts >= lo) & (cuts <= limit)]
        if ok.size == 0:  # one long tie around the limit: take the first cut past it
            ok = cuts[cuts >= lo][:1]
        m = int(ok[np.argmin(other[ok - 1] + bonus[ok - 1])])
        anchors[j] = m
        T[:, j] = np.bincount(given[:m], minlength=k)[:k] / m
    return T, anchors


def estimate_noise(labels: Any, pred_probs: Any, *, delta: float = ANCHOR_DELTA) -> dict[str, Any]:
    """The share of wrong labels, estimated from anchor items (see the module docstring).

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given labels, ``0..k-1``.
    pred_probs : array-like of float, shape (n, k)
        Out-of-sample probabilities.
    delta : float
        Confidence of the bound that chooses each class's depth.

    Returns
    -------
    dict
        ``noise_rate`` (float), ``noise_rate_per_class`` (share of wrong labels among items given
        each class; NaN for a class no item has), ``noise_matrix`` (``T[c, j]`` = P(given c | true
        j)), ``class_shares`` (estimated true shares), ``anchors`` (items per class).
    """
    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    n, k = pp.shape
    T, anchors = anchor_noise_matrix(y, pp, delta=delta)
    given_shares = np.bincount(y, minlength=k)[:k] / max(n, 1)
    pi = _true_shares(T, given_shares)
    joint = T * pi[None, :]  # joint[c, j] = P(given c, true j)
    rows = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(given_shares > 0, 1.0 - np.diag(joint) / np.where(rows > 0, rows, 1.0), np.nan)
    return {
        "noise_rate": float(np.clip(1.0 - np.trace(joint) / max(joint.sum(), 1e-12), 0.0, 1.0)),
        "noise_rate_per_class": per_class,
        "noise_matrix": T,
        "class_shares": pi,
        "anchors": anchors,
    }


def _true_shares(T: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The true class shares ``pi >= 0`` (summing to 1) with ``T @ pi`` closest to the given
    labels' shares (non-negative least squares)."""
    from scipy.optimize import nnls

    pi, _ = nnls(T, given)
    total = pi.sum()
    return pi / total if total > 0 else given
