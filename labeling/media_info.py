"""Audio and video files: what they are, how long they play, and storing them by content.

The plumbing shared by the audio and video families (ARCHITECTURE.md, labeling/ — media_info).
Pillow covers images (:mod:`labeling.media`); this module covers the media that play in time,
read with PyAV (``av`` on PyPI, whose wheel ships FFmpeg's libraries: nothing else to install).

Interface (small on purpose; the video family relies on it):

- :func:`is_av_name` / :func:`sniff_av_format`: whether a file name or its first bytes are audio
  or video (a cheap check used to sort import files; it proves nothing).
- :func:`probe` ``(data, name=...) -> AvInfo``: the file opened with the one FFmpeg demuxer its
  magic number names (never FFmpeg's guessing, so no playlist or concat demuxer ever reads another
  file or URL), refused unless it has an audio or a video stream; ``AvInfo`` holds ``sha256``,
  ``kind`` (``"audio"`` or ``"video"``), ``ext`` (the stored extension), ``mime``, ``size``,
  ``duration`` (seconds, None when the container does not say), ``fps``, ``width``, ``height``
  (video; 0 for audio), ``channels`` and ``sample_rate`` (the first audio stream; 0 without one).
- :func:`store_av` ``(data, store=..., name=...) -> (AvInfo, new)``: probe, then put the bytes in
  the media store under ``ab/cd/<sha256>.<ext>`` (:func:`labeling.mediastore.media_key`);
  storing the same bytes again writes nothing.

The import stores these facts on the :class:`~labeling.models.Media` row (``duration``, ``fps``,
``width``, ``height``, ``channels``); the labeling page gets them as its task's ``media``
(:func:`labeling.router.serve_next` with ``for_page``; ``this.taskMedia`` in the page's scripts).
Stored files are served by the access-checked ``/media/P/<sha>.<ext>`` route with
HTTP range requests (werkzeug's conditional ``send_file``: 206, ``Accept-Ranges``,
``Content-Range``), which is what seeking in a long file needs.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeling.media import MediaError

__all__ = [
    "AUDIO_EXTENSIONS",
    "AV_EXTENSIONS",
    "STORED_MIME",
    "VIDEO_EXTENSIONS",
    "AvInfo",
    "is_av_name",
    "probe",
    "sniff_av_format",
    "store_av",
]

#: File-name extensions taken to be audio or video (lower case, with the dot).
AUDIO_EXTENSIONS: frozenset[str] = frozenset({".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac"})
VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".m4v", ".webm", ".mov", ".ogv"})
AV_EXTENSIONS: frozenset[str] = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

#: Stored extension -> MIME type served (audio ones for files without a video stream).
STORED_MIME: dict[str, str] = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg", "flac": "audio/flac",
    "m4a": "audio/mp4", "aac": "audio/aac", "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
    "ogv": "video/ogg", "weba": "audio/webm",
}



@dataclass(frozen=True, slots=True)
class AvInfo:
    """What is known about an accepted audio or video file (see the module's docstring)."""

    sha256: str
    kind: str
    ext: str
    mime: str
    size: int
    duration: float | None
    fps: float | None = None
    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate: int = 0


def is_av_name(name: str) -> bool:
    """True when the file name's extension is an accepted audio or video one."""
    return os.path.splitext(name)[1].lower() in AV_EXTENSIONS


def sniff_av_format(head: bytes) -> str | None:
    """The FFmpeg demuxer (``wav``, ``mp3``, ``ogg``, ``flac``, ``mov``, ``matroska``, ``aac``)
    that a file's first bytes (16 are enough) name, else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06):  # an MPEG audio frame, layer I-III
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[4:8] == b"ftyp":
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    return None


def _stored_ext(demuxer: str, kind: str, name: str) -> str:
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    if demuxer == "ogg":
        if kind == "video":
            return "ogv"
        return "opus" if ext == "opus" else "ogg"
    if demuxer == "mov":
        if kind == "video":
            return "mov" if ext == "mov" else "mp4"
        return "m4a"
    if demuxer == "matroska":
        return "webm" if kind == "video" else "weba"
    return demuxer  # wav, mp3, flac, aac


def _rate(value: Any) -> float | None:
    try:
        out = float(value) if value is not None else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(out, 6) if out and out > 0 else None


def probe(data: bytes, *, name: str) -> AvInfo:
    """Open an uploaded audio or video file with PyAV and read its facts (nothing decoded).

    Parameters
    ----------
    data : bytes
        The file's bytes.
    name : str
        The file's name, for messages and to tell ``.opus`` and ``.mov`` files from their cousins.

    Returns
    -------
    AvInfo

    Raises
    ------
    MediaError
        Empty, not a recognised audio or video container, unreadable, or without an audio or
        video stream.
    """
    if not data:
        raise MediaError(f"{name}: file is empty")
    demuxer = sniff_av_format(data[:16])
    if demuxer is None:
        raise MediaError(f"{name}: not an audio or video file (accepted: WAV, MP3, Ogg/Opus, FLAC, AAC, "
                         "MP4/M4A/MOV, WebM)")
    import av  # FFmpeg's libraries: imported only when a media file arrives

    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            videos = [st for st in container.streams.video if st.codec_context is not None]
            audios = list(container.streams.audio)
            if not videos and not audios:
                raise MediaError(f"{name}: has neither an audio nor a video stream")
            duration = container.duration / av.time_base if container.duration else None
            if duration is None:
                for st in (*videos, *audios):
                    if st.duration and st.time_base:
                        duration = float(st.duration * st.time_base)
                        break
            kind = "video" if videos else "audio"
            fps = width = height = None
            if videos:
                v = videos[0]
                fps = _rate(v.average_rate) or _rate(v.guessed_rate) or _rate(v.base_rate)
                width, height = v.codec_context.width, v.codec_context.height
            channels = sample_rate = 0
            if audios:
                a = audios[0].codec_context
                channels = int(getattr(a, "channels", 0) or 0)
                sample_rate = int(a.sample_rate or 0)
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError, IndexError, KeyError, TypeError) as exc:
        raise MediaError(f"{name}: not a readable audio or video file ({exc})") from exc
    ext = _stored_ext(demuxer, kind, name)
    mime = STORED_MIME[ext]
    return AvInfo(sha256=hashlib.sha256(data).hexdigest(), kind=kind, ext=ext, mime=mime, size=len(data),
                  duration=round(duration, 6) if duration and duration > 0 else None, fps=fps,
                  width=int(width or 0), height=int(height or 0), channels=channels, sample_rate=sample_rate)


def store_av(data: bytes, *, store: Any = None, media_root: Path | None = None, name: str) -> tuple[AvInfo, bool]:
    """Probe (:func:`probe`) and store an audio or video file by content.

    Returns the facts and whether the bytes were new to the store (``store``, a
    :class:`labeling.mediastore.MediaStore`, or the local folder ``media_root``). Nothing is
    written for a refused file.
    """
    from labeling.mediastore import put_by_content

    info = probe(data, name=name)
    return info, put_by_content(data, info.sha256, info.ext, store=store, media_root=media_root)
