"""The noise estimate from anchor items (quality.noise) against known flips."""

from __future__ import annotations

import numpy as np
import pytest

from quality.noise import anchor_noise_matrix, complement_noise_matrix, estimate_noise


def overlapping_classes(n: int = 3000, k: int = 3, rate: float = 0.1, spread: float = 1.0, seed: int = 0):
    """True classes as overlapping Gaussians about the corners of a polygon (each class has a far
    side where it is alone: its anchors), `rate` of labels flipped uniformly to another class,
    and the probabilities a calibrated model of the *given* labels would have:
    ``P(given | x) = T @ P(true | x)`` (a model whose mistakes come from the overlap)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(k, size=n)
    angle = 2 * np.pi * np.arange(k) / k
    centres = 1.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centres[truth] + rng.normal(scale=spread, size=(n, 2))
    logits = -((x[:, None, :] - centres[None]) ** 2).sum(axis=2) / (2 * spread**2)
    p_true = np.exp(logits - logits.max(axis=1, keepdims=True))
    p_true /= p_true.sum(axis=1, keepdims=True)
    T = np.full((k, k), rate / (k - 1))
    np.fill_diagonal(T, 1 - rate)
    given = truth.copy()
    flip = rng.random(n) < rate
    given[flip] = (truth[flip] + rng.integers(1, k, size=int(flip.sum()))) % k
    return truth, given, p_true @ T.T


def test_a_perfect_model_gives_the_exact_noise_matrix_and_rate():
    rng = np.random.default_rng(1)
    truth = np.arange(300) % 3
    given = truth.copy()
    flips = rng.choice(300, 30, replace=False)
    given[flips] = (truth[flips] + 1) % 3
    pp = np.full((300, 3), 0.05)
    pp[np.arange(300), truth] = 0.9
    expected = np.zeros((3, 3))
    np.add.at(expected, (given, truth), 1)
    T, anchors = anchor_noise_matrix(given, pp)
    np.testing.assert_allclose(T, expected / expected.sum(axis=0))
    assert anchors.tolist() == [100, 100, 100]
    # read by rows, on the items surely not of each class: each cell is shrunk toward its row's
    # mean share by MIN_ANCHORS items' worth (here every wrong label of a class comes from one
    # other class, the row's mean is half of it), so near, not equal
    T, anchors = complement_noise_matrix(given, pp)
    np.testing.assert_allclose(T, expected / expected.sum(axis=0), atol=0.006)
    assert anchors.tolist() == [200, 200, 200]
    # the two readings agree: the columns' is kept, exact
    out = estimate_noise(given, pp)
    assert out["noise_read_by"] == "columns"
    np.testing.assert_allclose(out["noise_matrix"], expected / expected.sum(axis=0))
    assert out["noise_rate"] == pytest.approx(0.10)
    np.testing.assert_allclose(out["noise_rate_per_class"], 1 - np.diag(expected) / expected.sum(axis=1))
    assert out["anchors"].tolist() == [100, 100, 100] and out["anchors_not"].tolist() == [200, 200, 200]


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2])
def test_a_weak_model_of_many_classes_is_read_by_rows_where_no_class_has_pure_anchors(rate):
    """Six overlapping classes: no class has a region where it is alone, so the items the model
    ranks highest for a class hold many of its neighbours and the columns' estimate is 15-20
    points high; every class has a far side where the model is sure it is *not* that class, so
    the rows' estimate (the share given a class there) is near the truth. The two differ by far
    more than their sampling error: the lower, the rows', is kept."""
    truth, given, pp = overlapping_classes(k=6, rate=rate, seed=0)
    true_rate = float(np.mean(truth != given))
    assert float(np.mean(pp.argmax(axis=1) == truth)) < 0.6
    out = estimate_noise(given, pp)
    assert out["noise_read_by"] == "rows"
    assert out["noise_rate_by"]["columns"] - true_rate > 0.1
    assert -0.01 <= out["noise_rate"] - true_rate <= 0.035
    np.testing.assert_allclose(out["noise_matrix"].sum(axis=0), 1.0)
    assert (out["noise_matrix"] >= 0).all()


