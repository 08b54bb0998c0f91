"""Out-of-sample predicted probabilities, the input of every cleanlab score.

Pure functions: feature matrices and labels in, ``pred_probs`` out. No database, no jobs.

* :func:`cross_val_pred_probs` -- stratified K-fold cross-validation over a small set of
  candidate models, choosing the model by cross-validated accuracy.
* :func:`fit_predict` -- fit the chosen model on all labelled items and predict new ones.
* :func:`validate_pred_probs` -- strict checks on a ``pred_probs`` matrix (cleanlab accepts
  bad input silently; labelfab does not).
* :func:`probs_from_predictions` -- build the matrix from imported ``{label: p}`` predictions.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

from quality import QCInputError

__all__ = [
    "MODELS",
    "VARIANTS",
    "cross_val_pred_probs",
    "fit_predict",
    "probs_from_predictions",
    "validate_pred_probs",
]

#: Candidate model families, with the largest number of items each is used for. Above that
#: size a family is skipped (too slow on a couple of cores), so large projects use logreg.
MODELS: dict[str, int | None] = {
    "logreg": None,
    "svm_rbf": 12_000,
    "hist_gb": 20_000,
}

#: Variants of each family that are cross-validated against each other. Regularization
#: matters under label noise: a model that fits the noise cannot point it out.
VARIANTS: dict[str, tuple[float | None, ...]] = {
    "logreg": (0.01, 0.1, 1.0),  # inverse regularization strength C
    "svm_rbf": (1.0, 10.0),  # C
    "hist_gb": (None,),
}

#: hist_gb is skipped above this many features (slow, and rarely the best on pixels/TF-IDF).
HIST_GB_MAX_FEATURES = 128

#: Above this many items the model is chosen on a stratified subsample of this size, and only
#: the chosen model runs the full cross-validation.
SELECTION_SIZE = 6_000


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _check_features(
    X: Any, *, name: str = "features", allow_constant: bool = False, allow_empty: bool = False
) -> np.ndarray | sp.csr_matrix:
    """Return X as a 2-D float array or CSR matrix; raise on non-finite or constant input."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        if X.ndim != 2 or (X.shape[0] == 0 and not allow_empty) or X.shape[1] == 0:
            raise QCInputError(f"{name}: expected a non-empty 2-D matrix, got shape {X.shape}")
        bad = ~np.isfinite(X.data)
        if bad.any():
            row = int(np.searchsorted(X.indptr, np.flatnonzero(bad)[0], side="right") - 1)
            raise QCInputError(f"{name}: row {row} holds NaN or infinity")
        if X.nnz == 0 and not allow_constant:
            raise QCInputError(f"{name}: every value is zero; there is nothing to learn from")
        if X.shape[0] > 1 and not allow_constant:
            sq = X.multiply(X).mean(axis=0).A1
            mean = X.mean(axis=0).A1
            if np.all(sq - mean**2 <= 1e-12 * np.maximum(1.0, sq)):
                raise QCInputError(f"{name}: every column is constant across items")
        return X
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QCInputError(f"{name}: not a numeric matrix ({exc})") from exc
    if X.ndim != 2 or (X.shape[0] == 0 and not allow_empty) or X.shape[1] == 0:
        raise QCInputError(f"{name}: expected a non-empty 2-D matrix, got shape {X.shape}")
    bad_rows = ~np.isfinite(X).all(axis=1)
    if bad_rows.any():
        rows = np.flatnonzero(bad_rows)
        raise QCInputError(
            f"{name}: row {rows[0]} holds NaN or infinity ({rows.size} row(s) affected)"
        )
    if X.shape[0] > 1 and not allow_constant and np.all(np.ptp(X, axis=0) == 0):
        raise QCInputError(f"{name}: every column is constant across items")
    return X


