"""Exports and dataset versions over REST and in the browser (pulling them with labelfab-client:
tests/clients)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest

from labeling import datasets, projects, users
from labeling.errors import Forbidden
from labeling.models import Role
from labeling.settings import get_settings
from tests.conftest import login
from tests.labeling.test_exports import accept, make_project, task_ids, text_task


@pytest.fixture(autouse=True)
def no_stored_versions():
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


@pytest.fixture
def project(lead):
    pid = make_project(lead.user, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(12)])
    accept(pid, task_ids(pid)[:9])
    return pid


@pytest.fixture
def pipeline(make_user, lead, project):
    """A training pipeline: a lead of the project with a read-only token."""
    actor = make_user("pipeline@example.com", Role.lead)
    projects.set_member(lead.user, project, member=actor.email, role=Role.lead)
    actor.read_token = users.create_token(actor.id, name="pipeline", scope="read")
    actor.read_headers = {"Authorization": f"Token {actor.read_token}"}
    return actor


def publish(client_, lead, project, **body):
    response = client_.post(f"/api/projects/{project}/datasets", json=body or {"note": "v"}, headers=lead.headers)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


# --------------------------------------------------------------------------- export


def test_export_jsonl_and_parquet_streamed(client, lead, project):
    r = client.get(f"/api/projects/{project}/export?exportType=JSONL", headers=lead.headers)
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    assert r.headers["Content-Disposition"] == f'attachment; filename="project-{project}-jsonl.jsonl"'
    lines = [json.loads(x) for x in r.get_data().splitlines()]
    assert [x["id"] for x in lines] == task_ids(project)[:9]
    r = client.get(f"/api/projects/{project}/export/?exportType=PARQUET&label=neg&seed=3", headers=lead.headers)
    table = pq.read_table(io.BytesIO(r.get_data()))
    assert table.column("label").to_pylist() == ["neg"] * 3


def test_label_studio_json_export_is_unchanged(client, lead, project):
    """Called as Label Studio's clients do, exportType=JSON lists every annotated task."""
    r = client.get(f"/api/projects/{project}/export?exportType=JSON", headers=lead.headers)
    tasks = r.get_json()
    assert len(tasks) == 12 and tasks[0]["annotations"][0]["result"][0]["value"]["choices"] == ["pos"]
    clean = client.get(f"/api/projects/{project}/export?exportType=JSON&state=accepted", headers=lead.headers)
    assert len(clean.get_json()) == 9 and clean.get_json()[0]["label_source"] == "single"


def test_export_formats_list(client, lead, project):
    formats = {f["name"]: f for f in client.get(f"/api/projects/{project}/export/formats", headers=lead.headers).get_json()}
    assert not formats["JSONL"]["disabled"] and formats["COCO"]["disabled"]


@pytest.mark.parametrize("query, status, field", [
    ("exportType=XLSX", 422, "exportType"),
    ("exportType=COCO", 422, "exportType"),
    ("exportType=JSONL&state=bogus", 422, "state"),
    ("exportType=JSONL&since=soon", 422, "since"),
    ("exportType=JSONL&label=cat", 422, "label"),
    ("exportType=JSONL&ids=1", 422, "ids"),
    ("exportType=JSONL&state=review", 409, "state"),
])
def test_export_bad_input(client, lead, project, query, status, field):
    r = client.get(f"/api/projects/{project}/export?{query}", headers=lead.headers)
    assert r.status_code == status
    body = r.get_json()
    assert body["detail"] and body["errors"][0]["field"] == field


def test_export_needs_the_export_right(client, annotator, pipeline, project):
    assert client.get(f"/api/projects/{project}/export?exportType=JSONL", headers=annotator.headers).status_code == 403
    r = client.get(f"/api/projects/{project}/export?exportType=JSONL", headers=pipeline.read_headers)
    assert r.status_code == 403  # a read token pulls published versions, it does not export the live project
    assert client.get(f"/api/projects/{project}/export?exportType=JSONL").status_code == 401


# --------------------------------------------------------------------------- dataset versions


