"""Agreement on audio: temporal IoU of segments, word error rate of transcriptions, and the
task agreement table's lines for them (Label Studio's audio templates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.overlap import span_iou
from labeling.schema import parse_label_config
from quality.task_agreement import measured_controls, task_agreement
from quality.temporal_agreement import (
    segment_agreement,
    segments_of,
    transcript_agreement,
    transcript_of,
    word_error_rate,
)

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def template(name: str) -> str:
    return (TEMPLATES / f"audio-speech-processing__{name}.xml").read_text(encoding="utf-8")


def seg(rid, start, end, label, control="label"):
    return {"id": rid, "from_name": control, "to_name": "audio", "type": "labels", "original_length": 10.0,
            "value": {"start": start, "end": end, "channel": 0, "labels": [label]}}


def text(rid, control, words, start=None, end=None):
    value = {"text": [words]} if start is None else {"start": start, "end": end, "channel": 0, "text": [words]}
    return {"id": rid, "from_name": control, "to_name": "audio", "type": "textarea", "value": value}


@pytest.mark.parametrize("a, b, iou", [
    ((0, 2), (1, 3), 1 / 3), ((0, 1), (0, 1), 1.0), ((0, 1), (1, 2), 0.0), ((0, 4), (1, 2), 0.25), ((0, 0), (0, 1), 0.0),
])
def test_span_iou(a, b, iou):
    assert span_iou(a, b) == pytest.approx(iou)
    assert span_iou(b, a) == pytest.approx(iou)


def test_segment_agreement_pairs_same_labels_one_to_one():
    a = [(0.0, 2.0, ("A",)), (3.0, 4.0, ("B",))]
    assert segment_agreement(a, a) == 1.0
    assert segment_agreement([], []) == 1.0
    assert segment_agreement(a, []) == 0.0
    # the same times with the labels swapped: nothing pairs
    assert segment_agreement(a, [(0.0, 2.0, ("B",)), (3.0, 4.0, ("A",))]) == 0.0
    # one segment shifted by half its length (IoU 1/3), the other missing: (1/3) / 1.5
    assert segment_agreement(a, [(1.0, 3.0, ("A",))]) == pytest.approx((1 / 3) / 1.5)
    # one segment of b cannot pair with two of a
    assert segment_agreement([(0.0, 1.0, ("A",)), (0.0, 1.0, ("A",))], [(0.0, 1.0, ("A",))]) == pytest.approx(1 / 1.5)


@pytest.mark.parametrize("ref, hyp, wer", [
    ("the cat sat", "the cat sat", 0.0),
    ("The cat, sat!", "the cat sat", 0.0),  # case and punctuation are not words
    ("the cat sat", "the cat sat down", 1 / 3),  # one insertion
    ("the cat sat", "the dog sat", 1 / 3),  # one substitution
    ("the cat sat", "cat", 2 / 3),  # two deletions
    ("", "", 0.0),
    ("", "words", 1.0),
    ("one two", "three four five six", 2.0),  # WER exceeds 1 with many insertions
])
def test_word_error_rate(ref, hyp, wer):
    assert word_error_rate(ref, hyp) == pytest.approx(wer)


def test_transcript_agreement_is_symmetric_and_bounded():
    assert transcript_agreement("a b c d", "a b c d") == 1.0
    assert transcript_agreement("a b", "c d e f g h") == 0.0
    x = transcript_agreement("the cat sat", "the cat sat down")
    assert x == pytest.approx(transcript_agreement("the cat sat down", "the cat sat"))
    assert x == pytest.approx(1 - (1 / 3 + 1 / 4) / 2)


def test_per_region_transcriptions_read_in_segment_order():
    items = [text("b", "t", "world", 2.0, 3.0), text("a", "t", "hello", 0.5, 1.0)]
    assert transcript_of(items) == "hello world"
    assert segments_of([seg("a", 1.0, 0.5, "x"), seg("b", 0.5, 1.0, "x")]) == [(0.5, 1.0, ("x",))]


def test_task_agreement_measures_audio_segments_and_transcriptions():
    schema = parse_label_config(template("automatic-speech-recognition-using-segments"))
    assert measured_controls(schema) == [("labels", "segments"), ("transcription", "transcription")]
    one = [seg("a", 0.0, 2.0, "Speech", "labels"), text("a", "transcription", "hello there", 0.0, 2.0)]
    same = [seg("x", 0.1, 2.0, "Speech", "labels"), text("x", "transcription", "Hello, there", 0.1, 2.0)]
    found = {a.control: a for a in task_agreement(schema, [one, same])}
    assert found["labels"].value == pytest.approx(0.95) and found["labels"].agrees
    assert found["transcription"].value == 1.0 and found["transcription"].agrees
    other = [seg("y", 5.0, 6.0, "Noise", "labels"), text("y", "transcription", "a cough", 5.0, 6.0)]
    found = {a.control: a for a in task_agreement(schema, [one, other])}
    assert found["labels"].value == 0.0 and not found["labels"].agrees
    assert found["labels"].reason == "annotators mark different segments (temporal IoU 0.00)"
    assert not found["transcription"].agrees and found["transcription"].metric == "1 - WER"


def test_transcription_against_the_prediction():
    schema = parse_label_config(template("automatic-speech-recognition"))
    a = [text("1", "transcription", "turn the lights off")]
    b = [text("2", "transcription", "turn the light off")]
    model = [text("p", "transcription", "turn the lights off please")]
    (found,) = task_agreement(schema, [a, b], prediction=model)
    assert found.control == "transcription" and found.value == pytest.approx(0.75)
    assert not found.agrees
    assert found.reason == ("annotators transcribe differently (1 - WER 0.75): "
                            "word error rate against the prediction 0.38")


def test_per_region_intents_compare_through_overlapping_segments():
    schema = parse_label_config(template("intent-classification"))

    def said(rid, start, end, intent):
        return [seg(rid, start, end, "Segment", "labels"),
                {"id": rid, "from_name": "intent", "to_name": "audio", "type": "choices",
                 "value": {"start": start, "end": end, "channel": 0, "choices": [intent]}}]

    same = {a.control: a for a in task_agreement(schema, [said("a", 0, 2, "Question"), said("b", 0.1, 2, "Question")])}
    assert same["relations"].agrees  # the segments pair (temporal IoU 0.95), their intents match
    other = {a.control: a for a in task_agreement(schema, [said("a", 0, 2, "Question"), said("b", 0.1, 2, "Request")])}
    assert not other["relations"].agrees
    assert "intent of a region: ['Question'] and ['Request']" in other["relations"].reason


def test_an_audio_run_reviews_the_tasks_whose_annotators_disagree(lead, make_user):
    from sqlmodel import select

    from labeling import imports, projects
    from labeling.db import read_session
    from labeling.models import LabelIssue, Task
    from quality.run.skeleton import run_qc

    one, two = make_user("a1@example.com"), make_user("a2@example.com")
    project = projects.create_project(lead.user, title="Segments", overlap=2,
                                      label_config=template("automatic-speech-recognition-using-segments"))
    assert projects.parse_config(project.label_config).kind == "audio"

    def said(rid, start, end, label, words):
        return [seg(rid, start, end, label, "labels"), text(rid, "transcription", words, start, end)]

    rows = [(said("a", 0.0, 2.0, "Speech", "good morning"), said("b", 0.05, 2.0, "Speech", "Good morning!")),
            (said("a", 0.0, 2.0, "Speech", "good morning"), said("b", 6.0, 8.0, "Noise", "door slams"))]
    body = [{"data": {"audio": "https://example.com/a.wav"},
             "annotations": [{"result": a, "completed_by": one.email}, {"result": b, "completed_by": two.email}]}
            for a, b in rows]
    imports.import_data(lead.user, project.id, body=body)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    assert (done["policy"]["accepted"], done["policy"]["review"]) == (1, 1)
    with read_session() as s:
        agree, apart = s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
        found = {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.kind == "agreement"))}
    assert (agree.state, apart.state) == ("accepted", "review")
    assert not found[agree.id].is_issue and found[apart.id].is_issue
    assert "labels: annotators mark different segments (temporal IoU 0.00)" in found[apart.id].reason
    assert "transcription: annotators transcribe differently (1 - WER 0.00)" in found[apart.id].reason
    # the dashboard's agreement panel has the figure per control (quality.results.agreement_controls)
    from quality import results as qc_results
    shown = {c["type"]: c for c in qc_results.agreement_controls(lead.user, project.id)}
    assert {'transcription', 'segments'} <= set(shown) and all(shown[t]["n_tasks"] >= 2 for t in ['segments', 'transcription'])


def test_two_results_match_when_their_segments_overlap_and_words_agree():
    from labeling.canonical import results_match

    def said(rid, start, end, label, words):
        return [seg(rid, start, end, label, "labels"), text(rid, "transcription", words, start, end)]

    assert results_match(said("a", 0.0, 2.0, "Speech", "good morning"), said("b", 0.05, 2.0, "Speech", "Good morning!"))
    assert not results_match(said("a", 0.0, 2.0, "Speech", "x"), said("b", 1.5, 4.0, "Speech", "x"))  # IoU 0.125
    assert not results_match(said("a", 0.0, 2.0, "Speech", "x"), said("b", 0.0, 2.0, "Noise", "x"))
    assert not results_match(said("a", 0.0, 2.0, "Speech", "good morning"), said("b", 0.0, 2.0, "Speech", "good night"))
    # spans of text (whole character offsets) still compare exactly
    span = {"from_name": "ner", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["P"]}}
    moved = {**span, "value": {"start": 1, "end": 3, "labels": ["P"]}}
    assert not results_match([span], [moved]) and results_match([span], [dict(span)])


def test_a_transcription_run_names_the_word_error_rate_against_the_prediction(lead, make_user):
    from sqlmodel import select

    from labeling import imports, projects
    from labeling.db import read_session
    from labeling.models import LabelIssue
    from quality.run.skeleton import run_qc

    one, two = make_user("t1@example.com"), make_user("t2@example.com")
    project = projects.create_project(lead.user, title="ASR", overlap=2,
                                      label_config=template("automatic-speech-recognition"))
    a = [text("1", "transcription", "turn the lights off")]
    b = [text("2", "transcription", "turn the light off")]
    model = [text("p", "transcription", "turn the lights off please")]
    imports.import_data(lead.user, project.id, body=[{
        "data": {"audio": "https://example.com/a.wav"}, "predictions": [{"result": model, "model_version": "asr-1"}],
        "annotations": [{"result": a, "completed_by": one.email}, {"result": b, "completed_by": two.email}]}])
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    with read_session() as s:
        (finding,) = s.exec(select(LabelIssue).where(LabelIssue.kind == "agreement")).all()
    assert finding.is_issue
    assert finding.reason == ("annotators transcribe differently (1 - WER 0.75): "
                              "word error rate against the prediction 0.38")
