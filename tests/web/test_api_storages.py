"""Cloud storages over REST against a real S3 API (moto in server mode on 127.0.0.1, started by
the test): import sync through the import path (once per object), Label Studio's resolve proxy
URLs served and followed (a redirect to a pre-signed URL, or the bytes relayed), export sync writing Label Studio's annotation JSON and dataset versions, local files
under the allowed root, sealed credentials never returned, the endpoint checked at save and
before each sync, and who may do it."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa
from PIL import Image

from labeling.db import read_session, write_session
from labeling.models import Media, Project, Role, Storage, StorageImportLink, Task
from labeling.settings import get_settings
from tests.labeling.test_exports import accept
from tests.s3 import KEY_ID, SECRET

TEXT = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
        '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
IMAGE = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
         '<Choice value="cat"/><Choice value="dog"/></Choices></View>')


def png(color=(10, 120, 200), size=(12, 9)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def make_project(client, lead, config=TEXT) -> int:
    r = client.post("/api/projects", json={"title": "storage", "label_config": config}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def s3_body(s3, project_id: int, bucket: str, **extra) -> dict:
    return {"project": project_id, "bucket": bucket, "s3_endpoint": s3.endpoint, "region_name": "us-east-1",
            "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, **extra}


def put_json(s3, bucket: str, key: str, value) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode())


def task_texts(project_id: int) -> list[str]:
    with read_session() as s:
        return sorted(t.data.get("text") for t in s.exec(sa.select(Task).where(Task.project_id == project_id))
                      .scalars())


def test_import_sync_makes_one_task_per_row_once_through_the_import_checks(client, lead, s3):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="tasks")
    put_json(s3, "tasks", "in/a.json", {"text": "one"})
    put_json(s3, "tasks", "in/b.json", [{"text": "two"}, {"data": {"text": "three"}}])
    s3.put_object(Bucket="tasks", Key="in/c.jsonl", Body=b'{"text": "four"}\n{"text": "five"}\n')
    put_json(s3, "tasks", "in/bad.json", {"text": 7})  # not text: the import's row check refuses it
    put_json(s3, "tasks", "in/deeper/d.json", {"text": "not scanned"})  # recursive_scan is off
    put_json(s3, "tasks", "in/skip.txt", {"text": "filtered out"})
    put_json(s3, "tasks", "elsewhere.json", {"text": "outside the prefix"})

    r = client.post("/api/storages/s3", json=s3_body(s3, pid, "tasks", prefix="in", regex_filter=r".*\.jsonl?$",
                                                     title="inbox"), headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    storage = r.get_json()
    assert storage["type"] == "s3" and storage["status"] == "initialized" and storage["presign"] is True
    assert storage["title"] == "inbox" and storage["project"] == pid and storage["presign_ttl"] == 1

    r = client.post(f"/api/storages/s3/{storage['id']}/sync", headers=lead.headers)
    assert r.status_code == 200, r.get_json()
    synced = r.get_json()
    assert synced["status"] == "completed_with_errors", synced
    assert synced["last_sync_count"] == 5, synced["traceback"]
    assert "in/bad.json" in synced["traceback"] and synced["last_sync"]
    assert task_texts(pid) == ["five", "four", "one", "three", "two"]
    with read_session() as s:
        links = s.exec(sa.select(StorageImportLink.key, StorageImportLink.row_index)).all()
    assert sorted(links) == [("in/a.json", 0), ("in/b.json", 0), ("in/b.json", 1), ("in/c.jsonl", 0),
                             ("in/c.jsonl", 1)]

    # a second sync makes nothing again; a new object only itself
    put_json(s3, "tasks", "in/e.json", {"text": "six"})
    r = client.post(f"/api/storages/s3/{storage['id']}/sync", headers=lead.headers)
    assert r.get_json()["last_sync_count"] == 1
    assert task_texts(pid) == ["five", "four", "one", "six", "three", "two"]
    r = client.get(f"/api/tasks?project={pid}&page_size=100", headers=lead.headers)
    files = {t["data"]["text"]: t["file_upload"] for t in r.get_json()["tasks"]}
    assert files["six"] == "in/e.json"

    # listed with the project's storages, in both lists
    assert [x["id"] for x in client.get(f"/api/storages/s3?project={pid}", headers=lead.headers).get_json()] \
        == [storage["id"]]
    assert [(x["id"], x["type"]) for x in client.get(f"/api/storages/?project={pid}",
                                                     headers=lead.headers).get_json()] == [(storage["id"], "s3")]


def _blob_project(client, lead, s3, bucket: str, **storage) -> tuple[int, dict[str, bytes]]:
    pid = make_project(client, lead, IMAGE)
    s3.create_bucket(Bucket=bucket)
    blobs = {f"cats/{i}.png": png((i * 40, 10, 10)) for i in range(3)}
    for key, body in blobs.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    r = client.post("/api/storages/s3", json=s3_body(s3, pid, bucket, prefix="cats", use_blob_urls=True, **storage),
                    headers=lead.headers)
    assert client.post(f"/api/storages/s3/{r.get_json()['id']}/sync", headers=lead.headers).get_json()[
        "last_sync_count"] == 3
    return pid, blobs


def test_blob_urls_are_served_through_the_resolve_proxy_which_redirects_to_a_presigned_url(
        client, lead, annotator, s3):
    pid, blobs = _blob_project(client, lead, s3, "pictures", presign_ttl=5)
    with read_session() as s:
        stored = {t.id: t.data["image"] for t in s.exec(sa.select(Task).where(Task.project_id == pid)).scalars()}
    assert sorted(stored.values()) == [f"s3://pictures/cats/{i}.png" for i in range(3)]  # the task keeps the URI

    # the API and the annotator's next task carry Label Studio's proxy URL; it redirects (303) to a
    # pre-signed URL valid presign_ttl minutes that fetches the object
    listed = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]
    nxt = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
    one = client.get(f"/api/tasks/{listed[0]['id']}", headers=lead.headers).get_json()
    for task in [*listed, nxt, one]:
        token = base64.urlsafe_b64encode(stored[task["id"]].encode()).decode()
        assert task["data"]["image"] == f"/tasks/{task['id']}/resolve/?fileuri={token}"
        r = client.get(task["data"]["image"], headers=annotator.headers)
        assert r.status_code == 303 and r.headers["Cache-Control"] == "no-store, max-age=300"
        url = r.headers["Location"]
        assert url.startswith(s3.endpoint + "/pictures/cats/") and "X-Amz-Expires=300" in url
        fetched = requests.get(url, timeout=10)
        assert fetched.status_code == 200 and fetched.content == blobs[stored[task["id"]].removeprefix("s3://pictures/")]
    # Label Studio's older /presign/ route and a plain URI answer the same (scripts call them)
    task_id, uri = next(iter(stored.items()))
    for path in (f"/tasks/{task_id}/presign/?fileuri={uri}", f"/tasks/{task_id}/presign/?fileuri={quote(uri, safe='')}"):
        assert client.get(path, headers=annotator.headers).status_code == 303
    # exports keep the URIs, as Label Studio's do
    exported = client.get(f"/api/projects/{pid}/export?exportType=JSON&download_all_tasks=true",
                          headers=lead.headers).get_json()
    assert sorted(t["data"]["image"] for t in exported) == sorted(stored.values())


def test_the_resolve_proxy_serves_only_the_task_s_own_objects_to_its_project_s_people(client, lead, annotator, s3):
    pid, _ = _blob_project(client, lead, s3, "private-pictures")
    s3.put_object(Bucket="private-pictures", Key="secret/payroll.csv", Body=b"salaries")
    with read_session() as s:
        task_id, uri = s.execute(sa.select(Task.id, Task.data).where(Task.project_id == pid)).first()
        uri = uri["image"]
    enc = lambda u: base64.urlsafe_b64encode(u.encode()).decode()  # noqa: E731
    assert client.get(f"/tasks/{task_id}/resolve/?fileuri={enc(uri)}", headers=annotator.headers).status_code == 303
    # another object of the same bucket, through a task that does not hold it: 404
    r = client.get(f"/tasks/{task_id}/resolve/?fileuri={enc('s3://private-pictures/secret/payroll.csv')}",
                   headers=annotator.headers)
    assert r.status_code == 404
    # the project restricted to its members: the annotator, not one, gets 404 (ids are not probed);
    # nobody signed in is sent to log in
    with write_session() as s:
        s.get(Project, pid).restricted = True
    r = client.get(f"/tasks/{task_id}/resolve/?fileuri={enc(uri)}", headers=annotator.headers)
    assert r.status_code == 404
    assert client.get(f"/tasks/{task_id}/resolve/?fileuri={enc(uri)}", headers=lead.headers).status_code == 303
    assert client.get(f"/tasks/{task_id}/resolve/?fileuri={enc(uri)}").status_code in (302, 401)
    assert client.get(f"/tasks/{task_id}/resolve/", headers=annotator.headers).status_code == 400


def test_with_presign_off_the_proxy_relays_the_bytes_and_ranges(client, lead, annotator, s3):
    pid, blobs = _blob_project(client, lead, s3, "relayed", presign=False)
    task = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]
    with read_session() as s:
        uri = s.get(Task, task["id"]).data["image"]
    body = blobs[uri.removeprefix("s3://relayed/")]
    r = client.get(task["data"]["image"], headers=annotator.headers)
    assert r.status_code == 200 and r.data == body and r.headers["Content-Type"] == "binary/octet-stream"
    assert "sandbox" in r.headers["Content-Security-Policy"] and r.headers["Accept-Ranges"] == "bytes"
    part = client.get(task["data"]["image"], headers={**annotator.headers, "Range": "bytes=4-11"})
    assert part.status_code == 206 and part.data == body[4:12]
    assert part.headers["Content-Range"] == f"bytes 4-11/{len(body)}"
    beyond = client.get(task["data"]["image"], headers={**annotator.headers, "Range": f"bytes={len(body) + 10}-"})
    assert beyond.status_code == 416


def test_credentials_are_sealed_and_never_returned(client, lead, s3):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="secret-bucket")
    body = s3_body(s3, pid, "secret-bucket", aws_session_token="session-token-xyz")
    created = client.post("/api/storages/s3", json=body, headers=lead.headers)
    assert created.status_code == 201
    sid = created.get_json()["id"]
    answers = [created, client.get(f"/api/storages/s3/{sid}", headers=lead.headers),
               client.get(f"/api/storages/s3?project={pid}", headers=lead.headers),
               client.get(f"/api/storages?project={pid}", headers=lead.headers),
               client.patch(f"/api/storages/s3/{sid}", json={"title": "renamed"}, headers=lead.headers),
               client.post(f"/api/storages/s3/{sid}/sync", headers=lead.headers)]
    for r in answers:
        text = r.get_data(as_text=True)
        assert r.status_code in (200, 201), text
        assert SECRET not in text and KEY_ID not in text and "session-token-xyz" not in text
        assert "aws_secret_access_key" not in text and "aws_access_key_id" not in text
    assert answers[1].get_json()["has_credentials"] is True
    with read_session() as s:
        row = s.get(Storage, sid)
    assert row.credentials and SECRET not in row.credentials and KEY_ID not in row.credentials
    # one key without the other is refused, as Label Studio refuses it
    r = client.patch(f"/api/storages/s3/{sid}", json={"aws_secret_access_key": ""}, headers=lead.headers)
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "aws_secret_access_key"


def test_endpoint_checked_at_save_and_before_each_sync(client, lead, s3, monkeypatch):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="checked")
    r = client.post("/api/storages/s3", json=s3_body(s3, pid, "checked", s3_endpoint="http://10.1.2.3:9000"),
                    headers=lead.headers)
    assert r.status_code == 400 and "refused" in r.get_json()["detail"]
    assert r.get_json()["errors"][0]["field"] == "s3_endpoint"
    r = client.post("/api/storages/s3", json=s3_body(s3, pid, "checked", s3_endpoint="file:///etc/passwd"),
                    headers=lead.headers)
    assert r.status_code == 400
    sid = client.post("/api/storages/s3", json=s3_body(s3, pid, "checked"), headers=lead.headers).get_json()["id"]
    monkeypatch.setenv("LABELFAB_OUTBOUND_ALLOW", "")  # the address is no longer allowed
    get_settings.cache_clear()
    try:
        r = client.post(f"/api/storages/s3/{sid}/sync", headers=lead.headers)
        assert r.status_code == 422 and "loopback" in r.get_json()["detail"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    got = client.get(f"/api/storages/s3/{sid}", headers=lead.headers).get_json()
    assert got["status"] == "failed" and "loopback" in got["traceback"]


def test_validate_tries_the_connection_and_saves_nothing(client, lead, s3):
    pid = make_project(client, lead)
    r = client.post("/api/storages/s3/validate", json=s3_body(s3, pid, "no-such-bucket"), headers=lead.headers)
    assert r.status_code == 400 and r.get_json()["detail"] == "Cannot find bucket no-such-bucket in S3"
    s3.create_bucket(Bucket="here")
    r = client.post("/api/storages/s3/validate", json=s3_body(s3, pid, "here", prefix="missing"),
                    headers=lead.headers)
    assert r.status_code == 400 and r.get_json()["detail"] == "s3://here/missing not found."
    assert client.post("/api/storages/s3/validate", json=s3_body(s3, pid, "here"),
                       headers=lead.headers).status_code == 200
    r = client.post("/api/storages/s3/validate", json=s3_body(s3, pid, "Bad_Bucket!"), headers=lead.headers)
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "bucket"
    r = client.post("/api/storages/s3", json=s3_body(s3, pid, "here", secret_field=1), headers=lead.headers)
    assert r.status_code == 400 and "secret_field" in r.get_json()["detail"]
    with read_session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Storage)).scalar_one() == 0


def test_only_leads_of_the_project_and_admins_manage_storages(client, lead, annotator, admin, make_user, s3):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="mine")
    other = make_user("other-lead@example.com", Role.lead)
    for who in (annotator, other):
        assert client.post("/api/storages/s3", json=s3_body(s3, pid, "mine"), headers=who.headers).status_code \
            in (403, 404)
        assert client.get(f"/api/storages/s3?project={pid}", headers=who.headers).status_code in (403, 404)
    r = client.post("/api/storages/s3", json=s3_body(s3, pid, "mine"), headers=admin.headers)
    assert r.status_code == 201
    sid = r.get_json()["id"]
    for who in (annotator, other):
        assert client.get(f"/api/storages/s3/{sid}", headers=who.headers).status_code == 404
        assert client.post(f"/api/storages/s3/{sid}/sync", headers=who.headers).status_code == 404
        assert client.delete(f"/api/storages/s3/{sid}", headers=who.headers).status_code == 404
    # an import storage's id is not an export storage's
    assert client.get(f"/api/storages/export/s3/{sid}", headers=lead.headers).status_code == 404
    assert client.delete(f"/api/storages/s3/{sid}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/storages/s3/{sid}", headers=lead.headers).status_code == 404


def _annotate(client, lead, pid: int) -> list[int]:
    r = client.post(f"/api/projects/{pid}/import", json=[{"text": "good film"}, {"text": "bad film"}],
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    tasks = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]
    ids = []
    for task, label in zip(tasks, ("pos", "neg"), strict=True):
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
        r = client.post(f"/api/tasks/{task['id']}/annotations", json={"result": result}, headers=lead.headers)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    return ids


def test_export_sync_writes_each_annotation_and_each_version(client, lead, s3):
    pid = make_project(client, lead)
    client.patch(f"/api/projects/{pid}", json={"maximum_annotations": 1}, headers=lead.headers)
    ann_ids = _annotate(client, lead, pid)
    s3.create_bucket(Bucket="out")
    r = client.post("/api/storages/export/s3", json=s3_body(s3, pid, "out", prefix="labels"), headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    sid = r.get_json()["id"]
    assert r.get_json()["can_delete_objects"] is None and "presign" not in r.get_json()
    r = client.post(f"/api/storages/export/s3/{sid}/sync", headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "completed" and r.get_json()["last_sync_count"] == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="out")["Contents"])
    assert keys == sorted(f"labels/{i}" for i in ann_ids)
    body = json.loads(s3.get_object(Bucket="out", Key=f"labels/{ann_ids[0]}")["Body"].read())
    assert body["id"] == ann_ids[0] and body["result"][0]["value"] == {"choices": ["pos"]}
    assert body["task"]["data"] == {"text": "good film"} and "annotations" not in body["task"]
    assert body["completed_by"]["email"] == lead.email and body["completed_by"]["id"] == lead.id

    # a published version is written once, with its files
    tasks = client.get(f"/api/tasks?project={pid}&fields=all", headers=lead.headers).get_json()["tasks"]
    accept(pid, final={t["id"]: (t["annotations"][0]["result"], "single") for t in tasks})
    r = client.post(f"/api/projects/{pid}/datasets", json={"note": "v1"}, headers=lead.headers)
    assert r.status_code in (200, 201), r.get_json()
    r = client.post(f"/api/storages/export/s3/{sid}/sync", headers=lead.headers)
    assert r.get_json()["meta"]["dataset_versions"] == [1]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="out")["Contents"]}
    assert "labels/datasets/v1/dataset.jsonl" in keys
    version = client.get(f"/api/projects/{pid}/datasets/1/download?format=jsonl", headers=lead.headers)
    assert s3.get_object(Bucket="out", Key="labels/datasets/v1/dataset.jsonl")["Body"].read() == version.data


def test_local_files_storage_reads_only_under_the_allowed_root(client, lead, tmp_path, monkeypatch):
    root = tmp_path / "allowed"
    (root / "batch" / "more").mkdir(parents=True)
    (root / "batch" / "a.json").write_text(json.dumps({"text": "local one"}))
    (root / "batch" / "more" / "b.jsonl").write_text('{"text": "local two"}\n')
    outside = tmp_path / "outside"
    outside.mkdir()
    pid = make_project(client, lead)
    r = client.post("/api/storages/localfiles", json={"project": pid, "path": str(root / "batch")},
                    headers=lead.headers)
    assert r.status_code == 400 and "LABELFAB_LOCAL_FILES_DOCUMENT_ROOT" in r.get_json()["detail"]
    monkeypatch.setenv("LABELFAB_LOCAL_FILES_DOCUMENT_ROOT", str(root))
    get_settings.cache_clear()
    try:
        for path in (str(outside), str(root), str(root / "batch" / ".." / ".." / "outside"), "relative/x"):
            r = client.post("/api/storages/localfiles", json={"project": pid, "path": path}, headers=lead.headers)
            assert r.status_code == 400, path
        r = client.post("/api/storages/localfiles", json={"project": pid, "path": str(root / "batch")},
                        headers=lead.headers)
        assert r.status_code == 201, r.get_json()
        sid = r.get_json()["id"]
        assert r.get_json()["type"] == "localfiles" and r.get_json()["path"] == str(root / "batch")
        r = client.post(f"/api/storages/localfiles/{sid}/sync", headers=lead.headers)
        assert r.get_json()["status"] == "completed" and r.get_json()["last_sync_count"] == 2
        assert task_texts(pid) == ["local one", "local two"]
        assert client.post(f"/api/storages/localfiles/{sid}/sync",
                           headers=lead.headers).get_json()["last_sync_count"] == 0

        # blobs: images stored as media, as an upload's are
        pics = root / "pics"
        pics.mkdir()
        (pics / "x.png").write_bytes(png())
        ipid = make_project(client, lead, IMAGE)
        r = client.post("/api/storages/localfiles", json={"project": ipid, "path": str(pics), "use_blob_urls": True},
                        headers=lead.headers)
        r = client.post(f"/api/storages/localfiles/{r.get_json()['id']}/sync", headers=lead.headers)
        assert r.get_json()["last_sync_count"] == 1
        task = client.get(f"/api/tasks?project={ipid}", headers=lead.headers).get_json()["tasks"][0]
        assert task["data"]["image"].startswith(f"/media/{ipid}/")
        assert client.get(task["data"]["image"], headers=lead.headers).data == png()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_storage_types_as_label_studio_lists_them(client, lead):
    assert client.get("/api/storages/types", headers=lead.headers).get_json() == [
        {"name": "s3", "title": "AWS S3"}, {"name": "localfiles", "title": "Local files"}]
    assert client.get("/api/storages/export/types", headers=lead.headers).get_json() == [
        {"name": "s3", "title": "AWS S3"}]


@pytest.mark.parametrize("body", [{"presign_ttl": 0}, {"presign_ttl": "5"}, {"use_blob_urls": "yes"},
                                  {"regex_filter": "("}, {"title": "x" * 300}, {"bucket": ["a"]}, []])
def test_bad_fields_are_400_naming_the_field(client, lead, s3, body):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="fields")
    sent = {**s3_body(s3, pid, "fields"), **body} if isinstance(body, dict) else body
    r = client.post("/api/storages/s3", json=sent, headers=lead.headers)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["detail"]


def test_media_rows_unchanged_by_blob_sync(client, lead, s3):
    """An S3 blob task points at the object: nothing is copied into the media store."""
    pid = make_project(client, lead, IMAGE)
    s3.create_bucket(Bucket="nocopy")
    s3.put_object(Bucket="nocopy", Key="a.png", Body=png())
    sid = client.post("/api/storages/s3", json=s3_body(s3, pid, "nocopy", use_blob_urls=True),
                      headers=lead.headers).get_json()["id"]
    assert client.post(f"/api/storages/s3/{sid}/sync", headers=lead.headers).get_json()["last_sync_count"] == 1
    with read_session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Media)).scalar_one() == 0


def test_ids_past_an_integer_column_and_lone_surrogates_are_refused(client, lead, s3):
    pid = make_project(client, lead)
    s3.create_bucket(Bucket="bounds")
    for url in ("/api/storages/s3/2147483648", "/api/storages/export/s3/99999999999999999999",
                "/api/storages/localfiles/2147483648/sync"):
        r = client.post(url, headers=lead.headers) if url.endswith("sync") else client.get(url, headers=lead.headers)
        assert r.status_code == 404, url
    r = client.post("/api/storages/s3", data=json.dumps(s3_body(s3, pid, "bounds")).replace('"bounds"', '"b\\ud800"'),
                    headers=lead.headers, content_type="application/json")
    assert r.status_code == 422  # the app's strict JSON refuses them before any storage code
    with read_session() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Storage)).scalar_one() == 0


def test_a_storage_without_keys_never_uses_the_servers_credentials(client, lead, s3, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-servers-own-secret")
    pid = make_project(client, lead, IMAGE)
    s3.create_bucket(Bucket="public")
    s3.put_object(Bucket="public", Key="p.png", Body=png(), ACL="public-read")
    body = {"project": pid, "bucket": "public", "s3_endpoint": s3.endpoint, "use_blob_urls": True}
    r = client.post("/api/storages/s3", json=body, headers=lead.headers)
    assert r.status_code == 201 and r.get_json()["has_credentials"] is False
    assert client.post(f"/api/storages/s3/{r.get_json()['id']}/sync", headers=lead.headers).get_json()[
        "last_sync_count"] == 1
    proxy = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]["data"]["image"]
    url = client.get(proxy, headers=lead.headers).headers["Location"]
    assert url == f"{s3.endpoint}/public/p.png"  # unsigned: the server's key is in no request
    assert requests.get(url, timeout=10).content == png()
