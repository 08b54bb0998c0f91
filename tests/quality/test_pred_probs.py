"""quality.pred_probs: cross-validated pred_probs, prediction, strict validation, imports."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from quality import QCInputError
from quality.pred_probs import (
    cross_val_pred_probs,
    fit_predict,
    probs_from_predictions,
    validate_pred_probs,
)


def _blobs(n_per_class: int, n_classes: int, *, seed: int = 0, spread: float = 0.6):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, 5)) * 3
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = centers[y] + rng.normal(size=(y.size, 5)) * spread
    return X, y


def test_cross_val_pred_probs_out_of_sample_and_flags_flips():
    X, y = _blobs(40, 3, seed=1)
    rng = np.random.default_rng(1)
    flips = rng.choice(y.size, 12, replace=False)
    noisy = y.copy()
    noisy[flips] = (y[flips] + 1) % 3
    pp, name, acc, details = cross_val_pred_probs(
        X, noisy, n_classes=3, candidates=("logreg", "svm_rbf"), return_details=True
    )
    assert pp.shape == (120, 3)
    np.testing.assert_allclose(pp.sum(axis=1), 1.0)
    assert name.split("(")[0] in ("logreg", "svm_rbf")
    assert set(details["accuracy_by_model"]) == {
        "logreg(C=0.01)",
        "logreg(C=0.1)",
        "logreg(C=1)",
        "svm_rbf(C=1)",
        "svm_rbf(C=10)",
    }
    assert acc == pytest.approx(np.mean(pp.argmax(axis=1) == noisy))
    assert acc == max(details["accuracy_by_model"].values())
    assert details["n_folds"] == 5 and details["fallback_rows"].size == 0
    # out-of-sample: a flipped item's model never saw its (wrong) label, so it disagrees
    assert np.mean(pp[flips].argmax(axis=1) == y[flips]) >= 0.9
    assert np.mean(pp[flips, noisy[flips]] < 0.5) >= 0.9


def test_cross_val_pred_probs_is_deterministic_for_a_seed():
    X, y = _blobs(20, 2, seed=3, spread=2.0)
    a = cross_val_pred_probs(X, y, n_classes=2, candidates=("logreg",), seed=7)
    b = cross_val_pred_probs(X, y, n_classes=2, candidates=("logreg",), seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:] == b[1:]


def test_rare_classes_do_not_crash_and_get_the_prior():
    X, y = _blobs(30, 2, seed=2)
    # class 2 with a single item, class 3 with three items (fewer than the 5 folds)
    X = np.vstack([X, [[9, 9, 9, 9, 9]], np.full((3, 5), -9.0) + np.arange(3)[:, None]])
    y = np.concatenate([y, [2], [3, 3, 3]])
    pp, name, _, details = cross_val_pred_probs(
        X, y, n_classes=5, candidates=("logreg", "svm_rbf"), return_details=True
    )
    assert pp.shape == (64, 5)
    np.testing.assert_allclose(pp.sum(axis=1), 1.0)
    # the lone item's class is absent from its training fold: it gets the class prior
    assert 60 in details["fallback_rows"]
    prior = np.bincount(y, minlength=5) / y.size
    np.testing.assert_allclose(pp[60], prior)
    # a class with no items at all gets probability 0
    assert np.all(pp[:, 4] == 0)
    # svm probability calibration needs 2 training items per class: skipped, with a reason
    assert "svm_rbf" in details["skipped"]
    assert name.startswith("logreg")


def test_folds_reduced_when_every_class_is_small():
    X, y = _blobs(3, 2, seed=4)
    _, _, _, details = cross_val_pred_probs(
        X, y, n_classes=2, candidates=("logreg",), n_folds=5, return_details=True
    )
    assert details["n_folds"] == 3


def test_large_n_selects_on_a_subsample():
    X, y = _blobs(150, 2, seed=5, spread=3.0)
    _, name, _, details = cross_val_pred_probs(
        X, y, n_classes=2, candidates=("logreg",), selection_size=100, return_details=True
    )
    assert details["selected_on"] == 100
    assert name in details["accuracy_by_model"]


def test_sparse_features_and_explicit_model():
    rng = np.random.default_rng(6)
    y = np.repeat([0, 1], 30)
    dense = rng.random((60, 40)) * (rng.random((60, 40)) < 0.2)
    dense[y == 0, :5] += 1.0
    dense[y == 1, 5:10] += 1.0
    X = sp.csr_matrix(dense)
    pp, name, acc = cross_val_pred_probs(X, y, n_classes=2, candidates=("logreg(C=10)",))
    assert name == "logreg(C=10)"
    assert acc >= 0.9


def test_hist_gb_is_opt_in_and_works_on_small_dense_data():
    X, y = _blobs(20, 2, seed=8)
    pp, name, acc = cross_val_pred_probs(X, y, n_classes=2, candidates=("hist_gb",), n_folds=3)
    assert name == "hist_gb" and acc >= 0.9 and pp.shape == (40, 2)


def test_fit_predict_new_items():
    X, y = _blobs(30, 3, seed=9)
    X_new, y_new = _blobs(5, 3, seed=9)
    for model in ("logreg", "svm_rbf(C=1)", "logreg(C=0.1)"):
        pp = fit_predict(X, y, X_new, model, n_classes=4)
        assert pp.shape == (15, 4)
        np.testing.assert_allclose(pp.sum(axis=1), 1.0)
        assert np.all(pp[:, 3] == 0)
        assert np.mean(pp.argmax(axis=1) == y_new) >= 0.9
    one = fit_predict(X, y, X_new[:1], "logreg", n_classes=3)
    assert one.shape == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name": "forest"}, "unknown model 'forest'"),
        ({"model_name": "logreg(C=-1)"}, "C must be positive"),
        ({"model_name": "hist_gb(C=1)"}, "hist_gb takes no C"),
        ({"X_new": np.zeros((2, 3))}, "X_new has 3 features, X_train has 5"),
    ],
)
def test_fit_predict_errors(kwargs, message):
    X, y = _blobs(10, 2)
    args = {"X_train": X, "labels": y, "X_new": X[:2], "model_name": "logreg", **kwargs}
    with pytest.raises(QCInputError, match=message):
        fit_predict(args["X_train"], args["labels"], args["X_new"], args["model_name"], n_classes=2)


@pytest.mark.parametrize(
    ("X", "labels", "n_classes", "message"),
    [
        (np.zeros((0, 3)), [], 2, "non-empty 2-D matrix"),
        (
            [[1.0, 2.0], [np.nan, 1.0], [0.0, 1.0], [2.0, 2.0]],
            [0, 1, 0, 1],
            2,
            "features: row 1 holds NaN or infinity",
        ),
        ([[1.0, 2.0]] * 4, [0, 1, 0, 1], 2, "every column is constant"),
        (
            [[1.0], [2.0], [3.0], [4.0]],
            [0, 0, 0, 0],
            2,
            "all 4 labelled item.s. have the same class",
        ),
        ([[1.0], [2.0], [3.0]], [0, 1, 2], 3, "every class has a single labelled item"),
        ([[1.0], [2.0], [3.0]], [0, 1, 5], 3, "row 2 has class index 5, outside 0..2"),
        ([[1.0], [2.0], [3.0]], [0, 1, -1], 3, "row 2 has class index -1"),
        ([[1.0], [2.0], [3.0]], [0, 1], 3, "2 labels for 3 feature rows"),
        ([[1.0], [2.0], [3.0]], [0, 1, 1], 1, "n_classes must be an integer >= 2"),
    ],
)
def test_cross_val_pred_probs_input_errors(X, labels, n_classes, message):
    with pytest.raises(QCInputError, match=message):
        cross_val_pred_probs(X, labels, n_classes=n_classes)


def test_cross_val_pred_probs_sparse_nan_and_bad_options():
    X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.inf], [1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(QCInputError, match="row 1 holds NaN or infinity"):
        cross_val_pred_probs(X, [0, 1, 0, 1], n_classes=2)
    X, y = _blobs(5, 2)
    with pytest.raises(QCInputError, match="n_folds must be an integer >= 2"):
        cross_val_pred_probs(X, y, n_classes=2, n_folds=1)
    with pytest.raises(QCInputError, match="unknown model 'knn'"):
        cross_val_pred_probs(X, y, n_classes=2, candidates=("knn",))
    with pytest.raises(QCInputError, match="non-empty sequence"):
        cross_val_pred_probs(X, y, n_classes=2, candidates="logreg")


def test_validate_pred_probs_accepts_good_input():
    p = validate_pred_probs([[0.2, 0.8], [1.0, 0.0]], n_items=2, n_classes=2)
    assert p.dtype == np.float64 and p.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize(
    ("pp", "message"),
    [
        ([[0.5, 0.5]], r"expected shape \(2, 2\) \(n_items, n_classes\), got \(1, 2\)"),
        ([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], r"got \(2, 3\)"),
        ([[0.5, 0.5], [np.nan, 1.0]], "row 1 holds NaN or infinity"),
        ([[1.2, -0.2], [0.5, 0.5]], r"row 0 has a value outside \[0, 1\]"),
        ([[0.5, 0.5], [0.5, 0.4]], "row 1 sums to 0.9, not 1"),
        ([["a", "b"], ["c", "d"]], "not a numeric matrix"),
    ],
)
def test_validate_pred_probs_rejects_bad_input(pp, message):
    with pytest.raises(ValueError, match=message) as info:
        validate_pred_probs(pp, n_items=2, n_classes=2)
    assert isinstance(info.value, QCInputError)


def test_probs_from_predictions():
    names = ["cat", "dog", "bird"]
    pp = probs_from_predictions(
        [{"cat": 0.7, "dog": 0.2, "bird": 0.1}, {"dog": 0.91}, {"bird": 1.0}], names
    )
    np.testing.assert_allclose(
        pp, [[0.7, 0.2, 0.1], [0.045, 0.91, 0.045], [0.0, 0.0, 1.0]], atol=1e-12
    )
    scaled = probs_from_predictions(
        [{"cat": 2 / 3, "dog": 2 / 3, "bird": 2 / 3}], names, normalize=True
    )
    np.testing.assert_allclose(scaled, [[1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize(
    ("preds", "message"),
    [
        ([], "no predictions"),
        ([{"cat": 1.0}, None], "prediction row 1: no probabilities given"),
        ([{"cow": 0.5}], "prediction row 0: unknown class 'cow'"),
        ([{"cat": 1.5}], r"probability of 'cat' must be in \[0, 1\]"),
        ([{"cat": "high"}], "probability of 'cat' is not a number"),
        ([{"cat": 0.7, "dog": 0.6}], "prediction row 0: probabilities sum to 1.3"),
        ([{"cat": 0.5, "dog": 0.2, "bird": 0.1}], "probabilities sum to 0.8"),
    ],
)
def test_probs_from_predictions_errors(preds, message):
    with pytest.raises(QCInputError, match=message):
        probs_from_predictions(preds, ["cat", "dog", "bird"])


def test_probs_from_predictions_class_name_errors():
    with pytest.raises(QCInputError, match="at least 2 classes"):
        probs_from_predictions([{"cat": 1.0}], ["cat"])
    with pytest.raises(QCInputError, match="duplicate class names"):
        probs_from_predictions([{"cat": 1.0}], ["cat", "cat"])


def test_fit_predict_no_new_items():
    X, y = _blobs(10, 2)
    assert fit_predict(X, y, np.zeros((0, 5)), "logreg", n_classes=2).shape == (0, 2)


def test_svm_decision_is_each_class_mean_pairwise_margin():
    from sklearn.svm import SVC

    from quality.pred_probs import PairwiseMarginSVC

    X, y = _blobs(30, 4, seed=3, spread=2.0)
    model = PairwiseMarginSVC(C=1.0, random_state=0).fit(X, y)
    margins = SVC(C=1.0, gamma="scale", decision_function_shape="ovo").fit(X, y).decision_function(X)
    expected = np.zeros((y.size, 4))
    pair = 0
    for i in range(4):
        for j in range(i + 1, 4):  # a positive margin of pair (i, j) is for i
            expected[:, i] += margins[:, pair]
            expected[:, j] -= margins[:, pair]
            pair += 1
    np.testing.assert_allclose(model.decision_function(X), expected / 3)
    assert np.mean(model.predict(X) == y) > 0.8
    # two classes: SVC's own margin
    two = y < 2
    binary = PairwiseMarginSVC(C=1.0).fit(X[two], y[two])
    np.testing.assert_allclose(binary.decision_function(X[two]),
                               SVC(C=1.0, gamma="scale").fit(X[two], y[two]).decision_function(X[two]))


def test_svm_pred_probs_rank_flipped_labels_lowest():
    # overlapping classes (the model is right on 94 % of the true labels)
    X, y = _blobs(60, 5, seed=4, spread=2.0)
    rng = np.random.default_rng(4)
    flips = rng.choice(y.size, 30, replace=False)
    noisy = y.copy()
    noisy[flips] = (y[flips] + rng.integers(1, 5, flips.size)) % 5
    pp, name, _ = cross_val_pred_probs(X, noisy, n_classes=5, candidates=("svm_rbf(C=1)",))
    assert name == "svm_rbf(C=1)"
    np.testing.assert_allclose(pp.sum(axis=1), 1.0)
    lowest = np.argsort(pp[np.arange(y.size), noisy])[:30]
    assert len(set(lowest.tolist()) & set(flips.tolist())) >= 24
