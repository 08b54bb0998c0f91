"""QC of brush masks (``<BrushLabels>``): their annotators' agreement by IoU of the masks (cleanlab's segmentation needs a model's per-pixel probabilities, which labelfab does not train); see :mod:`quality.run.region_agreement`."""

from __future__ import annotations

from quality.run import region_agreement
from quality.run.common import Probs, ProgressFn, Scored
from quality.run.load import Data

__all__ = ["score"]


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a segmentation project: one issue row per labeled task, its annotators' mean pairwise
    agreement; a task below ``region_agreement.MIN_AGREEMENT`` is an issue."""
    return region_agreement.score(data, options, progress)
