"""/api/comments as Label Studio answers it, the task list's comment keys, /api/tasks/ID/story,
a lead's correction of an annotation (a new version) and the task page that shows it all."""

from __future__ import annotations

import pytest
from label_studio_sdk.core.api_error import ApiError

from labeling import annotations, review
from labeling.models import Role
from tests.conftest import login
from tests.labeling.test_review import label, make_project, suspects_in_review
from tests.web.test_annotate_views import csrf

LS_KEYS = {"id", "text", "project", "task", "annotation", "draft", "created_by", "created_at", "updated_at",
           "is_resolved", "resolved_at"}


def _world(lead, annotator, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg"], truth=["pos", "pos"])
    return project, ids, reviewer


def test_comments_over_rest_as_label_studio_has_them(client, lead, annotator, make_user):
    project, ids, reviewer = _world(lead, annotator, make_user)
    made = client.post("/api/comments", headers=annotator.headers,
                       json={"task": ids[0], "text": "blurry", "region": {"x": 1, "y": 2, "width": 3, "height": 4}})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert LS_KEYS <= set(body) and body["task"] == ids[0] and body["project"] == project.id
    ann_id = annotations.task_annotations(ids[1], lead.user)[0].id
    on_annotation = client.post("/api/comments", headers=annotator.headers, json={"annotation": ann_id, "text": "hm"})
    assert on_annotation.get_json()["task"] == ids[1]

    assert client.post("/api/comments", headers=annotator.headers, json={"task": ids[0]}).status_code == 422
    assert client.post("/api/comments", headers=annotator.headers,
                       json={"task": ids[0], "text": "x", "task_": 1, "project": 2**40}).status_code == 422
    assert client.patch(f"/api/comments/{body['id']}", headers=annotator.headers,
                        json={"is_resolved": True}).status_code == 403
    resolved = client.patch(f"/api/comments/{body['id']}", headers=reviewer.headers, json={"is_resolved": True})
    assert resolved.status_code == 200 and resolved.get_json()["is_resolved"] is True

    listed = client.get(f"/api/comments?project={project.id}&is_resolved=false", headers=lead.headers).get_json()
    assert [c["text"] for c in listed] == ["hm"]
    assert client.get("/api/comments", headers=lead.headers).status_code == 422
    stranger = make_user("x@example.com", Role.annotator)
    assert client.get(f"/api/comments/{body['id']}", headers=stranger.headers).status_code == 404
    assert client.get(f"/api/comments?project={project.id}", headers=stranger.headers).get_json() == []

    tasks = client.get(f"/api/tasks?project={project.id}", headers=lead.headers).get_json()["tasks"]
    by_id = {t["id"]: t for t in tasks}
    assert (by_id[ids[0]]["comment_count"], by_id[ids[0]]["unresolved_comment_count"]) == (1, 0)
    assert (by_id[ids[1]]["comment_count"], by_id[ids[1]]["unresolved_comment_count"]) == (1, 1)
    assert by_id[ids[1]]["comment_authors"] == [annotator.user.id]
    query = ('{"filters":{"conjunction":"and","items":[{"filter":"filter:tasks:unresolved_comment_count",'
             '"operator":"greater","type":"Number","value":0}]}}')
    found = client.get("/api/tasks", query_string={"project": project.id, "query": query}, headers=lead.headers)
    assert [t["id"] for t in found.get_json()["tasks"]] == [ids[1]]
    assert client.delete(f"/api/comments/{body['id']}", headers=annotator.headers).status_code == 204


def test_a_lead_corrects_an_annotation_and_the_story_keeps_the_old_version(client, lead, annotator, make_user):
    project, ids, reviewer = _world(lead, annotator, make_user)
    ann_id = annotations.task_annotations(ids[1], lead.user)[0].id
    # the task is in review (QC took it): its author can no longer change it, a reviewer corrects it
    assert client.patch(f"/api/annotations/{ann_id}", headers=annotator.headers,
                        json={"result": label("pos")}).status_code == 409
    assert client.patch(f"/api/annotations/{ann_id}", headers=reviewer.headers,
                        json={"result": label("pos"), "lead_time": 3}).status_code == 403
    fixed = client.patch(f"/api/annotations/{ann_id}", headers=reviewer.headers, json={"result": label("pos")})
    assert fixed.status_code == 200, fixed.get_json()
    assert fixed.get_json()["result"] == label("pos") and fixed.get_json()["completed_by"] == annotator.user.id
    bad = client.patch(f"/api/annotations/{ann_id}", headers=reviewer.headers,
                       json={"result": [{**label("pos")[0], "value": {"choices": ["nope"]}}]})
    assert bad.status_code == 422

    told = client.get(f"/api/tasks/{ids[1]}/story", headers=lead.headers).get_json()
    versions = told["annotations"][0]["versions"]
    assert [(v["version"], v["label"], v["by_email"]) for v in versions] == [
        (1, "neg", annotator.email), (2, "pos", reviewer.email)]
    assert told["task"]["state"] == "review"  # a correction moves nothing
    assert client.get(f"/api/tasks/{ids[1]}/story", headers=annotator.headers).status_code == 403

    review.decide(ids[1], reviewer.user, decision="keep")
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/tasks/{ids[1]}").get_data(as_text=True)
    assert "data-final-label>pos<" in page.replace("\n", "")
    assert "from the only annotator" in page or "from a reviewer" in page
    assert "v1: neg" in page and reviewer.email in page


def test_correcting_an_accepted_task_updates_its_final_label_and_the_story_shows_it(client, lead, annotator, make_user):
    """Task 215 of the walkthrough: relabelled 7 -> 9 after it was accepted, it still showed 7.
    The corrected result becomes the final label (a reviewer's decision), with an event that says
    who and why; the old versions stay."""
    from labeling.dm import actions, filters
    from tests.labeling.test_review import task as task_row

    project, ids, reviewer = _world(lead, annotator, make_user)
    ann_id = annotations.task_annotations(ids[1], lead.user)[0].id
    # in review, the task has no final label to follow: a correction moves nothing
    assert client.patch(f"/api/annotations/{ann_id}", headers=reviewer.headers, json={"result": label("neu")}).status_code == 200
    assert (task_row(ids[1]).state, task_row(ids[1]).final_label, task_row(ids[1]).final_source) == ("review", None, None)
    # a lead accepts it with the annotator's (corrected) label
    actions.perform(lead.user, project.id, "accept", filters.parse({"selectedItems": {"all": False, "included": [ids[1]]}}))
    before = task_row(ids[1])
    assert (before.state, before.final_label, before.final_source) == ("accepted", label("neu"), "single")

    fixed = client.patch(f"/api/annotations/{ann_id}", headers=lead.headers, json={"result": label("pos")})
    assert fixed.status_code == 200, fixed.get_json()
    after = task_row(ids[1])
    assert (after.state, after.final_label, after.final_source) == ("accepted", label("pos"), "reviewer")

    told = client.get(f"/api/tasks/{ids[1]}/story", headers=lead.headers).get_json()
    assert told["final"]["text"] == "pos" and told["final"]["source"] == "reviewer"
    assert [(v["version"], v["label"]) for v in told["annotations"][0]["versions"]] == [(1, "neg"), (2, "neu"), (3, "pos")]
    last = told["events"][-1]
    assert (last["from"], last["to"], last["user_email"]) == ("accepted", "accepted", lead.email), last
    assert last["reason"] == f"final label corrected: annotation {ann_id} is now version 3"
    login(client, lead.email)
    page = " ".join(client.get(f"/projects/{project.id}/tasks/{ids[1]}").get_data(as_text=True).split())
    final = page[page.index('aria-label="Final label"'):][:400]
    assert "data-final-label>pos</strong>" in final and "from a reviewer&#39;s decision" in final, final
    assert "final label corrected" in page


def test_the_task_page_shows_the_reviewers_final_label_and_takes_comments(client, lead, annotator, make_user):
    project, ids, reviewer = _world(lead, annotator, make_user)
    review.decide(ids[1], reviewer.user, decision="relabel", result=label("pos"), reason="obvious")
    login(client, reviewer.email)
    page = client.get(f"/projects/{project.id}/tasks/{ids[1]}").get_data(as_text=True)
    flat = " ".join(page.split())
    final = flat[flat.index('aria-label="Final label"'):][:400]
    assert "data-final-label>pos</strong>" in final and "from a reviewer&#39;s decision" in final, final
    assert "relabel</strong> → pos" in flat and "obvious" in flat
    token = csrf(client, f"/projects/{project.id}/tasks/{ids[1]}")
    made = client.post("/api/comments", json={"task": ids[1], "text": "<b>why?</b>"}, headers={"X-CSRFToken": token})
    assert made.status_code == 201
    assert client.post("/api/comments", json={"task": ids[1], "text": "no token"}).status_code == 400
    page = client.get(f"/projects/{project.id}/tasks/{ids[1]}").get_data(as_text=True)
    assert "&lt;b&gt;why?&lt;/b&gt;" in page and "<b>why?</b>" not in page
    assert f'data-resolve="{made.get_json()["id"]}"' in page


def test_label_studio_sdk_comments(live_server, lead, annotator):
    from label_studio_sdk.client import LabelStudio

    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos"], truth=["pos"])
    ann_id = annotations.task_annotations(ids[0], lead.user)[0].id
    as_annotator = LabelStudio(base_url=live_server.url, api_key=annotator.token)
    as_lead = LabelStudio(base_url=live_server.url, api_key=lead.token)
    made = as_annotator.comments.create(annotation=ann_id, text="is this positive?")
    assert (made.task, made.annotation, made.is_resolved, made.created_by) == (ids[0], ann_id, False, annotator.user.id)
    listed = as_lead.comments.list(projects=str(project.id), ordering="-created_at")
    assert [c.id for c in listed] == [made.id]
    assert as_lead.comments.update(id=made.id, is_resolved=True).is_resolved is True
    assert as_lead.comments.get(id=made.id).resolved_at is not None
    with pytest.raises(ApiError) as refused:
        as_lead.comments.list(projects=str(project.id), annotators="1")
    assert refused.value.status_code == 422
    as_annotator.comments.delete(id=made.id)
    assert as_lead.comments.list(annotation=ann_id) == []


def test_comments_on_an_annotation_one_cannot_see_never_name_its_task(client, lead, annotator, make_user):
    """The answer about an annotation of a task the caller cannot see names the annotation only:
    it said "task N not found", telling a stranger which task the annotation belongs to."""
    project, ids, _ = _world(lead, annotator, make_user)
    ann_id = annotations.task_annotations(ids[1], lead.user)[0].id
    stranger = make_user("x@example.com", Role.annotator)
    missing = ann_id + 10_000
    for call in (lambda a: client.post("/api/comments", headers=stranger.headers, json={"annotation": a, "text": "hi"}),
                 lambda a: client.get(f"/api/comments?annotation={a}", headers=stranger.headers)):
        hidden, absent = call(ann_id), call(missing)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.get_json()["detail"] == f"annotation {ann_id} not found"
        assert "task" not in hidden.get_data(as_text=True)
        assert absent.get_json()["detail"] == f"annotation {missing} not found"
    # naming a task with someone else's annotation: the same answer, before any word about tasks
    other = client.post("/api/comments", headers=stranger.headers, json={"annotation": ann_id, "task": ids[0], "text": "hi"})
    assert other.status_code == 404 and other.get_json()["detail"] == f"annotation {ann_id} not found"
