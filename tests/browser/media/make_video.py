"""Makes ``frames.webm``, the small test video of the video labelling tests (run once, the file
is committed): 160x120 pixels, VP8 (Chromium plays it), 25 frames per second, 50 frames (2 s).
Frame n (from 1) shows a white square moving right by 2 pixels a frame on a background whose
blue level is 5 * n, so a test can tell frames apart, and a bar of n pixels at the bottom.
And ``frames_sound.webm`` for the synced video and audio test: the same frames at 24 fps (Label
Studio's frame rate of a ``<Video>`` that names none), 96 of them (4 s; the blue level wraps),
with an Opus sound track (a 440 Hz tone, 48 kHz mono).

    python -m venv /tmp/avenv && /tmp/avenv/bin/pip install av numpy
    /tmp/avenv/bin/python tests/browser/media/make_video.py
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

W, H, FPS, FRAMES = 160, 120, 25, 50
RATE, TONE = 48000, 440.0


def frame_image(n: int) -> np.ndarray:
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[:, :, 2] = (5 * n) % 256
    img[:, :, 1] = 40
    x = (10 + 2 * (n - 1)) % (W - 30)
    img[40:70, x : x + 30] = 255
    img[H - 6 :, : min(n, W)] = (255, 200, 0)
    return img


def write(out: Path, frames: int, *, fps: int = FPS, sound: bool = False) -> None:
    with av.open(str(out), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "30", "b": "200k", "g": "5"}
        audio = container.add_stream("libopus", rate=RATE, layout="mono") if sound else None
        for n in range(1, frames + 1):
            frame = av.VideoFrame.from_ndarray(frame_image(n), format="rgb24")
            frame.pts = n - 1
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None:
            t = np.arange(int(RATE * frames / fps)) / RATE
            samples = (np.sin(2 * np.pi * TONE * t) * 0.3 * 32767).astype(np.int16)
            step = 960  # 20 ms, an Opus frame
            for at in range(0, len(samples), step):
                chunk = samples[at : at + step]
                if len(chunk) < step:
                    chunk = np.pad(chunk, (0, step - len(chunk)))
                piece = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
                piece.sample_rate, piece.pts = RATE, at
                for packet in audio.encode(piece):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    print(out, out.stat().st_size, "bytes")


def main() -> None:
    write(Path(__file__).with_name("frames.webm"), FRAMES)
    write(Path(__file__).with_name("frames_sound.webm"), 96, fps=24, sound=True)


if __name__ == "__main__":
    main()
