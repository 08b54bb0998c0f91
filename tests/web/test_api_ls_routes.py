"""Label Studio's routes that labelfab lacked, over REST (the details the SDK tests do not see):
whoami, version, users, ``POST /api/tasks``, predictions (PATCH, DELETE, bulk import), a
project's config check, ``?title=``, members removed by query, export snapshots, and DELETE that
deletes."""

from __future__ import annotations

import json

import pytest

from labeling.db import read_session
from labeling.models import ExportSnapshot, Prediction, Task
from labeling.settings import get_settings

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


def _import(client, lead, project_id, rows) -> list[int]:
    r = client.post(f"/api/projects/{project_id}/import?return_task_ids=true", json=rows, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["task_ids"]


# --------------------------------------------------------------------------- users, version


LS_USER_KEYS = {"id", "first_name", "last_name", "username", "email", "last_activity", "custom_hotkeys", "avatar",
                "initials", "phone", "active_organization", "active_organization_meta", "allow_newsletters",
                "date_joined"}


def test_whoami_answers_label_studio_user_keys_and_the_token_scope(client, lead):
    r = client.get("/api/current-user/whoami", headers=lead.headers)
    assert r.status_code == 200
    me = r.get_json()
    assert LS_USER_KEYS <= set(me)
    assert (me["id"], me["email"], me["username"], me["role"], me["token_scope"]) == (
        lead.id, lead.email, lead.email, "lead", "full")
    assert client.get("/api/current-user/whoami").status_code == 401


def test_version_has_label_studio_keys_and_labelfabs_own(client, annotator):
    v = client.get("/api/version", headers=annotator.headers).get_json()
    assert v["release"] == "1.23.2" and v["edition"] == "Community"
    assert {"label-studio-os-package", "label-studio-os-backend", "label-studio-converter"} <= set(v)
    from importlib import metadata
    assert v["labelfab"]["version"] == metadata.version("labelfab")


def test_users_for_admins_in_label_studio_shape(client, admin, lead, annotator):
    r = client.get("/api/users", headers=admin.headers)
    assert r.status_code == 200
    listed = {u["email"]: u for u in r.get_json()}
    assert set(listed) == {admin.email, lead.email, annotator.email}
    assert LS_USER_KEYS | {"role", "is_active"} <= set(listed[lead.email])
    one = client.get(f"/api/users/{annotator.id}", headers=admin.headers)
    assert one.status_code == 200 and one.get_json()["role"] == "annotator"
    assert client.get("/api/users/999999", headers=admin.headers).status_code == 404
    assert client.get(f"/api/users/{annotator.id}", headers=lead.headers).status_code == 403


def test_patch_a_user_takes_first_name_and_refuses_what_it_cannot_change(client, admin, annotator):
    url = f"/api/users/{annotator.id}"
    r = client.patch(url, json={"first_name": "Ann Smith", "role": "reviewer"}, headers=admin.headers)
    assert r.status_code == 200 and (r.get_json()["first_name"], r.get_json()["role"]) == ("Ann Smith", "reviewer")
    assert r.get_json()["initials"] == "as"
    for body in ({"phone": "123"}, {"last_name": "Smith"}, {"is_active": "no"}, {"id": annotator.id + 1},
                 {"first_name": "x" * 300}, {"first_name": 5}):
        r = client.patch(url, json=body, headers=admin.headers)
        assert r.status_code == 422, body
    got = client.get(url, headers=admin.headers).get_json()
    assert (got["first_name"], got["is_active"], got["phone"]) == ("Ann Smith", True, "")


# --------------------------------------------------------------------------- projects


def test_projects_list_filters_by_title_any_case_and_keeps_it_in_next(client, lead):
    for title in ("Sentiment A", "sentiment B", "Cats", "100% sure", "under_score", "Über Straße"):
        assert client.post("/api/projects", json={"title": title, "label_config": TEXT},
                           headers=lead.headers).status_code == 201
    found = client.get("/api/projects?title=SENTIMENT", headers=lead.headers).get_json()
    assert found["count"] == 2 and {p["title"] for p in found["results"]} == {"Sentiment A", "sentiment B"}
    # LIKE wildcards are matched as characters
    assert [p["title"] for p in client.get("/api/projects?title=%25", headers=lead.headers).get_json()["results"]] == [
        "100% sure"]
    assert [p["title"] for p in client.get("/api/projects?title=_s", headers=lead.headers).get_json()["results"]] == [
        "under_score"]
    assert [p["title"] for p in client.get("/api/projects?title=%C3%BCBER", headers=lead.headers).get_json()[
        "results"]] == ["Über Straße"]
    page = client.get("/api/projects?title=sentiment&page_size=1", headers=lead.headers).get_json()
    assert "title=sentiment" in page["next"]
    assert client.get("/api/projects?title=" + "x" * 300, headers=lead.headers).status_code == 422
    ids = [p["id"] for p in found["results"]]
    by_ids = client.get(f"/api/projects?ids={ids[0]}", headers=lead.headers).get_json()
    assert [p["id"] for p in by_ids["results"]] == [ids[0]]


def test_project_validate_checks_a_config_against_its_labels(client, lead, annotator, project_id):
    _import(client, lead, project_id, [{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]}])
    url = f"/api/projects/{project_id}/validate"
    same = client.post(url, json={"label_config": TEXT}, headers=lead.headers)
    assert same.status_code == 200 and same.get_json() == {"config_essential_data_has_changed": False}
    added = TEXT.replace('<Choice value="neg"/>', '<Choice value="neg"/><Choice value="neutral"/>')
    r = client.post(url, json={"label_config": added}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json() == {"config_essential_data_has_changed": True}
    dropped = TEXT.replace('<Choice value="pos"/>', "")  # 'pos' is used by an annotation
    r = client.post(url, json={"label_config": dropped}, headers=lead.headers)
    assert r.status_code == 422 and "pos" in json.dumps(r.get_json())
    assert client.post(url, json={"label_config": ""}, headers=lead.headers).status_code == 422
    assert client.post(url, json={"label_config": TEXT}, headers=annotator.headers).status_code in (403, 404)
    # nothing was saved
    assert client.get(f"/api/projects/{project_id}", headers=lead.headers).get_json()["label_config"] == TEXT


def test_project_validate_answers_what_save_answers(client, lead, project_id):
    """A label only a prediction uses may go (Label Studio counts annotations and drafts only); a
    label an annotation uses may not: the check and Save (PATCH) agree, with the same words."""
    _import(client, lead, project_id, [{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]},
                                       {"data": {"text": "b"}, "predictions": [{"result": choice("neg")}]}])
    url = f"/api/projects/{project_id}/validate"
    without_pos = TEXT.replace('<Choice value="pos"/>', "")
    check = client.post(url, json={"label_config": without_pos}, headers=lead.headers)
    save = client.patch(f"/api/projects/{project_id}", json={"label_config": without_pos}, headers=lead.headers)
    assert check.status_code == save.status_code == 422
    assert check.get_json()["detail"] == save.get_json()["detail"]
    assert "label 'pos' is used by existing annotations" in save.get_json()["detail"]
    without_neg = TEXT.replace('<Choice value="neg"/>', "")
    check = client.post(url, json={"label_config": without_neg}, headers=lead.headers)
    assert check.status_code == 200 and check.get_json() == {"config_essential_data_has_changed": True}
    save = client.patch(f"/api/projects/{project_id}", json={"label_config": without_neg}, headers=lead.headers)
    assert save.status_code == 200 and save.get_json()["label_config"] == without_neg
    # the prediction keeps its stored result
    (prediction,) = client.get(f"/api/predictions?project={project_id}", headers=lead.headers).get_json()
    assert prediction["result"] == choice("neg")


