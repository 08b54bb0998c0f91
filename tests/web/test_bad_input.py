"""The bad-input corpus: every input here gets a clear 4xx in the JSON error shape (HTML under
the pages), never a 500, and none of it can break a project for the others working in it.

Label configs far past the limits, JSON nested 100,000 deep, lone surrogates in every text field,
whole numbers above 2**63 in query arguments, a 60,000-character search, unbounded settings,
oversized titles, descriptions, task rows and request bodies, fields of the wrong JSON type,
results whose items are no objects, methods a route does not take. Run on SQLite and PostgreSQL.
The requests themselves are data in ``tests/web/bad_input_corpus.py`` (``bench/security.py``
sends them too).
"""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import projects, tasks
from labeling.db import read_session
from labeling.models import ImportBatch, Project, Task
from labeling.settings import load_settings
from tests.conftest import login
from tests.web import bad_input_corpus as corpus
from tests.web.bad_input_corpus import HUGE, SURROGATE, TEXT, Ids, choices_config, deep


def assert_error_shape(response, status: int | tuple[int, ...], *words: str) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"detail", "errors"}, body
    text = body["detail"] + " " + " ".join(str(e.get("detail")) for e in body["errors"])
    for word in words:
        assert word in text, text
    return body


def send(client, method: str, url: str, raw: str | None, actor):
    if raw is None:
        return client.open(url, method=method, headers=actor.headers)
    return client.open(url, method=method, data=raw.encode("utf-8"), headers=actor.headers,
                       content_type="application/json")


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="texts", label_config=TEXT)


@pytest.fixture
def task_ids(client, lead, project):
    r = client.post(f"/api/projects/{project.id}/import?return_task_ids=true", headers=lead.headers,
                    json=[{"text": f"item {i}"} for i in range(3)])
    assert r.status_code == 201, r.get_json()
    return r.get_json()["task_ids"]


def stored_projects() -> list[tuple[str, str]]:
    with read_session() as s:
        return [(p.title, p.description) for p in s.exec(select(Project).order_by(Project.id))]


# --------------------------------------------------------------------------- point 9: label configs


def test_a_config_of_100000_choices_is_refused_by_its_size(client, lead):
    assert len(choices_config(100_000)) > 2_500_000
    for method, url, raw in corpus.huge_configs():
        assert_error_shape(send(client, method, url, raw, lead), 422, "KiB", "LABELFAB_MAX_LABEL_CONFIG_KB")
    assert stored_projects() == []


def test_labels_per_control_are_bounded(client, lead):
    config = choices_config(10_001)
    assert len(config.encode()) < 1024 * 1024  # under the size limit: the count refuses it
    r = client.post("/api/projects/validate", json={"label_config": config}, headers=lead.headers)
    assert_error_shape(r, 422, "10,001", "limit is 10,000 labels per control")


def test_a_large_taxonomy_is_accepted_and_a_repeated_label_read_once(client, lead):
    r = client.post("/api/projects/validate", json={"label_config": choices_config(10_000)}, headers=lead.headers)
    assert r.status_code == 200, r.get_json()
    assert len(r.get_json()["controls"][0]["labels"]) == 10_000
    # Label Studio accepts a repeated label (its "document retrieval" template has one) and
    # stores the same name whichever is picked: labelfab reads it once
    repeated = choices_config(9_999, extra='<Choice value="label 000017"/>\n')
    r = client.post("/api/projects/validate", json={"label_config": repeated}, headers=lead.headers)
    assert r.status_code == 200, r.get_json()
    labels = r.get_json()["controls"][0]["labels"]
    assert len(labels) == 9_999 and labels.count("label 000017") == 1


def test_validating_configs_is_for_those_who_create_projects(client, lead, admin, annotator, make_user):
    reviewer = make_user("rev@example.com", "reviewer")
    for actor, status in ((annotator, 403), (reviewer, 403), (lead, 200), (admin, 200)):
        r = client.post("/api/projects/validate", json={"label_config": TEXT}, headers=actor.headers)
        assert r.status_code == status, (actor.email, r.get_json())
    assert_error_shape(client.post("/api/projects/validate", json={"label_config": TEXT},
                                   headers=annotator.headers), 403, "leads and admins")