def test_a_model_with_pure_anchors_keeps_the_columns_where_the_rows_are_lower_within_their_error():
    """Three overlapping classes, the model right on 0.83: each class has a region where it is
    alone, so the columns' anchors are pure. The rows' reading is lower on most of eight data
    sets, by less than the two readings' sampling error: the columns' is kept (the lower of the
    two, the rule before, took the rows' whenever lower, and a strong model's came out 2-3
    points low now and then)."""
    lower = 0
    for seed in range(8):
        truth, given, pp = overlapping_classes(rate=0.1, seed=seed)
        out = estimate_noise(given, pp)
        by = out["noise_rate_by"]
        assert out["noise_read_by"] == "columns" and out["noise_rate"] == by["columns"]
        assert by["columns"] - by["rows"] <= 1.645 * np.hypot(*out["noise_rate_se"].values())
        lower += by["rows"] < by["columns"]
        assert abs(out["noise_rate"] - float(np.mean(truth != given))) <= 0.02
    assert lower >= 4


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2])
def test_a_weak_model_does_not_count_its_own_mistakes_as_wrong_labels(rate):
    import cleanlab.count

    truth, given, pp = overlapping_classes(rate=rate)
    true_rate = float(np.mean(truth != given))
    accuracy = float(np.mean(pp.argmax(axis=1) == truth))
    assert accuracy < 0.9  # the classes overlap: the model is often wrong
    est = estimate_noise(given, pp)["noise_rate"]
    cleanlab_est = 1 - np.trace(cleanlab.count.estimate_joint(given, pp))
    # anchors read on the half they were not chosen on carry some items of other classes, so a
    # weak model's estimate errs high (the module docstring), but by far less than cleanlab's
    assert -0.01 <= est - true_rate <= 0.035
    assert abs(est - true_rate) < abs(cleanlab_est - true_rate) / 2


def test_the_noise_matrix_has_columns_of_shares_and_the_shares_sum_to_one():
    truth, given, pp = overlapping_classes(rate=0.2, seed=4)
    T, anchors = anchor_noise_matrix(given, pp)
    np.testing.assert_allclose(T.sum(axis=0), 1.0)
    assert (T >= 0).all() and (anchors >= 10).all()
    out = estimate_noise(given, pp)
    assert out["class_shares"].sum() == pytest.approx(1.0) and (out["class_shares"] >= 0).all()
    # the anchors' share of each given class that is wrong is near the truth (high by a few
    # points at most: the model is weak, see the module docstring)
    wrong = np.array([np.mean(truth[given == c] != c) for c in range(3)])
    assert (out["noise_rate_per_class"] - wrong >= -0.02).all()
    np.testing.assert_allclose(out["noise_rate_per_class"], wrong, atol=0.06)


def test_a_class_no_item_is_given_has_no_per_class_rate():
    truth, given, pp = overlapping_classes(rate=0.1, seed=2)
    pp4 = np.hstack([pp * 0.99, np.full((pp.shape[0], 1), 0.01)])
    out = estimate_noise(given, pp4)
    assert np.isnan(out["noise_rate_per_class"][3]) and np.isfinite(out["noise_rate"])


def test_the_depth_chosen_on_one_half_and_read_on_the_other_is_not_optimistic():
    """Choosing the depth where the share of other labels is lowest and reading it on the same
    items gives a low share; cross-fitting does not (a strong model, where impure anchors are rare)."""
    truth, given, pp = overlapping_classes(n=6000, rate=0.2, spread=0.6, seed=5)
    true_rate = float(np.mean(truth != given))
    crossfit = estimate_noise(given, pp)["noise_rate"]
    same_items = estimate_noise(given, pp, halvings=0)["noise_rate"]
    assert abs(crossfit - true_rate) <= 0.02
    assert crossfit > same_items


def test_the_halvings_are_seeded_so_a_run_repeats():
    truth, given, pp = overlapping_classes(rate=0.1, seed=6)
    first, again = estimate_noise(given, pp), estimate_noise(given, pp)
    assert first["noise_rate"] == again["noise_rate"]
    np.testing.assert_array_equal(first["noise_matrix"], again["noise_matrix"])


def test_best_bin_keeps_a_pure_top_that_an_impure_deeper_cut_only_outnumbers():
    """A class's 30 top-ranked items all carry its label, the 300 below carry another in about one
    case of ten (items of another class): Wilson's bound, small where the share is 0, keeps the
    pure top; a bound sized for a share of 1/2 (Hoeffding's) charged the top for its size and
    went down into the other class."""
    from quality.noise import best_bin

    rng = np.random.default_rng(0)
    given = np.concatenate([np.zeros(30, dtype=np.int64), (rng.random(300) < 0.12).astype(np.int64)])
    cuts = np.arange(10, given.size + 1)
    assert 30 <= best_bin(given, 0, cuts) <= 35
    depth = cuts.astype(np.float64)
    hoeffding = np.cumsum(given != 0)[cuts - 1] / depth + np.sqrt(np.log(1 / 0.05) / (2 * depth))
    assert cuts[np.argmin(hoeffding)] > 200
    # counted on both halves (cross-fitting), the bound is tighter, and the top still kept
    assert 30 <= best_bin(given, 0, cuts, count_scale=2.0) <= 35
