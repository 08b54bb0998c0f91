"""QC runs on the database: each pred_probs source and scoring path with known answers, the
edge cases that end as a clear message, results stored once per job, predictions fed back
to the annotators, ActiveLab priorities, and the automatic trigger."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlmodel import select

from labeling import annotations, imports, jobs, projects, router
from labeling.db import read_session, utcnow, write_session
from labeling.models import (
    AnnotatorScore,
    Job,
    JobStatus,
    LabelIssue,
    Prediction,
    Project,
    QualityRun,
    Task,
)
from quality import results
from quality.run.skeleton import run_qc, start_qc

LABELS = ("ant", "bee", "cow")
FAST = {"models": ["logreg"]}


def text_config(labels=LABELS, *, multiple: bool = False) -> str:
    choices = "".join(f'<Choice value="{x}"/>' for x in labels)
    kind = ' choice="multiple"' if multiple else ""
    return (f'<View><Text name="text" value="$text"/>'
            f'<Choices name="label" toName="text"{kind}>{choices}</Choices></View>')


IMAGE_CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image">'
                '<Choice value="h"/><Choice value="v"/></Choices></View>')
NER_CONFIG = ('<View><Labels name="ner" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
              '<Text name="text" value="$text"/></View>')
BOX_CONFIG = ('<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
              '<Label value="car"/><Label value="cat"/></RectangleLabels></View>')


def choice(*labels: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}]


def blobs(n_per_class: int, n_classes: int = 3, *, dim: int = 8, seed: int = 0, spread: float = 0.5):
    """Well separated clusters: (embeddings, true class per item)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * 4
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = centers[y] + rng.normal(size=(y.size, dim)) * spread
    return X, y


def flip(y: np.ndarray, n: int, n_classes: int, seed: int = 1) -> tuple[np.ndarray, set[int]]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(y.size, size=n, replace=False)
    given = y.copy()
    for i in idx:
        given[i] = (y[i] + 1 + rng.integers(n_classes - 1)) % n_classes
    return given, set(idx.tolist())


def make_project(lead, config: str = None, **settings) -> int:
    return projects.create_project(lead.user, title="qc test", label_config=config or text_config(),
                                   **settings).id


def import_rows(lead, project_id: int, rows: list[dict]) -> list[int]:
    result = imports.import_data(lead.user, project_id, body=rows, return_task_ids=True, background=False)
    return result.task_ids


def embedding_rows(X, given, *, annotator: str = "one@example.com", labels=LABELS) -> list[dict]:
    return [{"data": {"text": f"item {i}", "embedding": [round(float(v), 5) for v in X[i]]},
             "annotations": [{"result": choice(labels[given[i]]), "completed_by": annotator}]}
            for i in range(len(given))]


def issues(run_id: int, kind: str = "label") -> list[LabelIssue]:
    with read_session() as s:
        return list(s.exec(select(LabelIssue).where(LabelIssue.run_id == run_id, LabelIssue.kind == kind)
                           .order_by(LabelIssue.task_id)))


def get_run(run_id: int) -> QualityRun:
    with read_session() as s:
        return s.get(QualityRun, run_id)


def flagged_rows(run_id: int, ids: list[int]) -> set[int]:
    pos = {tid: i for i, tid in enumerate(ids)}
    return {pos[li.task_id] for li in issues(run_id) if li.is_issue}


# --------------------------------------------------------------------------- scoring paths


