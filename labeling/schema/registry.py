"""Every tag labelfab reads in a label config, collected from the tag families.

A new control tag is a :class:`~labeling.schema.tags.ControlTag` in its family's module (or a
new family module listed in ``_FAMILIES``); parsing, validation and label text find it here.
"""

from __future__ import annotations

from dataclasses import replace

from labeling.schema import (
    audio,
    chat,
    choices,
    dialogue,
    hypertext,
    objects,
    pdf,
    rankings,
    regions,
    spans,
    taxonomy,
    timeseries,
    values,
    vectors,
    video,
)
from labeling.schema.relations import RELATION_TAGS
from labeling.schema.tags import ControlTag, ObjectTag

__all__ = [
    "CANONICAL",
    "CONTROLS",
    "LABEL_TAGS",
    "LAYOUT_TAGS",
    "OBJECTS",
    "RELATION_TAGS",
    "RESULT_TYPES",
    "SUPPORTED_HINT",
]

_FAMILIES = (choices, spans, regions, values)
_FAMILIES += (dialogue, taxonomy)
_FAMILIES += (vectors,)  # polygons, key points, ellipses, brush masks on images
_FAMILIES += (rankings, hypertext)
_FAMILIES += (chat,)  # LLM conversations: <Chat> and its chatmessage items
_FAMILIES += (video,)  # TimelineLabels, VideoRectangle
_FAMILIES += (timeseries,)  # ranges and instant events on a TimeSeries
_FAMILIES += (pdf,)  # OcrLabels on <Pdf> (and page images)
#: Families of objects that existing controls annotate: each lists ``TARGETS`` (control tag ->
#: its object tags) and ``ITEM_CHECKS`` ((control tag, object tag) -> the item check on that
#: object), applied to the controls below.
_TARGET_FAMILIES = (audio,)
#: Families that bring object tags of their own (beside :mod:`labeling.schema.objects`).
_OBJECT_FAMILIES = (objects,)
_OBJECT_FAMILIES += (dialogue,)
_OBJECT_FAMILIES += (rankings, hypertext)
_OBJECT_FAMILIES += (chat,)
_OBJECT_FAMILIES += (video,)
_OBJECT_FAMILIES += (timeseries,)
_OBJECT_FAMILIES += (pdf,)
_OBJECT_FAMILIES += (audio,)

LAYOUT_TAGS = ("View", "Header", "Style")
#: Object tag name -> descriptor.
OBJECTS: dict[str, ObjectTag] = {t.name: t for family in _OBJECT_FAMILIES for t in family.OBJECT_TAGS}
#: Control tag name -> descriptor, in the order the supported-tags hint names them.
CONTROLS: dict[str, ControlTag] = {t.name: t for family in _FAMILIES for t in family.CONTROL_TAGS}


def _by_object(base, checks: dict):
    """An item check that is ``checks[object tag]`` on those objects, else ``base``."""
    def check(control, item, value, **kw):
        return checks.get(control.object_tag, base)(control, item, value, **kw)
    return check


for _family in _TARGET_FAMILIES:
    for _name, _objects in _family.TARGETS.items():
        _tag = CONTROLS[_name]
        _checks = {obj: fn for (ctrl, obj), fn in _family.ITEM_CHECKS.items() if ctrl == _name}
        CONTROLS[_name] = replace(_tag, targets=_tag.targets + tuple(o for o in _objects if o not in _tag.targets),
                                  check_item=_by_object(_tag.check_item, _checks) if _checks else _tag.check_item)
#: Label Studio result type (``"choices"``) -> control descriptor.
RESULT_TYPES: dict[str, ControlTag] = {t.result_type: t for t in CONTROLS.values()}
LABEL_TAGS = tuple(dict.fromkeys(t.label_tag for t in CONTROLS.values() if t.label_tag is not None))
#: Label Studio matches tag names case-insensitively; labelfab does too: lower-case -> canonical.
CANONICAL = {t.lower(): t for t in (*LAYOUT_TAGS, *OBJECTS, *LABEL_TAGS, *CONTROLS, *RELATION_TAGS)}


def _names(tags: list[str]) -> str:
    shown = [f"<{t}>" for t in tags]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


#: Control tags no config writes (a <Chat> makes its own ChatMessage control), left out of the hint.
_IMPLIED = {"ChatMessage"}

SUPPORTED_HINT = (
    f"labelfab supports {_names([t for t in CONTROLS if t not in _IMPLIED])} on {_names(list(OBJECTS))}, "
    f"with {_names(list(RELATION_TAGS))} between regions and {_names(list(LAYOUT_TAGS))} for layout"
)
