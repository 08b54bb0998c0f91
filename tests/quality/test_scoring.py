"""quality.scoring: cleanlab scoring on known data, and every edge case as a QCInputError."""

from __future__ import annotations

import numpy as np
import pytest

from quality import QCInputError
from quality.agreement import majority_vote
from quality.outlier import knn_graph, near_duplicate_issues, outlier_issues
from quality.pred_probs import cross_val_pred_probs
from quality.scoring import (
    active_learning_scores,
    multiannotator,
    multilabel_issues,
    single_annotator_issues,
)

NAMES = ["cat", "dog", "bird"]


def _flipped(n: int = 100, n_flips: int = 10, seed: int = 0):
    """True labels, noisy labels (n_flips flipped) and pred_probs that know the truth."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    flips = np.sort(rng.choice(n, n_flips, replace=False))
    noisy = y.copy()
    noisy[flips] = (y[flips] + 1 + rng.integers(0, 2, n_flips)) % 3
    pp = np.full((n, 3), 0.075)
    pp[np.arange(n), y] = 0.85
    return y, noisy, flips, pp


# --------------------------------------------------------------------------- single annotator
def test_single_annotator_flags_exactly_the_flips_with_exact_noise_rate():
    y, noisy, flips, pp = _flipped()
    r = single_annotator_issues(noisy, pp, class_names=NAMES)
    np.testing.assert_array_equal(np.flatnonzero(r["is_label_issue"]), flips)
    assert r["n_issues"] == 10
    assert sorted(r["ranked_issues"].tolist()) == flips.tolist()
    np.testing.assert_array_equal(r["suggested_label"], y)
    assert r["noise_rate"] == pytest.approx(0.10)
    counts = np.bincount(noisy, minlength=3)
    wrong = np.bincount(noisy[flips], minlength=3)
    np.testing.assert_allclose(r["noise_rate_per_class"], wrong / counts)
    # confident joint: rows = given label, columns = true label; here it is exact
    expected = np.zeros((3, 3))
    np.add.at(expected, (noisy, y), 1)
    np.testing.assert_allclose(r["confident_joint"], expected)
    np.testing.assert_allclose(r["joint"], expected / 100)
    np.testing.assert_allclose(r["noise_matrix"].sum(axis=0), 1.0)
    # flagged labels score low, clean labels high
    assert r["label_quality"][flips].max() < r["label_quality"][~r["is_label_issue"]].min()


def test_single_annotator_flags_the_lowest_self_confidence_as_many_as_the_anchors_estimate():
    """The flags are a prefix of the ranking reviewers see (self-confidence), as many as the
    estimated number of wrong labels (quality.noise); cleanlab's own estimate is kept beside it."""
    import cleanlab.count

    from quality.noise import estimate_noise

    rng = np.random.default_rng(3)
    y, noisy, flips, pp = _flipped(n=300, n_flips=30, seed=3)
    pp = pp + rng.uniform(0, 0.4, pp.shape)  # a model that is unsure, and sometimes wrong
    pp /= pp.sum(axis=1, keepdims=True)
    r = single_annotator_issues(noisy, pp, class_names=NAMES)
    cj = cleanlab.count.compute_confident_joint(noisy, pp, calibrate=True)
    assert r["n_issues"] == round(estimate_noise(noisy, pp)["noise_rate"] * noisy.size)
    assert r["noise_rate_cleanlab"] == pytest.approx(1 - np.trace(cleanlab.count.estimate_joint(noisy, pp, confident_joint=cj)))
    flagged = np.flatnonzero(r["is_label_issue"])
    self_confidence = pp[np.arange(noisy.size), noisy]
    assert self_confidence[flagged].max() <= self_confidence[~r["is_label_issue"]].min()
    assert set(r["ranked_issues"].tolist()) == set(flagged.tolist())

def test_single_annotator_reasons():
    y, noisy, flips, pp = _flipped()
    r = single_annotator_issues(noisy, pp, class_names=NAMES)
    i = int(flips[0])
    assert r["reasons"][i] == (f"labelled '{NAMES[noisy[i]]}'; model says '{NAMES[y[i]]}' (0.85)")
    j = int(np.flatnonzero(~r["is_label_issue"])[0])
    assert r["reasons"][j] == f"labelled '{NAMES[noisy[j]]}'; model agrees (0.85)"
    assert r["class_names"] == NAMES


