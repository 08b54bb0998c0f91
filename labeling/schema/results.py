"""Reading and writing results: label names per control, a result from label names, and a
result (or a label value QC stored) as text for people."""

from __future__ import annotations

from typing import Any

from labeling.schema.model import LabelSchema
from labeling.schema.registry import CONTROLS, RESULT_TYPES
from labeling.schema.tags import is_int

__all__ = ["label_text", "result_from_labels", "result_labels"]


def result_labels(schema: LabelSchema, result: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Label names chosen in a result, per control.

    Parameters
    ----------
    schema : LabelSchema
    result : list of dict
        A result that :func:`validate_result` accepts; items of unknown controls are skipped.

    Returns
    -------
    dict of str to list of str
        For every Choices, Labels and RectangleLabels control: the label names its items carry,
        each once, in order of first appearance (``[]`` if none).
    """
    labels: dict[str, list[str]] = {
        c.name: [] for c in schema.controls if CONTROLS[c.tag].label_field is not None
    }
    for item in result:
        if not isinstance(item, dict) or item.get("from_name") not in labels:
            continue
        control = schema.control(item["from_name"])
        value = item.get("value")
        field = CONTROLS[control.tag].label_field
        names = value.get(field) if isinstance(value, dict) else None
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name not in labels[control.name]:
                labels[control.name].append(name)
    return labels


def result_from_labels(schema: LabelSchema, labels: list[str] | str) -> list[dict[str, Any]]:
    """Build a choices result for the primary control from label names.

    Parameters
    ----------
    schema : LabelSchema
        A schema whose primary control is a Choices (kind classification or multilabel).
    labels : str or list of str
        One label name, or several for a multiple-choice control.

    Returns
    -------
    list of dict
        ``[{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}]``, or
        ``[]`` for an empty list on a multiple-choice control (Label Studio keeps no item when
        nothing is chosen).

    Raises
    ------
    ValueError
        If the primary control is not Choices, a label is unknown or repeated, or a
        single-choice control gets other than exactly one label.
    """
    control = schema.primary_control
    if control.tag != "Choices":
        raise ValueError(
            f"the primary control {control.name!r} is <{control.tag}>; labels can only be set "
            "from names for <Choices> (classification or multilabel)"
        )
    names = [labels] if isinstance(labels, str) else list(labels)
    unknown = [n for n in names if n not in control.labels]
    if unknown:
        raise ValueError(
            f"unknown label(s) {unknown} for control {control.name!r}; labels are {control.labels}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"label repeated in {names}")
    if control.choice == "single" and len(names) != 1:
        raise ValueError(
            f"control {control.name!r} takes exactly one label, got {len(names)}: {names}"
        )
    if not names:
        return []
    return [
        {
            "from_name": control.name,
            "to_name": control.to_name,
            "type": "choices",
            "value": {"choices": names},
        }
    ]


def label_text(result: Any) -> str:
    """A short human reading of a result (or of a label value QC stored), for pages and lists.

    Parameters
    ----------
    result : list of dict, str, list of str, number or None
        Result items, or a label as QC stores it (a class name, a list of names).

    Returns
    -------
    str
        Each result item read by its tag family and joined with ``"; "``: choices give their
        names (``"cat"``, ``"cat, dog"``), spans ``PER 'Ada'``, boxes ``car (box)``, text
        areas their text, ratings ``4 stars``, relations ``ORG [0:9] → PER [25:35] (founded_by)``
        (after the regions); an item on a page of a document says it (``Cover (page 1)``). A plain string or list of strings is shown as
        is; None gives ``""``.
    """
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    if isinstance(result, int | float) and not isinstance(result, bool):
        return str(result)
    if isinstance(result, list) and all(isinstance(x, str) for x in result):
        return ", ".join(result)
    if not isinstance(result, list):
        return str(result)
    parts = []
    regions: dict[str, str] = {}  # region id -> its reading, for the relations between regions
    for item in result:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict):
            continue
        tag = RESULT_TYPES.get(str(item.get("type", "")).lower())
        if tag is not None:
            page = item.get("item_index")  # a page of a document (perItem answers, regions on pages)
            on_page = f" (page {page + 1})" if is_int(page) and page >= 0 and tag.text(value) else ""
            parts.append(tag.text(value) + on_page)
            if isinstance(item.get("id"), str) and parts[-1]:
                regions.setdefault(item["id"], parts[-1])
    for item in result:
        if isinstance(item, dict) and item.get("type") == "relation":
            ends = [regions.get(str(item.get(k)), "a region") for k in ("from_id", "to_id")]
            arrow = {"left": "←", "bi": "↔"}.get(str(item.get("direction")), "→")
            names = ", ".join(map(str, item.get("labels") or []))
            parts.append(f"{ends[0]} {arrow} {ends[1]}" + (f" ({names})" if names else ""))
    return "; ".join(p for p in parts if p)
