"""Audio: the ``<Audio>`` and ``<AudioPlus>`` objects, and the controls that annotate them.

Label Studio's audio tags (``web/libs/editor/src/tags/object/Audio``, the region model
``regions/AudioRegion/AudioRegionModel.js``):

- ``<Labels>`` on an audio object marks segments. Each is one result item, as Label Studio's
  editor stores it (seconds, the file's length as the editor read it in ``original_length``)::

      {"id": "wavesurfer_vtkg888sg18", "from_name": "label", "to_name": "audio", "type": "labels",
       "original_length": 3.77, "value": {"start": 0.0189, "end": 0.1707, "channel": 0,
       "labels": ["Event A"]}}

  ``channel`` is optional (0 when Label Studio's editor splits no channels).
- ``<TextArea perRegion="true">`` (a segment's transcription), ``<Choices perRegion="true">``
  (its intent, a speaker), ``<Rating>``, ``<Number>``: items sharing the segment's ``id``, its
  ``start``/``end``/``channel`` in their value beside their own field, checked like any
  per-region answer (:mod:`labeling.schema.linked`). Without ``perRegion`` they answer for the
  whole file (``<TextArea>`` transcription of an utterance, ``<Choices>`` classification).

A segment is checked here: ``0 <= start < end``, and ``end <= original_length`` when the item
says how long the file is (a small tolerance for the editor's rounding); ``channel`` a whole
number from 0. This family adds the audio objects to the targets of the existing controls
(``TARGETS``) and its segment check to ``<Labels>`` (``ITEM_CHECKS``), both applied by
:mod:`labeling.schema.registry`, so no other family module changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ObjectTag, attr, is_int, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["AUDIO", "AUDIO_PLUS", "AUDIO_TAGS", "ITEM_CHECKS", "OBJECT_TAGS", "TARGETS", "check_segment",
           "segment_text"]

AUDIO_TAGS = ("Audio", "AudioPlus")
#: How far past ``original_length`` a segment may end (seconds): the editor's float rounding.
END_TOLERANCE = 1e-3


def _audio_data(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"data field {key!r} must be an audio URL or path, got {value!r:.80}"
    return None


def _audio_fields(el: Any) -> dict[str, Any]:
    return {"sync": attr(el, "sync")}  # a <Video> or <Paragraphs> it plays with


AUDIO = ObjectTag(name="Audio", check_data=_audio_data, spec_fields=_audio_fields)
AUDIO_PLUS = ObjectTag(name="AudioPlus", check_data=_audio_data, spec_fields=_audio_fields)  # Label Studio's older name of <Audio>

#: Every object tag of the family, in the order the supported-tags hint names them.
OBJECT_TAGS = (AUDIO, AUDIO_PLUS)


def check_segment(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    """Problems of a segment on an audio object (``value.start``, ``value.end`` in seconds,
    ``value.channel``; ``item.original_length``, the file's length, when given)."""
    start, end = value.get("start"), value.get("end")
    if not (is_number(start) and is_number(end)):
        return [f"{where}: value.start and value.end must be numbers of seconds, got start={start!r}, end={end!r}"]
    problems = []
    if not 0 <= start < end:
        problems.append(f"{where}: segment [{start}, {end}] needs 0 <= start < end (seconds)")
    length = item.get("original_length")
    if length is not None:
        if not is_number(length) or length <= 0:
            problems.append(f"{where}: original_length must be the audio's length in seconds, got {length!r}")
        elif end > length + END_TOLERANCE:
            problems.append(f"{where}: segment ends at {end} s, after the end of the audio ({length} s)")
    channel = value.get("channel")
    if channel is not None and not (is_int(channel) and channel >= 0):
        problems.append(f"{where}: value.channel must be a whole number from 0, got {channel!r}")
    return problems


def segment_text(value: dict) -> str:
    """A segment for people: ``Speech 1.25-3.50 s``."""
    labels = " ".join(map(str, value.get("labels") or []))
    start, end = value.get("start"), value.get("end")
    if is_number(start) and is_number(end):
        return f"{labels} {start:.2f}-{end:.2f} s".strip()
    return labels


#: Control tag -> object tags of this family it annotates (added to the control's ``targets``).
TARGETS: dict[str, tuple[str, ...]] = {
    "Labels": AUDIO_TAGS,
    "Choices": AUDIO_TAGS,
    "TextArea": AUDIO_TAGS,
    "Rating": AUDIO_TAGS,
    "Number": AUDIO_TAGS,
    "Taxonomy": AUDIO_TAGS,
}
#: (control tag, object tag) -> the item check used instead of the control's own on that object.
ITEM_CHECKS = {("Labels", tag): check_segment for tag in AUDIO_TAGS}
