"""QC of named entities (``<Labels>`` on text): cleanlab's token classification on the spans of
the first annotation of each text against imported predictions with scores; labelfab trains no
token model itself (ARCHITECTURE.md, quality/)."""

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


def score(data: Data, options: dict, progress: ProgressFn) -> tuple[Scored, Probs]:
    """Score an NER project: token label issues against imported predictions; ``(Scored,
    Probs)`` of the run, or :class:`QCRunError` saying why not."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    names = data.class_names  # "O" first
    k = len(names)
    idx = {c: j for j, c in enumerate(names)}
    key = data.control.data_key
    items, values = first_annotations(data)
    texts = task_values(data.project.id, data.task_ids, TASK.c.data[key].as_string())
    preds = latest_predictions(data, data.task_ids)
    have = [
        i
        for i in items.tolist()
        if int(data.task_ids[i]) in preds and preds[int(data.task_ids[i])][0] is not None
    ]
    if not have:
        raise QCRunError(
            "QC of an NER project needs imported predictions (spans with a score) for the labeled "
            "tasks; labelfab trains no token model itself. Import predictions, then run QC"
        )
    progress(0.3, f"token labels of {len(have):,} texts")
    labels_list, pp_list, token_list, used, spans_of = [], [], [], [], []
    missing_score = 0
    for i, regions in zip(items.tolist(), values, strict=True):
        tid = int(data.task_ids[i])
        if tid not in preds or not isinstance(texts[i], str):
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
        pregions, pscore, _ = preds[tid]
        base = region_score({}, pscore)
        scores_r = [region_score(r, pscore) for r in pregions]
        if base is None:
            known = [s for s in scores_r if s is not None]
            base = float(np.mean(known)) if known else None
        if base is None:
            missing_score += 1
            continue
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
        labels_list.append(given)
        pp_list.append(P)
        token_list.append([text[a:b] for a, b in tokens])
        spans_of.append(tokens)
        used.append(i)
    if not used:
        raise QCRunError(
            "the imported predictions of the labeled NER tasks carry no score (per span or per "
            "prediction); QC needs probabilities to judge the labels"
        )
    if missing_score:
        data.notes.append(
            f"{missing_score} labeled text(s) have predictions without a score and were left out"
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
    versions = Counter(preds[int(data.task_ids[i])][2] for i in used)
    acc = float(np.mean(all_pp.argmax(axis=1) == all_labels))
    probs = Probs(
        all_pp, "imported", f"imported: {versions.most_common(1)[0][0] or 'predictions'}"[:100], acc
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
