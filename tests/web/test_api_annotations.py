"""The Label-Studio-compatible annotation API: next, annotations, predictions, export, leases."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from labeling import projects
from labeling.db import get_engine, write_session
from labeling.models import Role, Task

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


def make_project(lead, n: int = 3, **settings) -> tuple[int, list[int]]:
    project = projects.create_project(lead.user, title="api", label_config=CONFIG, **settings)
    with write_session() as s:
        tasks = [Task(project_id=project.id, data={"text": f"item {i}"}, target_overlap=project.overlap)
                 for i in range(n)]
        s.add_all(tasks)
        s.flush()
        return project.id, [t.id for t in tasks]


@pytest.fixture
def other(make_user):
    return make_user("other@example.com", Role.annotator)


def test_next_submit_cycle_with_and_without_trailing_slash(client, lead, annotator):
    pid, ids = make_project(lead)
    h = annotator.headers
    r = client.get(f"/api/projects/{pid}/next", headers=h)
    assert r.status_code == 200
    task = r.get_json()
    assert task["id"] == ids[0] and task["data"] == {"text": "item 0"} and task["lease_expires_at"]
    assert client.get(f"/api/projects/{pid}/next/", headers=h).get_json()["id"] == ids[0]  # same lease
    r = client.post(f"/api/tasks/{ids[0]}/annotations/", json={"result": RESULT, "lead_time": 4.2}, headers=h)
    assert r.status_code == 201
    ann = r.get_json()
    assert (ann["task"], ann["completed_by"], ann["result"], ann["lead_time"]) == (ids[0], annotator.id, RESULT, 4.2)
    # the retried POST answers 200 with the same annotation
    again = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=h)
    assert again.status_code == 200 and again.get_json()["id"] == ann["id"]
    assert client.get(f"/api/projects/{pid}/next", headers=h).get_json()["id"] == ids[1]


def test_created_username_names_the_annotator_as_they_are_now(client, lead, annotator, other):
    """A submit's answer names the caller from the row its token was read with; renaming the
    user is seen by the next request. Another user's annotation is named from theirs."""
    from labeling import users

    pid, ids = make_project(lead, 3, overlap=2)
    h = annotator.headers
    client.get(f"/api/projects/{pid}/next", headers=h)  # the token's user is remembered now
    users.update_user(annotator.id, name="Ann Renamed")
    ann = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=h).get_json()
    assert ann["created_username"] == f"Ann Renamed {annotator.email}, {annotator.id}"
    users.update_user(annotator.id, name="Ann Again")
    again = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=h)
    assert again.status_code == 200 and again.get_json()["created_username"] == f"Ann Again {annotator.email}, {annotator.id}"
    got = client.get(f"/api/annotations/{ann['id']}", headers=lead.headers).get_json()
    assert got["created_username"] == f"Ann Again {annotator.email}, {annotator.id}"  # the lead reads another's


def test_a_task_s_annotations_carry_created_username_wherever_the_task_is_answered(client, lead, annotator):
    """GET /api/tasks/ID and the task list with fields=all name each annotation's author as
    GET /api/tasks/ID/annotations does (Label Studio's ``created_username``)."""
    pid, ids = make_project(lead, 1)
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    named = client.get(f"/api/tasks/{ids[0]}/annotations", headers=lead.headers).get_json()[0]["created_username"]
    assert named == f"{annotator.user.name or ''} {annotator.email}, {annotator.id}"
    one = client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).get_json()
    listed = client.get(f"/api/tasks?project={pid}&fields=all", headers=lead.headers).get_json()["tasks"]
    own = client.get(f"/api/tasks/{ids[0]}", headers=annotator.headers).get_json()
    assert [a["created_username"] for a in one["annotations"] + listed[0]["annotations"] + own["annotations"]] \
        == [named] * 3


