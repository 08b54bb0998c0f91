"""labelfab's view of a label config: :class:`LabelSchema` and its parts.

A :class:`LabelSchema` is small and JSON-serialisable: ``model_dump()`` is what the database
stores in ``Project.label_schema``; :func:`labeling.schema.schema_of` reads it back (cached).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from labeling.schema.registry import CONTROLS, OBJECTS, RESULT_TYPES

__all__ = ["ControlSpec", "Kind", "LabelConfigError", "LabelSchema", "NoteSpec", "ObjectSpec"]

Kind = Literal["classification", "multilabel", "ner", "detection", "other"]


def _known(table: dict, what: str) -> Any:
    def check(value: str) -> str:
        if value not in table:
            raise ValueError(f"unknown {what} {value!r}; known: {', '.join(table)}")
        return value

    return AfterValidator(check)


ObjectTagName = Annotated[str, _known(OBJECTS, "object tag")]
ControlTagName = Annotated[str, _known(CONTROLS, "control tag")]
ResultType = Annotated[str, _known(RESULT_TYPES, "result type")]


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
    tag : str
        An object tag of :data:`labeling.schema.registry.OBJECTS` (``"Text"``, ``"Image"``).
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
    tag : str
        A control tag of :data:`labeling.schema.registry.CONTROLS` (``"Choices"``,
        ``"Labels"``, ``"RectangleLabels"``, ``"TextArea"``, ``"Rating"``).
    type : str
        Label Studio result type (``type`` of its result items): ``"choices"``, ``"labels"``,
        ``"rectanglelabels"``, ``"textarea"``, ``"rating"``.
    to_name : str
        The object it annotates; ``to_name`` of its result items.
    object_tag : str
        Tag of that object.
    data_key : str
        Task data field of that object.
    labels : list of str
        Label names in config order, as stored in results (``alias`` if given, else ``value``).
        Empty for controls without labels (TextArea, Rating).
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
    to_names : list of str
        Every object of a control whose ``toName`` names several (``toName="a,b"``), in
        config order; ``to_name`` is the first, the one its result items carry. Empty when
        the control annotates one object.
    labels_key : str or None
        ``value="$options"`` on Choices or Labels: the task data field holding the labels
        (a list of names, or of ``{"value": ..., "alias": ...}`` objects, as Label Studio
        reads them); ``labels`` is then empty.
    visible_when : {"choice-selected", "choice-unselected"} or None
        Label Studio's conditional display: the control is shown (and its answer required
        and submitted) only while a choice is (or is not) selected ...
    when_tag_name : str or None
        ... in this control (``whenTagName``; any Choices control if None) ...
    when_choice_values : list of str
        ... and is one of these (``whenChoiceValue``, comma-separated; any choice if empty).
    min_value, max_value : float or None
        ``min`` and ``max`` of a Number.
    step : float or None
        ``step`` of a Number (Label Studio's default 1).
    only : list of str
        ``only`` of a DateTime: ``["date"]``, ``["time"]`` or empty (date and time).
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
    to_names: list[str] = []
    labels_key: str | None = None
    visible_when: Literal["choice-selected", "choice-unselected"] | None = None
    when_tag_name: str | None = None
    when_choice_values: list[str] = []
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    only: list[str] = []

    @property
    def targets(self) -> list[str]:
        """Every object the control annotates (``to_name`` first)."""
        return list(self.to_names) or [self.to_name]


class NoteSpec(BaseModel):
    """Text a config shows to annotators: a ``<Header>`` or a ``<Text>`` with a literal value.

    Attributes
    ----------
    tag : {"Header", "Text"}
    text : str or None
        The literal text (``value="Some instruction"``, or a Header's own text).
    value_key : str or None
        ``value="$field"`` on a Header: the task data field shown (as text).
    before : str or None
        The object or control it comes before in the config (None: after the last one), so
        the page shows it where the config puts it.
    size : int or None
        A Header's ``size`` (1 to 6 become the heading levels; Label Studio's default 4).
    """

    model_config = ConfigDict(frozen=True)

    tag: Literal["Header", "Text"]
    text: str | None = None
    value_key: str | None = None
    before: str | None = None
    size: int | None = None


class LabelSchema(BaseModel):
    """labelfab's view of a label config; ``model_dump()`` is what the database stores.

    Attributes
    ----------
    objects : dict of str to ObjectSpec
        Object name -> object.
    controls : list of ControlSpec
        Controls in config order.
    notes : list of NoteSpec
        Headers and literal texts, in config order.
    """

    model_config = ConfigDict(frozen=True)

    objects: dict[str, ObjectSpec]
    controls: list[ControlSpec]
    notes: list[NoteSpec] = []

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

        The first control with labels (Choices, Labels, RectangleLabels) in config order, else
        the first control.
        """
        for control in self.controls:
            if control.labels:
                return control
        return self.controls[0]

    @property
    def kind(self) -> Kind:
        """Primary task kind: ``classification``, ``multilabel``, ``ner``, ``detection`` or ``other``."""
        primary = self.primary_control
        return CONTROLS[primary.tag].kind(primary) or "other"  # type: ignore[return-value]

    @property
    def data_keys(self) -> set[str]:
        """Task data fields the config annotates or takes labels from, e.g. ``{"text"}``."""
        keys = {obj.value_key for obj in self.objects.values()}
        return keys | {c.labels_key for c in self.controls if c.labels_key}
