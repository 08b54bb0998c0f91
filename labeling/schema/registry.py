"""Every tag labelfab reads in a label config, collected from the tag families.

A new control tag is a :class:`~labeling.schema.tags.ControlTag` in its family's module (or a
new family module listed in ``_FAMILIES``); parsing, validation and label text find it here.
"""

from __future__ import annotations

from labeling.schema import choices, objects, regions, spans, values
from labeling.schema.tags import ControlTag, ObjectTag

__all__ = [
    "CANONICAL",
    "CONTROLS",
    "LABEL_TAGS",
    "LAYOUT_TAGS",
    "OBJECTS",
    "RESULT_TYPES",
    "SUPPORTED_HINT",
]

_FAMILIES = (choices, spans, regions, values)

LAYOUT_TAGS = ("View", "Header", "Style")
#: Object tag name -> descriptor.
OBJECTS: dict[str, ObjectTag] = {t.name: t for t in objects.OBJECT_TAGS}
#: Control tag name -> descriptor, in the order the supported-tags hint names them.
CONTROLS: dict[str, ControlTag] = {t.name: t for family in _FAMILIES for t in family.CONTROL_TAGS}
#: Label Studio result type (``"choices"``) -> control descriptor.
RESULT_TYPES: dict[str, ControlTag] = {t.result_type: t for t in CONTROLS.values()}
LABEL_TAGS = tuple(dict.fromkeys(t.label_tag for t in CONTROLS.values() if t.label_tag is not None))
#: Label Studio matches tag names case-insensitively; labelfab does too: lower-case -> canonical.
CANONICAL = {t.lower(): t for t in (*LAYOUT_TAGS, *OBJECTS, *LABEL_TAGS, *CONTROLS)}


def _names(tags: list[str]) -> str:
    shown = [f"<{t}>" for t in tags]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


SUPPORTED_HINT = (
    f"labelfab supports {_names(list(CONTROLS))} on {_names(list(OBJECTS))}, "
    f"with {_names(list(LAYOUT_TAGS))} for layout"
)
