"""Label Studio's video templates through labelfab: each accepted unchanged, its example task
imported, and a result shaped as Label Studio's editor stores it (Choices on the video, timeline
spans, tracks with keyframes and labels) comes back out of the Label Studio JSON export identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling import exports
from tests.labeling.test_exports import accept, make_project, task_ids

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"

CHOICE = [{"value": {"choices": ["Blurry"]}, "id": "vB3U85jSU4", "from_name": "choice", "to_name": "video",
           "type": "choices", "origin": "manual"}]
SPANS = [
    {"value": {"ranges": [{"start": 3, "end": 40}], "timelinelabels": ["Movement"]}, "id": "tl_1",
     "from_name": "videoLabels", "to_name": "video", "type": "timelinelabels", "origin": "manual"},
    {"value": {"ranges": [{"start": 41, "end": 41}], "timelinelabels": ["Still"]}, "id": "tl_2",
     "from_name": "videoLabels", "to_name": "video", "type": "timelinelabels", "origin": "manual"},
]
TRACK = [{
    "value": {
        "framesCount": 250, "duration": 10.0,
        "sequence": [
            {"frame": 1, "enabled": True, "rotation": 0, "x": 12.5, "y": 20.833333333333336, "width": 31.25,
             "height": 25.0, "time": 0.04},
            {"x": 40.0, "y": 22.5, "width": 31.25, "height": 25.0, "rotation": 0, "frame": 25, "enabled": False,
             "time": 1.0},
        ],
        "labels": ["Woman"],
    },
    "id": "Jd2ZtSWQSn", "from_name": "box", "to_name": "video", "type": "videorectangle", "origin": "manual",
}]


@pytest.mark.parametrize(("template", "result"), [
    ("videos__video-classification", CHOICE),
    ("videos__video-frame-classification", SPANS),
    ("videos__video-object-tracking", TRACK),
])
def test_a_label_studio_result_round_trips_through_the_json_export(lead, template, result):
    xml = (TEMPLATES / f"{template}.xml").read_text(encoding="utf-8")
    data, _, _ = LabelInterface.get_task_from_labeling_config(xml)
    assert set(data) == {"video"}  # the template's example task
    pid = make_project(lead.user, [{"data": data, "annotations": [{"result": result}]}], config=xml)
    accept(pid)
    (task,) = json.loads(b"".join(exports.export(pid, lead.user, format="JSON")))
    assert task["id"] == task_ids(pid)[0] and task["data"] == data
    (annotation,) = task["annotations"]
    assert annotation["result"] == result


def test_every_format_offered_for_a_video_project_exports(lead):
    from labeling.exports.writers import EXPORT_FORMATS, fits
    from labeling.schema import parse_label_config

    xml = (TEMPLATES / "videos__video-object-tracking.xml").read_text(encoding="utf-8")
    offered = [name for name, fmt in EXPORT_FORMATS.items() if fits(fmt, parse_label_config(xml))]
    assert "JSON" in offered
    pid = make_project(lead.user, [{"data": {"video": "/v.mp4"}, "annotations": [{"result": TRACK}]}], config=xml)
    accept(pid)
    for name in offered:
        out = b"".join(exports.export(pid, lead.user, format=name))
        assert out, name
