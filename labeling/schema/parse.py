"""Parsing a Label Studio XML label config into a :class:`~labeling.schema.model.LabelSchema`.

The XML is parsed by ``label_studio_sdk.label_interface.LabelInterface`` (the same parser Label
Studio uses), after a structural pass with lxml that keeps line numbers, refuses what labelfab
cannot annotate yet, and names the offending tag and line in every error. Which tags exist and
what each accepts comes from :mod:`labeling.schema.registry`.
"""

from __future__ import annotations

import re
from typing import Any

from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ChoicesTag
from lxml import etree

from labeling.schema import taxonomy
from labeling.schema.model import (
    ControlSpec,
    LabelConfigError,
    LabelSchema,
    NoteSpec,
    ObjectSpec,
    RelationsSpec,
)
from labeling.schema.registry import (
    CANONICAL,
    CONTROLS,
    LAYOUT_TAGS,
    OBJECTS,
    RELATION_TAGS,
    SUPPORTED_HINT,
)
from labeling.schema.tags import attr as _attr
from labeling.settings import get_settings

__all__ = ["parse_label_config"]

_VARIABLE = re.compile(r"^\$([^, ]+)$")
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
#: Control tags Label Studio accepts without ``toName``: they annotate the config's first object.
_WITHOUT_TO_NAME = {"Rating", "DateTime"}
#: Control tags that hold label tags (``<Choices>``...).
_LABELLED = [t.name for t in CONTROLS.values() if t.label_tag is not None]


def _either(tags: list[str]) -> str:
    """``["A", "B", "C"]`` -> ``"<A>, <B> or <C>"``."""
    shown = [f"<{t}>" for t in tags]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _err(el: Any, reason: str, *, tag: str | None = None) -> dict[str, Any]:
    tag = tag or (el.tag if isinstance(el.tag, str) else None)
    line = el.sourceline
    return {"line": line, "tag": tag, "detail": f"tag <{tag}> on line {line} {reason}"}


def _canonical(el: Any) -> str | None:
    if not isinstance(el.tag, str) or el.tag.startswith("{"):
        return None
    return CANONICAL.get(el.tag.lower())



