"""Label Studio XML label configs: parsing into labelfab's label schema, and validation.

A project's label config is Label Studio XML (DESIGN.md, "Label Studio compatibility"). This
module turns it into a :class:`LabelSchema`, a small JSON-serialisable description of what
annotators fill in, and checks annotation results, task data and config changes against it.

Everything here is a pure function: no database, no Flask.

The XML is parsed by ``label_studio_sdk.label_interface.LabelInterface`` (the same parser Label
Studio uses), after a structural pass with lxml that keeps line numbers, refuses what labelfab
cannot annotate yet, and names the offending tag and line in every error.

Supported tags
--------------
objects
    ``<Text value="$key">`` and ``<Image value="$key">``.
controls
    ``<Choices>`` (single, ``single-radio`` or ``multiple``) on Text or Image; ``<Labels>`` on
    Text (NER spans); ``<RectangleLabels>`` on Image; ``<TextArea>`` and ``<Rating>`` on either.
labels
    ``<Choice>`` inside Choices, ``<Label>`` inside Labels and RectangleLabels, with optional
    ``alias``, ``hotkey`` and ``background``.
layout
    ``<View>``, ``<Header>``, ``<Style>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any, Literal

from label_studio_sdk._legacy.exceptions import LabelStudioValidationErrorSentryIgnored
from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ChoicesTag
from lxml import etree
from pydantic import BaseModel, ConfigDict

__all__ = [
    "BOX_TOLERANCE",
    "ControlSpec",
    "LabelConfigError",
    "LabelSchema",
    "ObjectSpec",
    "check_config_change",
    "collect_used_labels",
    "gallery",
    "parse_label_config",
    "result_from_labels",
    "result_labels",
    "validate_result",
    "validate_task_data",
]

Kind = Literal["classification", "multilabel", "ner", "detection", "other"]
ObjectTagName = Literal["Text", "Image"]
ControlTagName = Literal["Choices", "Labels", "RectangleLabels", "TextArea", "Rating"]
ResultType = Literal["choices", "labels", "rectanglelabels", "textarea", "rating"]

#: How far (in percent of the image side) a box may poke out of the image and still be valid;
#: Label Studio's own float arithmetic produces values such as ``100.00000000000001``.
BOX_TOLERANCE = 0.01

_LAYOUT_TAGS = ("View", "Header", "Style")
_OBJECT_TAGS = ("Text", "Image")
_LABEL_TAGS = ("Choice", "Label")
# control tag -> (Label Studio result type, child tag holding its labels or None)
_CONTROL_TAGS: dict[str, tuple[str, str | None]] = {
    "Choices": ("choices", "Choice"),
    "Labels": ("labels", "Label"),
    "RectangleLabels": ("rectanglelabels", "Label"),
    "TextArea": ("textarea", None),
    "Rating": ("rating", None),
}
# control tag -> object tags it can annotate
_CONTROL_TARGETS: dict[str, tuple[str, ...]] = {
    "Choices": ("Text", "Image"),
    "Labels": ("Text",),
    "RectangleLabels": ("Image",),
    "TextArea": ("Text", "Image"),
    "Rating": ("Text", "Image"),
}
# Label Studio matches tag names case-insensitively; labelfab does too.
_CANONICAL = {t.lower(): t for t in (*_LAYOUT_TAGS, *_OBJECT_TAGS, *_LABEL_TAGS, *_CONTROL_TAGS)}
_SUPPORTED_HINT = (
    "labelfab supports <Choices>, <Labels>, <RectangleLabels>, <TextArea> and <Rating> "
    "on <Text> and <Image>, with <View>, <Header> and <Style> for layout"
)
_VARIABLE = re.compile(r"^\$([^, ]+)$")
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
_LABEL_FIELD = {"choices": "choices", "labels": "labels", "rectanglelabels": "rectanglelabels"}
_PER_TASK_TYPES = ("choices", "textarea", "rating")


class LabelConfigError(ValueError):
    """A label config (or a change to one) that labelfab refuses.

    Parameters
    ----------
    errors : list of dict
        One ``{"line": int | None, "tag": str | None, "detail": str}`` per problem; ``detail``
        is a full sentence that names the tag and line where there is one.

    Attributes
    ----------
    errors : list of dict
        As given; suitable for the ``errors`` member of an HTTP 422 body.
    """

    def __init__(self, errors: list[dict[str, Any]]):
        if not errors:
            raise ValueError("LabelConfigError needs at least one error")
        self.errors = errors
        super().__init__("; ".join(e["detail"] for e in errors))


class ObjectSpec(BaseModel):
    """An object tag: the piece of task data that is annotated.

    Attributes
    ----------
    tag : {"Text", "Image"}
    value_key : str
        The task data field it shows, ``"text"`` for ``value="$text"``.
    """

    model_config = ConfigDict(frozen=True)

    tag: ObjectTagName
    value_key: str


class ControlSpec(BaseModel):
    """A control tag: what an annotator fills in, and how it appears in a result.

    Attributes
    ----------
    name : str
        The control's ``name``; ``from_name`` of its result items.
    tag : {"Choices", "Labels", "RectangleLabels", "TextArea", "Rating"}
    type : {"choices", "labels", "rectanglelabels", "textarea", "rating"}
        Label Studio result type (``type`` of its result items).
    to_name : str
        The object it annotates; ``to_name`` of its result items.
    object_tag : {"Text", "Image"}
        Tag of that object.
    data_key : str
        Task data field of that object.
    labels : list of str
        Label names in config order, as stored in results (``alias`` if given, else ``value``).
        Empty for TextArea and Rating.
    choice : {"single", "multiple"}
        How many labels one result item (a classification, a span, a box) may carry.
    hotkeys : dict of str to str
        Label name -> key, from ``hotkey`` attributes.
    colors : dict of str to str
        Label name -> colour, from ``background`` attributes.
    max_rating : int or None
        ``maxRating`` of a Rating (default 5); None for other controls.
    required : bool
        ``required="true"``: every annotation must contain a result for this control.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    tag: ControlTagName
    type: ResultType
    to_name: str
    object_tag: ObjectTagName
    data_key: str
    labels: list[str] = []
    choice: Literal["single", "multiple"] = "single"
    hotkeys: dict[str, str] = {}
    colors: dict[str, str] = {}
    max_rating: int | None = None
    required: bool = False


