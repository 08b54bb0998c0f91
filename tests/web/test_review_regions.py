"""Reviewing spans and boxes over REST, the CLI and the review page's HTML: QC's suggestion in
words, relabels with edited regions through the one domain function, and the page that hands a
span or box suspect to the labeling workspace."""

from __future__ import annotations

import html as htmlib
import json
import re

import pytest

from labeling import projects
from labeling.models import Role
from tests.conftest import login
from tests.labeling.test_review import make_project, suspects_in_review, task
from tests.labeling.test_review_regions import (
    IMAGE,
    PEOPLE,
    PEOPLE_BOXES,
    box,
    box_suspect,
    ner_suspect,
    region_suspect,
    span,
)


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


def test_rest_review_of_spans_reads_the_suggestion_as_text_and_relabels_with_edited_spans(
        client, lead, annotator, reviewer):
    project, tid = ner_suspect(lead.user, annotator)
    h = reviewer.headers
    item = client.get(f"/api/projects/{project.id}/review/next", headers=h).get_json()
    # Label Studio's shapes and the API's keys stay; the words are added
    assert item["suggested"]["text"] == "Hawaii → LOC" and item["suggested"]["label"] == "Hawaii → LOC"
    assert item["suggested"]["value"] == {"token": "Hawaii", "start": 21, "end": 27, "label": "LOC"}
    assert "{" not in item["suggested"]["label"] and item["given"]["qc_text"] == "Hawaii: PER"
    assert [r["value"]["labels"] for r in item["suggested"]["result"]] == [["PER"], ["LOC"]]

    edited = [span(0, 12, "PER"), span(21, 27, "LOC"), span(33, 36, "ORG")]
    r = client.post(f"/api/tasks/{tid}/review", json={"decision": "relabel", "result": edited}, headers=h)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["decision"] == "relabel" and body["result"] == edited and body["after"]["final_label"] == edited
    assert (task(tid).final_label, task(tid).final_source) == (edited, "reviewer")

    # the people's spans sent back (as the page's editor sends them: other ids, other order)
    assert client.post(f"/api/tasks/{tid}/review/undo", headers=h).status_code == 200
    back = [span(21, 27, "PER", id="e2"), span(0, 12, "PER", id="e1")]
    r = client.post(f"/api/tasks/{tid}/review", json={"decision": "relabel", "result": back}, headers=h)
    assert r.get_json()["decision"] == "keep" and task(tid).final_label == PEOPLE

    # a span that does not fit the text is refused, naming the item
    client.post(f"/api/tasks/{tid}/review/undo", headers=h)
    bad = [{**span(21, 27, "LOC"), "value": {"start": 21, "end": 28, "text": "Hawaii", "labels": ["LOC"]}}]
    r = client.post(f"/api/tasks/{tid}/review", json={"decision": "relabel", "result": bad}, headers=h)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "result.result[0]"
    assert task(tid).state == "review"


def test_rest_review_of_boxes_relabels_with_edited_boxes(client, lead, annotator, reviewer):
    project, tid = box_suspect(lead.user, annotator)
    h = reviewer.headers
    item = client.get(f"/api/projects/{project.id}/review/next", headers=h).get_json()
    assert item["suggested"]["text"] == "model finds: truck" and item["given"]["qc_text"] == "boxes labelled: car"
    edited = [box(10, 20, 40, 40, "truck", id="b1")]
    r = client.post(f"/api/tasks/{tid}/review", json={"decision": "relabel", "result": edited}, headers=h)
    assert r.status_code == 201 and r.get_json()["decision"] == "relabel"
    assert task(tid).final_label == edited and PEOPLE_BOXES[0]["value"]["rectanglelabels"] == ["car"]


