"""Image-quality findings with cleanvision: images too blurry, dark or light to label, of an odd
size or aspect ratio, with little information, and exact or near duplicates.

Pure, in cleanlab's style: paths in, findings out. ``quality.run.image_quality`` stores them as
QC issue kinds beside label issues and outliers, each with its own review reason; the QC policy
sends them to review only when a lead adds their kinds to the policy's ``kinds``.

cleanvision judges darkness, lightness, blur and information against fixed thresholds made for
photographs. When most of a project's images fall under one (small line drawings all have
"little information", night shots are all "dark"), the finding describes the project, not an
image: then only the images far below the project's own (under ``Q1 - 3 IQR`` of its scores'
logarithms, the fence cleanvision uses for odd sizes) are flagged, and ``typical`` says how many were under
the fixed threshold.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from quality import QCInputError

__all__ = ["IMAGE_ISSUE_KINDS", "far_below", "image_quality_issues"]

#: cleanvision's issue type -> labelfab's issue kind (duplicates, exact or near, are one kind).
IMAGE_ISSUE_KINDS: dict[str, str] = {
    "blurry": "blurry",
    "dark": "dark",
    "light": "light",
    "odd_size": "odd_size",
    "odd_aspect_ratio": "odd_aspect_ratio",
    "low_information": "low_information",
    "exact_duplicates": "image_duplicate",
    "near_duplicates": "image_duplicate",
}

_WHAT = {
    "blurry": "blurry image",
    "dark": "image too dark",
    "light": "image too light (washed out)",
    "odd_size": "image of an odd size for this project",
    "odd_aspect_ratio": "image of an odd aspect ratio for this project",
    "low_information": "image with little information (nearly uniform)",
}
#: cleanvision's kinds with a fixed threshold (the others are relative to the images given).
_FIXED_THRESHOLD = ("blurry", "dark", "light", "low_information")
#: The fence, in interquartile ranges under the first quartile (cleanvision's odd-size factor).
IQR_FACTOR = 3.0


def far_below(scores: np.ndarray) -> np.ndarray:
    """The images whose score lies under the project's ``Q1 - IQR_FACTOR * IQR``, on the scores'
    logarithms (scores are in [0, 1]: far below is by a factor)."""
    logs = np.log(np.maximum(scores, 1e-9))
    q1, q3 = np.percentile(logs, [25, 75])
    return logs < q1 - IQR_FACTOR * (q3 - q1)


def image_quality_issues(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """cleanvision's findings on the images at `paths` (one process, no progress bars).

    Returns
    -------
    dict
        ``issues``: list of ``{"index", "kind", "score", "reason"}`` (score in [0, 1], low is bad;
        an image with several problems has one entry per kind); ``duplicate_sets``: lists of
        indexes of images that are the same (exact) or nearly the same (near), each set once;
        ``counts``: flagged images per kind; ``typical``: for a kind under whose fixed threshold
        most images fall, how many did (only the unusual ones among them are flagged).

    Raises
    ------
    QCInputError
        No images given.
    """
    if not paths:
        raise QCInputError("image_quality_issues: no images given")
    from cleanvision import Imagelab

    files = [os.fspath(p) for p in paths]
    index = {p: i for i, p in enumerate(files)}
    lab = Imagelab(filepaths=files, verbose=False)
    lab.find_issues(issue_types={t: {} for t in IMAGE_ISSUE_KINDS}, n_jobs=1, verbose=False)
    frame = lab.issues
    issues: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    typical: dict[str, int] = {}
    for issue_type, what in _WHAT.items():
        flag, score = f"is_{issue_type}_issue", f"{issue_type}_score"
        if flag not in frame:
            continue
        keep = frame[flag].to_numpy(dtype=bool)
        if issue_type in _FIXED_THRESHOLD and keep.sum() * 2 > len(keep):  # most images: the project's look
            typical[IMAGE_ISSUE_KINDS[issue_type]] = int(keep.sum())
            keep = keep & far_below(frame[score].to_numpy(dtype=float))
        for path, row in frame[keep].iterrows():
            value = float(row[score])
            issues.append({"index": index[path], "kind": IMAGE_ISSUE_KINDS[issue_type], "score": value,
                           "reason": f"{what} (cleanvision {issue_type.replace('_', ' ')} score {value:.2f})"})
            counts[IMAGE_ISSUE_KINDS[issue_type]] = counts.get(IMAGE_ISSUE_KINDS[issue_type], 0) + 1
    duplicate_sets: list[dict[str, Any]] = []
    for issue_type in ("exact_duplicates", "near_duplicates"):
        for members in lab.info.get(issue_type, {}).get("sets", []):
            duplicate_sets.append({"exact": issue_type == "exact_duplicates",
                                   "indexes": sorted(index[p] for p in members)})
    counts["image_duplicate"] = len({i for d in duplicate_sets for i in d["indexes"]})
    return {"issues": issues, "duplicate_sets": duplicate_sets, "counts": counts, "typical": typical}
