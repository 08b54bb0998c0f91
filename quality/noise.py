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
mixture-proportion estimator (Garg et al. 2021), the depth taken is the one whose upper confidence
bound on its share of other labels is smallest; the bound is Wilson's score interval, which
shrinks with the share's variance (a Hoeffding bound is that of a share of 1/2, so it charged a
shallow, pure cut as much as an impure one of the same size and went deeper, into other classes,
than the purity warranted). Items of another class that
slip into the top only raise the share (they mostly carry their own label), so a shallow,
impure cut is never preferred to a pure one. Read on the items it was chosen on, the lowest
share of many cuts is optimistic (low: a strong model's estimate came out 1-2.7 points under the
truth, and the flags too few), so the depth is chosen on one random half of the items and the
share read on the other (cross-fitting), over several halvings (stratified by label) pooled.

With the noise matrix ``T`` (columns from the anchors) and the given labels' shares ``p``, the
true class shares ``pi`` solve ``T @ pi = p`` and the noise rate is ``1 - sum_j T[j, j] pi[j]``.
No constant is fitted to any data set: the settings are the bound's confidence and the number
of halvings (bench/qc_noise.py compares this rule with best bin on all items and others).

Where the columns err (the figures of this paragraph are the columns' alone): high, where the
model is weak. A class the model is never sure of (no region
where it is alone) has no pure anchors, and the impure ones, read on items the depth was not
chosen on, raise the estimate: on bench/qc_zoo.py's review texts (cross-validated accuracy
0.60-0.76) by 3-7 points (5-10 with ``--seed 1``), on glyphs by 2-3 at 5 % (4.3 at 20 % with
``--seed 1``); on the Gaussian classes of tests/quality/test_noise.py by 1-3 points (a class's
own rate by up to 6). Where the model is strong, within 1.2 points, a little low on textures at
5-10 % (-0.9, -1.2: there the anchors are pure, and by chance few flips sit in the tops).
bench/qc_zoo.py's full run: within 2 points on 14 of 18 rows (13 with ``--seed 1``); 9 before,
with a Hoeffding bound in place of Wilson's (which charged a pure cut as much as an impure one
of its size) and the SVM's vote-count probabilities: the reviews 6-8 points high, shapes 3-5.

