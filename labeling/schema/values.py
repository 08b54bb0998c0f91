"""Free-form value controls: ``<TextArea>`` (text), ``<Rating>`` (stars), ``<Number>`` and
``<DateTime>``.

One result item per task, as Label Studio's editor stores them:
``{"type": "textarea", "value": {"text": [str, ...]}}``, ``{"type": "rating", "value":
{"rating": n}}`` with ``1 <= n <= maxRating``, ``{"type": "number", "value": {"number": x}}``
within ``min`` and ``max``, and ``{"type": "datetime", "value": {"datetime": s}}`` with ``s``
in the format Label Studio writes for the control's ``only``: ``2024-03-05T10:30`` (date and
time, the default), ``2024-03-05`` (``only="date"``) or ``10:30`` (``only="time"``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, attr, is_int, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CONTROL_TAGS", "DATETIME", "NUMBER", "RATING", "TEXTAREA", "value_scale", "values_close"]


def _check_text(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    text = value.get("text")
    if not isinstance(text, list) or not text or not all(isinstance(t, str) for t in text):
        return [f"{where}: value.text must be a non-empty list of strings"]
    return []


def _textarea_text(value: dict) -> str:
    return " / ".join(map(str, value.get("text") or []))


def _rating_attrs(el: Any) -> list[str]:
    max_rating = attr(el, "maxRating")
    if max_rating is not None and not (max_rating.isdigit() and int(max_rating) >= 1):
        return [f'has maxRating="{max_rating}"; use a whole number >= 1']
    return []


def _rating_fields(ctrl: Any) -> dict[str, Any]:
    return {"max_rating": int(ctrl.get_attr("maxRating", "5"))}


def _check_rating(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    rating = value.get("rating")
    if not is_int(rating) or not 1 <= rating <= (control.max_rating or 5):
        return [
            f"{where}: value.rating must be a whole number from 1 to "
            f"{control.max_rating}, got {rating!r}"
        ]
    return []


def _rating_text(value: dict) -> str:
    return f"{value.get('rating')} stars"


def _as_number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def _number_attrs(el: Any) -> list[str]:
    problems = [f'has {name}="{attr(el, name)}"; use a number' for name in ("min", "max", "step")
                if attr(el, name) is not None and _as_number(attr(el, name)) is None]
    low, high = _as_number(attr(el, "min")), _as_number(attr(el, "max"))
    if not problems and low is not None and high is not None and low > high:
        problems.append(f'has min="{attr(el, "min")}" above max="{attr(el, "max")}"')
    step = _as_number(attr(el, "step"))
    if not problems and step is not None and step <= 0:
        problems.append(f'has step="{attr(el, "step")}"; use a number above 0')
    return problems


def _number_fields(ctrl: Any) -> dict[str, Any]:
    return {"min_value": _as_number(ctrl.get_attr("min")), "max_value": _as_number(ctrl.get_attr("max")),
            "step": _as_number(ctrl.get_attr("step"))}


def _check_number(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    number = value.get("number")
    if not is_number(number):
        return [f"{where}: value.number must be a number, got {number!r}"]
    if control.min_value is not None and number < control.min_value:
        return [f"{where}: value.number {number} is below the control's min {control.min_value:g}"]
    if control.max_value is not None and number > control.max_value:
        return [f"{where}: value.number {number} is above the control's max {control.max_value:g}"]
    return []


def _number_text(value: dict) -> str:
    return str(value.get("number"))


#: DateTime ``only`` -> (the format Label Studio stores, a sample, the pattern it matches).
DATETIME_FORMATS = {
    (): ("%Y-%m-%dT%H:%M", "2024-03-05T10:30", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")),
    ("date",): ("%Y-%m-%d", "2024-03-05", re.compile(r"^\d{4}-\d{2}-\d{2}$")),
    ("time",): ("%H:%M", "10:30", re.compile(r"^\d{2}:\d{2}$")),
}


def _only(text: str | None) -> tuple[str, ...]:
    parts = tuple(sorted({p.strip() for p in (text or "").split(",") if p.strip()}))
    return () if parts == ("date", "time") else parts


def _datetime_attrs(el: Any) -> list[str]:
    problems = []
    only = attr(el, "only")
    if _only(only) not in DATETIME_FORMATS:
        problems.append(f'has only="{only}", which is not supported yet (use "date", "time" or leave it out)')
    if attr(el, "format") is not None:
        problems.append(f'has format="{attr(el, "format")}", which is not supported yet')
    return problems


def _datetime_fields(ctrl: Any) -> dict[str, Any]:
    return {"only": list(_only(ctrl.get_attr("only")))}


def _check_datetime(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    text = value.get("datetime")
    fmt, sample, pattern = DATETIME_FORMATS[tuple(control.only)]
    if isinstance(text, str) and pattern.match(text):
        try:
            datetime.strptime(text, fmt)
            return []
        except ValueError:
            pass
    return [f"{where}: value.datetime must be a date and time written like {sample!r}, got {text!r}"]


def _datetime_text(value: dict) -> str:
    return str(value.get("datetime"))


def value_scale(control: ControlSpec) -> float:
    """The scale a Number's or Rating's answers are compared on: ``max - min``, or
    ``maxRating - 1``; 0.0 when the control has none (the larger answer is the scale then)."""
    if control.type == "rating":
        return float(max((control.max_rating or 5) - 1, 1))
    if control.min_value is not None and control.max_value is not None and control.max_value > control.min_value:
        return float(control.max_value - control.min_value)
    return 0.0


def values_close(control: ControlSpec, x: float, y: float, *, tolerance: float = 0.25) -> bool:
    """Whether two answers of a Number or Rating agree: at most ``tolerance`` of the control's
    scale apart (:func:`value_scale`, else the larger answer)."""
    scale = value_scale(control) or max(abs(x), abs(y), 1.0)
    return abs(x - y) / scale <= tolerance + 1e-9


def _value_kind(control: ControlSpec) -> str | None:
    """A project whose primary control is a per-task Number or Rating is QC's ``regression``."""
    return None if control.per_region else "regression"


TEXTAREA = ControlTag(name="TextArea", result_type="textarea", targets=("Text", "Image", "Paragraphs", "Table", "Chat", "Pdf", "TimeSeries"), per_task=True,
                      per_region=True, check_item=_check_text, text=_textarea_text)
RATING = ControlTag(name="Rating", result_type="rating", targets=("Text", "Image", "Paragraphs", "Table", "Chat", "Pdf", "TimeSeries"), per_task=True,
                    per_region=True,
                    check_attrs=_rating_attrs, spec_fields=_rating_fields, check_item=_check_rating,
                    text=_rating_text, kind=_value_kind)

NUMBER = ControlTag(name="Number", result_type="number", targets=("Text", "Image", "Paragraphs", "Table", "Chat", "Pdf", "TimeSeries"), per_task=True,
                    per_region=True,
                    check_attrs=_number_attrs, spec_fields=_number_fields, check_item=_check_number,
                    text=_number_text, kind=_value_kind)
DATETIME = ControlTag(name="DateTime", result_type="datetime", targets=("Text", "Image", "Paragraphs", "Table", "Chat", "Pdf", "TimeSeries"), per_task=True,
                      check_attrs=_datetime_attrs, spec_fields=_datetime_fields, check_item=_check_datetime,
                      text=_datetime_text)

CONTROL_TAGS = (TEXTAREA, RATING, NUMBER, DATETIME)
