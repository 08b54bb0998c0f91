"""Bring-your-own encoders: embeddings of images and texts from an ONNX model on local disk.

A team plugs its own encoder into QC without labelfab downloading anything: the settings
``LABELFAB_QC_ONNX_IMAGE_MODEL`` and ``LABELFAB_QC_ONNX_TEXT_MODEL`` name ``.onnx`` files, and
their embeddings become one more feature set of the model zoo (:mod:`quality.zoo`, ``onnx``),
chosen only when its cross-validated log loss beats the others.

What a model must look like (onnxruntime runs it on the CPU):

- an image model takes one float32 input, ``[N, 3, H, W]`` (or ``[N, H, W, 3]``), RGB values in
  [0, 1]: images are resized to H x W (224 x 224 when the graph leaves them open). A model that
  wants another normalisation (ImageNet's mean and standard deviation...) carries it in its graph.
- a text model takes one string input, ``[N]`` or ``[N, 1]`` (a tokenizer inside the graph:
  onnxruntime's string operators, or a pipeline exported with skl2onnx).
- the first output is the embedding: ``[N, D]``; ``[N, T, D]`` is mean-pooled over T and
  ``[N, D, h, w]`` over h and w.

Embeddings are L2-normalised rows of float32.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from quality import QCInputError

__all__ = ["onnx_image_embeddings", "onnx_text_embeddings"]

_DEFAULT_SIDE = 224


@lru_cache(maxsize=4)
def _session(path: str, mtime: float):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # the extra is not installed
        raise QCInputError("an ONNX encoder needs onnxruntime: pip install 'labelfab[onnx]'") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a QC run keeps to one thread (quality/run/skeleton.py)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        raise QCInputError(f"the ONNX model {path} cannot be loaded: {exc}") from exc


def _open(model_path: str | os.PathLike[str]):
    path = os.fspath(model_path)
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise QCInputError(f"the ONNX model {path} cannot be read: {exc.strerror}") from exc
    return _session(path, mtime)


def _pooled(out: np.ndarray, n: int, path: str) -> np.ndarray:
    out = np.asarray(out, dtype=np.float32)
    if out.ndim == 4:  # [N, D, h, w]: a convolutional feature map
        out = out.mean(axis=(2, 3))
    elif out.ndim == 3:  # [N, T, D]: token embeddings
        out = out.mean(axis=1)
    elif out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n:
        raise QCInputError(f"the ONNX model {path} gave an output of shape {out.shape} for {n} inputs")
    return out


def _normalised(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def onnx_image_embeddings(
    images: Sequence[Image.Image | str | os.PathLike[str]],
    model_path: str | os.PathLike[str],
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """Embeddings of `images` (PIL images or paths) by the ONNX image model at `model_path`.

    Returns
    -------
    np.ndarray
        ``(n_images, D)`` float32, rows of unit norm.

    Raises
    ------
    QCInputError
        The model cannot be loaded, its input is not an image tensor, an image cannot be read,
        or its output has another shape.
    """
    session = _open(model_path)
    spec = session.get_inputs()[0]
    shape = list(spec.shape)
    if "float" not in spec.type or len(shape) != 4:
        raise QCInputError(f"the ONNX image model {model_path} takes {spec.type} {shape}, "
                           "not a float tensor [N, 3, H, W] or [N, H, W, 3]")
    channels_last = shape[3] == 3
    h, w = (shape[1], shape[2]) if channels_last else (shape[2], shape[3])
    h = h if isinstance(h, int) and h > 0 else _DEFAULT_SIDE
    w = w if isinstance(w, int) and w > 0 else _DEFAULT_SIDE
    chunks: list[np.ndarray] = []
    for start in range(0, len(images), batch_size):
        batch = []
        for i, item in enumerate(images[start:start + batch_size], start):
            try:
                img = item if isinstance(item, Image.Image) else Image.open(item)
                rgb = img.convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
            except (OSError, ValueError) as exc:
                raise QCInputError(f"image {i} cannot be read for the ONNX encoder: {exc}") from exc
            arr = np.asarray(rgb, dtype=np.float32) / 255.0
            batch.append(arr if channels_last else arr.transpose(2, 0, 1))
        out = session.run(None, {spec.name: np.stack(batch)})[0]
        chunks.append(_pooled(out, len(batch), os.fspath(model_path)))
    if not chunks:
        raise QCInputError("onnx_image_embeddings: no images given")
    return _normalised(np.concatenate(chunks))


def onnx_text_embeddings(
    texts: Sequence[str],
    model_path: str | os.PathLike[str],
    *,
    batch_size: int = 256,
) -> np.ndarray:
    """Embeddings of `texts` by the ONNX text model at `model_path` (a string input).

    Returns
    -------
    np.ndarray
        ``(n_texts, D)`` float32, rows of unit norm.

    Raises
    ------
    QCInputError
        The model cannot be loaded, does not take strings, or its output has another shape.
    """
    session = _open(model_path)
    spec = session.get_inputs()[0]
    if spec.type != "tensor(string)":
        raise QCInputError(f"the ONNX text model {model_path} takes {spec.type}, not strings "
                           "(put the tokenizer in the graph)")
    column = len(spec.shape) == 2
    chunks: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        batch = np.asarray(list(texts[start:start + batch_size]), dtype=object)
        feed = batch.reshape(-1, 1) if column else batch
        out = session.run(None, {spec.name: feed})[0]
        if hasattr(out, "toarray"):
            out = out.toarray()
        chunks.append(_pooled(out, len(batch), os.fspath(model_path)))
    if not chunks:
        raise QCInputError("onnx_text_embeddings: no texts given")
    return _normalised(np.concatenate(chunks))