def test_pipeline_on_small_synthetic_flipped_dataset():
    """features -> cross-validated pred_probs -> cleanlab: the flagged items are the flips."""
    rng = np.random.default_rng(3)
    centers = np.array([[0.0, 0.0, 0.0, 0.0], [4, 0, 0, 0], [0, 4, 0, 0]])
    y = np.repeat(np.arange(3), 60)
    X = centers[y] + rng.normal(size=(y.size, 4)) * 0.7
    flips = np.sort(rng.choice(y.size, 18, replace=False))
    noisy = y.copy()
    noisy[flips] = (y[flips] + 1) % 3
    pp, _, _ = cross_val_pred_probs(X, noisy, n_classes=3, candidates=("logreg",))
    r = single_annotator_issues(noisy, pp, class_names=NAMES)
    flagged = r["is_label_issue"]
    truth = np.zeros(y.size, dtype=bool)
    truth[flips] = True
    f1 = 2 * np.sum(flagged & truth) / (flagged.sum() + truth.sum())
    assert f1 >= 0.9
    assert r["noise_rate"] == pytest.approx(0.10, abs=0.03)


def test_class_without_items_is_allowed():
    y, noisy, flips, pp = _flipped()
    pp4 = np.hstack([pp * 0.99, np.full((100, 1), 0.01)])
    r = single_annotator_issues(noisy, pp4, class_names=[*NAMES, "fish"])
    np.testing.assert_array_equal(np.flatnonzero(r["is_label_issue"]), flips)
    assert np.isnan(r["noise_rate_per_class"][3])


def test_min_class_count_can_allow_a_single_example():
    y, noisy, _, pp = _flipped()
    labels = noisy.copy()
    labels[0] = 3
    pp4 = np.hstack([pp * 0.99, np.full((100, 1), 0.01)])
    with pytest.raises(QCInputError, match=r"class 'fish' \(1\) has fewer than 2 labelled items"):
        single_annotator_issues(labels, pp4, class_names=[*NAMES, "fish"])
    r = single_annotator_issues(labels, pp4, class_names=[*NAMES, "fish"], min_class_count=1)
    assert r["is_label_issue"].shape == (100,)


@pytest.mark.parametrize(
    ("labels", "pp", "names", "message"),
    [
        ([0, 0], [[1.0], [1.0]], ["cat"], "class_names: need at least 2 classes, got 1"),
        ([0, 1], [[1.0, 0.0], [0.0, 1.0]], ["cat", "cat"], "duplicate class name 'cat'"),
        ([], np.zeros((0, 3)), NAMES, "labels: no labelled items"),
        ([1], [[0.1, 0.8, 0.1]], NAMES, "a single labelled item"),
        ([2, 2, 2, 2], [[0.1, 0.1, 0.8]] * 4, NAMES, "every label is 'bird'"),
        (
            [0, 0, 1, 1, 2],
            [[0.8, 0.1, 0.1]] * 5,
            NAMES,
            r"class 'bird' \(1\) has fewer than 2 labelled items",
        ),
        ([0, 1, 3], [[0.8, 0.1, 0.1]] * 3, NAMES, "row 2 has class index 3, outside 0..2"),
        ([0, 1, -1], [[0.8, 0.1, 0.1]] * 3, NAMES, "unlabelled items must be left out"),
        ([0.0, 1.5, 1.0], [[0.8, 0.1, 0.1]] * 3, NAMES, "row 1 is not a class index"),
        ([0, 1, 0, 1], [[0.8, 0.1, 0.1]] * 3, NAMES, r"expected shape \(4, 3\)"),
        (
            [0, 1, 0, 1],
            [[0.5, 0.5]] * 4,
            NAMES,
            r"expected shape \(4, 3\) \(n_items, n_classes\), got \(4, 2\)",
        ),
        (
            [0, 1, 0, 1],
            [[0.8, 0.1, 0.1], [np.nan, 0.5, 0.5], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]],
            NAMES,
            "pred_probs: row 1 holds NaN",
        ),
        (
            [0, 1, 0, 1],
            [[0.8, 0.1, 0.1], [0.3, 0.3, 0.3], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]],
            NAMES,
            "pred_probs: row 1 sums to 0.9",
        ),
        ([[0, 1], [1, 0]], [[0.5, 0.5]] * 2, ["a", "b"], "expected a 1-D array"),
    ],
)
def test_single_annotator_edge_cases_raise(labels, pp, names, message):
    with pytest.raises(QCInputError, match=message):
        single_annotator_issues(labels, pp, class_names=names)


