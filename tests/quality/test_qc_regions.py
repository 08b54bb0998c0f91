"""QC of key points, brush masks, and polygons without predictions: the annotators' agreement
(OKS, IoU) scores each task, and a task whose annotators disagree reaches the review queue while
the ones they agree on are accepted with their label."""

from __future__ import annotations

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle
from sqlmodel import select

from labeling.db import read_session
from labeling.models import Task, TaskState
from quality.run.skeleton import run_qc
from tests.quality.test_qc import get_run, import_rows, issues, make_project

W, H = 64, 48
KEYPOINTS = ('<View><Image name="img" value="$img"/><KeyPointLabels name="kp" toName="img">'
             '<Label value="Face"/><Label value="Nose"/></KeyPointLabels></View>')
POLYGONS = ('<View><Image name="image" value="$image"/><PolygonLabels name="label" toName="image">'
            '<Label value="Airplane"/><Label value="Car"/></PolygonLabels></View>')
MASKS = ('<View><Image name="image" value="$image"/><BrushLabels name="tag" toName="image">'
         '<Label value="Airplane"/><Label value="Car"/></BrushLabels></View>')


def region(from_name, to_name, type_, value):
    return {"from_name": from_name, "to_name": to_name, "type": type_, "original_width": W,
            "original_height": H, "image_rotation": 0, "value": value}


def point(x, y, label="Nose"):
    return region("kp", "img", "keypointlabels", {"x": x, "y": y, "width": 1, "keypointlabels": [label]})


def square(x, y, side=30, label="Car"):
    return region("label", "image", "polygonlabels", {
        "points": [[x, y], [x + side, y], [x + side, y + side], [x, y + side]], "closed": True,
        "polygonlabels": [label]})


def mask(x, y, label="Car"):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y:y + 20, x:x + 20] = 255
    return region("tag", "image", "brushlabels", {"format": "rle", "rle": mask2rle(m), "brushlabels": [label]})


def rows(key, pairs):
    return [{"data": {key: f"https://example.com/{i}.png"},
             "annotations": [{"result": a, "completed_by": "one@example.com"},
                             {"result": b, "completed_by": "two@example.com"}]}
            for i, (a, b) in enumerate(pairs)]


def states(ids):
    with read_session() as s:
        return [s.exec(select(Task.state).where(Task.id == tid)).one() for tid in ids]


@pytest.mark.parametrize(("config", "key", "agree", "disagree", "mode"), [
    (KEYPOINTS, "img", lambda i: ([point(10 + i, 20), point(50, 50, "Face")],
                                  [point(10.5 + i, 20), point(50, 50.5, "Face")]),
     lambda i: ([point(10, 20)], [point(60, 80)]), "OKS"),
    (POLYGONS, "image", lambda i: ([square(10 + i, 10)], [square(11 + i, 11)]),
     lambda i: ([square(10, 10)], [square(10, 10, label="Airplane")]), "IoU"),
    (MASKS, "image", lambda i: ([mask(5 + i, 5)], [mask(6 + i, 5)]),
     lambda i: ([mask(5, 5)], [mask(40, 25)]), "IoU"),
])
def test_disagreeing_annotators_send_the_task_to_review(lead, config, key, agree, disagree, mode):
    pid = make_project(lead, config)
    pairs = [agree(i) for i in range(4)] + [disagree(i) for i in range(2)]
    ids = import_rows(lead, pid, rows(key, pairs))
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["mode"] == "region agreement"
    assert run.agreement["measure"] == mode and run.agreement["n_items"] == 6
    found = {li.task_id: li for li in issues(run.id)}
    assert [found[t].is_issue for t in ids] == [False] * 4 + [True] * 2
    assert all(found[t].score >= 0.5 for t in ids[:4]) and all(found[t].score < 0.5 for t in ids[4:])
    assert "2 annotators agree" in found[ids[4]].reason
    assert states(ids) == [TaskState.accepted] * 4 + [TaskState.review] * 2


def test_polygons_with_predictions_are_scored_by_their_boxes_in_detection_qc(lead):
    data = []
    for i in range(12):
        x = 5 + 2 * (i % 4)
        given = [square(x, 5, 20), square(40, 15, 20, "Airplane")]
        if i == 5:
            given = [square(x, 5, 20, "Airplane"), square(40, 15, 20, "Airplane")]  # the car called a plane
        pred = [dict(square(x, 5, 20), score=0.97), dict(square(40, 15, 20, "Airplane"), score=0.96)]
        data.append({"data": {"image": f"https://example.com/{i}.png"}, "annotations": [{"result": given}],
                     "predictions": [{"result": pred, "model_version": "seg"}]})
    pid = make_project(lead, POLYGONS)
    ids = import_rows(lead, pid, data)
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["mode"] == "detection"
    worst = min(issues(run.id), key=lambda li: li.score)
    assert ids.index(worst.task_id) == 5 and worst.is_issue and "Airplane x2" in worst.reason
