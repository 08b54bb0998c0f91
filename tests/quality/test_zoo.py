"""The featurizer and model zoo: feature sets of images and texts, and selection by
cross-validated log loss (quality/zoo.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from quality import QCInputError
from quality.zoo import image_feature_sets, select_pred_probs, text_feature_sets


def _toy(seed: int = 0):
    """Two feature sets of 240 items: 'signal' separates the 3 classes, 'noise' is random."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 80)
    centres = np.eye(3) * 4.0
    signal = centres[y] + rng.normal(size=(y.size, 3))
    noise = rng.normal(size=(y.size, 3))
    return {"noise": noise, "signal": signal}, y


def test_selection_picks_the_better_featurizer_deterministically():
    sets, y = _toy()
    candidates = [("noise", "logreg(C=1)"), ("signal", "logreg(C=1)"), ("noise", "svm_rbf(C=1)")]
    pp, name, acc, details = select_pred_probs(sets, y, n_classes=3, candidates=candidates, ensemble=False)
    assert name == "signal + logreg(C=1)"
    assert details["chosen"] == ["signal + logreg(C=1)"] and details["features"] == ["signal"]
    losses = details["log_loss_by_candidate"]
    assert losses["signal + logreg(C=1)"] < min(losses["noise + logreg(C=1)"], losses["noise + svm_rbf(C=1)"])
    assert acc > 0.9 and pp.shape == (240, 3) and np.allclose(pp.sum(axis=1), 1.0)
    again = select_pred_probs(sets, y, n_classes=3, candidates=candidates, ensemble=False)
    assert again[1] == name and np.array_equal(again[0], pp)


def test_final_pred_probs_come_from_another_split_than_the_choice():
    sets, y = _toy(1)
    candidates = [("signal", "logreg(C=1)"), ("noise", "logreg(C=1)")]
    pp, _, acc, details = select_pred_probs(sets, y, n_classes=3, candidates=candidates, ensemble=False)
    assert details["selection_folds"] == 3 and details["n_folds"] == 5
    # the reported accuracy is that of the returned pred_probs, not the selection split's
    assert acc == pytest.approx(float(np.mean(pp.argmax(axis=1) == y)))


def test_ensemble_of_two_only_when_it_lowers_the_loss():
    sets, y = _toy(2)
    candidates = [("signal", "logreg(C=1)"), ("noise", "logreg(C=1)")]
    _, name, _, details = select_pred_probs(sets, y, n_classes=3, candidates=candidates, ensemble=True)
    assert details["chosen"] == ["signal + logreg(C=1)"], "averaging with noise must not be chosen"
    assert name == "signal + logreg(C=1)"


def test_selection_refuses_candidates_without_their_features():
    sets, y = _toy()
    with pytest.raises(QCInputError, match="no candidate has its feature set"):
        select_pred_probs(sets, y, n_classes=3, candidates=[("hog", "logreg")])


def _shape(kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (40, 40), tuple(int(v) for v in rng.integers(0, 80, 3)))
    d = ImageDraw.Draw(img)
    x, y = rng.integers(4, 10, 2)
    if kind == "square":
        d.rectangle([x, y, x + 24, y + 24], fill=(240, 240, 240))
    else:
        d.ellipse([x, y, x + 24, y + 24], fill=(240, 240, 240))
    return img


def test_image_feature_sets_shapes_and_names():
    imgs = [_shape("square" if i % 2 else "circle", i) for i in range(12)]
    sets = image_feature_sets(imgs, names=["hog", "hog_lbp_colour", "invariant", "pixels_pca"], pca_components=5)
    assert list(sets) == ["hog", "hog_lbp_colour", "invariant", "pixels_pca"]
    assert all(X.shape[0] == 12 and X.dtype == np.float32 and np.isfinite(X).all() for X in sets.values())
    assert sets["hog_lbp_colour"].shape[1] > sets["hog"].shape[1] and sets["pixels_pca"].shape[1] == 5
    with pytest.raises(QCInputError, match="unknown image feature sets"):
        image_feature_sets(imgs, names=["resnet"])


def test_text_feature_sets_differ_in_analyzer():
    texts = ["billing invoice charged", "login password reset", "parcel delivery late", "app crashes again"]
    sets = text_feature_sets(texts)
    assert list(sets) == ["words+chars", "words", "chars", "binary"]
    assert sets["chars"].shape[1] > sets["words"].shape[1]
    for X in sets.values():
        assert np.allclose(np.sqrt(X.multiply(X).sum(axis=1)).A1, 1.0)


