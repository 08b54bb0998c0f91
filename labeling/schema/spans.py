"""Span controls: ``<Labels>`` on ``<Text>`` (named entities).

``<Labels>`` on an ``<Image>`` labels the plain shapes of a ``<Rectangle>`` (or another shape
tool): Label Studio stores one ``labels`` item per region beside the shape's own item, with the
shape's ``id`` and geometry (:mod:`labeling.schema.linked` checks the pairing). ``<Labels>`` on a
``<Video>`` name its tracks: Label Studio keeps them in the ``videorectangle`` item's ``value.labels``
(:mod:`labeling.schema.video`), so a ``labels`` item on a video is refused.

One result item per span, ``{"type": "labels", "value": {"start", "end", "text", "labels"}}``;
offsets count Unicode code points, as Label Studio's backend does. Text given as a list of
paragraphs is one string to Label Studio (the paragraphs joined with ``","``), and so are its
offsets (:func:`labeling.schema.objects.text_of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.objects import text_of
from labeling.schema.tags import ControlTag, is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CONTROL_TAGS", "LABELS"]


def _utf16_slice(text: str, start: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le", errors="replace")


def _check_span(control: ControlSpec, item: dict, value: dict, *, data: Any, where: str, **_: Any) -> list[str]:
    if control.object_tag == "Image":
        return []  # the labels of a shape: its geometry is the shape item's (linked)
    if control.object_tag == "Video":
        return [f"{where}: the labels of a video's track are stored in its videorectangle item "
                "(value.labels), as Label Studio stores them, not as labels items"]
    start, end = value.get("start"), value.get("end")
    if not (is_int(start) and is_int(end)):
        return [
            f"{where}: value.start and value.end must be whole character offsets, "
            f"got start={start!r}, end={end!r}"
        ]
    text = text_of(data.get(control.data_key)) if isinstance(data, dict) else None
    if text is None:
        return [
            f"{where}: cannot check the span: task data {control.data_key!r} is missing "
            "or not text"
        ]
    given = value.get("text")
    hint = ""
    if isinstance(given, str) and 0 <= start < end and given == _utf16_slice(text, start, end):
        hint = (
            " (the offsets look like UTF-16 code units as counted by JavaScript; "
            "labelfab counts Unicode code points)"
        )
    if not 0 <= start < end <= len(text):
        return [
            f"{where}: span [{start}, {end}) is outside the text, which has "
            f"{len(text)} characters (offsets need 0 <= start < end <= {len(text)}){hint}"
        ]
    if given is not None and given != text[start:end]:
        return [
            f"{where}: span text {given!r} does not match the task text at "
            f"[{start}, {end}), which is {text[start:end]!r}{hint}"
        ]
    return []


def _text(value: dict) -> str:
    text = value.get("text")
    span = f" '{text}'" if isinstance(text, str) else f" [{value.get('start')}:{value.get('end')}]"
    return " ".join(map(str, value.get("labels") or [])) + span


def _kind(control: ControlSpec) -> str | None:
    if control.object_tag == "Video":
        return "video"  # the labels of a video's tracks (labeling.schema.video)
    return "ner" if control.object_tag == "Text" else None


LABELS = ControlTag(name="Labels", result_type="labels", targets=("Text", "Image", "Video"), label_tag="Label",
                    check_item=_check_span, text=_text, kind=_kind, region=True)

CONTROL_TAGS = (LABELS,)
