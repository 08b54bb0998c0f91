"""Video: the ``<Video>`` object, ``<TimelineLabels>`` (frame spans) and ``<VideoRectangle>``
(object tracking) on it; ``<Choices>`` classify a whole video, ``<Labels>`` name its tracks.

Result items as Label Studio's editor stores them (``web/libs/editor/src/regions/
TimelineRegion.js``, ``VideoRegion.js``, ``VideoRectangleRegion.js``; frames count from 1):

- TimelineLabels: ``{"type": "timelinelabels", "value": {"ranges": [{"start": 3, "end": 5}],
  "timelinelabels": ["Movement"]}}``, the frames ``start`` to ``end`` inclusive.
- VideoRectangle: ``{"type": "videorectangle", "value": {"framesCount": 250, "duration": 10.0,
  "sequence": [{"frame": 1, "enabled": true, "x": 10, "y": 20, "width": 30, "height": 40,
  "rotation": 0, "time": 0.04}, ...], "labels": ["Man"]}}``: keyframes in frame order (``time``
  is ``frame / frameRate``), coordinates in percent of the frame. Between two keyframes the box
  is interpolated linearly (rotation the short way round); after a keyframe with ``enabled:
  false`` the object is gone until the next keyframe (:func:`box_at`). The ``<Labels>`` on the
  same video are stored in the track's own ``value.labels`` (the Video tag's
  ``mergeLabelsAndResults``), never as ``labels`` items of their own.

``<Video frameRate="25">`` (Label Studio's default 24; ``$fps`` reads it from the task) is kept
in :attr:`~labeling.schema.model.ObjectSpec.frame_rate` for the page. ``sync="audio"`` ties a
video to an ``<Audio>`` of the same file (the "video timeline segmentation" template), kept in
:attr:`~labeling.schema.model.ObjectSpec.sync`: the page plays, pauses, seeks and sets the
speed of both together, the audio sounding and the video muted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, ObjectTag, attr, is_int, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, LabelSchema

__all__ = ["CONTROL_TAGS", "DEFAULT_FRAME_RATE", "MAX_KEYFRAMES", "MAX_RANGES", "OBJECT_TAGS", "TIMELINE_LABELS",
           "VIDEO", "VIDEO_RECTANGLE", "box_at", "check_track_labels", "frame_rate_of", "lifespan_end"]

#: Label Studio's frame rate when a ``<Video>`` names none.
DEFAULT_FRAME_RATE = 24.0
#: Bounds on one result item: keyframes of a track, ranges of a timeline span.
MAX_KEYFRAMES = 100_000
MAX_RANGES = 10_000
#: How far (percent of the frame side) a box may poke out of the frame, as for images.
_TOLERANCE = 0.01
_BOX = ("x", "y", "width", "height")


# ---------------------------------------------------------------------------- the object
def _video_data(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"data field {key!r} must be a video URL or path, got {value!r:.80}"
    return None


def _frame_rate_problem(value: str) -> str | None:
    if value.startswith("$") and len(value) > 1:
        return None  # read from the task's data, as Label Studio does
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        return f'has frameRate="{value}"; it must be a number of frames per second above 0, or "$field"'
    return None


def _video_attrs(el: Any) -> list[str]:
    rate = attr(el, "frameRate")
    problem = _frame_rate_problem(rate.strip()) if rate is not None else None
    return [problem] if problem else []


def _video_fields(el: Any) -> dict[str, Any]:
    rate = attr(el, "frameRate")
    return {"frame_rate": rate.strip() if rate is not None else None, "sync": attr(el, "sync")}


def frame_rate_of(frame_rate: str | None, data: Any = None) -> float:
    """The frames per second of a ``<Video>``: its ``frameRate`` (a number, or ``$field`` read
    from the task ``data``), normalised as Label Studio's editor does (a value below 1 is a
    frame duration: its inverse; missing or not a number: 24)."""
    raw: Any = frame_rate
    if isinstance(raw, str) and raw.startswith("$"):
        raw = data.get(raw[1:]) if isinstance(data, dict) else None
    try:
        rate = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_FRAME_RATE
    if not math.isfinite(rate) or rate <= 0:
        return DEFAULT_FRAME_RATE
    return 1 / rate if rate < 1 else rate


VIDEO = ObjectTag(name="Video", check_data=_video_data, check_attrs=_video_attrs, spec_fields=_video_fields)
OBJECT_TAGS = (VIDEO,)


# ---------------------------------------------------------------------------- timeline spans
def _check_timeline(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    ranges = value.get("ranges")
    if not isinstance(ranges, list) or not ranges:
        return [f'{where}: value.ranges must be a non-empty list of frame ranges like [{{"start": 3, "end": 5}}]']
    if len(ranges) > MAX_RANGES:
        return [f"{where}: value.ranges has {len(ranges):,} ranges; the limit is {MAX_RANGES:,}"]
    for n, r in enumerate(ranges):
        start, end = (r.get("start"), r.get("end")) if isinstance(r, dict) else (None, None)
        if not (is_int(start) and is_int(end)):
            return [f"{where}: value.ranges[{n}] must have whole frame numbers start and end, got {r!r:.80}"]
        if not 1 <= start <= end:
            return [f"{where}: value.ranges[{n}] is frames {start} to {end}; frames count from 1 "
                    "and the end is not before the start"]
    return []


def _timeline_text(value: dict) -> str:
    ranges = value.get("ranges") if isinstance(value.get("ranges"), list) else []
    spans = ", ".join(f"{r.get('start')}-{r.get('end')}" for r in ranges if isinstance(r, dict))
    return " ".join(map(str, value.get("timelinelabels") or [])) + (f" (frames {spans})" if spans else "")


def _video_kind(control: ControlSpec) -> str:
    return "video"  # scored by its annotators' agreement (quality.run.video)


TIMELINE_LABELS = ControlTag(name="TimelineLabels", result_type="timelinelabels", targets=("Video",),
                             label_tag="Label", check_item=_check_timeline, text=_timeline_text, region=True,
                             kind=_video_kind)


# ---------------------------------------------------------------------------- tracks
def _check_keyframe(k: Any, n: int, where: str) -> str | None:
    at = f"{where}: value.sequence[{n}]"
    if not isinstance(k, dict):
        return f"{at} must be an object"
    if not is_int(k.get("frame")) or k["frame"] < 1:
        return f"{at}.frame must be a whole frame number from 1, got {k.get('frame')!r}"
    if not isinstance(k.get("enabled", True), bool):
        return f"{at}.enabled must be true or false, got {k.get('enabled')!r}"
    bad = [f for f in _BOX if not is_number(k.get(f))]
    if bad:
        return f"{at}: {', '.join(bad)} must be numbers (percent of the frame)"
    for f in ("rotation", "time"):
        if f in k and not is_number(k[f]):
            return f"{at}.{f} must be a number, got {k[f]!r}"
    x, y, w, h = (k[f] for f in _BOX)
    if w < 0 or h < 0:
        return f"{at}: width {w} and height {h} must not be negative"
    tol = _TOLERANCE
    if not (-tol <= x <= 100 + tol and -tol <= y <= 100 + tol):
        return f"{at}: box corner ({x}, {y}) is outside the frame (0-100 percent)"
    if (k.get("rotation") or 0) % 360 == 0 and (x + w > 100 + tol or y + h > 100 + tol):
        return (f"{at}: box x={x}, y={y}, width={w}, height={h} goes outside the frame "
                "(x + width and y + height must be <= 100 percent)")
    if "time" in k and k["time"] < 0:
        return f"{at}.time must not be negative, got {k['time']!r}"
    return None


def _check_track(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    sequence = value.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        return [f"{where}: value.sequence must be a non-empty list of keyframes "
                '({"frame", "enabled", "x", "y", "width", "height", "rotation", "time"})']
    if len(sequence) > MAX_KEYFRAMES:
        return [f"{where}: value.sequence has {len(sequence):,} keyframes; the limit is {MAX_KEYFRAMES:,}"]
    for n, k in enumerate(sequence):
        problem = _check_keyframe(k, n, where)
        if problem:
            return [problem]
    frames = [k["frame"] for k in sequence]
    if any(b <= a for a, b in zip(frames, frames[1:], strict=False)):
        return [f"{where}: value.sequence must be in frame order, each frame once; frames are {frames[:20]}"]
    problems = []
    count = value.get("framesCount")
    if count is not None and (not is_int(count) or count < 1):
        problems.append(f"{where}: value.framesCount must be a whole number from 1, got {count!r}")
    duration = value.get("duration")
    if duration is not None and (not is_number(duration) or duration < 0):
        problems.append(f"{where}: value.duration must be a number of seconds, got {duration!r}")
    labels = value.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(n, str) for n in labels)):
        problems.append(f"{where}: value.labels must be a list of label names")
    return problems


def _track_text(value: dict) -> str:
    sequence = value.get("sequence") if isinstance(value.get("sequence"), list) else []
    frames = [k.get("frame") for k in sequence if isinstance(k, dict)]
    span = f", frames {frames[0]}-{frames[-1]}" if frames else ""
    labels = " ".join(map(str, value.get("labels") or []))
    return (labels + " " if labels else "") + f"(track, {len(frames)} keyframe{'s' if len(frames) != 1 else ''}{span})"


VIDEO_RECTANGLE = ControlTag(name="VideoRectangle", result_type="videorectangle", targets=("Video",),
                             check_item=_check_track, text=_track_text, region=True, kind=_video_kind)

CONTROL_TAGS = (TIMELINE_LABELS, VIDEO_RECTANGLE)


def check_track_labels(schema: LabelSchema, result: list[Any]) -> list[str]:
    """Problems of the ``value.labels`` of the result's tracks: each must be a label of a
    ``<Labels>`` on the track's video (Label Studio keeps them in the track's own item)."""
    problems = []
    for i, item in enumerate(result if isinstance(result, list) else []):
        if not isinstance(item, dict) or item.get("type") != "videorectangle":
            continue
        value = item.get("value")
        names = value.get("labels") if isinstance(value, dict) else None
        if not isinstance(names, list) or not names:
            continue
        known = [n for c in schema.controls if c.tag == "Labels" and item.get("to_name") in c.targets for n in c.labels]
        unknown = [n for n in names if n not in known]
        if unknown:
            where = f"result[{i}] ({item.get('from_name')})"
            problems.append(f"{where}: unknown label(s) {unknown} for the track; the <Labels> on "
                            f"{item.get('to_name')!r} have {known}")
    return problems


# ---------------------------------------------------------------------------- interpolation
def _normalize_angle(angle: float) -> float:
    """An angle on (-180, 180], as Label Studio's ``normalizeAngle``."""
    a = angle
    while a > 0:
        a -= 360
    return math.fmod(a - 180, 360) + 180