def test_binary_ngrams_count_presence_and_are_bounded(monkeypatch):
    """``binary``: word 1-3-grams in at least two texts, each present or not, rows of unit norm;
    its width is capped, and texts that share no n-gram still get one."""
    import quality.zoo as zoo

    texts = ["great great great value", "great value", "not worth it", "not worth it at all", "odd"]
    X = text_feature_sets(texts, names=["binary"])["binary"].toarray()
    # in two texts or more: great, value, great value, not, worth, it, not worth, worth it, not worth it
    assert X.shape == (5, 9)
    assert np.allclose(X[0], X[1])  # "great" three times weighs what it weighs once
    assert np.allclose(X[2][X[2] > 0], 1 / np.sqrt(6)) and (X[2] > 0).sum() == 6  # present: equal weights
    assert not X[4].any()  # "odd" occurs once
    apart = text_feature_sets(["billing invoice", "login password"], names=["binary"])["binary"]
    assert apart.shape == (2, 6)  # no n-gram in two texts: each text's own n-grams
    monkeypatch.setattr(zoo, "BINARY_MAX_FEATURES", 3)
    assert text_feature_sets(texts, names=["binary"])["binary"].shape[1] == 3


def test_the_binary_ngrams_are_chosen_where_only_word_order_tells_the_classes_apart():
    """Both classes have the same words, word pairs and characters; only which three-word phrases
    they contain differs. TF-IDF sets see nothing, and the zoo picks a set with the binary
    1-3-grams by its cross-validated loss."""
    from quality.zoo import TEXT_CANDIDATES

    rng = np.random.default_rng(0)
    filler = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "kilo", "lima", "mike", "oscar"]
    phrases = [("red fox runs", "blue fox sleeps"), ("red fox sleeps", "blue fox runs")]
    y = np.repeat([0, 1], 90)
    texts = []
    for label in y:
        first, second = phrases[label][:: 1 if rng.random() < 0.5 else -1]
        words = [*rng.choice(filler, 3), first, *rng.choice(filler, 3), second]
        texts.append(" ".join([*words, *rng.choice(filler, 3)]))
    sets = text_feature_sets(texts)
    pp, model, acc, det = select_pred_probs(sets, y, n_classes=2, candidates=TEXT_CANDIDATES, seed=0)
    assert det["features"] == ["binary"], model
    assert acc > 0.95
    losses = det["log_loss_by_candidate"]
    assert losses["binary + logreg(C=3)"] < min(v for k, v in losses.items() if "binary" not in k)


def test_a_sharp_model_is_not_charged_without_bound_for_contradicting_wrong_labels():
    """On noisy labels, plain log loss prefers a model that hedges; the capped, calibrated loss
    prefers the one that is right about the true classes (and so contradicts the wrong labels)."""
    from quality.zoo import LOSS_FLOOR, _log_loss, _scaled, _temperature

    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 100)
    given = truth.copy()
    wrong = rng.choice(truth.size, 30, replace=False)
    given[wrong] = (truth[wrong] + 1) % 3
    sharp = np.full((truth.size, 3), 0.0005)
    sharp[np.arange(truth.size), truth] = 0.999
    hedging = np.full((truth.size, 3), 0.2)
    hedging[np.arange(truth.size), given] = 0.6  # agrees with every given label, wrong ones too

    def plain(pp):
        return float(-np.mean(np.log(pp[np.arange(given.size), given])))

    assert plain(sharp) > plain(hedging)
    assert _log_loss(_scaled(sharp, _temperature(sharp, given)), given) < _log_loss(hedging, given)
    assert _log_loss(sharp, given) <= -np.log(LOSS_FLOOR)


def test_a_large_project_tries_few_candidates_and_only_models_that_run_on_all_its_items():
    from quality.pred_probs import MODELS
    from quality.zoo import (
        IMAGE_CANDIDATES,
        LARGE_PROJECT,
        MAX_CANDIDATES_LARGE,
        TEXT_CANDIDATES,
        candidates_for,
        feature_sets_of,
    )

    assert candidates_for(IMAGE_CANDIDATES, n_items=900) == IMAGE_CANDIDATES
    mid = candidates_for(IMAGE_CANDIDATES, n_items=MODELS["svm_rbf"] + 1)
    assert mid and all(not m.startswith("svm_rbf") for _, m in mid)
    large = candidates_for(IMAGE_CANDIDATES, n_items=LARGE_PROJECT + 1)
    assert 1 <= len(large) <= MAX_CANDIDATES_LARGE and all(not m.startswith("svm_rbf") for _, m in large)
    assert feature_sets_of(large)[0] == "labelfab" and "hog_lbp_colour" not in feature_sets_of(large)
    large_text = candidates_for(TEXT_CANDIDATES, n_items=10 * LARGE_PROJECT)
    assert len(large_text) == MAX_CANDIDATES_LARGE and feature_sets_of(large_text) == ["words+chars"]


def test_selection_skips_a_model_that_cannot_run_on_every_item(monkeypatch):
    """An RBF SVM past its item limit is not tried: chosen on the selection subsample, its final
    cross-validation on every item would refuse it and leave the run without pred_probs."""
    from quality.pred_probs import MODELS

    sets, y = _toy(3)
    monkeypatch.setitem(MODELS, "svm_rbf", 100)
    candidates = [("signal", "svm_rbf(C=1)"), ("signal", "logreg(C=1)"), ("noise", "logreg(C=1)")]
    pp, name, _, details = select_pred_probs(sets, y, n_classes=3, candidates=candidates, ensemble=False,
                                             selection_size=80)
    assert name == "signal + logreg(C=1)" and pp.shape == (240, 3)
    assert "signal + svm_rbf(C=1)" not in details["log_loss_by_candidate"]
    assert details["skipped"]["signal + svm_rbf(C=1)"] == "svm_rbf does not run on 240 items"


