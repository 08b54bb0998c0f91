"""Agreement of annotators on time-series ranges and instant events (pure functions).

Two annotators of one TimeSeries agree as much as their ranges overlap: per label, the
temporal IoU (intersection over union) of the time each one covers with that label; instant
events (``"instant": true``) are compared as sets of ``(label, time)``, by Jaccard. A
control's figure is the mean of these terms over the labels either annotator used (and the
instants, when there are any), averaged over every pair of annotators.

The times are read as the TimeSeries stores them (:func:`labeling.schema.timeseries.time_of`:
numbers, or strings in its ``timeFormat``). :func:`temporal_iou` is this module's own (the
audio work brings one for audio regions; both compute the same figure).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

from labeling.schema import ControlSpec
from labeling.schema.timeseries import time_of

__all__ = ["control_agreement", "pair_agreement", "series_marks", "temporal_iou"]


def _merged(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in intervals)


def temporal_iou(a: Iterable[tuple[float, float]], b: Iterable[tuple[float, float]]) -> float:
    """Intersection over union of the time two sets of intervals cover.

    Parameters
    ----------
    a, b : iterable of (start, end)
        Intervals (overlapping ones are merged first).

    Returns
    -------
    float
        In [0, 1]; 1.0 when both cover nothing.

    Examples
    --------
    >>> temporal_iou([(0, 10)], [(5, 15)])
    0.3333333333333333
    >>> temporal_iou([(0, 4), (2, 6)], [(0, 6)])
    1.0
    """
    ma, mb = _merged(a), _merged(b)
    union = _length(_merged(ma + mb))
    if union == 0:
        return 1.0
    inter, i, j = 0.0, 0, 0
    while i < len(ma) and j < len(mb):
        lo, hi = max(ma[i][0], mb[j][0]), min(ma[i][1], mb[j][1])
        inter += max(0.0, hi - lo)
        if ma[i][1] < mb[j][1]:
            i += 1
        else:
            j += 1
    return inter / union


def series_marks(control: ControlSpec, items: list[dict]) -> tuple[dict[str, list[tuple[float, float]]],
                                                                  frozenset[tuple[str, float]]]:
    """One annotator's ranges per label and instant events of ``control``, on the x axis.

    Items of other controls, and boundaries that do not read as times, are left out.
    """
    ranges: dict[str, list[tuple[float, float]]] = {}
    instants: set[tuple[str, float]] = set()
    for item in items:
        if not isinstance(item, dict) or item.get("from_name") != control.name:
            continue
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        labels = value.get("timeserieslabels") or []
        if control.series is not None:
            t0, t1 = time_of(control.series, value.get("start")), time_of(control.series, value.get("end"))
        else:
            t0, t1 = value.get("start"), value.get("end")
        if not isinstance(t0, int | float) or not isinstance(t1, int | float) or not isinstance(labels, list):
            continue
        for label in map(str, labels):
            if value.get("instant") is True or t0 == t1:
                instants.add((label, float(t0)))
            else:
                ranges.setdefault(label, []).append((float(min(t0, t1)), float(max(t0, t1))))
    return ranges, frozenset(instants)


def pair_agreement(control: ControlSpec, a: list[dict], b: list[dict]) -> float | None:
    """Agreement of two annotators' results on ``control`` (see the module's notes); None when
    neither marked anything."""
    ra, ia = series_marks(control, a)
    rb, ib = series_marks(control, b)
    terms = [temporal_iou(ra.get(label, []), rb.get(label, [])) for label in sorted(set(ra) | set(rb))]
    if ia or ib:
        terms.append(len(ia & ib) / len(ia | ib))
    return sum(terms) / len(terms) if terms else None


def control_agreement(control: ControlSpec, results: list[list[Any]]) -> float | None:
    """The mean :func:`pair_agreement` over every pair of annotators who marked something."""
    figures = [f for a, b in combinations(results, 2) if (f := pair_agreement(control, a or [], b or [])) is not None]
    return sum(figures) / len(figures) if figures else None
