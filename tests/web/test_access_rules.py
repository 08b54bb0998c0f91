"""Who may do what: leads manage only projects they lead, read tokens never change anything,
paused annotators cannot annotate, a leasing GET is not loaded as an image, the last admin stays."""

from __future__ import annotations

import pytest

from labeling import gold, users
from labeling.db import unit_of_work
from labeling.errors import Forbidden
from labeling.models import Role
from tests.web.test_api_annotations import RESULT, make_project


@pytest.fixture
def other_lead(make_user):
    return make_user("other-lead@example.com", Role.lead)


def test_a_lead_manages_only_projects_they_lead(client, lead, other_lead):
    pid, ids = make_project(lead, 2)
    h = other_lead.headers
    assert client.patch(f"/api/projects/{pid}", json={"title": "mine now"}, headers=h).status_code == 403
    assert client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=h).status_code == 403
    assert client.post(f"/api/projects/{pid}/members", json={"user": other_lead.id, "role": "lead"},
                       headers=h).status_code == 403
    assert client.post(f"/api/projects/{pid}/qc", json={}, headers=h).status_code == 403
    assert client.post(f"/api/projects/{pid}/datasets", json={}, headers=h).status_code == 403
    assert client.delete(f"/api/projects/{pid}", headers=h).status_code == 403
    assert client.get(f"/api/projects/{pid}", headers=lead.headers).get_json()["title"] == "api"
    # an open project: they may still annotate, as every user of Label Studio Community may
    assert client.get(f"/api/projects/{pid}/next", headers=h).status_code == 200
    # made a lead member, they manage it
    client.post(f"/api/projects/{pid}/members", json={"user": other_lead.email, "role": "lead"}, headers=lead.headers)
    assert client.patch(f"/api/projects/{pid}", json={"title": "shared"}, headers=h).status_code == 200


def test_a_paused_annotator_cannot_post_annotations(client, lead, annotator):
    pid, ids = make_project(lead, 2)
    with unit_of_work() as s:
        gold.pause(s, pid, annotator.id, "gold accuracy 40%")
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    assert r.status_code == 403 and "paused" in r.get_json()["detail"]
    assert client.get(f"/api/tasks/{ids[0]}/annotations", headers=lead.headers).get_json() == []


def test_pausing_a_lead_who_is_not_a_member_does_not_make_them_one(client, lead, other_lead):
    pid, _ = make_project(lead, 1)
    with unit_of_work() as s:
        assert gold.pause(s, pid, other_lead.id, "gold").role == Role.reviewer
    assert client.patch(f"/api/projects/{pid}", json={"title": "x"}, headers=other_lead.headers).status_code == 403


@pytest.mark.parametrize("path", ["/api/projects/{pid}/next", "/api/annotate/{pid}/next",
                                  "/api/projects/{pid}/review/next", "/api/review/{pid}/next"])
def test_a_read_token_or_an_image_never_leases(client, lead, path):
    pid, _ = make_project(lead, 2)
    read = {"Authorization": f"Token {users.create_token(lead.id, scope='read')}"}
    url = path.format(pid=pid)
    r = client.get(url, headers=read)
    assert r.status_code == 403 and "needs a full token" in r.get_json()["detail"]
    r = client.get(url, headers={**lead.headers, "Sec-Fetch-Dest": "image"})  # <img src=...> in task data
    assert r.status_code == 403 and "image" in r.get_json()["detail"]
    assert client.get(url, headers={**lead.headers, "Sec-Fetch-Dest": "empty"}).status_code in (200, 404)


def test_read_tokens_are_made_by_leads_and_admins(client, lead, annotator, admin):
    r = client.post("/api/tokens", json={"scope": "read"}, headers=annotator.headers)
    assert r.status_code == 403 and "leads and admins" in r.get_json()["detail"]
    for actor in (lead, admin):
        assert client.post("/api/tokens", json={"scope": "read"}, headers=actor.headers).status_code == 201
    assert client.post("/api/tokens", json={}, headers=annotator.headers).status_code == 201  # a full token


