"""How far two annotators' video answers agree: pure functions over Label Studio result items
(shared by :mod:`labeling.canonical`, which pairs them to find a majority, and
:mod:`quality.video_agreement`, the QC figures).

* Timeline spans (``timelinelabels``): the temporal IoU of the frames each label covers. An
  answer is, per label, the set of frames its ranges cover (``start`` to ``end`` inclusive); two
  answers agree by the frames both give the same label over the frames either labels
  (``sum |A_l & B_l| / sum |A_l | B_l|``, :func:`labeling.overlap.frames_iou`): 1.0 when they mark
  the same frames with the same labels.
* Tracks (``videorectangle``): the IoU over frames. Two tracks compare on every frame either
  shows a box (the boxes interpolated between keyframes as Label Studio shows them,
  :func:`labeling.schema.video.box_at`): the mean IoU of their boxes, a frame where only one
  shows a box counting 0. Two answers pair their tracks one to one (same labels, greedily by
  the highest IoU over frames); their agreement is ``2 * sum(paired IoU) / (tracks of A + tracks
  of B)``, 1.0 when both track the same objects exactly. Boxes compare without their rotation.
"""

from __future__ import annotations

from typing import Any

from labeling.overlap import box_iou, frames_iou
from labeling.schema.video import box_at, lifespan_end

__all__ = ["MAX_FRAMES", "item_overlap", "timeline_frames", "track_iou", "tracks", "tracks_agreement"]

#: Frames compared per track pair at most (a longer span is sampled evenly).
MAX_FRAMES = 20_000


def _value(item: Any) -> dict:
    value = item.get("value") if isinstance(item, dict) else None
    return value if isinstance(value, dict) else {}


def timeline_frames(items: list[dict]) -> dict[str, set[int]]:
    """Label -> the frames an answer's timeline spans give it."""
    out: dict[str, set[int]] = {}
    for item in items:
        v = _value(item)
        for label in v.get("timelinelabels") or [None]:
            frames = out.setdefault(str(label), set())
            for r in v.get("ranges") or []:
                start, end = (r.get("start"), r.get("end")) if isinstance(r, dict) else (None, None)
                if isinstance(start, int) and isinstance(end, int) and 1 <= start <= end:
                    frames.update(range(start, min(end, start + MAX_FRAMES * 10) + 1))
    return out


def tracks(items: list[dict]) -> list[tuple[tuple[str, ...], list[dict], int | None]]:
    """An answer's tracks: ``(labels, keyframes in frame order, framesCount)``, malformed ones left out."""
    out = []
    for item in items:
        v = _value(item)
        seq = [k for k in v.get("sequence") or [] if isinstance(k, dict) and isinstance(k.get("frame"), int)
               and all(isinstance(k.get(p), int | float) for p in ("x", "y", "width", "height"))]
        if seq:
            seq.sort(key=lambda k: k["frame"])
            count = v.get("framesCount") if isinstance(v.get("framesCount"), int) else None
            out.append((tuple(sorted(map(str, v.get("labels") or []))), seq, count))
    return out


def track_iou(a: list[dict], b: list[dict], *, frames_count: int | None = None) -> float:
    """The IoU over frames of two tracks (keyframe sequences): the mean box IoU over the frames
    either shows a box on (0 where only one does); 0.0 when neither shows one.

    Examples
    --------
    >>> k = lambda f, x: {"frame": f, "enabled": True, "x": x, "y": 0, "width": 10, "height": 10}
    >>> track_iou([k(1, 0), k(11, 10)], [k(1, 0), k(11, 10)])
    1.0
    """
    first = min(a[0]["frame"], b[0]["frame"])
    last = max(lifespan_end(a, frames_count), lifespan_end(b, frames_count))
    step = max(1, (last - first + 1) // MAX_FRAMES)
    total = 0.0
    shown = 0
    for frame in range(first, last + 1, step):
        ba, bb = box_at(a, frame), box_at(b, frame)
        if ba is None and bb is None:
            continue
        shown += 1
        if ba is not None and bb is not None:
            total += box_iou(ba, bb)
    return total / shown if shown else 0.0


def tracks_agreement(a: list[dict], b: list[dict]) -> float:
    """How far two answers' tracks agree (see the module); 1.0 when neither has a track."""
    ta, tb = tracks(a), tracks(b)
    if not ta and not tb:
        return 1.0
    scored = sorted(((track_iou(sa, sb, frames_count=ca or cb), i, j)
                     for i, (la, sa, ca) in enumerate(ta) for j, (lb, sb, cb) in enumerate(tb) if la == lb),
                    reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    paired = 0.0
    for iou, i, j in scored:
        if i in used_a or j in used_b or iou <= 0:
            continue
        used_a.add(i)
        used_b.add(j)
        paired += iou
    return 2 * paired / (len(ta) + len(tb))


def item_overlap(a: dict, b: dict) -> float | None:
    """How far two result items of one video control agree, 0..1: two timeline spans by their
    temporal IoU, two tracks by their IoU over frames; None for other items."""
    kind = a.get("type") if isinstance(a, dict) else None
    if kind != (b.get("type") if isinstance(b, dict) else None):
        return None
    if kind == "timelinelabels":
        return frames_iou(timeline_frames([a]), timeline_frames([b]))
    if kind == "videorectangle":
        (ta, tb) = tracks([a]), tracks([b])
        if not ta or not tb:
            return 0.0
        return track_iou(ta[0][1], tb[0][1], frames_count=ta[0][2] or tb[0][2])
    return None
