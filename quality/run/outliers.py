"""Outliers and near duplicates of the scored items, their own issue kinds (any task type that
has features or pred_probs; ARCHITECTURE.md, quality/)."""

from __future__ import annotations

from typing import Any

import numpy as np

from quality import QCInputError
from quality.run.common import Probs, Scored
from quality.run.load import Data

__all__ = ["KNN_LIMIT", "other_issues"]


#: Above this many items, outliers come from pred_probs and near duplicates are exact
#: duplicates only (an exact k-nearest-neighbour graph would cost O(n^2)).
KNN_LIMIT = 20_000


def other_issues(
    data: Data, scored: Scored, probs: Probs, y: np.ndarray | None, names: list[str]
) -> None:
    """Outliers and near duplicates, their own issue kinds (only flagged items are stored)."""
    from quality.outlier import knn_graph, near_duplicate_issues, outlier_issues

    n = data.n
    X = probs.features
    label_of = (lambda i: names[y[i]]) if y is not None else (lambda i: None)

    def flag(i: int, kind: str, score: float, reason: str) -> None:
        scored.issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": kind,
                "is_issue": True,
                "given": label_of(i),
                "suggested": None,
                "consensus": None,
                "score": score,
                "reason": reason,
            }
        )

    knn = None
    if X is not None and 3 <= n <= KNN_LIMIT:
        try:
            knn = knn_graph(X, k=10)
        except QCInputError as exc:
            data.notes.append(f"outliers and near duplicates skipped: {exc}")
    if knn is not None:
        out = outlier_issues(knn=knn)
        dup = near_duplicate_issues(knn=knn)
        scored.summary["outlier_method"] = "features"
        for i in out["ranked_issues"]:
            reason = "unlike the other items: " + out["reasons"][i]
            flag(i, "outlier", float(out["outlier_score"][i]), reason)
        for i in np.flatnonzero(dup["is_near_duplicate"]):
            reason = _dup_reason(data, dup["near_duplicate_sets"][i], y, names, i)
            flag(i, "near_duplicate", float(dup["near_duplicate_score"][i]), reason)
        scored.summary.update(
            {"n_outliers": int(out["n_issues"]), "n_near_duplicates": int(dup["n_issues"])}
        )
        return
    # large projects (or no features): outliers from pred_probs, exact duplicates by content
    n_out = 0
    if probs.pred_probs.ndim == 2 and n >= 3 and y is not None:
        try:
            out = outlier_issues(
                pred_probs=probs.pred_probs, labels=y if np.unique(y).size == len(names) else None
            )
        except QCInputError as exc:
            data.notes.append(f"outliers skipped: {exc}")
        else:
            scored.summary["outlier_method"] = "pred_probs"
            n_out = int(out["n_issues"])
            for i in out["ranked_issues"]:
                flag(i, "outlier", float(out["outlier_score"][i]), out["reasons"][i])
    groups: dict[Any, list[int]] = {}
    for i, h in enumerate(data.content_hash):
        if h is not None:
            groups.setdefault(("hash", h), []).append(i)
    if X is not None and not hasattr(X, "tocsr"):
        view = (
            np.ascontiguousarray(X).view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
        )
        _, inverse, cnt = np.unique(view, return_inverse=True, return_counts=True)
        for i in np.flatnonzero(cnt[inverse] > 1):
            groups.setdefault(("x", int(inverse[i])), []).append(int(i))
    dup_sets: dict[int, set[int]] = {}
    for members in groups.values():
        if len(members) > 1:
            for i in members:
                dup_sets.setdefault(i, set()).update(m for m in members if m != i)
    for i, others in sorted(dup_sets.items()):
        reason = "exact " + _dup_reason(data, np.asarray(sorted(others)), y, names, i)
        flag(i, "near_duplicate", 0.0, reason)
    scored.summary.update(
        {
            "n_outliers": n_out,
            "n_near_duplicates": len(dup_sets),
            "near_duplicate_method": "exact" if n > KNN_LIMIT or X is None else "features",
        }
    )
    if n > KNN_LIMIT:
        data.notes.append(
            f"with more than {KNN_LIMIT:,} items, outliers come from the model's probabilities "
            "and only exact duplicates are reported"
        )


def _dup_reason(
    data: Data, others: np.ndarray, y: np.ndarray | None, names: list[str], i: int
) -> str:
    first = [int(j) for j in others[:5]]
    parts = []
    for j in first:
        text = f"task {int(data.task_ids[j])}"
        if y is not None and y[j] != y[i]:
            text += f" (labelled {names[y[j]]!r})"
        parts.append(text)
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    conflict = y is not None and any(y[j] != y[i] for j in others)
    head = "duplicate with a different label: " if conflict else "duplicate of "
    return head + ", ".join(parts) + more
