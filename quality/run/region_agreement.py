"""QC of image regions by the annotators' agreement: key points (OKS), brush masks, and polygons
and ellipses without imported predictions (IoU).

cleanlab scores segmentation from a model's per-pixel probabilities and detection from a
model's boxes; labelfab trains neither. What it has is the annotators: each task's regions are
paired between every two annotators (:func:`labeling.shapes.agreement`: one to one, same labels,
IoU or OKS at least 0.5), and a task whose annotators agree less than
:data:`MIN_AGREEMENT` is an issue, which the policy sends to review. A task with one annotator
has nothing to compare: score 1, never an issue.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np

from labeling.shapes import agreement
from quality.run.common import Probs, ProgressFn, Scored, region_labels
from quality.run.load import Data

__all__ = ["MIN_AGREEMENT", "score"]

#: The pairwise agreement below which a task's regions are an issue (option ``min_region_agreement``).
MIN_AGREEMENT = 0.5


def _summary(regions: list[dict]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in regions:
        kind = str(r.get("type", "")).lower()
        for name in region_labels(r, kind) or ["(no label)"]:
            counts[name] += 1
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(counts.items())) or "no regions"


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score a region project by the agreement of its annotators: ``(Scored, Probs)`` of the run,
    one issue row per labeled task (``score``: the mean pairwise agreement)."""
    threshold = float(options.get("min_region_agreement", MIN_AGREEMENT))
    by_item: dict[int, list[tuple[int, list]]] = defaultdict(list)
    for item, user, regions in zip(data.ann_item.tolist(), data.ann_user.tolist(), data.ann_value, strict=True):
        by_item[item].append((user, regions))
    progress(0.3, f"comparing the regions of {len(by_item):,} tasks")
    issues = []
    per_user: dict[int, list[float]] = defaultdict(list)
    compared = []
    for item in sorted(by_item):
        given = by_item[item]
        pairs = [(u, v, agreement(a, b)) for (u, a), (v, b) in combinations(given, 2)]
        for u, v, s in pairs:
            per_user[u].append(s)
            per_user[v].append(s)
        mean = float(np.mean([s for _, _, s in pairs])) if pairs else 1.0
        if pairs:
            compared.append(mean)
        flagged = bool(pairs) and mean < threshold
        shown = "; ".join(_summary(regions) for _, regions in given)
        reason = (f"{len(given)} annotators agree {mean:.0%} on their regions ({shown})" if pairs
                  else "one annotator: nothing to compare")
        issues.append({"task_id": int(data.task_ids[item]), "kind": "label", "is_issue": flagged,
                       "given": _summary(given[0][1]), "suggested": None, "consensus": None,
                       "score": mean, "reason": reason})
    n_issues = sum(i["is_issue"] for i in issues)
    annotators = [{"user_id": int(u), "n_items": len(scores), "agreement": float(np.mean(scores)),
                   "quality": float(np.mean(scores))} for u, scores in sorted(per_user.items())]
    scored = Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=n_issues / len(compared) if compared else None,
        per_class_noise={},
        confident_joint=[],
        agreement={"region_agreement": float(np.mean(compared)) if compared else None,
                   "n_items": len(compared), "min_region_agreement": threshold,
                   "measure": "OKS" if data.kind == "keypoints" else "IoU"},
        summary={"mode": "region agreement", "n_images": len(issues), "n_compared": len(compared),
                 "noise_rate_method": "share of tasks with two annotators or more whose regions disagree",
                 "n_annotations": int(data.ann_item.size)},
        n_issues=n_issues,
    )
    return scored, Probs(np.zeros((0, len(data.class_names))), "annotators", "annotators' agreement", None)
