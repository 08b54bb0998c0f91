"""Checking annotation results and task data against a :class:`~labeling.schema.model.LabelSchema`.

The checks every result item gets (its control, ``to_name``, ``type``, one item per task for
classifications, known label names) live here; what is particular to a tag family (span
offsets, boxes inside the image, ratings in range) is its descriptor's ``check_item``.
"""

from __future__ import annotations

from typing import Any

from labeling.schema.chat import chat_message_problems
from labeling.schema.linked import check_linked, regions_of
from labeling.schema.model import ControlSpec, LabelSchema
from labeling.schema.objects import image_list_problem
from labeling.schema.pdf import check_per_item
from labeling.schema.registry import CONTROLS, OBJECTS
from labeling.schema.video import check_track_labels

__all__ = ["data_labels", "hidden_controls", "validate_result", "validate_task_data"]


def data_labels(control: ControlSpec, data: Any) -> list[str]:
    """The labels a control takes from task data (``value="$options"``), as Label Studio reads
    them: a list of names, or of objects whose ``alias`` (else ``value``) is the name."""
    options = data.get(control.labels_key) if control.labels_key and isinstance(data, dict) else None
    names: list[str] = []
    for option in options if isinstance(options, list) else []:
        name = (option.get("alias") or option.get("value")) if isinstance(option, dict) else option
        if isinstance(name, str | int | float) and not isinstance(name, bool) and str(name) not in names:
            names.append(str(name))
    return names


def _check_labels(control: ControlSpec, names: Any, field: str, where: str, data: Any) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return [f"{where}: value.{field} must be a non-empty list of label names"]
    problems = []
    known = control.labels + [n for n in data_labels(control, data) if n not in control.labels]
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append(
            f"{where}: unknown label(s) {unknown} for control {control.name!r}; "
            f"labels are {known}"
        )
    if len(set(names)) != len(names):
        problems.append(f"{where}: value.{field} repeats a label: {names}")
    if control.choice == "single" and len(names) > 1:
        problems.append(
            f"{where}: control {control.name!r} takes a single label, got {len(names)}: {names}"
        )
    return problems




def hidden_controls(schema: LabelSchema, result: list[Any]) -> set[str]:
    """The controls a result hides (``visibleWhen``): Label Studio neither shows nor submits them.

    ``choice-selected`` shows a control while the Choices ``whenTagName`` (any Choices if not
    given) has a choice selected, one of ``whenChoiceValue`` if given; ``choice-unselected``
    is the opposite.
    """
    chosen: dict[str, list[str]] = {}
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict):
            continue  # validate_result names it
        value = item.get("value")
        names = value.get("choices") if isinstance(value, dict) else None
        if isinstance(item.get("from_name"), str) and isinstance(names, list):
            chosen.setdefault(item["from_name"], []).extend(n for n in names if isinstance(n, str))
    hidden = set()
    for control in schema.controls:
        if control.visible_when is None:
            continue
        if control.visible_when == "region-selected":
            if not control.per_region and not regions_of(schema, result):
                hidden.add(control.name)  # shown only while a region is selected: none exists
            continue
        if control.when_tag_name is not None:
            picked = chosen.get(control.when_tag_name, [])
        else:
            picked = [n for c in schema.controls if c.tag == "Choices" for n in chosen.get(c.name, [])]
        selected = any(n in control.when_choice_values for n in picked) if control.when_choice_values else bool(picked)
        if selected != (control.visible_when == "choice-selected"):
            hidden.add(control.name)
    return hidden


