"""The real ``label-studio-sdk`` client against a live ``labelfab serve``: the answers carry Label
Studio 1.23.2's keys (with their JSON types) where ``bench/sdk_calls.py`` found them missing —
``whoami``'s ``permissions``, a project's ``created_by`` user, an import's ``could_be_tasks_list``
and ``data_columns``, a task's Data Manager keys, ``updated_by``, comment counts and embedded
lists, the export formats' ``link``, the JSON export's ``allow_skip`` and comment keys, and a
storage's sync ``meta``. Each key is read from the raw JSON the SDK was given."""

from __future__ import annotations

import json

import httpx
import pytest
from label_studio_sdk.client import LabelStudio

from labeling import users
from labeling.models import Role
from tests.s3 import KEY_ID, SECRET

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
RESULT = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
TASK_COMMENT_KEYS = {"comment_count": int, "unresolved_comment_count": int, "comment_authors": list}


class Recorded:
    """An SDK client whose every JSON answer is kept (``last``: the newest)."""

    def __init__(self, url: str, token: str):
        self.answers: list[httpx.Response] = []
        self.ls = LabelStudio(base_url=url, api_key=token, httpx_client=httpx.Client(
            timeout=60, event_hooks={"response": [lambda r: (r.read(), self.answers.append(r))]}))

    @property
    def last(self):
        return self.answers[-1].json()


@pytest.fixture
def lead(live_server, make_user):
    user = make_user("sdk-keys-lead@example.com", Role.lead)
    users.update_user(user.id, name="Lea Lead")
    client = Recorded(live_server.url, user.token)
    client.user = user
    return client


@pytest.fixture
def project(lead):
    p = lead.ls.projects.create(title="SDK keys", label_config=CONFIG, maximum_annotations=2)
    lead.ls.projects.import_tasks(id=p.id, request=[{"data": {"text": "first"}}, {"data": {"text": "second"}}])
    return p


def test_whoami_permissions(lead, live_server, make_user):
    lead.ls.users.whoami()
    perms = lead.last["permissions"]
    assert {"projects.create", "tasks.change", "storages.sync"} <= set(perms)
    assert "organizations.delete" not in perms  # the organisation is the admins'
    annotator = make_user("sdk-keys-ann@example.com", Role.annotator)
    ann = Recorded(live_server.url, annotator.token)
    ann.ls.users.whoami()
    assert "annotations.create" in ann.last["permissions"]
    assert "projects.create" not in ann.last["permissions"]


def test_project_created_by_is_a_user(lead, project):
    lead.ls.projects.get(id=project.id)
    creator = lead.last["created_by"]
    assert creator == {"id": lead.user.id, "first_name": "Lea Lead", "last_name": "",
                       "email": "sdk-keys-lead@example.com", "avatar": None}
    lead.ls.projects.update(id=project.id, description="changed")
    assert lead.last["created_by"]["email"] == "sdk-keys-lead@example.com"
    assert next(p for p in lead.ls.projects.list() if p.id == project.id).created_by.email == lead.user.email


def test_import_tasks_keys(lead, project):
    lead.ls.projects.import_tasks(id=project.id, request=[{"data": {"text": "third"}}])
    assert lead.last["could_be_tasks_list"] is False and lead.last["data_columns"] == []
    assert lead.last["task_count"] == 1


