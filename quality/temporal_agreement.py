"""Agreement on media that play in time (pure functions; ARCHITECTURE.md, quality/): segments
of audio and transcriptions (the IoU of two segments is :func:`labeling.overlap.span_iou`).

- :func:`segment_agreement` ``(a, b)``: how far two annotators' segments agree: segments are
  paired one to one (same label, greatest overlap first, at least :data:`MIN_IOU`), and the
  figure is the sum of the pairs' IoU over the mean number of segments (1.0: the same segments;
  a segment one annotator has and the other has not counts 0).
- :func:`word_error_rate` ``(reference, hypothesis)``: Levenshtein distance over words (lower
  case, punctuation dropped) divided by the reference's number of words.
- :func:`transcript_agreement` ``(a, b)``: ``1 - WER`` averaged over both directions, at least 0.
- :func:`transcript_of` ``(items)``: a control's text in a result: its TextArea items' texts,
  ordered by their segment's start when they are per-region (a transcription by segments reads
  as one transcript).

:mod:`quality.task_agreement` measures ``segments`` (Labels on an audio object) and
``transcription`` (TextArea on one) with them, between annotators, and a transcription against
the task's prediction when it has one.
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from labeling.overlap import span_iou

__all__ = ["MIN_IOU", "measure_type", "pairwise_mean", "segment_agreement", "segments_of",
           "transcript_agreement", "transcript_of", "word_error_rate", "words"]

#: The least IoU at which two segments of the same label are the same segment.
MIN_IOU = 0.1
#: Object tags whose controls are measured here.
TIME_OBJECTS = ("Audio", "AudioPlus")
_WORD = re.compile(r"[\w']+", re.UNICODE)


def measure_type(control: Any) -> str | None:
    """``"segments"`` for Labels on an audio object, ``"transcription"`` for a TextArea on one,
    else None (measured elsewhere)."""
    if getattr(control, "object_tag", None) not in TIME_OBJECTS:
        return None
    if control.type == "labels":
        return "segments"
    if control.type == "textarea":
        return "transcription"
    return None


def segments_of(items: list[dict]) -> list[tuple[float, float, tuple[str, ...]]]:
    """``(start, end, labels)`` of a control's segment items (malformed ones left out)."""
    out = []
    for item in items:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict):
            continue
        start, end = value.get("start"), value.get("end")
        if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
            labels = value.get("labels")
            out.append((float(start), float(end), tuple(sorted(map(str, labels))) if isinstance(labels, list) else ()))
    return out


def segment_agreement(a: list[tuple[float, float, tuple]], b: list[tuple[float, float, tuple]]) -> float:
    """How far two sets of segments ``(start, end, labels)`` agree, 0..1 (see the module)."""
    if not a and not b:
        return 1.0
    pairs = sorted(((span_iou(x[:2], y[:2]), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                    if x[2] == y[2]), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    total = 0.0
    for iou, i, j in pairs:
        if iou < MIN_IOU:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += iou
    return total / ((len(a) + len(b)) / 2)


def words(text: str) -> list[str]:
    """The words of a text, lower case, punctuation dropped."""
    return _WORD.findall(text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``: (substitutions + deletions +
    insertions) / words of the reference; 0.0 for two empty texts, 1.0 for an empty reference
    and a non-empty hypothesis.

    Examples
    --------
    >>> word_error_rate("the cat sat", "the cat sat down")
    0.3333333333333333
    """
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def transcript_agreement(a: str, b: str) -> float:
    """``1 - WER`` of two transcripts, averaged over both directions, at least 0."""
    wer = (word_error_rate(a, b) + word_error_rate(b, a)) / 2
    return max(0.0, 1.0 - wer)


def transcript_of(items: list[dict]) -> str:
    """A TextArea control's text in one result: its items' texts, ordered by their segment's start."""
    parts = []
    for n, item in enumerate(items):
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("text"), list):
            continue
        start = value.get("start")
        key = float(start) if isinstance(start, int | float) else -1.0
        parts.append((key, n, " ".join(t for t in value["text"] if isinstance(t, str))))
    return " ".join(text for _, _, text in sorted(parts))


def pairwise_mean(values: list[Any], measure) -> float | None:
    """The mean of ``measure(a, b)`` over every pair of ``values`` (None with fewer than two)."""
    figures = [measure(a, b) for a, b in combinations(values, 2)]
    return sum(figures) / len(figures) if figures else None
