"""Makes ``frames.webm``, the small test video of the video labelling tests (run once, the file
is committed): 160x120 pixels, VP8 (Chromium plays it), 25 frames per second, 50 frames (2 s).
Frame n (from 1) shows a white square moving right by 2 pixels a frame on a background whose
blue level is 5 * n, so a test can tell frames apart, and a bar of n pixels at the bottom.

    python -m venv /tmp/avenv && /tmp/avenv/bin/pip install av numpy
    /tmp/avenv/bin/python tests/browser/media/make_video.py
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

W, H, FPS, FRAMES = 160, 120, 25, 50


def frame_image(n: int) -> np.ndarray:
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[:, :, 2] = 5 * n
    img[:, :, 1] = 40
    x = 10 + 2 * (n - 1)
    img[40:70, x : x + 30] = 255
    img[H - 6 :, :n] = (255, 200, 0)
    return img


def main() -> None:
    out = Path(__file__).with_name("frames.webm")
    with av.open(str(out), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"crf": "30", "b": "200k", "g": "5"}
        for n in range(1, FRAMES + 1):
            frame = av.VideoFrame.from_ndarray(frame_image(n), format="rgb24")
            frame.pts = n - 1
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