def validate_result(
    schema: LabelSchema,
    result: list[dict[str, Any]],
    data: dict[str, Any],
    *,
    image_size: tuple[int, int] | None = None,
    page_count: int | None = None,
) -> list[str]:
    """Check a Label Studio annotation (or prediction) result against the schema.

    Parameters
    ----------
    schema : LabelSchema
        The project's schema.
    result : list of dict
        Result items ``{"from_name", "to_name", "type", "value": {...}}``.
    data : dict
        The task's data, for span offsets and span text.
    image_size : tuple of int, optional
        ``(width, height)`` of the task image in pixels; checks rotated boxes and the items'
        ``original_width``/``original_height``.
    page_count : int, optional
        Pages of the task's document (a PDF imported into labelfab); per-page items
        (``perItem``) must name one of them.

    Returns
    -------
    list of str
        Human-readable problems, each naming the item (``result[i]``), the field and the
        reason; empty if the result is valid.
    """
    if not isinstance(result, list):
        return [f"result must be a list of result items, got {type(result).__name__}"]
    controls = {c.name: c for c in schema.controls}
    problems: list[str] = []
    per_task_seen: dict[str, int] = {}
    present: set[str] = set()
    for i, item in enumerate(result):
        where = f"result[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object, got {type(item).__name__}")
            continue
        if item.get("type") == "relation":
            continue  # between two regions: check_linked
        from_name = item.get("from_name")
        control = controls.get(from_name) if isinstance(from_name, str) else None
        if control is None:
            problems.append(
                f"{where}: from_name {from_name!r} is not a control of the label config; "
                f"controls are {sorted(controls)}"
            )
            continue
        where = f"result[{i}] ({control.name})"
        present.add(control.name)
        tag = CONTROLS[control.tag]
        if item.get("to_name") not in control.targets and not (tag.self_target and item.get("to_name") == control.name):
            annotated = " or ".join(repr(t) for t in control.targets)
            problems.append(
                f"{where}: to_name is {item.get('to_name')!r}, but control {control.name!r} "
                f"annotates {annotated}"
            )
        item_type = item.get("type")
        if not isinstance(item_type, str) or item_type.lower() != control.type:
            problems.append(f"{where}: type is {item_type!r}, expected {control.type!r}")
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            problems.append(f"{where}: value must be an object")
            continue
        if tag.per_task and not control.per_region and not control.per_item:
            per_task_seen[control.name] = per_task_seen.get(control.name, 0) + 1
            if per_task_seen[control.name] == 2:
                problems.append(
                    f"{where}: control {control.name!r} takes one result item per task, found more"
                )
        if tag.label_field is not None:
            problems += _check_labels(control, value.get(tag.label_field), tag.label_field, where, data)
        problems += tag.check_item(control, item, value, data=data, image_size=image_size, where=where)
    problems += check_linked(schema, result, data)
    problems += chat_message_problems(schema, result, data)
    problems += check_track_labels(schema, result)  # a track's value.labels: the <Labels> on its video
    problems += check_per_item(schema, result, data, page_count=page_count)
    hidden = hidden_controls(schema, result)
    for control in schema.controls:
        if control.per_region:
            continue  # required for each region: check_linked
        if control.required and control.name not in present and control.name not in hidden:
            problems.append(
                f"control {control.name!r} is required, but the result has no item for it"
            )
    return problems


def validate_task_data(schema: LabelSchema, data: dict[str, Any]) -> list[str]:
    """Check a task's ``data`` against the schema.

    Parameters
    ----------
    schema : LabelSchema
    data : dict
        The task's data (Label Studio task format ``"data"``).

    Returns
    -------
    list of str
        Problems, each naming the field: a data field the config refers to is missing, a Text
        field is not a string, an Image field is not a non-empty string (URL or path). Empty if
        the data is valid.
    """
    if not isinstance(data, dict):
        return [f"task data must be an object, got {type(data).__name__}"]
    problems = []
    for name, obj in schema.objects.items():
        key = obj.value_key
        if key not in data:
            problems.append(f"data field {key!r} (shown by <{obj.tag}> {name!r}) is missing")
            continue
        tag = OBJECTS[obj.tag]
        if obj.value_list:
            problem = image_list_problem(key, data[key], tag.check_data)
        elif tag.check_spec_data is not None:
            problem = tag.check_spec_data(obj, key, data[key])
        else:
            problem = tag.check_data(key, data[key])
        if problem is not None:
            problems.append(problem)
    for control in schema.controls:
        key = control.labels_key
        if key is None:
            continue
        if not isinstance(data.get(key), list):
            problems.append(f"data field {key!r} (the labels of {control.name!r}) must be a list of labels, "
                            f"got {type(data.get(key)).__name__ if key in data else 'nothing'}")
        elif not data_labels(control, data):
            problems.append(f"data field {key!r} (the labels of {control.name!r}) holds no label: give names, "
                            'or objects with "value"')
    return problems
