"""Classification controls: ``<Choices>`` (single, ``single-radio`` or ``multiple``).

One result item per task, ``{"type": "choices", "value": {"choices": [names]}}``. The choices
are ``<Choice>`` tags, or come from task data (``value="$options"``, read by the parser for
every control with labels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.schema.tags import ControlTag

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CHOICES", "CONTROL_TAGS"]


def _text(value: dict) -> str:
    return ", ".join(map(str, value.get("choices") or []))


def _kind(control: ControlSpec) -> str | None:
    if control.per_item:
        return None  # one answer per page (perItem): no task-level class for QC
    return "multilabel" if control.choice == "multiple" else "classification"


CHOICES = ControlTag(name="Choices", result_type="choices", targets=("Text", "Image", "Paragraphs", "Table", "Chat", "Pdf", "TimeSeries", "Video"), label_tag="Choice",
                     per_task=True, per_region=True, text=_text, kind=_kind)

CONTROL_TAGS = (CHOICES,)