def _interpolate(a: dict, b: dict, frame: int, prop: str) -> float:
    r = (frame - a["frame"]) / (b["frame"] - a["frame"])
    if prop == "rotation":
        d = _normalize_angle(b.get("rotation", 0) - a.get("rotation", 0))
        return _normalize_angle(a.get("rotation", 0) + d * r)
    return a[prop] + (b[prop] - a[prop]) * r


def lifespan_end(sequence: list[dict], frames_count: int | None = None) -> int:
    """The last frame a track may show a box on: the video's last frame while its last
    keyframe is enabled, else that keyframe."""
    last = sequence[-1]
    if last.get("enabled", True) and frames_count is not None:
        return max(frames_count, last["frame"])
    return last["frame"]


def box_at(sequence: list[dict], frame: int) -> dict[str, float] | None:
    """The box of a track on ``frame`` as Label Studio's editor shows it, None where the track
    shows none.

    A keyframe's own frame shows its box; after an enabled keyframe the box is interpolated
    linearly toward the next keyframe (held after the last one); after a disabled keyframe (a
    track switched off) nothing is shown until the next keyframe. Before the first keyframe
    nothing is shown.

    Parameters
    ----------
    sequence : list of dict
        The track's ``value.sequence`` (valid: frame order, numbers).
    frame : int
        A frame number (from 1).

    Returns
    -------
    dict or None
        ``{"x", "y", "width", "height", "rotation"}`` in percent of the frame (rotation in degrees).

    Examples
    --------
    >>> seq = [{"frame": 1, "enabled": True, "x": 0, "y": 0, "width": 10, "height": 10, "rotation": 0},
    ...        {"frame": 11, "enabled": True, "x": 20, "y": 10, "width": 10, "height": 30, "rotation": 0}]
    >>> box_at(seq, 6)
    {'x': 10.0, 'y': 5.0, 'width': 10.0, 'height': 20.0, 'rotation': 0.0}
    """
    prev = nxt = None
    for k in sequence:
        if k["frame"] == frame:
            return {p: float(k.get(p, 0)) for p in (*_BOX, "rotation")}
        if k["frame"] > frame:
            nxt = k
            break
        prev = k
    if prev is None or not prev.get("enabled", True):
        return None
    if nxt is None:
        return {p: float(prev.get(p, 0)) for p in (*_BOX, "rotation")}
    return {p: float(_interpolate(prev, nxt, frame, p)) for p in (*_BOX, "rotation")}
