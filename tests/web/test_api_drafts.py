"""Label Studio's annotation drafts (``/api/tasks/ID/drafts``, ``/api/tasks/ID/annotations/ID/drafts``,
``/api/drafts/ID``): its keys and status codes, who sees and changes which draft, and drafts going
with a submit that names them, their annotation or their task."""

from __future__ import annotations

import pytest

from labeling.models import Role
from tests.labeling.test_review import CONFIG, label

#: Every key of Label Studio 1.23.2's AnnotationDraftSerializer (its model's fields, without the
#: FSM ``state`` its feature flags leave out).
LS_DRAFT_KEYS = {"id", "result", "lead_time", "task", "annotation", "user", "was_postponed", "import_id",
                 "created_at", "updated_at", "created_username", "created_ago"}


@pytest.fixture
def task_id(client, lead):
    r = client.post("/api/projects", json={"title": "drafts", "label_config": CONFIG, "maximum_annotations": 2},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    assert client.post(f"/api/projects/{pid}/import", json=[{"text": "a"}], headers=lead.headers).status_code == 201
    return client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]["id"]


def test_a_draft_is_saved_changed_and_deleted_by_a_submit_that_names_it(client, lead, annotator, make_user, task_id):
    other = make_user("other-ann@example.com", Role.annotator)
    pid = client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()["project"]
    assert client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()["id"] == task_id
    r = client.post(f"/api/tasks/{task_id}/drafts", json={"result": label("pos"), "lead_time": 2.5},
                    headers=annotator.headers)
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert set(draft) == LS_DRAFT_KEYS
    assert (draft["task"], draft["annotation"], draft["user"], draft["result"], draft["lead_time"]) == (
        task_id, None, annotator.email, label("pos"), 2.5)
    assert draft["created_username"] == f"{annotator.user.name} {annotator.email}, {annotator.id}"
    assert not draft["was_postponed"]

    r = client.patch(f"/api/drafts/{draft['id']}", json={"result": label("neg"), "was_postponed": True},
                     headers=annotator.headers)
    assert r.status_code == 200 and (r.get_json()["result"], r.get_json()["was_postponed"]) == (label("neg"), True)
    assert [d["id"] for d in client.get(f"/api/tasks/{task_id}/drafts", headers=annotator.headers).get_json()] \
        == [draft["id"]]
    # Label Studio's task answer: the caller's own drafts, and whether the task has one
    shown = client.get(f"/api/tasks/{task_id}", headers=annotator.headers).get_json()
    assert ([d["id"] for d in shown["drafts"]], shown["draft_exists"]) == ([draft["id"]], True)
    shown = client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()
    assert (shown["drafts"], shown["draft_exists"]) == ([], True)
    # reviewers and leads see every draft; another annotator none of this task; only the author changes it
    assert [d["id"] for d in client.get(f"/api/tasks/{task_id}/drafts", headers=lead.headers).get_json()] \
        == [draft["id"]]
    assert client.get(f"/api/drafts/{draft['id']}", headers=lead.headers).status_code == 200
    assert client.patch(f"/api/drafts/{draft['id']}", json={"result": []}, headers=lead.headers).status_code == 403
    assert client.get(f"/api/drafts/{draft['id']}", headers=other.headers).status_code == 404
    assert client.get(f"/api/tasks/{task_id}/drafts", headers=other.headers).status_code == 404
    assert client.post(f"/api/tasks/{task_id}/drafts", json={"result": []}, headers=other.headers).status_code == 404

    # another's draft named by a submit is refused, as Label Studio refuses it
    theirs = client.post(f"/api/tasks/{task_id}/drafts", json={"result": []}, headers=lead.headers).get_json()["id"]
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": label("neg"), "draft_id": theirs},
                    headers=annotator.headers)
    assert r.status_code == 403
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": label("neg"), "draft_id": draft["id"]},
                    headers=annotator.headers)
    assert r.status_code == 201
    assert client.get(f"/api/drafts/{draft['id']}", headers=annotator.headers).status_code == 404
    assert client.get(f"/api/drafts/{theirs}", headers=lead.headers).status_code == 200