def _polygon_image(sides: int, fg: tuple, bg: tuple, turn: int = 0) -> np.ndarray:
    import math

    img = Image.new("RGB", (48, 48), bg)
    pts = [(24 + 16 * math.cos(0.3 + 2 * math.pi * k / sides), 24 + 16 * math.sin(0.3 + 2 * math.pi * k / sides))
           for k in range(sides)]
    ImageDraw.Draw(img).polygon(pts, fill=fg)
    return np.rot90(np.asarray(img, dtype=np.float32) / 255.0, turn).copy()


def test_invariant_features_ignore_rotation_and_colours_but_not_the_shape():
    from quality.zoo import _invariant

    base = _invariant(np.stack([_polygon_image(3, (250, 40, 40), (10, 10, 60))]))[0]
    turned = _invariant(np.stack([_polygon_image(3, (250, 40, 40), (10, 10, 60), turn=1)]))[0]
    recoloured = _invariant(np.stack([_polygon_image(3, (30, 200, 90), (240, 240, 240))]))[0]
    square = _invariant(np.stack([_polygon_image(4, (250, 40, 40), (10, 10, 60))]))[0]
    spectrum = slice(0, 18)  # the orientation spectrum: a triangle's edges in 3 directions, a square's in 4
    assert np.allclose(base[:-1], turned[:-1], atol=1e-4)
    assert np.linalg.norm(base[spectrum] - recoloured[spectrum]) < 0.05
    assert np.linalg.norm(base[spectrum] - square[spectrum]) > 5 * np.linalg.norm(base[spectrum] - recoloured[spectrum])
    assert base[2] > base[1] and square[3] > square[2]  # |FFT| peaks at 3 and 4 (index = frequency - 1)


def _probs(y: np.ndarray, wrong: np.ndarray, right: float) -> np.ndarray:
    """Out-of-fold probabilities that give the label `right` except on the `wrong` items,
    where they give it 0.1 (and the next class the rest)."""
    k = int(y.max()) + 1
    pp = np.full((y.size, k), (1.0 - right) / (k - 1))
    pp[np.arange(y.size), y] = right
    pp[wrong] = 0.0
    pp[wrong, y[wrong]] = 0.1
    pp[wrong, (y[wrong] + 1) % k] = 0.9
    return pp


def test_the_average_takes_the_partner_that_helps_it_not_the_second_best_alone():
    from quality.zoo import _forward_selection, _log_loss

    y = np.tile(np.arange(3), 100)
    rng = np.random.default_rng(0)
    errs = rng.permutation(y.size)
    # "twin" errs where "best" errs (a second model of the same features), a little more often;
    # "other" errs as often as the twin, but on other items
    oof = {"best": _probs(y, errs[:30], 0.7), "twin": _probs(y, errs[:33], 0.7),
           "other": _probs(y, errs[100:133], 0.7)}
    losses = {k: _log_loss(v, y) for k, v in oof.items()}
    ranked = sorted(oof, key=lambda k: (losses[k], k))
    assert ranked == ["best", "other", "twin"] or ranked == ["best", "twin", "other"]
    chosen = _forward_selection(ranked, oof, losses, y)
    assert chosen[:2] == ["best", "other"]
    assert _log_loss((oof["best"] + oof["other"]) / 2, y) < _log_loss((oof["best"] + oof["twin"]) / 2, y)
    # with the twin ranked second alone, the partner is still the one that helps the average
    chosen = _forward_selection(["best", "twin", "other"], oof, losses, y)
    assert chosen[:2] == ["best", "other"]


def test_the_average_holds_at_most_three_and_none_that_does_not_lower_the_loss():
    from quality.zoo import ENSEMBLE_MOST, _forward_selection, _log_loss

    y = np.tile(np.arange(3), 100)
    rng = np.random.default_rng(1)
    oof = {f"m{i}": _probs(y, rng.choice(y.size, 30, replace=False), 0.7) for i in range(5)}
    losses = {k: _log_loss(v, y) for k, v in oof.items()}
    ranked = sorted(oof, key=lambda k: (losses[k], k))
    chosen = _forward_selection(ranked, oof, losses, y)
    assert len(chosen) == ENSEMBLE_MOST == 3 and chosen[0] == ranked[0] and len(set(chosen)) == 3
    # a useless candidate (uniform probabilities) is never added to a good one
    useless = {"good": _probs(y, np.arange(0), 0.9), "flat": np.full((y.size, 3), 1 / 3)}
    losses = {k: _log_loss(v, y) for k, v in useless.items()}
    assert _forward_selection(["good", "flat"], useless, losses, y) == ["good"]
