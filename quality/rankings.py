"""Agreement between annotators on rankings, pairwise choices and HTML spans (pure functions).

- Ranker: Kendall's tau (``scipy.stats.kendalltau``, tau-b) between every pair of annotators'
  orders of the items both placed, averaged; with buckets, items are ranked by bucket (the
  buckets' config order, the list column ``"_"`` last) and then by position inside it.
- Pairwise: exact match, the share of pairs of annotators that picked the same side.
- HyperTextLabels: span agreement, the F1 of two annotators' spans matched exactly (same start
  and end in the document's text, same labels), averaged over pairs.

:func:`item_agreement` reads every annotation of one task (Label Studio results) and gives one
figure per control; :mod:`quality.task_agreement` says below what figure the annotators disagree,
the task's way to the review queue (every QC run's agreement step).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from labeling.schema import LabelSchema
from labeling.schema.rankings import ORIGINAL_ITEMS, ranker_columns

__all__ = ["control_agreement", "item_agreement", "kendall_tau", "pairwise_match", "rank_positions", "span_f1"]

#: Controls whose agreement is measured here, by result type.
MEASURED_TYPES = ("ranker", "pairwise", "hypertextlabels")


def rank_positions(ranker: dict[str, list[str]], columns: list[str]) -> dict[str, float]:
    """Item id -> rank (0 is best) of one Ranker value: by column in ``columns`` order (the
    list column ``"_"``, the items left unranked, last), then by position inside the column."""
    order = [c for c in columns if c != ORIGINAL_ITEMS] + [ORIGINAL_ITEMS]
    positions: dict[str, float] = {}
    for n, column in enumerate(order):
        for i, item in enumerate(ranker.get(column) or []):
            positions.setdefault(item, n * 1e6 + i if len(columns) > 1 else float(i))
    return positions


def kendall_tau(a: dict[str, float], b: dict[str, float]) -> float | None:
    """Kendall's tau-b between two rankings (item -> rank) over the items both ranked; None
    with fewer than two shared items or no variation."""
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        return None
    tau = kendalltau([a[i] for i in shared], [b[i] for i in shared]).statistic
    return None if np.isnan(tau) else float(tau)


def pairwise_match(choices: list[str]) -> float | None:
    """Share of pairs of annotators who picked the same side; None with fewer than two."""
    pairs = list(combinations(choices, 2))
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def span_f1(a: set[tuple], b: set[tuple]) -> float:
    """F1 of two annotators' spans (hashable ``(start, end, labels)``) matched exactly; 1.0
    when both marked nothing."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _span_key(value: dict) -> tuple:
    offsets = value.get("globalOffsets")
    where = ((offsets.get("start"), offsets.get("end")) if isinstance(offsets, dict)
             else (value.get("start"), value.get("startOffset"), value.get("end"), value.get("endOffset")))
    return (*where, tuple(sorted(map(str, value.get("hypertextlabels") or []))))


def item_agreement(schema: LabelSchema, results: list[list[dict[str, Any]]]) -> dict[str, float | None]:
    """Agreement of the annotations of one task, per measured control.

    Parameters
    ----------
    schema : LabelSchema
    results : list of list of dict
        One Label Studio result per annotator.

    Returns
    -------
    dict of str to float or None
        Control name -> mean Kendall's tau (Ranker, -1 to 1), exact-match share (Pairwise, 0
        to 1) or mean span F1 (HyperTextLabels, 0 to 1); None where fewer than two annotators
        answered it.
    """
    return {control.name: control_agreement(control, results)
            for control in schema.controls if control.type in MEASURED_TYPES}


def control_agreement(control: Any, results: list[list[dict[str, Any]]]) -> float | None:
    """Agreement of one task's annotators on one Ranker, Pairwise or HyperTextLabels control
    (see :func:`item_agreement`); None where fewer than two annotators answered it."""
    values = [[i["value"] for i in result if isinstance(i, dict) and i.get("from_name") == control.name
               and isinstance(i.get("value"), dict)] for result in results]
    if control.type == "ranker":
        columns = ranker_columns(control)
        ranks = [rank_positions(v[0].get("ranker") or {}, columns) for v in values if v]
        return _mean([kendall_tau(x, y) for x, y in combinations(ranks, 2)])
    if control.type == "pairwise":
        return pairwise_match([str(v[0].get("selected")) for v in values if v])
    spans = [{_span_key(v) for v in vs} for vs in values]
    return _mean([span_f1(x, y) for x, y in combinations(spans, 2)]) if len(spans) > 1 else None