def test_the_cli_shows_the_suggestion_in_words_and_relabels_with_edited_spans(runner, lead, annotator, reviewer):
    project, tid = ner_suspect(lead.user, annotator)
    out = runner.invoke(args=["review", "next", str(project.id), "--as", reviewer.email])
    assert out.exit_code == 0, out.output
    assert "suggested: Hawaii → LOC (QC model)" in out.output.splitlines()
    edited = [span(0, 12, "PER"), span(21, 27, "LOC")]
    out = runner.invoke(args=["review", "decide", str(tid), "relabel", "--result", json.dumps(edited),
                              "--as", reviewer.email])
    assert out.exit_code == 0, out.output
    assert task(tid).final_label == edited


def page_configs(html: str) -> tuple[dict, dict | None]:
    """The review page's config, and the labeling workspace's (None when there is none)."""
    review = json.loads(re.search(r'<script type="application/json" id="review-config">(.*?)</script>', html,
                                  re.S).group(1))
    found = re.search(r"data-anno-config='([^']*)'", html)
    return review, json.loads(htmlib.unescape(found.group(1))) if found else None


def test_the_review_page_of_a_span_project_hands_the_suspect_to_the_labeling_workspace(
        client, lead, annotator, reviewer):
    project, _ = ner_suspect(lead.user, annotator)
    login(client, reviewer.email)
    page = client.get(f"/review/{project.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    review, workspace = page_configs(html)
    assert review["regions"] is True and workspace["mode"] == "review"
    # the labeling page's keys (1-9 for the labels) and colours; the decisions keep their keys
    assert workspace["keys"]["ner"] == {"PER": "1", "LOC": "2", "ORG": "3"}
    assert 'style="background: #d62728"' in html
    for needed in ("annotate.js", "vendor/text-annotator.umd.js", "vendor/annotorious.js", "review.js",
                   "data-anno-host", 'id="review-apply"'):
        assert needed in html
    # what only the labeling page does (submit, skip, previous) is not on the review page
    assert 'data-anno="skip"' not in html and 'data-anno="submit"' not in html


def test_the_review_page_names_the_regions_it_edits(client, lead, annotator, reviewer):
    config = ('<View><Image name="image" value="$image"/><KeyPointLabels name="kp" toName="image">'
              '<Label value="Face"/><Label value="Nose"/></KeyPointLabels></View>')
    point = {"id": "k1", "from_name": "kp", "to_name": "image", "type": "keypointlabels",
             "value": {"x": 20, "y": 30, "width": 1, "keypointlabels": ["Face"]}}
    made = {"spans": ner_suspect(lead.user, annotator)[0], "boxes": box_suspect(lead.user, annotator)[0],
            "points": region_suspect(lead.user, annotator, config=config, data={"image": IMAGE}, result=[point],
                                     given="Face", suggested="Nose", reason="points labelled: Face")[0]}
    login(client, reviewer.email)
    for noun, project in made.items():
        html = client.get(f"/review/{project.id}").get_data(as_text=True)
        assert f"Apply to the {noun}" in html and f"Edit the annotators' {noun}" in html, noun


def test_label_hotkeys_that_are_review_keys_are_not_used_by_the_workspace(client, lead, annotator, reviewer):
    config = ('<View><Labels name="ner" toName="text"><Label value="PER" hotkey="k"/><Label value="LOC" hotkey="l"/>'
              '<Label value="ORG" hotkey="a"/></Labels><Text name="text" value="$text"/></View>')
    project = projects.create_project(lead.user, title="hotkeys", label_config=config)
    login(client, reviewer.email)
    _, workspace = page_configs(client.get(f"/review/{project.id}").get_data(as_text=True))
    keys = workspace["keys"]["ner"]
    assert keys["LOC"] == "l" and keys["PER"] not in {"k", "a"} and keys["ORG"] not in {"k", "a"}
    assert set(keys.values()) == {"l", "1", "2"}


def test_the_review_page_of_a_choices_project_has_no_workspace(client, lead, annotator, reviewer):
    project = make_project(lead.user)
    suspects_in_review(project, annotator, given=["neg"], truth=["pos"])
    login(client, reviewer.email)
    html = client.get(f"/review/{project.id}").get_data(as_text=True)
    review, workspace = page_configs(html)
    assert review["regions"] is False and workspace is None
    assert "annotate.js" not in html and 'id="review-text"' in html
