"""labelfab's view of a label config: :class:`LabelSchema` and its parts.

A :class:`LabelSchema` is small and JSON-serialisable: ``model_dump()`` is what the database
stores in ``Project.label_schema``; :func:`labeling.schema.schema_of` reads it back (cached).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from labeling.schema.chat import ChatOptions
from labeling.schema.registry import CONTROLS, OBJECTS, RESULT_TYPES

__all__ = ["ChannelSpec", "ControlSpec", "Kind", "LabelConfigError", "LabelSchema", "NoteSpec", "ObjectSpec", "RelationsSpec", "SeriesSpec"]

Kind = Literal["classification", "multilabel", "ner", "detection", "other", "taxonomy", "paragraphs",
               "keypoints", "segmentation", "ranking", "hypertext", "audio", "chat", "timeseries", "video", "regression"]


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


class ChannelSpec(BaseModel):
    """One ``<Channel>`` of a ``<TimeSeries>``: the column it plots (lower case, as Label
    Studio's editor matches columns; a column index like ``"1"`` in a CSV file), how it is
    drawn, and ``group``: the index of the ``<MultiChannel>`` it is in (its channels share one
    plot), None for a channel plotted on its own."""

    model_config = ConfigDict(frozen=True)

    column: str
    legend: str | None = None
    units: str | None = None
    stroke_color: str | None = None
    display_format: str | None = None
    group: int | None = None


class SeriesSpec(BaseModel):
    """A ``<TimeSeries>``'s attributes, as Label Studio's editor reads them.

    Attributes
    ----------
    value_type : {"url", "json"}
        ``url`` (the default): the task field holds the URL of a CSV (or JSON) file;
        ``json``: the task field holds the columns, ``{"column": [values...]}``.
    time_column : str or None
        The column of the x axis (lower case); None: the row index 0, 1, 2...
    time_format : str or None
        ``strftime`` pattern of the time column's values; region ``start``/``end`` are then
        strings in this pattern, else numbers in the time column's units.
    sep : str
        The CSV separator (``,``; ``tab``, ``space``... as Label Studio's aliases).
    channels : list of ChannelSpec
    overview_channels : list of str
    time_display_format : str or None
    """

    model_config = ConfigDict(frozen=True)

    value_type: Literal["url", "json"] = "url"
    time_column: str | None = None
    time_format: str | None = None
    sep: str = ","
    channels: list[ChannelSpec] = []
    overview_channels: list[str] = []
    time_display_format: str | None = None


class ObjectSpec(BaseModel):
    """An object tag: the piece of task data that is annotated.

    Attributes
    ----------
    tag : str
        An object tag of :data:`labeling.schema.registry.OBJECTS` (``"Text"``, ``"Image"``).
    value_key : str
        The task data field it shows, ``"text"`` for ``value="$text"``.
    name_key, text_key : str or None
        A Paragraphs' ``nameKey`` and ``textKey`` (the speaker and the text of each item).
    value_list : bool
        ``<Image valueList="$pages">``: the field holds a list of images (pages of one
        document); region items carry the page's ``item_index``.
    chat : ChatOptions or None
        A ``<Chat>``'s roles, editing and message bounds (:mod:`labeling.schema.chat`).
    frame_rate : str or None
        A ``<Video>``'s ``frameRate`` as written (``"25"``, or ``"$fps"`` read from the task);
        None: Label Studio's 24 (:func:`labeling.schema.video.frame_rate_of`).
    series : SeriesSpec or None
        A ``<TimeSeries>``'s attributes and channels.
    sync : str or None
        Label Studio's ``sync`` of an ``<Audio>``, ``<Video>`` or ``<Paragraphs>``: the objects
        that name each other (or the same name) play, pause, seek and change speed together on
        the labeling page (``web/static/annotate_sync.js``).
    audio_url : str or None
        A ``<Paragraphs>``' ``audioUrl`` as written (``"$audio"``): the audio its paragraphs'
        ``start``/``end`` (or ``duration``) seconds play.
    title : str or None
        A ``<List>``'s ``title``: the heading of its column on the page, as Label Studio's
        Ranker shows it.
    """

    model_config = ConfigDict(frozen=True)

    tag: ObjectTagName
    value_key: str
    name_key: str | None = None
    text_key: str | None = None
    value_list: bool = False
    chat: ChatOptions | None = None
    frame_rate: str | None = None
    series: SeriesSpec | None = None
    sync: str | None = None
    audio_url: str | None = None
    title: str | None = None


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
    visible_when : {"choice-selected", "choice-unselected", "region-selected"} or None
        Label Studio's conditional display: the control is shown (and its answer required
        and submitted) only while a choice is (or is not) selected, or while a region is
        selected (``region-selected``, with ``whenLabelValue`` naming the labels the region
        must carry) ...
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
    text_key : str or None
        ``textKey`` of the Paragraphs a control annotates (ParagraphLabels' spans count in it).
    taxonomy : list of list of str
        A Taxonomy's nodes, each as its path from the root, depth first in config order.
    leafs_only, show_full_path : bool
        A Taxonomy's ``leafsOnly`` and ``showFullPath``.
    path_separator : str
        A Taxonomy's ``pathSeparator`` (default ``" / "``).
    max_usages : int or None
        A Taxonomy's ``maxUsages``: how many paths one result may hold.
    default_bucket : str or None
        A Ranker's ``<Bucket default="true">`` (its ``labels`` are the buckets' names): the
        bucket the List's items start in; None: they start in the List (column ``"_"``).
    titles : dict of str to str
        A Ranker's ``<Bucket title>``: bucket name -> the heading of its column (Label
        Studio's editor shows the title; the name is the key stored in results).
    per_item : bool
        ``perItem="true"`` on a classification of a paged object (a ``<Pdf>``, an ``<Image
        valueList>``): one result item per page, carrying the page's ``item_index``
        (:mod:`labeling.schema.pdf`).
    per_region : bool
        ``perRegion="true"``: one result item per region of its object, carrying the
        region's ``id`` (and its geometry), shown while the region is selected.
    when_label_values : list of str
        ``whenLabelValue`` of a ``region-selected`` control: only regions with one of these
        labels have it.
    stroke_width : float or None
        ``strokeWidth`` of a KeyPoint or KeyPointLabels (screen pixels; Label Studio's editor
        stores a point's ``width`` from it); None when not given.
    when_roles : list of str
        ``whenRole`` of the ``<View visibleWhen="region-selected">`` around a per-message
        control of a ``<Chat>``: only messages of these roles have it (empty: every message).
    series : SeriesSpec or None
        The TimeSeries a control annotates (its ``timeFormat`` says how region times read).
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
    visible_when: Literal["choice-selected", "choice-unselected", "region-selected"] | None = None
    when_tag_name: str | None = None
    when_choice_values: list[str] = []
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    only: list[str] = []
    text_key: str | None = None
    taxonomy: list[list[str]] = []
    leafs_only: bool = False
    show_full_path: bool = False
    path_separator: str = " / "
    max_usages: int | None = None
    default_bucket: str | None = None
    titles: dict[str, str] = {}
    per_region: bool = False
    per_item: bool = False
    when_label_values: list[str] = []
    stroke_width: float | None = None
    when_roles: list[str] = []
    series: SeriesSpec | None = None

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
    visible_when : {"region-selected", "no-region-selected"} or None
        The ``visibleWhen`` of the innermost ``<View>`` around it that has one of these: shown
        only while a region (a chat's message) is selected, or only while none is, as Label
        Studio hides a View's contents (its headers with its controls).
    when_roles : list of str
        The ``whenRole`` of the ``<View>`` around it: with ``region-selected``, shown only for a
        selected chat message of one of these roles.
    """

    model_config = ConfigDict(frozen=True)

    tag: Literal["Header", "Text"]
    text: str | None = None
    value_key: str | None = None
    before: str | None = None
    size: int | None = None
    visible_when: Literal["region-selected", "no-region-selected"] | None = None
    when_roles: list[str] = []


class RelationsSpec(BaseModel):
    """``<Relations>``: the labels a relation between two regions may carry.

    Attributes
    ----------
    labels : list of str
        ``<Relation value="...">`` names in config order (empty: relations without labels).
    choice : {"single", "multiple"}
        How many labels one relation may carry (``multiple`` unless ``choice="single"``, as
        Label Studio's editor reads the tag).
    colors : dict of str to str
        Relation label -> ``background``.
    """

    model_config = ConfigDict(frozen=True)

    labels: list[str] = []
    choice: Literal["single", "multiple"] = "multiple"
    colors: dict[str, str] = {}


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
    relations : RelationsSpec or None
        The config's ``<Relations>``; None without one (relations between regions are still
        allowed, without labels, as in Label Studio's editor).
    """

    model_config = ConfigDict(frozen=True)

    objects: dict[str, ObjectSpec]
    controls: list[ControlSpec]
    notes: list[NoteSpec] = []
    relations: RelationsSpec | None = None

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
            if control.labels and not control.per_item:
                return control
        for control in self.controls:
            if control.labels:
                return control
        return self.controls[0]

    @property
    def kind(self) -> Kind:
        """Primary task kind: ``classification``, ``multilabel``, ``ner``, ``detection`` (boxes,
        polygons, ellipses), ``keypoints``, ``segmentation`` (brush masks), ``taxonomy``,
        ``paragraphs``, ``ranking`` (Pairwise, Ranker), ``hypertext`` (HyperTextLabels), ``audio`` (segments or a transcription of an ``<Audio>``: scored by agreement),
        ``chat`` (a ``<Chat>``: its messages and their answers, measured by agreement),
        ``regression`` (a per-task Number or Rating) or ``other``."""
        if any(obj.tag == "Chat" for obj in self.objects.values()):
            return "chat"
        primary = self.primary_control
        if primary.object_tag in ("Audio", "AudioPlus") and primary.type in ("labels", "textarea"):
            return "audio"
        return CONTROLS[primary.tag].kind(primary) or "other"  # type: ignore[return-value]

    @property
    def data_keys(self) -> set[str]:
        """Task data fields the config annotates or takes labels from, e.g. ``{"text"}``."""
        keys = {obj.value_key for obj in self.objects.values()}
        return keys | {c.labels_key for c in self.controls if c.labels_key}
