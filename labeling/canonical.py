"""Canonical JSON and result comparison: one encoding for content hashes, diffs and equality.

Canonical JSON is sorted keys, compact separators, UTF-8 text (not ``\\u`` escapes) and no NaN
or infinity; a task's content hash is the sha256 of its data in canonical JSON, which is also
how imports store it, so the same data always hash alike (docs/ARCHITECTURE.md, "labeling/ —
the domain": ``canonical``). Results are compared as people read them: :func:`result_key` for
exact equality up to item ids and scores, :func:`results_match` with boxes paired by overlap.
"""

from __future__ import annotations

import hashlib
import re
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from labeling.overlap import box_iou, span_iou

__all__ = ["content_hash", "dumps", "result_key", "results_match", "sha256_text"]


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} cannot be stored as JSON")


# The C encoder of the json module, made once: json.dumps (and JSONEncoder.encode) build a new
# one on every call, which costs more than encoding a small task. Values here are parsed JSON or
# built from it: no cycles to look for.
_iterencode = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, False)
# The same for stored JSON taken as it is (NaN included): comparing results, exports.
_iterencode_any = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, True)


def dumps(value: Any, *, allow_nan: bool = False) -> str:
    """Canonical JSON of ``value``.

    Parameters
    ----------
    allow_nan : bool
        Write NaN and infinity as ``NaN`` / ``Infinity`` (JSON read back from storage, as it
        is) instead of refusing them.

    Raises
    ------
    ValueError
        NaN or infinity, unless ``allow_nan``.
    TypeError
        A value JSON cannot hold.
    """
    return "".join((_iterencode_any if allow_nan else _iterencode)(value, 0))


def sha256_text(text: str) -> str:
    """Hex sha256 of ``text`` encoded as UTF-8 (of canonical JSON already made)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(data: Any) -> str:
    """A task's content hash: hex sha256 of its data in canonical JSON."""
    return sha256_text(dumps(data))


_NOT_COMPARED = ("id", "origin", "score")
_WORD = re.compile(r"[\w']+")


def result_key(result: list[Any]) -> str:
    """A key equal for two results that hold the same items in any order, whatever their
    ``id``, ``origin`` and ``score``; a relation names its two regions by what they hold
    (their other items), not by their ids."""
    items = []
    for item in result:
        if isinstance(item, dict):
            item = {k: v for k, v in item.items() if k not in _NOT_COMPARED}
        items.append("".join(_iterencode_any(item, 0)))
    regions: dict[Any, list[str]] = {}
    for item, text in zip(result, items, strict=True):
        if isinstance(item, dict) and item.get("type") != "relation" and isinstance(item.get("id"), str):
            regions.setdefault(item["id"], []).append(text)
    for n, item in enumerate(result):
        if isinstance(item, dict) and item.get("type") == "relation":
            ends = {k: sorted(regions.get(item.get(k), [str(item.get(k))])) for k in ("from_id", "to_id")}
            items[n] = "".join(_iterencode_any({**item, **ends}, 0))
    return "\n".join(sorted(items))


def _keys(result: Any) -> tuple[list, list]:
    """(sorted hashable keys of the non-box items, box items) of a result."""
    from labeling import shapes  # here: importing this module stays light (the importer's workers)

    keys, boxes = [], []
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        kind = str(item.get("type", "")).lower()
        value = item["value"]
        name = item.get("from_name")
        if kind == "rectanglelabels":
            boxes.append((name, tuple(sorted(map(str, value.get("rectanglelabels") or []))), value))
        elif kind in shapes.AREA_TYPES or kind in shapes.KEYPOINT_TYPES:  # polygons, ellipses, masks, points
            boxes.append((name, (kind, *sorted(map(str, value.get(kind) or []))), item))
        elif kind in ("videorectangle", "timelinelabels"):  # tracks, frame spans (labeling.tracks)
            labels = value.get("labels" if kind == "videorectangle" else kind) or []
            boxes.append((name, (kind, *sorted(map(str, labels))), item))
        elif kind == "choices":
            keys.append((name, kind, tuple(sorted(map(str, value.get("choices") or [])))))
        elif kind == "labels" and _timed(value):  # a segment of audio: paired by its overlap
            boxes.append((name, ("segment", *sorted(map(str, value.get("labels") or []))), value))
        elif kind == "labels":
            keys.append((name, kind, value.get("start"), value.get("end"),
                         tuple(sorted(map(str, value.get("labels") or [])))))
        elif kind == "textarea" and _timed(value):  # a segment's transcription: its words
            keys.append((name, kind, tuple(_WORD.findall(" ".join(map(str, value.get("text") or [])).lower()))))
        elif kind == "textarea":
            keys.append((name, kind, tuple(str(t).strip() for t in value.get("text") or [])))
        elif kind == "rating":
            keys.append((name, kind, value.get("rating")))
    return sorted(keys, key=repr), boxes


def _timed(value: dict) -> bool:
    """A segment in seconds (audio: Label Studio stores floats), not a span of text offsets."""
    start, end = value.get("start"), value.get("end")
    return (isinstance(start, float) or isinstance(end, float)) and isinstance(start, int | float) \
        and isinstance(end, int | float)


def _overlap(a: dict, b: dict) -> float:
    from labeling import shapes, tracks

    if a.get("type") in ("videorectangle", "timelinelabels"):  # IoU over frames, temporal IoU
        return tracks.item_overlap(a, b) or 0.0
    if _timed(a) and _timed(b):  # temporal IoU of two segments
        return span_iou((a["start"], a["end"]), (b["start"], b["end"]))
    if "value" in a or "value" in b:  # polygons, ellipses, masks (IoU) and key points (OKS)
        return shapes.similarity(a, b) or 0.0
    return box_iou(a, b)


def results_match(a: Any, b: Any, *, iou: float = 0.5) -> bool:
    """True when two results say the same: equal choices, spans (offsets and labels), text and
    ratings; boxes, polygons, ellipses and masks paired one to one with equal labels and an
    overlap (IoU) of at least ``iou``, key points with a similarity (OKS) of at least ``iou``;
    audio segments (seconds) with a temporal IoU of at least ``iou``, their transcriptions by
    their words (case and punctuation aside); video tracks by their IoU
    over frames and timeline spans by their temporal IoU."""
    keys_a, boxes_a = _keys(a)
    keys_b, boxes_b = _keys(b)
    if keys_a != keys_b or len(boxes_a) != len(boxes_b):
        return False
    free = list(boxes_b)
    for name, labels, value in boxes_a:
        best = max((j for j, other in enumerate(free) if other[0] == name and other[1] == labels),
                   key=lambda j: _overlap(value, free[j][2]), default=None)
        if best is None or _overlap(value, free[best][2]) < iou:
            return False
        free.pop(best)
    return True
