"""Label config changes: which labels existing results use, and which changes keep them valid."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labeling.schema.model import LabelConfigError, LabelSchema
from labeling.schema.registry import CONTROLS

__all__ = ["check_config_change", "collect_used_labels"]


def collect_used_labels(
    schema: LabelSchema, results: Iterable[list[dict[str, Any]]]
) -> dict[str, set[str]]:
    """Controls and labels that existing annotation results use.

    Parameters
    ----------
    schema : LabelSchema
        The project's current schema.
    results : iterable of list of dict
        The ``result`` list of every stored annotation (and gold answer, which must stay
        valid too).

    Returns
    -------
    dict of str to set of str
        Control name -> label names used, for every control with at least one result item
        (an empty set for TextArea and Rating); the `used_labels` of
        :func:`check_config_change`.
    """
    known = {c.name: c for c in schema.controls}
    used: dict[str, set[str]] = {}
    for result in results:
        for item in result:
            control = known.get(item.get("from_name")) if isinstance(item, dict) else None
            if control is None:
                continue
            labels = used.setdefault(control.name, set())
            value = item.get("value")
            field = CONTROLS[control.tag].label_field
            if field is not None and isinstance(value, dict):
                names = value.get(field)
                if isinstance(names, list):
                    labels.update(n for n in names if isinstance(n, str))
    return used


def check_config_change(
    old: LabelSchema,
    new: LabelSchema,
    *,
    used_labels: dict[str, set[str]],
    task_keys: set[str] | None = None,
    label_sources: dict[str, dict[str, str]] | None = None,
) -> None:
    """Refuse a label config change that would make existing annotations invalid.

    Call it when a project that has annotations gets a new config. Allowed: adding labels,
    controls (not required ones) and objects, removing unused controls and labels, changing
    hotkeys, colours and layout, single -> multiple choice, a larger ``maxRating``.

    Parameters
    ----------
    old, new : LabelSchema
        Current and proposed schema.
    used_labels : dict of str to set of str
        Control name -> label names used by existing results, for every control that has
        results (see :func:`collect_used_labels`). Controls not listed are taken as unused.
    task_keys : set of str, optional
        Data fields the project's tasks have. If given, the new config may only read those.
    label_sources : dict of str to dict of str to str, optional
        Control name -> label -> what uses it (``"annotations"``, ``"gold answers"``), named
        in the refusal; by default ``"annotations"``.

    Raises
    ------
    LabelConfigError
        Listing every reason: a used control removed or renamed, its tag, object or data key
        changed, a used label removed or renamed, multiple -> single choice, a smaller
        ``maxRating``, an object's data key changed, a new required control, a data key the
        tasks do not have.
    """
    errors: list[dict[str, Any]] = []

    def add(tag: str | None, detail: str) -> None:
        errors.append({"line": None, "tag": tag, "detail": detail})

    new_controls = {c.name: c for c in new.controls}
    old_controls = {c.name: c for c in old.controls}
    for name, obj in old.objects.items():
        new_obj = new.objects.get(name)
        if new_obj is not None and new_obj.value_key != obj.value_key:
            add(
                new_obj.tag,
                f"object {name!r} (<{obj.tag}>): data key changed from "
                f"${obj.value_key} to ${new_obj.value_key}; existing tasks hold {obj.value_key!r}",
            )
    for name in sorted(used_labels):
        control = old_controls.get(name)
        if control is None:
            continue
        where = f"control {name!r} (<{control.tag}>)"
        target = new_controls.get(name)
        if target is None:
            add(control.tag, f"{where} has annotations and was removed or renamed")
            continue
        if target.tag != control.tag:
            add(control.tag, f"{where} has annotations and its type changed to <{target.tag}>")
            continue
        if target.to_name != control.to_name or target.object_tag != control.object_tag:
            add(
                control.tag,
                f"{where} has annotations and now annotates <{target.object_tag}> "
                f"{target.to_name!r} instead of <{control.object_tag}> {control.to_name!r}",
            )
        elif target.data_key != control.data_key:
            add(
                control.tag,
                f"{where} has annotations and its data key changed from "
                f"${control.data_key} to ${target.data_key}",
            )
        for label in sorted(used_labels[name] - set(target.labels)):
            source = (label_sources or {}).get(name, {}).get(label, "annotations")
            add(
                control.tag,
                f"{where}: label {label!r} is used by existing {source} and was "
                "removed or renamed",
            )
        if control.choice == "multiple" and target.choice == "single" and control.labels:
            add(
                control.tag,
                f"{where} has annotations and changed from multiple to single "
                "choice; existing annotations may carry several labels",
            )
        if (control.max_rating or 0) > (target.max_rating or 0) and control.tag == "Rating":
            add(
                control.tag,
                f"{where} has annotations and its maxRating went down from "
                f"{control.max_rating} to {target.max_rating}",
            )
    for control in new.controls:
        old_control = old_controls.get(control.name)
        if control.required and (old_control is None or not old_control.required):
            add(
                control.tag,
                f"control {control.name!r} (<{control.tag}>) is required in the new "
                "config, but existing annotations have no result for it",
            )
    if task_keys is not None:
        for key in sorted(new.data_keys - set(task_keys)):
            add(
                None,
                f"the new config reads task data field {key!r}, which the project's "
                "tasks do not have",
            )
    if errors:
        raise LabelConfigError(errors)