def test_publish_list_manifest_and_diff(client, lead, project, pipeline):
    r = client.post(f"/api/projects/{project}/datasets", json={"note": "first", "seed": 5, "split": [70, 20, 10]},
                    headers=lead.headers)
    assert r.status_code == 201
    m = r.get_json()
    assert m["version"] == 1 and m["note"] == "first" and m["split"]["seed"] == 5
    assert m["split"]["ratios"] == {"train": 0.7, "validation": 0.2, "test": 0.1}
    again = client.post(f"/api/projects/{project}/datasets", json={"seed": 5, "split": "70,20,10"}, headers=lead.headers)
    assert again.status_code == 200 and again.get_json()["sha256"] == m["sha256"]
    listed = client.get(f"/api/projects/{project}/datasets/", headers=pipeline.read_headers).get_json()
    assert [(v["version"], v["sha256"], v["n_items"]) for v in listed] == [(1, m["sha256"], 9)]
    assert client.get(f"/api/projects/{project}/datasets/latest", headers=pipeline.read_headers).get_json() == m
    accept(project, task_ids(project)[9:])
    publish(client, lead, project)
    d = client.get(f"/api/projects/{project}/datasets/diff?from=1&to=2", headers=pipeline.read_headers).get_json()
    assert (d["added"], d["removed"], d["relabeled"]) == (3, 0, 0)


def test_resplit_and_the_diff_of_moved_ids_over_rest(client, lead, project, pipeline, annotator):
    first = publish(client, lead, project, seed=5)
    assert first["split"]["generation"] == 1 and first["split"]["placed"] == 9
    r = client.post(f"/api/projects/{project}/datasets", json={"seed": 6}, headers=lead.headers)
    assert r.status_code == 409 and "re-split first" in r.get_json()["detail"]
    r = client.post(f"/api/projects/{project}/datasets/resplit", json={"seed": 6}, headers=annotator.headers)
    assert r.status_code == 403
    r = client.post(f"/api/projects/{project}/datasets/resplit", json={"seed": 6}, headers=pipeline.read_headers)
    assert r.status_code == 403
    r = client.post(f"/api/projects/{project}/datasets/resplit", json={"seed": 6, "split": [60, 20, 20],
                                                                       "reason": "too few test items"},
                    headers=lead.headers)
    assert r.status_code == 201 and r.get_json()["generation"] == 2 and r.get_json()["seed"] == 6
    second = publish(client, lead, project)
    assert second["split"]["generation"] == 2 and second["split"]["ratios"]["test"] == 0.2
    d = client.get(f"/api/projects/{project}/datasets/diff?from=1&to=2", headers=pipeline.read_headers).get_json()
    assert d["moved"] > 0 and d["added"] == d["removed"] == d["relabeled"] == 0
    r = client.get(f"/api/projects/{project}/datasets/diff?from=1&to=2&format=csv", headers=pipeline.read_headers)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == f'attachment; filename="project-{project}-v1-v2-diff.csv"'
    rows = r.get_data(as_text=True).splitlines()
    assert rows[0] == "id,change,from,to" and len(rows) == 1 + d["moved"]
    assert {row.split(",")[1] for row in rows[1:]} == {"moved"}


