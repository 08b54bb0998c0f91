"""Free-form value controls: ``<TextArea>`` (text) and ``<Rating>`` (stars).

One result item per task: ``{"type": "textarea", "value": {"text": [str, ...]}}`` and
``{"type": "rating", "value": {"rating": n}}`` with ``1 <= n <= maxRating``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, attr, is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CONTROL_TAGS", "RATING", "TEXTAREA"]


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


TEXTAREA = ControlTag(name="TextArea", result_type="textarea", targets=("Text", "Image"), per_task=True,
                      check_item=_check_text, text=_textarea_text)
RATING = ControlTag(name="Rating", result_type="rating", targets=("Text", "Image"), per_task=True,
                    check_attrs=_rating_attrs, spec_fields=_rating_fields, check_item=_check_rating,
                    text=_rating_text)

CONTROL_TAGS = (TEXTAREA, RATING)
