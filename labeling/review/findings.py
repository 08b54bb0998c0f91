"""QC's findings and labels in words and as results, for the review page and the API: the
people's label (:func:`given_label`), a stored label as result items (:func:`as_result`),
:func:`finding_text`, :func:`suggested_result`, and :func:`same_label` (a relabel that says what
the people said is a keep)."""

from __future__ import annotations

from typing import Any

from labeling.aggregation import people_label
from labeling.canonical import result_key
from labeling.models import Annotation
from labeling.schema import LabelSchema, label_text, result_from_labels

__all__ = ["as_result", "finding_text", "given_label", "same_label", "suggested_result"]


def as_result(schema: LabelSchema, value: Any) -> list | None:
    """A label as QC stores it (a class name, a list of names, or result items) as result items;
    None when it is none of these (or names no label of the primary Choices)."""
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return value
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(x, str) for x in value)):
        try:
            return result_from_labels(schema, value)
        except ValueError:
            return None
    return None


def given_label(schema: LabelSchema, annotations: list[Annotation]) -> tuple[list | None, str | None, list[list]]:
    """The label the people gave: the only annotator's, or their majority, and the tied answers
    when there is no majority (:func:`labeling.aggregation.people_label`). Never a model's."""
    return people_label(schema, [a.result for a in annotations])


# --------------------------------------------------------------------------- QC findings as words


def _span_finding(value: Any) -> dict | None:
    """A QC finding about one span of text (NER: ``{"token", "start", "end", "label"}``)."""
    if isinstance(value, dict) and isinstance(value.get("label"), str) \
            and all(isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("start", "end")):
        return value
    return None


def _entity(label: str, schema: LabelSchema) -> str:
    """A span label as words: a label of the primary control, or no entity (NER's ``O``)."""
    return label if label in schema.primary_control.labels else f"not an entity ({label})"


def finding_text(schema: LabelSchema, value: Any, *, role: str = "suggested") -> str:
    """A label as QC stores it in a finding, in words for the review page and the API.

    Parameters
    ----------
    schema : LabelSchema
    value : str, list, dict or None
        What QC gave or suggests: a class name, names, result items, an NER token finding
        ``{"token", "start", "end", "label"}``, or a detection summary (``"car x2, truck"``).
    role : {"suggested", "given"}
        A suggestion reads ``Hawaii → LOC`` (the span's text, then the label QC suggests),
        what was given ``Hawaii: PER``; a detection summary reads ``model finds: car x2`` or
        ``boxes labelled: car``.

    Returns
    -------
    str
        Never a raw dict: other mappings read ``key: value; ...``.
    """
    if value is None:
        return ""
    span = _span_finding(value)
    if span is not None:
        token = span.get("token") if isinstance(span.get("token"), str) else span.get("text")
        where = token if isinstance(token, str) and token else f"characters {span['start']}-{span['end']}"
        label = _entity(span["label"], schema)
        return f"{where} → {label}" if role == "suggested" else f"{where}: {label}"
    if isinstance(value, str) and schema.primary_control.type == "rectanglelabels":
        return f"model finds: {value}" if role == "suggested" else f"boxes labelled: {value}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {label_text(v) if isinstance(v, list) else v}" for k, v in value.items())
    return label_text(value)


def suggested_result(schema: LabelSchema, given: list | None, suggestion: Any, data: dict) -> list | None:
    """The people's result with QC's suggestion applied, for the reviewer to start from.

    Classification: the suggested class as result items (:func:`as_result`). Spans: an NER token
    finding ``{"start", "end", "label"}`` relabels the people's spans that overlap the token (or
    removes them when QC says it is no entity), or adds a span of the token when none does.
    None when the suggestion cannot be turned into a result (a tie leaves no people's result to
    change; a detection summary names no boxes) or would leave nothing labeled.
    """
    span = _span_finding(suggestion)
    if span is None:
        return as_result(schema, suggestion)
    control = schema.primary_control
    text = data.get(control.data_key) if isinstance(data, dict) else None
    if control.type != "labels" or given is None or not isinstance(text, str):
        return None
    start, end, label = span["start"], span["end"], span["label"]
    if not 0 <= start < end <= len(text):
        return None
    items = [dict(item, value=dict(item["value"])) if isinstance(item, dict) and isinstance(item.get("value"), dict)
             else item for item in given]
    hits = [i for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("from_name") == control.name and item.get("type") == "labels"
            and isinstance(item["value"].get("start"), int) and isinstance(item["value"].get("end"), int)
            and item["value"]["start"] < end and item["value"]["end"] > start]
    if label not in control.labels:
        items = [item for i, item in enumerate(items) if i not in hits]
    elif hits:
        for i in hits:
            items[i]["value"]["labels"] = [label]
    else:
        items.append({"id": f"qc-{start}-{end}", "from_name": control.name, "to_name": control.to_name,
                      "type": "labels", "value": {"start": start, "end": end, "text": text[start:end],
                                                  "labels": [label]}})
    return items or None


def _region_key(item: Any) -> str:
    """What a result item says, for :func:`same_label`: no id, origin or score; a span by its
    offsets and labels; a box by its labels and coordinates rounded to 1/10,000 of a percent."""
    if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
        return result_key([item])
    kind = str(item.get("type", "")).lower()
    value = item["value"]
    if kind == "labels":
        said = {"start": value.get("start"), "end": value.get("end"), "labels": sorted(map(str, value.get("labels") or []))}
    elif kind == "rectanglelabels":
        said = {k: round(float(value.get(k) or 0), 4) for k in ("x", "y", "width", "height", "rotation")}
        said["labels"] = sorted(map(str, value.get("rectanglelabels") or []))
    else:
        return result_key([item])
    return result_key([{"from_name": item.get("from_name"), "to_name": item.get("to_name"), "type": kind,
                        "value": said}])


def same_label(a: list | None, b: list | None) -> bool:
    """Whether two results say the same label: equal items in any order, whatever their ids;
    spans by offsets and labels (their text follows from the task), boxes by labels and
    coordinates up to float noise (an editor's pixel round trip)."""
    if a is None or b is None:
        return a is b
    return sorted(map(_region_key, a)) == sorted(map(_region_key, b))
