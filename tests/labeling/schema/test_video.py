"""Video: ``<Video>``, Choices on it, TimelineLabels and VideoRectangle tracks with ``<Labels>``;
results as Label Studio's editor stores them are accepted, wrong ones refused with the reason;
boxes between keyframes are interpolated as Label Studio's editor interpolates them."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.schema import (
    LabelConfigError,
    label_text,
    parse_label_config,
    validate_result,
    validate_task_data,
)
from labeling.schema.video import box_at, frame_rate_of

HERE = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
TRACKING = (HERE / "videos__video-object-tracking.xml").read_text()
FRAMES = (HERE / "videos__video-frame-classification.xml").read_text()
CLASSIFY = (HERE / "videos__video-classification.xml").read_text()
DATA = {"video": "/data/upload/1/clip.mp4"}


def key(frame, x, y=10.0, w=20.0, h=30.0, *, enabled=True, rotation=0, fps=25.0):
    return {"frame": frame, "enabled": enabled, "x": x, "y": y, "width": w, "height": h, "rotation": rotation,
            "time": frame / fps}


def track(*keys, labels=("Man",), count=250):
    value = {"framesCount": count, "duration": count / 25, "sequence": list(keys)}
    if labels is not None:
        value["labels"] = list(labels)
    return {"id": "t1", "from_name": "box", "to_name": "video", "type": "videorectangle", "origin": "manual",
            "value": value}


def span(start, end, label="Movement"):
    return {"id": f"s{start}", "from_name": "videoLabels", "to_name": "video", "type": "timelinelabels",
            "origin": "manual", "value": {"ranges": [{"start": start, "end": end}], "timelinelabels": [label]}}


# ------------------------------------------------------------------ parsing


def test_the_templates_parse_with_their_objects_and_controls():
    tracking = parse_label_config(TRACKING)
    assert tracking.objects["video"].tag == "Video" and tracking.objects["video"].frame_rate == "25.0"
    assert [(c.name, c.type, c.object_tag) for c in tracking.controls] == [
        ("videoLabels", "labels", "Video"), ("box", "videorectangle", "Video")]
    frames = parse_label_config(FRAMES)
    assert frames.control("videoLabels").labels == ["Movement", "Still", "Slow Motion"]
    assert frames.objects["video"].frame_rate is None
    classify = parse_label_config(CLASSIFY)
    assert classify.kind == "classification" and classify.control("choice").object_tag == "Video"


def test_video_frame_rate_is_checked_and_read_like_label_studio():
    with pytest.raises(LabelConfigError, match='frameRate="fast"'):
        parse_label_config('<View><Video name="v" value="$v" frameRate="fast"/>'
                           '<TimelineLabels name="t" toName="v"><Label value="a"/></TimelineLabels></View>')
    schema = parse_label_config('<View><Video name="v" value="$v" frameRate="$fps"/>'
                                '<TimelineLabels name="t" toName="v"><Label value="a"/></TimelineLabels></View>')
    assert schema.objects["v"].frame_rate == "$fps"
    assert frame_rate_of("$fps", {"fps": 30}) == 30.0
    assert frame_rate_of(None) == 24.0 and frame_rate_of("0.04") == 25.0 and frame_rate_of("x") == 24.0


def test_video_task_data_must_name_a_video():
    schema = parse_label_config(FRAMES)
    assert validate_task_data(schema, DATA) == []
    assert "must be a video URL or path" in validate_task_data(schema, {"video": 3})[0]


def test_timeline_and_rectangle_annotate_only_videos():
    with pytest.raises(LabelConfigError, match="cannot annotate <Image>"):
        parse_label_config('<View><Image name="i" value="$i"/><VideoRectangle name="b" toName="i"/></View>')


# ------------------------------------------------------------------ results


def test_label_studio_results_are_accepted():
    tracking = parse_label_config(TRACKING)
    result = [track(key(1, 10), key(20, 30, enabled=False)), dict(track(key(5, 50), labels=None), id="t2")]
    assert validate_result(tracking, result, DATA) == []
    frames = parse_label_config(FRAMES)
    assert validate_result(frames, [span(3, 5), span(9, 9, "Still")], DATA) == []
    assert label_text([span(3, 5)]) == "Movement (frames 3-5)"
    assert label_text(result[:1]) == "Man (track, 2 keyframes, frames 1-20)"


@pytest.mark.parametrize(("value", "says"), [
    ({"sequence": []}, "non-empty list of keyframes"),
    ({"sequence": [key(0, 10)]}, "whole frame number from 1"),
    ({"sequence": [key(5, 10), key(2, 10)]}, "frame order"),
    ({"sequence": [key(5, 10), key(5, 12)]}, "frame order"),
    ({"sequence": [dict(key(1, 10), x="10")]}, "x must be numbers"),
    ({"sequence": [key(1, 90)]}, "goes outside the frame"),
    ({"sequence": [dict(key(1, 10), enabled="yes")]}, "enabled must be true or false"),
    ({"sequence": [key(1, 10)], "framesCount": 0}, "framesCount"),
    ({"sequence": [key(1, 10)], "labels": "Man"}, "list of label names"),
])
def test_bad_tracks_are_refused_naming_the_problem(value, says):
    problems = validate_result(parse_label_config(TRACKING), [{"from_name": "box", "to_name": "video",
                                                               "type": "videorectangle", "value": value}], DATA)
    assert len(problems) == 1 and says in problems[0], problems


def test_track_labels_come_from_the_labels_on_its_video():
    problems = validate_result(parse_label_config(TRACKING), [track(key(1, 10), labels=["Dog"])], DATA)
    assert problems == ["result[0] (box): unknown label(s) ['Dog'] for the track; the <Labels> on 'video' "
                        "have ['Man', 'Woman', 'Other']"]
    # Label Studio stores a track's labels in the track; a labels item of its own is refused
    own = {"from_name": "videoLabels", "to_name": "video", "type": "labels", "value": {"labels": ["Man"]}}
    assert "stored in its videorectangle item" in validate_result(parse_label_config(TRACKING), [own], DATA)[0]


@pytest.mark.parametrize(("ranges", "says"), [
    ([], "non-empty list of frame ranges"),
    ([{"start": 5, "end": 3}], "end is not before the start"),
    ([{"start": 0, "end": 3}], "frames count from 1"),
    ([{"start": 1.5, "end": 3}], "whole frame numbers"),
])
def test_bad_timeline_spans_are_refused(ranges, says):
    item = dict(span(1, 1), value={"ranges": ranges, "timelinelabels": ["Still"]})
    problems = validate_result(parse_label_config(FRAMES), [item], DATA)
    assert len(problems) == 1 and says in problems[0], problems


def test_timeline_labels_must_be_the_controls():
    problems = validate_result(parse_label_config(FRAMES), [span(1, 2, "Jump")], DATA)
    assert len(problems) == 1 and "unknown label(s) ['Jump']" in problems[0]


# ------------------------------------------------------------------ interpolation (Label Studio's getShape)


def test_boxes_between_keyframes_are_interpolated_as_label_studio_does():
    seq = [key(1, 10, 10, 20, 20), key(11, 30, 20, 40, 10), key(21, 50, enabled=False), key(31, 0)]
    assert box_at(seq, 1) == {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0}
    assert box_at(seq, 6) == {"x": 20.0, "y": 15.0, "width": 30.0, "height": 15.0, "rotation": 0.0}
    assert box_at(seq, 16)["x"] == pytest.approx(40.0)  # toward the disabled keyframe
    assert box_at(seq, 21)["x"] == 50  # a disabled keyframe's own frame shows its box
    assert box_at(seq, 25) is None  # switched off until the next keyframe
    assert box_at(seq, 40)["x"] == 0  # held after the last (enabled) keyframe
    seq_before = [key(5, 10)]
    assert box_at(seq_before, 4) is None


def test_rotation_is_interpolated_the_short_way_round():
    # Label Studio's interpolateProp example: -170 -> 170 over 20 frames, frame 5 is -175
    seq = [key(0 + 1, 10, rotation=-170), key(21, 10, rotation=170)]
    assert box_at(seq, 6)["rotation"] == pytest.approx(-175.0)
