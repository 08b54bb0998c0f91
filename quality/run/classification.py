"""QC of single-label classification (``<Choices>`` with one choice): cleanlab's label issues
on one label per item, or CROWDLAB consensus and annotator quality when items have several
labels, with agreement metrics; outliers, near duplicates and ActiveLab as every model-based
task type has them (ARCHITECTURE.md, quality/)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quality import QCInputError
from quality.run.common import (
    LabelColumns,
    Probs,
    ProgressFn,
    QCRunError,
    Scored,
    jsonable,
)
from quality.run.feedback import feed_back
from quality.run.load import Data
from quality.run.outliers import other_issues
from quality.run.probs import pred_probs_of

__all__ = ["MAX_KAPPA_ANNOTATORS", "MAX_MATRIX_CELLS", "label_vector", "score"]


#: Largest labels matrix (items x annotators cells) CROWDLAB is given.
MAX_MATRIX_CELLS = 20_000_000


#: Most annotators whose pairwise Cohen's kappa a run computes (pairs grow as the square).
MAX_KAPPA_ANNOTATORS = 100


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a classification project: label issues, consensus and annotator quality (see the
    module docstring); ``(Scored, Probs)`` of the run, or :class:`QCRunError` saying why not."""
    from quality.scoring import multiannotator, single_annotator_issues

    names = data.class_names
    k = len(names)
    y_one, counts = label_vector(data)
    multi = int(counts.max()) >= 2
    matrix = users = None
    if multi:
        from quality.agreement import majority_vote

        matrix, users = _labels_matrix(data)
        progress(0.07, "majority vote")
        y, _ = majority_vote(matrix, n_classes=k)
    else:
        y = y_one
    _check_classes(names, y)
    probs = pred_probs_of(data, y, options=options, progress=progress)
    pp = probs.pred_probs
    progress(0.62, "finding label issues")
    counts_y = np.bincount(y, minlength=k)
    singles = [c for c in range(k) if counts_y[c] == 1]
    try:
        single = single_annotator_issues(y, pp, class_names=names, min_class_count=1)
    except QCInputError as exc:
        raise QCRunError(str(exc)) from exc
    issues: list[dict] = []
    annotators: list[dict] = []
    agreement: dict = {}
    summary: dict = {
        "mode": "multi_annotator" if multi else "single_annotator",
        "n_annotations": int(data.ann_item.size),
    }
    if singles:
        data.notes.append(
            "class(es) "
            + ", ".join(repr(names[c]) for c in singles)
            + " have a single labeled task; QC cannot judge a lone example (it is never flagged)"
        )
    _precision(data, y, pp, single, summary)
    is_issue = single["is_label_issue"].copy()
    lone = np.isin(y, singles) if singles else np.zeros(y.size, dtype=bool)
    is_issue[lone] = False
    suggested = single["suggested_label"]
    model_conf = single["suggested_confidence"]
    if not multi:
        quality = single["label_quality"]
        reasons = single["reasons"]
        for i in np.flatnonzero(lone):
            reasons[i] = f"the only task labelled {names[y[i]]!r}; too few examples to judge"
        columns = LabelColumns(data.task_ids, is_issue, y, suggested, None, quality, reasons, names)
        # each annotator judged on the items they labelled
        who = np.zeros(data.n, dtype=np.int64)
        who[data.ann_item] = data.ann_user
        agree = suggested == y
        for u in np.unique(who):
            mine = who == u
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": int(mine.sum()),
                    "agreement": float(np.mean(agree[mine])),
                    "quality": float(np.mean(quality[mine])),
                }
            )
        consensus_quality = quality
    else:
        progress(0.68, f"CROWDLAB consensus of {len(users)} annotators")
        try:
            crowd = multiannotator(matrix, pp, class_names=names, annotator_ids=users)
        except QCInputError as exc:
            raise QCRunError(str(exc)) from exc
        consensus = crowd["consensus_label"]
        consensus_quality = crowd["consensus_quality"]
        num = crowd["num_annotations"]
        votes_mv = (matrix == y[:, None]).sum(axis=1)
        contested = (num >= 2) & (2 * votes_mv <= num)
        overturned = consensus != y
        flagged = is_issue | contested | overturned
        flagged[lone & ~contested & ~overturned] = False
        is_issue = flagged
        reasons = crowd["reasons"]
        for i in np.flatnonzero(overturned):
            reasons[i] = f"majority said {names[y[i]]!r} ({int(votes_mv[i])} of {int(num[i])}); " + reasons[i]
        for i in np.flatnonzero(contested & ~overturned & ~single["is_label_issue"]):
            reasons[i] = reasons[i] + "; annotators disagree"
        sugg = np.where(consensus != y, consensus, suggested)
        columns = LabelColumns(data.task_ids, is_issue, y, sugg, consensus, consensus_quality, reasons, names)
        for j, u in enumerate(users):
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": int(crowd["annotator_num_labels"][j]),
                    "agreement": _f(crowd["annotator_agreement_with_consensus"][j]),
                    "quality": _f(crowd["annotator_quality"][j]),
                }
            )
        given = ~np.isnan(matrix)
        agree_cells = (matrix == consensus[:, None]) & given
        summary.update(
            {
                "annotation_error_rate": round(
                    1.0 - float(agree_cells.sum()) / float(given.sum()), 6
                ),
                "n_overturned": int(overturned.sum()),
                "n_contested": int(contested.sum()),
                "n_annotators": len(users),
                "mean_annotations_per_item": round(float(num.mean()), 4),
                "annotator_worst_class": {
                    str(u): crowd["annotator_worst_class"][j] for j, u in enumerate(users)
                },
            }
        )
        progress(0.72, "agreement metrics")
        agreement = _agreement(matrix, names, users)
    summary.update(
        {"n_label_issues": int(is_issue.sum()), "n_items_by_class": _per_class(names, counts_y)}
    )
    scored = Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(single["noise_rate"]),
        per_class_noise=_per_class(names, single["noise_rate_per_class"]),
        confident_joint=np.asarray(single["confident_joint"]).astype(int).tolist(),
        agreement=agreement,
        summary=summary,
        n_issues=int(is_issue.sum()),
        labels=columns,
    )

    # outliers and near duplicates
    progress(0.75, "outliers and near duplicates")
    other_issues(data, scored, probs, y, names)

    # the tasks still needing labels: pre-annotations, and ActiveLab priority
    progress(0.82, "active learning")
    feed_back(data, scored, probs, y, matrix, names, consensus_quality, model_conf)
    return scored, probs


