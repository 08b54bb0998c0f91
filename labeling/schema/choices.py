"""Classification controls: ``<Choices>`` (single, ``single-radio`` or ``multiple``).

One result item per task, ``{"type": "choices", "value": {"choices": [names]}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, attr

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CHOICES", "CONTROL_TAGS"]


def _attrs(el: Any) -> list[str]:
    value = attr(el, "value")
    if (value or "").startswith("$"):
        return [f'takes its choices from task data (value="{value}"), which is not supported yet']
    return []


def _text(value: dict) -> str:
    return ", ".join(map(str, value.get("choices") or []))


def _kind(control: ControlSpec) -> str:
    return "multilabel" if control.choice == "multiple" else "classification"


CHOICES = ControlTag(name="Choices", result_type="choices", targets=("Text", "Image"), label_tag="Choice",
                     per_task=True, check_attrs=_attrs, text=_text, kind=_kind)

CONTROL_TAGS = (CHOICES,)
