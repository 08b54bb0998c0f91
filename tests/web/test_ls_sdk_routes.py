"""The real ``label-studio-sdk`` client against a live ``labelfab serve``, one test per call that
labelfab used to answer with 404/405 or wrongly: whoami, version, users, ``tasks.create``,
``predictions.update``, ``projects.import_predictions``, ``projects.validate_label_config``,
``projects.list(title=)``, ``projects.members.remove``, ``tasks.delete_all_tasks``, the export snapshot calls
(``exports.create/list/get/download/delete`` and ``as_json``) and ``projects.delete``."""

from __future__ import annotations

import json

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling.models import Role

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


def choice(value: str) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def sdk(live_server, make_user):
    lead = make_user("sdk-lead@example.com", Role.lead)
    admin = make_user("sdk-admin@example.com", Role.admin)
    ann = make_user("sdk-ann@example.com", Role.annotator)

    class Clients:
        pass

    c = Clients()
    c.lead, c.admin = LabelStudio(base_url=live_server.url, api_key=lead.token), LabelStudio(
        base_url=live_server.url, api_key=admin.token)
    c.ann = LabelStudio(base_url=live_server.url, api_key=ann.token)
    c.lead_user, c.ann_user = lead, ann
    return c


@pytest.fixture
def project(sdk):
    p = sdk.lead.projects.create(title="SDK routes", label_config=CONFIG, maximum_annotations=1)
    sdk.lead.projects.import_tasks(id=p.id, request=[
        {"data": {"text": "first"}, "annotations": [{"result": choice("pos")}]},
        {"data": {"text": "second"}}])
    return p


def _task_ids(ls, project_id) -> list[int]:
    return sorted(t.id for t in ls.tasks.list(project=project_id))


def test_users_whoami(sdk):
    me = sdk.lead.users.whoami()
    assert (me.id, me.email, me.username) == (sdk.lead_user.id, sdk.lead_user.email, sdk.lead_user.email)


def test_versions_get(sdk):
    v = sdk.ann.versions.get()
    assert v.release == "1.23.2" and v.edition == "Community"


def test_users_list_and_get(sdk):
    emails = {u.email for u in sdk.admin.users.list()}
    assert {"sdk-lead@example.com", "sdk-admin@example.com", "sdk-ann@example.com"} <= emails
    assert sdk.admin.users.get(id=sdk.ann_user.id).email == "sdk-ann@example.com"
    with pytest.raises(ApiError) as err:
        sdk.lead.users.list()
    assert err.value.status_code == 403


def test_users_create_takes_label_studios_names(sdk):
    made = sdk.admin.users.create(email="sdk-new@example.com", first_name="Ann", last_name="Lee")
    assert (made.email, made.first_name) == ("sdk-new@example.com", "Ann Lee")
    assert sdk.admin.users.get(id=made.id).first_name == "Ann Lee"


def test_users_update(sdk):
    updated = sdk.admin.users.update(id=sdk.ann_user.id, first_name="Ann")
    assert updated.first_name == "Ann" and sdk.admin.users.get(id=sdk.ann_user.id).first_name == "Ann"


def test_tasks_create(sdk, project):
    task = sdk.lead.tasks.create(project=project.id, data={"text": "made by the SDK"})
    assert task.id and task.data == {"text": "made by the SDK"}
    assert sdk.lead.tasks.get(id=task.id).data["text"] == "made by the SDK"


def test_predictions_update(sdk, project):
    tid = _task_ids(sdk.lead, project.id)[1]
    p = sdk.lead.predictions.create(task=tid, result=choice("pos"), score=0.4, model_version="m1")
    updated = sdk.lead.predictions.update(id=p.id, result=choice("neg"), score=0.8, model_version="m2")
    assert (updated.result, updated.score, updated.model_version) == (choice("neg"), 0.8, "m2")
    assert sdk.lead.predictions.get(id=p.id).model_version == "m2"


def test_predictions_delete(sdk, project):
    tid = _task_ids(sdk.lead, project.id)[1]
    p = sdk.lead.predictions.create(task=tid, result=choice("pos"))
    sdk.lead.predictions.delete(id=p.id)
    with pytest.raises(ApiError) as err:
        sdk.lead.predictions.get(id=p.id)
    assert err.value.status_code == 404


def test_projects_import_predictions(sdk, project):
    ids = _task_ids(sdk.lead, project.id)
    answer = sdk.lead.projects.import_predictions(id=project.id, request=[
        {"task": ids[0], "result": choice("pos"), "score": 0.9, "model_version": "bulk"},
        {"task": ids[1], "result": choice("neg"), "score": 0.6, "model_version": "bulk"}])
    assert answer.created == 2
    assert sorted(p.task for p in sdk.lead.predictions.list(project=project.id)) == ids


def test_projects_validate_label_config(sdk, project):
    ok = sdk.lead.projects.validate_label_config(id=project.id, label_config=CONFIG)
    assert ok.dict().get("config_essential_data_has_changed") is False
    with pytest.raises(ApiError) as err:  # 'pos' is used by an annotation
        sdk.lead.projects.validate_label_config(id=project.id, label_config=CONFIG.replace('<Choice value="pos"/>', ""))
    assert err.value.status_code == 422


def test_projects_list_by_title(sdk, project):
    sdk.lead.projects.create(title="Something else", label_config=CONFIG)
    assert [p.title for p in sdk.lead.projects.list(title="sdk ROUTES")] == ["SDK routes"]


