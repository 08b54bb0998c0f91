"""Object tags: the task data a config shows (``<Text>``, ``<Image>``).

Each object tag is one :class:`~labeling.schema.tags.ObjectTag`: which of its attributes
labelfab refuses, and what task data it can show.
"""

from __future__ import annotations

from typing import Any

from labeling.schema.tags import ObjectTag, attr

__all__ = ["IMAGE", "OBJECT_TAGS", "TEXT", "image_list_problem", "text_of"]


def _text_attrs(el: Any) -> list[str]:
    value_type = attr(el, "valueType")
    if (value_type or "text").lower() != "text":
        return [f'uses valueType="{value_type}", which is not supported yet']
    return []


def text_of(value: Any) -> str | None:
    """The text a ``<Text>`` shows and span offsets count in: a string as it is; a list of
    paragraphs (strings) joined with ``","``, as Label Studio's editor makes a string of it
    (``String(list)``); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return ",".join(value)
    return None


def _text_data(key: str, value: Any) -> str | None:
    if text_of(value) is None:
        return (f"data field {key!r} must be a string (text) or a list of strings (paragraphs), "
                f"got {type(value).__name__}")
    return None


def _image_data(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"data field {key!r} must be an image URL or path, got {value!r}"
    return None


def image_list_problem(key: str, value: Any, check: Any) -> str | None:
    """The problem of the data of ``<Image valueList="$key">``: a non-empty list of images
    (the pages of one document), each as ``check`` (the object's ``check_data``) wants it."""
    if not isinstance(value, list) or not value:
        return f"data field {key!r} must be a non-empty list of image URLs or paths (valueList), got {value!r:.80}"
    for n, page in enumerate(value):
        problem = check(f"{key}[{n}]", page)
        if problem is not None:
            return problem
    return None


TEXT = ObjectTag(name="Text", check_data=_text_data, check_attrs=_text_attrs)
IMAGE = ObjectTag(name="Image", check_data=_image_data)

#: Every object tag, in the order the supported-tags hint names them.
OBJECT_TAGS = (TEXT, IMAGE)