class LabelSchema(BaseModel):
    """labelfab's view of a label config; ``model_dump()`` is what the database stores.

    Attributes
    ----------
    objects : dict of str to ObjectSpec
        Object name -> object.
    controls : list of ControlSpec
        Controls in config order.
    """

    model_config = ConfigDict(frozen=True)

    objects: dict[str, ObjectSpec]
    controls: list[ControlSpec]

    def control(self, name: str) -> ControlSpec:
        """Return the control called `name`; raise KeyError if there is none."""
        for control in self.controls:
            if control.name == name:
                return control
        raise KeyError(f"no control named {name!r} in the label config")

    def label_names(self, control: str | ControlSpec | None = None) -> list[str]:
        """Label names of `control` (a name or spec; the primary control if None)."""
        if control is None:
            return list(self.primary_control.labels)
        if isinstance(control, str):
            control = self.control(control)
        return list(control.labels)

    @property
    def primary_control(self) -> ControlSpec:
        """The control QC and exports work on.

        The first Choices, Labels or RectangleLabels control in config order, else the first
        control.
        """
        for control in self.controls:
            if control.labels:
                return control
        return self.controls[0]

    @property
    def kind(self) -> Kind:
        """Primary task kind: ``classification``, ``multilabel``, ``ner``, ``detection`` or ``other``."""
        primary = self.primary_control
        if primary.tag == "Choices":
            return "multilabel" if primary.choice == "multiple" else "classification"
        if primary.tag == "Labels" and primary.object_tag == "Text":
            return "ner"
        if primary.tag == "RectangleLabels" and primary.object_tag == "Image":
            return "detection"
        return "other"

    @property
    def data_keys(self) -> set[str]:
        """Task data fields the config refers to, e.g. ``{"text"}``."""
        return {obj.value_key for obj in self.objects.values()}


