"""Intersection over union, the one copy of each (pure functions).

Every agreement measure that compares extents -- audio segments, time-series ranges, video
timeline spans, boxes -- takes its IoU from here. There is one function per semantic, named for
it, since they differ in what they compare and in what two empty extents mean:

* :func:`span_iou` ``(a, b)``: two spans ``(start, end)`` on a continuous axis (seconds of audio,
  a time series' x); 0.0 when they do not overlap or either is empty.
* :func:`coverage_iou` ``(a, b)``: the time two *sets* of spans cover (each set's overlapping
  spans merged first); 1.0 when both cover nothing (two annotators who marked nothing agree).
* :func:`frames_iou` ``(a, b)``: two answers' frames per label (a discrete axis, ``label -> set of
  frames``), pooled over labels: ``sum |A_l & B_l| / sum |A_l | B_l|``; 1.0 when both are empty.
* :func:`box_iou` ``(a, b)``: two axis-aligned boxes ``{"x", "y", "width", "height"}``; 0.0 when
  their union is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["box_iou", "coverage_iou", "frames_iou", "merged_spans", "span_iou"]


def span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two spans ``(start, end)`` (0.0 when either is empty).

    Examples
    --------
    >>> span_iou((0.0, 2.0), (1.0, 3.0))
    0.3333333333333333
    >>> span_iou((0.0, 1.0), (2.0, 3.0))
    0.0
    """
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    if inter <= 0 or union <= 0:
        return 0.0
    return inter / union


def merged_spans(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Spans sorted, those that overlap or touch merged into one."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def coverage_iou(a: Iterable[tuple[float, float]], b: Iterable[tuple[float, float]]) -> float:
    """Intersection over union of the time two sets of spans cover; 1.0 when both cover nothing.

    Examples
    --------
    >>> coverage_iou([(0, 10)], [(5, 15)])
    0.3333333333333333
    >>> coverage_iou([(0, 4), (2, 6)], [(0, 6)])
    1.0
    """
    ma, mb = merged_spans(a), merged_spans(b)
    union = sum(hi - lo for lo, hi in merged_spans(ma + mb))
    if union == 0:
        return 1.0
    inter, i, j = 0.0, 0, 0
    while i < len(ma) and j < len(mb):
        inter += max(0.0, min(ma[i][1], mb[j][1]) - max(ma[i][0], mb[j][0]))
        if ma[i][1] < mb[j][1]:
            i += 1
        else:
            j += 1
    return inter / union


def frames_iou(a: Mapping[str, set[int]], b: Mapping[str, set[int]]) -> float:
    """IoU of two answers' frames per label, pooled over labels; 1.0 when both are empty.

    Examples
    --------
    >>> frames_iou({"Run": set(range(1, 11))}, {"Run": set(range(6, 16))})
    0.3333333333333333
    """
    inter = union = 0
    for label in set(a) | set(b):
        fa, fb = a.get(label, set()), b.get(label, set())
        inter += len(fa & fb)
        union += len(fa | fb)
    return inter / union if union else 1.0


def box_iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """IoU of two axis-aligned boxes ``{"x", "y", "width", "height"}`` (a missing key reads 0).

    Examples
    --------
    >>> box_iou({"x": 0, "y": 0, "width": 10, "height": 10}, {"x": 5, "y": 0, "width": 10, "height": 10})
    0.3333333333333333
    """
    ax, ay, aw, ah = (float(a.get(k, 0)) for k in ("x", "y", "width", "height"))
    bx, by, bw, bh = (float(b.get(k, 0)) for k in ("x", "y", "width", "height"))
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
