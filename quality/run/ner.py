"""QC of named entities (``<Labels>`` on text): cleanlab's token classification on the spans of
the first annotation of each text, against imported predictions with scores when they cover
every labeled text, else against the project's own token model (``quality.token_probs``,
cross-validated by text) (ARCHITECTURE.md, quality/)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from quality.run.common import (
    TASK,
    Probs,
    ProgressFn,
    QCRunError,
    Scored,
    region_labels,
    region_score,
)
from quality.run.feedback import imported_priorities
from quality.run.load import Data, first_annotations, latest_predictions, task_values

__all__ = ["score"]


_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _imported_token_probs(
    used_tids: list[int], spans_of: list[list[tuple[int, int]]], preds: dict, idx: dict, k: int
) -> list[np.ndarray] | str:
    """Token probabilities from the imported predictions, when they cover every scored text
    (a prediction with a score on each); else why not. A text without a prediction is unknown,
    never "O": then the imported predictions are not the QC model at all (ARCHITECTURE.md,
    quality/)."""
    n = len(used_tids)
    have = [tid for tid in used_tids if tid in preds]
    if len(have) < n:
        return f"imported predictions cover {len(have):,} of {n:,} labeled texts"
    pp_list = []
    no_score = 0
    for tid, tokens in zip(used_tids, spans_of, strict=True):
        pregions, pscore, _ = preds[tid]
        base = region_score({}, pscore)
        scores_r = [region_score(r, pscore) for r in pregions]
        if base is None:
            known = [s for s in scores_r if s is not None]
            base = float(np.mean(known)) if known else None
        if base is None:
            no_score += 1
            continue
        # within a text the model predicted, a token outside its spans is its "O"
        P = np.full((len(tokens), k), (1 - base) / (k - 1))
        P[:, 0] = base
        for r, sc in zip(pregions, scores_r, strict=True):
            v = r.get("value") or {}
            lab = region_labels(r, "labels")
            if not lab or lab[0] not in idx or not isinstance(v.get("start"), int):
                continue
            sc = base if sc is None else sc
            for t, (a, b) in enumerate(tokens):
                if a < v.get("end", -1) and b > v["start"]:
                    P[t, :] = (1 - sc) / (k - 1)
                    P[t, idx[lab[0]]] = sc
        pp_list.append(P)
    if no_score:
        return (
            f"the imported predictions of {no_score:,} of {n:,} labeled texts carry no score (per "
            "span or per prediction)"
        )
    return pp_list


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score an NER project: token label issues against imported predictions when they cover
    every labeled text, else against the project's own token model (cross-validated by text);
    ``(Scored, Probs)`` of the run, or :class:`QCRunError` saying why not."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    from quality import QCInputError
    from quality.token_probs import MIN_TEXTS, cross_val_token_probs

    names = data.class_names  # "O" first
    k = len(names)
    idx = {c: j for j, c in enumerate(names)}
    key = data.control.data_key
    items, values = first_annotations(data)
    texts = task_values(data.project.id, data.task_ids, TASK.c.data[key].as_string())
    preds = latest_predictions(data, data.task_ids)
    labels_list, token_list, used, spans_of = [], [], [], []
    for i, regions in zip(items.tolist(), values, strict=True):
        if not isinstance(texts[i], str):
            continue
        text = texts[i]
        tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        if not tokens:
            continue
        given = np.zeros(len(tokens), dtype=np.int64)
        for r in regions:
            v = r.get("value") or {}
            lab = region_labels(r, "labels")
            if not lab or lab[0] not in idx or not isinstance(v.get("start"), int):
                continue
            for t, (a, b) in enumerate(tokens):
                if a < v.get("end", -1) and b > v["start"]:
                    given[t] = idx[lab[0]]
        labels_list.append(given)
        token_list.append([text[a:b] for a, b in tokens])
        spans_of.append(tokens)
        used.append(i)
    if not used:
        raise QCRunError(f"none of the labeled tasks has text in data.{key}; QC has nothing to check")
    used_tids = [int(data.task_ids[i]) for i in used]
    progress(0.3, f"token labels of {len(used):,} texts")
    imported = _imported_token_probs(used_tids, spans_of, preds, idx, k)
    if isinstance(imported, list):
        pp_list = imported
        source = None
    else:
        progress(0.4, f"cross-validating a token model on {len(used):,} texts ({imported})")
        try:
            pp_list, _ = cross_val_token_probs(token_list, labels_list, n_classes=k)
        except QCInputError as exc:
            raise QCRunError(
                "QC of an NER project needs imported predictions (spans with a score) on every "
                f"labeled task, or at least {MIN_TEXTS} labeled texts of 2 labels for its own token "
                f"model: {imported}; own model: {exc}. Import predictions, or label more, then run QC"
            ) from None
        source = imported
        data.notes.append(
            f"imported predictions were not used as the QC model ({imported}); the project's "
            "own token model was, cross-validated by text"
        )
    all_labels = np.concatenate(labels_list)
    if np.unique(all_labels).size < 2:
        raise QCRunError(
            f"every token of the {len(used)} labeled texts has the label {names[all_labels[0]]!r}; "
            "QC needs at least 2 different labels"
        )
    progress(0.6, "finding token label issues")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(labels_list, pp_list, n_jobs=1)  # no fork in a threaded process
        sent_scores, token_scores = get_label_quality_scores(labels_list, pp_list)
    by_sentence: dict[int, list[int]] = {}
    for si, ti in flagged:
        by_sentence.setdefault(si, []).append(ti)
    issues = []
    for si, i in enumerate(used):
        toks = by_sentence.get(si, [])
        tscores = np.asarray(token_scores[si])
        worst = min(toks, key=lambda t: tscores[t]) if toks else int(np.argmin(tscores))
        g = names[labels_list[si][worst]]
        pred = int(np.argmax(pp_list[si][worst]))
        token = token_list[si][worst]
        a, b = spans_of[si][worst]
        if toks:
            reason = (
                f"token {token!r} (characters {a}-{b}) labelled {g!r}; model says {names[pred]!r} "
                f"({pp_list[si][worst][pred]:.2f})"
                + (f"; {len(toks) - 1} more token(s)" if len(toks) > 1 else "")
            )
        else:
            reason = f"every token agrees with the model (weakest: {token!r}, labelled {g!r})"
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(toks),
                "given": {"token": token, "start": a, "end": b, "label": g},
                "suggested": {"token": token, "start": a, "end": b, "label": names[pred]},
                "consensus": None,
                "score": float(sent_scores[si]),
                "reason": reason,
            }
        )
    n_tokens = int(all_labels.size)
    all_pp = np.concatenate(pp_list)
    per_class = {}
    flagged_set = {(si, ti) for si, ti in flagged}
    flags = np.asarray(
        [(si, ti) in flagged_set for si in range(len(used)) for ti in range(len(labels_list[si]))]
    )
    for c in range(k):
        m = all_labels == c
        per_class[names[c]] = round(float(flags[m].mean()), 6) if m.any() else None
    n_issue = sum(1 for x in issues if x["is_issue"])
    acc = float(np.mean(all_pp.argmax(axis=1) == all_labels))
    if source is None:
        versions = Counter(preds[tid][2] for tid in used_tids)
        model = f"imported: {versions.most_common(1)[0][0] or 'predictions'}"[:100]
        probs = Probs(all_pp, "imported", model, acc)
    else:
        probs = Probs(
            all_pp, "features", "token logreg (cross-validated by text)", acc,
            details={"features": "token words and their neighbours", "not_used": [source]},
        )
    annotators = []
    for u in np.unique(data.ann_user):
        mine = [
            si
            for si, i in enumerate(used)
            if int(data.ann_user[np.flatnonzero(data.ann_item == i)[0]]) == u
        ]
        if mine:
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": len(mine),
                    "agreement": float(np.mean([si not in by_sentence for si in mine])),
                    "quality": float(np.mean([sent_scores[si] for si in mine])),
                }
            )
    scored = Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(len(flagged)) / max(n_tokens, 1),
        per_class_noise=per_class,
        confident_joint=[],
        agreement={},
        summary={
            "mode": "ner",
            "n_texts": len(used),
            "n_tokens": n_tokens,
            "n_token_issues": len(flagged),
            "noise_rate_method": "share of tokens flagged",
            "n_annotations": int(data.ann_item.size),
        },
        n_issues=n_issue,
    )
    imported_priorities(data, scored, preds)
    return scored, probs