# --------------------------------------------------------------------------- parsing


def _err(el: Any, reason: str, *, tag: str | None = None) -> dict[str, Any]:
    tag = tag or (el.tag if isinstance(el.tag, str) else None)
    line = el.sourceline
    return {"line": line, "tag": tag, "detail": f"tag <{tag}> on line {line} {reason}"}


def _canonical(el: Any) -> str | None:
    if not isinstance(el.tag, str) or el.tag.startswith("{"):
        return None
    return _CANONICAL.get(el.tag.lower())


def _attr(el: Any, name: str) -> str | None:
    """An attribute, matched like Label Studio does (exact name, else lower-case), blank -> None."""
    value = el.get(name)
    if value is None:
        value = el.get(name.lower())
    if value is None or not value.strip():
        return None
    return value


def _parse_xml(xml: str) -> Any:
    if not isinstance(xml, str):
        raise TypeError(f"label config must be a str, not {type(xml).__name__}")
    # lxml refuses str input with an encoding declaration; drop it but keep line numbers.
    decl = _XML_DECL.match(xml)
    if decl:
        xml = "\n" * decl.group(0).count("\n") + xml[decl.end() :]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno
        column = exc.position[1] if exc.position else None
        msg = re.sub(r", line \d+, column \d+$", "", exc.msg or "invalid XML")
        where = f"line {line}, column {column}" if column else f"line {line}"
        raise LabelConfigError(
            [{"line": line, "tag": None, "detail": f"not valid XML on {where}: {msg}"}]
        ) from None
    if root.getroottree().docinfo.doctype:
        raise LabelConfigError(
            [
                {
                    "line": 1,
                    "tag": None,
                    "detail": "a <!DOCTYPE> on line 1 is not allowed in a label config",
                }
            ]
        )
    return root