def test_a_draft_of_an_annotation_goes_with_it_and_task_drafts_with_their_task(client, lead, annotator, task_id):
    pid = client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()["project"]
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    ann = client.post(f"/api/tasks/{task_id}/annotations", json={"result": label("pos")},
                      headers=annotator.headers).get_json()["id"]
    r = client.post(f"/api/tasks/{task_id}/annotations/{ann}/drafts", json={"result": label("neg")},
                    headers=annotator.headers)
    assert r.status_code == 201 and r.get_json()["annotation"] == ann
    kept = client.post(f"/api/tasks/{task_id}/drafts", json={"result": []}, headers=lead.headers).get_json()["id"]
    listed = client.get(f"/api/tasks/{task_id}/annotations/{ann}/drafts", headers=lead.headers).get_json()
    assert [d["annotation"] for d in listed] == [ann, None]  # Label Studio lists the task's drafts there too
    assert client.delete(f"/api/annotations/{ann}", headers=annotator.headers).status_code == 204
    assert [d["id"] for d in client.get(f"/api/tasks/{task_id}/drafts", headers=lead.headers).get_json()] == [kept]
    assert client.delete(f"/api/tasks/{task_id}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/drafts/{kept}", headers=lead.headers).status_code == 404


@pytest.mark.parametrize("body", [{}, {"result": "pos"}, {"result": [1]}, {"result": [], "lead_time": -1},
                                  {"result": [], "was_postponed": "yes"}, {"result": [], "state": "x"},
                                  {"result": [], "task": 999}, {"result": [], "user": "someone@else"}])
def test_bodies_that_make_no_draft(client, lead, task_id, body):
    r = client.post(f"/api/tasks/{task_id}/drafts", json=body, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"]
    assert client.get(f"/api/tasks/{task_id}/drafts", headers=lead.headers).get_json() == []


def test_next_carries_the_callers_own_drafts_of_the_task(client, lead, annotator, make_user, task_id):
    """Label Studio's ``NextTaskSerializer``: ``drafts``, the caller's drafts of the task (its
    ``AnnotationDraftSerializer``), another's left out."""
    pid = client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()["project"]
    first = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
    assert (first["id"], first["drafts"]) == (task_id, [])
    mine = client.post(f"/api/tasks/{task_id}/drafts", json={"result": label("pos"), "lead_time": 1.5},
                       headers=annotator.headers).get_json()
    client.post(f"/api/tasks/{task_id}/drafts", json={"result": label("neg")}, headers=lead.headers)
    again = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()  # the same lease
    assert again["id"] == task_id
    assert again["drafts"] == [mine | {"created_ago": again["drafts"][0]["created_ago"]}]
    assert set(again["drafts"][0]) == LS_DRAFT_KEYS
    other = make_user("next-drafts@example.com", Role.annotator)
    theirs = client.get(f"/api/projects/{pid}/next", headers=other.headers).get_json()
    assert (theirs["id"], theirs["drafts"]) == (task_id, [])  # overlap 2: the same task, none of the drafts


def test_an_annotation_made_from_a_draft_keeps_the_drafts_creation_time(client, lead, annotator, task_id):
    """Label Studio sets ``draft_created_at`` from the draft named by ``draft_id`` (continuity of
    history); an annotation made without one has it null."""
    pid = client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()["project"]
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    draft = client.post(f"/api/tasks/{task_id}/drafts", json={"result": label("pos")},
                        headers=annotator.headers).get_json()
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": label("pos"), "draft_id": draft["id"]},
                    headers=annotator.headers)
    assert r.status_code == 201 and r.get_json()["draft_created_at"] == draft["created_at"]
    got = client.get(f"/api/annotations/{r.get_json()['id']}", headers=lead.headers).get_json()
    assert got["draft_created_at"] == draft["created_at"]
    assert got["created_at"] >= draft["created_at"]
    client.get(f"/api/projects/{pid}/next", headers=lead.headers)
    plain = client.post(f"/api/tasks/{task_id}/annotations", json={"result": label("neg")}, headers=lead.headers)
    assert plain.status_code == 201 and plain.get_json()["draft_created_at"] is None
