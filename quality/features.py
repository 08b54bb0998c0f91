"""Features that labelfab computes itself, for the models that produce ``pred_probs``.

Pure functions: images, texts or vectors in, a feature matrix out. No database, no jobs.

* :func:`image_features` -- pixels, colour statistics and HOG-like gradient orientation
  histograms computed with Pillow and NumPy, standardized column by column.
* :func:`text_features` -- TF-IDF over word n-grams and character n-grams (sparse).
* :func:`embedding_features` -- validates user supplied embeddings and stacks them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from PIL import Image, ImageOps, UnidentifiedImageError

from quality import QCInputError

__all__ = ["embedding_features", "image_features", "text_features"]

_CHUNK = 256  # images converted to arrays at once (bounds memory for large collections)
_GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------
def image_features(
    images: Sequence[Image.Image | str | os.PathLike[str]],
    *,
    size: int = 32,
    pixel_size: int = 16,
    orientations: int = 9,
    cells: int = 4,
    colour_bins: int = 8,
    standardize: bool = True,
) -> np.ndarray:
    """Compute a fixed-length feature vector for each image, from its pixels alone.

    Each image is converted to RGB (transparent areas composited on white, EXIF orientation
    applied), resized to ``size x size`` and described by four blocks of features:

    1. grayscale pixels at ``pixel_size x pixel_size`` (the coarse shape),
    2. HOG-like histograms of gradient orientation: ``orientations`` unsigned bins per cell on
       a ``cells x cells`` grid, L2-Hys normalized over overlapping 2x2 blocks of cells, plus
       one global orientation histogram,
    3. colour statistics: per-channel mean and standard deviation, per-channel histograms with
       ``colour_bins`` bins, grayscale percentiles and a 4x4 colour thumbnail,
    4. gradient energy per cell (where the edges are).

    With ``standardize=True`` every column is centred and scaled to unit variance over the
    given images (constant columns become 0) and each block is then weighted so that the
    blocks contribute comparably to Euclidean distances, which suits RBF kernels and linear
    models alike.

    Parameters
    ----------
    images : sequence of PIL.Image.Image or path-like
        The images, as opened Pillow images or as paths to image files (mixed is fine).
    size : int, default 32
        Side of the square the image is resized to before gradients are computed. Must be a
        multiple of `cells`.
    pixel_size : int, default 16
        Side of the grayscale thumbnail used as raw-pixel features.
    orientations : int, default 9
        Number of unsigned orientation bins (over 0..180 degrees) per cell.
    cells : int, default 4
        Number of cells along each side for the orientation histograms.
    colour_bins : int, default 8
        Number of bins of each per-channel colour histogram.
    standardize : bool, default True
        Standardize columns over the given images and weight the blocks (see above). With
        ``False`` the raw features are returned.

    Returns
    -------
    features : np.ndarray
        Array of shape ``(n_images, n_features)``, dtype float32.

    Raises
    ------
    QCInputError
        If `images` is empty, an image cannot be opened or decoded (the message names its
        position and path), or an option is out of range.
    """
    n = len(images)
    if n == 0:
        raise QCInputError("image_features: no images given")
    for name, value, low in (
        ("size", size, 4),
        ("pixel_size", pixel_size, 2),
        ("orientations", orientations, 2),
        ("cells", cells, 1),
        ("colour_bins", colour_bins, 2),
    ):
        if not isinstance(value, int | np.integer) or value < low:
            raise QCInputError(f"image_features: {name} must be an integer >= {low}, got {value!r}")
    if size % cells:
        raise QCInputError(f"image_features: size ({size}) must be a multiple of cells ({cells})")

    blocks: list[list[np.ndarray]] = [[], [], [], []]
    for start in range(0, n, _CHUNK):
        chunk = [_load_rgb(images[i], i) for i in range(start, min(n, start + _CHUNK))]
        for acc, part in zip(
            blocks,
            _chunk_features(
                chunk,
                size=size,
                pixel_size=pixel_size,
                orientations=orientations,
                cells=cells,
                colour_bins=colour_bins,
            ),
            strict=True,
        ):
            acc.append(part)
    parts = [np.concatenate(b, axis=0) for b in blocks]
    if not standardize:
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)
    # Relative weight of each block in squared Euclidean distance:
    # pixels, orientation histograms, colour statistics, edge energy.
    weights = (1.0, 1.0, 0.35, 0.25)
    out = []
    for part, w in zip(parts, weights, strict=True):
        z = _standardize(part)
        out.append(z * np.float32(np.sqrt(w / part.shape[1])))
    # Scale so that an average row has squared norm ~ number of columns (like plain z-scores).
    feats = np.concatenate(out, axis=1)
    feats *= np.float32(np.sqrt(feats.shape[1] / sum(weights)))
    return feats


def _load_rgb(image: Any, index: int) -> Image.Image:
    """Open `image` (a PIL image or a path) as an RGB image; errors name the position."""
    if isinstance(image, Image.Image):
        img = image
        where = f"image {index}"
    elif isinstance(image, str | os.PathLike):
        where = f"image {index} ({os.fspath(image)!r})"
        try:
            with Image.open(image) as opened:
                opened.load()
                img = opened.copy()
        except FileNotFoundError as exc:
            raise QCInputError(f"{where}: file not found") from exc
        except UnidentifiedImageError as exc:
            raise QCInputError(f"{where}: not a readable image file") from exc
        except OSError as exc:
            raise QCInputError(f"{where}: cannot be decoded ({exc})") from exc
    else:
        raise QCInputError(
            f"image {index}: expected a PIL image or a path, got {type(image).__name__}"
        )
    if img.width < 1 or img.height < 1:
        raise QCInputError(f"{where}: image is empty ({img.width}x{img.height})")
    try:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba).convert("RGB")
        elif img.mode == "I;16" or img.mode == "I" or img.mode == "F":
            arr = np.asarray(img, dtype=np.float64)
            lo, hi = float(arr.min()), float(arr.max())
            scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
            img = Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
        else:
            img = img.convert("RGB")
    except OSError as exc:
        raise QCInputError(f"{where}: cannot be decoded ({exc})") from exc
    return img


def _chunk_features(
    imgs: list[Image.Image],
    *,
    size: int,
    pixel_size: int,
    orientations: int,
    cells: int,
    colour_bins: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw feature blocks for a chunk of RGB images."""
    resample = Image.Resampling.BILINEAR
    rgb = np.stack(
        [np.asarray(im.resize((size, size), resample, reducing_gap=2.0)) for im in imgs]
    ).astype(np.float32)
    rgb /= 255.0  # (m, size, size, 3)
    gray = rgb @ _GRAY  # (m, size, size)
    m = gray.shape[0]

    # 1. grayscale thumbnail
    thumb = np.stack(
        [
            np.asarray(
                Image.fromarray((g * 255.0).astype(np.uint8)).resize(
                    (pixel_size, pixel_size), Image.Resampling.BOX
                ),
                dtype=np.float32,
            )
            for g in gray
        ]
    ).reshape(m, -1)
    thumb /= 255.0

    # 2. HOG-like orientation histograms
    gy, gx = np.gradient(gray, axis=(1, 2))
    mag = np.sqrt(gx * gx + gy * gy)
    theta = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation in [0, pi)
    pos = theta / np.pi * orientations - 0.5  # bin centres at (k + 0.5) * pi / orientations
    b0 = np.floor(pos).astype(np.int64)
    w1 = (pos - b0).astype(np.float32)
    b0 %= orientations
    b1 = (b0 + 1) % orientations
    cs = size // cells
    hist = np.empty((m, cells, cells, orientations), dtype=np.float32)
    for k in range(orientations):
        contrib = mag * ((b0 == k) * (1.0 - w1) + (b1 == k) * w1)
        hist[..., k] = contrib.reshape(m, cells, cs, cells, cs).sum(axis=(2, 4))
    hog = _block_normalize(hist)
    glob = hist.sum(axis=(1, 2))
    glob /= np.linalg.norm(glob, axis=1, keepdims=True) + 1e-6
    hog_block = np.concatenate([hog, glob], axis=1)

    # 3. colour statistics
    flat = rgb.reshape(m, -1, 3)
    means = flat.mean(axis=1)
    stds = flat.std(axis=1)
    idx = np.minimum((flat * colour_bins).astype(np.int64), colour_bins - 1)  # (m, p, 3)
    chist = np.empty((m, 3, colour_bins), dtype=np.float32)
    for c in range(3):
        onehot = idx[:, :, c, None] == np.arange(colour_bins)
        chist[:, c] = onehot.mean(axis=1)
    pct = np.percentile(gray.reshape(m, -1), [5, 25, 50, 75, 95], axis=1).T
    tiny = rgb.reshape(m, 4, size // 4, 4, size // 4, 3).mean(axis=(2, 4)).reshape(m, -1)
    colour = np.concatenate([means, stds, chist.reshape(m, -1), pct, tiny], axis=1)

    # 4. edge energy per cell (normalized by total energy)
    energy = mag.reshape(m, cells, cs, cells, cs).mean(axis=(2, 4)).reshape(m, -1)
    total = energy.sum(axis=1, keepdims=True)
    energy = np.concatenate([energy / (total + 1e-6), total / (cells * cells)], axis=1)

    return (
        thumb.astype(np.float32),
        hog_block.astype(np.float32),
        colour.astype(np.float32),
        energy.astype(np.float32),
    )


def _block_normalize(hist: np.ndarray) -> np.ndarray:
    """L2-Hys normalization over overlapping 2x2 blocks of cells (as in HOG)."""
    m, cy, cx, _ = hist.shape
    if cy < 2 or cx < 2:
        blocks = hist.reshape(m, 1, -1)
    else:
        blocks = np.concatenate(
            [hist[:, :-1, :-1], hist[:, :-1, 1:], hist[:, 1:, :-1], hist[:, 1:, 1:]], axis=3
        ).reshape(m, (cy - 1) * (cx - 1), -1)
    eps = 1e-6
    blocks = blocks / np.sqrt((blocks**2).sum(axis=2, keepdims=True) + eps**2)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=2, keepdims=True) + eps**2)
    return blocks.reshape(m, -1)


