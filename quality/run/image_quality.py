"""Image-quality findings of a run's images (cleanvision, :mod:`quality.image_quality`), stored as
their own issue kinds with a reason a reviewer reads: blurry, dark, light, odd_size,
odd_aspect_ratio, low_information, image_duplicate (which names the other tasks)."""

from __future__ import annotations

from quality import QCInputError
from quality.run.common import Scored
from quality.run.load import Data, image_paths

__all__ = ["IMAGE_QUALITY_LIMIT", "image_findings"]

#: Above this many images the check is left out of a run (noted): it reads every image again.
IMAGE_QUALITY_LIMIT = 50_000


def image_findings(data: Data, scored: Scored) -> None:
    """Add cleanvision's findings on the run's stored images to ``scored`` (projects whose
    primary control annotates an image)."""
    from quality.image_quality import image_quality_issues

    obj = data.schema.objects.get(data.control.to_name)
    if obj is None or obj.tag != "Image" or data.n == 0:
        return
    if data.n > IMAGE_QUALITY_LIMIT:
        data.notes.append(f"image quality (cleanvision) skipped: more than {IMAGE_QUALITY_LIMIT:,} images")
        return
    paths = image_paths(data, data.task_ids)
    # media are stored once by content: tasks of the same file are exact duplicates already
    tasks_of: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        if path is not None:
            tasks_of.setdefault(path, []).append(int(data.task_ids[i]))
    if not tasks_of:
        return
    files = list(tasks_of)
    try:
        found = image_quality_issues(files)
    except (QCInputError, OSError, ValueError) as exc:
        data.notes.append(f"image quality (cleanvision) skipped: {exc}")
        return

    for kind, under in found["typical"].items():
        flagged = found["counts"].get(kind, 0)
        far = f"only the {flagged:,} far below the project's own are" if flagged else "none is far below the project's own, none"
        data.notes.append(f"{kind.replace('_', ' ').capitalize()}: {under:,} of {len(files):,} images are under cleanvision's "
                          f"fixed threshold, so it is typical of this project's images; {far} flagged")

    def add(task_id: int, kind: str, score: float, reason: str) -> None:
        scored.issues.append({"task_id": task_id, "kind": kind, "is_issue": True, "given": None,
                              "suggested": None, "consensus": None, "score": score, "reason": reason})

    for item in found["issues"]:
        for task_id in tasks_of[files[item["index"]]]:
            add(task_id, item["kind"], item["score"], item["reason"])
    sets = [(True, tasks) for tasks in tasks_of.values() if len(tasks) > 1]
    sets += [(d["exact"], [t for j in d["indexes"] for t in tasks_of[files[j]]]) for d in found["duplicate_sets"]]
    same: dict[int, dict[bool, set[int]]] = {}  # task -> {exact: other tasks}
    for exact, tasks in sets:
        for task_id in tasks:
            same.setdefault(task_id, {True: set(), False: set()})[exact].update(t for t in tasks if t != task_id)
    for task_id, others in same.items():
        near = others[False] - others[True]
        parts = [f"{what} task(s) {_shown(ids)}" for what, ids in
                 (("the same image as", others[True]), ("nearly the same image as", near)) if ids]
        add(task_id, "image_duplicate", 0.0 if others[True] else 0.25, "; ".join(parts))
    scored.summary["image_quality"] = {**found["counts"], "image_duplicate": len(same)}


def _shown(task_ids: set[int]) -> str:
    ids = sorted(task_ids)
    return ", ".join(str(t) for t in ids[:5]) + (" ..." if len(ids) > 5 else "")
