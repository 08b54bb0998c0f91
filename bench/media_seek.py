"""Seeking in a 1-hour audio file or a 10-minute video on the labeling page: time from a seek to playback.

A fresh DATA_DIR (SQLite, stub broker), a ``labelfab serve``, a project whose one task is a
generated 1-hour recording (a WAV made with the standard library's ``wave`` and NumPy, or an MP3
or Ogg/Opus encoded with PyAV), imported like any upload (stored by content, its duration read
at import) and served by the ``/media/`` route with HTTP range requests. Debian's
/usr/bin/chromium (Playwright) opens the labeling page; the audio widget (annotate_audio.js,
wavesurfer.js) seeks to several points of the file in a shuffled order and plays; each figure
is the time from the seek to the media element's ``playing`` event, measured in the page.

``--video``: the file is instead a generated 10-minute video (``--minutes 10`` by default), encoded
with PyAV at a small size (320x180, 25 frames a second, a keyframe every 2 s: VP8 in WebM, or
H.264 in MP4 with ``--format mp4``), imported the same way (its duration and frame rate read at
import) and shown by the video widget (annotate_video.js); each figure is then the time from
setting the ``<video>`` element's ``currentTime`` and calling ``play()`` to its ``playing`` event.

Usage::

    python bench/media_seek.py [--minutes 60] [--format wav|mp3|opus] [--seeks 12]
    python bench/media_seek.py --video [--minutes 10] [--format webm|mp4] [--seeks 12]

The last line printed is one JSON object with every figure (target: each seek <= 300 ms).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from common import Server, logged_in_page

# media play without a click first, as after an annotator's first click in the page
AUTOPLAY = ["--autoplay-policy=no-user-gesture-required"]
PASSWORD = "bench password 1"
CONFIG = ('<View><Labels name="label" toName="audio"><Label value="Speech"/><Label value="Noise"/></Labels>'
          '<Audio name="audio" value="$audio"/></View>')
VIDEO_CONFIG = ('<View><Video name="video" value="$video" frameRate="25"/>'
                '<TimelineLabels name="spans" toName="video"><Label value="Event"/></TimelineLabels></View>')
TARGET_MS = 300
#: The generated video: pixels, frames a second, a keyframe every KEYFRAME_S seconds.
VIDEO_W, VIDEO_H, VIDEO_FPS, KEYFRAME_S = 320, 180, 25, 2


def tone(seconds: float, rate: int) -> np.ndarray:
    """A recording-like signal: a tone whose pitch and loudness drift, with a little noise."""
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    pitch = 220 + 80 * np.sin(2 * np.pi * t / 37.0)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    loud = 0.3 + 0.25 * (1 + np.sin(2 * np.pi * t / 11.0))
    rng = np.random.default_rng(0)
    return (loud * np.sin(phase) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def make_file(path: Path, minutes: float, fmt: str) -> None:
    rate = 16000 if fmt == "wav" else 48000 if fmt == "opus" else 22050
    samples = tone(minutes * 60, rate)
    if fmt == "wav":
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((samples * 32767).astype("<i2").tobytes())
        return
    import av

    codec, container = ("libmp3lame", "mp3") if fmt == "mp3" else ("libopus", "ogg")
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = 48000
        frame_size = 1152 if fmt == "mp3" else 960
        pts = 0
        for start in range(0, samples.size, frame_size * 64):
            chunk = samples[start:start + frame_size * 64]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += chunk.size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    path.write_bytes(buf.getvalue())


def make_video(path: Path, minutes: float, fmt: str) -> None:
    """A ``minutes``-long video: a square moving over a background whose colour drifts, and a bar
    counting the seconds, so neighbouring frames differ (a keyframe every KEYFRAME_S seconds)."""
    from fractions import Fraction

    import av

    codec, container, options = (
        ("libvpx", "webm", {"deadline": "realtime", "cpu-used": "8", "b": "600k", "crf": "20"}) if fmt == "webm"
        else ("libx264", "mp4", {"preset": "ultrafast", "crf": "30", "movflags": "+faststart"}))
    frames = int(minutes * 60 * VIDEO_FPS)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = VIDEO_W, VIDEO_H, "yuv420p"
        stream.time_base = Fraction(1, VIDEO_FPS)
        stream.options = {**options, "g": str(KEYFRAME_S * VIDEO_FPS), "keyint_min": str(KEYFRAME_S * VIDEO_FPS)}
        img = np.zeros((VIDEO_H, VIDEO_W, 3), dtype=np.uint8)
        # a patch of changing noise keeps the bit rate near a real small video's (a few hundred
        # kbit/s, not a few tens), so the file is not all buffered at once and seeking reads ranges
        noise = np.random.default_rng(0).integers(0, 256, (61, 48, 64, 3), dtype=np.uint8)
        for n in range(frames):
            img[:, :, 0] = (n // 7) % 256
            img[:, :, 1] = 60
            img[:, :, 2] = (n * 3) % 256
            x = (n * 2) % (VIDEO_W - 40)
            img[60:100, x:x + 40] = 255
            img[VIDEO_H - 8:, : (n // VIDEO_FPS) % VIDEO_W] = (255, 200, 0)
            img[8:56, 8:72] = noise[n % 61]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def setup(path: Path, config: str = CONFIG) -> tuple[int, float]:
    """Schema, an annotator, a lead, a project whose task is the file; (project id, duration read at import)."""
    from sqlmodel import select

    from labeling import imports, migrate, projects, users
    from labeling.db import read_session
    from labeling.imports import ImportFile
    from labeling.models import Media, Role

    migrate.upgrade()
    lead = users.create_user("lead@bench.local", role=Role.lead, password=PASSWORD)
    users.create_user("ann@bench.local", role=Role.annotator, password=PASSWORD)
    project = projects.create_project(lead, title="seek bench", label_config=config)
    imports.import_data(lead, project.id, files=[ImportFile(path.name, path=path)], background=False)
    with read_session() as s:
        media = s.exec(select(Media)).one()
    return project.id, media.duration, media.fps


SEEK = """async (target) => {
    const obj = window.labelfabAnnotate.workspace.objects.audio;
    const media = obj.media;
    if (!media.paused) {
        const paused = new Promise((r) => media.addEventListener('pause', r, { once: true }));
        obj.wave.pause();
        await paused;
    }
    await new Promise((r) => setTimeout(r, 50));
    const b = media.buffered;
    let buffered = false;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= target && target < b.end(i)) buffered = true;
    const t0 = performance.now();
    let seeked = null;
    media.addEventListener('seeked', () => { seeked = performance.now() - t0; }, { once: true });
    const playing = new Promise((r) => media.addEventListener('playing', r, { once: true }));
    obj.wave.setTime(target);
    obj.wave.play();
    await playing;
    const ms = performance.now() - t0;
    return { ms, seeked, at: media.currentTime, buffered };
}"""


VIDEO_SEEK = """async (target) => {
    const media = window.labelfabAnnotate.workspace.objects.video.video;
    if (!media.paused) {
        const paused = new Promise((r) => media.addEventListener('pause', r, { once: true }));
        media.pause();
        await paused;
    }
    await new Promise((r) => setTimeout(r, 50));
    const b = media.buffered;
    let buffered = false;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= target && target < b.end(i)) buffered = true;
    const t0 = performance.now();
    let seeked = null;
    media.addEventListener('seeked', () => { seeked = performance.now() - t0; }, { once: true });
    const playing = new Promise((r) => media.addEventListener('playing', r, { once: true }));
    media.currentTime = target;
    media.play();
    await playing;
    const ms = performance.now() - t0;
    return { ms, seeked, at: media.currentTime, buffered };
}"""
VIDEO_READY = """() => { const ws = window.labelfabAnnotate.workspace;
    const o = ws && ws.objects.video; return o && o.video && o.duration > 0; }"""
AUDIO_READY = """() => { const ws = window.labelfabAnnotate.workspace;
    const o = ws && ws.objects.audio; return o && o.annotator && o.wave && o.duration > 0; }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", action="store_true", help="a generated video instead of an audio file")
    parser.add_argument("--minutes", type=float, help="the file's length (default: 60, a video's 10)")
    parser.add_argument("--format", choices=("wav", "mp3", "opus", "webm", "mp4"),
                        help="default: wav, a video's webm")
    parser.add_argument("--seeks", type=int, default=12)
    args = parser.parse_args()
    kind = "video" if args.video else "audio"
    minutes = args.minutes or (10 if args.video else 60)
    fmt = args.format or ("webm" if args.video else "wav")
    if (fmt in ("webm", "mp4")) != args.video:
        parser.error("--format webm|mp4 goes with --video, wav|mp3|opus without")
    data_dir = Path(tempfile.mkdtemp(prefix="labelfab-bench-seek-"))
    os.environ.update(LABELFAB_DATA_DIR=str(data_dir), LABELFAB_BROKER_URL="stub://", LABELFAB_DATABASE_URL="",
                      LABELFAB_MAX_UPLOAD_MB="1024")
    path = data_dir / f"{'clip' if args.video else 'hour'}.{fmt}"
    started = time.perf_counter()
    (make_video if args.video else make_file)(path, minutes, fmt)
    made_s = time.perf_counter() - started
    started = time.perf_counter()
    project_id, duration, fps = setup(path, VIDEO_CONFIG if args.video else CONFIG)
    import_s = time.perf_counter() - started
    server = Server(os.environ.copy(), log_path=data_dir / "server.log")
    try:
        with logged_in_page(server.url, "ann@bench.local", PASSWORD, chromium_args=AUTOPLAY) as page:
            opened = time.perf_counter()
            page.goto(f"/annotate/{project_id}")
            page.wait_for_load_state("load")
            page.wait_for_function(VIDEO_READY if args.video else AUDIO_READY, timeout=60000)
            ready_ms = (time.perf_counter() - opened) * 1000
            page_duration = page.evaluate(f"() => window.labelfabAnnotate.workspace.objects.{kind}.duration")
            seek = VIDEO_SEEK if args.video else SEEK
            rng = random.Random(0)
            points = [duration * (0.05 + 0.9 * i / max(args.seeks - 1, 1)) for i in range(args.seeks)]
            rng.shuffle(points)
            page.evaluate(seek, 1.0)  # warm up: the first play opens the media pipeline
            runs = [page.evaluate(seek, p) for p in points]
    finally:
        server.stop()
    ms = [r["ms"] for r in runs]
    out = {
        "bench": "media_seek", "kind": kind, "format": fmt, "file_minutes": minutes,
        "file_mb": round(path.stat().st_size / 1e6, 1), "duration_read_at_import_s": duration,
        **({"fps_read_at_import": fps, "size": f"{VIDEO_W}x{VIDEO_H}", "keyframe_every_s": KEYFRAME_S}
           if args.video else {}),
        "duration_in_page_s": page_duration, "make_file_s": round(made_s, 1), "import_s": round(import_s, 2),
        "page_ready_ms": round(ready_ms), "seeks": len(ms),
        "seek_to_playing_ms": {"median": round(statistics.median(ms), 1), "p90": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1),
                               "max": round(max(ms), 1), "min": round(min(ms), 1)},
        "seek_points_s": [round(p, 1) for p in points],
        "seeked_ms_median": round(statistics.median(r["seeked"] for r in runs if r["seeked"] is not None), 1)
        if any(r["seeked"] is not None for r in runs) else None,
        "seeks_already_buffered": sum(1 for r in runs if r["buffered"]),
        "landed_within_0_5_s": all(abs(r["at"] - p) < 0.5 for r, p in zip(runs, points, strict=True)),
        "target_ms": TARGET_MS, "meets_target": max(ms) <= TARGET_MS,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
