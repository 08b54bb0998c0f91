"""Agreement between annotators on taxonomy paths and on spans in dialogues (pure functions).

cleanlab has no method for hierarchical choices or for spans across paragraphs, so these
types are checked by agreement between the annotators of one item (issue "Label Studio
projects move over": exact match of taxonomy paths; span agreement as for named entities):

* a taxonomy answer is the set of its paths; two answers agree by the Jaccard index of their
  sets (1.0 when they pick exactly the same paths);
* a ParagraphLabels answer is the set of its spans ``(start, end, startOffset, endOffset,
  label)``; two answers agree by the F1 of exactly matching spans (both empty: 1.0), the
  measure NER agreement uses.

An item agrees when every pair of its annotators does (score 1.0); its score is the mean over
pairs, and an item below 1.0 is a disagreement that the QC policy sends to review.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

__all__ = ["item_agreement", "pair_score", "paragraph_spans", "taxonomy_paths"]


def taxonomy_paths(items: list[dict]) -> frozenset[tuple[str, ...]]:
    """The paths of a Taxonomy's result items, as a set of tuples."""
    out: set[tuple[str, ...]] = set()
    for item in items:
        value = item.get("value") if isinstance(item, dict) else None
        for path in (value or {}).get("taxonomy") or []:
            if isinstance(path, list) and all(isinstance(n, str) for n in path):
                out.add(tuple(path))
    return frozenset(out)


def paragraph_spans(items: list[dict]) -> frozenset[tuple[Any, ...]]:
    """The spans of ParagraphLabels result items: ``(start, end, startOffset, endOffset, label)``,
    paragraph indexes read as numbers (``"0"`` and ``0`` are the same paragraph)."""
    out: set[tuple[Any, ...]] = set()
    for item in items:
        v = item.get("value") if isinstance(item, dict) else None
        if not isinstance(v, dict):
            continue
        try:
            where = (int(v.get("start")), int(v.get("end")), int(v.get("startOffset")), int(v.get("endOffset")))
        except (TypeError, ValueError):
            continue
        for label in v.get("paragraphlabels") or [None]:
            out.add((*where, label))
    return frozenset(out)


def pair_score(a: frozenset, b: frozenset, *, measure: str = "jaccard") -> float:
    """Agreement of two answers given as sets: ``"jaccard"`` (taxonomy paths) or ``"f1"`` (spans).

    Examples
    --------
    >>> pair_score(frozenset({("A", "B")}), frozenset({("A", "B")}))
    1.0
    >>> pair_score(frozenset({1, 2}), frozenset({2, 3}), measure="f1")
    0.5
    """
    if not a and not b:
        return 1.0
    both = len(a & b)
    if measure == "jaccard":
        return both / len(a | b)
    if measure == "f1":
        return 2 * both / (len(a) + len(b))
    raise ValueError(f"unknown measure {measure!r}; use 'jaccard' or 'f1'")


def item_agreement(answers: list[frozenset], *, measure: str = "jaccard") -> tuple[float, np.ndarray]:
    """The agreement of one item's answers (one per annotator): the mean pairwise score, and
    each answer's mean score against the others. Fewer than two answers: ``(nan, [nan...])``.
    """
    n = len(answers)
    per = np.full(n, np.nan)
    if n < 2:
        return float("nan"), per
    m = np.eye(n)
    for i, j in combinations(range(n), 2):
        m[i, j] = m[j, i] = pair_score(answers[i], answers[j], measure=measure)
    per = (m.sum(axis=1) - 1.0) / (n - 1)
    return float(m[np.triu_indices(n, k=1)].mean()), per