def test_post_tasks_creates_one_task_through_the_importer(client, lead, annotator, project_id):
    r = client.post("/api/tasks", json={"project": project_id, "data": {"text": "hello"}, "meta": {"src": "x"}},
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    task = r.get_json()
    assert task["data"] == {"text": "hello"} and task["project"] == project_id and task["meta"] == {"src": "x"}
    with read_session() as s:
        assert s.get(Task, task["id"]).data == {"text": "hello"}
    # the importer's checks apply: a field the config reads is missing, an unknown key, no project
    r = client.post("/api/tasks", json={"project": project_id, "data": {"other": "x"}}, headers=lead.headers)
    assert r.status_code == 422 and "text" in json.dumps(r.get_json())
    r = client.post("/api/tasks", json={"project": project_id, "data": {"text": "x"}, "bogus": 1}, headers=lead.headers)
    assert r.status_code == 422
    assert client.post("/api/tasks", json={"data": {"text": "x"}}, headers=lead.headers).status_code == 422
    r = client.post("/api/tasks", json={"project": project_id, "data": {"text": "x"}}, headers=annotator.headers)
    assert r.status_code in (403, 404)


# --------------------------------------------------------------------------- predictions


def test_patch_and_delete_a_prediction(client, lead, annotator, project_id):
    (tid,) = _import(client, lead, project_id, [{"text": "a"}])
    p = client.post("/api/predictions", json={"task": tid, "result": choice("pos"), "score": 0.5,
                                              "model_version": "m1"}, headers=lead.headers).get_json()
    r = client.patch(f"/api/predictions/{p['id']}", json={"result": choice("neg"), "score": 0.9,
                                                          "model_version": "m2"}, headers=lead.headers)
    assert r.status_code == 200
    assert (r.get_json()["result"], r.get_json()["score"], r.get_json()["model_version"]) == (choice("neg"), 0.9, "m2")
    bad = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["nope"]}}]
    assert client.patch(f"/api/predictions/{p['id']}", json={"result": bad}, headers=lead.headers).status_code == 422
    assert client.patch(f"/api/predictions/{p['id']}", json={"score": "high"}, headers=lead.headers).status_code == 422
    assert client.patch(f"/api/predictions/{p['id']}", json={"score": 0.1},
                        headers=annotator.headers).status_code in (403, 404)
    with read_session() as s:
        assert s.get(Prediction, p["id"]).score == 0.9  # the refused changes changed nothing
    assert client.delete(f"/api/predictions/{p['id']}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/predictions/{p['id']}", headers=lead.headers).status_code == 404