@pytest.mark.skipif(get_engine().dialect.name != "postgresql", reason="psycopg's prepared statements: PostgreSQL")
def test_a_next_and_submit_cycle_rolls_nothing_back(client, lead, annotator):
    """The hot requests end in COMMIT or run in autocommit: a ROLLBACK makes psycopg forget the
    statements it prepared on that connection (docs/ARCHITECTURE.md, ``db``)."""
    import psycopg  # the PostgreSQL stage's driver
    pid, ids = make_project(lead, 3)
    rollbacks = []

    def rolled_back(conn):  # autocommit connections "roll back" too, sending nothing: not those
        if conn.connection.dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            rollbacks.append(conn)

    sa.event.listen(get_engine(), "rollback", rolled_back)
    try:
        for task_id in ids[:2]:  # the first request also looks the token up
            assert client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()["id"] == task_id
            r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": RESULT}, headers=annotator.headers)
            assert r.status_code == 201
    finally:
        sa.event.remove(get_engine(), "rollback", rolled_back)
    assert rollbacks == []


def test_next_answers_404_when_nothing_is_left_and_401_without_token(client, lead, annotator):
    pid, ids = make_project(lead, 1)
    assert client.get(f"/api/projects/{pid}/next").status_code == 401
    assert client.get(f"/api/projects/{pid}/next", headers={"Authorization": "Token nope"}).status_code == 401
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    r = client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    assert r.status_code == 404
    assert "no more tasks" in r.get_json()["detail"]
    assert client.get("/api/projects/999999/next", headers=annotator.headers).status_code == 404


def test_invalid_result_is_422_with_errors(client, lead, annotator):
    pid, ids = make_project(lead)
    bad = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["huh"]}}]
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": bad}, headers=annotator.headers)
    assert r.status_code == 422
    body = r.get_json()
    assert "unknown label" in body["detail"]
    assert body["errors"][0]["field"] == "result[0]" and body["errors"][0]["row"] == ids[0]
    r = client.post(f"/api/tasks/{ids[0]}/annotations", data="nope", headers=annotator.headers)
    assert r.status_code == 422
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT, "lead_time": "x"},
                    headers=annotator.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "lead_time"


def test_skip_and_full_task_conflict(client, lead, annotator, other):
    pid, ids = make_project(lead, 1)
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": [], "was_cancelled": True,
                                                               "skip_reason": "blurry"}, headers=annotator.headers)
    assert r.status_code == 201 and r.get_json()["was_cancelled"] and r.get_json()["skip_reason"] == "blurry"
    assert client.get(f"/api/projects/{pid}/next", headers=annotator.headers).status_code == 404
    assert client.get(f"/api/projects/{pid}/next", headers=other.headers).get_json()["id"] == ids[0]
    client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=other.headers)
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=lead.headers)
    assert r.status_code == 409 and "labeled" in r.get_json()["detail"]


def test_annotation_get_patch_delete_and_visibility(client, lead, annotator, other):
    pid, ids = make_project(lead, 2, overlap=2)
    mine = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT},
                       headers=annotator.headers).get_json()
    theirs = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT},
                         headers=other.headers).get_json()
    listed = client.get(f"/api/tasks/{ids[0]}/annotations", headers=annotator.headers).get_json()
    assert [a["id"] for a in listed] == [mine["id"]]
    listed = client.get(f"/api/tasks/{ids[0]}/annotations/", headers=lead.headers).get_json()
    assert [a["id"] for a in listed] == [mine["id"], theirs["id"]]
    assert client.get(f"/api/annotations/{theirs['id']}", headers=annotator.headers).status_code == 404
    assert client.get(f"/api/annotations/{theirs['id']}/", headers=lead.headers).status_code == 200
    neg = [{**RESULT[0], "value": {"choices": ["neg"]}}]
    r = client.patch(f"/api/annotations/{mine['id']}", json={"result": neg}, headers=annotator.headers)
    assert r.status_code == 200 and r.get_json()["result"] == neg and r.get_json()["version"] == 2
    assert client.patch(f"/api/annotations/{theirs['id']}", json={"result": neg},
                        headers=annotator.headers).status_code == 404
    assert client.delete(f"/api/annotations/{mine['id']}", headers=annotator.headers).status_code == 204
    assert client.get(f"/api/annotations/{mine['id']}", headers=annotator.headers).status_code == 404