class _Walk:
    """The lxml pass: tag whitelist, nesting, attributes, names, line numbers."""

    def __init__(self, root: Any):
        self.errors: list[dict[str, Any]] = []
        self.named: dict[str, Any] = {}  # name -> element (objects and controls)
        self.objects: list[Any] = []
        self.controls: list[Any] = []
        self.labels: dict[Any, list[tuple[str, Any]]] = {}  # control el -> [(label name, el)]
        self.hotkeys: dict[str, Any] = {}
        self.refused: set[str] = set()  # names of refused tags, already reported
        self.root = root
        tag = _canonical(root)
        if tag != "View":
            self.errors.append(_err(root, "cannot be the root of a label config; use <View>"))
            return
        root.tag = "View"
        self._visit(root, None)

    def _name(self, el: Any) -> str | None:
        name = _attr(el, "name")
        if name is None:
            self.errors.append(_err(el, 'has no name="..." attribute'))
            return None
        if name in self.named:
            other = self.named[name]
            self.errors.append(
                _err(el, f"reuses the name {name!r} of <{other.tag}> on line {other.sourceline}")
            )
            return None
        self.named[name] = el
        return name

    def _visit(self, parent: Any, control: Any) -> None:
        for el in parent:
            if not isinstance(el.tag, str):  # comments, processing instructions, entities
                continue
            tag = _canonical(el)
            if tag is None:
                self.errors.append(_err(el, f"is not supported yet ({_SUPPORTED_HINT})"))
                if el.get("name"):
                    self.refused.add(el.get("name"))
                continue
            el.tag = tag  # LabelInterface matches canonical names only
            if tag in _LAYOUT_TAGS:
                if tag != "View" and len(el):
                    self.errors.append(_err(el, "cannot contain other tags"))
                    continue
                self._visit(el, control)
            elif tag in _OBJECT_TAGS:
                self._object(el, control)
            elif tag in _CONTROL_TAGS:
                self._control(el, control)
            else:
                self._label(el, control)

    def _object(self, el: Any, control: Any) -> None:
        if control is not None:
            self.errors.append(
                _err(el, f"cannot be inside <{control.tag}> on line {control.sourceline}")
            )
            return
        if len(el):
            self.errors.append(_err(el, "cannot contain other tags"))
        if _attr(el, "valueList") is not None:
            self.errors.append(_err(el, "uses valueList, which is not supported yet"))
        if el.tag == "Text" and (_attr(el, "valueType") or "text").lower() != "text":
            self.errors.append(
                _err(el, f'uses valueType="{_attr(el, "valueType")}", which is not supported yet')
            )
        name = self._name(el)
        value = _attr(el, "value")
        if value is None or not _VARIABLE.match(value):
            shown = "" if value is None else f' (got value="{value}")'
            self.errors.append(
                _err(el, f'needs value="$field" naming a task data field, like "$text"{shown}')
            )
        elif name is not None:
            self.objects.append(el)

    def _control(self, el: Any, control: Any) -> None:
        if control is not None:
            self.errors.append(
                _err(el, f"cannot be inside <{control.tag}> on line {control.sourceline}")
            )
            return
        name = self._name(el)
        ok = name is not None
        to_name = _attr(el, "toName")
        if to_name is None:
            self.errors.append(
                _err(el, 'has no toName="..." attribute naming the object it annotates')
            )
            ok = False
        elif "," in to_name:
            self.errors.append(
                _err(
                    el,
                    f'annotates several objects (toName="{to_name}"), which is not supported yet',
                )
            )
            ok = False
        if (_attr(el, "perRegion") or "").lower() == "true":
            self.errors.append(_err(el, 'uses perRegion="true", which is not supported yet'))
            ok = False
        if el.tag == "Choices" and (_attr(el, "value") or "").startswith("$"):
            self.errors.append(
                _err(
                    el,
                    f'takes its choices from task data (value="{_attr(el, "value")}"), '
                    "which is not supported yet",
                )
            )
            ok = False
        choice = _attr(el, "choice")
        if choice is not None and choice not in ("single", "single-radio", "multiple"):
            self.errors.append(
                _err(el, f'has choice="{choice}"; use "single", "single-radio" or "multiple"')
            )
            ok = False
        if el.tag == "Rating":
            max_rating = _attr(el, "maxRating")
            if max_rating is not None and not (max_rating.isdigit() and int(max_rating) >= 1):
                self.errors.append(
                    _err(el, f'has maxRating="{max_rating}"; use a whole number >= 1')
                )
                ok = False
        self.labels[el] = []
        self._visit(el, el)
        if _CONTROL_TAGS[el.tag][1] is not None and not self.labels[el]:
            child = _CONTROL_TAGS[el.tag][1]
            self.errors.append(_err(el, f'has no labels; add <{child} value="..."/> inside it'))
            ok = False
        if ok:
            self.controls.append(el)

    def _label(self, el: Any, control: Any) -> None:
        if control is None:
            self.errors.append(_err(el, "must be inside <Choices>, <Labels> or <RectangleLabels>"))
            return
        expected = _CONTROL_TAGS[control.tag][1]
        if expected is None:
            self.errors.append(
                _err(el, f"cannot be inside <{control.tag}> on line {control.sourceline}")
            )
            return
        if el.tag != expected:
            self.errors.append(
                _err(
                    el,
                    f"cannot be inside <{control.tag}> on line {control.sourceline}; "
                    f"use <{expected}>",
                )
            )
            return
        if len(el):
            self.errors.append(
                _err(el, "cannot contain other tags (nested choices are not supported yet)")
            )
            return
        label = _attr(el, "alias") or _attr(el, "value")
        if label is None:
            self.errors.append(_err(el, 'has no value="..." attribute'))
            return
        for other_label, other in self.labels[control]:
            if other_label == label:
                self.errors.append(
                    _err(el, f"repeats the label {label!r} of line {other.sourceline}")
                )
                return
        hotkey = _attr(el, "hotkey")
        if hotkey is not None:
            if hotkey in self.hotkeys:
                other = self.hotkeys[hotkey]
                self.errors.append(
                    _err(
                        el, f"reuses hotkey {hotkey!r} of <{other.tag}> on line {other.sourceline}"
                    )
                )
                return
            self.hotkeys[hotkey] = el
        self.labels[control].append((label, el))

    def check_targets(self) -> None:
        if not self.controls and not self.errors:
            self.errors.append(
                _err(
                    self.root,
                    "has no control tag inside it, so there is nothing to "
                    f"annotate ({_SUPPORTED_HINT})",
                )
            )
        for el in list(self.controls):
            to_name = _attr(el, "toName")
            target = self.named.get(to_name)
            if target is None and to_name in self.refused:
                self.controls.remove(el)
            elif target is None or target.tag not in _OBJECT_TAGS:
                what = (
                    "no <Text> or <Image> has that name"
                    if target is None
                    else (f"that is <{target.tag}> on line {target.sourceline}, not an object")
                )
                self.errors.append(_err(el, f'has toName="{to_name}", but {what}'))
                self.controls.remove(el)
            elif target not in self.objects:
                self.controls.remove(el)  # the object's own error is already reported
            elif target.tag not in _CONTROL_TARGETS[el.tag]:
                allowed = " or ".join(f"<{t}>" for t in _CONTROL_TARGETS[el.tag])
                self.errors.append(
                    _err(
                        el,
                        f"cannot annotate <{target.tag}> {to_name!r} "
                        f"(line {target.sourceline}); it works on {allowed}",
                    )
                )
                self.controls.remove(el)