def test_nan_and_constant_features_raise_before_scoring():
    with pytest.raises(QCInputError, match="features: row 0 holds NaN"):
        cross_val_pred_probs([[np.nan, 1.0], [1.0, 2.0], [2.0, 2.0]], [0, 1, 1], n_classes=2)
    with pytest.raises(QCInputError, match="features: every column is constant"):
        cross_val_pred_probs(np.ones((6, 3)), [0, 1] * 3, n_classes=2)


# --------------------------------------------------------------------------- several annotators
def _crowd(n: int = 300, seed: int = 0):
    """Truth, a labels matrix from 4 annotators (accuracy .95/.8/.6/.45, 3 per item), pred_probs."""
    rng = np.random.default_rng(seed)
    acc = np.array([0.95, 0.8, 0.6, 0.45])
    y = rng.integers(0, 3, n)
    L = np.full((n, 4), np.nan)
    for i in range(n):
        for a in rng.choice(4, 3, replace=False):
            L[i, a] = y[i] if rng.random() < acc[a] else (y[i] + rng.integers(1, 3)) % 3
    pp = rng.dirichlet(np.ones(3), size=n) * 0.3
    pp[np.arange(n), y] += 0.7
    wrong = rng.random(n) < 0.1  # the model is wrong on some items too
    pp[wrong] = np.roll(pp[wrong], 1, axis=1)
    return y, L, pp, acc


def test_multiannotator_consensus_beats_majority_and_ranks_annotators():
    y, L, pp, acc = _crowd()
    r = multiannotator(L, pp, class_names=NAMES, annotator_ids=["ann", "bob", "cy", "dee"])
    mv, _ = majority_vote(L, n_classes=3)
    crowd_acc = np.mean(r["consensus_label"] == y)
    assert crowd_acc >= 0.93
    assert crowd_acc > np.mean(mv == y)
    assert r["annotator_ids"] == ["ann", "bob", "cy", "dee"]
    np.testing.assert_array_equal(np.argsort(-r["annotator_quality"]), np.argsort(-acc))
    assert r["num_annotations"].tolist() == [3] * 300
    assert r["annotator_num_labels"].sum() == 900
    assert r["detailed_quality"].shape == (300, 4)
    assert np.isnan(r["detailed_quality"]).sum() == 300
    assert set(r["annotator_worst_class"]) <= set(NAMES)
    assert ((r["consensus_quality"] >= 0) & (r["consensus_quality"] <= 1)).all()


def test_multiannotator_reasons():
    y, L, pp, _ = _crowd()
    # item 0: all three annotators say 'cat', the model says 'dog' with 0.91 (and, being far
    # more accurate than these annotators, it wins the consensus)
    L[0] = [0, 0, 0, np.nan]
    pp[0] = [0.05, 0.91, 0.04]
    # item 1: two annotators say 'bird', one says 'cat', and so does the model
    L[1] = [0, 2, 2, np.nan]
    pp[1] = [0.8, 0.1, 0.1]
    r = multiannotator(L, pp, class_names=NAMES)
    assert r["reasons"][0] == (
        "labelled 'cat' by 3 of 3; model says 'dog' (0.91)"
        + ("" if r["consensus_label"][0] == 0 else "; consensus 'dog'")
    )
    assert r["reasons"][1] == "labelled 'bird' by 2 of 3; model says 'cat' (0.80)" + (
        "; consensus 'cat'" if r["consensus_label"][1] == 0 else ""
    )
    agree = int(np.flatnonzero((r["model_label"] == r["consensus_label"]) & (r["votes"] == 2))[0])
    assert r["reasons"][agree] == (
        f"labelled '{NAMES[r['consensus_label'][agree]]}' by 2 of 3; "
        f"model agrees ({r['model_confidence'][agree]:.2f})"
    )