def test_import_predictions_all_or_nothing(client, lead, make_user, project_id):
    ids = _import(client, lead, project_id, [{"text": "a"}, {"text": "b"}])
    url = f"/api/projects/{project_id}/import/predictions"
    rows = [{"task": ids[0], "result": choice("pos"), "score": 0.7, "model_version": "v1"},
            {"task": ids[1], "result": choice("neg"), "model_version": "v1"}]
    r = client.post(url, json=rows, headers=lead.headers)
    assert r.status_code == 201 and r.get_json() == {"created": 2}
    other = client.post("/api/projects", json={"title": "other", "label_config": TEXT}, headers=lead.headers).get_json()
    (foreign,) = _import(client, lead, other["id"], [{"text": "c"}])
    r = client.post(url, json=[{"task": ids[0], "result": choice("pos")}, {"task": foreign, "result": choice("pos")}],
                    headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["row"] == 1
    r = client.post(url, json=[{"task": ids[0], "result": [{"bad": 1}]}], headers=lead.headers)
    assert r.status_code == 422
    assert client.post(url, json={"task": ids[0]}, headers=lead.headers).status_code == 422
    with read_session() as s:
        assert s.query(Prediction).count() == 2  # nothing of the refused requests was stored


# --------------------------------------------------------------------------- members


def test_remove_a_member_by_query(client, lead, annotator, project_id):
    client.post(f"/api/projects/{project_id}/members", json={"user": annotator.email}, headers=lead.headers)
    r = client.delete(f"/api/projects/{project_id}/members?user={annotator.id}", headers=lead.headers)
    assert r.status_code == 204
    assert client.get(f"/api/projects/{project_id}/members", headers=lead.headers).get_json() == []
    assert client.delete(f"/api/projects/{project_id}/members?user={annotator.id}",
                         headers=lead.headers).status_code == 404
    assert client.delete(f"/api/projects/{project_id}/members", headers=lead.headers).status_code == 422


# --------------------------------------------------------------------------- export snapshots


def test_snapshot_file_equals_the_direct_export_and_is_written_once(client, lead, project_id):
    ids = _import(client, lead, project_id, [
        {"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]},
        {"data": {"text": "b"}}])
    r = client.post(f"/api/projects/{project_id}/exports", json={"title": "all"}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    snap = r.get_json()
    assert snap["status"] == "completed" and snap["counters"] == {"task_number": 2} and snap["title"] == "all"
    assert snap["created_by"]["id"] == lead.id and len(snap["md5"]) == 32
    assert {"task_filter_options", "annotation_filter_options", "serialization_options"} <= set(snap)
    stored = client.get(f"/api/projects/{project_id}/exports/{snap['id']}/download?exportType=JSON",
                        headers=lead.headers)
    direct = client.get(f"/api/projects/{project_id}/export?exportType=JSON&download_all_tasks=true",
                        headers=lead.headers)
    assert stored.status_code == 200 and stored.data == direct.data
    assert sorted(t["id"] for t in json.loads(stored.data)) == ids
    # the file stays as it was when the project changes
    _import(client, lead, project_id, [{"text": "c"}])
    again = client.get(f"/api/projects/{project_id}/exports/{snap['id']}/download", headers=lead.headers)
    assert again.data == stored.data
    import hashlib
    assert hashlib.md5(stored.data).hexdigest() == snap["md5"]


def test_snapshot_task_filters_are_applied_and_others_refused(client, lead, project_id):
    _import(client, lead, project_id, [
        {"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]}, {"data": {"text": "b"}}])
    url = f"/api/projects/{project_id}/exports"
    r = client.post(url, json={"task_filter_options": {"only_with_annotations": True}}, headers=lead.headers)
    snap = r.get_json()
    assert r.status_code == 201 and snap["counters"] == {"task_number": 1}
    body = client.get(f"{url}/{snap['id']}/download", headers=lead.headers).data
    direct = client.get(f"/api/projects/{project_id}/export?exportType=JSON", headers=lead.headers).data
    assert body == direct
    r = client.post(url, json={"task_filter_options": {"annotated": "exclude"}}, headers=lead.headers)
    texts = [t["data"]["text"] for t in json.loads(client.get(f"{url}/{r.get_json()['id']}/download",
                                                              headers=lead.headers).data)]
    assert texts == ["b"]
    for refused in ({"annotation_filter_options": {"ground_truth": True}},
                    {"task_filter_options": {"view": 3}},
                    {"task_filter_options": {"annotated": "sometimes"}},
                    {"serialization_options": {"include_annotation_history": True}},
                    {"unknown": 1}):
        r = client.post(url, json=refused, headers=lead.headers)
        assert r.status_code == 422, refused
    with read_session() as s:
        assert s.query(ExportSnapshot).count() == 2


def test_snapshots_list_get_convert_and_delete(client, lead, annotator, project_id):
    _import(client, lead, project_id, [{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]}])
    url = f"/api/projects/{project_id}/exports"
    first = client.post(url, json={"title": "one"}, headers=lead.headers).get_json()
    second = client.post(url, json={}, headers=lead.headers).get_json()
    listed = client.get(url, headers=lead.headers).get_json()
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    assert "task_filter_options" not in listed[0]  # Label Studio's list shape
    assert client.get(f"{url}/{first['id']}", headers=lead.headers).get_json()["title"] == "one"
    csv = client.get(f"{url}/{first['id']}/download?exportType=CSV", headers=lead.headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    header = csv.data.decode().splitlines()[0]
    assert "label" in header and "text" in header
    assert client.get(f"{url}/{first['id']}/download?exportType=PARQUET", headers=lead.headers).status_code == 422
    assert client.get(f"{url}/{first['id']}/download?exportType=COCO", headers=lead.headers).status_code == 422
    assert client.get(url, headers=annotator.headers).status_code in (403, 404)
    path = get_settings().data_dir / f"exports/{project_id}/snapshot-{first['id']}.json"
    assert path.exists()
    assert client.delete(f"{url}/{first['id']}", headers=lead.headers).status_code == 204
    assert not path.exists()
    assert client.get(f"{url}/{first['id']}", headers=lead.headers).status_code == 404
    assert [s["id"] for s in client.get(url, headers=lead.headers).get_json()] == [second["id"]]
    other = client.post("/api/projects", json={"title": "o", "label_config": TEXT}, headers=lead.headers).get_json()
    assert client.get(f"/api/projects/{other['id']}/exports/{second['id']}", headers=lead.headers).status_code == 404


def test_snapshot_csv_cells_are_neutralised_unless_raw(client, lead, project_id):
    _import(client, lead, project_id, [{"data": {"text": "=HYPERLINK(\"http://x\")"},
                                        "annotations": [{"result": choice("pos")}]}])
    snap = client.post(f"/api/projects/{project_id}/exports", json={}, headers=lead.headers).get_json()
    url = f"/api/projects/{project_id}/exports/{snap['id']}/download"
    import csv
    import io
    safe = list(csv.DictReader(io.StringIO(client.get(f"{url}?exportType=CSV", headers=lead.headers).data.decode())))
    assert safe[0]["text"] == "'=HYPERLINK(\"http://x\")" and safe[0]["label"] == "pos"
    assert safe[0]["id"].isdigit()  # numbers stay numbers
    raw = list(csv.DictReader(io.StringIO(client.get(f"{url}?exportType=CSV&csv_raw=true",
                                                     headers=lead.headers).data.decode())))
    assert raw[0]["text"] == "=HYPERLINK(\"http://x\")"
    tsv = list(csv.DictReader(io.StringIO(client.get(f"{url}?exportType=TSV", headers=lead.headers).data.decode()),
                              delimiter="\t"))
    assert tsv[0]["text"] == "'=HYPERLINK(\"http://x\")"


# --------------------------------------------------------------------------- delete


def test_delete_deletes_everything_in_one_go_and_archive_is_separate(client, lead, admin, make_user, project_id):
    other_lead = make_user("other@example.com", "lead")
    ids = _import(client, lead, project_id, [{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}],
                                              "predictions": [{"result": choice("pos")}]}])
    snap = client.post(f"/api/projects/{project_id}/exports", json={}, headers=lead.headers).get_json()
    folder = get_settings().data_dir / "exports" / str(project_id)
    assert folder.exists()
    assert client.delete(f"/api/projects/{project_id}", headers=other_lead.headers).status_code in (403, 404)
    r = client.patch(f"/api/projects/{project_id}", json={"is_archived": True}, headers=lead.headers)
    assert r.get_json()["is_archived"] is True
    assert client.get(f"/api/tasks/{ids[0]}", headers=lead.headers).status_code == 200  # archived keeps all
    assert client.delete(f"/api/projects/{project_id}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/projects/{project_id}", headers=admin.headers).status_code == 404
    assert client.get(f"/api/tasks/{ids[0]}", headers=admin.headers).status_code == 404
    with read_session() as s:
        assert s.query(Task).count() == 0 and s.query(Prediction).count() == 0
        assert s.get(ExportSnapshot, snap["id"]) is None
    assert not folder.exists()


def test_delete_refuses_while_versions_are_published_unless_forced(client, lead, project_id):
    from tests.labeling.test_exports import accept

    _import(client, lead, project_id, [{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]}])
    accept(project_id)
    assert client.post(f"/api/projects/{project_id}/datasets", json={"note": "v1"},
                       headers=lead.headers).status_code == 201
    r = client.delete(f"/api/projects/{project_id}", headers=lead.headers)
    assert r.status_code == 409 and "force" in r.get_json()["detail"]
    assert client.get(f"/api/projects/{project_id}/datasets/1", headers=lead.headers).status_code == 200
    assert client.delete(f"/api/projects/{project_id}?force=true", headers=lead.headers).status_code == 204
    assert client.get(f"/api/projects/{project_id}", headers=lead.headers).status_code == 404


def test_bad_input_on_the_new_routes_is_a_4xx(client, lead, admin, project_id):
    (tid,) = _import(client, lead, project_id, [{"text": "a"}])
    pid = client.post("/api/predictions", json={"task": tid, "result": choice("pos")}, headers=lead.headers).get_json()["id"]
    surrogate = b'"\\ud800"'
    big = 2**64
    cases = [
        ("post", "/api/tasks", {"project": big, "data": {"text": "x"}}),
        ("post", "/api/tasks", {"project": project_id, "data": {"text": "x" * 10}, "meta": "not an object"}),
        ("post", "/api/tasks", [1, 2]),
        ("patch", f"/api/predictions/{pid}", {"score": big * big}),
        ("patch", f"/api/predictions/{pid}", {"task": tid + 1}),
        ("patch", f"/api/predictions/{pid}", {"probs": {"pos": "x"}}),
        ("post", f"/api/projects/{project_id}/import/predictions", [{"task": big, "result": choice("pos")}]),
        ("post", f"/api/projects/{project_id}/import/predictions", [{"task": tid, "result": "x", "score": True}]),
        ("post", f"/api/projects/{project_id}/import/predictions", [1]),
        ("post", f"/api/projects/{project_id}/validate", {"label_config": 5}),
        ("post", f"/api/projects/{project_id}/validate", {"label_config": "<View><oops"}),
        ("post", f"/api/projects/{project_id}/exports", {"title": 5}),
        ("post", f"/api/projects/{project_id}/exports", {"title": "x" * 3000}),
        ("post", f"/api/projects/{project_id}/exports", {"task_filter_options": []}),
        ("post", f"/api/projects/{project_id}/exports", [1]),
    ]
    for method, url, body in cases:
        r = getattr(client, method)(url, json=body, headers=lead.headers)
        assert 400 <= r.status_code < 500 and "detail" in r.get_json(), (url, body, r.status_code)
    raw = b'{"project": %d, "data": {"text": %s}}' % (project_id, surrogate)
    r = client.post("/api/tasks", data=raw, content_type="application/json", headers=lead.headers)
    assert r.status_code == 422
    raw = b'{"title": %s}' % surrogate
    r = client.post(f"/api/projects/{project_id}/exports", data=raw, content_type="application/json",
                    headers=lead.headers)
    assert r.status_code == 422
    for url in (f"/api/projects?ids={big}", "/api/projects?ids=1,x", f"/api/projects/{project_id}/members?user={big}",
                f"/api/projects/{project_id}/exports/1/download?exportType=NOPE"):
        method = "delete" if "members" in url else "get"
        r = getattr(client, method)(url, headers=admin.headers)
        assert 400 <= r.status_code < 500, (url, r.status_code)
    with read_session() as s:
        assert s.query(Task).count() == 1 and s.query(ExportSnapshot).count() == 0
