"""One task shape everywhere: /api/tasks, /api/tasks/ID, /api/projects/ID/next, the labeling page's
next task and the JSON export rows are built by labeling.wire and validate against its models."""

from __future__ import annotations

import json

from labeling import wire
from tests.web.test_api_annotations import CONFIG, RESULT, make_project

LEASE_KEYS = {"lease_expires_at", "lease_seconds"}



def declared(model) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def strict(model, body: dict):
    """``body`` validated by ``model``, with no key the model does not declare."""
    assert set(body) <= declared(model), set(body) - declared(model)
    return model.model_validate(body)


def test_next_and_get_task_answer_the_same_task_shape(client, lead, annotator):
    pid, ids = make_project(lead, show_predictions=True)
    nxt = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
    got = client.get(f"/api/tasks/{nxt['id']}", headers=annotator.headers).get_json()
    a, b = strict(wire.Task, nxt), strict(wire.Task, got)
    assert got["annotators"] == [] and got["draft_exists"] is False  # Label Studio's Data Manager keys there
    got = {k: v for k, v in got.items() if k not in wire.DM_TASK_KEYS} | {"updated_by": None}
    b = strict(wire.Task, got)
    assert set(nxt) - LEASE_KEYS == set(got)
    assert a.model_dump(exclude=LEASE_KEYS) == b.model_dump(exclude=LEASE_KEYS)
    assert nxt["lease_seconds"] > 0 and not nxt["is_labeled"] and nxt["annotations"] == []
    assert not {*wire.PRIVATE_TASK_KEYS, *wire.GOLD_TASK_KEYS} & set(nxt)  # an annotator never sees the gold flag
    # the labeling page's next task is the same shape too
    page = client.get(f"/api/annotate/{pid}/next?exclude={nxt['id']}", headers=annotator.headers).get_json()
    assert set(strict(wire.Task, page["task"]).model_dump(exclude_unset=True)) == set(nxt)


def test_a_lead_sees_one_shape_in_the_list_and_alone(client, lead, annotator):
    pid, ids = make_project(lead)
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    listed = client.get(f"/api/tasks?project={pid}&fields=all", headers=lead.headers).get_json()
    page = strict(wire.TaskList, listed)
    alone = client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).get_json()
    strict(wire.Task, alone)
    assert alone["annotations_ids"] == str(alone["annotations"][0]["id"])  # Label Studio's Data Manager keys
    # the list has the Data Manager's storage_filename (Label Studio's list does), not its other keys
    alone = {k: v for k, v in alone.items() if k not in wire.DM_TASK_KEYS or k == "storage_filename"} | {
        "updated_by": None}
    first = listed["tasks"][0]
    assert first["id"] == ids[0] and set(first) == set(alone) and first == alone
    assert {*wire.PRIVATE_TASK_KEYS, *wire.GOLD_TASK_KEYS} <= set(alone)
    strict(wire.Task, alone)
    for annotation in alone["annotations"]:
        strict(wire.Annotation, annotation)
    assert page.total == 3 and page.total_annotations == 1
    # without fields=all a listed task leaves out annotations and predictions, and nothing else
    short = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]
    assert set(alone) - set(short) == {"annotations", "predictions"}


def test_is_labeled_agrees_everywhere(client, lead, annotator, make_user):
    pid, ids = make_project(lead, 1)  # overlap 1
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    before = client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).get_json()
    assert before["is_labeled"] is False
    client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
    alone = client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).get_json()
    listed = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]
    mine = client.get(f"/api/projects/{pid}/my-annotations", headers=annotator.headers).get_json()[0]
    export = json.loads(client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=lead.headers).data)
    assert alone["is_labeled"] is listed["is_labeled"] is mine["is_labeled"] is export[0]["is_labeled"] is True
    assert alone["total_annotations"] == alone["overlap"] == 1


def test_json_export_rows_are_export_tasks_with_the_api_annotations(client, lead, annotator):
    pid, ids = make_project(lead, 2)
    client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
    ann = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT, "lead_time": 3.5},
                      headers=annotator.headers).get_json()
    rows = json.loads(client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=lead.headers).data)
    assert [r["id"] for r in rows] == [ids[0]]  # Label Studio's default: annotated tasks only
    row = strict(wire.ExportTask, rows[0])
    # the API's annotation, key for key, its annotator named alike ("name email, id", as Label Studio's API)
    assert rows[0]["annotations"] == [ann]
    assert ann["created_username"] == f"{annotator.user.name} {annotator.email}, {annotator.id}"
    assert row.drafts == [] and row.predictions == []
    everything = json.loads(client.get(f"/api/projects/{pid}/export?exportType=JSON&download_all_tasks=true",
                                       headers=lead.headers).data)
    assert [r["id"] for r in everything] == ids
    assert all(set(r) == set(rows[0]) for r in everything)