def test_task_data_manager_keys(lead, project):
    task = next(iter(lead.ls.tasks.list(project=project.id)))
    lead.ls.tasks.get(id=task.id)
    empty = lead.last
    assert (empty["annotators"], empty["annotations_ids"], empty["annotations_results"]) == ([], "", "")
    assert empty["completed_at"] is None and empty["avg_lead_time"] is None and empty["draft_exists"] is False
    assert empty["updated_by"] == [] and empty["storage_filename"] is None
    a = lead.ls.annotations.create(id=task.id, result=RESULT, lead_time=4.0)
    lead.ls.predictions.create(task=task.id, result=RESULT, score=0.25, model_version="m1")
    lead.ls.predictions.create(task=task.id, result=RESULT, score=0.75, model_version="m2")
    lead.ls.tasks.get(id=task.id)
    got = lead.last
    assert got["annotators"] == [lead.user.id] and got["annotations_ids"] == str(a.id)
    assert got["updated_by"] == [{"user_id": lead.user.id}]
    assert got["avg_lead_time"] == 4.0 and got["predictions_score"] == 0.5
    assert got["predictions_model_versions"] == "m1,m2"
    assert "choices" in got["annotations_results"] and '"' not in got["annotations_results"]
    assert got["completed_at"] is not None


def test_task_create_and_update_answers(lead, project):
    made = lead.ls.tasks.create(project=project.id, data={"text": "made"})
    assert "updated_by" in lead.last and lead.last["updated_by"] is None
    lead.ls.annotations.create(id=made.id, result=RESULT)
    lead.ls.tasks.update(id=made.id, data={"text": "made"}, meta={"source": "sdk"})
    got = lead.last
    for key, kind in TASK_COMMENT_KEYS.items():
        assert isinstance(got[key], kind)
    assert got["last_comment_updated_at"] is None and got["updated_by"] is None
    assert [x["result"] for x in got["annotations"]] == [RESULT] and got["predictions"] == []


def test_export_formats_link_and_json_keys(lead, project):
    lead.ls.projects.exports.list_formats(id=project.id)
    links = {f["name"]: f["link"] for f in lead.last}
    assert links["JSON"] == "https://labelstud.io/guide/export.html#JSON"
    assert links["VOC"] == "https://labelstud.io/guide/export.html#Pascal-VOC-XML" and links["JSONL"] is None
    rows = lead.ls.projects.exports.as_json(project.id)
    assert rows and all(r["allow_skip"] is True and r["updated_by"] is None for r in rows)
    for key, kind in TASK_COMMENT_KEYS.items():
        assert all(isinstance(r[key], kind) for r in rows)
    raw = json.loads(b"".join(lead.ls.projects.exports.download_sync(id=project.id, export_type="JSON",
                                                                    download_all_tasks=True)))
    assert all(r["comment_count"] == 0 and r["allow_skip"] is True for r in raw)


def test_storage_sync_meta(lead, project, s3):
    s3.create_bucket(Bucket="keys-in")
    s3.put_object(Bucket="keys-in", Key="t/0.json", Body=json.dumps({"text": "from s3"}).encode())
    made = lead.ls.import_storage.s3.create(project=project.id, bucket="keys-in", prefix="t", s3endpoint=s3.endpoint,
                                            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    lead.ls.import_storage.s3.sync(id=made.id)
    meta = lead.last["meta"]
    assert meta["attempts"] == 1 and meta["tasks_existed"] == 0 and isinstance(meta["duration"], float)
    assert meta["time_queued"] == meta["time_in_progress"] == meta["time_last_ping"]
    assert meta["time_completed"] >= meta["time_in_progress"]

    s3.create_bucket(Bucket="keys-out")
    task = next(iter(lead.ls.tasks.list(project=project.id)))
    lead.ls.annotations.create(id=task.id, result=RESULT)
    out = lead.ls.export_storage.s3.create(project=project.id, bucket="keys-out", prefix="a", s3endpoint=s3.endpoint,
                                           aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    created = lead.last  # synced on creation, as Label Studio does by default
    assert created["status"] == "completed" and created["meta"]["attempts"] == 1
    assert created["meta"]["total_annotations"] == 1 and "time_queued" in created["meta"]
    assert len(s3.list_objects_v2(Bucket="keys-out").get("Contents", [])) == 1
    lead.ls.export_storage.s3.sync(id=out.id)
    assert lead.last["meta"]["attempts"] == 2 and isinstance(lead.last["meta"]["duration"], float)
