"""Imported predictions on only some tasks: a missing prediction is unknown, never "O" or
background; imported predictions are QC's model only when they cover every scored task, else the
project's own model is, and the run says which (ARCHITECTURE.md, quality/)."""

from __future__ import annotations

import numpy as np

from quality.run.skeleton import run_qc
from quality.token_probs import cross_val_token_probs, token_features
from tests.quality.test_qc import (
    BOX_CONFIG,
    FAST,
    NER_CONFIG,
    blobs,
    box,
    embedding_rows,
    get_run,
    import_rows,
    issues,
    make_project,
)

PEOPLE = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken"]
PLACES = ["Paris", "Oslo", "Lima", "Quito", "Accra", "Hanoi"]


def span(text: str, word: str, label: str, score: float | None = None) -> dict:
    a = text.index(word)
    item = {"from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": a, "end": a + len(word), "text": word, "labels": [label]}}
    if score is not None:
        item["score"] = score
    return item


def ner_rows(n: int, *, predicted: set[int], wrong: set[int] = frozenset()) -> list[dict]:
    """``n`` texts, each with a person and a place labelled (wrongly where ``wrong``); the texts
    in ``predicted`` carry an imported prediction that knows persons only, with score 0.9."""
    rows = []
    for i in range(n):
        who, where = PEOPLE[i % 6], PLACES[(i * 5 + i // 6) % 6]
        text = f"{who} flew to {where} on Monday"
        row = {"data": {"text": text},
               "annotations": [{"result": [span(text, who, "PER"),
                                           span(text, where, "PER" if i in wrong else "LOC")]}]}
        if i in predicted:
            row["predictions"] = [{"result": [span(text, who, "PER", 0.9)], "score": 0.9,
                                   "model_version": "persons-only"}]
        rows.append(row)
    return rows


def test_ner_predictions_on_3_of_12_texts_flag_no_correct_span(lead):
    pid = make_project(lead, NER_CONFIG)
    ids = import_rows(lead, pid, ner_rows(12, predicted={0, 4, 8}))
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    # the run says its model is the project's own, and why the imported one was not used
    assert run.pred_probs_source == "features"
    assert run.model_name.startswith("token logreg")
    assert run.summary["not_used"] == ["imported predictions cover 3 of 12 labeled texts"]
    assert "imported predictions were not used as the QC model" in run.message
    rows = issues(run.id)
    assert sorted(li.task_id for li in rows) == sorted(ids)  # every labeled text scored
    flagged = [(ids.index(li.task_id), li.reason) for li in rows if li.is_issue]
    assert flagged == []


def test_ner_own_model_finds_a_wrong_span_where_predictions_are_sparse(lead):
    pid = make_project(lead, NER_CONFIG)
    ids = import_rows(lead, pid, ner_rows(30, predicted={0, 1, 2}, wrong={7}))
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.pred_probs_source == "features"
    bad = [li for li in issues(run.id) if li.is_issue]
    assert [ids.index(li.task_id) for li in bad] == [7]
    assert bad[0].given["label"] == "PER" and bad[0].suggested["label"] == "LOC"


def test_ner_predictions_on_every_text_are_the_model(lead):
    pid = make_project(lead, NER_CONFIG)
    import_rows(lead, pid, ner_rows(12, predicted=set(range(12))))
    run = get_run(run_qc(pid)["run"])
    assert run.pred_probs_source == "imported" and run.model_name == "imported: persons-only"


def test_ner_too_few_texts_without_predictions_says_what_it_needs(lead):
    pid = make_project(lead, NER_CONFIG)
    import_rows(lead, pid, ner_rows(3, predicted={0}))
    out = run_qc(pid)
    assert out["status"] == "failed"
    assert "needs imported predictions" in out["message"]
    assert "cover 1 of 3 labeled texts" in out["message"]


def test_detection_images_without_predictions_are_not_scored(lead):
    rows = []
    for i in range(12):
        x = 10 + 5 * (i % 4)
        row = {"data": {"image": f"https://example.com/{i}.png"},
               "annotations": [{"result": [box("car", x, 10), box("cat", 60, 60)]}]}
        if i in (0, 1, 2):
            row["predictions"] = [{"result": [box("car", x, 10, score=0.97), box("cat", 60, 60, score=0.96)],
                                   "model_version": "yolo"}]
        rows.append(row)
    pid = make_project(lead, BOX_CONFIG)
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["n_images"] == 3 and run.summary["n_images_without_predictions"] == 9
    assert any("9 of 12 labeled image(s) have no imported prediction" in n for n in run.summary["notes"])
    scored = {ids.index(li.task_id) for li in issues(run.id)}
    assert scored == {0, 1, 2}
    assert not any(li.is_issue for li in issues(run.id))


def test_classification_probabilities_on_some_tasks_are_not_the_model(lead):
    X, y = blobs(8, 3)
    rows = embedding_rows(X, y)
    for i in (0, 9, 17):
        rows[i]["predictions"] = [{"result": [], "probs": {"ant": 0.9, "bee": 0.05, "cow": 0.05},
                                   "model_version": "some"}]
    pid = make_project(lead)
    import_rows(lead, pid, rows)
    out = run_qc(pid, options=FAST)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.pred_probs_source == "embedding"
    assert run.summary["not_used"] == [
        "imported probabilities: only 3 of 24 labeled tasks have imported predictions with probabilities"]
    assert not any(li.is_issue for li in issues(run.id))  # the "ant" guesses on a bee and a cow count for nothing


def test_token_probs_are_out_of_sample_and_proper():
    tokens = [f"{p} flew to {q} on Monday".split() for p, q in zip(PEOPLE * 2, PLACES[::-1] * 2, strict=True)]
    labels = [np.asarray([1, 0, 0, 2, 0, 0]) for _ in tokens]
    pp, acc = cross_val_token_probs(tokens, labels, n_classes=3)
    assert [p.shape for p in pp] == [(6, 3)] * 12
    allp = np.concatenate(pp)
    assert np.allclose(allp.sum(axis=1), 1) and (allp > 0).all()
    assert acc == 1.0  # context alone places the person and the place in texts never trained on
    assert "w-1=to" in token_features(tokens[0])[3]
