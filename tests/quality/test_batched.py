"""The out-of-core, fold-by-fold QC of :mod:`quality.batched` against the same computation done
in memory at once: the same out-of-fold probabilities, the label issues and noise an in-memory run
finds (:func:`quality.scoring.single_annotator_issues`), and cleanlab's confident joint."""

from __future__ import annotations

import numpy as np
import pytest

from quality import QCInputError, batched
from quality.scoring import single_annotator_issues


def noisy_blobs(n: int, k: int = 4, dim: int = 8, *, noise: float = 0.08, seed: int = 3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 1.6
    truth = rng.integers(k, size=n)
    X = (centers[truth] + rng.normal(size=(n, dim))).astype(np.float32)
    flipped = rng.random(n) < noise
    given = truth.copy()
    given[flipped] = (truth[flipped] + rng.integers(1, k, size=int(flipped.sum()))) % k
    return X, given, flipped


def in_memory_pred_probs(X, y, folds, k, *, fit_size, seed):
    """Each fold's model fitted and applied on whole in-memory arrays (no chunks, no files)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    pp = np.zeros((y.size, k))
    for f in range(folds.max() + 1):
        train = batched._sample(y, np.flatnonzero(folds != f), fit_size, seed + f)
        test = folds == f
        scaler = StandardScaler().fit(X[train].astype(np.float64))
        model = LogisticRegression(C=1.0, max_iter=200, tol=1e-4, random_state=seed)
        model.fit(scaler.transform(X[train].astype(np.float64)), y[train])
        pp[test] = model.predict_proba(scaler.transform(X[test].astype(np.float64)))
    return pp


@pytest.mark.parametrize("batch_size", [97, 1000, 50_000])
def test_a_batched_run_finds_what_cleanlab_finds_in_memory(tmp_path, batch_size):
    from cleanlab.count import compute_confident_joint
    from cleanlab.filter import find_label_issues

    X, y, flipped = noisy_blobs(3000)
    found = batched.score_in_process(tmp_path / "b", X, y, n_classes=4, n_folds=5, seed=0, fit_size=1500,
                                     batch_size=batch_size)
    lay = batched.Layout.open(tmp_path / "b")
    folds = np.load(tmp_path / "b" / "folds.npy")
    pp = in_memory_pred_probs(X, y, folds, 4, fit_size=1500, seed=0)
    stored = np.load(lay.pred_probs_path)
    np.testing.assert_allclose(stored, pp, atol=1e-6)

    pp32 = stored.astype(np.float64)
    in_memory = single_annotator_issues(y, pp32, class_names=list("abcd"))
    np.testing.assert_array_equal(found["is_label_issue"], in_memory["is_label_issue"])
    assert found["n_issues"] == in_memory["n_issues"]
    assert found["noise_rate"] == pytest.approx(in_memory["noise_rate"])
    np.testing.assert_allclose(found["noise_rate_per_class"], in_memory["noise_rate_per_class"])
    # the flags are a prefix of cleanlab's ranking by self-confidence (of another length)
    ranked = find_label_issues(y, pp32, filter_by="low_self_confidence", return_indices_ranked_by="self_confidence")
    n_top = min(found["n_issues"], len(ranked))
    assert set(ranked[:n_top].tolist()) <= set(np.flatnonzero(found["is_label_issue"]).tolist())
    # the findings are real: most flagged labels were flipped, and most flips are found
    hit = found["is_label_issue"] & flipped
    assert hit.sum() / found["n_issues"] > 0.8 and hit.sum() / flipped.sum() > 0.6
    cj = compute_confident_joint(y, pp32, calibrate=True)
    np.testing.assert_array_equal(found["confident_joint"], cj)
    joint = cj / cj.sum()
    assert found["noise_rate_cleanlab"] == pytest.approx(1 - np.trace(joint))
    assert found["noise_rate"] == pytest.approx(flipped.mean(), abs=0.02)
    np.testing.assert_allclose(found["label_quality"], pp32[np.arange(y.size), y])
    assert found["cv_accuracy"] == pytest.approx(np.mean(pp32.argmax(axis=1) == y))


def test_folds_are_stratified_and_seeded():
    y = np.repeat(np.arange(3), [50, 30, 7])
    a = batched.fold_assignment(y, n_folds=5, seed=1)
    assert np.array_equal(a, batched.fold_assignment(y, n_folds=5, seed=1))
    for c in range(3):
        per = np.bincount(a[y == c], minlength=5)
        assert per.max() - per.min() <= 1


def test_a_fold_killed_midway_leaves_no_output_and_the_gather_says_which_is_missing(tmp_path):
    X, y, _ = noisy_blobs(400)
    lay, fx = batched.create(tmp_path, n=400, dim=8, n_classes=4, n_folds=4, seed=0, fit_size=1000)
    fx[:] = X
    batched.finish(lay, fx, y)
    (tmp_path / ".fold-2.npy.999.tmp").write_bytes(b"half")  # what a killed fold leaves
    for f in (0, 1, 3):
        batched.run_fold(tmp_path, f)
    with pytest.raises(QCInputError, match="fold.s. 2 is missing"):
        batched.gather(tmp_path)
    first = np.load(batched.run_fold(tmp_path, 3))
    assert np.array_equal(first, np.load(batched.run_fold(tmp_path, 3)))  # a fold run again writes the same
    batched.run_fold(tmp_path, 2)
    assert batched.gather(tmp_path)["is_label_issue"].shape == (400,)
