"""How far two annotators of one video agree, as QC's figures (pure functions; ARCHITECTURE.md,
quality/): the measures of :mod:`labeling.tracks` (temporal IoU of timeline spans, tracks' IoU
over frames), averaged over the pairs of a task's annotators (:func:`control_agreement`).
"""

from __future__ import annotations

from itertools import combinations

from labeling.overlap import frames_iou
from labeling.tracks import timeline_frames, tracks_agreement

__all__ = ["TYPES", "control_agreement"]

#: The result types measured here.
TYPES = ("timelinelabels", "videorectangle")


def control_agreement(kind: str, answers: list[list[dict]]) -> float | None:
    """The mean pairwise agreement of a task's answers on one video control (its result items
    per annotator); None with fewer than two answers that have items.

    Parameters
    ----------
    kind : {"timelinelabels", "videorectangle"}
    answers : list of list of dict
        Each annotator's result items of the control.
    """
    answered = [items for items in answers if items]
    if len(answered) < 2:
        return None
    if kind == "timelinelabels":
        frames = [timeline_frames(items) for items in answered]
        scores = [frames_iou(x, y) for x, y in combinations(frames, 2)]
    else:
        scores = [tracks_agreement(x, y) for x, y in combinations(answered, 2)]
    return sum(scores) / len(scores)