def parse_label_config(xml: str) -> LabelSchema:
    """Parse a Label Studio XML label config into a :class:`LabelSchema`.

    Parameters
    ----------
    xml : str
        The label config, root ``<View>``.

    Returns
    -------
    LabelSchema
        Objects and controls of the config; ``schema.kind`` gives the primary task kind.

    Raises
    ------
    LabelConfigError
        With every problem found, each naming its tag and line: XML that does not parse, a
        tag labelfab cannot annotate yet, a control whose ``toName`` names no object, a
        Choices/Labels/RectangleLabels control without labels, a config without controls,
        duplicate names, labels or hotkeys.

    Examples
    --------
    >>> schema = parse_label_config(
    ...     '<View><Text name="text" value="$text"/>'
    ...     '<Choices name="sentiment" toName="text">'
    ...     '<Choice value="pos" hotkey="1"/><Choice value="neg" hotkey="2"/>'
    ...     "</Choices></View>"
    ... )
    >>> schema.kind, schema.primary_control.labels, schema.data_keys
    ('classification', ['pos', 'neg'], {'text'})
    """
    root = _parse_xml(xml)
    walk = _Walk(root)
    walk.check_targets()
    if walk.errors:
        walk.errors.sort(key=lambda e: e["line"] or 0)
        raise LabelConfigError(walk.errors)

    canonical_xml = etree.tostring(root, encoding="unicode")
    root_line = root.sourceline
    try:
        li = LabelInterface(canonical_xml)
        li.validate()
    except LabelStudioValidationErrorSentryIgnored as exc:
        raise LabelConfigError(
            [
                {
                    "line": root_line,
                    "tag": "View",
                    "detail": f"tag <View> on line {root_line}: Label Studio rejects the config: {exc}",
                }
            ]
        ) from None

    objects: dict[str, ObjectSpec] = {}
    for el in walk.objects:
        obj = li.get_object(el.get("name"))
        objects[obj.name] = ObjectSpec(tag=el.tag, value_key=obj.value_name)

    controls: list[ControlSpec] = []
    for el in walk.controls:
        ctrl = li.get_control(el.get("name"))
        labels = list(ctrl.labels or [])
        walked = [label for label, _ in walk.labels[el]]
        if labels != walked:  # LabelInterface read the children differently
            raise LabelConfigError(
                [_err(el, f"has labels {walked}, but Label Studio reads them as {labels}")]
            )
        attrs = {label: ctrl.labels_attrs[label] for label in labels}
        hotkeys = {k: v.get_attr("hotkey") for k, v in attrs.items() if v.get_attr("hotkey")}
        colors = {k: v.get_attr("background") for k, v in attrs.items() if v.get_attr("background")}
        if isinstance(ctrl, ChoicesTag):
            multiple = ctrl.is_multiple_choice
        else:
            multiple = ctrl.get_attr("choice") == "multiple"
        obj = li.get_object(ctrl.to_name[0])
        controls.append(
            ControlSpec(
                name=ctrl.name,
                tag=el.tag,
                type=_CONTROL_TAGS[el.tag][0],
                to_name=obj.name,
                object_tag=objects[obj.name].tag,
                data_key=obj.value_name,
                labels=labels,
                choice="multiple" if multiple else "single",
                hotkeys=hotkeys,
                colors=colors,
                max_rating=int(ctrl.get_attr("maxRating", "5")) if el.tag == "Rating" else None,
                required=str(ctrl.get_attr("required", "false")).lower() == "true",
            )
        )
    return LabelSchema(objects=objects, controls=controls)


