"""Label Studio's brush RLE, decoded without importing ``label_studio_sdk.converter`` (pure).

A brush mask (``BrushLabels``) is stored as Label Studio's run-length encoding of the image's
RGBA bytes (``value.rle``, a list of bytes). label-studio-sdk decodes it in
``label_studio_sdk.converter.brush.decode_rle``, but importing that module imports the whole
converter package (nltk and more): several seconds, 10-18 s on a fresh server, which the first
brush annotation's check used to wait for. :func:`decode_rle` is the same algorithm on NumPy's bit
unpacking, equal to the SDK's on every stream the SDK decodes (``tests/labeling/test_rle.py``);
exports still use the SDK's converter (``BRUSH_TO_PNG``).

The stream: 32 bits the number of values, 5 bits the word size - 1, four 4-bit run-length sizes
- 1; then runs, each one bit (1: one value repeated, 0: literal values), two bits choosing a
run-length size, that many bits the run's length - 1, and the value(s) of ``word size`` bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["decode_rle", "rle_size"]


def rle_size(rle: Sequence[int]) -> int:
    """The number of values a Label Studio RLE stream decodes to (its first 32 bits)."""
    return int.from_bytes(bytes(rle[:4]), "big")


class _Bits:
    def __init__(self, rle: Sequence[int]) -> None:
        bits = np.unpackbits(np.asarray(rle, dtype=np.uint8))
        self.text = (bits + 48).tobytes().decode("ascii")  # "0101..."
        self.i = 0

    def read(self, size: int) -> int:
        end = self.i + size
        if end > len(self.text):
            raise ValueError("the RLE stream ends before its values")
        out = int(self.text[self.i:end], 2)
        self.i = end
        return out


def decode_rle(rle: Sequence[int]) -> np.ndarray:
    """The values of a Label Studio brush RLE stream (RGBA bytes of the image, row by row).

    Parameters
    ----------
    rle : sequence of int
        The bytes of ``value.rle`` (each 0-255).

    Returns
    -------
    np.ndarray
        uint8, of the length the stream's header gives (``height * width * 4`` for a mask);
        ``.reshape(h, w, 4)[:, :, 3]`` is the mask's alpha.

    Raises
    ------
    ValueError
        The stream ends early, a run goes past the values the header promises, a byte is not
        0-255, or its words are wider than a byte.
    """
    if any(not 0 <= b <= 255 for b in rle):
        raise ValueError("an RLE byte is not 0-255")
    stream = _Bits(rle)
    num = stream.read(32)
    word = stream.read(5) + 1
    if word > 8:
        raise ValueError(f"RLE words of {word} bits do not fit a byte")
    sizes = [stream.read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint8)
    i = 0
    while i < num:
        repeat = stream.read(1)
        j = i + 1 + stream.read(sizes[stream.read(2)])
        if repeat:
            out[i:j] = stream.read(word)
            i = j
        else:
            if j > num:
                raise ValueError("an RLE run goes past the values its header gives")
            while i < j:
                out[i] = stream.read(word)
                i += 1
    return out
