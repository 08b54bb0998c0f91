"""What a run gives back to the labeling line: the model's pre-annotations for tasks still
needing labels, and ActiveLab priorities (ARCHITECTURE.md, quality/)."""

from __future__ import annotations

import numpy as np

from labeling.schema import result_from_labels
from quality import QCInputError
from quality.policy import activelab_priorities, policy_of, sends_back
from quality.run.common import Probs, Scored, region_score
from quality.run.load import Data, latest_predictions

__all__ = ["feed_back", "imported_priorities", "prediction_row"]


def prediction_row(
    data: Data, task_id: int, probs: np.ndarray, names: list[str], *, multilabel: bool
) -> dict | None:
    """A Prediction row (the Label Studio result of the likeliest class, or of every class at
    0.5 or more when ``multilabel``) for ``task_id``; None if no result can be made."""
    if multilabel:
        chosen = [names[c] for c in np.flatnonzero(probs >= 0.5)]
        if not chosen:
            return None
        score = float(np.mean([probs[names.index(c)] for c in chosen]))
    else:
        best = int(np.argmax(probs))
        chosen = names[best]
        score = float(probs[best])
    try:
        result = result_from_labels(data.schema, chosen)
    except ValueError:
        return None
    top = np.argsort(-probs)[:10]
    return {
        "task_id": task_id,
        "result": result,
        "score": round(score, 6),
        "probs": {names[c]: round(float(probs[c]), 6) for c in top},
    }


def feed_back(
    data: Data,
    scored: Scored,
    probs: Probs,
    y: np.ndarray,
    matrix: np.ndarray | None,
    names: list[str],
    quality: np.ndarray,
    model_conf: np.ndarray,
) -> None:
    """Pre-annotations for tasks still needing labels, and ActiveLab priorities: of the open
    tasks (``uncertain_first``), and of the labeled tasks the policy may send back to
    annotators (:func:`quality.policy.activelab_priorities`, on one scale)."""
    ppu = probs.unlabeled_probs
    unl = data.unlabeled_ids
    if ppu is not None and ppu.shape[0] != unl.size:  # defensive: the two must line up
        ppu = None
    open_items = np.flatnonzero(data.open_mask)
    if probs.source != "imported":
        for i in open_items:
            row = prediction_row(
                data, int(data.task_ids[i]), probs.pred_probs[i], names, multilabel=False
            )
            if row:
                scored.predictions.append(row)
        if ppu is not None:
            for j, tid in enumerate(unl.tolist()):
                row = prediction_row(data, tid, ppu[j], names, multilabel=False)
                if row:
                    scored.predictions.append(row)
    scored.summary["n_predictions"] = len(scored.predictions)
    for_open = bool(data.project.uncertain_first) and (
        open_items.size > 0 or (ppu is not None and ppu.shape[0] > 0)
    )
    back = ~data.open_mask  # labeled tasks: the policy may send them back to annotators
    for_back = sends_back(policy_of(data.project)) and bool(back.any())
    if not (for_open or for_back):
        return
    lm = matrix if matrix is not None else y[:, None].astype(np.float64)
    try:
        prio, prio_u = activelab_priorities(
            lm,
            probs.pred_probs,
            class_names=names,
            pred_probs_unlabeled=ppu if for_open and ppu is not None and ppu.shape[0] else None,
        )
    except QCInputError as exc:
        data.notes.append(f"ActiveLab skipped: {exc}")
        return
    if for_open:
        for i in open_items:
            scored.priorities[int(data.task_ids[i])] = float(prio[i])
        if prio_u is not None:
            for j, tid in enumerate(unl.tolist()):
                scored.priorities[tid] = float(prio_u[j])
    if for_back:
        scored.back_priorities = {
            int(t): float(p) for t, p in zip(data.task_ids[back], prio[back], strict=True)
        }
    scored.summary["activelab"] = {
        "n_prioritized": len(scored.priorities),
        "n_scored_labeled": len(scored.back_priorities),
    }


def imported_priorities(data: Data, scored: Scored, preds: dict) -> None:
    """uncertain_first without a model of our own: lower imported score, higher priority."""
    if not data.project.uncertain_first:
        return
    ids = np.concatenate([data.task_ids[data.open_mask], data.unlabeled_ids])
    more = latest_predictions(data, np.setdiff1d(ids, np.asarray(list(preds), dtype=np.int64)))
    for tid in ids.tolist():
        got = preds.get(tid) or more.get(tid)
        if got is None:
            continue
        regions, score, _ = got
        known = [s for s in (region_score(r, score) for r in regions) if s is not None]
        conf = min(known) if known else region_score({}, score)
        if conf is not None:
            scored.priorities[tid] = round(1.0 - conf, 6)
