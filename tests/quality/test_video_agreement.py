"""Agreement on video: temporal IoU of timeline spans, IoU over frames of tracks (boxes
interpolated between keyframes as Label Studio shows them), one line each in task_agreement."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.overlap import box_iou, frames_iou
from labeling.schema import parse_label_config
from labeling.tracks import timeline_frames, track_iou
from quality.task_agreement import MEASURES, task_agreement
from quality.video_agreement import control_agreement

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
TRACKING = parse_label_config((TEMPLATES / "videos__video-object-tracking.xml").read_text())
FRAMES = parse_label_config((TEMPLATES / "videos__video-frame-classification.xml").read_text())


def key(frame, x, *, enabled=True, y=0.0, w=10.0, h=10.0):
    return {"frame": frame, "enabled": enabled, "x": x, "y": y, "width": w, "height": h, "rotation": 0,
            "time": frame / 25}


def track(*keys, labels=("Man",), count=None):
    value = {"sequence": list(keys), "labels": list(labels)}
    if count is not None:
        value["framesCount"] = count
    return {"from_name": "box", "to_name": "video", "type": "videorectangle", "value": value}


def span(start, end, label="Movement"):
    return {"from_name": "videoLabels", "to_name": "video", "type": "timelinelabels",
            "value": {"ranges": [{"start": start, "end": end}], "timelinelabels": [label]}}


def test_temporal_iou_counts_frames_per_label():
    a = timeline_frames([span(1, 10), span(21, 30, "Still")])
    b = timeline_frames([span(6, 15), span(21, 30, "Still")])
    # Movement: 5 shared of 15; Still: 10 of 10 -> 15 / 25
    assert frames_iou(a, b) == pytest.approx(15 / 25)
    assert frames_iou(a, a) == 1.0
    assert frames_iou(timeline_frames([span(1, 10)]), timeline_frames([span(1, 10, "Still")])) == 0.0


def test_tracks_compare_on_interpolated_boxes():
    # one track keyframed at 1 and 11, the other at every frame on the same line: identical
    a = [key(1, 0), key(11, 20)]
    b = [key(f, 2 * (f - 1)) for f in range(1, 12)]
    assert track_iou(a, b) == pytest.approx(1.0)
    # shifted by half a box everywhere: IoU 1/3 on every frame
    c = [key(1, 5), key(11, 25)]
    assert track_iou(a, c) == pytest.approx(1 / 3)
    # a track switched off at frame 6 shows nothing after it: those 5 frames count 0
    d = [key(1, 0), key(6, 10, enabled=False)]
    assert track_iou(a, d) == pytest.approx(6 / 11)
    # held after its last enabled keyframe until the video's last frame
    assert track_iou([key(1, 0)], [key(1, 0), key(5, 0, enabled=False)], frames_count=10) == pytest.approx(5 / 10)
    assert box_iou({"x": 0, "y": 0, "width": 10, "height": 10}, {"x": 20, "y": 0, "width": 10, "height": 10}) == 0


def test_tracks_pair_one_to_one_by_label():
    same = [track(key(1, 0), key(11, 20)), track(key(1, 50), labels=("Woman",))]
    other_label = [track(key(1, 0), key(11, 20), labels=("Woman",)), track(key(1, 50))]
    assert control_agreement("videorectangle", [same, same]) == pytest.approx(1.0)
    assert control_agreement("videorectangle", [same, other_label]) == pytest.approx(0.0)
    missing_one = [same[0]]
    assert control_agreement("videorectangle", [same, missing_one]) == pytest.approx(2 / 3)
    assert control_agreement("videorectangle", [same]) is None


def test_task_agreement_has_a_line_per_video_type():
    assert {"timelinelabels", "videorectangle"} <= set(MEASURES)
    far = [[track(key(1, 0), key(11, 20))], [track(key(1, 60), key(11, 80))]]
    (got,) = task_agreement(TRACKING, far)
    assert (got.control, got.type, got.metric, got.agrees) == ("box", "videorectangle", "IoU over frames", False)
    assert got.reason == "annotators track objects differently (IoU over frames 0.00)"
    near = [[span(1, 10)], [span(2, 10)]]
    (got,) = task_agreement(FRAMES, near)
    assert (got.metric, got.value, got.agrees) == ("temporal IoU", pytest.approx(0.9), True)


def test_a_qc_run_on_a_tracking_project_reviews_the_tracks_apart(lead, make_user):
    """A real QC run (kind ``video``, scored by agreement): tracks whose boxes part ways go to
    review with the figure in words; equal answers, and close ones (tracks paired at IoU over
    frames 0.5, labeling.canonical), are a majority and accepted."""
    from sqlmodel import select

    from labeling import imports, projects
    from labeling.db import read_session
    from labeling.models import LabelIssue, Task
    from quality import results
    from quality.run.skeleton import run_qc

    one, two = make_user("v1@example.com"), make_user("v2@example.com")
    xml = (TEMPLATES / "videos__video-object-tracking.xml").read_text()
    project = projects.create_project(lead.user, title="Tracks", label_config=xml, overlap=2)
    assert projects.parse_config(project.label_config).kind == "video"
    base = [track(key(1, 10), key(11, 30), count=20)]
    near = [track(key(1, 11), key(11, 31), count=20)]
    far = [track(key(1, 70), key(11, 80), count=20)]
    body = [{"data": {"video": f"/v{n}.mp4"}, "annotations": [{"result": base, "completed_by": one.email},
                                                               {"result": b, "completed_by": two.email}]}
            for n, b in enumerate((base, near, far))]
    imports.import_data(lead.user, project.id, body=body)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    with read_session() as s:
        same, close, apart = [t.id for t in s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id))]
        found = {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.project_id == project.id,
                                                                        LabelIssue.kind == "agreement"))}
        states = {t.id: t.state for t in s.exec(select(Task).where(Task.project_id == project.id))}
    assert [found[t].is_issue for t in (same, close, apart)] == [False, False, True]
    assert found[apart].reason == "annotators track objects differently (IoU over frames 0.00)"
    assert found[close].score > 0.8
    assert (states[same], states[close], states[apart]) == ("accepted", "accepted", "review")
    (control,) = results.agreement_controls(lead.user, project.id)
    assert (control["control"], control["metric"], control["n_tasks"], control["n_disagree"]) == (
        "box", "IoU over frames", 3, 1)


def test_close_tracks_and_spans_are_the_same_answer_for_a_majority():
    from labeling.canonical import results_match

    base = [track(key(1, 10), key(11, 30)), span(1, 10)]
    close = [track(key(1, 12), key(11, 31)), span(2, 10)]
    assert results_match(base, close)
    assert not results_match(base, [track(key(1, 60), key(11, 80)), span(1, 10)])  # the track apart
    assert not results_match(base, [track(key(1, 10), key(11, 30)), span(30, 40)])  # the span apart
    assert not results_match(base, [track(key(1, 10), key(11, 30), labels=("Woman",)), span(1, 10)])
