"""quality.features: image, text and embedding features (known inputs, known answers)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from PIL import Image

from quality import QCInputError
from quality.features import embedding_features, image_features, text_features


def _bars(n: int, *, vertical: bool, seed: int) -> list[Image.Image]:
    """Noisy 24x24 images with one bright bar, vertical or horizontal, at a random place."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = rng.integers(0, 60, size=(24, 24)).astype(np.uint8)
        pos = rng.integers(4, 18)
        if vertical:
            a[:, pos : pos + 3] = 230
        else:
            a[pos : pos + 3, :] = 230
        out.append(Image.fromarray(a))
    return out


def test_image_features_shape_dtype_and_standardized():
    imgs = _bars(10, vertical=True, seed=0) + _bars(10, vertical=False, seed=1)
    X = image_features(imgs)
    assert X.shape[0] == 20
    assert X.dtype == np.float32
    assert np.isfinite(X).all()
    # standardized: every column centred; non-constant columns have equal spread
    assert np.allclose(X.mean(axis=0), 0.0, atol=1e-4)
    raw = image_features(imgs, standardize=False)
    assert raw.shape == X.shape
    assert not np.allclose(raw.mean(axis=0), 0.0, atol=1e-4)


def test_image_features_separate_orientations():
    """Orientation histograms make vertical vs horizontal bars linearly separable."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    imgs = _bars(30, vertical=True, seed=2) + _bars(30, vertical=False, seed=3)
    y = np.array([0] * 30 + [1] * 30)
    X = image_features(imgs)
    score = cross_val_score(LogisticRegression(C=0.1, max_iter=500), X, y, cv=3).mean()
    assert score >= 0.95


def test_image_features_paths_equal_pil_images(tmp_path):
    imgs = _bars(4, vertical=True, seed=4)
    paths = []
    for i, im in enumerate(imgs):
        p = tmp_path / f"im{i}.png"
        im.save(p)
        paths.append(p)
    from_paths = image_features([str(p) for p in paths[:2]] + paths[2:])
    from_pil = image_features(imgs)
    np.testing.assert_allclose(from_paths, from_pil, atol=1e-5)


def test_image_features_modes_and_sizes():
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent -> white
    pal = Image.new("P", (16, 16), 3)
    big = Image.new("RGB", (300, 120), (0, 128, 255))
    i16 = Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    X = image_features([rgba, pal, big, i16], standardize=False)
    assert X.shape[0] == 4 and np.isfinite(X).all()


def test_image_features_errors(tmp_path):
    with pytest.raises(QCInputError, match="no images"):
        image_features([])
    ok = Image.new("L", (8, 8))
    with pytest.raises(QCInputError, match=r"image 1 .*missing\.png.*: file not found"):
        image_features([ok, tmp_path / "missing.png"])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(QCInputError, match=r"image 0 .*bad\.png.*not a readable image"):
        image_features([bad])
    with pytest.raises(QCInputError, match="image 0: expected a PIL image or a path, got int"):
        image_features([3])
    with pytest.raises(QCInputError, match="multiple of cells"):
        image_features([ok], size=30, cells=4)


def test_text_features_sparse_unit_rows_and_char_ngrams():
    texts = ["The colour is red", "the color is red", "a completely different sentence", "x"]
    X = text_features(texts)
    assert sp.issparse(X) and X.shape[0] == 4
    norms = np.sqrt(X.multiply(X).sum(axis=1)).A1
    np.testing.assert_allclose(norms, 1.0, atol=1e-9)
    sim = (X @ X.T).toarray()
    # spelling variants share most character n-grams
    assert sim[0, 1] > 0.5
    assert sim[0, 1] > sim[0, 2] + 0.4


def test_text_features_max_features_and_errors():
    texts = [f"word{i} common text" for i in range(50)]
    assert text_features(texts, max_features=20).shape[1] <= 20
    with pytest.raises(QCInputError, match="no texts"):
        text_features([])
    with pytest.raises(QCInputError, match="text 2: expected a string, got NoneType"):
        text_features(["a", "b", None])
    with pytest.raises(QCInputError, match="every text is empty"):
        text_features(["", "  "])
    with pytest.raises(QCInputError, match="single string"):
        text_features("just one string")


def test_embedding_features_stack_and_normalize():
    X = embedding_features([[3, 4], [1, 0], [0.5, 0.5]])
    assert X.dtype == np.float64 and X.shape == (3, 2)
    np.testing.assert_allclose(X[0], [3, 4])
    Xn = embedding_features(np.array([[3.0, 4.0], [0.0, 2.0]]), l2_normalize=True)
    np.testing.assert_allclose(Xn, [[0.6, 0.8], [0.0, 1.0]])


def test_embedding_features_errors():
    with pytest.raises(QCInputError, match="no vectors"):
        embedding_features([])
    with pytest.raises(QCInputError, match="embedding row 2: expected 3 values, got 2"):
        embedding_features([[1, 2, 3], [4, 5, 6], [7, 8]])
    with pytest.raises(QCInputError, match=r"embedding row 1: value at column 0 is not finite"):
        embedding_features([[1.0, 2.0], [float("nan"), 1.0]])
    with pytest.raises(QCInputError, match="embedding row 0: not a numeric vector"):
        embedding_features([["a", "b"]])
    with pytest.raises(QCInputError, match="embedding row 1: expected a 1-D vector"):
        embedding_features([[1.0, 2.0], [[1.0], [2.0]]])
    with pytest.raises(QCInputError, match="embedding row 1: zero vector"):
        embedding_features([[1.0, 0.0], [0.0, 0.0]], l2_normalize=True)
    with pytest.raises(QCInputError, match="expected 4 values"):
        embedding_features([[1.0, 2.0]], dim=4)
