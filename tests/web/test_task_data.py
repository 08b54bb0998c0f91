"""Task data as the database stores it (JSON text; PostgreSQL's GIN index ``ix_task_data_gin``
reads it as ``jsonb``): what an import stores comes back equal as JSON objects from the API and
the exports and hashes as it was, and what ``jsonb`` cannot hold (a NUL character) is refused by
row with a 422, never a 500 (the index's cast failed inside COPY). Run on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa

from labeling import exports, projects
from labeling.canonical import content_hash
from labeling.db import read_session
from labeling.models import Task
from tests.labeling.test_exports import TEXT, accept, choice, rows

ROWS = [
    {"text": "plain"},
    {"text": "héllo wörld, 日本語, 🙂", "zeta": 1, "alpha": {"b": [1, 2.5, None, True, "x"], "a": {}},
     "big": 12345678901234567, "small": 1e-7, "tenth": 0.1, "neg": -3, "list": []},
    {"text": "x" * 1_200_000 + "é"},  # more than 1 MB of text
    # a backslash before u0000 is text, not a NUL; quotes, tabs and newlines escaped
    {"text": "back\\u0000slash \"quoted\"\ttab\nline", "": "an empty key", "key with spaces": "v"},
]


def _import(client, lead, body, query: str = ""):
    project = projects.create_project(lead.user, title="data", label_config=TEXT)
    r = client.post(f"/api/projects/{project.id}/import?return_task_ids=true{query}", headers=lead.headers,
                    json=body)
    return project.id, r


def test_task_data_round_trips_through_the_api_and_the_exports(client, lead):
    body = [{"data": d, "annotations": [{"result": choice("pos")}]} for d in ROWS]
    pid, r = _import(client, lead, body)
    assert r.status_code == 201, r.get_json()
    ids = r.get_json()["task_ids"]
    for task_id, data in zip(ids, ROWS, strict=True):
        got = client.get(f"/api/tasks/{task_id}", headers=lead.headers)
        assert got.status_code == 200
        assert got.get_json()["data"] == data
    with read_session() as s:
        hashes = dict(s.execute(sa.select(Task.id, Task.content_hash).where(Task.project_id == pid)).all())
    assert hashes == {task_id: content_hash(data) for task_id, data in zip(ids, ROWS, strict=True)}
    # the same rows again: every one a duplicate (the hash is the data's, whatever the column type)
    again = client.post(f"/api/projects/{pid}/import?dedupe=true", headers=lead.headers, json=body).get_json()
    assert (again["task_count"], again["skipped_duplicates"]) == (0, len(ROWS))

    ls = client.get(f"/api/projects/{pid}/export?exportType=JSON", headers=lead.headers)
    assert ls.status_code == 200
    assert {t["id"]: t["data"] for t in ls.get_json()} == dict(zip(ids, ROWS, strict=True))
    accept(pid)
    got = {r["id"]: r["data"] for r in rows(exports.export(pid, lead.user, format="JSONL"))}
    assert got == dict(zip(ids, ROWS, strict=True))
    whole = json.loads(b"".join(exports.export(pid, lead.user, format="JSON")))
    assert {t["id"]: t["data"] for t in whole} == dict(zip(ids, ROWS, strict=True))


NUL_BODIES = [
    '[{"text": "fine"}, {"text": "bad\\u0000"}]',  # a value
    '[{"text": "fine"}, {"text": "ok", "k\\u0000": 1}]',  # a key
    '[{"text": "fine"}, {"data": {"text": "ok", "deep": {"list": ["a", "\\u0000"]}}}]',  # deep down
]


def test_a_nul_character_in_task_data_is_refused_by_row(client, lead):
    project = projects.create_project(lead.user, title="nul", label_config=TEXT)
    for raw in NUL_BODIES:
        for query in ("", "?dedupe=true"):
            r = client.post(f"/api/projects/{project.id}/import{query}", data=raw.encode(), headers=lead.headers,
                            content_type="application/json")
            assert r.status_code == 422, (raw, r.status_code, r.get_data(as_text=True)[:300])
            body = r.get_json()
            assert body["errors"][0]["row"] == 2, body
            assert body["errors"][0]["field"] == "data", body
            assert "NUL character" in body["detail"] + body["errors"][0]["detail"], body
    jsonl = b'{"text": "fine"}\n{"text": "bad\\u0000"}\n'  # a streamed file: the same check
    r = client.post(f"/api/projects/{project.id}/import", data={"file": [(io.BytesIO(jsonl), "rows.jsonl")]},
                    headers=lead.headers, content_type="multipart/form-data")
    assert r.status_code == 422 and "NUL character" in r.get_data(as_text=True), r.get_data(as_text=True)[:300]
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Task)).scalar_one() == 0
    r = client.post(f"/api/projects/{project.id}/import?skip_invalid=true", data=NUL_BODIES[0].encode(),
                    headers=lead.headers, content_type="application/json")
    assert r.status_code == 201 and r.get_json()["task_count"] == 1, r.get_json()
    with read_session() as s:
        task_id, data = s.execute(sa.select(Task.id, Task.data)).one()
    assert data == {"text": "fine"}
    r = client.patch(f"/api/tasks/{task_id}", data=b'{"data": {"text": "now \\u0000"}}', headers=lead.headers,
                     content_type="application/json")
    assert r.status_code == 422 and "NUL character" in r.get_json()["detail"], r.get_json()
    assert client.get(f"/api/tasks/{task_id}", headers=lead.headers).get_json()["data"] == {"text": "fine"}