def _parse_xml(xml: str) -> Any:
    if not isinstance(xml, str):
        raise TypeError(f"label config must be a str, not {type(xml).__name__}")
    limit = get_settings().max_label_config_kb
    try:
        size = len(xml.encode("utf-8"))
    except UnicodeEncodeError as exc:
        line = xml.count("\n", 0, exc.start) + 1
        raise LabelConfigError(
            [{"line": line, "tag": None,
              "detail": f"line {line} holds a lone surrogate (like \\ud800), which is not text"}]
        ) from None
    if size > limit * 1024:
        raise LabelConfigError(
            [{"line": None, "tag": None,
              "detail": f"the label config is {size / 1024:,.0f} KiB; the limit is {limit:,} KiB "
                        "(LABELFAB_MAX_LABEL_CONFIG_KB)"}]
        )
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
        self.named: dict[str, Any] = {}  # name -> element (objects, literal texts and controls)
        self.objects: list[Any] = []
        self.literals: set[Any] = set()  # <Text> elements with a literal value (shown, not annotated)
        self.controls: list[Any] = []
        self.targets: dict[Any, list[str]] = {}  # control el -> the object names it annotates
        self.labels: dict[Any, dict[str, Any]] = {}  # control el -> {label name: el}, in order
        self.trees: dict[Any, list[list[str]]] = {}  # Taxonomy el -> every node's path
        self.notes: list[dict[str, Any]] = []  # headers and literal texts, in config order
        self.pending: list[dict[str, Any]] = []  # notes waiting for the object or control after them
        self.max_labels = get_settings().max_labels_per_control
        self.hotkeys: dict[str, Any] = {}
        self.refused: set[str] = set()  # names of refused tags, already reported
        self.relations: RelationsSpec | None = None
        self.roles: list[str] = []  # whenRole of the <View> being read (per-message controls of a Chat)
        self.when_roles: dict[Any, list[str]] = {}  # control el -> the roles its messages must have
        self.region_when: str | None = None  # region-selected / no-region-selected of the <View> being read
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

    def _placed(self, name: str) -> None:
        """The notes read since the last object or control come before ``name``."""
        for note in self.pending:
            note["before"] = name
        self.pending = []

    def _note(self, el: Any, **note: Any) -> None:
        note = {"tag": el.tag, "before": None, **note}
        if self.region_when is not None:  # the View's visibility is the note's (Label Studio hides its contents)
            note.update(visible_when=self.region_when, when_roles=list(self.roles))
        self.notes.append(note)
        self.pending.append(note)

    def _visit(self, parent: Any, control: Any) -> None:
        for el in _elements(parent):
            tag = _canonical(el)
            if tag is None:
                self.errors.append(_err(el, f"is not supported yet ({SUPPORTED_HINT})"))
                if el.get("name"):
                    self.refused.add(el.get("name"))
                continue
            el.tag = tag  # LabelInterface matches canonical names only
            if tag in LAYOUT_TAGS:
                if tag != "View" and _elements(el):
                    self.errors.append(_err(el, "cannot contain other tags"))
                    continue
                if tag == "Header":
                    self._header(el, control)
                roles = [r.strip() for r in (_attr(el, "whenRole") or "").split(",") if r.strip()]
                outer, outer_when = self.roles, self.region_when
                if tag == "View" and roles:
                    self.roles = roles
                when = _attr(el, "visibleWhen") if tag == "View" else None
                if when in ("region-selected", "no-region-selected"):
                    self.region_when = when
                try:
                    self._visit(el, control)
                finally:
                    self.roles, self.region_when = outer, outer_when
            elif tag in OBJECTS:
                self._object(el, control)
            elif tag in CONTROLS:
                self._control(el, control)
            elif tag in RELATION_TAGS:
                self._relations(el, control)
            else:
                self._label(el, control)

    def _relations(self, el: Any, control: Any) -> None:
        """``<Relations>`` and its ``<Relation value="...">`` labels (a tag of its own: its
        result items name regions, not an object)."""
        if el.tag == "Relation" or control is not None:
            where = "inside <Relations>" if el.tag == "Relation" else "outside other controls"
            self.errors.append(_err(el, f"must be {where}"))
            return
        if self.relations is not None:
            self.errors.append(_err(el, "is a second <Relations>; a config has at most one"))
            return
        choice = _attr(el, "choice") or "multiple"
        if choice not in ("single", "multiple"):
            self.errors.append(_err(el, f'has choice="{choice}"; use "single" or "multiple"'))
            return
        labels: dict[str, str | None] = {}
        for child in _elements(el):
            if _canonical(child) != "Relation" or _elements(child):
                self.errors.append(_err(child, "cannot be inside <Relations>; use <Relation value=\"...\"/>"))
                continue
            child.tag = "Relation"
            value = _attr(child, "value")
            if value is None:
                self.errors.append(_err(child, 'has no value="..." attribute'))
            elif value not in labels:
                labels[value] = _attr(child, "background")
        self.relations = RelationsSpec(labels=list(labels), choice=choice,
                                       colors={k: v for k, v in labels.items() if v})

    def _header(self, el: Any, control: Any) -> None:
        value = _attr(el, "value")
        text = value if value is not None else (el.text or "").strip() or None
        if control is not None or text is None:
            return  # a header inside a control, or an empty one, shows nothing
        size = _attr(el, "size")
        variable = _VARIABLE.match(text)
        self._note(el, text=None if variable else text, value_key=variable.group(1) if variable else None,
                   size=int(size) if size is not None and size.isdigit() else None)

    def _object(self, el: Any, control: Any) -> None:
        if control is not None:
            self.errors.append(
                _err(el, f"cannot be inside <{control.tag}> on line {control.sourceline}")
            )
            return
        if _elements(el) and not OBJECTS[el.tag].children:
            self.errors.append(_err(el, "cannot contain other tags"))
        value_list = _attr(el, "valueList")
        if value_list is not None and el.tag != "Image":
            self.errors.append(_err(el, "uses valueList, which only <Image> supports"))
        self.errors += [_err(el, reason) for reason in OBJECTS[el.tag].check_attrs(el)]
        name = self._name(el)
        value = value_list if el.tag == "Image" and value_list is not None else _attr(el, "value")
        if el.tag == "Text" and value is not None and "$" not in value:
            # Label Studio shows a literal value as it is: an instruction, not task data
            if name is not None:
                self.literals.add(el)
            self._note(el, text=value)
        elif value is None or not _VARIABLE.match(value):
            shown = "" if value is None else f' (got value="{value}")'
            self.errors.append(
                _err(el, f'needs value="$field" naming a task data field, like "$text"{shown}')
            )
        elif name is not None:
            self.objects.append(el)
            self._placed(name)

    def _control(self, el: Any, control: Any) -> None:
        if control is not None:
            self.errors.append(
                _err(el, f"cannot be inside <{control.tag}> on line {control.sourceline}")
            )
            return
        name = self._name(el)
        ok = name is not None
        to_name = _attr(el, "toName")
        targets = [t.strip() for t in (to_name or "").split(",") if t.strip()]
        if not targets and el.tag not in _WITHOUT_TO_NAME:
            self.errors.append(
                _err(el, 'has no toName="..." attribute naming the object it annotates')
            )
            ok = False
        elif len(targets) > 1 and not CONTROLS[el.tag].per_task:
            self.errors.append(
                _err(
                    el,
                    f'marks regions on several objects (toName="{to_name}"), which is not supported yet',
                )
            )
            ok = False
        self.targets[el] = targets
        self.when_roles[el] = list(self.roles)
        if (_attr(el, "perRegion") or "").lower() == "true" and not CONTROLS[el.tag].per_region:
            self.errors.append(_err(el, 'uses perRegion="true", which labelfab supports on '
                                        + _either([t.name for t in CONTROLS.values() if t.per_region])))
            ok = False
        if (_attr(el, "perItem") or "").lower() == "true":
            if (_attr(el, "perRegion") or "").lower() == "true":
                self.errors.append(_err(el, 'uses perItem="true" with perRegion="true"; they are two modes, '
                                            "as in Label Studio: use one"))
                ok = False
            elif not CONTROLS[el.tag].per_task or CONTROLS[el.tag].region:
                self.errors.append(_err(el, 'uses perItem="true", which labelfab supports on classifications '
                                            "(Choices, TextArea, Rating, Number, DateTime, Taxonomy)"))
                ok = False
        refused = CONTROLS[el.tag].check_attrs(el) + _visibility_problems(el)
        if refused:
            self.errors += [_err(el, reason) for reason in refused]
            ok = False
        choice = _attr(el, "choice")
        if choice is not None and choice not in ("single", "single-radio", "multiple"):
            self.errors.append(
                _err(el, f'has choice="{choice}"; use "single", "single-radio" or "multiple"')
            )
            ok = False
        self.labels[el] = {}
        children = _elements(el)
        if el.tag == "Taxonomy":
            children = list(el.iter("Choice", "choice"))
        if len(children) > self.max_labels:
            self.errors.append(
                _err(el, f"has {len(children):,} tags inside it; the limit is {self.max_labels:,} labels "
                         "per control (LABELFAB_MAX_LABELS_PER_CONTROL)")
            )
            return
        if el.tag == "Taxonomy":
            ok = ok and self._taxonomy(el)
        else:
            self._visit(el, el)
        child = CONTROLS[el.tag].label_tag
        value = _attr(el, "value")
        if child is not None and value is not None and not _VARIABLE.match(value):
            self.errors.append(
                _err(el, f'has value="{value}"; labels from task data need value="$field", like "$options"')
            )
            ok = False
        elif child is not None and not self.labels[el] and value is None and CONTROLS[el.tag].labels_in_value:
            self.errors.append(_err(el, f'has no labels; add <{child} value="..."/> inside it'))
            ok = False
        if ok:
            self.controls.append(el)
            self._placed(name)

    def _taxonomy(self, el: Any) -> bool:
        """A Taxonomy's nested ``<Choice>`` tags -> ``self.trees[el]``, every node's path."""

        def tree(parent: Any) -> list[tuple[str, list]] | None:
            nodes = []
            for child in _elements(parent):
                if _canonical(child) != "Choice":
                    self.errors.append(_err(child, f"cannot be inside <Taxonomy> on line {el.sourceline}; "
                                                   "use <Choice>"))
                    return None
                child.tag = "Choice"
                name = _attr(child, "alias") or _attr(child, "value")
                if name is None:
                    self.errors.append(_err(child, 'has no value="..." attribute'))
                    return None
                kids = tree(child)
                if kids is None:
                    return None
                nodes.append((name, kids))
            return nodes

        nodes = tree(el)
        if nodes is None:
            return False
        if not nodes:
            self.errors.append(_err(el, 'has no choices; add <Choice value="..."/> inside it'))
            return False
        self.trees[el] = taxonomy.tree_paths(nodes)
        return True

    def _label(self, el: Any, control: Any) -> None:
        if control is None:
            self.errors.append(_err(el, f"must be inside {_either(_LABELLED)}"))
            return
        expected = CONTROLS[control.tag].label_tag
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
        if _elements(el):
            self.errors.append(
                _err(el, "cannot contain other tags (nested choices are not supported yet)")
            )
            return
        label_attr = CONTROLS[control.tag].label_attr
        label = _attr(el, "alias") or _attr(el, label_attr)
        if label is None:
            self.errors.append(_err(el, f'has no {label_attr}="..." attribute'))
            return
        if label in self.labels[control]:
            # Label Studio shows a repeated label twice and stores the same name either way
            el.getparent().remove(el)
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
        self.labels[control][label] = el

    def check_targets(self) -> None:
        if not self.controls and not self.errors and not any(o.tag == "Chat" for o in self.objects):
            self.errors.append(
                _err(
                    self.root,
                    "has no control tag inside it, so there is nothing to "
                    f"annotate ({SUPPORTED_HINT})",
                )
            )
        for el in list(self.controls):
            if not self.targets[el]:  # no toName: the first object, as Label Studio's editor takes it
                if not self.objects:
                    self.controls.remove(el)
                    continue
                self.targets[el] = [self.objects[0].get("name")]
            for to_name in self.targets[el]:
                if not self._target_ok(el, to_name):
                    self.controls.remove(el)
                    break
        shapes = {t for el in self.controls  # plain shape tools: regions without labels of their own
                  if (CONTROLS[el.tag].region or not CONTROLS[el.tag].per_task) and CONTROLS[el.tag].label_tag is None
                  for t in self.targets[el]}
        for el in list(self.controls):
            images = [t for t in self.targets[el] if self.named[t].tag == "Image"]
            if el.tag == "Labels" and images and not set(images) <= shapes:
                self.errors.append(_err(el, f"labels the plain shapes of <Image> {images[0]!r}, but no shape tool "
                                            "(like <Rectangle>) draws on it"))
                self.controls.remove(el)
        names = {el.get("name"): el for el in self.controls}
        for el in list(self.controls):
            when = _attr(el, "whenTagName")
            other = names.get(when) if when is not None else None
            # a per-region control may follow the labels of a region's own control (Label Studio's
            # perRegion with whenTagName/whenLabelValue: the audio transcription templates)
            by_labels = (other is not None and CONTROLS.get(other.tag) is not None and CONTROLS[other.tag].region
                         and (_attr(el, "perRegion") or "").lower() == "true")
            if when is not None and (other is None or (other.tag != "Choices" and not by_labels)):
                self.errors.append(_err(el, f'has whenTagName="{when}", but no <Choices> has that name'))
                self.controls.remove(el)

    def _target_ok(self, el: Any, to_name: str) -> bool:
        target = self.named.get(to_name)
        if target is None and to_name in self.refused:
            return False
        if target in self.literals:
            self.errors.append(
                _err(el, f'has toName="{to_name}", but <Text> {to_name!r} on line {target.sourceline} '
                         'shows a literal value; an object to annotate needs value="$field"')
            )
            return False
        if target is None or target.tag not in OBJECTS:
            what = (
                f"no {_either(list(OBJECTS))} has that name"
                if target is None
                else (f"that is <{target.tag}> on line {target.sourceline}, not an object")
            )
            self.errors.append(_err(el, f'has toName="{to_name}", but {what}'))
            return False
        if target not in self.objects:
            return False  # the object's own error is already reported
        if target.tag not in CONTROLS[el.tag].targets:
            allowed = _either(list(CONTROLS[el.tag].targets))
            self.errors.append(
                _err(
                    el,
                    f"cannot annotate <{target.tag}> {to_name!r} "
                    f"(line {target.sourceline}); it works on {allowed}",
                )
            )
            return False
        return True