def test_projects_members_add(sdk, project):
    """An admin adds by user id, as Label Studio does; a lead adds people by email (an id would
    tell them anyone's email), so the SDK's call by id is for admins."""
    sdk.admin.projects.members.add(id=project.id, user=sdk.ann_user.id)
    members = sdk.lead._client_wrapper.httpx_client.request(f"api/projects/{project.id}/members", method="GET").json()
    assert [m["user"]["id"] for m in members] == [sdk.ann_user.id]


def test_projects_members_remove(sdk, project):
    http = sdk.lead._client_wrapper.httpx_client
    r = http.request(f"api/projects/{project.id}/members", method="POST", json={"user": sdk.ann_user.email})
    assert r.status_code == 201
    sdk.lead.projects.members.remove(id=project.id, user=sdk.ann_user.id)
    members = http.request(f"api/projects/{project.id}/members", method="GET").json()
    assert members == []


def test_exports_create(sdk, project):
    snap = sdk.lead.projects.exports.create(id=project.id, title="nightly",
                                            task_filter_options={"only_with_annotations": True})
    assert snap.id and snap.status == "completed" and snap.title == "nightly"
    assert snap.counters == {"task_number": 1}


def test_exports_list_and_get(sdk, project):
    a = sdk.lead.projects.exports.create(id=project.id, title="a")
    b = sdk.lead.projects.exports.create(id=project.id, title="b")
    assert [e.id for e in sdk.lead.projects.exports.list(id=project.id)] == [b.id, a.id]
    got = sdk.lead.projects.exports.get(id=project.id, export_pk=a.id)
    assert got.title == "a" and got.status == "completed" and got.md5 == a.md5


def test_exports_download(sdk, project):
    snap = sdk.lead.projects.exports.create(id=project.id)
    body = b"".join(sdk.lead.projects.exports.download(id=project.id, export_pk=snap.id, export_type="JSON"))
    direct = b"".join(sdk.lead.projects.exports.download_sync(id=project.id, export_type="JSON",
                                                               download_all_tasks=True))
    assert body == direct
    assert sorted(t["data"]["text"] for t in json.loads(body)) == ["first", "second"]


def test_exports_delete(sdk, project):
    snap = sdk.lead.projects.exports.create(id=project.id)
    sdk.lead.projects.exports.delete(id=project.id, export_pk=snap.id)
    with pytest.raises(ApiError) as err:
        sdk.lead.projects.exports.get(id=project.id, export_pk=snap.id)
    assert err.value.status_code == 404


def test_exports_as_json(sdk, project):
    tasks = sdk.lead.projects.exports.as_json(project.id)
    assert sorted(t["data"]["text"] for t in tasks) == ["first", "second"]


def test_tasks_delete_all_tasks(sdk, project):
    """Label Studio's ``DELETE /api/projects/ID/tasks``: every task goes, with its annotations and
    predictions; an annotator may not; an empty project answers 204 again."""
    tid = _task_ids(sdk.lead, project.id)[1]
    sdk.lead.predictions.create(task=tid, result=choice("neg"))
    other = sdk.lead.projects.create(title="Kept", label_config=CONFIG)
    sdk.lead.projects.import_tasks(id=other.id, request=[{"text": "stays"}])
    with pytest.raises(ApiError) as err:
        sdk.ann.tasks.delete_all_tasks(id=project.id)
    assert err.value.status_code in (403, 404) and len(_task_ids(sdk.lead, project.id)) == 2
    sdk.lead.tasks.delete_all_tasks(id=project.id)
    assert _task_ids(sdk.lead, project.id) == []
    assert list(sdk.lead.predictions.list(project=project.id)) == []
    assert sdk.lead.projects.get(id=project.id).task_number == 0
    assert [t.data["text"] for t in sdk.lead.tasks.list(project=other.id)] == ["stays"]
    sdk.lead.tasks.delete_all_tasks(id=project.id)


def test_projects_delete(sdk, project):
    sdk.lead.projects.delete(id=project.id)
    with pytest.raises(ApiError) as err:
        sdk.lead.projects.get(id=project.id)
    assert err.value.status_code == 404
    assert list(sdk.admin.projects.list()) == []


def test_exports_download_sync_in_label_studio_formats(sdk, project):
    """A Label Studio script's export in a converted format answers as Label Studio does, whether
    or not QC and review have accepted the tasks: the annotated tasks, a row per annotation, the
    same bytes as a snapshot of those tasks downloads in that format."""
    import csv
    import io

    from labeling.db import read_session
    from labeling.models import Task

    with read_session() as s:
        states = {t.data["text"]: t.state for t in s.query(Task).filter(Task.project_id == project.id)}
    body = b"".join(sdk.lead.projects.exports.download_sync(id=project.id, export_type="CSV"))
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["text"], r["sentiment"]) for r in rows] == [("first", "pos")], states
    assert {"annotator", "annotation_id", "lead_time"} <= set(rows[0])
    minimal = json.loads(b"".join(sdk.lead.projects.exports.download_sync(id=project.id, export_type="JSON_MIN")))
    assert [(m["text"], m["sentiment"]) for m in minimal] == [("first", "pos")]
    snap = sdk.lead.projects.exports.create(id=project.id, task_filter_options={"only_with_annotations": True})
    assert b"".join(sdk.lead.projects.exports.download(id=project.id, export_pk=snap.id, export_type="CSV")) == body
