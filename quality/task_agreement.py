"""How the annotators of one task agree, control by control, for every type cleanlab has no
method for (pure functions; ARCHITECTURE.md, quality/).

One table, :data:`MEASURES`, says per result type how agreement is measured and below what
figure the annotators disagree:

========================  ==============================  ==========  ================================
type                      measure                         disagree    module
========================  ==============================  ==========  ================================
``ranker``                Kendall's tau, mean over pairs  < 0.5       :mod:`quality.rankings`
``pairwise``              share of pairs on one side      < 1.0       :mod:`quality.rankings`
``hypertextlabels``       exact-span F1                   < 0.8       :mod:`quality.rankings`
``taxonomy``              Jaccard of the path sets        < 1.0       :mod:`quality.structured_agreement`
``paragraphlabels``       exact-span F1                   < 1.0       :mod:`quality.structured_agreement`
``timeserieslabels``      temporal IoU per label          < 0.5       :mod:`quality.timeseries_agreement`
``pagechoices``           share of pages alike, per pair  < 1.0       :mod:`quality.page_agreement`
relations, per-region     share of pairs agreeing exactly < 1.0       :mod:`quality.linked`
``segments`` (audio)      temporal IoU of paired segments < 0.5       :mod:`quality.temporal_agreement`
``transcription`` (audio) 1 - word error rate             < 0.8       :mod:`quality.temporal_agreement`
``chatmessage``           share agreeing with the         < 1.0       :mod:`quality.chat_agreement`
                          majority, mean over messages
``number``, ``rating``    1 - |difference| / scale        < 0.75      :mod:`labeling.schema.values` (scale)
image regions (areas)     regions paired at IoU 0.5       < 0.5       :mod:`labeling.shapes`
``keypointlabels``        key points paired at OKS 0.5    < 0.5       :mod:`labeling.shapes`
``timelinelabels``        temporal IoU of labelled frames < 0.5       :mod:`quality.video_agreement`
``videorectangle``        tracks' IoU over frames         < 0.5       :mod:`quality.video_agreement`
========================  ==============================  ==========  ================================

``segments`` and ``transcription`` are Labels and TextArea controls on an ``<Audio>`` (their own
measure, not their result type's); a transcription is also compared with the task's prediction
when :func:`task_agreement` is given one (its word error rate in the reason). Per-region
transcriptions count as one transcript per annotator (ordered by segment), not as exact
per-region answers.

A ``<Chat>`` is measured as one control (its own name, type ``chatmessage``): its per-message
Choices and Ratings, message by message; they are left out of the relations and per-region
figure, which pairs regions by their geometry.

``pagechoices`` is not a Label Studio result type: it measures the ``choices`` of a ``perItem``
control (one item per page of a document), whose items cleanlab's classification cannot take.

A ``Number`` or ``Rating`` answered per region (``perRegion``) is compared with its region
(relations, per-region); a per-task one by how far its answers lie apart on the control's scale
(``min`` to ``max``, 1 to ``maxRating``; else the larger answer), mean over pairs of annotators.
Regions of every region control are compared (rectangles, polygons, ellipses and brush masks by
IoU, key points by OKS; :func:`labeling.shapes.agreement`, the share of regions paired one to one
with the same labels), not only the primary control's: a box or polygon control beside a
``Choices`` is compared too.

:func:`task_agreement` gives one :class:`ControlAgreement` per measured control of a task with
two answers or more; the QC run stores them as an ``agreement`` finding (``quality.run.
control_agreement``), the policy sends a task with a disagreeing control to review with its
reason, and the dashboard shows the figures per control.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from labeling import shapes
from labeling.schema import LabelSchema
from labeling.schema.values import value_scale
from quality import (
    chat_agreement,
    page_agreement,
    rankings,
    structured_agreement,
    temporal_agreement,
    timeseries_agreement,
    video_agreement,
)
from quality.linked import pair_problems

__all__ = ["LINKED", "MEASURES", "PAGES", "REGION_TYPES", "VALUE_TYPES", "ControlAgreement", "measured_controls",
           "task_agreement"]

#: The name of the pseudo-control for relations and per-region answers (a config's
#: ``<Relations>`` has no name of its own).
LINKED = "relations"
#: The measured type of a ``perItem`` control's ``choices`` (one answer per page).
PAGES = "pagechoices"


@dataclass(frozen=True)
class Measure:
    metric: str  # the figure's name, as the review page and the dashboard show it
    bound: float  # below it, the annotators disagree
    low: float  # the worst figure (Kendall's tau: -1), for a 0..1 score
    words: str  # what a disagreement is, in words


#: Result type -> how its agreement is measured (see the table above).
MEASURES: dict[str, Measure] = {
    "ranker": Measure("Kendall tau", 0.5, -1.0, "annotators rank differently"),
    "pairwise": Measure("exact match", 1.0, 0.0, "annotators pick different sides"),
    "hypertextlabels": Measure("span F1", 0.8, 0.0, "annotators mark different HTML spans"),
    "taxonomy": Measure("Jaccard", 1.0, 0.0, "annotators pick different taxonomy paths"),
    "paragraphlabels": Measure("span F1", 1.0, 0.0, "annotators mark different dialogue spans"),
    "timeserieslabels": Measure("temporal IoU", 0.5, 0.0, "annotators mark different time ranges"),
    PAGES: Measure("exact match", 1.0, 0.0, "annotators classify pages differently"),
    LINKED: Measure("exact match", 1.0, 0.0, "annotators relate regions differently"),
    "segments": Measure("temporal IoU", 0.5, 0.0, "annotators mark different segments"),
    "transcription": Measure("1 - WER", 0.8, 0.0, "annotators transcribe differently"),
    "chatmessage": Measure("message agreement", 1.0, 0.0, "annotators answer chat messages differently"),
    "number": Measure("1 - relative difference", 0.75, 0.0, "annotators give numbers far apart"),
    "rating": Measure("1 - relative difference", 0.75, 0.0, "annotators give ratings far apart"),
    **{t: Measure("regions paired (IoU 0.5)", 0.5, 0.0, "annotators draw different regions")
       for t in sorted(shapes.AREA_TYPES)},
    **{t: Measure("key points paired (OKS 0.5)", 0.5, 0.0, "annotators place different key points")
       for t in sorted(shapes.KEYPOINT_TYPES)},
    "timelinelabels": Measure("temporal IoU", 0.5, 0.0, "annotators mark different video frames"),
    "videorectangle": Measure("IoU over frames", 0.5, 0.0, "annotators track objects differently"),
}
#: Result types compared as image regions, and as numbers on a scale.
REGION_TYPES = shapes.AREA_TYPES | shapes.KEYPOINT_TYPES
VALUE_TYPES = frozenset({"number", "rating"})


def _measure_type(control: Any) -> str:
    """The key of :data:`MEASURES` a control is measured by: its own measure (audio segments and
    transcriptions), else its result type."""
    return temporal_agreement.measure_type(control) or control.type


@dataclass(frozen=True)
class ControlAgreement:
    """The agreement of one task's annotators on one control.

    Attributes
    ----------
    control : str
        The control's name (``"relations"`` for relations and per-region answers).
    type : str
        Its result type (a key of :data:`MEASURES`).
    metric : str
        The figure's name (``"Kendall tau"``, ``"exact match"``, ``"span F1"``, ``"Jaccard"``).
    value : float
        The figure, averaged over pairs of annotators.
    agrees : bool
        Whether ``value`` reaches the type's bound.
    reason : str
        In words, e.g. ``"annotators rank differently (Kendall tau 0.20)"``.
    """

    control: str
    type: str
    metric: str
    value: float
    agrees: bool
    reason: str

    @property
    def score(self) -> float:
        """The figure on a 0..1 scale (1: full agreement), the QC score of the finding."""
        low = MEASURES[self.type].low
        return max(0.0, min(1.0, (self.value - low) / (1.0 - low)))


def _has_linked(schema: LabelSchema, results: list[list[Any]]) -> bool:
    return schema.relations is not None or any(c.per_region and c.object_tag != "Chat" and _measure_type(c) == c.type
                                               for c in schema.controls) or any(
        isinstance(i, dict) and i.get("type") == "relation" for r in results for i in r or [])


def measured_controls(schema: LabelSchema) -> list[tuple[str, str]]:
    """``(control name, type)`` of every control of ``schema`` whose agreement is measured here,
    in config order; ``("relations", "relations")`` last when the config has relations or
    per-region controls."""
    out = [(c.name, PAGES if c.per_item and c.type == "choices" else _measure_type(c)) for c in schema.controls
           if (_measure_type(c) in MEASURES or (c.per_item and c.type == "choices"))
           and not (c.type in VALUE_TYPES and (c.per_region or c.per_item or c.object_tag == "Chat"))]
    if _has_linked(schema, []):
        out.append((LINKED, LINKED))
    return out


def _items(results: list[list[Any]], name: str) -> list[list[dict]]:
    return [[i for i in r or [] if isinstance(i, dict) and i.get("from_name") == name] for r in results]


def _figure(schema: LabelSchema, name: str, kind: str, results: list[list[Any]]) -> tuple[float | None, str]:
    """The figure of one control over a task's results, and a detail for the reason."""
    if kind == LINKED:
        problems = [(i, j, p) for (i, a), (j, b) in combinations(enumerate(results), 2)
                    for p in [pair_problems(schema, a or [], b or [])]]
        if not problems:
            return None, ""
        agreeing = sum(not p for _, _, p in problems) / len(problems)
        detail = "; ".join(f"annotations {i + 1} and {j + 1}: {', '.join(p)}" for i, j, p in problems if p)
        return agreeing, detail
    if kind == "chatmessage":
        found = [m for m in chat_agreement.chat_agreement(schema, results) if m.message]
        if not found:
            return None, ""
        apart = [f"{m.control} of message {m.message} ({m.share:.2f} agree)" for m in found if m.share < 1.0]
        return sum(m.share for m in found) / len(found), "; ".join(apart)
    if kind == PAGES:
        return page_agreement.page_match_share(results, name)
    if kind in ("ranker", "pairwise", "hypertextlabels"):
        control = schema.control(name)
        return rankings.control_agreement(control, results), ""
    if kind == "timeserieslabels":
        return timeseries_agreement.control_agreement(schema.control(name), results), ""
    items = _items(results, name)
    if kind in video_agreement.TYPES:
        return video_agreement.control_agreement(kind, items), ""
    if kind == "segments":
        segments = [temporal_agreement.segments_of(i) for i in items]
        return temporal_agreement.pairwise_mean(segments, temporal_agreement.segment_agreement), ""
    if kind == "transcription":
        texts = [temporal_agreement.transcript_of(i) for i in items]
        return temporal_agreement.pairwise_mean(texts, temporal_agreement.transcript_agreement), ""
    if kind in REGION_TYPES:
        if not any(items):
            return None, ""  # nobody drew one: nothing to compare
        return float(sum(shapes.agreement(a, b) for a, b in combinations(items, 2))
                     / (len(items) * (len(items) - 1) / 2)), ""
    if kind in VALUE_TYPES:
        return _value_figure(schema, name, kind, items)
    if kind == "taxonomy":
        answers = [structured_agreement.taxonomy_paths(i) for i in items]
        mean, _ = structured_agreement.item_agreement(answers, measure="jaccard")
    else:
        answers = [structured_agreement.paragraph_spans(i) for i in items]
        mean, _ = structured_agreement.item_agreement(answers, measure="f1")
    return (None if mean != mean else mean), ""  # NaN: fewer than two answers