def _elements(el: Any) -> list[Any]:
    """The element children of ``el`` (comments and processing instructions left out)."""
    return [child for child in el if isinstance(child.tag, str)]


def _visibility_problems(el: Any) -> list[str]:
    when = _attr(el, "visibleWhen")
    if when is None:
        return []
    if when not in ("choice-selected", "choice-unselected", "region-selected"):
        return [f'has visibleWhen="{when}", which is not supported yet '
                '(labelfab supports "choice-selected", "choice-unselected" and "region-selected")']
    return []


class _Attributes:
    """An element's attributes read as Label Studio's ``get_attr`` reads them."""

    def __init__(self, el: Any):
        self.el = el

    def get_attr(self, name: str, default: Any = None) -> Any:
        value = _attr(self.el, name)
        return default if value is None else value


def _text_kind(text: str) -> str | None:
    """The JSON type Label Studio's schema check sees for a tag's text, as its XML-to-JSON
    reading (``xmljson`` badgerfish) converts it: none, boolean, number or string."""
    text = text.strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return "boolean"
    for number in (int, float):
        try:
            number(text)
            return "number"
        except ValueError:
            pass
    return "string"


def _shape(el: Any) -> tuple:
    """What Label Studio's JSON-schema check sees of a label tag: its attribute names, the
    type of its text and whether it holds tags."""
    return tuple(sorted(el.attrib)), _text_kind(el.text or ""), len(el)


