"""Dialogues and tables: the ``<Paragraphs>`` and ``<Table>`` objects and ``<ParagraphLabels>``.

``<Paragraphs value="$dialogue">`` shows a list of objects, one per paragraph (a dialogue's
turns), each with its speaker under ``nameKey`` (default ``"author"``) and its text under
``textKey`` (default ``"text"``); ``layout="dialogue"`` lays it out by speaker. ``audioUrl="$audio"``
(:attr:`~labeling.schema.model.ObjectSpec.audio_url`) is the audio of the dialogue: a paragraph
with ``start`` (and ``end`` or ``duration``, seconds) plays its part of it, and with
``sync="audio"`` the ``<Audio>`` of that name plays along (``ObjectSpec.sync``). ``<Table value="$item">``
shows a dict as key/value rows (or a list of dicts as rows); it is read-only, and per-task
controls (Choices, TextArea, Rating...) annotate it.

``<ParagraphLabels>`` marks spans inside the paragraphs, one result item per span, stored as
Label Studio's editor stores them::

    {"type": "paragraphlabels", "value": {"start": "0", "end": "0", "startOffset": 4,
     "endOffset": 9, "text": "world", "paragraphlabels": ["Greeting"]}}

``start`` and ``end`` are paragraph indexes (strings, as the editor writes them; whole numbers
are read alike), ``startOffset`` and ``endOffset`` offsets inside the first and the last of
those paragraphs' text, in Unicode code points as for ``<Labels>`` on ``<Text>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, ObjectTag, attr, is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, ObjectSpec

__all__ = ["CONTROL_TAGS", "OBJECT_TAGS", "PARAGRAPHLABELS", "PARAGRAPHS", "TABLE", "paragraph_texts"]

#: Label Studio's defaults for ``nameKey`` and ``textKey``.
NAME_KEY, TEXT_KEY = "author", "text"


def _paragraphs_attrs(el: Any) -> list[str]:
    value_type = attr(el, "valueType")
    if (value_type or "json").lower() != "json":
        return [f'uses valueType="{value_type}", which is not supported yet (give the paragraphs in the task)']
    layout = attr(el, "layout")
    if layout is not None and layout not in ("none", "dialogue"):
        return [f'has layout="{layout}"; use "dialogue" or "none"']
    return []


def _paragraphs_fields(el: Any) -> dict[str, Any]:
    return {"name_key": attr(el, "nameKey") or NAME_KEY, "text_key": attr(el, "textKey") or TEXT_KEY,
            "sync": attr(el, "sync"), "audio_url": attr(el, "audioUrl")}


def _paragraphs_any(key: str, value: Any) -> str | None:
    return _paragraphs_problem(NAME_KEY, TEXT_KEY, key, value)


def _paragraphs_data(spec: ObjectSpec, key: str, value: Any) -> str | None:
    return _paragraphs_problem(spec.name_key or NAME_KEY, spec.text_key or TEXT_KEY, key, value)


def _paragraphs_problem(name_key: str, text_key: str, key: str, value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return (f"data field {key!r} must be a non-empty list of paragraphs "
                f'({{"{name_key}": ..., "{text_key}": ...}}), got {type(value).__name__}')
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            return f"data field {key!r}[{n}] must be an object, got {type(item).__name__}"
        if not isinstance(item.get(text_key), str):
            return f"data field {key!r}[{n}] needs its text as a string under {text_key!r} (textKey)"
        if name_key not in item:
            return f"data field {key!r}[{n}] needs its speaker under {name_key!r} (nameKey)"
    return None


def paragraph_texts(value: Any, text_key: str | None) -> list[str] | None:
    """The texts of a Paragraphs' task data (``textKey`` of each item), None if it is not one."""
    if not isinstance(value, list):
        return None
    texts = [item.get(text_key or TEXT_KEY) if isinstance(item, dict) else None for item in value]
    return texts if all(isinstance(t, str) for t in texts) else None


def _table_data(key: str, value: Any) -> str | None:
    if isinstance(value, dict) and value:
        return None
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return None
    return (f"data field {key!r} must be an object of {{key: value}} pairs (or a list of such rows), "
            f"got {type(value).__name__}")


def _index(v: Any) -> int | None:
    if is_int(v):
        return v
    if isinstance(v, str) and v.isascii() and v.isdigit():
        return int(v)
    return None


def _check_range(control: ControlSpec, item: dict, value: dict, *, data: Any, where: str, **_: Any) -> list[str]:
    start, end = _index(value.get("start")), _index(value.get("end"))
    if start is None or end is None:
        return [f"{where}: value.start and value.end must be paragraph indexes (like \"0\"), "
                f"got start={value.get('start')!r}, end={value.get('end')!r}"]
    first, last = value.get("startOffset"), value.get("endOffset")
    if not (is_int(first) and is_int(last)):
        return [f"{where}: value.startOffset and value.endOffset must be whole character offsets, "
                f"got startOffset={first!r}, endOffset={last!r}"]
    texts = paragraph_texts(data.get(control.data_key), control.text_key) if isinstance(data, dict) else None
    if texts is None:
        return [f"{where}: cannot check the span: task data {control.data_key!r} is missing or not paragraphs"]
    if not 0 <= start <= end < len(texts):
        return [f"{where}: paragraphs {start} to {end} are outside the dialogue, which has {len(texts)} "
                f"(indexes need 0 <= start <= end < {len(texts)})"]
    if first < 0 or first > len(texts[start]) or last < 0 or last > len(texts[end]):
        return [f"{where}: offsets {first} and {last} are outside paragraphs {start} "
                f"({len(texts[start])} characters) and {end} ({len(texts[end])} characters)"]
    if start == end and first >= last:
        return [f"{where}: the span [{first}, {last}) of paragraph {start} is empty; "
                "startOffset must be below endOffset"]
    given = value.get("text")
    if given is not None and not isinstance(given, str):
        return [f"{where}: value.text must be a string, got {type(given).__name__}"]
    if start == end and given is not None and given != texts[start][first:last]:
        return [f"{where}: span text {given!r} does not match paragraph {start} at [{first}, {last}), "
                f"which is {texts[start][first:last]!r}"]
    return []


def _text(value: dict) -> str:
    text = value.get("text")
    where = (f" '{text}'" if isinstance(text, str)
             else f" [{value.get('start')}:{value.get('startOffset')}-{value.get('end')}:{value.get('endOffset')}]")
    return " ".join(map(str, value.get("paragraphlabels") or [])) + where


PARAGRAPHS = ObjectTag(name="Paragraphs", check_data=_paragraphs_any, check_attrs=_paragraphs_attrs,
                       check_spec_data=_paragraphs_data, spec_fields=_paragraphs_fields)
TABLE = ObjectTag(name="Table", check_data=_table_data)
def _kind(control: ControlSpec) -> str:
    return "paragraphs"


PARAGRAPHLABELS = ControlTag(name="ParagraphLabels", result_type="paragraphlabels", targets=("Paragraphs",),
                             label_tag="Label", check_item=_check_range, text=_text, kind=_kind)

OBJECT_TAGS = (PARAGRAPHS, TABLE)
CONTROL_TAGS = (PARAGRAPHLABELS,)