def test_project_and_import_answers_follow_their_models(client, lead):
    created = client.post("/api/projects", json={"title": "w", "label_config": CONFIG, "maximum_annotations": 2},
                          headers=lead.headers)
    project = strict(wire.Project, created.get_json())
    assert project.maximum_annotations == 2 == project.overlap
    report = client.post(f"/api/projects/{project.id}/import", json=[{"text": "x"}], headers=lead.headers)
    assert report.status_code == 201
    done = strict(wire.ImportReport, report.get_json())
    assert done.task_count == 1 and done.import_id is not None
    status = client.get(f"/api/projects/{project.id}/imports/{done.import_id}", headers=lead.headers).get_json()
    assert strict(wire.ProjectImport, status).task_ids and status["status"] == "completed"
    listed = client.get("/api/projects", headers=lead.headers).get_json()
    assert strict(wire.ProjectList, listed).results[0].task_number == 1


def test_every_answer_that_carries_an_annotation_names_its_annotator_alike(client, lead, annotator):
    """The API's answers (a task, its annotations, the PATCH answers, the caller's own annotations),
    Label Studio's JSON export, a snapshot's file and the ANNOTATION_CREATED / ANNOTATION_UPDATED
    payloads: one annotation, one ``created_username`` (Label Studio's "first last email, id")."""
    from labeling.db import read_session
    from labeling.models import WebhookDelivery
    from tests.labeling.test_webhooks import Receiver

    receiver = Receiver()
    try:
        pid, ids = make_project(lead, 1)
        hook = client.post("/api/webhooks", json={"url": receiver.url, "project": pid, "send_for_all_actions": False,
                                                  "actions": ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]},
                           headers=lead.headers)
        assert hook.status_code == 201, hook.get_json()
        client.get(f"/api/projects/{pid}/next", headers=annotator.headers)
        made = client.post(f"/api/tasks/{ids[0]}/annotations", json={"result": RESULT}, headers=annotator.headers)
        assert made.status_code == 201
        aid = made.get_json()["id"]
        patched = client.patch(f"/api/annotations/{aid}", json={"result": RESULT, "lead_time": 2.0},
                               headers=annotator.headers)
        assert patched.status_code == 200, patched.get_json()
        neg = [{**RESULT[0], "value": {"choices": ["neg"]}}]
        fixed = client.patch(f"/api/annotations/{aid}", json={"result": neg}, headers=lead.headers)  # a lead's correction of the annotator's answer
        assert fixed.status_code == 200, fixed.get_json()
        task = client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).get_json()
        listed = client.get(f"/api/tasks/{ids[0]}/annotations", headers=lead.headers).get_json()
        export = json.loads(client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=lead.headers).data)
        snap = client.post(f"/api/projects/{pid}/exports", json={"title": "s"}, headers=lead.headers).get_json()
        stored = json.loads(client.get(f"/api/projects/{pid}/exports/{snap['id']}/download?exportType=JSON",
                                       headers=lead.headers).data)
        with read_session() as s:
            bodies = {d.action: json.loads(d.body) for d in s.query(WebhookDelivery).order_by(WebhookDelivery.id)}
        mine = client.get(f"/api/projects/{pid}/my-annotations", headers=annotator.headers).get_json()
        edited = client.patch(f"/api/tasks/{ids[0]}", json={"meta": {"k": 1}}, headers=lead.headers)
        assert edited.status_code == 200, edited.get_json()
        truth = client.patch(f"/api/annotations/{aid}", json={"ground_truth": True}, headers=lead.headers)
        assert truth.status_code == 200 and truth.get_json()["ground_truth"] is True, truth.get_json()
    finally:
        receiver.close()
    assert set(bodies) == {"ANNOTATION_CREATED", "ANNOTATION_UPDATED"}
    answers = {
        "POST /api/tasks/ID/annotations": made.get_json(),
        "PATCH /api/annotations/ID (author)": patched.get_json(),
        "PATCH /api/annotations/ID (lead)": fixed.get_json(),
        "PATCH /api/annotations/ID (ground_truth)": truth.get_json(),
        "PATCH /api/tasks/ID": edited.get_json()["annotations"][0],
        "GET /api/projects/ID/my-annotations": mine[0]["annotations"][0],
        "GET /api/tasks/ID": task["annotations"][0],
        "GET /api/tasks/ID/annotations": listed[0],
        "JSON export": export[0]["annotations"][0],
        "export snapshot": stored[0]["annotations"][0],
        "ANNOTATION_CREATED": bodies["ANNOTATION_CREATED"]["annotation"],
        "ANNOTATION_UPDATED": bodies["ANNOTATION_UPDATED"]["annotation"],
    }
    assert {where: a["id"] for where, a in answers.items()} == dict.fromkeys(answers, aid)
    assert {where: a["created_username"] for where, a in answers.items()} == dict.fromkeys(
        answers, f"{annotator.user.name} {annotator.email}, {annotator.id}")
    assert {where: a["created_ago"] for where, a in answers.items()} == dict.fromkeys(answers, "0\xa0minutes")