# --------------------------------------------------------------------------- config changes


def collect_used_labels(
    schema: LabelSchema, results: Iterable[list[dict[str, Any]]]
) -> dict[str, set[str]]:
    """Controls and labels that existing annotation results use.

    Parameters
    ----------
    schema : LabelSchema
        The project's current schema.
    results : iterable of list of dict
        The ``result`` list of every stored annotation (and prediction, if those must stay
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
            if control.type in _LABEL_FIELD and isinstance(value, dict):
                names = value.get(_LABEL_FIELD[control.type])
                if isinstance(names, list):
                    labels.update(n for n in names if isinstance(n, str))
    return used


def check_config_change(
    old: LabelSchema,
    new: LabelSchema,
    *,
    used_labels: dict[str, set[str]],
    task_keys: set[str] | None = None,
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
            add(
                control.tag,
                f"{where}: label {label!r} is used by existing annotations and was "
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


# --------------------------------------------------------------------------- validation


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_labels(control: ControlSpec, names: Any, field: str, where: str) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return [f"{where}: value.{field} must be a non-empty list of label names"]
    problems = []
    unknown = [n for n in names if n not in control.labels]
    if unknown:
        problems.append(
            f"{where}: unknown label(s) {unknown} for control {control.name!r}; "
            f"labels are {control.labels}"
        )
    if len(set(names)) != len(names):
        problems.append(f"{where}: value.{field} repeats a label: {names}")
    if control.choice == "single" and len(names) > 1:
        problems.append(
            f"{where}: control {control.name!r} takes a single label, got {len(names)}: {names}"
        )
    return problems


def _utf16_slice(text: str, start: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le", errors="replace")


def _check_span(control: ControlSpec, value: dict, data: dict, where: str) -> list[str]:
    start, end = value.get("start"), value.get("end")
    if not (_is_int(start) and _is_int(end)):
        return [
            f"{where}: value.start and value.end must be whole character offsets, "
            f"got start={start!r}, end={end!r}"
        ]
    text = data.get(control.data_key) if isinstance(data, dict) else None
    if not isinstance(text, str):
        return [
            f"{where}: cannot check the span: task data {control.data_key!r} is missing "
            "or not a string"
        ]
    given = value.get("text")
    hint = ""
    if isinstance(given, str) and 0 <= start < end and given == _utf16_slice(text, start, end):
        hint = (
            " (the offsets look like UTF-16 code units as counted by JavaScript; "
            "labelfab counts Unicode code points)"
        )
    if not 0 <= start < end <= len(text):
        return [
            f"{where}: span [{start}, {end}) is outside the text, which has "
            f"{len(text)} characters (offsets need 0 <= start < end <= {len(text)}){hint}"
        ]
    if given is not None and given != text[start:end]:
        return [
            f"{where}: span text {given!r} does not match the task text at "
            f"[{start}, {end}), which is {text[start:end]!r}{hint}"
        ]
    return []


def _check_box(
    value: dict, item: dict, image_size: tuple[int, int] | None, where: str
) -> list[str]:
    coords = {k: value.get(k) for k in ("x", "y", "width", "height")}
    bad = [k for k, v in coords.items() if not _is_number(v)]
    if bad:
        return [f"{where}: value.{', value.'.join(bad)} must be numbers (percent of the image)"]
    x, y, w, h = coords["x"], coords["y"], coords["width"], coords["height"]
    rotation = value.get("rotation", 0) or 0
    if not _is_number(rotation):
        return [f"{where}: value.rotation must be a number of degrees, got {rotation!r}"]
    if w <= 0 or h <= 0:
        return [f"{where}: box has width {w} and height {h}; both must be > 0"]
    problems = []
    if image_size is not None:
        for key, size in zip(("original_width", "original_height"), image_size, strict=True):
            if key in item and item[key] != size:
                problems.append(f"{where}: {key} is {item[key]}, but the image is {size} px")
    tol = BOX_TOLERANCE
    if not (-tol <= x <= 100 + tol and -tol <= y <= 100 + tol):
        problems.append(f"{where}: box corner ({x}, {y}) is outside the image (0-100 percent)")
        return problems
    if rotation % 360 == 0:
        if x + w > 100 + tol or y + h > 100 + tol:
            problems.append(
                f"{where}: box x={x}, y={y}, width={w}, height={h} goes outside the image "
                "(x + width and y + height must be <= 100 percent)"
            )
    elif image_size is not None:
        # Label Studio rotates a box clockwise about its top-left corner (x, y).
        iw, ih = image_size
        theta = math.radians(rotation)
        x0, y0, pw, ph = x * iw / 100, y * ih / 100, w * iw / 100, h * ih / 100
        for dx, dy in ((pw, 0), (pw, ph), (0, ph)):
            cx = x0 + dx * math.cos(theta) - dy * math.sin(theta)
            cy = y0 + dx * math.sin(theta) + dy * math.cos(theta)
            if not (
                -tol * iw / 100 <= cx <= iw * (1 + tol / 100)
                and -tol * ih / 100 <= cy <= ih * (1 + tol / 100)
            ):
                problems.append(
                    f"{where}: box rotated by {rotation} degrees goes outside the "
                    f"{iw}x{ih} image (corner at {cx:.1f}, {cy:.1f} px)"
                )
                break
    return problems


def validate_result(
    schema: LabelSchema,
    result: list[dict[str, Any]],
    data: dict[str, Any],
    *,
    image_size: tuple[int, int] | None = None,
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
        if item.get("to_name") != control.to_name:
            problems.append(
                f"{where}: to_name is {item.get('to_name')!r}, but control {control.name!r} "
                f"annotates {control.to_name!r}"
            )
        item_type = item.get("type")
        if not isinstance(item_type, str) or item_type.lower() != control.type:
            problems.append(f"{where}: type is {item_type!r}, expected {control.type!r}")
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            problems.append(f"{where}: value must be an object")
            continue
        if control.type in _PER_TASK_TYPES:
            per_task_seen[control.name] = per_task_seen.get(control.name, 0) + 1
            if per_task_seen[control.name] == 2:
                problems.append(
                    f"{where}: control {control.name!r} takes one result item per task, found more"
                )
        if control.type in _LABEL_FIELD:
            field = _LABEL_FIELD[control.type]
            problems += _check_labels(control, value.get(field), field, where)
        if control.type == "labels":
            problems += _check_span(control, value, data, where)
        elif control.type == "rectanglelabels":
            problems += _check_box(value, item, image_size, where)
        elif control.type == "textarea":
            text = value.get("text")
            if not isinstance(text, list) or not text or not all(isinstance(t, str) for t in text):
                problems.append(f"{where}: value.text must be a non-empty list of strings")
        elif control.type == "rating":
            rating = value.get("rating")
            if not _is_int(rating) or not 1 <= rating <= (control.max_rating or 5):
                problems.append(
                    f"{where}: value.rating must be a whole number from 1 to "
                    f"{control.max_rating}, got {rating!r}"
                )
    for control in schema.controls:
        if control.required and control.name not in present:
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
        value = data[key]
        if obj.tag == "Text" and not isinstance(value, str):
            problems.append(
                f"data field {key!r} must be a string (text), got {type(value).__name__}"
            )
        elif obj.tag == "Image" and (not isinstance(value, str) or not value.strip()):
            problems.append(f"data field {key!r} must be an image URL or path, got {value!r}")
    return problems


def result_labels(schema: LabelSchema, result: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Label names chosen in a result, per control.

    Parameters
    ----------
    schema : LabelSchema
    result : list of dict
        A result that :func:`validate_result` accepts; items of unknown controls are skipped.

    Returns
    -------
    dict of str to list of str
        For every Choices, Labels and RectangleLabels control: the label names its items carry,
        each once, in order of first appearance (``[]`` if none).
    """
    labels: dict[str, list[str]] = {c.name: [] for c in schema.controls if c.type in _LABEL_FIELD}
    for item in result:
        if not isinstance(item, dict) or item.get("from_name") not in labels:
            continue
        control = schema.control(item["from_name"])
        value = item.get("value")
        names = value.get(_LABEL_FIELD[control.type]) if isinstance(value, dict) else None
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name not in labels[control.name]:
                labels[control.name].append(name)
    return labels


