"""QC of a hypertext project, HyperTextLabels (exact-span F1 of HTML spans): cleanlab has no method for it, so
its annotators' agreement scores every task (:mod:`quality.run.control_agreement`)."""

from __future__ import annotations

from quality.run.common import Probs, ProgressFn, Scored
from quality.run.control_agreement import score_alone
from quality.run.load import Data

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a hypertext project: one ``agreement`` finding per labeled task; a task whose
    annotators disagree is flagged, and the policy sends it to review."""
    return score_alone(data, progress)
