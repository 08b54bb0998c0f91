"""Reviewing spans (NER) and boxes: QC's findings in words, the suggestion applied to the
people's spans, and relabels that store a reviewer's edited regions (or count as a keep).

QC results are written as LabelIssue rows (tests.labeling.test_review.qc_run) in the shapes the
QC engine stores: an NER token finding ``{"token", "start", "end", "label"}``, a detection
summary ``"car x2"``.
"""

from __future__ import annotations

import copy

import pytest
from sqlmodel import select

from labeling import annotations, projects, review, router
from labeling.db import read_session, write_session
from labeling.errors import Invalid
from labeling.models import Project, ReviewDecision, Task
from quality.policy import apply_policy
from tests.labeling.test_review import qc_run, task

NER_CONFIG = ('<View><Labels name="ner" toName="text">'
              '<Label value="PER" background="#d62728"/><Label value="LOC" background="#2ca02c"/>'
              '<Label value="ORG" background="#1f77b4"/></Labels><Text name="text" value="$text"/></View>')
TEXT = "Ada Lovelace flew to Hawaii with IBM staff."
#       0         1         2         3         4
#       0123456789012345678901234567890123456789012
BOX_CONFIG = ('<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
              '<Label value="car" background="#ff7f0e"/><Label value="truck" background="#9467bd"/>'
              '</RectangleLabels></View>')
# a 400x300 picture as a data: URL (the pages' CSP allows data: images)
IMAGE = ("data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns%3D%27http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%27%20"
         "width%3D%27400%27%20height%3D%27300%27%3E%3Crect%20width%3D%27400%27%20height%3D%27300%27%20"
         "fill%3D%27%23dfe7f5%27%2F%3E%3Crect%20x%3D%2740%27%20y%3D%2760%27%20width%3D%27160%27%20"
         "height%3D%27120%27%20fill%3D%27%23e5a46b%27%2F%3E%3C%2Fsvg%3E")