# --------------------------------------------------------------------------- point 10: deep JSON


@pytest.fixture
def annotation_id(client, admin, task_ids):
    """The admin's own annotation: the corpus is sent as the admin, who may edit only their own."""
    r = client.post(f"/api/tasks/{task_ids[0]}/annotations", headers=admin.headers,
                    json={"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                      "value": {"choices": ["pos"]}}]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def ids(admin, project, task_ids, annotation_id) -> Ids:
    return Ids(project=project.id, tasks=tuple(task_ids), annotation=annotation_id, admin=admin.id)


def test_json_nested_100000_deep_is_422_on_every_route(client, admin, ids):
    for method, url, raw in corpus.deep_bodies(ids):
        r = send(client, method, url, raw, admin)
        assert_error_shape(r, 422, "nested more than 64 levels deep")


def test_json_depth_is_bounded_below_the_recursion_limit(client, lead, project):
    r = send(client, "PATCH", f"/api/projects/{project.id}", '{"description": ' + deep(65) + "}", lead)
    body = assert_error_shape(r, 422, "description", "nested more than 64 levels deep")
    assert body["detail"].startswith("the request body")
    r = send(client, "PATCH", f"/api/projects/{project.id}", '{"description": ' + deep(20) + "}", lead)
    assert_error_shape(r, 422, "description must be str")  # parsed, then refused as usual


def test_nan_and_infinity_are_not_json(client, lead, project):
    requests = corpus.not_json(Ids(project.id, (0, 0, 0), 0, 0))
    for method, url, raw in requests:
        assert_error_shape(send(client, method, url, raw, lead), 422, "is not valid JSON")
    assert requests[-1][2] == '{"budget": Infinity}'
    assert_error_shape(send(client, *requests[-1], lead), 422, "Infinity is not valid JSON")


def test_deep_json_in_a_page_form_is_refused(client, lead):
    login(client, lead.email)
    page = client.get("/projects/preview").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    for raw, reason in ((deep(100_000), "nested more than 64 levels"),
                        ('{"text": "' + SURROGATE + '"}', "lone surrogate")):
        r = client.post("/projects/preview", data={"csrf_token": token, "label_config": TEXT, "data": raw})
        assert r.status_code == 422, r.get_data(as_text=True)[:300]
        assert reason in r.get_data(as_text=True)


# --------------------------------------------------------------------------- point 10: lone surrogates


def test_lone_surrogates_in_text_fields_are_422(client, admin, ids):
    for method, url, raw in corpus.lone_surrogates(ids):
        r = send(client, method, url, raw, admin)
        assert_error_shape(r, 422, "lone surrogate")
    assert stored_projects() == [("texts", "")]


def test_lone_surrogates_in_imports_are_refused_by_row(client, lead, project):
    for method, url, raw in corpus.surrogate_imports(Ids(project.id, (0, 0, 0), 0, 0)):
        body = assert_error_shape(send(client, method, url, raw, lead), 422, "lone surrogate")
        assert body["errors"][0]["row"] in (1, 2), (raw, body)
    with read_session() as s_:
        assert s_.execute(select(sa.func.count()).select_from(Task)).scalar_one() == 0
        assert s_.execute(select(sa.func.count()).select_from(ImportBatch)).scalar_one() == 0


def test_lone_surrogates_from_the_domain_and_cli(lead, project, runner):
    """What the CLI hands over (command-line bytes that are not UTF-8 arrive as surrogates)."""
    from labeling.errors import Invalid

    with pytest.raises(Invalid, match="lone surrogate"):
        projects.create_project(lead.user, title="bad \udcff", label_config=TEXT)
    with pytest.raises(Invalid, match="lone surrogate"):
        projects.update_project(lead.user, project.id, description="\udcff")
    with pytest.raises(Invalid, match="lone surrogate"):
        tasks.list_tasks(lead.user, project.id, search="\ud800")
    assert stored_projects() == [("texts", "")]


# --------------------------------------------------------------------------- point 10: big numbers


def test_whole_numbers_past_2_63_in_query_arguments(client, lead, ids):
    for method, url, raw in corpus.big_query_numbers(ids):
        assert_error_shape(send(client, method, url, raw, lead), 422, "out of range")


def test_the_largest_whole_numbers_taken_never_break_a_request(client, lead, project, task_ids, annotation_id):
    pid, top = project.id, 2**31 - 1
    for name, url in (("page", f"/api/tasks?project={pid}"), ("page_size", f"/api/tasks?project={pid}"),
                      ("page", "/api/projects"), ("before", f"/api/projects/{pid}/my-annotations"),
                      ("limit", f"/api/projects/{pid}/my-annotations"), ("exclude", f"/api/annotate/{pid}/next"),
                      ("before", f"/api/annotate/{pid}/previous"), ("limit", f"/api/projects/{pid}/qc/runs"),
                      ("page", f"/api/projects/{pid}/label-issues"), ("limit", f"/api/projects/{pid}/review/decisions"),
                      ("sample", f"/api/projects/{pid}/audit"), ("seed", f"/api/projects/{pid}/audit"),
                      ("page", f"/api/projects/{pid}/stats/items")):
        sep = "&" if "?" in url else "?"
        r = client.get(f"{url}{sep}{name}={top}", headers=lead.headers)
        assert r.status_code in (200, 404, 422), (url, name, r.status_code, r.get_data(as_text=True)[:300])
        if r.status_code != 200:
            assert_error_shape(r, (404, 422))


def test_ids_in_paths_past_what_a_column_holds_match_no_route(client, lead, project, task_ids):
    for method, url, raw in corpus.ids_in_paths(Ids(project.id, tuple(task_ids), 0, 0)):
        assert_error_shape(send(client, method, url, raw, lead), (404, 405))  # 405: a rule of another method matched first
    r = client.get(f"/api/tasks?project={project.id}&search=%23{2**31}", headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["total"] == 0


def test_odd_digits_are_not_numbers(client, lead, project):
    for value in ("²", "١٢", "1e3", "0x10", " "):
        r = client.get(f"/api/annotate/{project.id}/next", query_string={"exclude": value}, headers=lead.headers)
        assert r.status_code in (200, 422), (value, r.get_data(as_text=True))
        if value.strip():
            assert_error_shape(r, 422, "exclude must be a whole number")


def test_big_numbers_in_page_query_arguments(client, lead, project, task_ids):
    login(client, lead.email)
    for url in (f"/projects/{project.id}/tasks?page={HUGE}", f"/projects/{project.id}/tasks?page={10**17}",
                f"/projects/{project.id}/quality?page={HUGE}", f"/projects/{project.id}/datasets/{HUGE}",
                f"/projects/{project.id}/datasets/diff?from={HUGE}&to=1",
                f"/projects/{project.id}/dashboard/items?page={HUGE}&annotator={HUGE}"):
        r = client.get(url)
        assert r.status_code < 500, (url, r.status_code)
        assert r.status_code in (200, 404, 422), (url, r.status_code)


def test_numbers_and_dates_out_of_range_in_bodies_and_arguments(client, admin, ids):
    for method, url, raw in corpus.out_of_range_bodies(ids):
        assert_error_shape(send(client, method, url, raw, admin), 422)
    for method, url, raw in corpus.unknown_members(ids):
        assert_error_shape(send(client, method, url, raw, admin), 404, "no user")
    for method, url, raw, reason in corpus.out_of_range_arguments(ids):
        assert_error_shape(send(client, method, url, raw, admin), 422, reason)


# --------------------------------------------------------------------------- point 10: search


def test_a_60000_character_search_is_422(client, lead, project, task_ids):
    [(method, url, raw)] = corpus.long_search(Ids(project.id, tuple(task_ids), 0, 0))
    assert_error_shape(send(client, method, url, raw, lead), 422, "search is 60,000 characters long; the limit is 1,000")
    r = client.get(f"/api/tasks?project={project.id}&search={'%_' * 500}", headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["total"] == 0
    login(client, lead.email)
    r = client.get(f"/projects/{project.id}/tasks?q={'a' * 60_000}")
    assert r.status_code == 422 and "limit is 1,000" in r.get_data(as_text=True)


# --------------------------------------------------------------------------- point 10: settings


BAD_SETTINGS = corpus.BAD_SETTINGS


@pytest.mark.parametrize("values", BAD_SETTINGS, ids=[json.dumps(v)[:40] for v in BAD_SETTINGS])
def test_every_numeric_setting_is_bounded(client, lead, annotator, project, task_ids, values):
    r = client.patch(f"/api/projects/{project.id}", json=values, headers=lead.headers)
    assert_error_shape(r, 422, next(iter(values)).replace("maximum_annotations", "overlap"))
    # nothing changed: the project still hands out work
    r = client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers)
    assert r.status_code == 200 and r.get_json()["task"] is not None


def test_qc_policy_numbers_are_bounded(client, lead, project):
    for values in corpus.BAD_POLICY:
        r = client.put(f"/api/projects/{project.id}/qc-policy", json=values, headers=lead.headers)
        assert_error_shape(r, 422, next(iter(values)))


def test_the_largest_settings_still_work(client, lead, annotator, project, task_ids):
    r = client.patch(f"/api/projects/{project.id}", headers=lead.headers,
                     json={"lease_seconds": 7 * 24 * 3600, "maximum_annotations": 100, "gold_min_items": 1_000_000,
                           "qc_every": 1_000_000_000})
    assert r.status_code == 200, r.get_json()
    r = client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers)
    assert r.status_code == 200 and r.get_json()["lease"]["seconds"] == 7 * 24 * 3600


# --------------------------------------------------------------------------- point 11: sizes


def test_title_and_description_sizes(client, lead, project):
    title, description, new_title, _ = corpus.oversized_fields(Ids(project.id, (0, 0, 0), 0, 0))
    assert_error_shape(send(client, *title, lead), 422, "title is 256 characters long; the limit is 255")
    assert_error_shape(send(client, *description, lead), 422, "description is 65,537 characters long",
                       "LABELFAB_MAX_DESCRIPTION_CHARS")
    assert_error_shape(send(client, *new_title, lead), 422, "limit is 255")
    r = client.patch(f"/api/projects/{project.id}", json={"description": "d" * 65_536, "title": "t" * 255},
                     headers=lead.headers)
    assert r.status_code == 200
    assert stored_projects() == [("t" * 255, "d" * 65_536)]


def test_a_30_mb_description_is_413(client, lead, project):
    *_, thirty_mb = corpus.oversized_fields(Ids(project.id, (0, 0, 0), 0, 0))
    assert len(thirty_mb[2]) > 30 << 20
    assert_error_shape(send(client, *thirty_mb, lead), 413, "larger than the limit of 16 MiB", "LABELFAB_MAX_REQUEST_MB")
    assert stored_projects() == [("texts", "")]


def test_request_bodies_are_bounded_but_imports_take_uploads(lead, project):
    from web import create_app

    app = create_app(load_settings(max_request_mb=1, max_upload_mb=4))
    client = app.test_client()
    big = [{"text": "y" * 1000} for _ in range(1500)]  # 1.5 MB
    r = client.post("/api/tasks/1/annotations", json={"result": big}, headers=lead.headers)
    assert_error_shape(r, 413, "larger than the limit of 1 MiB")
    r = client.post(f"/api/projects/{project.id}/import", json=big, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    r = client.post(f"/api/projects/{project.id}/import", json=big * 3, headers=lead.headers)
    assert_error_shape(r, 413, "the upload is larger than the limit of 4 MiB")


def test_a_csv_row_with_a_million_columns_is_refused(client, lead, project):
    n = 1_000_000
    header = "text," + ",".join(f"c{i}" for i in range(n - 1))
    row = "hello," + ",".join("1" for _ in range(n - 1))
    data = {"file": [(io.BytesIO(f"{header}\n{row}\n".encode()), "wide.csv")]}
    r = client.post(f"/api/projects/{project.id}/import", data=data, headers=lead.headers,
                    content_type="multipart/form-data")
    body = assert_error_shape(r, 422, "has 1,000,000 fields; the limit is 2,000")
    assert body["errors"][0]["row"] == 2  # the header is line 1
    with read_session() as s:
        assert s.execute(select(sa.func.count()).select_from(Task)).scalar_one() == 0


def test_task_data_size_and_depth_are_bounded(client, lead, project, task_ids):
    too_big = [{"text": "x" * (5 * 1024 * 1024 + 1)}]
    r = client.post(f"/api/projects/{project.id}/import", json=too_big, headers=lead.headers)
    assert_error_shape(r, 422, "larger than the limit of 5,120 KiB", "LABELFAB_MAX_TASK_DATA_KB")
    nested = '[{"text": "a", "extra": ' + deep(100) + "}]"
    r = client.post(f"/api/projects/{project.id}/import", data=nested.encode(), headers=lead.headers,
                    content_type="application/json")
    assert_error_shape(r, 422, "extra", "nested more than 64 levels deep")
    wide = [{"text": "a", **{f"c{i}": i for i in range(2001)}}]
    r = client.post(f"/api/projects/{project.id}/import", json=wide, headers=lead.headers)
    assert_error_shape(r, 422, "has 2,002 fields")
    with read_session() as s:
        assert s.execute(select(sa.func.count()).select_from(Task)).scalar_one() == len(task_ids)


# --------------------------------------------------------------------------- wrong types, methods


def test_fields_of_the_wrong_json_type_are_422(client, admin, ids):
    from labeling import users

    before = [(u.email, u.role, u.is_active) for u in users.list_users()]
    for method, url, raw in corpus.wrong_types(ids):
        body = assert_error_shape(send(client, method, url, raw, admin), 422)
        text = body["detail"]
        assert "must be a string" in text or "must be true or false" in text or "JSON object" in text, (raw, text)
    assert [(u.email, u.role, u.is_active) for u in users.list_users()] == before
    r = client.patch(f"/api/users/{admin.id}", headers=admin.headers)  # no body: nothing to change
    assert r.status_code == 200 and r.get_json()["role"] == "admin"


def test_results_whose_items_are_no_objects_are_422(client, admin, ids):
    from labeling.models import Annotation, Prediction

    with read_session() as s:
        before = (s.execute(select(sa.func.count()).select_from(Annotation)).scalar_one(),
                  s.execute(select(sa.func.count()).select_from(Prediction)).scalar_one())
    for method, url, raw in corpus.results_of_no_objects(ids):
        body = assert_error_shape(send(client, method, url, raw, admin), 422)
        assert "must be an object" in " ".join(str(e) for e in body["errors"]) + body["detail"], (url, raw, body)
    with read_session() as s:
        assert (s.execute(select(sa.func.count()).select_from(Annotation)).scalar_one(),
                s.execute(select(sa.func.count()).select_from(Prediction)).scalar_one()) == before
        assert not any(t.is_gold for t in s.exec(select(Task)))


def test_a_method_a_route_does_not_take_is_405_naming_those_it_does(client, admin, ids):
    for method, url, raw in corpus.wrong_methods(ids):
        r = send(client, method, url, raw, admin)
        assert_error_shape(r, 405, "method is not allowed")
        allowed = {m.strip() for m in r.headers["Allow"].split(",")}
        assert method not in allowed and allowed & {"GET", "POST"}, (method, url, r.headers["Allow"])
    login(client, admin.email)
    r = client.open("/projects", method="TRACE")
    assert r.status_code == 405 and "GET" in r.headers["Allow"] and r.mimetype == "text/html"
