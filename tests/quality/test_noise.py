"""The noise estimate from anchor items (quality.noise) against known flips."""

from __future__ import annotations

import numpy as np
import pytest

from quality.noise import anchor_noise_matrix, estimate_noise


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
    out = estimate_noise(given, pp)
    expected = np.zeros((3, 3))
    np.add.at(expected, (given, truth), 1)
    np.testing.assert_allclose(out["noise_matrix"], expected / expected.sum(axis=0))
    assert out["noise_rate"] == pytest.approx(0.10)
    np.testing.assert_allclose(out["noise_rate_per_class"], 1 - np.diag(expected) / expected.sum(axis=1))
    assert out["anchors"].tolist() == [100, 100, 100]


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