def _check_labels(labels: Any, n_items: int, n_classes: int) -> np.ndarray:
    """Return labels as an int array in [0, n_classes); raise with the offending row."""
    if not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise QCInputError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    y = np.asarray(labels)
    if y.ndim != 1:
        raise QCInputError(f"labels: expected a 1-D array, got shape {y.shape}")
    if y.shape[0] != n_items:
        raise QCInputError(f"labels: {y.shape[0]} labels for {n_items} feature rows")
    if y.shape[0] == 0:
        raise QCInputError("labels: no labelled items")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise QCInputError(f"labels: row {np.flatnonzero(bad)[0]} is not a class index")
    elif y.dtype.kind not in "iub":
        raise QCInputError(f"labels: expected integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    out = (y < 0) | (y >= n_classes)
    if out.any():
        r = np.flatnonzero(out)[0]
        raise QCInputError(
            f"labels: row {r} has class index {y[r]}, outside 0..{n_classes - 1} "
            "(pass labelled items only)"
        )
    return y


def validate_pred_probs(
    pred_probs: Any,
    *,
    n_items: int,
    n_classes: int,
    atol: float = 1e-3,
) -> np.ndarray:
    """Check a predicted-probability matrix strictly and return it as float64.

    cleanlab assumes well-formed ``pred_probs`` and silently produces nonsense otherwise
    (for instance when rows do not sum to one, or the classes are in another order and
    count). labelfab checks first.

    Parameters
    ----------
    pred_probs : array-like
        Matrix of shape ``(n_items, n_classes)``; row ``i`` is the predicted distribution over
        classes for item ``i``.
    n_items : int
        Expected number of rows.
    n_classes : int
        Expected number of columns.
    atol : float, default 1e-3
        Largest allowed absolute difference between a row sum and 1.

    Returns
    -------
    pred_probs : np.ndarray
        The same values, as a C-contiguous float64 array.

    Raises
    ------
    QCInputError
        (a :class:`ValueError`) if the matrix is not numeric, has the wrong shape, holds NaN,
        infinity, negative values or values above 1, or a row does not sum to 1 within
        `atol`. The message names the first offending row.
    """
    try:
        p = np.ascontiguousarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QCInputError(f"pred_probs: not a numeric matrix ({exc})") from exc
    if p.shape != (n_items, n_classes):
        raise QCInputError(
            f"pred_probs: expected shape ({n_items}, {n_classes}) "
            f"(n_items, n_classes), got {p.shape}"
        )
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        raise QCInputError(f"pred_probs: row {np.flatnonzero(bad)[0]} holds NaN or infinity")
    bad = ((p < 0) | (p > 1)).any(axis=1)
    if bad.any():
        r = np.flatnonzero(bad)[0]
        raise QCInputError(f"pred_probs: row {r} has a value outside [0, 1]: {p[r].tolist()}")
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        r = np.flatnonzero(bad)[0]
        raise QCInputError(
            f"pred_probs: row {r} sums to {sums[r]:.6g}, not 1 (tolerance {atol:g}); "
            f"{int(bad.sum())} row(s) affected"
        )
    return p


def probs_from_predictions(
    predictions: Sequence[Mapping[str, float] | None],
    class_names: Sequence[str],
    *,
    atol: float = 1e-3,
    normalize: bool = False,
) -> np.ndarray:
    """Build a ``pred_probs`` matrix from imported per-item predictions.

    Imported predictions (for example Label Studio ``predictions`` with a ``score``) often
    name only some classes, typically just the top one. The probability mass not assigned
    to named classes, ``1 - sum(named)``, is spread evenly over the classes a row does not
    name.

    Parameters
    ----------
    predictions : sequence of mappings ``{class_name: probability}``
        One mapping per item, in item order.
    class_names : sequence of str
        All classes, in the column order of the result.
    atol : float, default 1e-3
        Tolerance on row sums (named probabilities may exceed 1 by at most this much, and a
        row naming every class must sum to 1 within it).
    normalize : bool, default False
        Divide every row by its sum instead of raising when a row that names every class
        (or whose named probabilities exceed 1) does not sum to 1.

    Returns
    -------
    pred_probs : np.ndarray
        Array of shape ``(len(predictions), len(class_names))`` whose rows sum to 1.

    Raises
    ------
    QCInputError
        If there are no predictions, fewer than two classes, duplicate class names, a row is
        missing or empty, names an unknown class, holds a probability outside [0, 1] or NaN,
        or its probabilities do not add up (see `normalize`). The message names the row.
    """
    names = list(class_names)
    if len(names) < 2:
        raise QCInputError(f"class_names: need at least 2 classes, got {len(names)}")
    if len(set(names)) != len(names):
        raise QCInputError("class_names: duplicate class names")
    index = {name: j for j, name in enumerate(names)}
    preds = list(predictions)
    if not preds:
        raise QCInputError("predictions: no predictions given")
    k = len(names)
    out = np.zeros((len(preds), k), dtype=np.float64)
    for i, row in enumerate(preds):
        if row is None or not isinstance(row, Mapping) or len(row) == 0:
            raise QCInputError(f"prediction row {i}: no probabilities given")
        named = np.zeros(k, dtype=bool)
        for label, value in row.items():
            if label not in index:
                raise QCInputError(
                    f"prediction row {i}: unknown class {label!r} (known: {', '.join(names)})"
                )
            try:
                v = float(value)
            except (TypeError, ValueError) as exc:
                raise QCInputError(
                    f"prediction row {i}: probability of {label!r} is not a number ({value!r})"
                ) from exc
            if not np.isfinite(v) or v < 0 or v > 1 + atol:
                raise QCInputError(
                    f"prediction row {i}: probability of {label!r} must be in [0, 1], got {v!r}"
                )
            out[i, index[label]] = min(v, 1.0)
            named[index[label]] = True
        total = out[i].sum()
        rest = 1.0 - total
        if total > 1.0 + atol or (named.all() and abs(rest) > atol):
            if not normalize:
                raise QCInputError(
                    f"prediction row {i}: probabilities sum to {total:.6g}, not 1 "
                    "(pass normalize=True to rescale)"
                )
            if total <= 0:
                raise QCInputError(f"prediction row {i}: probabilities are all zero")
            out[i] /= total
        elif not named.all():
            out[i, ~named] = max(rest, 0.0) / int((~named).sum())
        s = out[i].sum()
        if s <= 0:
            raise QCInputError(f"prediction row {i}: probabilities are all zero")
        out[i] /= s
    return out


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
_NAME = re.compile(r"^(?P<family>[a-z_]+)(?:\(C=(?P<C>[0-9.eE+-]+)\))?$")
_DEFAULT_C = {"logreg": 0.1, "svm_rbf": 1.0}
_SPARSE_C_SCALE = {"logreg": 100.0, "svm_rbf": 1.0}  # TF-IDF rows have unit norm


def _model_name(family: str, c: float | None) -> str:
    return family if c is None else f"{family}(C={c:g})"


def _parse_model_name(name: str) -> tuple[str, float | None]:
    """``"logreg(C=0.1)"`` -> ``("logreg", 0.1)``; a bare family gets its default C."""
    m = _NAME.match(name) if isinstance(name, str) else None
    if m is None or m["family"] not in MODELS:
        raise QCInputError(
            f"unknown model {name!r}; choose from {', '.join(MODELS)} "
            "(optionally with a C, as in 'logreg(C=0.1)')"
        )
    family = m["family"]
    if family == "hist_gb":
        if m["C"] is not None:
            raise QCInputError(f"model {name!r}: hist_gb takes no C")
        return family, None
    try:
        c = float(m["C"]) if m["C"] is not None else _DEFAULT_C[family]
    except ValueError as exc:
        raise QCInputError(f"model {name!r}: C is not a number") from exc
    if not np.isfinite(c) or c <= 0:
        raise QCInputError(f"model {name!r}: C must be positive")
    return family, c


def _variants(family: str, *, sparse: bool) -> list[str]:
    scale = _SPARSE_C_SCALE.get(family, 1.0) if sparse else 1.0
    return [_model_name(family, None if c is None else c * scale) for c in VARIANTS[family]]


def _make_model(name: str, *, sparse: bool, n_train: int, min_count: int, seed: int) -> Any:
    """A fresh scikit-learn estimator for the model `name` (family and C)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    family, c = _parse_model_name(name)
    scaler = StandardScaler(with_mean=not sparse)
    if family == "logreg":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(
            C=c,
            max_iter=300 if n_train <= 20_000 else 150,
            tol=1e-4 if n_train <= 20_000 else 1e-3,
        )
        return clf if sparse else make_pipeline(scaler, clf)
    if family == "svm_rbf":
        from sklearn.calibration import CalibratedClassifierCV

        # probabilities by temperature scaling on an inner CV (SVC(probability=True) is
        # deprecated since scikit-learn 1.9) of each class's mean pairwise margin
        clf = CalibratedClassifierCV(
            PairwiseMarginSVC(C=c, random_state=seed),
            method="temperature",
            cv=min(3, min_count),
            ensemble=False,
        )
        return clf if sparse else make_pipeline(scaler, clf)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        min_samples_leaf=int(min(20, max(2, n_train // 20))),
        early_stopping=False,
        random_state=seed,
    )


class PairwiseMarginSVC(ClassifierMixin, BaseEstimator):
    """An RBF-kernel SVM (one-vs-one, as :class:`sklearn.svm.SVC` fits it) whose decision
    function is each class's mean signed margin over its pairs.

    ``SVC``'s own multi-class ``decision_function`` is a count of pairwise votes with the
    margins squeezed into a tie-break below one vote, so a probability calibrated on it ranks
    the items of a class in a few coarse steps; the items a wrong label's own class wins by a
    wide margin then sit among those it barely wins. The mean margin keeps that order, at the
    cost of the same fits (on bench/qc_zoo.py's glyphs, the average precision of the
    self-confidence ranking against the flipped labels: 0.85 -> 0.94 at 5 % noise). With two
    classes it is ``SVC``'s margin.
    """

    def __init__(self, C: float = 1.0, random_state: int | None = None) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PairwiseMarginSVC:
        from sklearn.svm import SVC

        self.svc_ = SVC(C=self.C, gamma="scale", decision_function_shape="ovo", random_state=self.random_state)
        self.svc_.fit(X, y)
        self.classes_ = self.svc_.classes_
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        d = self.svc_.decision_function(X)
        k = len(self.classes_)
        if k == 2:
            return d
        # columns are the pairs (i, j), i < j, in order; a positive margin votes for i
        first, second = np.triu_indices(k, 1)
        out = np.zeros((d.shape[0], k))
        np.add.at(out.T, first, d.T)
        np.add.at(out.T, second, -d.T)
        return out / (k - 1)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)] if len(self.classes_) > 2 else self.svc_.predict(X)


def _eligible(
    family: str, *, n_items: int, n_features: int, sparse: bool, min_train_count: int
) -> str | None:
    """None if model `family` can run on this data, else the reason it is skipped."""
    if family not in MODELS:
        raise QCInputError(f"unknown model {family!r}; choose from {', '.join(MODELS)}")
    limit = MODELS[family]
    if limit is not None and n_items > limit:
        return f"more than {limit} items"
    if family == "hist_gb":
        if sparse:
            return "sparse features"
        if n_features > HIST_GB_MAX_FEATURES:
            return f"more than {HIST_GB_MAX_FEATURES} features"
    if family == "svm_rbf" and min_train_count < 2:
        return "a class has fewer than 2 training items (probability calibration needs 2)"
    return None


def _folds(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that tolerate rare classes (fewer examples than folds)."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y)
    k = int(min(n_folds, counts.max()))
    if k < 2:
        raise QCInputError(
            "labels: every class has a single labelled item; cross-validation needs "
            "at least one class with 2 items"
        )
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(skf.split(np.zeros((y.shape[0], 1)), y))


@contextmanager
def _fit_context() -> Iterator[None]:
    """One BLAS/OpenMP thread (several are much slower at these sizes), quiet warnings."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*converge.*")
        yield