def span(start: int, end: int, label: str, text: str = TEXT, **extra) -> dict:
    return {"from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}, **extra}


def box(x: float, y: float, w: float, h: float, label: str, **extra) -> dict:
    return {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 400,
            "original_height": 300, "image_rotation": 0,
            "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}, **extra}


PEOPLE = [span(0, 12, "PER", id="a1", origin="manual"), span(21, 27, "PER", id="a2", origin="manual")]
HAWAII_PER = {"token": "Hawaii", "start": 21, "end": 27, "label": "PER"}
HAWAII_LOC = {"token": "Hawaii", "start": 21, "end": 27, "label": "LOC"}
PEOPLE_BOXES = [box(10, 20, 40, 40, "car", id="b1")]


def region_suspect(owner, annotator, *, config: str, data: dict, result: list, given, suggested,
                   reason: str = "model disagrees") -> tuple[Project, int]:
    """A project of one task that ``annotator`` labeled ``result``, queued for review by a QC
    finding (``given``, ``suggested``) as the QC engine stores it."""
    project = projects.create_project(owner, title="regions", label_config=config)
    with write_session() as s:
        s.add(Task(project_id=project.id, data=data, target_overlap=project.overlap))
    served = router.next_task(project.id, annotator.user)
    annotations.submit(served.id, annotator.user, result=result)
    run_id = qc_run(project.id, {served.id: {"is_issue": True, "score": 0.05, "given": given,
                                             "suggested": suggested, "reason": reason}})
    apply_policy(project.id, run_id)
    return project, served.id


def ner_suspect(owner, annotator, result=None, *, given=None, suggested=None) -> tuple[Project, int]:
    return region_suspect(owner, annotator, config=NER_CONFIG, data={"text": TEXT},
                          result=copy.deepcopy(PEOPLE if result is None else result),
                          given=given or HAWAII_PER, suggested=suggested or HAWAII_LOC,
                          reason="token 'Hawaii' (characters 21-27) labelled 'PER'; model says 'LOC' (0.90)")


def box_suspect(owner, annotator, image: str = IMAGE) -> tuple[Project, int]:
    return region_suspect(owner, annotator, config=BOX_CONFIG, data={"image": image},
                          result=copy.deepcopy(PEOPLE_BOXES), given="car", suggested="truck",
                          reason="boxes labelled: car; model finds: truck (quality 0.12)")


# --------------------------------------------------------------------------- findings in words


def test_an_ner_suggestion_reads_as_text_and_applies_to_the_peoples_spans(lead, annotator, reviewer):
    project, tid = ner_suspect(lead.user, annotator)
    item = review.next_suspect(project.id, reviewer.user)
    assert item["task"]["id"] == tid
    # words, never a raw dict; the API keeps what QC stored under "value"
    assert item["suggested"]["text"] == "Hawaii → LOC" and item["suggested"]["label"] == "Hawaii → LOC"
    assert item["suggested"]["value"] == HAWAII_LOC
    assert item["given"]["qc_text"] == "Hawaii: PER" and item["given"]["qc"] == HAWAII_PER
    assert item["given"]["label"] == "PER 'Ada Lovelace'; PER 'Hawaii'"
    # the suggestion as a result to start from: the people's spans, Hawaii now LOC
    assert review.same_label(item["suggested"]["result"], [span(0, 12, "PER"), span(21, 27, "LOC")])
    assert item["given"]["result"] == PEOPLE  # what people gave, untouched
    assert item["control"]["type"] == "labels" and item["object"] == {"tag": "Text", "key": "text"}


def test_a_suggestion_adds_a_span_or_removes_one_when_qc_says_it_is_no_entity():
    schema = projects.parse_config(NER_CONFIG)
    data = {"text": TEXT}
    ibm = {"token": "IBM", "start": 33, "end": 36, "label": "ORG"}
    added = review.suggested_result(schema, PEOPLE, ibm, data)
    assert review.same_label(added, [*PEOPLE, span(33, 36, "ORG")])
    assert added[-1]["value"]["text"] == "IBM"
    no_entity = {"token": "Hawaii", "start": 21, "end": 27, "label": "O"}
    assert review.same_label(review.suggested_result(schema, PEOPLE, no_entity, data), [span(0, 12, "PER")])
    assert review.finding_text(schema, no_entity) == "Hawaii → not an entity (O)"
    assert review.finding_text(schema, no_entity, role="given") == "Hawaii: not an entity (O)"
    # a token inside a longer span relabels the whole span
    lovelace = {"token": "Lovelace", "start": 4, "end": 12, "label": "ORG"}
    assert review.same_label(review.suggested_result(schema, PEOPLE, lovelace, data),
                             [span(0, 12, "ORG"), span(21, 27, "PER")])
    assert PEOPLE[0]["value"]["labels"] == ["PER"]  # the people's result is not changed in place
    # no people's result to change (a tie), or offsets outside the text: nothing to start from
    assert review.suggested_result(schema, None, HAWAII_LOC, data) is None
    assert review.suggested_result(schema, PEOPLE, {"start": 40, "end": 99, "label": "LOC"}, data) is None
    # a finding with no token text names its characters; other mappings read as key: value
    assert review.finding_text(schema, {"start": 21, "end": 27, "label": "LOC"}) == "characters 21-27 → LOC"
    assert review.finding_text(schema, {"model": "m1", "labels": ["PER"]}) == "model: m1; labels: PER"


def test_a_detection_finding_reads_as_words(lead, annotator, reviewer):
    project, tid = box_suspect(lead.user, annotator)
    item = review.next_suspect(project.id, reviewer.user)
    assert item["suggested"]["text"] == "model finds: truck" and item["suggested"]["value"] == "truck"
    assert item["suggested"]["result"] is None  # a summary names no boxes to apply
    assert item["given"]["qc_text"] == "boxes labelled: car"
    assert item["control"]["type"] == "rectanglelabels" and item["object"] == {"tag": "Image", "key": "image"}


# --------------------------------------------------------------------------- decisions with edited regions


def test_a_relabel_stores_the_reviewers_edited_spans_and_the_peoples_spans_sent_back_are_a_keep(
        lead, annotator, reviewer):
    project, tid = ner_suspect(lead.user, annotator)
    review.next_suspect(project.id, reviewer.user)
    # an edited span must fit the text and name a label of the config
    wrong = [span(0, 12, "PER"), {**span(21, 27, "LOC"), "value": {"start": 21, "end": 27, "text": "Hawai",
                                                                   "labels": ["LOC"]}}]
    with pytest.raises(Invalid) as err:
        review.decide(tid, reviewer.user, decision="relabel", result=wrong)
    assert err.value.errors[0]["field"] == "result.result[1]"
    with pytest.raises(Invalid):
        review.decide(tid, reviewer.user, decision="relabel", result=[span(21, 27, "MISC")])
    assert task(tid).state == "review"

    edited = [span(0, 12, "PER", id="a1"), span(21, 27, "LOC", id="a2"), span(33, 36, "ORG", id="new")]
    row = review.decide(tid, reviewer.user, decision="relabel", result=edited)
    assert row.decision == "relabel" and row.result == edited
    t = task(tid)
    assert (t.state, t.final_label, t.final_source) == ("accepted", edited, "reviewer")
    assert row.before["final_label"] is None and row.after["final_label"] == edited

    # the people's spans as an editor sends them back (other ids, other order): a keep of theirs
    review.undo(reviewer.user, task_id=tid)
    same = [span(21, 27, "PER", id="x9"), span(0, 12, "PER", id="x8")]
    row = review.decide(tid, reviewer.user, decision="relabel", result=same)
    assert row.decision == "keep" and row.result is None
    assert task(tid).final_label == PEOPLE  # the people's own items, ids and origin included

    review.undo(reviewer.user, task_id=tid)
    row = review.decide(tid, reviewer.user, decision="keep")
    assert row.decision == "keep" and task(tid).final_label == PEOPLE


def test_a_relabel_stores_edited_boxes_and_a_box_back_from_an_editor_is_the_same_box(lead, annotator, reviewer):
    project, tid = box_suspect(lead.user, annotator)
    review.next_suspect(project.id, reviewer.user)
    # a pixel round trip (percent -> 400 px -> percent) leaves float noise: still the people's box
    noisy = [box(40 / 400 * 100, 60 / 300 * 100 - 1e-12, 160 / 400 * 100, 120 / 300 * 100, "car", id="b1")]
    assert review.same_label(noisy, [box(10, 20, 40, 40, "car")])
    assert not review.same_label([box(10, 20, 40, 40, "truck")], PEOPLE_BOXES)
    assert not review.same_label([box(10.5, 20, 40, 40, "car")], PEOPLE_BOXES)
    row = review.decide(tid, reviewer.user, decision="relabel", result=noisy)
    assert row.decision == "keep" and task(tid).final_label == PEOPLE_BOXES
    review.undo(reviewer.user, task_id=tid)
    edited = [box(10, 20, 40, 40, "truck", id="b1"), box(50, 50, 20, 30, "car", id="b2")]
    row = review.decide(tid, reviewer.user, decision="relabel", result=edited)
    assert row.decision == "relabel" and task(tid).final_label == edited
    with read_session() as s:
        rows = s.exec(select(ReviewDecision).where(ReviewDecision.task_id == tid).order_by(ReviewDecision.id)).all()
        assert [(d.decision, d.undone_at is None) for d in rows] == [("keep", False), ("relabel", True)]


def test_same_label_keeps_comparing_choices_as_before():
    a = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}, "id": "1"}]
    b = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}, "id": "2"}]
    c = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}]
    assert review.same_label(a, b) and not review.same_label(a, c)
    assert review.same_label(None, None) and not review.same_label(a, None)
