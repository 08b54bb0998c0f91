"""QC of a chat project (``<Chat>``: LLM conversations): cleanlab has no model of conversations, so
its annotators' agreement on every message scores each task (:mod:`quality.chat_agreement`, through
:mod:`quality.run.control_agreement`)."""

from __future__ import annotations

from quality.run.common import Probs, ProgressFn, Scored
from quality.run.control_agreement import score_alone
from quality.run.load import Data

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a chat project: one ``agreement`` finding per labeled task; a task whose annotators
    answer a message differently is flagged, and the policy sends it to review."""
    return score_alone(data, progress)