def result_from_labels(schema: LabelSchema, labels: list[str] | str) -> list[dict[str, Any]]:
    """Build a choices result for the primary control from label names.

    Parameters
    ----------
    schema : LabelSchema
        A schema whose primary control is a Choices (kind classification or multilabel).
    labels : str or list of str
        One label name, or several for a multiple-choice control.

    Returns
    -------
    list of dict
        ``[{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}]``, or
        ``[]`` for an empty list on a multiple-choice control (Label Studio keeps no item when
        nothing is chosen).

    Raises
    ------
    ValueError
        If the primary control is not Choices, a label is unknown or repeated, or a
        single-choice control gets other than exactly one label.
    """
    control = schema.primary_control
    if control.tag != "Choices":
        raise ValueError(
            f"the primary control {control.name!r} is <{control.tag}>; labels can only be set "
            "from names for <Choices> (classification or multilabel)"
        )
    names = [labels] if isinstance(labels, str) else list(labels)
    unknown = [n for n in names if n not in control.labels]
    if unknown:
        raise ValueError(
            f"unknown label(s) {unknown} for control {control.name!r}; labels are {control.labels}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"label repeated in {names}")
    if control.choice == "single" and len(names) != 1:
        raise ValueError(
            f"control {control.name!r} takes exactly one label, got {len(names)}: {names}"
        )
    if not names:
        return []
    return [
        {
            "from_name": control.name,
            "to_name": control.to_name,
            "type": "choices",
            "value": {"choices": names},
        }
    ]


# --------------------------------------------------------------------------- gallery


def gallery() -> list[dict[str, str]]:
    """Ready-made label configs from ``labeling/gallery/*.xml``.

    Returns
    -------
    list of dict
        ``{"id", "title", "kind", "xml"}`` per config, sorted by id; ``id`` is the file name
        without ``.xml`` and ``title`` the config's leading comment.
    """
    folder = resources.files("labeling").joinpath("gallery")
    entries = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".xml"):
            continue
        xml = path.read_text(encoding="utf-8")
        title = re.match(r"\s*<!--\s*(.*?)\s*-->", xml, re.DOTALL)
        entries.append(
            {
                "id": path.name.removesuffix(".xml"),
                "title": title.group(1) if title else path.name.removesuffix(".xml"),
                "kind": parse_label_config(xml).kind,
                "xml": xml,
            }
        )
    return entries