def _standardize(x: np.ndarray) -> np.ndarray:
    """Column z-scores; constant columns become 0."""
    x = x.astype(np.float64, copy=False)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-8] = np.inf
    return ((x - mean) / std).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# texts
# ---------------------------------------------------------------------------------------------
def text_features(
    texts: Sequence[str],
    *,
    max_features: int = 50_000,
    word_ngram_range: tuple[int, int] = (1, 2),
    char_ngram_range: tuple[int, int] = (2, 5),
    lowercase: bool = True,
) -> sp.csr_matrix:
    """TF-IDF features over word n-grams and character n-grams.

    Two :class:`sklearn.feature_extraction.text.TfidfVectorizer` are fitted on `texts`: one
    over words (``word_ngram_range``), one over characters inside word boundaries
    (``char_ngram_range``, robust to typos and morphology). Each block is L2-normalized
    per row and the two are concatenated with equal weight, so every non-empty row has
    unit norm.

    Parameters
    ----------
    texts : sequence of str
        One text per item.
    max_features : int, default 50000
        Maximum number of columns in total, split evenly between words and characters.
    word_ngram_range, char_ngram_range : tuple of int
        ``(min_n, max_n)`` for the word and character analyzers.
    lowercase : bool, default True
        Lowercase before tokenizing.

    Returns
    -------
    features : scipy.sparse.csr_matrix
        Sparse matrix of shape ``(n_texts, n_features)``, dtype float64.

    Raises
    ------
    QCInputError
        If `texts` is empty, an entry is not a string (the message names its position), or
        no text contains a single token or character n-gram.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if isinstance(texts, str):
        raise QCInputError("text_features: expected a sequence of texts, got a single string")
    texts = list(texts)
    if not texts:
        raise QCInputError("text_features: no texts given")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise QCInputError(f"text {i}: expected a string, got {type(t).__name__}")
    if not isinstance(max_features, int) or max_features < 2:
        raise QCInputError(
            f"text_features: max_features must be an integer >= 2, got {max_features!r}"
        )
    if all(not t.strip() for t in texts):
        raise QCInputError("text_features: every text is empty")

    half = max_features // 2
    word = TfidfVectorizer(
        analyzer="word",
        ngram_range=word_ngram_range,
        lowercase=lowercase,
        max_features=half,
        sublinear_tf=True,
        token_pattern=r"(?u)\b\w+\b",
        dtype=np.float64,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=char_ngram_range,
        lowercase=lowercase,
        max_features=max_features - half,
        sublinear_tf=True,
        dtype=np.float64,
    )
    mats = []
    for vec in (word, char):
        try:
            mats.append(vec.fit_transform(texts))
        except ValueError as exc:  # "empty vocabulary" (e.g. only punctuation)
            if "empty vocabulary" not in str(exc):
                raise
    if not mats:
        raise QCInputError("text_features: no text contains a word or character n-gram")
    out = sp.hstack(mats, format="csr") * (1.0 / np.sqrt(len(mats)))
    return sp.csr_matrix(out)


# ---------------------------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------------------------
def embedding_features(
    vectors: Sequence[Sequence[float]] | np.ndarray,
    *,
    dim: int | None = None,
    l2_normalize: bool = False,
) -> np.ndarray:
    """Validate embeddings supplied by the user (one vector per item) and stack them.

    Parameters
    ----------
    vectors : sequence of 1-D array-likes, or 2-D array
        One embedding per item; all of the same length.
    dim : int, optional
        Expected length of every vector. By default the length of the first vector.
    l2_normalize : bool, default False
        Scale every row to unit Euclidean norm (for cosine-style embeddings). A zero
        vector cannot be normalized and raises.

    Returns
    -------
    features : np.ndarray
        Array of shape ``(n_items, dim)``, dtype float64.

    Raises
    ------
    QCInputError
        If there are no vectors, a vector is not 1-D numeric, has the wrong length, or holds
        NaN or infinity (the message names the row and, where relevant, the column).
    """
    if isinstance(vectors, np.ndarray) and vectors.ndim == 2:
        rows: list[Any] = list(vectors)
    else:
        try:
            rows = list(vectors)
        except TypeError as exc:
            raise QCInputError("embedding_features: expected a sequence of vectors") from exc
    if not rows:
        raise QCInputError("embedding_features: no vectors given")
    arrays = []
    for i, row in enumerate(rows):
        try:
            arr = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QCInputError(f"embedding row {i}: not a numeric vector ({exc})") from exc
        if arr.ndim != 1:
            raise QCInputError(f"embedding row {i}: expected a 1-D vector, got shape {arr.shape}")
        if dim is None:
            dim = arr.shape[0]
            if dim == 0:
                raise QCInputError("embedding row 0: vector is empty")
        if arr.shape[0] != dim:
            raise QCInputError(f"embedding row {i}: expected {dim} values, got {arr.shape[0]}")
        arrays.append(arr)
    x = np.stack(arrays)
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise QCInputError(
            f"embedding row {r}: value at column {c} is not finite ({x[r, c]!r}); "
            f"{int(bad.any(axis=1).sum())} row(s) affected"
        )
    if l2_normalize:
        norms = np.linalg.norm(x, axis=1)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise QCInputError(f"embedding row {zero[0]}: zero vector cannot be L2-normalized")
        x = x / norms[:, None]
    return x