def test_embedding_source_finds_the_flipped_labels(lead):
    X, y = blobs(40)
    given, flipped = flip(y, 6, 3)
    pid = make_project(lead)
    ids = import_rows(lead, pid, embedding_rows(X, given))
    steps = []
    out = run_qc(pid, options=FAST, progress=lambda f, m: steps.append((f, m)))
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.pred_probs_source == "embedding"
    assert run.model_name.startswith("logreg")
    # every flip is flagged, and as many items as the estimate counts: on 120 items an anchor
    # share read on half the items is a count of a few dozen, so the estimate may be an item off
    flagged = flagged_rows(run.id, ids)
    assert flipped <= flagged and len(flagged) <= len(flipped) + 1
    assert run.n_issues == len(flagged) == round(run.noise_rate * 120) and run.n_items == 120
    assert abs(run.noise_rate - 6 / 120) <= 0.02
    assert run.cv_accuracy == pytest.approx(114 / 120, abs=0.02)  # the model agrees with the truth
    assert run.class_names == list(LABELS)
    assert len(run.confident_joint) == 3 and sum(map(sum, run.confident_joint)) == 120
    assert set(run.per_class_noise) == set(LABELS)
    assert run.summary["mode"] == "single_annotator"
    # every scored item has a row; flagged ones say what the model thinks, worst first by score
    rows = issues(run.id)
    assert len(rows) == 120
    wrong = [r for r in rows if r.is_issue]
    for r in wrong:
        i = ids.index(r.task_id)
        if i not in flipped:
            continue
        assert r.given == LABELS[given[i]] and r.suggested == LABELS[y[i]]
        assert r.reason.startswith(f"labelled '{LABELS[given[i]]}'; model says '{LABELS[y[i]]}'")
    assert max(r.score for r in wrong) < min(r.score for r in rows if not r.is_issue)
    # the one annotator is judged on their labels
    with read_session() as s:
        scores = list(s.exec(select(AnnotatorScore).where(AnnotatorScore.run_id == run.id)))
    assert len(scores) == 1 and scores[0].n_items == 120 and scores[0].agreement == pytest.approx(114 / 120)
    # progress in steps, increasing, ending with the save
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and len(steps) >= 6 and steps[-1][1].startswith("saving")


def test_imported_probabilities_come_first(lead):
    X, y = blobs(20)
    given, flipped = flip(y, 4, 3)
    rows = embedding_rows(X, given)
    for i, row in enumerate(rows):  # a good model's probabilities, for the true class
        probs = {name: 0.05 for name in LABELS}
        probs[LABELS[y[i]]] = 0.9
        row["predictions"] = [{"model_version": "resnet-7", "probs": probs, "result": choice(LABELS[y[i]])}]
    pid = make_project(lead)
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid, options=FAST)
    run = get_run(out["run"])
    assert run.pred_probs_source == "imported" and run.model_name == "imported: resnet-7"
    assert flagged_rows(run.id, ids) == flipped
    assert run.cv_accuracy == pytest.approx(56 / 60)
    with read_session() as s:  # no model of our own: no predictions written
        assert s.exec(select(Prediction).where(Prediction.model_version.startswith("labelfab-qc"))).first() is None


TOPICS = {
    "ant": ["colony", "queen", "tunnel", "forage", "anthill", "worker", "soil", "crumb"],
    "bee": ["hive", "honey", "pollen", "nectar", "flower", "wax", "buzz", "swarm"],
    "cow": ["milk", "pasture", "barn", "grass", "herd", "calf", "farmer", "moo"],
}


def test_text_features_when_there_is_no_embedding(lead):
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(3), 25)
    texts = [" ".join(rng.choice(TOPICS[LABELS[c]], size=6)) for c in y]
    given, flipped = flip(y, 5, 3)
    pid = make_project(lead)
    ids = import_rows(lead, pid, [{"data": {"text": t}, "annotations": [{"result": choice(LABELS[g])}]}
                                  for t, g in zip(texts, given, strict=True)])
    out = run_qc(pid, options=FAST)
    run = get_run(out["run"])
    assert run.pred_probs_source == "features" and run.summary["features"] == "TF-IDF: words+chars"
    assert "imported probabilities: no imported predictions with probabilities" in run.summary["not_used"][0]
    # the flipped labels are the five worst; confident learning flags no correct one
    worst = sorted(issues(run.id), key=lambda li: li.score)[:5]
    assert {ids.index(li.task_id) for li in worst} == flipped
    assert 3 <= len(flagged_rows(run.id, ids)) and flagged_rows(run.id, ids) <= flipped



