"""QC of object detection (``<RectangleLabels>``, and ``<PolygonLabels>`` and ``<EllipseLabels>``
by their bounding boxes): cleanlab's object detection on the boxes of the first annotation of
each image against imported predicted regions with scores; labelfab trains no detector itself
(ARCHITECTURE.md, quality/). Polygons or ellipses without any prediction are scored by their
annotators' agreement (:mod:`quality.run.regions`)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from labeling.shapes import region_box
from quality.run import region_agreement
from quality.run.common import Probs, ProgressFn, QCRunError, Scored, region_labels, region_score
from quality.run.feedback import imported_priorities
from quality.run.load import Data, first_annotations, latest_predictions

__all__ = ["score"]


class _SerialPool:
    """What cleanlab's object detection uses of ``multiprocessing.Pool``, run in this thread."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def starmap(self, fn: Callable, iterable: Any) -> list:
        return [fn(*args) for args in iterable]

    def close(self) -> None:
        pass

    def join(self) -> None:
        pass


@contextlib.contextmanager
def _serial_pool() -> Iterator[None]:
    """cleanlab.object_detection forks a process Pool even for one process; forking a threaded
    server or worker process can deadlock, so its Pool runs serially here (QC runs hold
    ``quality.jobs.QC_LOCK``, one at a time per process, so the swap is not raced)."""
    import cleanlab.object_detection.filter as od_filter

    original = od_filter.Pool
    od_filter.Pool = _SerialPool
    try:
        yield
    finally:
        od_filter.Pool = original


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score an object-detection project: box label issues against imported predictions;
    ``(Scored, Probs)`` of the run, or :class:`QCRunError` saying why not."""
    from cleanlab.object_detection.filter import find_label_issues
    from cleanlab.object_detection.rank import get_label_quality_scores

    names = data.class_names
    k = len(names)
    idx = {c: j for j, c in enumerate(names)}
    items, values = first_annotations(data)
    preds = latest_predictions(data, data.task_ids)

    def boxes(
        regions: list, score: float | None, with_score: bool
    ) -> tuple[np.ndarray, np.ndarray, list]:
        out, labs, sc = [], [], []
        for r in regions:
            lab = region_labels(r, str(r.get("type", "")).lower())
            box = region_box(r)  # a rectangle's, or the bounding box of a polygon or an ellipse
            if box is None or not lab or lab[0] not in idx:
                continue
            out.append(list(box))
            labs.append(idx[lab[0]])
            sc.append(region_score(r, score) if with_score else None)
        return (
            np.asarray(out, dtype=np.float64).reshape(-1, 4),
            np.asarray(labs, dtype=np.int64),
            sc,
        )

    if not preds and data.control.type != "rectanglelabels":
        # polygons or ellipses without any prediction: their annotators' agreement instead
        return region_agreement.score(data, options, progress)
    labels, predictions, used = [], [], []
    no_score = no_prediction = 0
    for i, regions in zip(items.tolist(), values, strict=True):
        tid = int(data.task_ids[i])
        if tid not in preds:  # unknown, never "no boxes": the image is not scored
            no_prediction += 1
            continue
        b, lab, _ = boxes(regions, None, False)
        pregions, pscore, _ = preds[tid]
        pb, plab, psc = boxes(pregions, pscore, True)
        if any(s is None for s in psc):
            no_score += 1
            continue
        per_class = []
        for c in range(k):
            m = plab == c
            per_class.append(
                np.hstack([pb[m], np.asarray(psc, dtype=np.float64).reshape(-1, 1)[m]])
                if m.any()
                else np.zeros((0, 5), dtype=np.float32)
            )
        labels.append({"bboxes": b, "labels": lab})
        predictions.append(per_class)
        used.append(i)
    if not used:
        raise QCRunError(
            "QC of an object-detection project needs imported predictions (boxes with a score) for "
            "the labeled tasks; labelfab trains no detector itself. Import predictions, then run QC"
        )
    if no_score:
        data.notes.append(
            f"{no_score} labeled image(s) have predicted boxes without a score and were left out"
        )
    if no_prediction:
        data.notes.append(
            f"{no_prediction} of {len(items)} labeled image(s) have no imported prediction and were "
            "not scored (labelfab trains no detector)"
        )
    if len(used) < 2:
        raise QCRunError("only 1 labeled image has predictions; QC needs at least 2")
    progress(0.6, f"scoring the boxes of {len(used):,} images")
    import warnings

    with warnings.catch_warnings(), _serial_pool():
        warnings.simplefilter("ignore")
        try:
            is_issue = np.asarray(
                find_label_issues(labels, predictions, overlapping_label_check=False), dtype=bool
            )
            quality = np.asarray(
                get_label_quality_scores(
                    labels, predictions, overlapping_label_check=False, verbose=False
                ),
                dtype=np.float64,
            )
        except (ValueError, IndexError) as exc:
            raise QCRunError(f"cleanlab could not score these boxes: {exc}") from exc

    def describe(labs: Iterable[int]) -> str:
        c = Counter(names[x] for x in labs)
        return ", ".join(f"{n} x{v}" if v > 1 else n for n, v in sorted(c.items())) or "no boxes"

    issues = []
    for j, i in enumerate(used):
        given = describe(labels[j]["labels"].tolist())
        pl = [
            c
            for c in range(k)
            for _ in range(predictions[j][c].shape[0])
            if predictions[j][c].shape[0]
        ]
        strong = [c for c in range(k) for row in predictions[j][c] if row[4] >= 0.5]
        suggested = describe(strong)
        reason = f"boxes labelled: {given}; model finds: {suggested} (quality {quality[j]:.2f})"
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(is_issue[j]),
                "given": given,
                "suggested": suggested,
                "consensus": None,
                "score": float(quality[j]),
                "reason": reason,
            }
        )
        del pl
    versions = Counter(preds[int(data.task_ids[i])][2] for i in used)
    probs = Probs(
        np.zeros((0, k)),
        "imported",
        f"imported: {versions.most_common(1)[0][0] or 'predictions'}"[:100],
        None,
    )
    annotators = []
    first_user = {}
    for item, u in zip(data.ann_item.tolist(), data.ann_user.tolist(), strict=True):
        first_user.setdefault(item, u)
    for u in sorted(set(first_user.values())):
        mine = [j for j, i in enumerate(used) if first_user[i] == u]
        if mine:
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": len(mine),
                    "agreement": float(np.mean(~is_issue[mine])),
                    "quality": float(np.mean(quality[mine])),
                }
            )
    scored = Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(is_issue.mean()),
        per_class_noise={},
        confident_joint=[],
        agreement={},
        summary={
            "mode": "detection",
            "n_images": len(used),
            "n_images_without_predictions": no_prediction,
            "noise_rate_method": "share of images flagged",
            "n_annotations": int(data.ann_item.size),
        },
        n_issues=int(is_issue.sum()),
    )
    imported_priorities(data, scored, preds)
    return scored, probs