def _fit_predict_full(
    model: Any, X_train: Any, y: np.ndarray, X_test: Any, n_classes: int
) -> np.ndarray:
    """Fit, then predict_proba mapped onto all `n_classes` columns."""
    with _fit_context():
        model.fit(X_train, y)
        proba = model.predict_proba(X_test)
    classes = np.asarray(model.classes_, dtype=np.int64)
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float64)
    out[:, classes] = proba
    out /= out.sum(axis=1, keepdims=True)
    return out


def _run_cv(
    name: str,
    X: Any,
    y: np.ndarray,
    *,
    n_classes: int,
    folds: list[tuple[np.ndarray, np.ndarray]],
    prior: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold pred_probs for one model, and the mask of rows given the prior instead."""
    n = y.shape[0]
    pp = np.empty((n, n_classes), dtype=np.float64)
    fallback = np.zeros(n, dtype=bool)
    sparse = sp.issparse(X)
    for train, test in folds:
        ytr = y[train]
        counts = np.bincount(ytr, minlength=n_classes)
        present = counts > 0
        if present.sum() < 2:
            pp[test] = prior
            fallback[test] = True
            continue
        model = _make_model(
            name, sparse=sparse, n_train=train.size, min_count=int(counts[present].min()), seed=seed
        )
        out = _fit_predict_full(model, X[train], ytr, X[test], n_classes)
        unseen = ~present[y[test]]
        out[unseen] = prior
        fallback[test[unseen]] = True
        pp[test] = out
    return pp, fallback


def _stratified_subsample(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of a stratified random subsample of about `size` rows (every class kept)."""
    rng = np.random.default_rng(seed)
    frac = size / y.shape[0]
    picked = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        take = max(min(rows.size, 2), int(round(rows.size * frac)))
        picked.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(picked))


