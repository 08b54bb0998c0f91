"""/api/webhooks over HTTP: Label Studio's answers, the real label-studio-sdk's ``webhooks`` calls
against a live server, the delivery log, and who may do what."""

from __future__ import annotations

import json

import pytest
from label_studio_sdk.client import LabelStudio

from labeling.models import Role
from tests.conftest import wait_for
from tests.labeling.test_review import CONFIG
from tests.labeling.test_webhooks import Receiver, verify


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _project(client, lead) -> int:
    r = client.post("/api/projects", json={"title": "hooks", "label_config": CONFIG}, headers=lead.headers)
    assert r.status_code == 201
    return r.get_json()["id"]


def test_create_list_get_update_delete_as_label_studio_answers(client, lead, receiver):
    pid = _project(client, lead)
    r = client.post("/api/webhooks/", json={"url": receiver.url, "project": pid, "headers": {"X-Key": "v"},
                                            "send_for_all_actions": False, "actions": ["TASKS_CREATED"]},
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["secret"].startswith("whsec_") and made["headers"] == {"X-Key": "********"}
    for key in ("id", "organization", "project", "url", "send_payload", "send_for_all_actions", "headers",
                "is_active", "actions", "created_at", "updated_at"):
        assert key in made
    hid = made["id"]
    shown = client.get(f"/api/webhooks/{hid}/", headers=lead.headers).get_json()
    assert "secret" not in shown and shown["actions"] == ["TASKS_CREATED"] and shown["project"] == pid
    assert [h["id"] for h in client.get(f"/api/webhooks?project={pid}", headers=lead.headers).get_json()] == [hid]
    assert client.get("/api/webhooks?project=isnull", headers=lead.headers).get_json() == []
    r = client.patch(f"/api/webhooks/{hid}", json={"is_active": False, "actions": ["TASKS_DELETED"]},
                     headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["is_active"] is False
    assert r.get_json()["actions"] == ["TASKS_DELETED"]
    info = client.get("/api/webhooks/info", headers=lead.headers).get_json()
    assert info["ANNOTATION_CREATED"] == {"name": "Annotation created", "key": "annotation",
                                          "description": info["ANNOTATION_CREATED"]["description"],
                                          "organization-only": False}
    assert set(client.get("/api/webhooks/info?organization-only=true", headers=lead.headers).get_json()) == {
        "PROJECT_CREATED", "PROJECT_DELETED"}
    assert client.get(f"/api/webhooks/{hid}/deliveries", headers=lead.headers).get_json() == []
    assert client.delete(f"/api/webhooks/{hid}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/webhooks/{hid}", headers=lead.headers).status_code == 404


def test_private_addresses_are_refused_at_save_time(client, lead, monkeypatch):
    from labeling.settings import get_settings

    pid = _project(client, lead)
    monkeypatch.setenv("LABELFAB_OUTBOUND_ALLOW", "")
    get_settings.cache_clear()
    try:
        for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.0.0.5/x",
                    "ftp://example.com/x"):
            r = client.post("/api/webhooks", json={"url": url, "project": pid}, headers=lead.headers)
            assert r.status_code == 422, url
            assert r.get_json()["errors"][0]["field"] == "url"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_access(client, lead, annotator, make_user, receiver):
    reviewer = make_user("rev@example.com", Role.reviewer)
    other = make_user("other@example.com", Role.lead)
    pid = _project(client, lead)
    hid = client.post("/api/webhooks", json={"url": receiver.url, "project": pid},
                      headers=lead.headers).get_json()["id"]
    for who in (annotator, reviewer):
        assert client.get("/api/webhooks", headers=who.headers).status_code == 403
        assert client.post("/api/webhooks", json={"url": receiver.url, "project": pid},
                           headers=who.headers).status_code == 403
        assert client.get(f"/api/webhooks/{hid}", headers=who.headers).status_code == 403
        assert client.get(f"/api/webhooks/{hid}/deliveries", headers=who.headers).status_code == 403
        assert client.get(f"/projects/{pid}/webhooks", headers=who.headers).status_code in (302, 403)
    # another lead sees the open project (so 403, not 404) but manages none of its webhooks
    assert client.get("/api/webhooks", headers=other.headers).get_json() == []
    assert client.get(f"/api/webhooks/{hid}", headers=other.headers).status_code == 403
    assert client.delete(f"/api/webhooks/{hid}", headers=other.headers).status_code == 403
    org = client.post("/api/webhooks", json={"url": receiver.url}, headers=lead.headers).get_json()["id"]
    assert client.get(f"/api/webhooks/{org}", headers=other.headers).status_code == 404
    assert client.post("/api/webhooks", json={"url": receiver.url}, headers=annotator.headers).status_code == 403


def test_label_studio_sdk_webhooks_against_a_live_server(live_server, lead, receiver):
    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    project = ls.projects.create(title="sdk hooks", label_config=CONFIG)
    hook = ls.webhooks.create(url=receiver.url, project=project.id, send_payload=True,
                              headers={"X-Pipeline": "p1"})
    assert hook.id and hook.url == receiver.url and hook.project == project.id
    secret = hook.secret  # labelfab's addition, kept by the SDK's models (extra="allow")
    assert [h.id for h in ls.webhooks.list(project=str(project.id))] == [hook.id]
    assert ls.webhooks.get(id=hook.id).headers == {"X-Pipeline": "********"}
    updated = ls.webhooks.update(id=hook.id, url=receiver.url, send_for_all_actions=False,
                                 actions=["TASKS_CREATED", "ANNOTATION_CREATED"])
    assert updated.send_for_all_actions is False and set(updated.actions) == {"TASKS_CREATED", "ANNOTATION_CREATED"}
    info = ls.webhooks.info()
    assert info.tasks_created.key == "tasks" and info.project_created.organization_only is True
    ls.projects.import_tasks(id=project.id, request=[{"text": "one"}, {"text": "two"}])
    wait_for(lambda: receiver.received, timeout=30)
    got = receiver.received[0]
    assert verify(secret, got) and got["headers"]["X-Pipeline"] == "p1"
    body = json.loads(got["body"])
    assert body["action"] == "TASKS_CREATED" and [t["data"]["text"] for t in body["tasks"]] == ["one", "two"]
    log = wait_for(lambda: [d for d in live_server_get(live_server, lead, f"/api/webhooks/{hook.id}/deliveries")
                            if d["status"] == "delivered"], timeout=15)
    assert log[0]["action"] == "TASKS_CREATED" and log[0]["attempts"] == 1 and log[0]["response_status"] == 200
    ls.webhooks.delete(id=hook.id)
    assert ls.webhooks.list(project=str(project.id)) == []


def live_server_get(live_server, actor, path: str):
    import requests

    return requests.get(live_server.url + path, headers=actor.headers, timeout=10).json()


def test_the_webhooks_page_shows_the_last_deliveries(client, lead, receiver, worker):
    from tests.conftest import login

    pid = _project(client, lead)
    client.post("/api/webhooks", json={"url": receiver.url, "project": pid}, headers=lead.headers)
    client.patch(f"/api/projects/{pid}", json={"title": "renamed"}, headers=lead.headers)
    wait_for(lambda: receiver.received, timeout=20)
    login(client, lead.email)
    settings = client.get(f"/projects/{pid}/settings").get_data(as_text=True)
    assert f"/projects/{pid}/webhooks" in settings
    page = wait_for(lambda: (lambda html: html if "delivered" in html else None)(
        client.get(f"/projects/{pid}/webhooks").get_data(as_text=True)), timeout=15)
    assert "PROJECT_UPDATED" in page and receiver.url in page and ">200<" in page