Read by rows as well (:func:`complement_noise_matrix`). A weak model is seldom sure what an item
is, but often sure what it is not: the items it ranks lowest for class ``c`` are surely not of
``c``, so those of them given ``c`` are wrong labels, and their share among the anchors the model
calls ``d`` is ``T[c, d]`` (shrunk toward the share among all of them by ``MIN_ANCHORS`` items'
worth, since few anchors may be called ``d``); the diagonal is what is left of each column. The
depth is chosen and the share read as for the columns (best bin, cross-fitted). On six
overlapping Gaussian classes (tests/quality/test_noise.py, the model right on 0.54) the columns
are 17-21 points high and the rows within 2.5. But where the model is strong the rows' anchors
are few (a shallow cut taken for being pure) and err either way by more than their count says:
2-3 points low on three well separated Gaussian classes now and then, 2.5-3 points high on the
demo digits. So :func:`estimate_noise` keeps the columns' reading unless it is higher than the
rows' by more than the sampling error of the difference (``z`` at ``1 - delta``, the errors by
the delta method at the mean of the two matrices: :func:`reading_errors`), the sign that some
class has no pure anchors. Keeping the lower of the two (merged once, reverted) ran low on
strong models: textures 20 % with ``--seed 1`` read 0.173 for 0.20 and fell below its baseline.
Pooling the two within their error (inverse-variance weights) brought textures 5-10 % to the
truth, but the digits to 0.945 at 10 % (the rows 2.5 points high). bench/qc_zoo.py's figures
(seeds 0, 1, 2, on the QC jobs' own probabilities, ``--dump``; 27 of the 54 rows, the 5 changed
among them, run through the product with this rule gave the same figures): the rows' reading is
kept on 5 of 54 rows, all review texts (the columns 4.6-9.6 points high there, the rows 1.0-3.6), the
others unchanged; within 2 points on 17, 14, 15 of 18 rows (16, 13, 14 with the columns alone),
max error 2.4, 5.3, 5.4 points (6.2, 9.6, 7.8). Still outside: the review texts where the two
readings differ by less than their error (reviews 10 % on seeds 1 and 2, 5 % on seed 2: the
columns' +4.0 to +5.4 kept) or both err high (5 % seed 0 +2.4, 20 % seed 1 +3.6), glyphs
5-10 % (+2.1 to +3.2). The cost: two readings, 4.7-8.1 s for 100,000 items of 10 classes
where the columns alone took 2.2-8.5 (alternated, load 6-7 on 2 cores).

The review texts are weak by construction, not for want of a model (bench/qc_text_ceiling.py):
trained on 40,000 clean reviews of the same generator, logistic regression on binary word
1-3-grams is right on 0.85 of the benchmark's 1,200 and naive Bayes on 0.87 (the generator gives
many reviews as many phrases of another category, or of the other sentiment, as of their own);
trained on 960 clean ones (a fold's training set), 0.79, which the zoo's choice reaches on noisy
labels (0.77-0.79 against the true labels at 5 %, 0.73-0.75 at 10-20 %); the tickets' ceiling,
0.89, is reached with 960 already (the zoo: 0.88-0.89 on noisy labels). Multinomial and
complement naive Bayes and NB-weighted logistic regression (Wang & Manning's NB-SVM) lose to the
zoo's candidates by its own selection loss, on the tickets too. At the depth chosen, up to a
tenth of a review class's anchors are of another class (the model's probability at the cut is
0.80-0.88). Reading each class's shares at the top of its ranking, extrapolated by a line in the
rank (``intercept`` in bench/qc_noise.py), brings the reviews nearer the truth but the tickets'
estimate far under it (1.7-5.6 % for 5-10 %: their other classes come in late and steeply, not
linearly): 13 rows at their baseline instead of 17 and 16 (seeds 0 and 1), so not used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ANCHOR_DELTA", "HALVINGS", "MIN_ANCHORS", "anchor_noise_matrix", "best_bin", "class_ranking", "complement_noise_matrix", "estimate_noise", "lowest_flags", "noise_from_matrix", "reading_errors"]

#: Confidence of the bound (Wilson's score, one-sided, per depth) that picks each class's depth.
ANCHOR_DELTA = 0.05
#: Random halvings of the items whose anchor shares are pooled (see :func:`anchor_noise_matrix`).
HALVINGS = 10
#: Fewest items a class's anchor set holds (fewer give a share too coarse to mean anything),
#: unless the class itself is smaller.
MIN_ANCHORS = 10


def _halves(y: np.ndarray, halvings: int, seed: int) -> list[np.ndarray]:
    """``halvings`` random halvings of the items, each as its two halves' masks, stratified by the
    given label: every other item of each label, in a random order, so each half holds half of
    every class (a lopsided half cuts its anchors short)."""
    rng = np.random.default_rng(seed)
    halves = []
    for _ in range(halvings if y.size >= 2 else 0):
        perm = rng.permutation(y.size)
        perm = perm[np.argsort(y[perm], kind="stable")]
        first = np.zeros(y.size, dtype=bool)
        first[perm[0::2]] = True
        halves += [first, ~first]
    return halves


def anchor_noise_matrix(
    labels: Any, pred_probs: Any, *, delta: float = ANCHOR_DELTA, halvings: int = HALVINGS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The noise matrix from anchor items, and how many anchors each class had.

    Each class's anchor set is the items above a score threshold. The threshold is chosen by
    best bin (:func:`best_bin`) on one random half of the items and the labels are read on the
    other half's items above it, both ways round, over ``halvings`` random halvings, the labels
    read pooled. Reading the share on items the threshold was not chosen on removes the optimism
    of picking the cut whose share happened to be lowest; pooling the halvings gives back most of
    the precision of reading on every item. The bound that chooses the threshold is that of the
    whole set's count above it (twice the half's count), since the pooled share it bounds is read
    from about that many items. A class with fewer than
    ``2 * MIN_ANCHORS`` items (given or predicted), or ``halvings=0``: the depth is chosen and
    the share read on all the items.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given labels, ``0..k-1``.
    pred_probs : array-like of float, shape (n, k)
        Out-of-sample probabilities (a model that never saw the item's own label).
    delta : float
        Confidence of the bound that chooses each class's depth.
    halvings : int
        Random halvings pooled; 0 chooses the depth and reads the share on all the items
        (best bin as Garg et al. use it, whose share comes out a little low).
    seed : int
        Seed of the halvings (the same labels and probabilities give the same estimate).

    Returns
    -------
    noise_matrix : np.ndarray, shape (k, k)
        ``T[c, j]`` = estimated P(given label c | true class j); columns sum to 1.
    anchors : np.ndarray of int, shape (k,)
        Items taken as sure members of each class (over all the items, averaged over the
        halvings' thresholds).
    """
    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    n, k = pp.shape
    T = np.eye(k)
    anchors = np.zeros(k, dtype=np.int64)
    pred = pp.argmax(axis=1)
    halves = _halves(y, halvings, seed)
    for j in range(k):
        col = pp[:, j]
        # a class too small for a half to hold MIN_ANCHORS of it has little depth to choose on
        # the whole set (hence little to be optimistic about) and would only be made noisier
        if not halves or min(np.sum(pred == j), np.sum(y == j)) < 2 * MIN_ANCHORS:
            given, _, cuts = class_ranking(y, col, j, pred)
            m = best_bin(given, j, cuts, delta=delta)
            anchors[j] = m
            T[:, j] = np.bincount(given[:m], minlength=k)[:k] / m
            continue
        # ranked once: a half keeps the order (and a stable sort of sorted scores is linear)
        order = np.argsort(-col, kind="stable")
        ys, cs, ps = y[order], col[order], pred[order]
        read = np.zeros(k)
        counts = []
        for a in halves:
            a = a[order]
            given, ranked, cuts = class_ranking(ys[a], cs[a], j, ps[a])
            t = ranked[best_bin(given, j, cuts, delta=delta, count_scale=2.0) - 1]
            b = ~a
            read += np.bincount(ys[b][cs[b] >= t], minlength=k)[:k]
            counts.append(int(np.sum(cs >= t)))
        # the labels read over all the halvings pooled (each item is read once per halving), so
        # that a model that separates the classes gives exactly the share of the whole set
        if read.sum() > 0:
            T[:, j] = read / read.sum()
        anchors[j] = int(round(float(np.mean(counts))))
    return T, anchors


def complement_noise_matrix(
    labels: Any, pred_probs: Any, *, delta: float = ANCHOR_DELTA, halvings: int = HALVINGS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The noise matrix from anchors of each class's complement, and how many each class had.

    The other side of :func:`anchor_noise_matrix`: row ``c`` of the matrix (how often each class
    is given the label ``c`` by mistake) is read on the anchors of *not* ``c``: the items the
    model ranks lowest for ``c``, down to a score threshold. Among them, the items given ``c``
    are wrong labels; each is counted against the class the model calls it, ``c`` left out (its
    most likely class other than ``c``), and ``T[c, d]`` is the share given ``c`` among the
    anchors called ``d``, shrunk toward the share among all of them by :data:`MIN_ANCHORS`
    items' worth (few anchors may be called ``d``). The diagonal is what is left of each column.
    The threshold is chosen by best bin (:func:`best_bin`, on the share given ``c``) on one
    random half of the items and the labels are read on the other half's items past it, both
    ways round, over ``halvings`` random halvings, pooled, as for the columns
    (:func:`anchor_noise_matrix` says why). A class with fewer than ``2 * MIN_ANCHORS`` items of other classes
    (given or predicted), or ``halvings=0``: the depth is chosen and the share read on all items.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given labels, ``0..k-1``.
    pred_probs : array-like of float, shape (n, k)
        Out-of-sample probabilities (a model that never saw the item's own label).
    delta : float
        Confidence of the bound that chooses each class's depth.
    halvings : int
        Random halvings pooled; 0 chooses the depth and reads the share on all the items
        (best bin as Garg et al. use it, whose share comes out a little low).
    seed : int
        Seed of the halvings (the same labels and probabilities give the same estimate).

    Returns
    -------
    noise_matrix : np.ndarray, shape (k, k)
        ``T[c, j]`` = estimated P(given label c | true class j); columns sum to 1.
    anchors : np.ndarray of int, shape (k,)
        Items taken as surely not of each class (over all the items, averaged over the
        halvings' thresholds).
    """
    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    n, k = pp.shape
    anchors = np.zeros(k, dtype=np.int64)
    wrong = np.zeros((k, k))  # wrong[c, d]: anchors of not-c called d and given c (pooled)
    seen = np.zeros((k, k))  # seen[c, d]: anchors of not-c called d (pooled)
    if k < 2 or n == 0:
        return np.eye(k), anchors
    pred = pp.argmax(axis=1)
    first_two = np.argsort(-pp, axis=1, kind="stable")[:, :2]
    halves = _halves(y, halvings, seed)
    for c in range(k):
        given_c = (y == c).astype(np.int64)  # the "other label" of the two-way ranking below
        called_c = (pred == c).astype(np.int64)
        called = np.where(first_two[:, 0] == c, first_two[:, 1], first_two[:, 0])
        score = 1.0 - pp[:, c]  # surely not c first
        # a class whose complement is too small for a half to hold MIN_ANCHORS of it has little
        # depth to choose on the whole set (hence little to be optimistic about)
        if not halves or min(np.sum(pred != c), np.sum(y != c)) < 2 * MIN_ANCHORS:
            given, _, cuts = class_ranking(given_c, score, 0, called_c)
            top = np.argsort(-score, kind="stable")[: best_bin(given, 0, cuts, delta=delta)]
            wrong[c] += np.bincount(called[top], weights=given_c[top], minlength=k)[:k]
            seen[c] += np.bincount(called[top], minlength=k)[:k]
            anchors[c] = top.size
            continue
        # ranked once: a half keeps the order (and a stable sort of sorted scores is linear)
        order = np.argsort(-score, kind="stable")
        gs, ss, cs, ds = given_c[order], score[order], called_c[order], called[order]
        counts = []
        for a in halves:
            a = a[order]
            given, ranked, cuts = class_ranking(gs[a], ss[a], 0, cs[a])
            t = ranked[best_bin(given, 0, cuts, delta=delta, count_scale=2.0) - 1]
            read = ~a & (ss >= t)
            wrong[c] += np.bincount(ds[read], weights=gs[read], minlength=k)[:k]
            seen[c] += np.bincount(ds[read], minlength=k)[:k]
            counts.append(int(np.sum(ss >= t)))
        # each item is read once a halving: back to counts of items
        wrong[c] /= len(halves) / 2
        seen[c] /= len(halves) / 2
        anchors[c] = int(round(float(np.mean(counts))))
    # the share given c among the anchors called d, shrunk toward the share among all of them by
    # MIN_ANCHORS items' worth (a class few anchors are called has a share too coarse alone)
    pooled = wrong.sum(axis=1, keepdims=True) / np.maximum(seen.sum(axis=1, keepdims=True), 1.0)
    T = (wrong + MIN_ANCHORS * pooled) / (seen + MIN_ANCHORS)
    np.fill_diagonal(T, 0.0)
    off = T.sum(axis=0)
    T /= np.maximum(off, 1.0)[None, :]  # off the diagonal at most the whole column
    T[np.arange(k), np.arange(k)] = 1.0 - T.sum(axis=0)
    return T, anchors


def class_ranking(y: np.ndarray, scores: np.ndarray, j: int, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The items ranked by the model's score for class ``j``, and the depths an anchor set may have.

    Returns the given labels and the scores in that order (highest score first), and the
    admissible cuts: depths ``m`` (the top ``m`` items) that fall between two different scores,
    at least ``MIN_ANCHORS`` (or the class's size) and no deeper than the items the model calls
    ``j`` or labelled ``j``.
    """
    order = np.argsort(-scores, kind="stable")
    given = y[order]
    ranked = scores[order]
    # no deeper than the items the model calls j (past them the ranking is of other classes)
    # and no deeper than the items labelled j (the class's size): a small class has few anchors
    limit = max(1, int(min(np.sum(pred == j), np.sum(y == j))))
    lo = min(MIN_ANCHORS, limit)
    # a cut is a threshold on the score: items of equal score go in or out together
    cuts = np.flatnonzero(np.append(ranked[:-1] > ranked[1:], True)) + 1
    ok = cuts[(cuts >= lo) & (cuts <= limit)]
    if ok.size == 0:  # one long tie around the limit: take the first cut past it
        ok = cuts[cuts >= lo][:1]
    return given, ranked, ok


def best_bin(
    given: np.ndarray, j: int, cuts: np.ndarray, *, delta: float = ANCHOR_DELTA, count_scale: float = 1.0
) -> int:
    """The depth among ``cuts`` whose share of labels other than ``j`` has the smallest upper
    confidence bound (Garg et al. 2021's best bin, with Wilson's score bound at ``1 - delta``);
    ``count_scale`` times the depth is the count the bound is of (2 where the share is read on
    both halves of the items)."""
    from scipy.stats import norm

    n = count_scale * cuts.astype(np.float64)
    share = np.cumsum(given != j)[cuts - 1] / cuts
    z = float(norm.ppf(1.0 - delta))
    upper = (share + z * z / (2 * n) + z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    return int(cuts[np.argmin(upper)])


def estimate_noise(
    labels: Any, pred_probs: Any, *, delta: float = ANCHOR_DELTA, halvings: int = HALVINGS, seed: int = 0
) -> dict[str, Any]:
    """The share of wrong labels, estimated from anchor items (see the module docstring).

    Two noise matrices are read: by columns, on the items surely of each class
    (:func:`anchor_noise_matrix`), and by rows, on the items surely *not* of each class
    (:func:`complement_noise_matrix`). The columns' reading is kept unless it is higher than the
    rows' by more than ``z`` standard errors of their difference (:func:`reading_errors`, both
    taken at the mean of the two matrices; ``z`` of the confidence ``1 - delta`` of the depths'
    bound): then the columns' anchors are impure (the model is sure of no item of some class,
    and items of other classes at the top of its ranking add their own labels to the wrong
    ones), and the rows' reading is kept. Within that error the columns' is kept, not the lower
    nor a mean of the two: the rows' anchors of a strong model are few, taken for being pure, and
    err either way by more than their count says (low on the Gaussian classes of
    tests/quality/test_noise.py, high on the demo digits), where the columns' are many.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given labels, ``0..k-1``.
    pred_probs : array-like of float, shape (n, k)
        Out-of-sample probabilities.
    delta : float
        Confidence of the bound that chooses each class's depth, and of the comparison of the
        two readings (one-sided).
    halvings, seed : int
        The random halvings pooled (:func:`anchor_noise_matrix`).

    Returns
    -------
    dict
        ``noise_rate`` (float), ``noise_rate_per_class`` (share of wrong labels among items given
        each class; NaN for a class no item has), ``noise_matrix`` (``T[c, j]`` = P(given c | true
        j)), ``class_shares`` (estimated true shares), ``anchors`` (items surely of each class)
        and ``anchors_not`` (items surely not of it), ``noise_read_by`` (``"columns"`` or
        ``"rows"``), ``noise_rate_by`` (each reading's rate) and ``noise_rate_se`` (each
        reading's standard error, as compared).
    """
    from scipy.stats import norm

    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    n, k = pp.shape
    Tc, anchors = anchor_noise_matrix(y, pp, delta=delta, halvings=halvings, seed=seed)
    Tr, anchors_not = complement_noise_matrix(y, pp, delta=delta, halvings=halvings, seed=seed)
    read = {"columns": noise_from_matrix(Tc, y, k), "rows": noise_from_matrix(Tr, y, k)}
    rates = {side: r["noise_rate"] for side, r in read.items()}
    # the errors as they would be if both read the same matrix (their mean): a reading's own
    # share is no measure of its error where its anchors are few and were taken for being pure
    same = noise_from_matrix((Tc + Tr) / 2, y, k)
    se = reading_errors(same["noise_matrix"], same["class_shares"], anchors, anchors_not)
    margin = float(norm.ppf(1.0 - delta)) * float(np.hypot(*se.values()))
    side = "rows" if rates["columns"] - rates["rows"] > margin else "columns"
    return read[side] | {"anchors": anchors, "anchors_not": anchors_not, "noise_read_by": side,
                         "noise_rate_by": rates, "noise_rate_se": se}


def reading_errors(T: np.ndarray, pi: np.ndarray, anchors: np.ndarray, anchors_not: np.ndarray) -> dict[str, float]:
    """The standard error of each reading's noise rate, of the noise matrix ``T`` and the true
    class shares ``pi`` (the delta method, each share a binomial share of its anchors).

    By columns the rate is ``sum_j pi_j (1 - T[j, j])``, each ``T[j, j]`` the share of class
    ``j``'s label among its ``anchors[j]`` anchors; by rows it is ``sum_c (1 - pi_c) u_c``, each
    ``u_c`` the share given ``c`` among the ``anchors_not[c]`` items surely not of ``c``.
    """
    d = np.clip(np.diag(T), 0.0, 1.0)
    var_c = float(np.sum(pi**2 * d * (1 - d) / np.maximum(anchors, 1)))
    rest = np.maximum(1.0 - pi, 1e-12)
    u = np.clip((T @ pi - np.diag(T) * pi) / rest, 0.0, 1.0)
    var_r = float(np.sum(rest**2 * u * (1 - u) / np.maximum(anchors_not, 1)))
    return {"columns": var_c**0.5, "rows": var_r**0.5}


def lowest_flags(self_confidence: np.ndarray, noise_rate: float) -> np.ndarray:
    """The flags of a QC run: a mask of the items of lowest self-confidence (cleanlab's
    ``low_self_confidence`` rule), as many as ``noise_rate`` of them (the anchors' count, not the
    confident joint's, which adds a weak model's confident mistakes to the wrong labels)."""
    n = len(self_confidence)
    mask = np.zeros(n, dtype=bool)
    mask[np.argsort(self_confidence, kind="stable")[: int(round(noise_rate * n))]] = True
    return mask


def noise_from_matrix(T: np.ndarray, labels: Any, k: int) -> dict[str, Any]:
    """The noise rate, per given class and overall, of the noise matrix ``T`` (``T[c, j]`` =
    P(given c | true j)) and the given labels: the true class shares solve ``T @ pi`` = the
    given labels' shares."""
    y = np.asarray(labels, dtype=np.int64)
    given_shares = np.bincount(y, minlength=k)[:k] / max(y.size, 1)
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
    }


def _true_shares(T: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The true class shares ``pi >= 0`` (summing to 1) with ``T @ pi`` closest to the given
    labels' shares (non-negative least squares)."""
    from scipy.optimize import nnls

    pi, _ = nnls(T, given)
    total = pi.sum()
    return pi / total if total > 0 else given