def _log_loss(pp: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(pp[np.arange(y.size), y], 1e-12, None))))


def cross_val_pred_probs(
    X: Any,
    labels: Any,
    *,
    n_classes: int,
    candidates: Sequence[str] = ("logreg", "svm_rbf"),
    n_folds: int = 5,
    seed: int = 0,
    selection_size: int = SELECTION_SIZE,
    return_details: bool = False,
) -> tuple[np.ndarray, str, float] | tuple[np.ndarray, str, float, dict[str, Any]]:
    """Out-of-sample predicted probabilities by stratified K-fold cross-validation.

    Every item's probabilities come from a model that never saw that item, which is what
    cleanlab's scores require. Each candidate family is tried with a few regularization
    strengths (:data:`VARIANTS`), and the model with the best cross-validated accuracy
    against the given, possibly noisy, labels is kept (ties broken by log loss); a model
    that fits the noise predicts the noisy labels of *other* items worse, so this choice
    also favours models that expose label errors. Families too slow for the data are
    skipped (:data:`MODELS`). With more than `selection_size` items the model is chosen on
    a stratified subsample, and only the chosen model runs on all items.

    Rare classes do not crash the folds: the number of folds is reduced to the size of the
    largest class if needed, and an item whose class is absent from its training fold (a
    class with a single item, say) gets the class prior as its ``pred_probs`` row, so it is
    never flagged on the model's say-so. Such rows are listed in the details.

    Parameters
    ----------
    X : np.ndarray or scipy.sparse matrix
        Features, shape ``(n_items, n_features)`` (see :mod:`quality.features`).
    labels : array-like of int
        Given label of each item, integers in ``0..n_classes-1``.
    n_classes : int
        Number of classes (columns of the result); classes without items get probability 0.
    candidates : sequence of str, default ("logreg", "svm_rbf")
        Model families to choose from: ``"logreg"`` (multinomial logistic regression),
        ``"svm_rbf"`` (RBF-kernel SVM, probabilities by temperature scaling) and
        ``"hist_gb"`` (histogram gradient boosting; opt-in, slow); or exact models such as
        ``"logreg(C=0.1)"``.
    n_folds : int, default 5
        Number of cross-validation folds (at least 2).
    seed : int, default 0
        Seed of the fold split, the subsample and the models.
    selection_size : int, default 6000
        Largest number of items on which all candidates are cross-validated.
    return_details : bool, default False
        Also return a dict with ``accuracy_by_model``, ``skipped`` (family -> reason),
        ``n_folds`` (as used), ``fallback_rows`` (indices given the prior) and
        ``selected_on`` (number of items the model was chosen on).

    Returns
    -------
    pred_probs : np.ndarray
        Array of shape ``(n_items, n_classes)``, rows summing to 1.
    model_name : str
        The chosen model, e.g. ``"svm_rbf(C=1)"``; pass it to :func:`fit_predict`.
    cv_accuracy : float
        Share of items whose given label equals the arg-max of `pred_probs`.
    details : dict
        Only with ``return_details=True``.

    Raises
    ------
    QCInputError
        If features are empty, non-finite or constant, labels are out of range or of the
        wrong length, fewer than 2 classes have items, no class has 2 items, or no candidate
        can run.
    """
    X = _check_features(X)
    n = X.shape[0]
    y = _check_labels(labels, n, n_classes)
    if not isinstance(n_folds, int | np.integer) or n_folds < 2:
        raise QCInputError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    counts = np.bincount(y, minlength=n_classes)
    if (counts > 0).sum() < 2:
        raise QCInputError(
            f"labels: all {n} labelled item(s) have the same class; need at least 2 classes"
        )
    if isinstance(candidates, str) or not candidates:
        raise QCInputError("candidates: expected a non-empty sequence of model names")
    prior = counts / counts.sum()
    sparse = sp.issparse(X)
    folds = _folds(y, n_folds, seed)
    k = len(folds)
    # smallest class count a training fold sees (a class of c items loses ~c/k of them)
    min_train = int(min(c - int(np.ceil(c / k)) for c in counts[counts > 0]))

    skipped: dict[str, str] = {}
    usable: list[str] = []
    for cand in dict.fromkeys(candidates):
        family, _ = _parse_model_name(cand)
        reason = _eligible(
            family, n_items=n, n_features=X.shape[1], sparse=sparse, min_train_count=min_train
        )
        if reason is not None:
            skipped[cand] = reason
        elif cand in MODELS:
            usable.extend(_variants(cand, sparse=sparse))
        else:
            usable.append(cand)
    usable = list(dict.fromkeys(usable))
    if not usable:
        raise QCInputError(
            "no candidate model can run on this data: "
            + "; ".join(f"{m}: {r}" for m, r in skipped.items())
        )

    accuracy: dict[str, float] = {}
    losses: dict[str, float] = {}
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    selected_on = n
    if len(usable) > 1 and n > selection_size:
        sub = _stratified_subsample(y, selection_size, seed)
        selected_on = sub.size
        ys = y[sub]
        sub_folds = _folds(ys, min(n_folds, 3), seed)
        sub_prior = np.bincount(ys, minlength=n_classes) / ys.size
        for name in usable:
            pp, _ = _run_cv(
                name, X[sub], ys, n_classes=n_classes, folds=sub_folds, prior=sub_prior, seed=seed
            )
            accuracy[name] = float(np.mean(pp.argmax(axis=1) == ys))
            losses[name] = _log_loss(pp, ys)
        best = max(usable, key=lambda m: (accuracy[m], -losses[m]))
        results[best] = _run_cv(
            best, X, y, n_classes=n_classes, folds=folds, prior=prior, seed=seed
        )
    else:
        for name in usable:
            results[name] = _run_cv(
                name, X, y, n_classes=n_classes, folds=folds, prior=prior, seed=seed
            )
            accuracy[name] = float(np.mean(results[name][0].argmax(axis=1) == y))
            losses[name] = _log_loss(results[name][0], y)
        best = max(usable, key=lambda m: (accuracy[m], -losses[m]))
    pred_probs, fallback = results[best]
    cv_accuracy = float(np.mean(pred_probs.argmax(axis=1) == y))
    if not return_details:
        return pred_probs, best, cv_accuracy
    details = {
        "accuracy_by_model": accuracy,
        "skipped": skipped,
        "n_folds": k,
        "fallback_rows": np.flatnonzero(fallback),
        "selected_on": selected_on,
    }
    return pred_probs, best, cv_accuracy, details