def test_predictions(client, lead, annotator):
    pid, ids = make_project(lead)
    body = {"task": ids[0], "result": RESULT, "score": 0.8, "model_version": "m7"}
    r = client.post("/api/predictions/", json=body, headers=lead.headers)
    assert r.status_code == 201
    pred = r.get_json()
    assert (pred["task"], pred["score"], pred["model_version"]) == (ids[0], 0.8, "m7")
    assert client.post("/api/predictions", json=body, headers=annotator.headers).status_code == 403
    assert client.post("/api/predictions", json={"result": RESULT}, headers=lead.headers).status_code == 422
    assert [p["id"] for p in client.get(f"/api/predictions?task={ids[0]}", headers=lead.headers).get_json()] == [pred["id"]]
    assert client.get(f"/api/predictions/{pred['id']}", headers=annotator.headers).status_code == 200
    nxt = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
    assert [p["id"] for p in nxt["predictions"]] == [pred["id"]]


def test_export_json_streams_annotated_tasks(client, lead, annotator):
    pid, ids = make_project(lead, 3)
    client.post(f"/api/tasks/{ids[1]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    r = client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=lead.headers)
    assert r.status_code == 200 and r.mimetype == "application/json"
    exported = json.loads(r.get_data())
    assert [t["id"] for t in exported] == [ids[1]]
    assert exported[0]["annotations"][0]["result"] == RESULT
    assert exported[0]["data"] == {"text": "item 1"}
    everything = json.loads(client.get(f"/api/projects/{pid}/export?export_type=JSON&download_all_tasks=true",
                                       headers=lead.headers).get_data())
    assert [t["id"] for t in everything] == ids
    assert client.get(f"/api/projects/{pid}/export", headers=annotator.headers).status_code == 403


def test_lease_renew_and_release(client, lead, annotator, other):
    pid, ids = make_project(lead, 1)
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    r = client.post(f"/api/tasks/{ids[0]}/lease", headers=annotator.headers)
    assert r.status_code == 200 and r.get_json()["expires_at"]
    assert client.post(f"/api/tasks/{ids[0]}/lease", headers=other.headers).status_code == 409
    assert client.delete(f"/api/tasks/{ids[0]}/lease", headers=annotator.headers).status_code == 204
    assert client.get(f"/api/projects/{pid}/next", headers=other.headers).get_json()["id"] == ids[0]


def test_my_annotations_goes_back(client, lead, annotator):
    pid, ids = make_project(lead, 3)
    anns = [client.post(f"/api/tasks/{t}/annotations", json={"result": RESULT}, headers=annotator.headers).get_json()
            for t in ids]
    r = client.get(f"/api/projects/{pid}/my-annotations?before={anns[2]['id']}&limit=1", headers=annotator.headers)
    (task,) = r.get_json()
    assert task["id"] == ids[1] and task["annotations"][0]["id"] == anns[1]["id"] and task["editable"]
    assert client.get(f"/api/projects/{pid}/my-annotations?before=x", headers=annotator.headers).status_code == 422


def test_browser_session_needs_csrf_for_writes(client, lead, annotator):
    from tests.conftest import login

    pid, ids = make_project(lead, 1)
    login(client, annotator.email)
    assert client.get(f"/api/projects/{pid}/next").status_code == 200
    r = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT})
    assert r.status_code == 400 and "CSRF" in r.get_json()["detail"]


def test_read_only_token_cannot_annotate(client, lead, annotator):
    from labeling import users

    pid, ids = make_project(lead, 1)
    key = users.create_token(lead.id, scope="read")
    h = {"Authorization": f"Token {key}"}
    assert client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=h).status_code == 403
    assert client.get(f"/api/projects/{pid}/next", headers=h).status_code == 403  # a GET that leases
