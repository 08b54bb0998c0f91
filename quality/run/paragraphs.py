"""QC of a ParagraphLabels project (spans in dialogues): items whose annotators marked different
spans (exact-span F1, as NER agreement) are issues (:mod:`quality.run.agreement`)."""

from __future__ import annotations

from quality.run.agreement import score_by_agreement, show_spans
from quality.run.common import Probs, ProgressFn, Scored
from quality.run.load import Data
from quality.structured_agreement import paragraph_spans

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a ParagraphLabels project by its annotators' agreement on spans."""
    return score_by_agreement(data, progress, paragraph_spans, show_spans, "f1", "paragraphs")
