"""Result items tied together by a region's ``id``, as Label Studio's editor stores them.

A region (a span, a box, a shape) is one or more result items sharing an ``id``: the shape's
own item (``rectanglelabels``, ``rectangle``, ``labels`` on text), the ``labels`` item of a
plain shape when the config has ``<Labels>`` on the image, one item per per-region control
(``perRegion="true"``: ``choices``, ``textarea``, ``rating``, ``number``, each with the
region's geometry in its value), and relations naming two regions by id
(:mod:`labeling.schema.relations`). Regions on ``<Image valueList>`` carry the page they are on
(``item_index``). This module checks those ties; each item's own value is its tag's check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labeling.schema.chat import data_messages
from labeling.schema.registry import CONTROLS
from labeling.schema.relations import check_relations
from labeling.schema.tags import is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, LabelSchema

__all__ = ["Region", "check_linked", "is_region_tag", "is_shape", "regions_of"]


@dataclass
class Region:
    """A region of a result: its object, its label names, and the items that make it."""

    id: str
    to_name: str
    labels: list[str] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # indexes in the result
    role: str | None = None  # a chat message's role


def is_shape(control: ControlSpec) -> bool:
    """Items of ``control`` are regions of their own: spans and boxes, plain shapes; not the
    ``labels`` of a plain shape on an image, nor per-region answers."""
    return is_region_tag(control.tag) and not (control.tag == "Labels" and control.object_tag == "Image")


def is_region_tag(name: str) -> bool:
    """Whether the control tag ``name`` makes regions: marked ``region``, or not one item per
    task (every shape family: spans, boxes, polygons, key points...)."""
    tag = CONTROLS[name]
    return tag.region or not tag.per_task


def regions_of(schema: LabelSchema, result: Any, data: Any = None) -> dict[str, Region]:
    """The regions of ``result`` by id: every shape item's id, with the label names the items
    of that id carry (the shape's own, its ``labels`` item); with ``data``, also the messages of
    every ``<Chat>``'s task data (:func:`labeling.schema.chat.message_id`), which per-message
    answers name."""
    controls = {c.name: c for c in schema.controls}
    regions: dict[str, Region] = {}
    for name, obj in schema.objects.items():
        if obj.tag == "Chat" and isinstance(data, dict):
            for mid, role in data_messages(data.get(obj.value_key)):
                regions.setdefault(mid, Region(id=mid, to_name=name, role=role))
    items = result if isinstance(result, list) else []
    for item in items:
        control = controls.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is None or not is_shape(control) or not isinstance(item.get("id"), str):
            continue
        region = regions.setdefault(item["id"], Region(id=item["id"], to_name=str(item.get("to_name"))))
        message = item.get("value", {}).get("chatmessage") if isinstance(item.get("value"), dict) else None
        if isinstance(message, dict) and isinstance(message.get("role"), str):
            region.role = message["role"]
    for i, item in enumerate(items):
        region = regions.get(item.get("id")) if isinstance(item, dict) else None
        control = controls.get(item.get("from_name")) if region is not None else None
        if control is None:
            continue
        region.items.append(i)
        value = item.get("value")
        label_field = CONTROLS[control.tag].label_field
        if label_field is not None and not control.per_region and isinstance(value, dict):
            names = value.get(label_field)
            region.labels += [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    return regions


def _page_problems(schema: LabelSchema, control: ControlSpec, item: dict, data: Any, where: str) -> list[str]:
    obj = schema.objects.get(str(item.get("to_name")))
    if obj is None or not obj.value_list:
        return []
    index = item.get("item_index")
    pages = data.get(obj.value_key) if isinstance(data, dict) else None
    count = len(pages) if isinstance(pages, list) else None
    if not is_int(index) or index < 0 or (count is not None and index >= count):
        shown = f"0 to {count - 1}" if count else "a whole number from 0"
        return [f"{where}: item_index must name the page of <Image valueList> the region is on "
                f"({shown}), got {index!r}"]
    return []


def _applies(control: ControlSpec, region: Region) -> bool:
    """Whether a per-region control is shown for ``region`` (``whenLabelValue``)."""
    if region.to_name not in control.targets:
        return False
    if control.when_roles and region.role is not None and region.role not in control.when_roles:
        return False
    if control.when_label_values and (control.visible_when == "region-selected" or control.per_region):
        return any(n in control.when_label_values for n in region.labels)
    return True


def check_linked(schema: LabelSchema, result: list[Any], data: Any) -> list[str]:
    """Problems of the ties between items of ``result``: per-region items and the labels of
    plain shapes name a region of their object by ``id`` (once per control and region),
    required per-region controls answer every region they apply to, relations name two
    regions, and regions on a multi-page image name their page."""
    controls = {c.name: c for c in schema.controls}
    regions = regions_of(schema, result, data)
    problems: list[str] = []
    answered: dict[str, set[str]] = {}
    for i, item in enumerate(result):
        control = controls.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is None:
            continue
        where = f"result[{i}] ({control.name})"
        if is_shape(control) or control.per_region:
            problems += _page_problems(schema, control, item, data, where)
        linked = control.per_region or (is_region_tag(control.tag) and not is_shape(control))
        if not linked:
            continue
        region = regions.get(item.get("id"))
        if region is None or region.to_name != item.get("to_name"):
            what = "answers for one region" if control.per_region else "labels a plain shape"
            problems.append(f"{where}: control {control.name!r} {what}: its id must be the id of a region on "
                            f"{item.get('to_name')!r} in the same result, got {item.get('id')!r}")
            continue
        if control.per_region and control.when_roles and region.role not in (None, *control.when_roles):
            problems.append(f"{where}: control {control.name!r} answers for messages of roles "
                            f"{', '.join(control.when_roles)}, but {region.id!r} is a {region.role!r} message")
            continue
        done = answered.setdefault(control.name, set())
        if region.id in done:
            problems.append(f"{where}: control {control.name!r} gives region {region.id!r} a second item")
        done.add(region.id)
    for control in schema.controls:
        if not (control.per_region and control.required):
            continue
        for region in regions.values():
            if _applies(control, region) and region.id not in answered.get(control.name, set()):
                problems.append(f"control {control.name!r} is required for every region, "
                                f"but region {region.id!r} has no item for it")
    return problems + check_relations(schema, result, set(regions))
