"""Image-quality findings with cleanvision: images too blurry, dark or light to label, of an odd
size or aspect ratio, with little information, and exact or near duplicates.

Pure, in cleanlab's style: paths in, findings out. ``quality.run.image_quality`` stores them as
QC issue kinds beside label issues and outliers, each with its own review reason; the QC policy
sends them to review only when a lead adds their kinds to the policy's ``kinds``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from quality import QCInputError

__all__ = ["IMAGE_ISSUE_KINDS", "image_quality_issues"]

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


def image_quality_issues(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """cleanvision's findings on the images at `paths` (one process, no progress bars).

    Returns
    -------
    dict
        ``issues``: list of ``{"index", "kind", "score", "reason"}`` (score in [0, 1], low is bad;
        an image with several problems has one entry per kind); ``duplicate_sets``: lists of
        indexes of images that are the same (exact) or nearly the same (near), each set once;
        ``counts``: flagged images per kind.

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
    for issue_type, what in _WHAT.items():
        flag, score = f"is_{issue_type}_issue", f"{issue_type}_score"
        if flag not in frame:
            continue
        for path, row in frame[frame[flag]].iterrows():
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
    return {"issues": issues, "duplicate_sets": duplicate_sets, "counts": counts}
