"""Label schemas: Label Studio XML label configs, parsed, checked and read.

A project's label config is Label Studio XML (DESIGN.md, "Label Studio compatibility"). This
package turns it into a :class:`LabelSchema`, a small JSON-serialisable description of what
annotators fill in, checks annotation results, task data and config changes against it, reads
results as text, and keeps the one cache of parsed schemas (:func:`schema_of`). Everything but
the cache is a pure function: no database, no Flask.

Layout (docs/ARCHITECTURE.md, "labeling/ — the domain")
-------------------------------------------------------
``tags``, ``registry``
    What a tag is (:class:`~labeling.schema.tags.ControlTag`,
    :class:`~labeling.schema.tags.ObjectTag`) and every tag labelfab reads.
``objects``; ``choices``, ``spans``, ``regions``, ``values``
    The object tags, and the control tags by family; a new annotation type is one descriptor
    in its family's module.
``linked``, ``relations``
    Items tied by a region's id (per-region answers, labels of plain shapes, pages of a
    multi-page image) and relations between regions.
``model``, ``parse``, ``changes``, ``validate``, ``results``, ``cache``, ``gallery``
    The schema, parsing, config changes, result and task-data checks, reading results,
    the schema cache, ready-made configs.

Supported tags
--------------
objects
    ``<Text value="$key">`` (a string, or a list of paragraphs that Label Studio reads joined
    with ``","``) and ``<Image value="$key">``.
controls
    ``<Choices>`` (single, ``single-radio`` or ``multiple``) on Text or Image; ``<Labels>`` on
    Text (NER spans); ``<RectangleLabels>`` on Image; ``<TextArea>``, ``<Rating>``,
    ``<Number>`` and ``<DateTime>`` on either. Labels may come from task data
    (``value="$options"``); per-task controls may name several objects in ``toName``; Rating
    and DateTime may go without it; ``visibleWhen`` shows a control on a choice or while a
    region is selected. ``<Rectangle>`` with ``<Labels>`` on Image; ``perRegion="true"`` on
    Choices, TextArea, Rating and Number; ``<Image valueList>``; ``<Relations>``.
    ``<TimeSeriesLabels>`` ranges and instant events on ``<TimeSeries>`` (its ``<Channel>`` tags,
    a CSV by URL or columns inline: :mod:`~labeling.schema.timeseries`), with Choices,
    TextArea, Rating and Number on the series.
labels
    ``<Choice>`` inside Choices, ``<Label>`` inside Labels and RectangleLabels, with optional
    ``alias``, ``hotkey`` and ``background``.
layout
    ``<View>``, ``<Header>`` and ``<Text value="literal">`` (shown: :class:`NoteSpec`),
    ``<Style>``; comments anywhere.
"""

from labeling.schema.cache import cached_schema, schema_of
from labeling.schema.changes import check_config_change, collect_used_labels
from labeling.schema.gallery import gallery
from labeling.schema.model import (
    ControlSpec,
    Kind,
    LabelConfigError,
    LabelSchema,
    NoteSpec,
    ObjectSpec,
)
from labeling.schema.parse import parse_label_config
from labeling.schema.regions import BOX_TOLERANCE
from labeling.schema.results import label_text, result_from_labels, result_labels
from labeling.schema.validate import validate_result, validate_task_data

__all__ = [
    "BOX_TOLERANCE",
    "ControlSpec",
    "Kind",
    "LabelConfigError",
    "LabelSchema",
    "NoteSpec",
    "ObjectSpec",
    "cached_schema",
    "check_config_change",
    "collect_used_labels",
    "gallery",
    "label_text",
    "parse_label_config",
    "result_from_labels",
    "result_labels",
    "schema_of",
    "validate_result",
    "validate_task_data",
]