def test_the_zoo_picks_binary_phrases_when_only_word_order_tells_the_labels_apart(lead):
    """Every text has the same words and word pairs whatever its class; only which three-word
    phrases it contains differs. A run with the zoo computes the binary 1-3-gram sets and
    chooses them, and finds the flipped labels."""
    rng = np.random.default_rng(4)
    filler = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "kilo", "lima"]
    phrases = [
        ("red fox runs", "blue fox sleeps"),
        ("red fox sleeps", "blue fox runs"),
        ("red owl runs", "blue owl sleeps"),
    ]
    y = np.repeat(np.arange(3), 30)
    texts = []
    for c in y:
        first, second = phrases[c][:: 1 if rng.random() < 0.5 else -1]
        texts.append(" ".join([*rng.choice(filler, 2), first, *rng.choice(filler, 2), second]))
    given, flipped = flip(y, 5, 3)
    pid = make_project(lead)
    ids = import_rows(lead, pid, [{"data": {"text": t}, "annotations": [{"result": choice(LABELS[g])}]}
                                  for t, g in zip(texts, given, strict=True)])
    run = get_run(run_qc(pid, options={})["run"])
    selection = run.summary["selection"]
    assert "binary + logreg(C=3)" in selection["log_loss_by_candidate"]
    assert all("binary" in c for c in selection["chosen"]), selection
    worst = sorted(issues(run.id), key=lambda li: li.score)[:5]
    assert {ids.index(li.task_id) for li in worst} == flipped

def stripes(path: Path, vertical: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = Image.new("L", (24, 24), 255)
    draw = ImageDraw.Draw(img)
    offset = int(rng.integers(0, 4))
    for k in range(offset, 24, 6):
        box = [k, 0, k + 2, 23] if vertical else [0, k, 23, k + 2]
        draw.rectangle(box, fill=int(rng.integers(0, 60)))
    img.save(path)


def test_image_features_from_the_stored_files(lead, tmp_path):
    folder = tmp_path / "shapes"
    truth = {}
    flipped_names = set()
    for i in range(60):
        vertical = i % 2 == 1
        label = "v" if vertical else "h"
        if i in (4, 17, 30):
            label = "h" if vertical else "v"
            flipped_names.add(f"img{i:02d}.png")
        (folder / label).mkdir(parents=True, exist_ok=True)
        stripes(folder / label / f"img{i:02d}.png", vertical, i)
        truth[f"img{i:02d}.png"] = vertical
    pid = make_project(lead, IMAGE_CONFIG)
    imports.import_data(lead.user, pid, paths=[folder])
    out = run_qc(pid, options=FAST)
    run = get_run(out["run"])
    assert run.pred_probs_source == "features" and run.summary["features"] == "image features: labelfab"
    with read_session() as s:
        names = dict(s.execute(sa.select(Task.id, Task.file_name).where(Task.project_id == pid)).all())
    found = {Path(names[li.task_id]).name for li in issues(run.id) if li.is_issue}
    assert found == flipped_names


def test_crowdlab_consensus_and_annotator_ranking(lead):
    X, y = blobs(30, seed=5)
    rng = np.random.default_rng(7)
    accuracy = {"good@example.com": 0.95, "fair@example.com": 0.8, "poor@example.com": 0.4}
    rows = []
    for i in range(y.size):
        anns = []
        for email, acc in accuracy.items():
            label = y[i] if rng.random() < acc else (y[i] + 1 + rng.integers(2)) % 3
            anns.append({"result": choice(LABELS[label]), "completed_by": email})
        rows.append({"data": {"text": f"item {i}", "embedding": [float(v) for v in X[i]]}, "annotations": anns})
    pid = make_project(lead, overlap=3)
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid, options=FAST)
    run = get_run(out["run"])
    assert run.summary["mode"] == "multi_annotator" and run.summary["n_annotators"] == 3
    rows_ = issues(run.id)
    consensus = np.array([LABELS.index(r.consensus) for r in sorted(rows_, key=lambda r: ids.index(r.task_id))])
    assert np.mean(consensus == y) >= 0.97
    with read_session() as s:
        scores = s.execute(sa.select(AnnotatorScore.quality, AnnotatorScore.agreement, sa.text("email"))
                           .select_from(AnnotatorScore).join_from(AnnotatorScore, sa.table("user", sa.column("id"),
                                                                                         sa.column("email")),
                                                                  sa.text('"user".id = annotator_score.user_id'))
                           .where(AnnotatorScore.run_id == run.id)).all()
    ranking = [email for _, _, email in sorted(scores, reverse=True)]
    assert ranking == ["good@example.com", "fair@example.com", "poor@example.com"]
    assert 0 < run.agreement["krippendorff_alpha"] < 1
    assert set(run.agreement["kappa_by_annotator"]) == {str(u) for u in _user_ids(accuracy)}
    assert 0.15 < run.summary["annotation_error_rate"] < 0.35
    # an item whose annotators split three ways is an issue with a reason naming the votes
    split = [r for r in rows_ if "by 1 of 3" in r.reason]
    assert all(r.is_issue for r in split)


