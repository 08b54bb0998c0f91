"""A task's story (labeling.story): versions, final label and its source, QC, review, events."""

from __future__ import annotations

import pytest

from labeling import annotations, comments, review, story
from labeling.errors import Forbidden, NotFound
from tests.labeling.test_review import label


def test_a_relabelled_task_tells_the_reviewers_label_as_final_and_every_step_in_order(queue, annotator, reviewer):
    project, ids = queue
    task_id = ids[1]  # given "neg", QC suggests "pos"
    review.decide(task_id, reviewer.user, decision="relabel", result=label("pos"), reason="clearly positive")
    comments.create_comment(annotator.user, task=task_id, text="I was unsure here")
    told = story.task_story(reviewer.user, task_id)

    assert told["final"]["text"] == "pos"
    assert told["final"]["source"] == "reviewer"
    assert told["final"]["source_text"] == "a reviewer's decision"
    [ann] = told["annotations"]
    assert ann["author"] == annotator.email and ann["versions"][-1]["label"] == "neg"
    [finding] = [f for f in told["findings"] if f["is_issue"]]
    assert finding["sent_to_review"] and finding["given"] == "neg" and finding["suggested"] == "pos"
    [decision] = told["reviews"]
    assert (decision["decision"], decision["label"], decision["reviewer_email"]) == ("relabel", "pos", reviewer.email)
    states = [(e["from"], e["to"]) for e in told["events"]]
    assert states[-1] == ("review", "accepted") and ("labeled", "suspect") in states
    assert told["comments"][0]["text"] == "I was unsure here" and told["comments"][0]["author"] == annotator.email

    kinds = [line["kind"] for line in told["timeline"]]
    assert {"state", "annotation", "qc", "review", "comment"} <= set(kinds)
    times = [line["at"] for line in told["timeline"]]
    assert times == sorted(times)
    assert kinds.index("annotation") < kinds.index("qc") < kinds.index("review")


def test_every_version_of_an_edited_annotation_keeps_who_and_when(lead, annotator, make_user):
    from tests.labeling.test_review import annotate_all, make_project

    project = make_project(lead.user, overlap=2)
    [task_id] = annotate_all(project, annotator, ["pos"])
    ann = annotations.task_annotations(task_id, lead.user)[0]
    annotations.update_annotation(ann.id, annotator.user, result=label("neg"))
    annotations.update_annotation(ann.id, annotator.user, result=label("neu"))
    told = story.task_story(lead.user, task_id)
    versions = told["annotations"][0]["versions"]
    assert [(v["version"], v["label"], v["current"]) for v in versions] == [
        (1, "pos", False), (2, "neg", False), (3, "neu", True)]
    assert {v["by_email"] for v in versions} == {annotator.email}
    assert versions[0]["at"] <= versions[1]["at"] <= versions[2]["at"]
    assert told["final"]["label"] is None  # still open: nothing final yet


def test_annotators_and_strangers_get_no_story(queue, annotator, make_user):
    project, ids = queue
    with pytest.raises(Forbidden):
        story.task_story(annotator.user, ids[0])
    with pytest.raises(NotFound):
        story.task_story(annotator.user, 10**6)
