"""The pred_probs of a run, from the first source that works (ARCHITECTURE.md, quality/):
probabilities imported with predictions, K-fold cross-validation on ``data.embedding``, K-fold
cross-validation on features labelfab computes itself (image pixels from the stored media;
TF-IDF of the text). Each source that could not be used is noted with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quality import QCInputError
from quality.run.common import Probs, ProgressFn, QCRunError
from quality.run.load import Data, embedding_features, imported_probs, own_features

__all__ = ["DEFAULT_MODELS", "DEFAULT_SPARSE_MODELS", "pred_probs_of"]


#: Models a run chooses from unless the job asks for others (``options["models"]``). Gradient
#: boosting is left out by default: on a shared 2-core machine it costs minutes for a few hundred
#: images and rarely beats the RBF SVM on labelfab's features.
DEFAULT_MODELS = ("logreg", "svm_rbf")
#: ... and for sparse features (TF-IDF): the RBF SVM is ten times slower there and its
#: probabilities find label errors worse (bench/qc.py's text project: F1 0.77 against 0.90).
DEFAULT_SPARSE_MODELS = ("logreg",)


def _model_probs(
    X: Any,
    X_unl: Any,
    y: np.ndarray,
    n_classes: int,
    *,
    models: list[str] | None,
    predict: bool,
    progress: ProgressFn,
) -> tuple[np.ndarray, str, float, dict, np.ndarray | None]:
    from quality.pred_probs import cross_val_pred_probs, fit_predict

    if models:
        candidates = tuple(models)
    else:
        candidates = DEFAULT_SPARSE_MODELS if hasattr(X, "tocsr") else DEFAULT_MODELS
    pp, name, acc, details = cross_val_pred_probs(
        X, y, n_classes=n_classes, return_details=True, candidates=candidates
    )
    ppu = None
    if predict and X_unl is not None and X_unl.shape[0]:
        progress(0.55, f"predicting {X_unl.shape[0]:,} unlabeled tasks with {name}")
        ppu = fit_predict(X, y, X_unl, name, n_classes=n_classes)
    return pp, name, acc, details, ppu


def _zoo_probs(
    sets: dict[str, tuple[Any, Any]],
    y: np.ndarray,
    n_classes: int,
    *,
    predict: bool,
    progress: ProgressFn,
) -> tuple[np.ndarray, str, float, dict, np.ndarray | None, Any]:
    """The featurizer and model zoo (:mod:`quality.zoo`): pred_probs of the candidate chosen by
    cross-validated log loss; unlabeled tasks predicted by the same choice (averaged for two)."""
    from quality.pred_probs import fit_predict
    from quality.zoo import IMAGE_CANDIDATES, TEXT_CANDIDATES, candidates_for, select_pred_probs

    first = next(iter(sets.values()))[0]
    candidates = candidates_for(
        TEXT_CANDIDATES if hasattr(first, "tocsr") else IMAGE_CANDIDATES, n_items=y.size
    )
    pp, name, acc, details = select_pred_probs(
        {k: v[0] for k, v in sets.items()},
        y,
        n_classes=n_classes,
        candidates=candidates,
        progress=lambda f, m: progress(0.2 + 0.35 * f, m),
    )
    chosen = [c.split(" + ", 1) for c in details["chosen"]]
    X = sets[chosen[0][0]][0]
    ppu = None
    X_unl = sets[chosen[0][0]][1]
    if predict and X_unl is not None and X_unl.shape[0]:
        progress(0.55, f"predicting {X_unl.shape[0]:,} unlabeled tasks with {name}")
        ppu = np.mean(
            [
                fit_predict(sets[f][0], y, sets[f][1], m, n_classes=n_classes)
                for f, m in chosen
            ],
            axis=0,
        )
    return pp, name, acc, details, ppu, X


def _multilabel_model_probs(
    X: Any, X_unl: Any, Y: np.ndarray, *, predict: bool, progress: ProgressFn
) -> tuple[np.ndarray, str, float, np.ndarray | None]:
    """One binary model per class (one-vs-rest), each cross-validated."""
    from quality.pred_probs import cross_val_pred_probs, fit_predict

    n, k = Y.shape
    pp = np.zeros((n, k), dtype=np.float64)
    ppu = np.zeros((X_unl.shape[0], k), dtype=np.float64) if predict and X_unl is not None else None
    for c in range(k):
        y = Y[:, c].astype(np.int64)
        progress(0.2 + 0.4 * c / k, f"cross-validating class {c + 1} of {k}")
        if y.min() == y.max():  # never or always given: nothing to learn, keep the label's rate
            pp[:, c] = float(y[0])
            if ppu is not None:
                ppu[:, c] = float(y[0])
            continue
        p, _, _ = cross_val_pred_probs(X, y, n_classes=2, candidates=("logreg",))
        pp[:, c] = p[:, 1]
        if ppu is not None and ppu.shape[0]:
            ppu[:, c] = fit_predict(X, y, X_unl, "logreg", n_classes=2)[:, 1]
    acc = float(np.mean((pp >= 0.5) == Y.astype(bool)))
    return pp, "logreg (one-vs-rest)", acc, ppu


def pred_probs_of(
    data: Data,
    y: np.ndarray,
    *,
    options: dict,
    progress: ProgressFn,
    multilabel_targets: np.ndarray | None = None,
) -> Probs:
    """pred_probs from the first source that works, noting why earlier ones did not."""
    multilabel = multilabel_targets is not None
    predict = bool(options.get("predict_unlabeled", True)) and data.unlabeled_ids.size > 0
    models = options.get("models")
    tried: list[str] = []
    progress(0.08, "looking for imported probabilities")
    got = imported_probs(data, multilabel=multilabel)
    if isinstance(got, tuple):
        pp, ppu, version = got
        if multilabel:
            acc = float(np.mean((pp >= 0.5) == multilabel_targets.astype(bool)))
        else:
            acc = float(np.mean(pp.argmax(axis=1) == y))
        return Probs(pp, "imported", f"imported: {version}"[:100], acc, unlabeled_probs=ppu)
    tried.append(f"imported probabilities: {got}")

    sources: list[tuple[str, Callable[[], Any]]] = [
        ("embedding", lambda: embedding_features(data)),
        ("features", lambda: own_features(data, progress)),
    ]
    for source, make in sources:
        progress(0.1, f"building features ({source})")
        saved_unlabeled = data.unlabeled_ids
        got = make()
        if isinstance(got, str):
            tried.append(f"{source}: {got}")
            data.unlabeled_ids = saved_unlabeled
            continue
        X, X_unl = got[0], got[1]
        what = got[2] if len(got) > 2 else "data.embedding"
        progress(0.2, f"cross-validating models on {what} of {data.n:,} items")
        sets = X if isinstance(X, dict) else None
        if sets is not None:  # several feature sets: the zoo, or labelfab's default set
            default = next(iter(sets))
            X, X_unl = sets[default]
            what = f"{what}: {default}"
        try:
            if sets is not None and not multilabel and not models:
                pp, name, acc, details, ppu, X = _zoo_probs(
                    sets, y, len(data.class_names), predict=predict, progress=progress
                )
            elif multilabel:
                pp, name, acc, ppu = _multilabel_model_probs(
                    X, X_unl, multilabel_targets, predict=predict, progress=progress
                )
                details: dict = {}
            else:
                pp, name, acc, details, ppu = _model_probs(
                    X,
                    X_unl,
                    y,
                    len(data.class_names),
                    models=models,
                    predict=predict,
                    progress=progress,
                )
        except QCInputError as exc:
            tried.append(f"{source} ({what}): {exc}")
            data.unlabeled_ids = saved_unlabeled
            continue
        if not predict:
            data.unlabeled_ids = np.zeros(0, dtype=np.int64)
        info = {"features": what, "n_features": int(X.shape[1])}
        if details and "chosen" in details:
            info.update(
                {
                    "features": f"{what.split(':')[0]}: {', '.join(details['features'])}",
                    "selection": {
                        "chosen": details["chosen"],
                        "by": "cross-validated log loss",
                        "log_loss_by_candidate": details["log_loss_by_candidate"],
                        "accuracy_by_candidate": details["accuracy_by_candidate"],
                        "selected_on": details["selected_on"],
                        "selection_folds": details["selection_folds"],
                    },
                    "n_folds": details["n_folds"],
                    "prior_rows": int(np.asarray(details["fallback_rows"]).size),
                }
            )
        elif details:
            info.update(
                {
                    "accuracy_by_model": {
                        k: round(v, 4) for k, v in details["accuracy_by_model"].items()
                    },
                    "skipped_models": details["skipped"],
                    "n_folds": details["n_folds"],
                    "prior_rows": int(np.asarray(details["fallback_rows"]).size),
                    "selected_on": details["selected_on"],
                }
            )
        if tried:
            info["not_used"] = tried
        return Probs(pp, source, name, acc, features=X, unlabeled_probs=ppu, details=info)
    raise QCRunError("no usable predicted probabilities: " + "; ".join(tried))