def _value_figure(schema: LabelSchema, name: str, kind: str, items: list[list[dict]]) -> tuple[float | None, str]:
    """1 - the mean relative difference of the annotators' numbers or ratings (see the table)."""
    answers = []
    for given in items:
        value = next((i["value"].get(kind) for i in given if isinstance(i.get("value"), dict)), None)
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            answers.append(float(value))
    if len(answers) < 2:
        return None, ""
    scale = value_scale(schema.control(name))
    closeness = [max(0.0, 1.0 - abs(x - y) / (scale or max(abs(x), abs(y), 1.0)))
                 for x, y in combinations(answers, 2)]
    return sum(closeness) / len(closeness), "answers " + ", ".join(f"{v:g}" for v in answers)


def task_agreement(schema: LabelSchema, results: list[list[Any]], *,
                   skip: tuple[str, ...] = (), prediction: list[Any] | None = None) -> list[ControlAgreement]:
    """The agreement of one task's annotators on each measured control.

    Parameters
    ----------
    schema : LabelSchema
    results : list of list of dict
        One Label Studio result per annotator (their independent annotations).
    skip : tuple of str
        Control names left out (the control a run's own scorer already compares).
    prediction : list of dict, optional
        The task's prediction (a model's result): each annotator's transcription is compared
        with it too, the mean word error rate named in the reason.

    Returns
    -------
    list of ControlAgreement
        One per measured control that two annotators or more answered; empty with fewer than
        two results.

    Examples
    --------
    >>> [a.reason for a in task_agreement(schema, [rank_abc, rank_cba])]  # doctest: +SKIP
    ['annotators rank differently (Kendall tau -1.00)']
    """
    if len(results) < 2:
        return []
    measured = measured_controls(schema)
    if (LINKED, LINKED) not in measured and _has_linked(schema, results):
        measured.append((LINKED, LINKED))  # relation items without a <Relations> in the config
    out = []
    for name, kind in measured:
        if name in skip:
            continue
        value, detail = _figure(schema, name, kind, results)
        if value is None:
            continue
        if kind == "transcription" and prediction:
            model = temporal_agreement.transcript_of(_items([prediction], name)[0])
            if model:
                wer = [temporal_agreement.word_error_rate(temporal_agreement.transcript_of(i), model)
                       for i in _items(results, name)]
                detail = f"word error rate against the prediction {sum(wer) / len(wer):.2f}"
        m = MEASURES[kind]
        agrees = value >= m.bound - 1e-9
        reason = (f"annotators agree ({m.metric} {value:.2f})" + (f"; {detail}" if detail else "") if agrees
                  else f"{m.words} ({m.metric} {value:.2f})" + (f": {detail}" if detail else ""))
        out.append(ControlAgreement(name, kind, m.metric, float(value), agrees, reason[:1000]))
    return out
