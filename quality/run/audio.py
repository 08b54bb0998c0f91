"""QC of an audio project, segments (Labels) or a transcription (TextArea) of an ``<Audio>``:
cleanlab has no method for them, so the annotators' agreement scores every task (temporal IoU of
segments, 1 - word error rate of transcripts: :mod:`quality.temporal_agreement` through
:mod:`quality.run.control_agreement`)."""

from __future__ import annotations

from quality.run.common import Probs, ProgressFn, Scored
from quality.run.control_agreement import score_alone
from quality.run.load import Data

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score an audio project: one ``agreement`` finding per labeled task; a task whose
    annotators disagree is flagged, and the policy sends it to review."""
    return score_alone(data, progress)
