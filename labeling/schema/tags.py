"""What a tag of a label config is: the descriptors every tag family fills in.

A label config is made of layout tags (``<View>``), object tags (what is shown: ``<Text>``,
``<Image>``), control tags (what annotators fill in: ``<Choices>``, ``<Labels>``...) and label
tags inside controls (``<Choice>``, ``<Label>``). Each object tag is described once by an
:class:`ObjectTag` (:mod:`labeling.schema.objects`), each control tag by a :class:`ControlTag`
in the module of its family (:mod:`~labeling.schema.choices`, :mod:`~labeling.schema.spans`,
:mod:`~labeling.schema.regions`, :mod:`~labeling.schema.values`);
:mod:`labeling.schema.registry` collects them. Parsing, validation and label text read the
descriptors, so a new annotation type is one descriptor in its family's module
(docs/ARCHITECTURE.md, "labeling/ — the domain": ``schema/``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["ControlTag", "ItemCheck", "ObjectTag", "attr", "is_int", "is_number"]

#: ``check(control, item, value, data=..., image_size=..., where=...)`` -> problems of one
#: result item whose ``value`` is a dict and whose label names were checked already.
ItemCheck = Callable[..., list[str]]


def attr(el: Any, name: str) -> str | None:
    """An attribute, matched like Label Studio does (exact name, else lower-case), blank -> None."""
    value = el.get(name)
    if value is None:
        value = el.get(name.lower())
    if value is None or not value.strip():
        return None
    return value


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _no_problems(el: Any) -> list[str]:
    return []


def _no_item_problems(control: ControlSpec, item: dict, value: dict, **_: Any) -> list[str]:
    return []


def _no_fields(el: Any) -> dict[str, Any]:
    return {}


def _no_kind(control: ControlSpec) -> str | None:
    return None


@dataclass(frozen=True)
class ObjectTag:
    """An object tag: a piece of task data shown to annotators.

    Attributes
    ----------
    name : str
        The tag as written in configs, canonical case (``"Text"``).
    check_attrs : callable
        ``check_attrs(el) -> list of str``: reasons (completing "tag <X> on line N ...") why
        the element's attributes are not supported.
    check_data : callable
        ``check_data(key, value) -> str or None``: the problem of the task data value the
        object shows, None if it fits.
    check_spec_data : callable or None
        ``check_spec_data(spec, key, value) -> str or None``: instead of ``check_data`` where
        the check depends on the object's attributes (``nameKey`` of a Paragraphs).
    spec_fields : callable
        ``spec_fields(el) -> dict``: extra :class:`~labeling.schema.model.ObjectSpec` fields
        read from the element (``name_key``, ``text_key``).
    children : tuple of str
        Lower-case names of the tags it holds and reads itself (a TimeSeries' ``channel``);
        ``check_attrs`` checks them. Other objects hold no tags.
    """

    name: str
    check_data: Callable[[str, Any], str | None]
    check_attrs: Callable[[Any], list[str]] = _no_problems
    check_spec_data: Callable[..., str | None] | None = None
    spec_fields: Callable[[Any], dict[str, Any]] = _no_fields
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlTag:
    """A control tag: what annotators fill in, and how its result items look.

    Attributes
    ----------
    name : str
        The tag as written in configs, canonical case (``"Choices"``).
    result_type : str
        Label Studio result type of its items (``"choices"``).
    targets : tuple of str
        Object tags it can annotate.
    label_tag : str or None
        The child tag holding its labels (``"Choice"``); None for controls without labels.
    per_task : bool
        One result item per task (a classification), not one per region.
    check_attrs : callable
        ``check_attrs(el) -> list of str``: reasons why tag-specific attributes are refused.
    spec_fields : callable
        ``spec_fields(ctrl) -> dict``: extra :class:`~labeling.schema.model.ControlSpec`
        fields read from Label Studio's parsed control (``max_rating``).
    check_item : callable
        :data:`ItemCheck` of one result item, after its label names (if any) were checked.
    text : callable
        ``text(value) -> str``: a result item's value for people (``"cat, dog"``).
    kind : callable
        ``kind(control) -> str or None``: the task kind a schema whose primary control this is
        has (``"classification"``), None for ``"other"``.
    label_attr : str
        The attribute of a label tag naming it (``"value"``; a Ranker's ``<Bucket>`` uses
        ``"name"``).
    labels_in_value : bool
        Result values carry the label names under :attr:`label_field` (``{"choices": [...]}``);
        False for a Ranker, whose buckets are keys of ``value.ranker`` and optional.
    self_target : bool
        Label Studio's editor stores the control's own name as ``to_name`` of its items (a
        Pairwise, which is an object to the editor as well); the objects of ``toName`` are
        taken too, as Label Studio's SDK checks them.
    per_region : bool
        The control may be ``perRegion="true"``: one result item per region, carrying the
        region's ``id`` (Label Studio's per-region Choices, TextArea, Rating and Number).
    region : bool
        Its result items are regions of their own (a span, a box, a shape) that per-region
        items and relations name by ``id``.
    """

    name: str
    result_type: str
    targets: tuple[str, ...]
    text: Callable[[dict], str]
    label_tag: str | None = None
    per_task: bool = False
    check_attrs: Callable[[Any], list[str]] = _no_problems
    spec_fields: Callable[[Any], dict[str, Any]] = _no_fields
    check_item: ItemCheck = _no_item_problems
    kind: Callable[[ControlSpec], str | None] = _no_kind
    label_attr: str = "value"
    labels_in_value: bool = True
    self_target: bool = False
    per_region: bool = False
    region: bool = False

    @property
    def label_field(self) -> str | None:
        """The key of a result value holding label names (``"choices"``); None without labels."""
        return self.result_type if self.label_tag is not None and self.labels_in_value else None
