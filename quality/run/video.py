"""QC of a video project (kind ``video``: TimelineLabels, VideoRectangle, or the Labels of a
video's tracks as the primary control), scored by the annotators' agreement alone."""

from __future__ import annotations

from quality.run.common import Probs, ProgressFn, Scored
from quality.run.control_agreement import score_alone
from quality.run.load import Data

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a video project: one ``agreement`` finding per labeled task (temporal IoU of the
    timeline spans, IoU over frames of the tracks: :mod:`quality.video_agreement`); a task whose
    annotators disagree is flagged, and the policy sends it to review."""
    return score_alone(data, progress)