def test_the_last_admin_cannot_demote_or_deactivate_themselves(client, admin, make_user):
    for body in ({"role": "lead"}, {"is_active": False}):
        r = client.patch(f"/api/users/{admin.id}", json=body, headers=admin.headers)
        assert r.status_code == 422 and "last active admin" in r.get_json()["detail"]
    second = make_user("second-admin@example.com", Role.admin)
    assert client.patch(f"/api/users/{admin.id}", json={"role": "lead"}, headers=admin.headers).status_code == 200
    with pytest.raises(users.UserError, match="last active admin"):
        users.update_user(second.id, is_active=False)
    with pytest.raises(Forbidden):
        users.create_token(make_user("a2@example.com").id, scope="read")


def test_hidden_predictions_are_hidden_from_annotators(client, lead, annotator):
    pid, ids = make_project(lead, 1, show_predictions=False)
    body = {"task": ids[0], "result": RESULT, "score": 0.9, "model_version": "m1"}
    r = client.post("/api/predictions", json=body, headers=lead.headers)
    assert r.status_code == 201
    pred = r.get_json()["id"]
    for url in (f"/api/predictions?project={pid}", f"/api/predictions?task={ids[0]}", f"/api/predictions/{pred}"):
        r = client.get(url, headers=annotator.headers)
        assert r.status_code == 403 and "not shown to annotators" in r.get_json()["detail"], url
        assert client.get(url, headers=lead.headers).status_code == 200
    client.patch(f"/api/projects/{pid}", json={"show_predictions": True}, headers=lead.headers)
    assert client.get(f"/api/predictions/{pred}", headers=annotator.headers).status_code == 200


def test_releasing_a_lease_does_not_tell_whether_a_task_exists(client, lead, make_user):
    pid, ids = make_project(lead, 1)
    stranger = make_user("stranger@example.com", Role.annotator)
    existing = client.delete(f"/api/tasks/{ids[0]}/lease", headers=stranger.headers)
    missing = client.delete(f"/api/tasks/{ids[0] + 1000}/lease", headers=stranger.headers)
    assert existing.status_code == missing.status_code == 204 and existing.data == missing.data == b""


def test_a_lead_adds_members_by_email_not_by_guessing_ids(client, lead, annotator, admin):
    pid, _ = make_project(lead, 1)
    r = client.post(f"/api/projects/{pid}/members", json={"user": annotator.id}, headers=lead.headers)
    missing = client.post(f"/api/projects/{pid}/members", json={"user": annotator.id + 999}, headers=lead.headers)
    assert r.status_code == missing.status_code == 404 and annotator.email not in r.get_data(as_text=True)
    assert r.get_json()["detail"] == f"no user {annotator.id}"
    r = client.post(f"/api/projects/{pid}/members", json={"user": annotator.email}, headers=lead.headers)
    assert r.status_code in (200, 201)
    # once a member, their role can be changed by id
    r = client.patch(f"/api/projects/{pid}/members", json={"user": annotator.id, "role": "reviewer"},
                     headers=lead.headers)
    assert r.status_code in (200, 201)
    r = client.post(f"/api/projects/{pid}/members", json={"user": lead.id + 100}, headers=admin.headers)
    assert r.status_code == 404


def test_pages_link_only_to_what_the_user_may_open(client, lead, other_lead):
    from tests.conftest import login

    pid, _ = make_project(lead, 1)
    login(client, other_lead.email)
    listing = client.get("/projects/_list").get_data(as_text=True)
    assert f'href="/projects/{pid}"' in listing and f"/projects/{pid}/settings" not in listing
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    for path in ("settings", "members", "dashboard", "datasets", "import"):
        assert f"/projects/{pid}/{path}" not in page, path
        assert client.get(f"/projects/{pid}/{path}").status_code == 403, path
    assert f"/review/{pid}" in page  # a lead who is no member may review, as the matrix says
    client = client.application.test_client()
    login(client, lead.email)
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert all(f"/projects/{pid}/{path}" in page for path in ("settings", "members", "dashboard", "datasets"))
