"""QC of a Taxonomy project: items whose annotators picked different paths (exact match of the
path sets, Jaccard) are issues (:mod:`quality.run.agreement`)."""

from __future__ import annotations

from quality.run.agreement import score_by_agreement, show_paths
from quality.run.common import Probs, ProgressFn, Scored
from quality.run.load import Data
from quality.structured_agreement import taxonomy_paths

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a Taxonomy project by its annotators' agreement on paths."""
    sep = data.control.path_separator or " / "
    return score_by_agreement(data, progress, taxonomy_paths, lambda s: show_paths(s, sep), "jaccard", "taxonomy")