def _label_interface(root: Any, walk: _Walk) -> LabelInterface:
    """Label Studio's reading of the config, with, per control, one label of each shape.

    Label Studio's check (``LabelInterface.validate``) runs a JSON schema over every tag, and
    its parse builds an object per label: a millisecond and more per label, so a taxonomy of
    thousands held a request for seconds. Labels of one shape pass or fail the check alike, so
    Label Studio reads one of each shape (and the first two, as a single label reads as an
    object, not a list); the config is otherwise unchanged, and every label is still read as
    Label Studio reads it (:func:`_ls_label`). The labels left out leave ``root``.
    """
    for labels in walk.labels.values():
        seen: set[tuple] = set()
        for n, label_el in enumerate(labels.values()):
            shape = _shape(label_el)
            if n < 2 or shape not in seen:
                seen.add(shape)
            else:
                label_el.getparent().remove(label_el)
    return LabelInterface(etree.tostring(root, encoding="unicode"))


def _ls_label(el: Any) -> str | None:
    """A label tag's name as Label Studio reads it (``LabelTag.parse_node``: alias, else value)."""
    return el.get("alias") or el.get("value")


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

    root_line = root.sourceline
    li = _label_interface(root, walk)
    try:
        li.validate()
    # The SDK's public API documents only ``Exception`` here (its own exception classes live in
    # its private ``_legacy`` module): caught around this one call, reported as a refusal.
    except Exception as exc:
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
        value_list = el.tag == "Image" and _attr(el, "valueList") is not None
        objects[obj.name] = ObjectSpec(tag=el.tag, value_key=obj.value_name, value_list=value_list,
                                       **OBJECTS[el.tag].spec_fields(el))

    controls: list[ControlSpec] = []
    read_by_sdk = {c.name for c in li.controls}
    for el in walk.controls:
        name = el.get("name")
        # Label Studio's SDK leaves out controls without toName; their attributes are read alike
        ctrl = li.get_control(name) if name in read_by_sdk else _Attributes(el)
        walked = walk.labels[el]  # label -> its tag, every one (Label Studio read some of them)
        labels = list(walked)
        read = [_ls_label(label_el) for label_el in walked.values()]
        kept = [label for label, label_el in walked.items() if label_el.getparent() is not None]
        # a Ranker's buckets are named by name="...", and Label Studio's SDK reads no labels of it
        if (el.tag != "Taxonomy" and CONTROLS[el.tag].labels_in_value
                and (read != labels or list(getattr(ctrl, "labels", kept) or []) != kept)):  # Label Studio reads them otherwise
            raise LabelConfigError(
                [_err(el, f"has labels {labels}, but Label Studio reads them as {read}")]
            )
        # the attributes as Label Studio's get_attr reads them (exact name, else lower-case)
        hotkeys = {k: v for k, label_el in walked.items() if (v := _attr(label_el, "hotkey"))}
        colors = {k: v for k, label_el in walked.items() if (v := _attr(label_el, "background"))}
        tag = CONTROLS[el.tag]
        titles = {k: v for k, label_el in walked.items() if tag.label_tag == "Bucket" and (v := _attr(label_el, "title"))}
        if isinstance(ctrl, ChoicesTag):
            multiple = ctrl.is_multiple_choice
        else:
            multiple = ctrl.get_attr("choice") == "multiple"
        targets = walk.targets[el]
        obj = objects[targets[0]]
        value = _attr(el, "value") if tag.label_tag is not None else None
        when_values = _attr(el, "whenChoiceValue")
        when_labels = _attr(el, "whenLabelValue")
        controls.append(
            ControlSpec(
                name=name,
                tag=el.tag,
                type=tag.result_type,
                to_name=targets[0],
                object_tag=obj.tag,
                data_key=obj.value_key,
                labels=labels,
                choice="multiple" if multiple else "single",
                hotkeys=hotkeys,
                colors=colors,
                titles=titles,
                required=str(ctrl.get_attr("required", "false")).lower() == "true",
                to_names=targets if len(targets) > 1 else [],
                labels_key=value[1:] if value else None,
                visible_when=_attr(el, "visibleWhen"),
                when_tag_name=_attr(el, "whenTagName"),
                when_choice_values=[v.strip() for v in (when_values or "").split(",") if v.strip()],
                default_bucket=next((k for k, b in walked.items() if tag.label_attr == "name"
                                     and (_attr(b, "default") or "").lower() == "true"), None),
                per_region=str(ctrl.get_attr("perRegion", "false")).lower() == "true",
                per_item=(_attr(el, "perItem") or "").lower() == "true",
                when_label_values=[v.strip() for v in (when_labels or "").split(",") if v.strip()],
                when_roles=walk.when_roles.get(el, []),
                **tag.spec_fields(ctrl),
                **({"text_key": obj.text_key} if obj.text_key is not None else {}),
                **({"series": obj.series} if obj.series is not None else {}),
                **({"taxonomy": walk.trees[el]} if el in walk.trees else {}),
            )
        )
    _check_per_item(walk, controls, objects)
    # a <Chat> is its own control too (label-studio-sdk's ChatMessageTag): the messages added
    controls += [ControlSpec(name=name, tag="ChatMessage", type="chatmessage", to_name=name, object_tag="Chat",
                             data_key=obj.value_key) for name, obj in objects.items() if obj.tag == "Chat"]
    notes = [NoteSpec(**note) for note in walk.notes]
    return LabelSchema(objects=objects, controls=controls, notes=notes, relations=walk.relations)


def _check_per_item(walk: _Walk, controls: list[ControlSpec], objects: dict[str, ObjectSpec]) -> None:
    """``perItem`` needs an object with pages: a ``<Pdf>`` or an ``<Image valueList>``."""
    errors = []
    for el, control in zip(walk.controls, controls, strict=True):
        obj = objects[control.to_name]
        if control.per_item and not (obj.tag == "Pdf" or obj.value_list):
            errors.append(_err(el, f'uses perItem="true" on <{obj.tag}> {control.to_name!r}, which has no pages; '
                                   'perItem classifies the pages of a <Pdf> or an <Image valueList>'))
    if errors:
        raise LabelConfigError(errors)