def _user_ids(emails) -> list[int]:
    from labeling.models import User

    with read_session() as s:
        return list(s.exec(select(User.id).where(User.email.in_(list(emails)))))


def test_multilabel_issues(lead):
    rng = np.random.default_rng(11)
    n = 150
    X = rng.normal(size=(n, 6))
    X[:, :3] = np.sign(X[:, :3]) * (1.0 + np.abs(X[:, :3]))  # a margin around 0
    Y = X[:, :3] > 0  # class c applies when coordinate c is positive
    given = Y.copy()
    wrong = [i for i in range(n) if Y[i, 1:].any()][::n // 4][:4]  # still labelled after the flip
    for i in wrong:
        given[i, 0] = ~given[i, 0]
    kept = [i for i in range(n) if given[i].any()]
    rows = [{"data": {"text": f"t{i}", "embedding": [float(v) for v in X[i] * 3]},
             "annotations": [{"result": choice(*[LABELS[c] for c in range(3) if given[i, c]])}]} for i in kept]
    pid = make_project(lead, text_config(multiple=True))
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid)
    run = get_run(out["run"])
    assert run.summary["mode"] == "multilabel" and run.pred_probs_source == "embedding"
    assert run.model_name == "logreg (one-vs-rest)"
    rows_ = issues(run.id)
    worst = sorted(rows_, key=lambda li: li.score)[:4]
    assert {kept[ids.index(li.task_id)] for li in worst} == set(wrong)
    found = {kept[ids.index(li.task_id)] for li in rows_ if li.is_issue}
    assert found and found <= set(wrong)
    first = worst[0]
    assert isinstance(first.given, list) and "'ant'" in first.reason and "model" in first.reason


def test_ner_scored_from_imported_spans_with_scores(lead):
    rows = []
    people = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken"]
    places = ["Paris", "Oslo", "Lima", "Quito", "Accra", "Hanoi"]
    for i in range(30):
        who, where = people[i % 6], places[(i * 5) % 6]
        text = f"{who} flew to {where} on Monday"
        a, b = 0, len(who)
        c = text.index(where)
        given_where = "PER" if i == 7 else "LOC"  # one wrong span label
        span = [{"from_name": "ner", "to_name": "text", "type": "labels",
                 "value": {"start": a, "end": b, "text": who, "labels": ["PER"]}},
                {"from_name": "ner", "to_name": "text", "type": "labels",
                 "value": {"start": c, "end": c + len(where), "text": where, "labels": [given_where]}}]
        pred = [{"from_name": "ner", "to_name": "text", "type": "labels", "score": 0.95,
                 "value": {"start": a, "end": b, "text": who, "labels": ["PER"]}},
                {"from_name": "ner", "to_name": "text", "type": "labels", "score": 0.95,
                 "value": {"start": c, "end": c + len(where), "text": where, "labels": ["LOC"]}}]
        rows.append({"data": {"text": text}, "annotations": [{"result": span}],
                     "predictions": [{"result": pred, "score": 0.95, "model_version": "spacy"}]})
    pid = make_project(lead, NER_CONFIG)
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["mode"] == "ner" and run.class_names == ["O", "PER", "LOC"]
    bad = [li for li in issues(run.id) if li.is_issue]
    assert [ids.index(li.task_id) for li in bad] == [7]
    assert bad[0].given["label"] == "PER" and bad[0].suggested["label"] == "LOC"
    assert bad[0].reason.startswith("token '")


def test_ner_without_predictions_says_what_it_needs(lead):
    pid = make_project(lead, NER_CONFIG)
    import_rows(lead, pid, [{"data": {"text": "Ada in Oslo"}, "annotations": [{"result": [
        {"from_name": "ner", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}}]}]}])
    out = run_qc(pid)
    assert out["status"] == "failed"
    assert "needs imported predictions" in out["message"]