def _precision(data: Data, y: np.ndarray, pp: np.ndarray, single: dict, summary: dict) -> None:
    """The expected precision of the flags; with the project's ``qc_target_precision``, the flags
    become the most doubtful labels for as long as their expected precision holds the target."""
    from quality.scoring import error_posteriors, expected_precision_of, precision_flags

    q = error_posteriors(y, pp, single["noise_matrix"])
    target = data.project.qc_target_precision
    flags = single["is_label_issue"]
    summary["n_flagged_without_target"] = int(flags.sum())
    if target is not None:
        flags, _, _ = precision_flags(q, target_precision=float(target))
        single["is_label_issue"] = flags
    summary["target_precision"] = None if target is None else float(target)
    summary["expected_precision"] = round(expected_precision_of(q, flags), 4)
    summary["expected_recall"] = round(float(q[flags].sum() / q.sum()) if q.sum() > 0 else 1.0, 4)


def _f(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _per_class(names: list[str], values: np.ndarray) -> dict:
    return {
        names[i]: (None if not math.isfinite(float(v)) else round(float(v), 6))
        for i, v in enumerate(values)
    }


def _agreement(matrix: np.ndarray, names: list[str], users: list[int]) -> dict:
    """Inter-annotator agreement of a labels matrix (items x annotators, NaN missing).

    Krippendorff's alpha (overall and per class), the share of unanimous items, and Cohen's
    kappa of annotator pairs (mean, and each annotator's mean with the others). A metric that
    is undefined for this data is None, with the reason under ``notes``.
    """
    from quality import agreement as ag

    k = len(names)
    out: dict[str, Any] = {"n_items_multi": int(((~np.isnan(matrix)).sum(axis=1) >= 2).sum())}
    notes = []
    for key, fn in (("krippendorff_alpha", ag.krippendorff_alpha), ("unanimous_share", ag.unanimous_share)):
        try:
            out[key] = fn(matrix, n_classes=k) if key == "krippendorff_alpha" else fn(matrix)
        except QCInputError as exc:
            out[key] = None
            notes.append(str(exc))
    try:
        per = ag.krippendorff_alpha_per_class(matrix, n_classes=k)
        out["krippendorff_alpha_per_class"] = _per_class(names, per)
    except QCInputError as exc:
        notes.append(str(exc))
    if len(users) <= MAX_KAPPA_ANNOTATORS:
        kappa, shared = ag.pairwise_cohen_kappa(matrix, n_classes=k)
        off = ~np.eye(len(users), dtype=bool) & np.isfinite(kappa)
        out["mean_pairwise_kappa"] = float(kappa[off].mean()) if off.any() else None
        out["kappa_by_annotator"] = {
            str(u): (float(kappa[j][off[j]].mean()) if off[j].any() else None) for j, u in enumerate(users)
        }
    else:
        notes.append(f"pairwise kappa skipped: more than {MAX_KAPPA_ANNOTATORS} annotators")
    if notes:
        out["notes"] = notes
    return jsonable(out)


def label_vector(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """(items x 1) labels when every item has one label; (labels, counts per item)."""
    counts = np.bincount(data.ann_item, minlength=data.n)
    y = np.full(data.n, -1, dtype=np.int64)
    y[data.ann_item] = np.asarray(data.ann_value, dtype=np.int64)
    return y, counts


def _labels_matrix(data: Data) -> tuple[np.ndarray, list[int]]:
    users = sorted(set(data.ann_user.tolist()))
    if data.n * len(users) > MAX_MATRIX_CELLS:
        raise QCRunError(
            f"{data.n:,} items x {len(users):,} annotators is too large a labels matrix for CROWDLAB "
            f"(at most {MAX_MATRIX_CELLS:,} cells)"
        )
    col = {u: j for j, u in enumerate(users)}
    M = np.full((data.n, len(users)), np.nan, dtype=np.float64)
    M[data.ann_item, [col[u] for u in data.ann_user.tolist()]] = np.asarray(
        data.ann_value, dtype=np.float64
    )
    return M, users


def _check_classes(names: list[str], y: np.ndarray, what: str = "label") -> None:
    n = y.size
    if n == 1:
        raise QCRunError(
            f"only 1 labeled task (labelled {names[y[0]]!r}); QC needs at least 2 labeled tasks "
            "of at least 2 classes -- dozens per class to find wrong labels"
        )
    used = np.unique(y)
    if used.size < 2:
        raise QCRunError(
            f"every one of the {n:,} labeled tasks has the {what} {names[used[0]]!r}; QC needs "
            "labels of at least 2 different classes to compare"
        )
