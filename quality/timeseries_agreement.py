"""Agreement of annotators on time-series ranges and instant events (pure functions).

Two annotators of one TimeSeries agree as much as their ranges overlap: per label, the
temporal IoU (intersection over union) of the time each one covers with that label; instant
events (``"instant": true``) are compared as sets of ``(label, time)``, by Jaccard. A
control's figure is the mean of these terms over the labels either annotator used (and the
instants, when there are any), averaged over every pair of annotators.

The times are read as the TimeSeries stores them (:func:`labeling.schema.timeseries.time_of`:
numbers, or strings in its ``timeFormat``). The IoU of the time two annotators cover is
:func:`labeling.overlap.coverage_iou`.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from labeling.overlap import coverage_iou
from labeling.schema import ControlSpec
from labeling.schema.timeseries import time_of

__all__ = ["control_agreement", "pair_agreement", "series_marks"]


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
    terms = [coverage_iou(ra.get(label, []), rb.get(label, [])) for label in sorted(set(ra) | set(rb))]
    if ia or ib:
        terms.append(len(ia & ib) / len(ia | ib))
    return sum(terms) / len(terms) if terms else None


def control_agreement(control: ControlSpec, results: list[list[Any]]) -> float | None:
    """The mean :func:`pair_agreement` over every pair of annotators who marked something."""
    figures = [f for a, b in combinations(results, 2) if (f := pair_agreement(control, a or [], b or [])) is not None]
    return sum(figures) / len(figures) if figures else None
