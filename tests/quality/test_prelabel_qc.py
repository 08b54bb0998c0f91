"""Annotations made from a pre-label (``parent_prediction``) are not independent labels: QC's
CROWDLAB consensus, agreement and annotator scores skip them where the task has an independent
label (ARCHITECTURE.md, Pre-labels)."""

from __future__ import annotations

from sqlmodel import select

from labeling import annotations, predictions
from labeling.db import read_session
from labeling.models import AnnotatorScore
from quality.run.skeleton import run_qc
from tests.quality.test_qc import (
    FAST,
    LABELS,
    blobs,
    choice,
    get_run,
    import_rows,
    issues,
    make_project,
)

ACCEPTED = range(0, 24, 4)  # tasks where the second annotator took the model's wrong pre-label
OWN = range(2, 24, 4)  # tasks the second annotator labelled independently


def labelled_project(lead, first, second, *, marked: bool) -> tuple[int, list[int]]:
    X, y = blobs(8, 3)
    pid = make_project(lead, overlap=2)
    ids = import_rows(lead, pid, [{"data": {"text": f"item {i}", "embedding": [round(float(v), 5) for v in X[i]]}}
                                  for i in range(y.size)])
    for i, tid in enumerate(ids):
        annotations.submit(tid, first.user, result=choice(LABELS[y[i]]))
        if i in ACCEPTED:
            wrong = LABELS[(y[i] + 1) % 3]
            pred = predictions.create_prediction(lead.user, task_id=tid, result=choice(wrong), score=0.6,
                                                 model_version="guess")
            annotations.submit(tid, second.user, result=choice(wrong),
                               parent_prediction=pred.id if marked else None)
        elif i in OWN:
            annotations.submit(tid, second.user, result=choice(LABELS[y[i]]))
    return pid, ids


def scores(run_id: int) -> dict[int, AnnotatorScore]:
    with read_session() as s:
        return {a.user_id: a for a in s.exec(select(AnnotatorScore).where(AnnotatorScore.run_id == run_id))}


def test_crowdlab_and_agreement_skip_annotations_made_from_a_prelabel(lead, make_user):
    first, second = make_user("first@example.com"), make_user("second@example.com")
    pid, ids = labelled_project(lead, first, second, marked=True)
    out = run_qc(pid, options=FAST)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["n_prelabel_annotations_skipped"] == 6
    assert "6 annotation(s) made from a pre-label were left out" in run.message
    assert run.summary["n_annotations"] == 24 + 6  # the first annotator's and the second's own
    flagged = {ids.index(li.task_id) for li in issues(run.id) if li.is_issue}
    assert flagged.isdisjoint(ACCEPTED)  # the independent (right) label stands, uncontested
    assert run.summary["n_contested"] == 0
    assert scores(run.id)[second.id].n_items == 6  # judged on their own labels only
    assert run.agreement["unanimous_share"] == 1.0


def test_unmarked_the_same_labels_are_contested(lead, make_user):
    first, second = make_user("first@example.com"), make_user("second@example.com")
    pid, ids = labelled_project(lead, first, second, marked=False)
    run = get_run(run_qc(pid, options=FAST)["run"])
    assert run.summary["n_prelabel_annotations_skipped"] == 0
    assert run.summary["n_contested"] == 6
    assert scores(run.id)[second.id].n_items == 12