def test_multiannotator_accepts_a_dataframe():
    import pandas as pd

    y, L, pp, _ = _crowd(60, seed=1)
    df = pd.DataFrame(L, columns=["a", "b", "c", "d"])
    r = multiannotator(df, pp, class_names=NAMES)
    assert r["annotator_ids"] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda L: np.nanmax(L, axis=1, keepdims=True),
            "every item has a single label; use single_annotator_issues",
        ),
        (lambda L: np.vstack([L[:2], np.full((1, 4), np.nan), L[3:]]), "item 2 has no label"),
        (
            lambda L: np.hstack([L, np.full((L.shape[0], 1), np.nan)]),
            "annotator 4 labelled no item",
        ),
        (lambda L: np.where(np.isnan(L), np.nan, 1.0), "every label is 'dog'"),
        (lambda L: L[:1], "a single item"),
        (
            lambda L: np.where(np.isnan(L), np.nan, 7.0),
            "item 0, annotator 0: 7 is not a class index in 0..2",
        ),
        (lambda L: np.full_like(L, np.nan), "no labelled items"),
        (lambda L: L[0], r"expected shape \(n_items, n_annotators\)"),
    ],
)
def test_multiannotator_edge_cases_raise(mutate, message):
    _, L, pp, _ = _crowd(30)
    L2 = mutate(L.copy())
    n = L2.shape[0] if L2.ndim == 2 else 1
    with pytest.raises(QCInputError, match=message):
        multiannotator(L2, pp[:n] if n <= 30 else np.vstack([pp, pp])[:n], class_names=NAMES)


def test_multiannotator_bad_ids_and_pred_probs():
    _, L, pp, _ = _crowd(30)
    with pytest.raises(QCInputError, match="annotator_ids: 2 ids for 4 annotator columns"):
        multiannotator(L, pp, class_names=NAMES, annotator_ids=["a", "b"])
    with pytest.raises(QCInputError, match=r"pred_probs: expected shape \(30, 3\)"):
        multiannotator(L, pp[:20], class_names=NAMES)


# --------------------------------------------------------------------------- active learning
def test_active_learning_scores_prefer_contested_uncertain_items():
    rng = np.random.default_rng(2)
    n = 60
    y = np.arange(n) % 3
    L = np.column_stack([y, y, y]).astype(float)
    pp = np.full((n, 3), 0.05)
    pp[np.arange(n), y] = 0.9
    L[:5, 1] = (y[:5] + 1) % 3  # contested items ...
    L[:5, 2] = np.nan
    pp[:5] = 1 / 3  # ... on which the model is unsure
    ppu = np.vstack([np.full((2, 3), 1 / 3), [[0.98, 0.01, 0.01]]])
    scores, scores_u = active_learning_scores(L, pp, class_names=NAMES, pred_probs_unlabeled=ppu)
    assert scores.shape == (n,) and scores_u.shape == (3,)
    assert scores[:5].max() < scores[5:].min()
    assert scores_u[:2].max() < scores_u[2]
    # one label per item works too
    s1, none = active_learning_scores(L[:, :1], pp, class_names=NAMES)
    assert s1.shape == (n,) and none is None
    assert rng is not None


def test_active_learning_scores_errors():
    L = np.array([[0.0], [1.0], [0.0]])
    pp = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.8, 0.2, 0.0]])
    with pytest.raises(QCInputError, match=r"pred_probs: expected shape \(2, 3\)"):
        active_learning_scores(L, pp, class_names=NAMES, pred_probs_unlabeled=np.ones((2, 2)) / 2)
    with pytest.raises(QCInputError, match="item 1 has no label"):
        active_learning_scores(np.array([[0.0], [np.nan], [1.0]]), pp, class_names=NAMES)


# --------------------------------------------------------------------------- multi-label
def _multilabel(seed: int = 0):
    rng = np.random.default_rng(seed)
    n, k = 200, 4
    Y = rng.random((n, k)) < 0.35
    pp = np.clip(Y * 0.85 + 0.07 + rng.normal(0, 0.03, (n, k)), 0, 1)
    labels = [np.flatnonzero(row).tolist() for row in Y]
    bad = [3, 50, 77, 120, 199]
    for i in bad:
        labels[i] = np.flatnonzero(~Y[i]).tolist()  # every class wrong
    return labels, pp, bad


