"""The final label of a task, derived from its annotations (DESIGN.md, item life cycle).

Two pure functions. :func:`people_label` is what the people gave (the only annotator's label or
their majority, a tie named and never broken): the review page's "given", and the final label
the QC policy stores when it accepts a task or lets a cleared suspect go (``Task.final_label`` /
``Task.final_source``); a model's consensus never becomes a final label by itself.
:func:`final_label` serves the exports for tasks that have no stored final label. Precedence:

1. a reviewer's decision                      -> source ``"reviewer"``
2. a QC consensus (CROWDLAB, Dawid-Skene, ...) -> source ``"consensus"``
3. the only annotator's label                  -> source ``"single"``
4. a majority vote over the annotators         -> source ``"majority"``

The majority vote is per label for classification (the most chosen class; ties go to the class
listed first in the label config) and multi-label (every label chosen by more than half of the
annotators). For spans, boxes and other results it is the most frequent whole result (results
compared item by item, ignoring item ids and order); ties go to the earliest annotation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from labeling import shapes
from labeling.canonical import result_key, results_match
from labeling.schema import LabelSchema, result_labels
from labeling.schema.values import values_close

__all__ = ["LABEL_SOURCES", "final_label", "label_value", "label_names", "people_label"]

#: Every value ``Task.final_source`` (and an export's ``label_source``) may take.
LABEL_SOURCES = ("reviewer", "consensus", "single", "majority")

Result = list[dict[str, Any]]


def final_label(
    schema: LabelSchema,
    annotations: list[Result],
    *,
    reviewer_result: Result | None = None,
    consensus: Result | None = None,
) -> tuple[Result | None, str | None]:
    """The final label of one task, and where it comes from.

    Parameters
    ----------
    schema : LabelSchema
        The project's label schema.
    annotations : list of list of dict
        The results of the task's submitted annotations (skips left out), earliest first.
    reviewer_result : list of dict, optional
        The result a reviewer decided on (keep or relabel); wins over everything else.
    consensus : list of dict, optional
        A consensus result computed by QC; wins over the annotators' own labels.

    Returns
    -------
    result : list of dict or None
        A Label Studio result; None when there is nothing to derive a label from.
    source : {"reviewer", "consensus", "single", "majority"} or None
        None exactly when ``result`` is None.

    Examples
    --------
    >>> final_label(schema, [cat, cat, dog])     # doctest: +SKIP
    ([{... "choices": ["cat"]}], "majority")
    """
    if reviewer_result is not None:
        return list(reviewer_result), "reviewer"
    if consensus is not None:
        return list(consensus), "consensus"
    results = [r for r in annotations if r is not None]
    if not results:
        return None, None
    if len(results) == 1:
        return list(results[0]), "single"
    kind = schema.kind
    if kind == "classification":
        return _majority_class(schema, results), "majority"
    if kind == "multilabel":
        return _majority_multilabel(schema, results), "majority"
    return _most_frequent_result(results), "majority"


def people_label(schema: LabelSchema, annotations: list[Result]) -> tuple[Result | None, str | None, list[Result]]:
    """The label the people gave a task: the only annotator's, or their majority, with no tie
    broken and nothing from a model.

    Parameters
    ----------
    schema : LabelSchema
    annotations : list of list of dict
        The results of the task's submitted annotations, earliest first.

    Returns
    -------
    result : list of dict or None
        None when there is no annotation, or when the annotators are tied.
    source : {"single", "majority"} or None
    tied : list of list of dict
        When the annotators are tied: one result per tied answer (in label-config order for
        classification, else in order of first appearance); else empty. Classification: two or
        more classes share the most votes. Multi-label: a label chosen by exactly half of the
        annotators. A per-task Number or Rating (``regression``): values more than a quarter of
        the scale apart (else the answer nearest their median is the majority). Other kinds: two
        or more whole results share the most votes.

    Examples
    --------
    >>> people_label(schema, [one, eight])     # doctest: +SKIP
    (None, None, [[... "1" ...], [... "8" ...]])
    """
    results = [r for r in annotations if r is not None]
    if not results:
        return None, None, []
    if len(results) == 1:
        return list(results[0]), "single", []
    kind = schema.kind
    primary = schema.primary_control
    if kind == "classification":
        votes: Counter[str] = Counter()
        for result in results:
            names = result_labels(schema, result).get(primary.name) or []
            if names:
                votes[names[0]] += 1
        if votes:
            best = max(votes.values())
            top = [name for name in primary.labels if votes[name] == best]
            top += [name for name in votes if votes[name] == best and name not in top]
            if len(top) > 1:
                return None, None, [_choice_item(schema, [name]) for name in top]
            return _choice_item(schema, top), "majority", []
    elif kind == "multilabel":
        votes = Counter()
        for result in results:
            votes.update(set(result_labels(schema, result).get(primary.name) or []))
        if any(votes[name] * 2 == len(results) for name in votes):
            sure = [name for name in primary.labels if votes[name] * 2 > len(results)]
            half = [name for name in primary.labels if votes[name] * 2 == len(results)]
            return None, None, [_choice_item(schema, sure), _choice_item(schema, sure + half)]
        return _majority_multilabel(schema, results), "majority", []
    if kind == "regression":
        return _closest_to_median(schema, results)
    if primary.type in _SHAPES or kind in ("audio", "video"):  # regions, segments, tracks and spans agree by overlap
        keys = _shape_groups(results)
    else:
        keys = [result_key(r) for r in results]
    counts = Counter(keys)
    best = max(counts.values())
    firsts: dict[str, Result] = {}
    for key, result in zip(keys, results, strict=True):
        if counts[key] == best:
            firsts.setdefault(key, list(result))
    if len(firsts) > 1:
        return None, None, list(firsts.values())
    return next(iter(firsts.values())), "majority", []


#: Result types whose annotators agree by overlap (IoU) or key point similarity (OKS), not equality.
_SHAPES = (shapes.AREA_TYPES | shapes.KEYPOINT_TYPES) - {"rectanglelabels"}


def _shape_groups(results: list[Result]) -> list[str]:
    """A group key per result: results that match (:func:`labeling.canonical.results_match`:
    regions paired one to one at IoU or OKS 0.5) share the key of the first of them."""
    keys: list[str] = []
    for i, result in enumerate(results):
        same = next((keys[j] for j in range(i) if results_match(results[j], result)), None)
        keys.append(same if same is not None else str(i))
    return keys


def _value_of(control: Any, result: Result) -> float | None:
    for item in result:
        if isinstance(item, dict) and item.get("from_name") == control.name and isinstance(item.get("value"), dict):
            value = item["value"].get(control.type)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def _closest_to_median(schema: LabelSchema, results: list[Result]) -> tuple[Result | None, str | None, list[Result]]:
    """A per-task Number or Rating (kind ``regression``): when every two annotators' values are
    close (:func:`labeling.schema.values.values_close`, a quarter of the scale, the bound QC's
    agreement uses), the answer of the annotator nearest their median (the earliest of equals),
    source ``majority`` -- a person's answer, never a computed one; otherwise a tie of the
    distinct answers, which goes to review."""
    control = schema.primary_control
    values = [_value_of(control, r) for r in results]
    known = [v for v in values if v is not None]
    if len(known) == len(values) and all(values_close(control, x, y) for x in known for y in known):
        median = sorted(known)[(len(known) - 1) // 2]
        best = min(range(len(results)), key=lambda i: (abs(values[i] - median), i))
        return list(results[best]), "majority", []
    firsts: dict[str, Result] = {}
    for result in results:
        firsts.setdefault(result_key(result), list(result))
    return None, None, list(firsts.values())


def _choice_item(schema: LabelSchema, names: list[str]) -> Result:
    control = schema.primary_control
    if not names:
        return []
    return [{"from_name": control.name, "to_name": control.to_name, "type": control.type,
             "value": {control.type: names}}]


def _majority_class(schema: LabelSchema, results: list[Result]) -> Result:
    primary = schema.primary_control.name
    votes: Counter[str] = Counter()
    for result in results:
        names = result_labels(schema, result).get(primary) or []
        if names:
            votes[names[0]] += 1
    if not votes:
        return _most_frequent_result(results)
    order = {name: i for i, name in enumerate(schema.primary_control.labels)}
    winner = max(votes, key=lambda name: (votes[name], -order.get(name, len(order))))
    return _choice_item(schema, [winner])


def _majority_multilabel(schema: LabelSchema, results: list[Result]) -> Result:
    primary = schema.primary_control.name
    votes: Counter[str] = Counter()
    for result in results:
        votes.update(set(result_labels(schema, result).get(primary) or []))
    chosen = [name for name in schema.primary_control.labels if votes[name] * 2 > len(results)]
    return _choice_item(schema, chosen)


def _most_frequent_result(results: list[Result]) -> Result:
    keys = [result_key(r) for r in results]
    counts = Counter(keys)
    best = max(counts.values())
    for key, result in zip(keys, results, strict=True):
        if counts[key] == best:
            return list(result)
    raise AssertionError("unreachable: results is not empty")


def label_names(schema: LabelSchema, result: Result | None) -> list[str]:
    """Label names of the primary control in ``result``, each once, in order of appearance."""
    if not result:
        return []
    return result_labels(schema, result).get(schema.primary_control.name, [])


def label_value(schema: LabelSchema, result: Result | None) -> Any:
    """The ``label`` column of an export: what a training pipeline reads.

    Parameters
    ----------
    schema : LabelSchema
    result : list of dict or None

    Returns
    -------
    str, list of str, list of dict or None
        The class name for classification (None if the result has no choice); the list of
        names for multi-label; the Label Studio result items for spans, boxes and other kinds.
    """
    if result is None:
        return None
    kind = schema.kind
    if kind == "classification":
        names = label_names(schema, result)
        return names[0] if names else None
    if kind == "multilabel":
        return label_names(schema, result)
    return result
