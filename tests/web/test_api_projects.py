"""REST: projects with Label Studio's field names, import (JSON body, multipart files, as a job),
import status, tasks (list, filter, view, change, delete), members, config check and gallery;
and the real label-studio-sdk client against a live server."""

from __future__ import annotations

import io
import json

import pytest

from labeling import projects, users
from tests.conftest import wait_for

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def project_id(client, lead):
    r = client.post("/api/projects", json={"title": "Reviews", "label_config": TEXT, "maximum_annotations": 1},
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_create_with_label_studio_fields(client, lead):
    body = {"title": "Sentiment", "description": "d", "label_config": TEXT, "maximum_annotations": 3,
            "expert_instruction": "Read twice.", "sampling": "Sequential sampling", "show_skip_button": True,
            "lease_seconds": 300}
    r = client.post("/api/projects/", json=body, headers=lead.headers)  # with a trailing slash too
    assert r.status_code == 201
    p = r.get_json()
    assert (p["title"], p["maximum_annotations"], p["expert_instruction"], p["lease_seconds"]) == (
        "Sentiment", 3, "Read twice.", 300)
    assert p["label_config"] == TEXT and p["task_number"] == 0 and p["kind"] == "classification"
    assert client.get(f"/api/projects/{p['id']}", headers=lead.headers).get_json()["title"] == "Sentiment"
    assert p["show_instruction"] is False  # Label Studio's field: open the instructions before labelling
    r = client.patch(f"/api/projects/{p['id']}", json={"show_instruction": True}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["show_instruction"] is True
    r = client.patch(f"/api/projects/{p['id']}", json={"show_instruction": "yes"}, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "show_instruction"


def test_create_refusals(client, lead, annotator):
    r = client.post("/api/projects", json={"title": "x"}, headers=lead.headers)
    assert r.status_code == 422 and "label_config" in r.get_json()["detail"]
    r = client.post("/api/projects", json={"title": "x", "label_config": "<View><Text name='t' value='$t'/>"},
                    headers=lead.headers)
    assert r.status_code == 422 and "not valid XML on line 1" in r.get_json()["detail"]
    r = client.post("/api/projects", json={"title": "x", "label_config": TEXT, "overlapp": 2}, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"] == [{"field": "overlapp", "detail": "unknown field"}]
    r = client.post("/api/projects", json={"title": "x", "label_config": TEXT}, headers=annotator.headers)
    assert r.status_code == 403
    r = client.post("/api/projects", data="not json", headers=lead.headers, content_type="application/json")
    assert r.status_code == 422


def test_validate_and_gallery(client, lead):
    r = client.post("/api/projects/validate", json={"label_config": TEXT}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["data_keys"] == ["text"]
    r = client.post("/api/projects/validate", json={"label_config": TEXT.replace('toName="text"', 'toName="txt"')},
                    headers=lead.headers)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["tag"] == "Choices" and "line 2" in r.get_json()["errors"][0]["detail"]
    gallery = client.get("/api/label-configs", headers=lead.headers).get_json()
    assert {g["kind"] for g in gallery} >= {"classification", "multilabel", "ner", "detection"}


def test_list_patch_archive_and_delete(client, lead, admin, project_id):
    r = client.patch(f"/api/projects/{project_id}", json={"title": "Renamed", "maximum_annotations": 2},
                     headers=lead.headers)
    assert r.status_code == 200 and (r.get_json()["title"], r.get_json()["overlap"]) == ("Renamed", 2)
    whole = client.get(f"/api/projects/{project_id}", headers=lead.headers).get_json()
    r = client.put(f"/api/projects/{project_id}", json=dict(whole, description="round trip"), headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["description"] == "round trip"  # GET body sent back as is
    listing = client.get("/api/projects", headers=lead.headers).get_json()
    assert listing["count"] == 1 and listing["results"][0]["title"] == "Renamed" and listing["next"] is None
    # archiving is its own act: PATCH is_archived
    r = client.patch(f"/api/projects/{project_id}", json={"is_archived": True}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["is_archived"] is True
    assert client.get("/api/projects", headers=lead.headers).get_json()["count"] == 0
    r = client.post(f"/api/projects/{project_id}/import", json=[{"text": "a"}], headers=lead.headers)
    assert r.status_code == 409 and "archived" in r.get_json()["detail"]
    r = client.patch(f"/api/projects/{project_id}", json={"is_archived": False}, headers=lead.headers)
    assert r.get_json()["is_archived"] is False
    # DELETE deletes, as on Label Studio: the project's lead may
    assert client.delete(f"/api/projects/{project_id}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/projects/{project_id}", headers=admin.headers).status_code == 404
    assert client.get("/api/projects?include_archived=true", headers=admin.headers).get_json()["count"] == 0


def test_patch_overlap_reopens_finished_tasks_and_says_how_many(client, lead, project_id):
    from labeling import lifecycle
    from labeling.db import utcnow, write_session
    from labeling.models import Task, TaskState
    tasks = [{"data": {"text": t}, "annotations": [{"result": choice("pos"), "completed_by": lead.email}]}
             for t in ("a", "b", "c")]
    assert client.post(f"/api/projects/{project_id}/import", json=tasks, headers=lead.headers).status_code == 201
    with write_session() as s:  # QC passed them: a finished project
        lifecycle.move_where(s, where=(Task.project_id == project_id,), from_state=TaskState.labeled,
                             to_state=TaskState.accepted, cause=lifecycle.Cause.qc, project_id=project_id,
                             user_id=None, reason="QC passed", now=utcnow(),
                             values={"final_label": choice("pos"), "final_source": "single"})
    r = client.patch(f"/api/projects/{project_id}", json={"maximum_annotations": 2}, headers=lead.headers)
    body = r.get_json()
    assert r.status_code == 200 and body["maximum_annotations"] == 2
    assert body["overlap_change"] == {"from_overlap": 1, "to_overlap": 2, "reopened": 3, "labeled": 0}
    assert body["states"] == {"open": 3}
    r = client.patch(f"/api/projects/{project_id}", json={"overlap": 1}, headers=lead.headers)
    assert r.get_json()["overlap_change"]["labeled"] == 3 and r.get_json()["states"] == {"labeled": 3}
    r = client.patch(f"/api/projects/{project_id}", json={"title": "no overlap given"}, headers=lead.headers)
    assert "overlap_change" not in r.get_json()


def test_label_config_change_refused_with_the_reason(client, lead, project_id):
    tasks = [{"data": {"text": "a"}, "annotations": [{"result": choice("neg"), "completed_by": lead.email}]}]
    client.post(f"/api/projects/{project_id}/import", json=tasks, headers=lead.headers)
    r = client.patch(f"/api/projects/{project_id}", json={"label_config": TEXT.replace('<Choice value="neg"/>', "")},
                     headers=lead.headers)
    assert r.status_code == 422 and "label 'neg' is used by existing annotations" in r.get_json()["detail"]


def test_import_json_answers_like_label_studio(client, lead, project_id):
    tasks = [{"data": {"text": "a"}, "annotations": [{"result": choice("pos"), "completed_by": lead.id}],
              "predictions": [{"result": choice("pos"), "score": 0.5}]},
             {"data": {"text": "b"}}, {"text": "c"}]
    r = client.post(f"/api/projects/{project_id}/import?return_task_ids=true", json=tasks, headers=lead.headers)
    assert r.status_code == 201
    body = r.get_json()
    assert (body["task_count"], body["annotation_count"], body["prediction_count"]) == (3, 1, 1)
    assert isinstance(body["duration"], float) and len(body["task_ids"]) == 3
    status = client.get(f"/api/projects/{project_id}/imports/{body['import']}", headers=lead.headers).get_json()
    assert status["status"] == "completed" and status["task_ids"] == body["task_ids"]
    p = client.get(f"/api/projects/{project_id}", headers=lead.headers).get_json()
    assert (p["task_number"], p["total_annotations_number"], p["num_tasks_with_annotations"]) == (3, 1, 1)


def test_num_tasks_with_annotations_counts_tasks_with_annotations_as_label_studio_does(client, lead):
    """Label Studio counts the tasks with a submitted annotation, whatever their state: a task still
    waiting for its second annotator counts, one a lead excluded before anyone labelled it does not;
    and its ground-truth annotations, which are labelfab's gold tasks' answers."""
    r = client.post("/api/projects", json={"title": "Pairs", "label_config": TEXT, "maximum_annotations": 2},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    tasks = [{"data": {"text": "half done"}, "annotations": [{"result": choice("pos"), "completed_by": lead.id}]},
             {"data": {"text": "broken"}}, {"data": {"text": "untouched"}},
             {"data": {"text": "half too"}, "annotations": [{"result": choice("neg"), "completed_by": lead.id}]},
             {"data": {"text": "a gold one"}, "is_gold": True, "gold_answer": choice("pos")}]
    ids = client.post(f"/api/projects/{pid}/import?return_task_ids=true", json=tasks,
                      headers=lead.headers).get_json()["task_ids"]
    r = client.post(f"/api/dm/actions?id=exclude&project={pid}", json={"selectedItems": {
        "all": False, "included": [ids[1]]}, "reason": "broken"}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["processed_items"] == 1, r.get_json()
    p = client.get(f"/api/projects/{pid}", headers=lead.headers).get_json()
    assert p["states"] == {"open": 4, "excluded": 1}
    assert (p["total_annotations_number"], p["num_tasks_with_annotations"]) == (2, 2)
    assert p["ground_truth_number"] == 1  # the gold task's answer: Label Studio's ground-truth annotations
    listed = client.get("/api/projects", headers=lead.headers).get_json()["results"]
    assert next(x for x in listed if x["id"] == pid)["num_tasks_with_annotations"] == 2


def test_import_multipart_files_and_options(client, lead, project_id):
    csv = b"text,source\nfirst,web\nsecond,mail\n"
    jsonl = b'{"text": "third"}\n{"text": "first", "source": "web"}\n'
    data = {"file": [(io.BytesIO(csv), "rows.csv"), (io.BytesIO(jsonl), "more.jsonl")]}
    r = client.post(f"/api/projects/{project_id}/import?dedupe=true", data=data, headers=lead.headers,
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["task_count"], r.get_json()["skipped_duplicates"]) == (3, 1)
    assert r.get_json()["found_formats"] == [".csv", ".jsonl"]
    names = {t["data"]["text"]: t["file_upload"] for t in
             client.get(f"/api/tasks?project={project_id}", headers=lead.headers).get_json()["tasks"]}
    assert names == {"first": "rows.csv", "second": "rows.csv", "third": "more.jsonl"}
    bad = {"file": [(io.BytesIO(b"text\nok\n"), "a.csv"), (io.BytesIO(b'[{"data": 3}]'), "b.json")]}
    r = client.post(f"/api/projects/{project_id}/import?skip_invalid=true", data=bad, headers=lead.headers,
                    content_type="multipart/form-data")
    assert r.status_code == 422  # a malformed file is not a row to skip: the file is refused


def test_background_import_is_followed_by_its_status(client, lead, project_id, worker):
    tasks = [{"text": f"t{i}"} for i in range(30)]
    r = client.post(f"/api/projects/{project_id}/import?background=true", json=tasks, headers=lead.headers)
    assert r.status_code == 202
    body = r.get_json()
    assert body["status"] == "queued" and body["job"] and body["url"].endswith(f"/imports/{body['import']}")

    def finished():
        s = client.get(body["url"], headers=lead.headers).get_json()
        return s if s["status"] in ("completed", "failed") else None

    status = wait_for(finished, timeout=90)
    assert status["status"] == "completed" and status["task_count"] == 30 and len(status["task_ids"]) == 30
    assert status["job"]["status"] == "done" and status["progress"] == 1.0
    job = client.get(f"/api/jobs/{body['job']}", headers=lead.headers).get_json()
    assert job["result"]["task_count"] == 30


def test_background_import_failure_is_reported(client, lead, project_id, worker):
    tasks = [{"text": "fine"}, {"data": {"nope": 1}}]
    r = client.post(f"/api/projects/{project_id}/import?background=true", json=tasks, headers=lead.headers)
    url = r.get_json()["url"]
    status = wait_for(lambda: (s := client.get(url, headers=lead.headers).get_json())["status"] == "failed"
                      and s["job"]["status"] == "failed" and s, timeout=90)  # the job ends just after the import
    assert status["errors"][0]["row"] == 2 and status["task_count"] == 0
    assert "nothing was imported" in status["job"]["message"]
    assert client.get(f"/api/tasks?project={project_id}", headers=lead.headers).get_json()["total"] == 0


def test_tasks_list_view_patch_delete(client, lead, annotator, project_id):
    tasks = [{"data": {"text": f"item {i}"}, "annotations": [{"result": choice("pos"), "completed_by": annotator.id}]}
             for i in range(3)] + [{"text": "open one"}]
    client.post(f"/api/projects/{project_id}/import", json=tasks, headers=lead.headers)
    page = client.get(f"/api/tasks?project={project_id}&page=1&page_size=2", headers=lead.headers).get_json()
    assert (page["total"], len(page["tasks"]), page["total_annotations"]) == (4, 2, 3)
    assert "annotations" not in page["tasks"][0]
    full = client.get(f"/api/tasks/?project={project_id}&fields=all&state=labeled", headers=lead.headers).get_json()
    assert full["total"] == 3 and full["tasks"][0]["annotations"][0]["completed_by"] == annotator.id
    found = client.get(f"/api/tasks?project={project_id}&search=OPEN", headers=lead.headers).get_json()
    assert [t["data"]["text"] for t in found["tasks"]] == ["open one"]
    plain = client.get(f"/api/projects/{project_id}/tasks?page_size=10", headers=lead.headers).get_json()
    assert isinstance(plain, list) and len(plain) == 4
    open_id = found["tasks"][0]["id"]
    r = client.patch(f"/api/tasks/{open_id}", json={"data": {"text": "edited"}, "meta": {"k": "v"}}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["data"] == {"text": "edited"}
    r = client.patch(f"/api/tasks/{open_id}", json={"state": "accepted"}, headers=lead.headers)
    assert r.status_code == 422 and "state" in r.get_json()["detail"]
    labeled_id = full["tasks"][0]["id"]
    assert client.patch(f"/api/tasks/{labeled_id}", json={"data": {"text": "x"}}, headers=lead.headers).status_code == 409
    mine = client.get(f"/api/tasks/{labeled_id}", headers=annotator.headers).get_json()
    assert mine["annotations"][0]["completed_by"] == annotator.id and "is_gold" not in mine
    assert client.get(f"/api/tasks/{open_id}", headers=annotator.headers).status_code == 404
    assert client.get(f"/api/tasks?project={project_id}", headers=annotator.headers).status_code == 403
    assert client.delete(f"/api/tasks/{open_id}", headers=annotator.headers).status_code == 403
    assert client.delete(f"/api/tasks/{open_id}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/tasks/{open_id}", headers=lead.headers).status_code == 404
    r = client.get("/api/tasks", headers=lead.headers)  # Label Studio's answer: 404, not a 422
    assert r.status_code == 404 and r.get_json()["detail"] == "Neither project nor view id specified"


def test_members_api(client, lead, annotator, project_id):
    r = client.post(f"/api/projects/{project_id}/members", json={"user": annotator.email, "role": "reviewer"},
                    headers=lead.headers)
    assert r.status_code == 201 and r.get_json()["role"] == "reviewer"
    members = client.get(f"/api/projects/{project_id}/members", headers=lead.headers).get_json()
    assert [(m["user"]["email"], m["role"]) for m in members] == [(annotator.email, "reviewer")]
    r = client.post(f"/api/projects/{project_id}/members", json={"user": annotator.id, "role": "owner"},
                    headers=lead.headers)
    assert r.status_code == 422
    r = client.post(f"/api/projects/{project_id}/members", json={"user": lead.id, "role": "lead"},
                    headers=annotator.headers)
    assert r.status_code == 403
    assert client.delete(f"/api/projects/{project_id}/members/{annotator.id}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/projects/{project_id}/members", headers=lead.headers).get_json() == []


def test_members_api_invites_an_email_no_account_has(client, lead, annotator, project_id):
    """As the project's Members page: a new email gets an account without a password, the
    membership and a one-time link (``invite``); a known one is added, ``invite`` null."""
    from labeling import invites

    r = client.post(f"/api/projects/{project_id}/members", json={"email": "New.Person@example.com",
                                                                  "role": "reviewer"}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    added = r.get_json()
    assert (added["user"]["email"], added["user"]["role"], added["role"]) == ("new.person@example.com", "annotator",
                                                                               "reviewer")
    assert added["invite"]["emailed"] is False
    assert invites.check_invite(added["invite"]["link"].rsplit("/invite/", 1)[1]).id == added["user"]["id"]
    listed = client.get(f"/api/invites?project={project_id}", headers=lead.headers).get_json()
    assert [(i["id"], i["email"]) for i in listed] == [(added["invite"]["id"], "new.person@example.com")]
    members = client.get(f"/api/projects/{project_id}/members", headers=lead.headers).get_json()
    assert [(m["user"]["email"], m["role"]) for m in members] == [("new.person@example.com", "reviewer")]
    r = client.post(f"/api/projects/{project_id}/members", json={"user": annotator.email}, headers=lead.headers)
    assert r.status_code == 201 and r.get_json()["invite"] is None and r.get_json()["role"] == "annotator"
    assert client.post(f"/api/projects/{project_id}/members", json={"email": "nobody@"},
                       headers=lead.headers).status_code == 422
    r = client.post(f"/api/projects/{project_id}/members", json={"email": "sneaky@example.com"},
                    headers=annotator.headers)
    assert r.status_code in (403, 404) and users.get_user_by_email("sneaky@example.com") is None


def test_browser_session_calls_need_the_csrf_header(client, lead, project_id):
    from tests.conftest import login

    login(client, lead.email)
    r = client.post(f"/api/projects/{project_id}/import", json=[{"text": "a"}])
    assert r.status_code == 400 and "CSRF" in r.get_json()["detail"]


def test_label_studio_sdk_client_works_unchanged(live_server, lead):
    from label_studio_sdk.client import LabelStudio

    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    project = ls.projects.create(title="From the SDK", label_config=TEXT, maximum_annotations=1)
    assert project.id and project.title == "From the SDK"
    ls.projects.import_tasks(id=project.id, request=[{"text": "one"}, {"text": "two"}])
    assert ls.projects.get(id=project.id).task_number == 2
    texts = sorted(t.data["text"] for t in ls.tasks.list(project=project.id))
    assert texts == ["one", "two"]
    ls.projects.update(id=project.id, title="Renamed by the SDK")
    assert projects.get_project(project.id).title == "Renamed by the SDK"


def test_plain_requests_script(live_server, lead):
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {lead.token}"
    pid = s.post(f"{live_server.url}/api/projects/", json={"title": "script", "label_config": TEXT}).json()["id"]
    r = s.post(f"{live_server.url}/api/projects/{pid}/import/", data=json.dumps([{"text": "x"}]),
               headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.json()["task_count"] == 1


def test_prelabels_setting_through_the_api(client, lead, annotator, project_id):
    """Label Studio's show_collab_predictions and labelfab's show_predictions (null: the default by
    overlap); a GET body sent back keeps the default (ARCHITECTURE.md, Pre-labels)."""
    r = client.patch(f"/api/projects/{project_id}", json={"maximum_annotations": 2}, headers=lead.headers)
    p = r.get_json()
    assert (p["show_predictions"], p["show_collab_predictions"]) == (None, False)  # off by default with overlap 2
    r = client.put(f"/api/projects/{project_id}", json=p, headers=lead.headers)
    assert r.get_json()["show_predictions"] is None
    r = client.patch(f"/api/projects/{project_id}", json={"show_collab_predictions": True}, headers=lead.headers)
    assert (r.get_json()["show_predictions"], r.get_json()["show_collab_predictions"]) == (True, True)
    r = client.patch(f"/api/projects/{project_id}", json={"show_predictions": None}, headers=lead.headers)
    assert (r.get_json()["show_predictions"], r.get_json()["show_collab_predictions"]) == (None, False)
    r = client.patch(f"/api/projects/{project_id}", json={"show_predictions": "yes"}, headers=lead.headers)
    assert r.status_code == 422


def test_annotation_made_from_a_prelabel_through_the_api(client, lead, annotator, project_id):
    client.post(f"/api/projects/{project_id}/import", json=[{"text": "a"}], headers=lead.headers)
    task_id = client.get(f"/api/projects/{project_id}/tasks", headers=lead.headers).get_json()[0]["id"]
    r = client.post("/api/predictions", json={"task": task_id, "result": choice("neg"), "score": 0.8},
                    headers=lead.headers)
    pred = r.get_json()["id"]
    nxt = client.get(f"/api/projects/{project_id}/next", headers=annotator.headers).get_json()
    assert [p["id"] for p in nxt["predictions"]] == [pred]  # overlap 1: shown by default
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": choice("neg"), "parent_prediction": "x"},
                    headers=annotator.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "parent_prediction"
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"result": choice("neg"), "parent_prediction": pred},
                    headers=annotator.headers)
    assert r.status_code == 201 and r.get_json()["parent_prediction"] == pred