def test_multilabel_flags_the_wrong_label_sets():
    labels, pp, bad = _multilabel()
    r = multilabel_issues(labels, pp, class_names=["a", "b", "c", "d"])
    assert np.flatnonzero(r["is_label_issue"]).tolist() == bad
    assert r["per_class_quality"].shape == (200, 4)
    assert r["label_quality"][bad].max() < np.delete(r["label_quality"], bad).min()
    i = bad[0]
    assert r["reasons"][i].startswith("labelled {")
    assert "model adds" in r["reasons"][i] or "drops" in r["reasons"][i]
    ok = next(j for j in range(200) if j not in bad and r["suggested_labels"][j] == labels[j])
    assert r["reasons"][ok].endswith("; model agrees")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 1, 0]), "got a flat array; use single_annotator_issues"),
        ([[0], [1], [0, 0]], r"item 2 lists a class twice: \[0, 0\]"),
        ([[0], [1], [4]], "item 2 has 4, not a class index in 0..3"),
        ([[0], [1], "ab"], "item 2 is not a list of class indices"),
        ([[0]], "a single labelled item"),
        ([[0, 1], [1], [0, 2]], "class 'd' is given to no item"),
    ],
)
def test_multilabel_edge_cases_raise(labels, message):
    n = len(labels)
    with pytest.raises(QCInputError, match=message):
        multilabel_issues(labels, np.full((n, 4), 0.5), class_names=["a", "b", "c", "d"])


def test_multilabel_bad_pred_probs():
    with pytest.raises(QCInputError, match=r"row 1 holds NaN or a value outside \[0, 1\]"):
        multilabel_issues(
            [[0], [1], []], [[0.9, 0.1], [1.2, 0.0], [0.1, 0.1]], class_names=["a", "b"]
        )


# --------------------------------------------------------------------------- outliers, duplicates
def _points():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[1] = X[0] + 1e-4
    X[2] = X[0]
    X[299] += 12.0
    return X


def test_outliers_and_near_duplicates_from_one_knn_graph():
    X = _points()
    knn = knn_graph(X, k=10)
    assert knn[0].shape == (300, 10) and knn[1].shape == (300, 10)
    assert (np.diff(knn[0], axis=1) >= -1e-12).all()
    out = outlier_issues(knn=knn)
    assert out["method"] == "features"
    assert out["ranked_issues"][0] == 299
    assert out["is_outlier"][299] and out["n_issues"] <= 10
    assert out["reasons"][299].endswith("x the typical distance to its 10 nearest items")
    dup = near_duplicate_issues(knn=knn)
    assert np.flatnonzero(dup["is_near_duplicate"]).tolist() == [0, 1, 2]
    assert dup["groups"] == [[0, 1, 2]]
    assert dup["near_duplicate_sets"][2].tolist() == [0, 1]
    assert dup["reasons"][0] == "near duplicate of item(s) 1, 2"
    assert dup["near_duplicate_score"][2] < dup["near_duplicate_score"][100]
    # the same answers straight from features
    assert outlier_issues(features=X)["ranked_issues"].tolist() == out["ranked_issues"].tolist()
    assert near_duplicate_issues(features=X)["groups"] == [[0, 1, 2]]


def test_outliers_from_pred_probs():
    y = np.arange(200) % 3
    pp = np.full((200, 3), 0.025)
    pp[np.arange(200), y] = 0.95
    pp[:3] = 1 / 3
    out = outlier_issues(pred_probs=pp, labels=y)
    assert out["method"] == "pred_probs"
    assert np.flatnonzero(out["is_outlier"]).tolist() == [0, 1, 2]
    assert np.flatnonzero(outlier_issues(pred_probs=pp)["is_outlier"]).tolist() == [0, 1, 2]


def test_outlier_and_duplicate_errors():
    with pytest.raises(QCInputError, match="pass features, knn or pred_probs"):
        outlier_issues()
    with pytest.raises(QCInputError, match="pass features or knn"):
        near_duplicate_issues()
    with pytest.raises(QCInputError, match="need at least 3 items"):
        knn_graph(np.zeros((2, 3)))
    with pytest.raises(QCInputError, match="features: row 1 holds NaN"):
        knn_graph([[0.0, 1.0], [np.nan, 1.0], [1.0, 1.0]])
    with pytest.raises(QCInputError, match="metric must be"):
        knn_graph(np.eye(4), metric="manhattan")
