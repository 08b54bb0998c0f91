"""QC of a per-task ``<Number>`` or ``<Rating>`` (kind ``regression``): cleanlab's regression
method on the features classification QC gets (``data.embedding``, else the features labelfab
computes of the images or texts; ARCHITECTURE.md, quality/).

Each labeled task's label is its annotators' value (their mean when several answered; how far
apart they are is the agreement step's ``number``/``rating`` measure,
:mod:`quality.task_agreement`). :class:`cleanlab.regression.learn.CleanLearning` with a ridge
regression cross-validates the values on the features and flags the labels whose residual,
adjusted by the model's uncertainty, is among the worst: a flagged task is a ``label`` issue
whose score is cleanlab's label quality, with the model's out-of-sample value as the suggestion
(a Rating rounded to a whole star, a Number kept within ``min``..``max``), which the policy sends
to review like any label issue.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from labeling.schema.values import value_scale
from quality.run.common import Probs, ProgressFn, QCRunError, Scored
from quality.run.load import Data, embedding_features, own_features

__all__ = ["MIN_ITEMS", "score"]

#: Fewest labeled tasks a regression run scores (five folds of two).
MIN_ITEMS = 10
#: Most dimensions the features keep (a sparse TF-IDF matrix, or features of more dimensions, is
#: reduced by truncated SVD to at most a fifth of the items' number).
MAX_DIMS = 100


def _features(data: Data, progress: ProgressFn) -> tuple[np.ndarray, str, list[str]]:
    """The labeled items' features as a dense matrix, what they are, and why earlier sources
    were not used."""
    tried: list[str] = []
    got: Any = embedding_features(data)
    what = "data.embedding"
    if isinstance(got, str):
        tried.append(f"embedding: {got}")
        progress(0.1, "building features")
        got = own_features(data, progress)
        if isinstance(got, str):
            tried.append(f"features: {got}")
            raise QCRunError("no features to learn the values from: " + "; ".join(tried))
        sets, what = got[0], got[2]
        name = next(iter(sets))
        X, what = sets[name][0], f"{what}: {name}"
    else:
        X = got[0]
    if hasattr(X, "tocsr") or X.shape[1] > MAX_DIMS:
        from sklearn.decomposition import TruncatedSVD

        dims = max(1, min(MAX_DIMS, X.shape[0] // 5, X.shape[1] - 1))  # a fifth of the items: no interpolation
        X = TruncatedSVD(n_components=dims, random_state=0).fit_transform(X)
        what += f", reduced to {dims} dimensions"
    return np.asarray(X, dtype=np.float64), what, tried


def _suggestion(data: Data, value: float) -> float | int:
    control = data.control
    if control.type == "rating":
        return int(min(max(round(value), 1), control.max_rating or 5))
    if control.min_value is not None:
        value = max(value, float(control.min_value))
    if control.max_value is not None:
        value = min(value, float(control.max_value))
    return round(float(value), 4)


def _item(data: Data, value: float | int) -> list[dict]:
    control = data.control
    number: float | int = value
    if control.type == "rating" or float(value).is_integer():
        number = int(value)
    return [{"from_name": control.name, "to_name": control.to_name, "type": control.type,
             "value": {control.type: number}}]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a Number or Rating project with cleanlab's regression ``CleanLearning``: one
    ``label`` row per labeled task; ``(Scored, Probs)`` of the run."""
    from cleanlab.regression.learn import CleanLearning
    from sklearn.linear_model import Ridge

    if data.n < MIN_ITEMS:
        raise QCRunError(f"regression QC needs at least {MIN_ITEMS} labeled tasks; the project has {data.n}")
    by_item: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for item, user, value in zip(data.ann_item.tolist(), data.ann_user.tolist(), data.ann_value, strict=True):
        by_item[item].append((user, float(value)))
    y = np.asarray([np.mean([v for _, v in by_item[i]]) for i in range(data.n)], dtype=np.float64)
    if np.ptp(y) == 0:
        raise QCRunError(f"every labeled task has the same {data.control.tag} value ({y[0]:g}); nothing to learn")
    X, what, tried = _features(data, progress)
    progress(0.3, f"cross-validating a ridge regression on {what} of {data.n:,} items (cleanlab)")
    learner = CleanLearning(Ridge(alpha=1.0), cv_n_folds=min(5, data.n // 2), seed=0)
    found = learner.find_label_issues(X, y)
    flags = found["is_label_issue"].to_numpy(dtype=bool)
    quality = found["label_quality"].to_numpy(dtype=np.float64)
    predicted = found["predicted_label"].to_numpy(dtype=np.float64)
    scale = value_scale(data.control) or float(np.ptp(y))
    issues = []
    for i in range(data.n):
        suggested = _suggestion(data, predicted[i])
        given = y[i] if len(by_item[i]) > 1 else by_item[i][0][1]
        said = f"{given:g}" + (f" (mean of {len(by_item[i])} annotators)" if len(by_item[i]) > 1 else "")
        reason = (f"{data.control.name} {said}; the model predicts {predicted[i]:.3g} "
                  f"({abs(predicted[i] - given) / scale:.0%} of the scale apart), label quality {quality[i]:.2f}")
        issues.append({"task_id": int(data.task_ids[i]), "kind": "label", "is_issue": bool(flags[i]),
                       "given": _item(data, given), "suggested": _item(data, suggested), "consensus": None,
                       "score": float(quality[i]), "reason": reason[:1000]})
    residual = np.abs(predicted - y)
    per_user: dict[int, list[float]] = defaultdict(list)
    for i, answers in by_item.items():
        for user, value in answers:
            per_user[user].append(max(0.0, 1.0 - abs(value - y[i]) / scale))
    annotators = [{"user_id": int(u), "n_items": len(v), "agreement": float(np.mean(v)), "quality": None}
                  for u, v in sorted(per_user.items())]
    n_issues = int(flags.sum())
    r2 = 1.0 - float(np.sum(residual ** 2)) / float(np.sum((y - y.mean()) ** 2))
    summary = {"mode": "regression", "method": "cleanlab.regression.learn.CleanLearning (ridge)",
               "features": what, "n_features": int(X.shape[1]), "flagged_share": learner.k,
               "mean_abs_residual": float(residual.mean()), "r2": r2,
               "noise_rate_method": "share of labels cleanlab's regression method flags",
               "n_annotations": int(data.ann_item.size)}
    if tried:
        summary["not_used"] = tried
    scored = Scored(issues=issues, annotators=annotators, noise_rate=n_issues / data.n, per_class_noise={},
                    confident_joint=[], agreement={}, summary=summary, n_issues=n_issues)
    data.unlabeled_ids = np.zeros(0, dtype=np.int64)  # nothing predicted for tasks still to label
    return scored, Probs(np.zeros((0, 1)), "features" if what != "data.embedding" else "embedding",
                         "ridge regression (cleanlab CleanLearning)", None)