def test_publish_bad_input(client, lead, pipeline, project, annotator):
    r = client.post(f"/api/projects/{project}/datasets", json={"split": "50,50"}, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "split"
    r = client.post(f"/api/projects/{project}/datasets", data="[1]", content_type="application/json",
                    headers=lead.headers)
    assert r.status_code == 422
    r = client.post(f"/api/projects/{project}/datasets", json={}, headers=pipeline.read_headers)
    assert r.status_code == 403 and "read-only" in r.get_json()["detail"]
    assert client.post(f"/api/projects/{project}/datasets", json={}, headers=annotator.headers).status_code == 403
    empty = make_project(lead.user, [text_task(0, "pos")])
    r = client.post(f"/api/projects/{empty}/datasets", json={}, headers=lead.headers)
    assert r.status_code == 409 and "no accepted tasks" in r.get_json()["detail"]


def test_download_etag_304_and_range(client, lead, project, pipeline):
    m = publish(client, lead, project)
    entry = {f["format"]: f for f in m["files"]}["jsonl"]
    url = f"/api/projects/{project}/datasets/1/download?format=jsonl"
    r = client.get(url, headers=pipeline.read_headers)
    body = r.get_data()
    assert r.status_code == 200 and hashlib.sha256(body).hexdigest() == entry["sha256"] == m["sha256"]
    assert r.headers["ETag"] == f'"{entry["sha256"]}"' and r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["X-Content-SHA256"] == entry["sha256"]
    r = client.get(url, headers={**pipeline.read_headers, "If-None-Match": f'"{entry["sha256"]}"'})
    assert r.status_code == 304 and r.get_data() == b""
    r = client.get(url, headers={**pipeline.read_headers, "Range": "bytes=100-"})
    assert r.status_code == 206 and r.get_data() == body[100:]
    assert r.headers["Content-Range"] == f"bytes 100-{len(body) - 1}/{len(body)}"
    parquet = client.get(f"/api/projects/{project}/datasets/latest/download?format=PARQUET", headers=lead.headers)
    assert pq.read_table(io.BytesIO(parquet.get_data())).num_rows == 9


@pytest.mark.parametrize("path, status, words", [
    ("datasets/9", 404, "no version 9; versions are 1"),
    ("datasets/nine", 422, "a version is a number"),
    ("datasets/9/download?format=jsonl", 404, "no version 9"),
    ("datasets/1/download?format=xlsx", 422, "has no 'xlsx' file"),
    ("datasets/diff?from=1", 422, "give two versions"),
])
def test_versions_bad_input(client, lead, project, path, status, words):
    publish(client, lead, project)
    r = client.get(f"/api/projects/{project}/{path}", headers=lead.headers)
    assert r.status_code == status and words in r.get_json()["detail"]


def test_tokens_without_access(client, lead, project, annotator, make_user):
    publish(client, lead, project)
    url = f"/api/projects/{project}/datasets/1/download?format=jsonl"
    r = client.get(url, headers=annotator.headers)  # a full token of an annotator: no pull right
    assert r.status_code == 403 and "may not pull" in r.get_json()["detail"]
    assert client.get(url, headers={"Authorization": "Token not-a-token"}).status_code == 401
    with pytest.raises(Forbidden, match="read tokens are made by leads and admins"):
        users.create_token(annotator.id, scope="read")
    revoked = make_user("gone@example.com", Role.lead)
    key = users.create_token(revoked.id, scope="read")
    users.revoke_token(users.list_tokens(revoked.id)[-1].id)
    assert client.get(url, headers={"Authorization": f"Token {key}"}).status_code == 401
    outsider = make_user("outsider@example.com", Role.lead)  # a lead, not a member of this project
    key = users.create_token(outsider.id, scope="read")
    r = client.get(url, headers={"Authorization": f"Token {key}"})
    assert r.status_code == 403 and "(reviewer) may not pull" in r.get_json()["detail"]
    client.patch(f"/api/projects/{project}", json={"restricted": True}, headers=lead.headers)
    r = client.get(url, headers={"Authorization": f"Token {key}"})
    assert r.status_code == 404 and r.get_json()["detail"] == f"project {project} not found"


# --------------------------------------------------------------------------- browser pages


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_browser_versions_publish_card_diff(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    assert "No version is published yet" in page and "Publish</button>" in page
    r = client.post(f"/projects/{project}/datasets", data={"csrf_token": csrf(page), "note": "<b>hi</b>",
                                                          "seed": "42", "split": "80,10,10"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/projects/{project}/datasets/1")
    card = client.get(f"/projects/{project}/datasets/1").get_data(as_text=True)
    v = datasets.get_version(project, lead.user, 1)
    assert v.sha256 in card and "&lt;b&gt;hi&lt;/b&gt;" in card and "<b>hi</b>" not in card
    assert f"/api/projects/{project}/datasets/1/download?format=parquet" in card
    assert "<li>Excluded: 0</li>" in card  # the card page says what the manifest says
    accept(project, task_ids(project)[9:])
    page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    client.post(f"/projects/{project}/datasets", data={"csrf_token": csrf(page), "seed": "42", "split": "80,10,10"})
    diff = client.get(f"/projects/{project}/datasets/diff").get_data(as_text=True)
    assert "v1 → v2" in diff and "3 added" in diff and "0 moved to another split" in diff
    assert "Download every changed id (CSV)" in diff
    ids = client.get(f"/projects/{project}/datasets/diff?from=1&to=2&format=csv").get_data(as_text=True)
    rows = [line.split(",") for line in ids.splitlines()[1:]]
    assert [int(r[0]) for r in rows] == task_ids(project)[9:] and {r[1] for r in rows} == {"added"}
    assert all(r[2] == "" and r[3] in ("train", "validation", "test") for r in rows)
    page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    assert "Splits: generation 1, seed 42" in page and 'name="seed"' in page  # the re-split form's seed
    r = client.post(f"/projects/{project}/datasets/resplit", data={"csrf_token": csrf(page), "seed": "9",
                                                                  "split": "80,10,10", "reason": "audit"})
    assert r.status_code == 302
    assert "Split generation 2 started" in client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    client.post(f"/projects/{project}/datasets", data={"csrf_token": csrf(page), "note": "re-split"})
    card = client.get(f"/projects/{project}/datasets/3").get_data(as_text=True)
    assert f"Split generation 2: re-split by {lead.email}" in card and "(audit)" in card
    r = client.post(f"/projects/{project}/datasets", data={"seed": "42"})
    assert r.status_code == 400  # no CSRF token


def test_browser_publish_errors_and_rights(client, lead, annotator):
    empty = make_project(lead.user, [text_task(0, "pos")])
    login(client, lead.email)
    page = client.get(f"/projects/{empty}/datasets").get_data(as_text=True)
    r = client.post(f"/projects/{empty}/datasets", data={"csrf_token": csrf(page), "seed": "x", "split": "1,1,1"})
    assert r.status_code == 400 and "a whole number" in r.get_data(as_text=True)
    r = client.post(f"/projects/{empty}/datasets", data={"csrf_token": csrf(page), "seed": "1", "split": "1,1,1"})
    assert r.status_code == 409 and "no accepted tasks" in r.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(page)})
    login(client, annotator.email)
    assert client.get(f"/projects/{empty}/datasets").status_code == 403


def test_browser_export_form_downloads(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project}/export")
    assert page.status_code == 200 and 'value="PARQUET"' in page.get_data(as_text=True)
    assert 'value="COCO"' not in page.get_data(as_text=True)
    r = client.get(f"/projects/{project}/export?exportType=CSV&state=accepted&label=pos&seed=1&split=80,10,10&media=urls")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines()[0] == "id,text,label,label_source,split"
    assert len(r.get_data(as_text=True).splitlines()) == 4
    r = client.get(f"/projects/{project}/export?exportType=JSONL&state=review&seed=1&split=80,10,10")
    assert r.status_code == 409 and "no review tasks" in r.get_data(as_text=True)


def test_after_a_publish_every_export_writes_the_kept_splits(client, lead, project, runner, tmp_path):
    """The REST export, the export page and ``labelfab export`` write each released task's split
    as its version does; a seed other than the project's is refused, not ignored."""
    publish(client, lead, project, seed=5, split="70,20,10")
    version = datasets.get_version(project, lead.user, 1)
    path = get_settings().data_dir / version.path / "dataset.jsonl"
    kept = {row["id"]: row["split"] for row in map(json.loads, path.read_text().splitlines())}

    def splits_of(body: bytes) -> dict[int, str]:
        return {row["id"]: row["split"] for row in map(json.loads, body.splitlines())}

    r = client.get(f"/api/projects/{project}/export?exportType=JSONL", headers=lead.headers)
    assert r.status_code == 200 and splits_of(r.get_data()) == kept
    r = client.get(f"/api/projects/{project}/export?exportType=JSONL&seed=5&split=70,20,10", headers=lead.headers)
    assert r.status_code == 200 and splits_of(r.get_data()) == kept
    r = client.get(f"/api/projects/{project}/export?exportType=JSONL&seed=6", headers=lead.headers)
    assert r.status_code == 409 and "re-split" in r.get_json()["detail"]
    out = tmp_path / "data.jsonl"
    result = runner.invoke(args=["export", str(project), "--format", "JSONL", "--out", str(out), "--as", lead.email])
    assert result.exit_code == 0, result.output
    assert splits_of(out.read_bytes()) == kept
    login(client, lead.email)
    page = client.get(f"/projects/{project}/export").get_data(as_text=True)
    assert "Splits are kept from version to version (generation 1: seed 5" in page and 'name="seed"' not in page
    r = client.get(f"/projects/{project}/export?exportType=JSONL&state=accepted&seed=42&split=80,10,10")
    assert r.status_code == 200 and splits_of(r.get_data()) == kept


def test_the_card_page_says_what_each_noise_figure_measures(client, lead, project):
    from labeling.db import write_session
    from labeling.models import LabelIssue, QualityRun

    with write_session() as s:
        run = QualityRun(project_id=project, status="done", n_items=12, n_issues=1, noise_rate=0.093)
        s.add(run)
        s.flush()
        s.add(LabelIssue(run_id=run.id, project_id=project, task_id=task_ids(project)[11], is_issue=True, score=0.1))
    publish(client, lead, project)
    login(client, lead.email)
    card = client.get(f"/projects/{project}/datasets/1").get_data(as_text=True)
    assert "estimated noise of what is released" not in card
    assert re.search(r"0\.0% <span[^>]*>of the released items are flagged by QC run #\d+ and not reviewed since", card)
    assert re.search(r"9\.3% <span[^>]*>label noise that QC run #\d+ estimated over the 12 items it scored", card)
    page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
    assert "Flagged, unreviewed" in page and "Noise (est.)" not in page


def test_a_large_publish_answers_202_with_the_job_and_the_page_follows_it(client, lead, project, worker, monkeypatch):
    from labeling import jobs
    from tests.conftest import wait_for

    monkeypatch.setenv("LABELFAB_PUBLISH_JOB_THRESHOLD", "5")  # the project has 9 accepted tasks
    get_settings.cache_clear()
    try:
        r = client.post(f"/api/projects/{project}/datasets", json={"note": "big"}, headers=lead.headers)
        assert r.status_code == 202 and r.headers["Location"] == f"/api/jobs/{r.get_json()['job']}"
        body = r.get_json()
        assert body["status"] == "queued" and body["job_status"]["kind"] == "publish"
        wait_for(lambda: jobs.get_job(body["job"]).status in ("done", "failed"), timeout=90)
        job = client.get(body["url"], headers=lead.headers).get_json()
        assert (job["status"], job["result"]["version"], job["result"]["n_items"]) == ("done", 1, 9)
        r = client.post(f"/api/projects/{project}/datasets", json={"background": "yes"}, headers=lead.headers)
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "background"
        # the page: Publish redirects to the list, which shows the job until it ends
        login(client, lead.email)
        accept(project, task_ids(project)[9:])
        page = client.get(f"/projects/{project}/datasets").get_data(as_text=True)
        r = client.post(f"/projects/{project}/datasets", data={"csrf_token": csrf(page), "note": "page"})
        assert r.status_code == 302 and "?job=" in r.headers["Location"]
        job_id = int(r.headers["Location"].rsplit("=", 1)[1])
        shown = client.get(r.headers["Location"]).get_data(as_text=True)
        assert f"Publish job #{job_id}" in shown and "Publishing in the background" in shown
        wait_for(lambda: jobs.get_job(job_id).status in ("done", "failed"), timeout=90)
        part = client.get(f"/projects/{project}/datasets/jobs/{job_id}").get_data(as_text=True)
        assert "published version 2" in part and f"/projects/{project}/datasets/2" in part and "hx-get" not in part
        poll = client.get(f"/projects/{project}/datasets/jobs/{job_id}", headers={"HX-Request": "true"})
        assert poll.headers.get("HX-Refresh") == "true"  # the page reloads: the version shows in the list
        assert "version 2" in client.get(f"/projects/{project}/datasets?job={job_id}").get_data(as_text=True)
        assert client.get(f"/projects/{project}/datasets/jobs/{body['job'] + 99}").status_code == 404
    finally:
        monkeypatch.delenv("LABELFAB_PUBLISH_JOB_THRESHOLD")
        get_settings.cache_clear()


@pytest.mark.parametrize(("fmt", "page_args", "api_args", "cli_args"), [
    ("JSON", "", "&state=accepted", []),
    ("CSV", "&rows=annotations&gold=y", "&rows=annotations&gold=true", ["--rows", "annotations", "--gold"]),
    ("JSONL", "&gold=y", "&gold=1", ["--gold"]),
], ids=["label-studio-json", "csv-per-annotation", "jsonl-final-with-gold"])
def test_page_api_and_cli_give_the_same_file_for_the_same_choices(client, runner, admin, lead, project, tmp_path,
                                                                 fmt, page_args, api_args, cli_args):
    from labeling import gold as gold_tasks
    from tests.labeling.test_exports import choice
    gold_tasks.mark_gold(task_ids(project)[-1], lead.user, answer=choice("neu"))
    login(client, lead.email)
    page = client.get(f"/projects/{project}/export?exportType={fmt}&state=accepted&seed=42&split=80,10,10{page_args}")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    api = client.get(f"/api/projects/{project}/export?exportType={fmt}{api_args}", headers=lead.headers)
    assert api.status_code == 200
    out = tmp_path / "export.out"
    done = runner.invoke(args=["export", str(project), "--format", fmt, "--out", str(out), *cli_args])
    assert done.exit_code == 0, done.output
    assert page.data == api.data == out.read_bytes()
    assert ("text number 11" in page.get_data(as_text=True)) == ("gold" in page_args)  # the gold task


def test_with_nothing_accepted_the_page_offers_one_row_per_annotation(client, lead):
    """Of every annotated task, the dashboard's: a task sent back for more labels too."""
    pid = make_project(lead.user, [text_task(i, "pos") for i in range(3)])
    reopen = client.post(f"/api/dm/actions?id=reopen&project={pid}", headers=lead.headers,
                         json={"selectedItems": {"all": False, "included": task_ids(pid)[:1]}})
    assert reopen.status_code == 200, reopen.get_json()
    login(client, lead.email)
    page = client.get(f"/projects/{pid}/export").get_data(as_text=True)
    assert "Nothing accepted to export as final labels yet" in page
    assert "tasks with a submitted annotation (any state): 3" in page
    assert '<option selected value="annotations">' in page
    link = re.search(r'<a href="([^"]+)">Download one row per annotation', page).group(1).replace("&amp;", "&")
    r = client.get(link)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert len(r.get_data(as_text=True).splitlines()) == 4  # the header and one row per annotation, the reopened too
    r = client.get(f"/projects/{pid}/export?exportType=CSV&state=accepted&rows=final")
    assert r.status_code == 409 and "Download one row per annotation" in r.get_data(as_text=True)


def test_label_studio_json_export_of_every_task_a_data_manager_query_selects(client, lead, project):
    """The data manager's export of "all that match": the same Label Studio JSON as the export of
    those ids (one serializer), for the tasks the query's filters and selectedItems select."""
    ids = task_ids(project)
    accepted = {"conjunction": "and", "items": [{"filter": "filter:tasks:state", "operator": "equal",
                                                  "type": "String", "value": "accepted"}]}
    query = json.dumps({"filters": accepted, "selectedItems": {"all": True, "excluded": [ids[4]]}})
    args = {"exportType": "JSON", "download_all_tasks": "true"}
    got = client.get(f"/api/projects/{project}/export", query_string={**args, "query": query}, headers=lead.headers)
    assert got.status_code == 200, got.get_json()
    wanted = [i for i in ids[:9] if i != ids[4]]
    assert [t["id"] for t in json.loads(got.data)] == wanted
    by_ids = client.get(f"/api/projects/{project}/export", headers=lead.headers,
                        query_string={**args, "ids": ",".join(map(str, wanted))})
    assert by_ids.data == got.data
    # every task of the project that is not accepted, unlabeled ones included
    others = json.dumps({"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:state", "operator": "not_equal", "type": "String", "value": "accepted"}]}})
    rest = client.get(f"/api/projects/{project}/export", query_string={**args, "query": others}, headers=lead.headers)
    assert [t["id"] for t in json.loads(rest.data)] == ids[9:]
    # a filter that cannot be honoured is refused, never ignored; the clean export does not take one
    bad = json.dumps({"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:nope", "operator": "equal", "type": "String", "value": 1}]}})
    assert client.get(f"/api/projects/{project}/export", query_string={**args, "query": bad},
                      headers=lead.headers).status_code == 400
    # Label Studio's converted formats take it too (its CSV: a row per annotation of those tasks)
    got = client.get(f"/api/projects/{project}/export", query_string={"exportType": "CSV", "query": query},
                     headers=lead.headers)
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert sorted({int(r["id"]) for r in csv.DictReader(io.StringIO(got.data.decode()))}) == wanted
    assert client.get(f"/api/projects/{project}/export", headers=lead.headers,
                      query_string={"exportType": "CSV", "state": "accepted", "query": query}).status_code == 422
