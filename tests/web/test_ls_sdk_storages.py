"""The real ``label-studio-sdk`` client's storage calls against a live ``labelfab serve`` and a real
S3 API (moto's server on 127.0.0.1): ``import_storage.s3`` create, list, get, update, validate,
sync, delete; ``export_storage.s3`` the same, its sync writing one object per annotation; the
type lists. Credentials go in and never come back."""

from __future__ import annotations

import json

import pytest
import requests
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling.models import Role
from tests.s3 import KEY_ID, SECRET

CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          '<Choice value="cat"/><Choice value="dog"/></Choices></View>')
RESULT = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["cat"]}}]


@pytest.fixture
def sdk(live_server, make_user):
    lead = make_user("sdk-storage-lead@example.com", Role.lead)
    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    project = ls.projects.create(title="storages over the SDK", label_config=CONFIG, maximum_annotations=1)
    return ls, project.id


def test_import_storage_s3_calls(sdk, s3):
    ls, pid = sdk
    base_url, headers = ls._client_wrapper.get_base_url(), ls._client_wrapper.get_headers()
    s3.create_bucket(Bucket="sdk-in")
    for i in range(3):
        s3.put_object(Bucket="sdk-in", Key=f"img/{i}.jpg", Body=f"bytes {i}".encode())
    made = ls.import_storage.s3.create(project=pid, bucket="sdk-in", prefix="img", use_blob_urls=True,
                                       presign=True, presign_ttl=2, s3endpoint=s3.endpoint,
                                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                                       region_name="us-east-1", title="from S3")
    assert made.id and made.bucket == "sdk-in" and made.s3endpoint == s3.endpoint and made.title == "from S3"
    assert made.aws_access_key_id is None and made.aws_secret_access_key is None  # never returned
    assert [x.id for x in ls.import_storage.s3.list(project=pid)] == [made.id]
    assert ls.import_storage.s3.get(id=made.id).prefix == "img"
    assert ls.import_storage.s3.update(id=made.id, title="renamed").title == "renamed"
    ls.import_storage.s3.validate(project=pid, bucket="sdk-in", s3endpoint=s3.endpoint, aws_access_key_id=KEY_ID,
                                  aws_secret_access_key=SECRET)
    with pytest.raises(ApiError) as refused:
        ls.import_storage.s3.validate(project=pid, bucket="not-there", s3endpoint=s3.endpoint,
                                      aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    assert refused.value.status_code == 400

    synced = ls.import_storage.s3.sync(id=made.id)
    assert synced.status == "completed" and synced.last_sync_count == 3
    tasks = list(ls.tasks.list(project=pid))
    assert len(tasks) == 3
    for task in tasks:  # served as Label Studio's proxy URL, which leads to the object
        url = task.data["image"]
        assert url.startswith(f"/tasks/{task.id}/resolve/?fileuri=")
        fetched = requests.get(base_url + url, headers=headers, timeout=10)
        assert fetched.history[0].status_code == 303 and fetched.content.startswith(b"bytes ")
    assert ls.import_storage.s3.sync(id=made.id).last_sync_count == 0  # never twice
    assert [t.name for t in ls.import_storage.list_types()] == ["s3", "localfiles"]
    ls.import_storage.s3.delete(id=made.id)
    assert list(ls.import_storage.s3.list(project=pid)) == []
    assert len(list(ls.tasks.list(project=pid))) == 3  # the tasks stay, as in Label Studio


def test_export_storage_s3_calls(sdk, s3):
    ls, pid = sdk
    ls.projects.import_tasks(id=pid, request=[{"image": "https://example.com/a.jpg"}])
    task = next(iter(ls.tasks.list(project=pid)))
    annotation = ls.annotations.create(id=task.id, result=RESULT)
    s3.create_bucket(Bucket="sdk-out")
    made = ls.export_storage.s3.create(project=pid, bucket="sdk-out", prefix="ann", s3endpoint=s3.endpoint,
                                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    assert [x.id for x in ls.export_storage.s3.list(project=pid)] == [made.id]
    assert ls.export_storage.s3.get(id=made.id).bucket == "sdk-out"
    assert ls.export_storage.s3.update(id=made.id, title="out").title == "out"
    ls.export_storage.s3.validate(project=pid, bucket="sdk-out", s3endpoint=s3.endpoint,
                                  aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    synced = ls.export_storage.s3.sync(id=made.id)
    assert synced.status == "completed" and synced.last_sync_count == 1
    body = json.loads(s3.get_object(Bucket="sdk-out", Key=f"ann/{annotation.id}")["Body"].read())
    assert body["result"] == RESULT and body["task"]["id"] == task.id
    assert [t.name for t in ls.export_storage.list_types()] == ["s3"]
    ls.export_storage.s3.delete(id=made.id)
    assert list(ls.export_storage.s3.list(project=pid)) == []


def test_a_synced_task_names_the_object_it_came_from(sdk, s3):
    """Label Studio's ``storage_filename`` of ``GET /api/tasks/ID`` and of every task of the list:
    the key of the object that made the task (a script maps tasks back to its files with it); null
    for an imported task."""
    ls, pid = sdk
    s3.create_bucket(Bucket="sdk-names")
    for name in ("a.jpg", "b.jpg"):
        s3.put_object(Bucket="sdk-names", Key=f"img/{name}", Body=b"bytes")
    s3.put_object(Bucket="sdk-names", Key="rows/tasks.json",
                  Body=json.dumps([{"image": "https://example.com/1.jpg"}, {"image": "https://example.com/2.jpg"}]).encode())
    blobs = ls.import_storage.s3.create(project=pid, bucket="sdk-names", prefix="img", use_blob_urls=True,
                                        s3endpoint=s3.endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    rows = ls.import_storage.s3.create(project=pid, bucket="sdk-names", prefix="rows", use_blob_urls=False,
                                       s3endpoint=s3.endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    ls.import_storage.s3.sync(id=blobs.id)
    ls.import_storage.s3.sync(id=rows.id)
    ls.projects.import_tasks(id=pid, request=[{"image": "https://example.com/uploaded.jpg"}])
    listed = {t.id: t.storage_filename for t in ls.tasks.list(project=pid)}
    assert sorted(name or "" for name in listed.values()) == [
        "", "img/a.jpg", "img/b.jpg", "rows/tasks.json", "rows/tasks.json"]
    assert {i: ls.tasks.get(id=i).storage_filename for i in listed} == listed


def test_resolve_uri_false_gives_the_data_as_stored(sdk, s3):
    """Label Studio's ``resolve_uri=false`` on the task list and a task: the ``s3://`` URIs an
    import storage wrote, unsigned (a script copying the objects itself wants them)."""
    ls, pid = sdk
    s3.create_bucket(Bucket="sdk-raw")
    s3.put_object(Bucket="sdk-raw", Key="img/a.jpg", Body=b"bytes")
    made = ls.import_storage.s3.create(project=pid, bucket="sdk-raw", prefix="img", use_blob_urls=True,
                                       presign=True, s3endpoint=s3.endpoint, aws_access_key_id=KEY_ID,
                                       aws_secret_access_key=SECRET)
    ls.import_storage.s3.sync(id=made.id)
    (task,) = ls.tasks.list(project=pid, resolve_uri=False)
    assert task.data["image"] == "s3://sdk-raw/img/a.jpg"
    assert ls.tasks.get(id=task.id, request_options={"additional_query_parameters": {"resolve_uri": "false"}}
                        ).data["image"] == "s3://sdk-raw/img/a.jpg"
    (served,) = ls.tasks.list(project=pid)
    assert served.data["image"].startswith(f"/tasks/{task.id}/resolve/?fileuri=")
    assert ls.tasks.get(id=task.id).data["image"] == served.data["image"]


def test_an_ml_backend_reads_a_task_s_s3_object_as_it_does_from_label_studio(sdk, s3, tmp_path):
    """label-studio-sdk's ``get_local_path`` (what ML backends call on a task's ``s3://`` URI):
    ``/tasks/ID/presign/?fileuri=s3://...`` with the token, then the pre-signed URL it redirects to."""
    from label_studio_sdk._extensions.label_studio_tools.core.utils.io import get_local_path

    ls, pid = sdk
    s3.create_bucket(Bucket="sdk-ml")
    s3.put_object(Bucket="sdk-ml", Key="img/a.jpg", Body=b"the object's bytes")
    made = ls.import_storage.s3.create(project=pid, bucket="sdk-ml", prefix="img", use_blob_urls=True,
                                       s3endpoint=s3.endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    ls.import_storage.s3.sync(id=made.id)
    (task,) = ls.tasks.list(project=pid, resolve_uri=False)
    token = ls._client_wrapper.get_headers()["Authorization"].split()[-1]
    path = get_local_path(task.data["image"], cache_dir=str(tmp_path), hostname=ls._client_wrapper.get_base_url(),
                          access_token=token, task_id=task.id, download_resources=True)
    assert open(path, "rb").read() == b"the object's bytes"
