"""cleanlab 2.x scoring as pure functions: labels and ``pred_probs`` in, issue arrays out.

No database, no jobs. Every function validates its input first and raises
:class:`quality.QCInputError` with a clear message instead of letting cleanlab fail with a
cryptic traceback (or, worse, silently score nonsense).

* :func:`single_annotator_issues` -- one label per item: label issues, label quality scores,
  suggested labels, confident joint and the estimated noise rate (overall and per class).
* :func:`multiannotator` -- several labels per item: CROWDLAB consensus labels, consensus
  quality, per-annotator quality.
* :func:`active_learning_scores` -- ActiveLab: which items most need another label.
* :func:`multilabel_issues` -- multi-label classification (several classes per item).

Outliers and near duplicates (issue kinds computed from features) are in :mod:`quality.outlier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quality import QCInputError, quiet
from quality.noise import estimate_noise, lowest_flags
from quality.pred_probs import validate_pred_probs

__all__ = [
    "PRECISION_BOUNDS",
    "active_learning_scores",
    "error_posteriors",
    "expected_precision_of",
    "multiannotator",
    "multilabel_issues",
    "precision_flags",
    "single_annotator_issues",
]

#: The range of a target precision (``Project.qc_target_precision``).
PRECISION_BOUNDS = (0.5, 0.99)


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _check_class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(c) for c in class_names]
    if len(names) < 2:
        raise QCInputError(f"class_names: need at least 2 classes, got {len(names)}")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise QCInputError(f"class_names: duplicate class name {dup!r}")
    return names


def check_single_labels(labels: Any, names: list[str], *, min_class_count: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise QCInputError(f"labels: expected a 1-D array of class indices, got shape {y.shape}")
    if y.size == 0:
        raise QCInputError("labels: no labelled items")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise QCInputError(
                f"labels: row {np.flatnonzero(bad)[0]} is not a class index "
                "(unlabelled items must be left out)"
            )
    elif y.dtype.kind not in "iub":
        raise QCInputError(f"labels: expected integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    out = (y < 0) | (y >= len(names))
    if out.any():
        r = np.flatnonzero(out)[0]
        raise QCInputError(
            f"labels: row {r} has class index {y[r]}, outside 0..{len(names) - 1} "
            "(unlabelled items must be left out)"
        )
    if y.size == 1:
        raise QCInputError("labels: a single labelled item; need at least 2 to score labels")
    counts = np.bincount(y, minlength=len(names))
    if (counts > 0).sum() < 2:
        raise QCInputError(
            f"labels: every label is {names[y[0]]!r}; need at least 2 different classes"
        )
    rare = np.flatnonzero((counts > 0) & (counts < min_class_count))
    if rare.size:
        listing = ", ".join(f"{names[c]!r} ({counts[c]})" for c in rare)
        raise QCInputError(
            f"labels: class {listing} has fewer than {min_class_count} labelled items; "
            "label more items of it, merge it into another class, or leave it out"
        )
    return y


def _check_labels_matrix(
    labels_matrix: Any, names: list[str], annotator_ids: Sequence[Any] | None
) -> tuple[np.ndarray, list[Any]]:
    """Items x annotators float matrix with NaN for missing labels; checks every cell."""
    try:
        import pandas as pd

        is_df = isinstance(labels_matrix, pd.DataFrame)
    except ImportError:  # pragma: no cover - pandas comes with cleanlab's multiannotator
        is_df = False
    if is_df:
        ids = list(labels_matrix.columns) if annotator_ids is None else list(annotator_ids)
        values = labels_matrix.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.array(labels_matrix, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QCInputError(f"labels_matrix: not a numeric matrix ({exc})") from exc
        ids = (
            list(range(values.shape[1]))
            if annotator_ids is None and values.ndim == 2
            else (list(annotator_ids) if annotator_ids is not None else [])
        )
    if values.ndim != 2:
        raise QCInputError(
            f"labels_matrix: expected shape (n_items, n_annotators), got {values.shape}"
        )
    n, m = values.shape
    if n == 0 or m == 0 or np.isnan(values).all():
        raise QCInputError("labels_matrix: no labelled items")
    if len(ids) != m:
        raise QCInputError(f"annotator_ids: {len(ids)} ids for {m} annotator columns")
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise QCInputError(f"labels_matrix: item {r}, annotator {ids[c]!r}: infinite label")
    given = ~np.isnan(values)
    bad = given & ((values != np.round(values)) | (values < 0) | (values >= len(names)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise QCInputError(
            f"labels_matrix: item {r}, annotator {ids[c]!r}: {float(values[r, c]):g} is not a "
            f"class index in 0..{len(names) - 1}"
        )
    if n == 1:
        raise QCInputError("labels_matrix: a single item; need at least 2 to score labels")
    empty_rows = np.flatnonzero(~given.any(axis=1))
    if empty_rows.size:
        raise QCInputError(
            f"labels_matrix: item {empty_rows[0]} has no label ({empty_rows.size} item(s)); "
            "leave unlabelled items out"
        )
    empty_cols = np.flatnonzero(~given.any(axis=0))
    if empty_cols.size:
        raise QCInputError(
            f"labels_matrix: annotator {ids[empty_cols[0]]!r} labelled no item; "
            "leave such annotators out"
        )
    present = np.unique(values[given]).astype(np.int64)
    if present.size < 2:
        raise QCInputError(
            f"labels_matrix: every label is {names[present[0]]!r}; "
            "need at least 2 different classes"
        )
    return values, ids


def _fmt(names: list[str], k: int) -> str:
    return repr(names[k]).replace('"', "'")


# ---------------------------------------------------------------------------------------------
# single annotator
# ---------------------------------------------------------------------------------------------
def single_annotator_issues(
    labels: Any,
    pred_probs: Any,
    *,
    class_names: Sequence[str],
    filter_by: str = "low_self_confidence",
    score_method: str = "self_confidence",
    min_class_count: int = 2,
) -> dict[str, Any]:
    """Find items whose (single) given label is probably wrong, with cleanlab.

    :func:`quality.noise.estimate_noise` estimates how many labels are wrong (from anchor items,
    not cleanlab's confident joint, which counts a weak model's confident mistakes as wrong
    labels); :func:`cleanlab.rank.get_label_quality_scores` scores every label, and the labels
    of lowest score are flagged, as many as that estimate. The calibrated confident joint
    (:func:`cleanlab.count.compute_confident_joint`) and cleanlab's own noise figure are kept
    beside it.

    Parameters
    ----------
    labels : array-like of int, shape (n_items,)
        Given label of each labelled item (class indices into `class_names`).
    pred_probs : array-like, shape (n_items, n_classes)
        Out-of-sample predicted probabilities (see :mod:`quality.pred_probs`); validated
        strictly with :func:`quality.pred_probs.validate_pred_probs`.
    class_names : sequence of str
        Names of the classes, in column order; used in the reasons.
    filter_by : str, default "low_self_confidence"
        The default flags as many items as :func:`quality.noise.estimate_noise` counts wrong,
        those of lowest self-confidence (cleanlab's ``low_self_confidence`` rule with that
        count): the top of the ranking by `score_method` that reviewers see, and the rule of the
        batched runs (:mod:`quality.batched`), so that projects of every size are flagged alike.
        Any other value is passed to :func:`cleanlab.filter.find_label_issues`.
    score_method : str, default "self_confidence"
        Passed to :func:`cleanlab.rank.get_label_quality_scores`.
    min_class_count : int, default 2
        A class with at least one but fewer labelled items than this raises: a single
        example gives confident learning nothing to compare it with.

    Returns
    -------
    result : dict
        ``is_label_issue`` (bool, n_items), ``label_quality`` (float in [0, 1], low = likely
        wrong), ``suggested_label`` (int, arg-max of `pred_probs`), ``suggested_confidence``
        (its probability), ``given_label_confidence``, ``ranked_issues`` (indices of flagged
        items, most likely wrong first), ``reasons`` (list of str per item, e.g.
        ``"labelled 'cat'; model says 'dog' (0.91)"``), ``n_issues``, ``noise_rate``
        (estimated share of wrong labels, :func:`quality.noise.estimate_noise`),
        ``noise_rate_cleanlab`` (1 - trace of cleanlab's calibrated joint),
        ``noise_rate_per_class`` (share of wrong labels among items given each class; NaN
        for classes without items), ``confident_joint`` (n_classes x n_classes, rows = given
        label, columns = true label), ``joint`` (the same, normalized to sum 1),
        ``noise_matrix`` (P(given label | true label) from the anchors, columns sum to 1) and
        ``class_names``.

    Raises
    ------
    QCInputError
        Fewer than 2 classes, no labelled items, a single item, every label the same, a
        class with fewer than `min_class_count` items, labels out of range, or invalid
        `pred_probs` (wrong shape, NaN, rows not summing to 1).
    """
    import cleanlab.count
    import cleanlab.filter
    import cleanlab.rank

    names = _check_class_names(class_names)
    y = check_single_labels(labels, names, min_class_count=min_class_count)
    n, k = y.size, len(names)
    pp = validate_pred_probs(pred_probs, n_items=n, n_classes=k)

    noise = estimate_noise(y, pp)
    try:
        with quiet():
            cj = cleanlab.count.compute_confident_joint(y, pp, calibrate=True)
            quality = cleanlab.rank.get_label_quality_scores(y, pp, method=score_method)
            if filter_by == "low_self_confidence":
                is_issue = lowest_flags(pp[np.arange(n), y], noise["noise_rate"])
            else:
                is_issue = cleanlab.filter.find_label_issues(
                    y, pp, filter_by=filter_by, confident_joint=cj, n_jobs=1
                )
            joint = cleanlab.count.estimate_joint(y, pp, confident_joint=cj)
    except ValueError as exc:  # cleanlab's own checks, after ours: report, don't crash
        raise QCInputError(f"cleanlab could not score these labels: {exc}") from exc

    is_issue = np.asarray(is_issue, dtype=bool)
    quality = np.asarray(quality, dtype=np.float64)
    suggested = pp.argmax(axis=1)
    suggested_conf = pp[np.arange(n), suggested]
    given_conf = pp[np.arange(n), y]
    ranked = np.flatnonzero(is_issue)
    ranked = ranked[np.argsort(quality[ranked], kind="stable")]
    per_class = noise["noise_rate_per_class"]
    reasons = [
        _single_reason(
            names,
            int(y[i]),
            int(suggested[i]),
            float(suggested_conf[i]),
            float(given_conf[i]),
            flagged=bool(is_issue[i]),
        )
        for i in range(n)
    ]
    return {
        "is_label_issue": is_issue,
        "label_quality": quality,
        "suggested_label": suggested,
        "suggested_confidence": suggested_conf,
        "given_label_confidence": given_conf,
        "ranked_issues": ranked,
        "reasons": reasons,
        "n_issues": int(is_issue.sum()),
        "noise_rate": noise["noise_rate"],
        "noise_rate_per_class": per_class,
        "noise_rate_cleanlab": float(1.0 - np.trace(joint)),
        "confident_joint": np.asarray(cj),
        "joint": np.asarray(joint),
        "noise_matrix": noise["noise_matrix"],
        "class_names": names,
    }


def error_posteriors(labels: Any, pred_probs: Any, noise_matrix: Any) -> np.ndarray:
    """Each item's estimated probability that its given label is wrong.

    Bayes' rule with the noise matrix (``noise[c, j]`` = P(given label c | true class j), as
    :func:`single_annotator_issues` estimates it from anchor items) saying how labels go wrong;
    the model learnt the given labels, so its ``pred_probs`` estimate ``noise @ p_true`` and the
    chance of each true class ``p_true`` is had by solving that (clipped at 0, renormalized).
    For an item given the label ``c``::

        P(label wrong) = 1 - noise[c, c] * p_true[c] / sum_j noise[c, j] * p_true[j]

    so a label the model doubts is wrong with a probability that grows with the estimated noise
    of its class, and a class that is rarely mislabelled needs stronger doubt.

    Parameters
    ----------
    labels : array-like of int, shape (n_items,)
    pred_probs : array-like, shape (n_items, n_classes)
    noise_matrix : array-like, shape (n_classes, n_classes)
        As :func:`single_annotator_issues` returns it (columns sum to 1).

    Returns
    -------
    np.ndarray
        Float in [0, 1] per item.
    """
    y = np.asarray(labels, dtype=np.int64)
    pp = np.asarray(pred_probs, dtype=np.float64)
    nm = np.asarray(noise_matrix, dtype=np.float64)
    # the model learnt the given (noisy) labels: P(given | x) = noise @ P(true | x); invert it
    try:
        true = np.clip(np.linalg.solve(nm, pp.T).T, 0.0, None)
    except np.linalg.LinAlgError:
        true = pp
    sums = true.sum(axis=1, keepdims=True)
    true = np.where(sums > 0, true / np.where(sums > 0, sums, 1.0), pp)
    weighted = nm[y] * true  # (n, k): P(given = y_i | true = j) * P(true = j | x_i)
    total = weighted.sum(axis=1)
    right = weighted[np.arange(y.size), y]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(total > 0, 1.0 - right / total, 0.0)
    return np.clip(q, 0.0, 1.0)


def precision_flags(posteriors: Any, *, target_precision: float) -> tuple[np.ndarray, float, float]:
    """Flag the most doubtful items for as long as the expected precision stays at the target.

    Items are taken in order of their probability of a wrong label (:func:`error_posteriors`),
    most likely first; the flags are the longest such prefix whose mean probability -- the
    expected share of flagged items whose label is really wrong -- is at least
    `target_precision`. A stricter target flags fewer items, of higher expected precision.

    Parameters
    ----------
    posteriors : array-like of float, shape (n_items,)
    target_precision : float
        In :data:`PRECISION_BOUNDS`.

    Returns
    -------
    flags : np.ndarray of bool
    expected_precision : float
        Mean posterior of the flagged items (1.0 when none are flagged).
    expected_recall : float
        Their posteriors' sum over all posteriors' sum (the expected share of wrong labels found).

    Raises
    ------
    QCInputError
        If `target_precision` is not a number within :data:`PRECISION_BOUNDS`.
    """
    low, high = PRECISION_BOUNDS
    if isinstance(target_precision, bool) or not isinstance(target_precision, int | float) or not (
        low <= float(target_precision) <= high
    ):
        raise QCInputError(f"target_precision must be a number between {low} and {high}, got {target_precision!r}")
    q = np.asarray(posteriors, dtype=np.float64)
    order = np.argsort(-q, kind="stable")
    running = np.cumsum(q[order]) / np.arange(1, q.size + 1)
    ok = np.flatnonzero(running >= target_precision - 1e-12)
    k = int(ok[-1]) + 1 if ok.size else 0
    flags = np.zeros(q.size, dtype=bool)
    flags[order[:k]] = True
    return flags, expected_precision_of(q, flags), (float(q[flags].sum() / q.sum()) if q.sum() > 0 else 1.0)


def expected_precision_of(posteriors: Any, flags: Any) -> float:
    """The expected precision of some flags: the mean posterior of the flagged items."""
    q = np.asarray(posteriors, dtype=np.float64)
    f = np.asarray(flags, dtype=bool)
    return float(q[f].mean()) if f.any() else 1.0


def _single_reason(
    names: list[str], given: int, suggested: int, p: float, p_given: float, *, flagged: bool
) -> str:
    if suggested != given:
        return f"labelled {_fmt(names, given)}; model says {_fmt(names, suggested)} ({p:.2f})"
    if flagged:  # flagged although the model's top class is the given one: it is unsure
        return f"labelled {_fmt(names, given)}; model is unsure ({p_given:.2f})"
    return f"labelled {_fmt(names, given)}; model agrees ({p_given:.2f})"


# ---------------------------------------------------------------------------------------------
# several annotators
# ---------------------------------------------------------------------------------------------
def multiannotator(
    labels_matrix: Any,
    pred_probs: Any,
    *,
    class_names: Sequence[str],
    annotator_ids: Sequence[Any] | None = None,
    consensus_method: str = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
) -> dict[str, Any]:
    """Consensus labels and annotator quality from several labels per item (CROWDLAB).

    Wraps :func:`cleanlab.multiannotator.get_label_quality_multiannotator`, which weighs
    each annotator by their estimated quality and the model by its agreement with the
    annotators.

    Parameters
    ----------
    labels_matrix : array-like or pandas.DataFrame, shape (n_items, n_annotators)
        Class index given by each annotator to each item, NaN where the annotator did not
        label the item. Every item needs at least one label, every annotator at least one
        item, and some item at least two labels.
    pred_probs : array-like, shape (n_items, n_classes)
        Out-of-sample predicted probabilities, e.g. from a model trained on majority-vote
        labels (see :mod:`quality.pred_probs`).
    class_names : sequence of str
        Names of the classes, in column order.
    annotator_ids : sequence, optional
        Id of each annotator column (default: DataFrame column names, else 0..m-1).
    consensus_method : str, default "best_quality"
        ``"best_quality"`` (CROWDLAB) or ``"majority_vote"``.
    quality_method : str, default "crowdlab"
        ``"crowdlab"`` or ``"agreement"``.
    calibrate_probs : bool, default False
        Let cleanlab temperature-scale `pred_probs` against the annotators first.

    Returns
    -------
    result : dict
        Per item: ``consensus_label``, ``consensus_quality`` (in [0, 1], low = likely
        wrong), ``annotator_agreement`` (share of the item's annotators agreeing with the
        consensus), ``num_annotations``, ``votes`` (annotators choosing the consensus),
        ``model_label`` and ``model_confidence`` (arg-max of `pred_probs`), ``reasons``
        (the annotators' most voted class, its votes, the model's view and, when it differs,
        the consensus, e.g. ``"labelled 'cat' by 1 of 3; model says 'dog' (0.91)"``) and
        ``detailed_quality`` (n_items x n_annotators quality of each given label, NaN where
        missing). Per annotator (in `annotator_ids` order): ``annotator_ids``,
        ``annotator_quality``, ``annotator_agreement_with_consensus``,
        ``annotator_num_labels`` and ``annotator_worst_class`` (class name).

    Raises
    ------
    QCInputError
        Fewer than 2 classes, no labelled items, a single item, an item or annotator
        without labels, every label the same, only one label per item (use
        :func:`single_annotator_issues`), labels out of range, or invalid `pred_probs`.
    """
    import pandas as pd
    from cleanlab.multiannotator import get_label_quality_multiannotator

    names = _check_class_names(class_names)
    values, ids = _check_labels_matrix(labels_matrix, names, annotator_ids)
    n, m = values.shape
    pp = validate_pred_probs(pred_probs, n_items=n, n_classes=len(names))
    given = ~np.isnan(values)
    num = given.sum(axis=1)
    if num.max() < 2:
        raise QCInputError(
            "labels_matrix: every item has a single label; use single_annotator_issues "
            "for one label per item"
        )
    df = pd.DataFrame(values, columns=list(range(m)))
    try:
        with quiet():
            res = get_label_quality_multiannotator(
                df,
                pp,
                consensus_method=consensus_method,
                quality_method=quality_method,
                calibrate_probs=calibrate_probs,
                return_detailed_quality=True,
                return_annotator_stats=True,
                verbose=False,
            )
    except ValueError as exc:
        raise QCInputError(f"cleanlab could not score these labels: {exc}") from exc

    lq = res["label_quality"]
    consensus = lq["consensus_label"].to_numpy().astype(np.int64)
    stats = res["annotator_stats"].reindex(list(range(m)))
    detailed = res["detailed_label_quality"].to_numpy(dtype=np.float64, na_value=np.nan)
    votes = (values == consensus[:, None]).sum(axis=1)
    model_label = pp.argmax(axis=1)
    model_conf = pp[np.arange(n), model_label]
    # the annotators' own choice per item: the most voted class (the consensus if tied)
    counts = np.zeros((n, len(names)), dtype=np.int64)
    rows, cols = np.nonzero(given)
    np.add.at(counts, (rows, values[rows, cols].astype(np.int64)), 1)
    tied = counts == counts.max(axis=1, keepdims=True)
    top = np.where(
        tied[np.arange(n), consensus], consensus, np.argmax(np.where(tied, pp, -1.0), axis=1)
    )
    reasons = []
    for i in range(n):
        t = int(top[i])
        text = f"labelled {_fmt(names, t)} by {int(counts[i, t])} of {int(num[i])}"
        if model_label[i] != t:
            text += f"; model says {_fmt(names, int(model_label[i]))} ({model_conf[i]:.2f})"
        else:
            text += f"; model agrees ({model_conf[i]:.2f})"
        if consensus[i] != t:
            text += f"; consensus {_fmt(names, int(consensus[i]))}"
        reasons.append(text)
    worst = stats["worst_class"].to_numpy()
    return {
        "consensus_label": consensus,
        "consensus_quality": lq["consensus_quality_score"].to_numpy(dtype=np.float64),
        "annotator_agreement": lq["annotator_agreement"].to_numpy(dtype=np.float64),
        "num_annotations": num.astype(np.int64),
        "votes": votes.astype(np.int64),
        "model_label": model_label,
        "model_confidence": model_conf,
        "reasons": reasons,
        "detailed_quality": detailed,
        "annotator_ids": ids,
        "annotator_quality": stats["annotator_quality"].to_numpy(dtype=np.float64),
        "annotator_agreement_with_consensus": stats["agreement_with_consensus"].to_numpy(
            dtype=np.float64
        ),
        "annotator_num_labels": stats["num_examples_labeled"].to_numpy().astype(np.int64),
        "annotator_worst_class": [names[int(c)] for c in worst],
        "class_names": names,
    }


def active_learning_scores(
    labels_matrix: Any,
    pred_probs: Any,
    *,
    class_names: Sequence[str],
    pred_probs_unlabeled: Any = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """ActiveLab scores: which items most need another label (lowest score first).

    Wraps :func:`cleanlab.multiannotator.get_active_learning_scores`. Works with one or
    several labels per item; unlabelled items can be scored on the same scale from their
    predicted probabilities alone.

    Parameters
    ----------
    labels_matrix : array-like or pandas.DataFrame, shape (n_items, n_annotators)
        Labels of the labelled items, NaN where missing (a single column for one label per
        item).
    pred_probs : array-like, shape (n_items, n_classes)
        Out-of-sample predicted probabilities of the labelled items.
    class_names : sequence of str
        Names of the classes, in column order.
    pred_probs_unlabeled : array-like, shape (n_unlabeled, n_classes), optional
        Predicted probabilities of unlabelled items (see
        :func:`quality.pred_probs.fit_predict`).

    Returns
    -------
    scores : np.ndarray
        Score per labelled item in [0, 1]; lower means another label is more useful.
    scores_unlabeled : np.ndarray or None
        Score per unlabelled item, comparable with `scores`; None without
        `pred_probs_unlabeled`.

    Raises
    ------
    QCInputError
        On the same input problems as :func:`multiannotator` (except that one label per
        item is fine), or invalid `pred_probs_unlabeled`.
    """
    import pandas as pd
    from cleanlab.multiannotator import get_active_learning_scores

    names = _check_class_names(class_names)
    values, _ = _check_labels_matrix(labels_matrix, names, None)
    n, m = values.shape
    k = len(names)
    pp = validate_pred_probs(pred_probs, n_items=n, n_classes=k)
    ppu = None
    if pred_probs_unlabeled is not None:
        arr = np.asarray(pred_probs_unlabeled, dtype=np.float64)
        n_u = arr.shape[0] if arr.ndim == 2 else -1
        ppu = validate_pred_probs(arr, n_items=n_u, n_classes=k)
        if n_u == 0:
            ppu = None
    try:
        with quiet():
            scores, scores_u = get_active_learning_scores(
                pd.DataFrame(values, columns=list(range(m))), pp, ppu
            )
    except ValueError as exc:
        raise QCInputError(f"cleanlab could not score these labels: {exc}") from exc
    scores = np.asarray(scores, dtype=np.float64)
    if pred_probs_unlabeled is None:
        return scores, None
    if ppu is None:
        return scores, np.zeros(0, dtype=np.float64)
    return scores, np.asarray(scores_u, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# multi-label
# ---------------------------------------------------------------------------------------------
def multilabel_issues(
    labels: Sequence[Sequence[int]],
    pred_probs: Any,
    *,
    class_names: Sequence[str],
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Label issues for multi-label classification (each item may have several classes).

    Wraps :func:`cleanlab.multilabel_classification.filter.find_label_issues` and
    :func:`cleanlab.multilabel_classification.rank.get_label_quality_scores` (plus the
    per-class scores of ``get_label_quality_scores_per_class``).

    Parameters
    ----------
    labels : sequence of sequences of int
        Class indices given to each item (an empty sequence means "none of the classes").
    pred_probs : array-like, shape (n_items, n_classes)
        Out-of-sample probability that each class applies, independently per class (rows
        need not sum to 1).
    class_names : sequence of str
        Names of the classes, in column order.
    threshold : float, default 0.5
        A class is in ``suggested_labels`` when its probability is at least this.

    Returns
    -------
    result : dict
        ``is_label_issue`` (bool, n_items), ``label_quality`` (float, low = likely wrong),
        ``per_class_quality`` (n_items x n_classes), ``suggested_labels`` (list of lists of
        class indices), ``ranked_issues``, ``n_issues``, ``reasons`` (e.g.
        ``"labelled {'cat'}; model adds 'dog' (0.93)"``) and ``class_names``.

    Raises
    ------
    QCInputError
        Fewer than 2 classes, fewer than 2 items, a label out of range or repeated within
        an item, a class that is given to every item or to none, or invalid `pred_probs`
        (wrong shape, NaN, values outside [0, 1]).
    """
    from cleanlab.multilabel_classification import filter as ml_filter
    from cleanlab.multilabel_classification import rank as ml_rank

    names = _check_class_names(class_names)
    k = len(names)
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iuf":
        raise QCInputError(
            "labels: expected one list of class indices per item (multi-label), got a flat "
            "array; use single_annotator_issues for one class per item"
        )
    rows: list[list[int]] = []
    for i, row in enumerate(labels):
        if isinstance(row, str | bytes) or not isinstance(row, Sequence | np.ndarray):
            raise QCInputError(f"labels: item {i} is not a list of class indices")
        clean = []
        for c in row:
            if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= c < k:
                raise QCInputError(f"labels: item {i} has {c!r}, not a class index in 0..{k - 1}")
            clean.append(int(c))
        if len(set(clean)) != len(clean):
            raise QCInputError(f"labels: item {i} lists a class twice: {clean}")
        rows.append(sorted(clean))
    n = len(rows)
    if n == 0:
        raise QCInputError("labels: no labelled items")
    if n == 1:
        raise QCInputError("labels: a single labelled item; need at least 2 to score labels")
    try:
        pp = np.ascontiguousarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QCInputError(f"pred_probs: not a numeric matrix ({exc})") from exc
    if pp.shape != (n, k):
        raise QCInputError(
            f"pred_probs: expected shape ({n}, {k}) (n_items, n_classes), got {pp.shape}"
        )
    bad = ~np.isfinite(pp).all(axis=1) | ((pp < 0) | (pp > 1)).any(axis=1)
    if bad.any():
        r = np.flatnonzero(bad)[0]
        raise QCInputError(f"pred_probs: row {r} holds NaN or a value outside [0, 1]")
    onehot = np.zeros((n, k), dtype=bool)
    for i, row in enumerate(rows):
        onehot[i, row] = True
    counts = onehot.sum(axis=0)
    const = np.flatnonzero((counts == 0) | (counts == n))
    if const.size:
        c = const[0]
        how = "no item" if counts[c] == 0 else "every item"
        raise QCInputError(
            f"labels: class {names[c]!r} is given to {how}; cleanlab needs both positive "
            "and negative examples of every class (leave the class out)"
        )
    try:
        with quiet():
            is_issue = ml_filter.find_label_issues(rows, pp, n_jobs=1)
            quality = ml_rank.get_label_quality_scores(rows, pp)
            per_class = ml_rank.get_label_quality_scores_per_class(rows, pp)
    except ValueError as exc:
        raise QCInputError(f"cleanlab could not score these labels: {exc}") from exc
    is_issue = np.asarray(is_issue, dtype=bool)
    quality = np.asarray(quality, dtype=np.float64)
    suggested = [np.flatnonzero(pp[i] >= threshold).tolist() for i in range(n)]
    ranked = np.flatnonzero(is_issue)
    ranked = ranked[np.argsort(quality[ranked], kind="stable")]
    reasons = []
    for i in range(n):
        given = "{" + ", ".join(_fmt(names, c) for c in rows[i]) + "}"
        adds = [c for c in suggested[i] if not onehot[i, c]]
        drops = [c for c in rows[i] if pp[i, c] < threshold]
        parts = [f"adds {_fmt(names, c)} ({pp[i, c]:.2f})" for c in adds]
        parts += [f"drops {_fmt(names, c)} ({pp[i, c]:.2f})" for c in drops]
        reasons.append(f"labelled {given}; model " + (", ".join(parts) if parts else "agrees"))
    return {
        "is_label_issue": is_issue,
        "label_quality": quality,
        "per_class_quality": np.asarray(per_class, dtype=np.float64),
        "suggested_labels": suggested,
        "ranked_issues": ranked,
        "n_issues": int(is_issue.sum()),
        "reasons": reasons,
        "class_names": names,
    }
