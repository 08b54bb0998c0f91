"""QC by agreement between annotators, for the task types cleanlab has no method for (a
Taxonomy's paths, ParagraphLabels' spans): an item with several annotations is scored by how well
its annotators agree (:mod:`quality.structured_agreement`); an item where they disagree is an
issue, and the QC policy sends it to review like any other. Items with one annotation are
counted, not scored. Shared by :mod:`quality.run.taxonomy` and :mod:`quality.run.paragraphs`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from quality.run.common import Probs, ProgressFn, QCRunError, Scored
from quality.run.load import Data
from quality.structured_agreement import item_agreement

__all__ = ["score_by_agreement", "show_paths", "show_spans"]


def show_paths(paths: frozenset, sep: str) -> str:
    return "; ".join(sorted(sep.join(p) for p in paths)) or "nothing"


def show_spans(spans: frozenset) -> str:
    return "; ".join(f"{lab} [{a}:{c}-{b}:{d}]" for a, b, c, d, lab in sorted(spans, key=str)) or "no spans"


def score_by_agreement(data: Data, progress: ProgressFn, read, show, measure: str,
                       mode: str) -> tuple[Scored, Probs]:
    """Score every item with two or more annotations by its annotators' agreement: ``read(items)``
    makes an answer (a frozenset) of an annotation's result items, ``show(answer)`` its words;
    ``measure`` is :func:`quality.structured_agreement.pair_score`'s."""
    answers: dict[int, list[tuple[int, frozenset]]] = defaultdict(list)
    for item, user, value in zip(data.ann_item.tolist(), data.ann_user.tolist(), data.ann_value, strict=True):
        answers[item].append((user, read(value if isinstance(value, list) else [])))
    multi = sorted(i for i, a in answers.items() if len(a) >= 2)
    if not multi:
        raise QCRunError(f"no item has two annotations yet; QC of {mode} compares annotators, "
                         "so set the project's overlap to 2 or more")
    progress(0.5, f"comparing the annotators of {len(multi):,} items")
    issues, by_user = [], defaultdict(list)
    for i in multi:
        users = [u for u, _ in answers[i]]
        sets = [s for _, s in answers[i]]
        mean, per = item_agreement(sets, measure=measure)
        for u, s in zip(users, per.tolist(), strict=True):
            by_user[u].append(s)
        counts: dict[frozenset, int] = defaultdict(int)
        for s in sets:
            counts[s] += 1
        top, top_n = max(counts.items(), key=lambda kv: kv[1])
        majority = top if top_n * 2 > len(sets) else None
        given = show(sets[0])
        is_issue = mean < 1.0
        reason = (f"{len(sets)} annotators disagree (agreement {mean:.2f}): "
                  + " | ".join(show(s) for s in sets)) if is_issue else f"{len(sets)} annotators agree"
        issues.append({"task_id": int(data.task_ids[i]), "kind": "label", "is_issue": bool(is_issue),
                       "given": given[:500], "suggested": show(majority)[:500] if majority is not None else None,
                       "consensus": show(majority)[:500] if majority is not None else None,
                       "score": float(mean), "reason": reason[:1000]})
    scores = np.array([r["score"] for r in issues])
    flagged = int(sum(r["is_issue"] for r in issues))
    annotators = [{"user_id": int(u), "n_items": len(s), "agreement": float(np.mean(s)), "quality": float(np.mean(s))}
                  for u, s in sorted(by_user.items())]
    agreement = {"mean_pairwise": float(scores.mean()), "unanimous": float(np.mean(scores == 1.0)),
                 "n_items": len(multi), "measure": measure}
    scored = Scored(issues=issues, annotators=annotators, noise_rate=flagged / len(multi), per_class_noise={},
                    confident_joint=[], agreement=agreement,
                    summary={"mode": mode, "n_items_multi": len(multi), "n_items_single": len(answers) - len(multi),
                             "noise_rate_method": "share of items whose annotators disagree",
                             "n_annotations": int(data.ann_item.size)},
                    n_issues=flagged)
    return scored, Probs(np.zeros((0, max(len(data.class_names), 1))), "agreement", f"annotator agreement ({measure})", None)