def fit_predict(
    X_train: Any,
    labels: Any,
    X_new: Any,
    model_name: str,
    *,
    n_classes: int,
    seed: int = 0,
) -> np.ndarray:
    """Fit `model_name` on all labelled items and predict probabilities for new items.

    Use it for unlabelled items (for active learning or pre-labelling) with the model that
    :func:`cross_val_pred_probs` chose.

    Parameters
    ----------
    X_train : np.ndarray or scipy.sparse matrix
        Features of the labelled items, shape ``(n_items, n_features)``.
    labels : array-like of int
        Their labels, integers in ``0..n_classes-1``.
    X_new : np.ndarray or scipy.sparse matrix
        Features of the items to predict, shape ``(n_new, n_features)`` (``n_new`` may be 0).
    model_name : str
        A family of :data:`MODELS` (with its default C) or an exact model as returned by
        :func:`cross_val_pred_probs`, e.g. ``"svm_rbf(C=1)"``.
    n_classes : int
        Number of classes (columns of the result).
    seed : int, default 0
        Seed of the model.

    Returns
    -------
    pred_probs : np.ndarray
        Array of shape ``(n_new, n_classes)``; classes without training items get 0.

    Raises
    ------
    QCInputError
        On invalid features or labels, fewer than 2 classes, a feature-count mismatch, an
        unknown model, or a model that cannot run on this data.
    """
    family, _ = _parse_model_name(model_name)
    X_train = _check_features(X_train)
    X_new = _check_features(X_new, name="X_new", allow_constant=True, allow_empty=True)
    if X_new.shape[1] != X_train.shape[1]:
        raise QCInputError(f"X_new has {X_new.shape[1]} features, X_train has {X_train.shape[1]}")
    sparse = sp.issparse(X_train)
    if sparse != sp.issparse(X_new):
        raise QCInputError("X_train and X_new must both be sparse or both be dense")
    y = _check_labels(labels, X_train.shape[0], n_classes)
    counts = np.bincount(y, minlength=n_classes)
    if (counts > 0).sum() < 2:
        raise QCInputError("labels: all labelled items have the same class; need at least 2")
    min_count = int(counts[counts > 0].min())
    reason = _eligible(family, n_items=0, n_features=0, sparse=sparse, min_train_count=min_count)
    if reason is not None:
        raise QCInputError(f"model {model_name!r} cannot run on this data: {reason}")
    if X_new.shape[0] == 0:
        return np.zeros((0, n_classes), dtype=np.float64)
    model = _make_model(
        model_name, sparse=sparse, n_train=X_train.shape[0], min_count=min_count, seed=seed
    )
    return _fit_predict_full(model, X_train, y, X_new, n_classes)
