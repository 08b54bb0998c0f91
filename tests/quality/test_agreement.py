"""quality.agreement: alpha against the krippendorff package and by hand, kappa, votes, D-S."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from quality import QCInputError
from quality.agreement import (
    dawid_skene,
    independent_annotations,
    krippendorff_alpha,
    krippendorff_alpha_per_class,
    label_counts,
    majority_vote,
    pairwise_cohen_kappa,
    unanimous_share,
)

nan = np.nan


def _random_matrix(seed: int, n: int = 80, m: int = 5, k: int = 4, missing: float = 0.4):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    L = np.where(rng.random((n, m)) < 0.7, truth[:, None], rng.integers(0, k, (n, m)))
    L = L.astype(float)
    L[rng.random((n, m)) < missing] = nan
    return L


def test_alpha_hand_computed():
    # units (0,0) (1,1) (0,1) (1,1): coincidences o = [[2, 1], [1, 4]], n0 = 3, n1 = 5, n = 8
    # alpha = 1 - (n - 1) * (o01 + o10) / (n^2 - n0^2 - n1^2) = 1 - 7 * 2 / 30 = 8 / 15
    L = np.array([[0, 0], [1, 1], [0, 1], [1, 1]], dtype=float)
    assert krippendorff_alpha(L) == pytest.approx(8 / 15)
    # items with a single label do not count; unused classes do not change alpha
    L2 = np.vstack([L, [[1, nan], [nan, 0]]])
    assert krippendorff_alpha(L2, n_classes=5) == pytest.approx(8 / 15)


def test_alpha_perfect_and_chance():
    assert krippendorff_alpha([[0, 0], [1, 1], [2, 2]]) == pytest.approx(1.0)
    # systematic disagreement is negative
    assert krippendorff_alpha([[0, 1], [1, 0], [0, 1], [1, 0]]) < 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_alpha_matches_krippendorff_package(seed):
    L = _random_matrix(seed)
    expected = krippendorff.alpha(reliability_data=L.T, level_of_measurement="nominal")
    assert krippendorff_alpha(L) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 5])
def test_alpha_per_class_matches_package_on_binary_recoding(seed):
    L = _random_matrix(seed, k=3)
    per = krippendorff_alpha_per_class(L, n_classes=4)
    for c in range(3):
        binary = np.where(np.isnan(L), nan, (L == c).astype(float))
        expected = krippendorff.alpha(reliability_data=binary.T, level_of_measurement="nominal")
        assert per[c] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(per[3])  # never used: undefined


def test_alpha_undefined_cases_raise():
    with pytest.raises(QCInputError, match="every label on multiply-labelled items is the same"):
        krippendorff_alpha([[1, 1], [1, 1], [0, nan]])
    with pytest.raises(QCInputError, match="no item has labels from 2 annotators"):
        krippendorff_alpha([[1, nan], [nan, 0]])
    with pytest.raises(QCInputError, match="no item has labels from 2 annotators"):
        krippendorff_alpha_per_class([[1, nan], [nan, 0]])
    with pytest.raises(QCInputError, match="labels_matrix: no labels"):
        krippendorff_alpha([[nan, nan]])
    with pytest.raises(QCInputError, match="item 0, annotator 1: 0.5 is not a class index"):
        krippendorff_alpha([[0, 0.5]])
    with pytest.raises(QCInputError, match="class index 3 is outside 0..2"):
        krippendorff_alpha([[0, 3]], n_classes=3)
    with pytest.raises(QCInputError, match=r"expected shape \(n_items, n_annotators\)"):
        krippendorff_alpha([0, 1, 1])


def test_label_counts():
    counts = label_counts([[0, 0, nan], [2, 1, 2]], n_classes=3)
    np.testing.assert_array_equal(counts, [[2, 0, 0], [0, 1, 2]])


def test_pairwise_kappa_matches_sklearn_on_shared_items():
    L = _random_matrix(7, n=60, m=4)
    kappa, shared = pairwise_cohen_kappa(L, n_classes=4)
    assert kappa.shape == (4, 4) and shared.shape == (4, 4)
    np.testing.assert_allclose(np.diag(kappa), 1.0)
    np.testing.assert_allclose(kappa, kappa.T, equal_nan=True)
    for a in range(4):
        for b in range(a + 1, 4):
            both = ~np.isnan(L[:, a]) & ~np.isnan(L[:, b])
            assert shared[a, b] == both.sum()
            expected = cohen_kappa_score(L[both, a], L[both, b])
            assert kappa[a, b] == pytest.approx(expected)


def test_pairwise_kappa_nan_without_enough_shared_items():
    L = np.array([[0, nan, 1], [1, nan, 1], [nan, 0, 0], [nan, 1, 1]], dtype=float)
    kappa, shared = pairwise_cohen_kappa(L, min_shared=2)
    assert shared[0, 1] == 0 and np.isnan(kappa[0, 1])
    assert shared[0, 2] == 2 and not np.isnan(kappa[0, 2])
    kappa3, _ = pairwise_cohen_kappa(L, min_shared=3)
    assert np.isnan(kappa3[0, 2])


def test_unanimous_share():
    L = [[0, 0, 0], [0, 1, nan], [2, 2, nan], [1, nan, nan]]
    assert unanimous_share(L) == pytest.approx(2 / 3)
    with pytest.raises(QCInputError, match="no item has labels from 2 annotators"):
        unanimous_share([[1, nan], [nan, 0]])


def test_majority_vote_and_ties():
    L = [[0, 0, 1], [2, nan, nan], [0, 1, nan], [1, 0, nan]]
    pp = [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.9, 0.0], [0.3, 0.2, 0.5]]
    labels, agreement = majority_vote(L, n_classes=3, pred_probs=pp)
    np.testing.assert_array_equal(labels, [0, 2, 1, 0])
    np.testing.assert_allclose(agreement, [2 / 3, 1.0, 0.5, 0.5])
    # random tie-breaking is seeded and does not always pick the lowest class
    ties = np.tile([[0.0, 1.0]], (200, 1))
    first, _ = majority_vote(ties, seed=1)
    again, _ = majority_vote(ties, seed=1)
    np.testing.assert_array_equal(first, again)
    assert 0.3 < first.mean() < 0.7
    with pytest.raises(QCInputError, match="item 1 has no label"):
        majority_vote([[0, 1], [nan, nan]])
    with pytest.raises(QCInputError, match="pred_probs: expected finite values of shape"):
        majority_vote([[0, 1]], n_classes=2, pred_probs=[[0.5, 0.5, 0.0]])


def _crowd(seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    acc = np.array([0.95, 0.85, 0.7, 0.55, 0.4])
    y = rng.integers(0, 4, n)
    L = np.full((n, 5), nan)
    for i in range(n):
        for a in rng.choice(5, 3, replace=False):
            L[i, a] = y[i] if rng.random() < acc[a] else (y[i] + rng.integers(1, 4)) % 4
    return y, L, acc


def test_dawid_skene_beats_majority_and_recovers_annotator_accuracy():
    y, L, acc = _crowd()
    ds = dawid_skene(L, n_classes=4)
    mv, _ = majority_vote(L, n_classes=4)
    assert np.mean(ds["labels"] == y) > np.mean(mv == y)
    assert ds["converged"] and ds["n_iter"] < 100
    np.testing.assert_allclose(ds["posteriors"].sum(axis=1), 1.0)
    np.testing.assert_allclose(ds["confusion"].sum(axis=2), 1.0)
    assert ds["priors"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(ds["annotator_accuracy"], acc, atol=0.06)
    np.testing.assert_array_equal(np.argsort(-ds["annotator_accuracy"]), np.argsort(-acc))


def test_dawid_skene_errors():
    with pytest.raises(QCInputError, match="item 1 has no label"):
        dawid_skene([[0, 1], [nan, nan]])
    with pytest.raises(QCInputError, match="max_iter must be a positive integer"):
        dawid_skene([[0, 1]], max_iter=0)
    with pytest.raises(QCInputError, match="smoothing must be non-negative"):
        dawid_skene([[0, 1]], smoothing=-1.0)


@pytest.mark.parametrize("seed", [0, 4])
def test_ordinal_alpha_for_ratings_matches_the_package(seed):
    L = _random_matrix(seed, k=5)
    expected = krippendorff.alpha(reliability_data=L.T, value_domain=range(5), level_of_measurement="ordinal")
    assert krippendorff_alpha(L, n_classes=5, level_of_measurement="ordinal") == pytest.approx(expected, abs=1e-12)
    # ratings 0..4: a near miss (3 vs 4) costs ordinal alpha less than a far one (0 vs 4)
    near = [[3, 4], [4, 4], [0, 0], [2, 2], [1, 1]]
    far = [[0, 4], [4, 4], [0, 0], [2, 2], [1, 1]]
    assert krippendorff_alpha(near, level_of_measurement="ordinal") > krippendorff_alpha(
        far, level_of_measurement="ordinal")
    with pytest.raises(QCInputError, match="level_of_measurement must be one of"):
        krippendorff_alpha(near, level_of_measurement="cardinal")


@pytest.mark.parametrize("seed", [1, 2])
def test_pairwise_kappa_of_many_annotators_matches_sklearn(seed):
    """Every pair at once (sparse products) gives sklearn's kappa of each pair, NaN where it is
    undefined (two annotators who gave one and the same class to every shared item)."""
    L = _random_matrix(seed, n=150, m=9, k=5, missing=0.6)
    L[:, 8] = np.where(np.isnan(L[:, 8]), nan, 2.0)
    L[:, 7] = np.where(np.isnan(L[:, 7]) | np.isnan(L[:, 8]), L[:, 7], 2.0)
    kappa, shared = pairwise_cohen_kappa(L, n_classes=5, min_shared=3)
    for a in range(9):
        for b in range(9):
            both = ~np.isnan(L[:, a]) & ~np.isnan(L[:, b])
            assert shared[a, b] == both.sum()
            if a == b:
                assert kappa[a, a] == 1.0
                continue
            if both.sum() < 3:
                assert np.isnan(kappa[a, b])
                continue
            with warnings.catch_warnings():  # sklearn warns where kappa is undefined (NaN)
                warnings.simplefilter("ignore")
                expected = cohen_kappa_score(L[both, a], L[both, b], labels=range(5))
            if np.isnan(expected):
                assert np.isnan(kappa[a, b]), (a, b)
            else:
                assert kappa[a, b] == pytest.approx(expected, abs=1e-12), (a, b)


def test_independent_annotations_leave_out_pre_labels_only_where_a_person_labelled_independently():
    items = [1, 1, 1, 2, 2, 3]
    from_prelabel = [True, False, False, True, True, False]
    keep = independent_annotations(items, from_prelabel)
    assert keep.tolist() == [False, True, True, True, True, True]  # item 2 has nothing else: kept
    assert independent_annotations([4, 5], [False, False]).tolist() == [True, True]
    assert independent_annotations([], []).tolist() == []
    with pytest.raises(QCInputError):
        independent_annotations([1, 2], [True])