def box(label: str, x: float, y: float, w: float = 20, h: float = 20, score: float | None = None) -> dict:
    item = {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 100,
            "original_height": 100, "value": {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": [label]}}
    if score is not None:
        item["score"] = score
    return item


def test_detection_scored_from_imported_boxes(lead, tmp_path):
    rows = []
    for i in range(12):
        x = 10 + 5 * (i % 4)
        given = [box("car", x, 10), box("cat", 60, 60)]
        if i == 5:
            given = [box("cat", x, 10), box("cat", 60, 60)]  # the car labelled as a cat
        pred = [box("car", x, 10, score=0.97), box("cat", 60, 60, score=0.96)]
        rows.append({"data": {"image": f"https://example.com/{i}.png"}, "annotations": [{"result": given}],
                     "predictions": [{"result": pred, "model_version": "yolo"}]})
    pid = make_project(lead, BOX_CONFIG)
    ids = import_rows(lead, pid, rows)
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["mode"] == "detection" and run.model_name == "imported: yolo"
    ranked = sorted(issues(run.id), key=lambda li: li.score)
    assert ids.index(ranked[0].task_id) == 5 and ranked[0].is_issue
    assert "cat x2" in ranked[0].reason


# --------------------------------------------------------------------------- edge cases


def test_no_labeled_tasks(lead):
    pid = make_project(lead)
    import_rows(lead, pid, [{"text": "a"}, {"text": "b"}])
    out = run_qc(pid)
    assert out["status"] == "failed" and "no labeled tasks" in out["message"]
    run = get_run(out["run"])
    assert run.status == "failed" and run.message == out["message"]


def test_fewer_than_two_classes_in_the_config(lead):
    pid = make_project(lead, text_config(("only",)))
    import_rows(lead, pid, [{"data": {"text": "a"}, "annotations": [{"result": choice("only")}]}])
    out = run_qc(pid)
    assert out["status"] == "failed" and "single label ('only')" in out["message"]


def test_every_label_the_same(lead):
    X, _ = blobs(10)
    pid = make_project(lead)
    import_rows(lead, pid, embedding_rows(X, np.zeros(30, dtype=int)))
    out = run_qc(pid)
    assert out["status"] == "failed"
    assert "every one of the 30 labeled tasks has the label 'ant'" in out["message"]


def test_a_single_item(lead):
    pid = make_project(lead)
    import_rows(lead, pid, [{"data": {"text": "x", "embedding": [1.0, 2.0]}, "annotations": [{"result": choice("bee")}]}])
    out = run_qc(pid)
    assert out["status"] == "failed" and "only 1 labeled task" in out["message"]


def test_a_class_with_one_example_is_not_judged(lead):
    X, y = blobs(20)
    y[0] = 2  # one 'cow' ... and no other
    y[y == 2] = 0
    y[0] = 2
    pid = make_project(lead)
    ids = import_rows(lead, pid, embedding_rows(X, y))
    out = run_qc(pid, options=FAST)
    assert out["status"] == "done"
    assert "have a single labeled task" in out["message"] and "'cow'" in out["message"]
    lone = next(li for li in issues(out["run"]) if li.task_id == ids[0])
    assert not lone.is_issue and "only task labelled 'cow'" in lone.reason


def test_constant_embeddings_fall_back_to_own_features(lead):
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 15)
    rows = [{"data": {"text": " ".join(rng.choice(TOPICS[LABELS[c]], size=5)), "embedding": [1.0, 1.0, 1.0]},
             "annotations": [{"result": choice(LABELS[c])}]} for c in y]
    pid = make_project(lead)
    import_rows(lead, pid, rows)
    out = run_qc(pid, options=FAST)
    run = get_run(out["run"])
    assert run.pred_probs_source == "features"
    assert any("embedding" in n and "constant" in n for n in run.summary["not_used"])


def test_nan_embeddings_and_constant_images_end_with_a_message(lead, tmp_path):
    folder = tmp_path / "same"
    for label in ("h", "v"):
        (folder / label).mkdir(parents=True)
        for i in range(6):  # identical pixels, different files (a byte in the PNG text chunk)
            img = Image.new("L", (16, 16), 200)
            img.save(folder / label / f"{i}.png", pnginfo=_info(f"{label}{i}"))
    pid = make_project(lead, IMAGE_CONFIG)
    imports.import_data(lead.user, pid, paths=[folder])
    with write_session() as s:  # embeddings that went bad after the import (NaN)
        for task in s.exec(select(Task).where(Task.project_id == pid)):
            task.data = {**task.data, "embedding": ["NaN", 1.0]}
            s.add(task)
    out = run_qc(pid, options=FAST)
    assert out["status"] == "failed"
    assert "NaN or infinity" in out["message"] and "constant" in out["message"]


def _info(text: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("id", text)
    return info


# --------------------------------------------------------------------------- feeding back


def test_predictions_for_unlabeled_tasks_and_uncertain_first(lead, annotator):
    X, y = blobs(20, seed=4)
    pid = make_project(lead, uncertain_first=True)
    import_rows(lead, pid, embedding_rows(X, y))
    centers = np.stack([X[y == c].mean(axis=0) for c in range(3)])
    clear = centers[1] + 0.01
    between = (centers[0] + centers[2]) / 2  # the model cannot tell ant from cow here
    unl = import_rows(lead, pid, [{"text": "clear", "embedding": clear.tolist()},
                                  {"text": "between", "embedding": between.tolist()}])
    out = run_qc(pid, options=FAST)
    assert out["status"] == "done"
    with read_session() as s:
        preds = {p.task_id: p for p in s.exec(select(Prediction).where(Prediction.project_id == pid))}
        prio = dict(s.execute(sa.select(Task.id, Task.priority).where(Task.id.in_(unl))).all())
    assert set(preds) == set(unl)
    p = preds[unl[0]]
    assert p.model_version == f"labelfab-qc #{out['run']} {get_run(out['run']).model_name}"
    assert p.result == choice("bee") and p.score > 0.8 and set(p.probs) == set(LABELS)
    assert prio[unl[1]] > prio[unl[0]]
    # the router serves the uncertain task first, with the model's pre-annotation
    view = router.serve_next(pid, annotator.user)
    assert view["id"] == unl[1]
    assert view["predictions"] and view["predictions"][0]["model_version"].startswith("labelfab-qc #")
    # a second run replaces the QC predictions instead of piling them up
    run_qc(pid, options=FAST)
    with read_session() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(Prediction).where(Prediction.project_id == pid)).scalar()
    assert n == 2


def test_runs_keep_history_and_latest_issues_are_listed_worst_first(lead):
    X, y = blobs(15)
    given, _ = flip(y, 3, 3)
    pid = make_project(lead)
    import_rows(lead, pid, embedding_rows(X, given))
    first = run_qc(pid, options=FAST)["run"]
    second = run_qc(pid, options=FAST)["run"]
    runs = results.list_runs(lead.user, pid)
    assert [r.id for r in runs] == [second, first]
    run, rows, total = results.label_issues(lead.user, pid, kind="label")
    assert run.id == second and total == 3
    run, rows, total = results.label_issues(lead.user, pid)  # every kind, worst first
    assert [r.score for r in rows] == sorted(r.score for r in rows) and total >= 3
    run, rows, total = results.label_issues(lead.user, pid, run_id=first, kind="label", include_all=True, page_size=10)
    assert run.id == first and total == 45 and len(rows) == 10


# --------------------------------------------------------------------------- the job


def test_qc_job_runs_through_the_worker_and_writes_once(lead, worker):
    X, y = blobs(15)
    pid = make_project(lead)
    import_rows(lead, pid, embedding_rows(X, y))
    job, created = start_qc(lead.user, pid, options=FAST)
    assert created
    from tests.conftest import wait_for

    done = wait_for(lambda: (j := jobs.get_job(job.id)).status in ("done", "failed") and j, timeout=120)
    assert done.status == "done", done.message
    assert done.result["run"] and done.progress == 1.0 and "items scored" in done.message
    jobs.execute(job.id)  # a redelivered message finds the job done: nothing more is written
    with read_session() as s:
        runs = list(s.exec(select(QualityRun).where(QualityRun.project_id == pid)))
    assert len(runs) == 1 and runs[0].job_id == job.id


def test_a_job_rerun_after_a_crash_stores_its_results_once(lead):
    X, y = blobs(15)
    pid = make_project(lead)
    import_rows(lead, pid, embedding_rows(X, y))
    job, _ = start_qc(lead.user, pid, options=FAST)
    again, created_again = start_qc(lead.user, pid)
    assert not created_again and again.id == job.id  # one run at a time per project
    # the first attempt died: its job is left running, with a stale heartbeat
    with write_session() as s:
        row = s.get(Job, job.id)
        row.status, row.claim_token, row.attempts = JobStatus.running, "dead-worker", 1
        row.heartbeat_at = utcnow() - timedelta(hours=1)
        s.add(row)
    jobs.execute(job.id)
    jobs.execute(job.id)
    with read_session() as s:
        runs = list(s.exec(select(QualityRun).where(QualityRun.job_id == job.id)))
        row = s.get(Job, job.id)
    assert row.status == "done" and row.attempts == 2 and len(runs) == 1


def test_failed_job_carries_the_message(lead):
    pid = make_project(lead)
    import_rows(lead, pid, [{"text": "nothing labeled"}])
    job, _ = start_qc(lead.user, pid)
    jobs.execute(job.id)
    row = jobs.get_job(job.id)
    assert row.status == "failed" and row.message.startswith("QC could not run: the project has no labeled tasks")
    assert "Traceback" not in row.message


# --------------------------------------------------------------------------- automatic QC


def test_qc_starts_after_every_n_newly_labeled_tasks(lead, annotator):
    pid = make_project(lead, qc_every=2)
    ids = import_rows(lead, pid, [{"text": f"t{i}"} for i in range(5)])

    def qc_jobs():
        with read_session() as s:
            return list(s.exec(select(Job).where(Job.project_id == pid, Job.kind == "qc")))

    def labeled_since():
        with read_session() as s:
            return s.get(Project, pid).labeled_since_qc

    annotations.submit(ids[0], annotator.user, result=choice("ant"))
    assert qc_jobs() == [] and labeled_since() == 1
    annotations.submit(ids[1], annotator.user, result=choice("bee"))
    started = qc_jobs()
    assert len(started) == 1 and started[0].status == "queued" and started[0].payload["trigger"] == "auto"
    assert labeled_since() == 0
    # while that run is queued, reaching the count again starts no second one
    annotations.submit(ids[2], annotator.user, result=choice("ant"))
    annotations.submit(ids[3], annotator.user, result=choice("cow"))
    assert len(qc_jobs()) == 1 and labeled_since() == 2
    # an import of labeled tasks counts too, once the first run is over
    jobs.execute(started[0].id)
    import_rows(lead, pid, [{"data": {"text": "x"}, "annotations": [{"result": choice("bee")}]}])
    assert len(qc_jobs()) == 2 and labeled_since() == 0


def test_projects_without_auto_qc_are_not_counted(lead, annotator):
    pid = make_project(lead)
    ids = import_rows(lead, pid, [{"text": "a"}])
    annotations.submit(ids[0], annotator.user, result=choice("ant"))
    with read_session() as s:
        assert s.get(Project, pid).labeled_since_qc == 0
        assert s.exec(select(Job).where(Job.kind == "qc")).first() is None


def test_a_rolled_back_transaction_starts_nothing(lead):
    from labeling.jobs.qc_trigger import tasks_labeled

    pid = make_project(lead, qc_every=1)
    with pytest.raises(RuntimeError), write_session() as s:
        assert tasks_labeled(s.connection(), pid, 1) is not None
        raise RuntimeError("the labeling transaction failed")
    with read_session() as s:
        assert s.exec(select(Job).where(Job.kind == "qc")).first() is None
        assert s.get(Project, pid).labeled_since_qc == 0


def test_progress_fractions_are_finite(lead):
    X, y = blobs(10)
    pid = make_project(lead)
    import_rows(lead, pid, embedding_rows(X, y))
    seen = []
    run_qc(pid, options=FAST, progress=lambda f, m: seen.append(f))
    assert all(math.isfinite(f) and 0 <= f <= 1 for f in seen)
