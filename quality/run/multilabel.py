"""QC of multi-label classification (``<Choices choice="multiple">``): cleanlab's multi-label
issues on the label set agreed by at least half of an item's annotators, one binary model per
class (ARCHITECTURE.md, quality/)."""

from __future__ import annotations

import numpy as np

from quality import QCInputError
from quality.run.common import Probs, ProgressFn, QCRunError, Scored
from quality.run.feedback import prediction_row
from quality.run.load import Data
from quality.run.outliers import other_issues
from quality.run.probs import pred_probs_of

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a multi-label project: multi-label issues of the agreed label sets; ``(Scored,
    Probs)`` of the run, or :class:`QCRunError` saying why not."""
    from quality.scoring import multilabel_issues

    names = data.class_names
    k = len(names)
    n = data.n
    # per item: a class is given when at least half of the item's annotators chose it
    votes = np.zeros((n, k), dtype=np.int32)
    per_item = np.bincount(data.ann_item, minlength=n)
    for item, classes in zip(data.ann_item.tolist(), data.ann_value, strict=True):
        if classes:
            votes[item, classes] += 1
    Y = (2 * votes >= per_item[:, None]) & (votes > 0)
    if n == 1:
        raise QCRunError("only 1 labeled task; QC needs at least 2 labeled tasks")
    counts = Y.sum(axis=0)
    usable = np.flatnonzero((counts > 0) & (counts < n))
    if usable.size < 2:
        raise QCRunError(
            "QC of a multi-label project needs at least 2 labels that some but not all tasks have; here "
            + ", ".join(f"{names[c]!r} is on {int(counts[c])} of {n}" for c in range(k))
        )
    left_out = [names[c] for c in range(k) if c not in set(usable.tolist())]
    if left_out:
        data.notes.append(
            "label(s) "
            + ", ".join(repr(x) for x in left_out)
            + " are on no task or on every task; QC left them out"
        )
    sub_names = [names[c] for c in usable]
    Ys = Y[:, usable]
    probs = pred_probs_of(
        data,
        np.zeros(n, dtype=np.int64),
        options=options,
        progress=progress,
        multilabel_targets=Ys,
    )
    pp = probs.pred_probs
    if pp.shape[1] == k and usable.size != k:  # imported probabilities name every class
        pp = pp[:, usable]
        if probs.unlabeled_probs is not None:
            probs.unlabeled_probs = probs.unlabeled_probs[:, usable]
    progress(0.65, "finding multi-label issues")
    labels = [np.flatnonzero(Ys[i]).tolist() for i in range(n)]
    try:
        res = multilabel_issues(labels, pp, class_names=sub_names)
    except QCInputError as exc:
        raise QCRunError(str(exc)) from exc
    issues = []
    for i in range(n):
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(res["is_label_issue"][i]),
                "given": [sub_names[c] for c in labels[i]],
                "suggested": [sub_names[c] for c in res["suggested_labels"][i]],
                "consensus": None,
                "score": float(res["label_quality"][i]),
                "reason": res["reasons"][i],
            }
        )
    per_class = {}
    for j, c in enumerate(sub_names):
        wrong = res["is_label_issue"] & ((pp[:, j] >= 0.5) != Ys[:, j])
        per_class[c] = round(float(wrong.mean()), 6)
    annotators = []
    for u in np.unique(data.ann_user):
        mask = data.ann_user == u
        items = data.ann_item[mask]
        agree = [
            set(v) & set(usable.tolist()) == set(usable[Ys[it]].tolist())
            for it, v in zip(
                items.tolist(), [data.ann_value[j] for j in np.flatnonzero(mask)], strict=True
            )
        ]
        annotators.append(
            {
                "user_id": int(u),
                "n_items": int(mask.sum()),
                "agreement": float(np.mean(agree)) if agree else None,
                "quality": float(np.mean(res["label_quality"][items])),
            }
        )
    scored = Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(res["is_label_issue"].mean()),
        per_class_noise=per_class,
        confident_joint=[],
        agreement={},
        summary={
            "mode": "multilabel",
            "n_label_issues": int(res["n_issues"]),
            "n_annotations": int(data.ann_item.size),
            "noise_rate_method": "share of items flagged",
        },
        n_issues=int(res["n_issues"]),
    )
    data.class_names = sub_names
    progress(0.75, "outliers and near duplicates")
    other_issues(data, scored, probs, None, sub_names)
    ppu = probs.unlabeled_probs
    open_items = np.flatnonzero(data.open_mask)
    if probs.source != "imported":
        for i in open_items:
            row = prediction_row(data, int(data.task_ids[i]), pp[i], sub_names, multilabel=True)
            if row:
                scored.predictions.append(row)
        if ppu is not None and ppu.shape[0] == data.unlabeled_ids.size:
            for j, tid in enumerate(data.unlabeled_ids.tolist()):
                row = prediction_row(data, tid, ppu[j], sub_names, multilabel=True)
                if row:
                    scored.predictions.append(row)
    scored.summary["n_predictions"] = len(scored.predictions)
    if data.project.uncertain_first:
        # uncertainty: how close the class probabilities are to 0.5, on average
        for i in open_items:
            scored.priorities[int(data.task_ids[i])] = round(
                float(np.mean(1 - np.abs(2 * pp[i] - 1))), 6
            )
        if ppu is not None and ppu.shape[0] == data.unlabeled_ids.size:
            for j, tid in enumerate(data.unlabeled_ids.tolist()):
                scored.priorities[tid] = round(float(np.mean(1 - np.abs(2 * ppu[j] - 1))), 6)
    return scored, probs
