"""REST: Label Studio's Data Manager — ``GET /api/tasks`` with ``query`` or ``view``, views
(``/api/dm/views``) and actions (``/api/dm/actions``), with their refusals."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from labeling.db import read_session, write_session
from labeling.models import Annotation, Prediction, Role, Task, TaskEvent

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def one(column: str, operator: str, value, type_: str = "String") -> dict:
    return {"conjunction": "and", "items": [
        {"filter": f"filter:tasks:{column}", "operator": operator, "type": type_, "value": value}]}


@pytest.fixture
def project(client, lead):
    """Six tasks with a colour and a size; the first two annotated (labeled), the third predicted."""
    r = client.post("/api/projects", json={"title": "DM", "label_config": TEXT, "maximum_annotations": 1},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    rows = [{"text": f"t{i}", "colour": c, "size": n}
            for i, (c, n) in enumerate([("red", 1), ("blue", 20), ("red", 3), ("green", 4), ("red", 50), ("blue", 6)])]
    r = client.post(f"/api/projects/{pid}/import", json=rows, headers=lead.headers)
    assert r.status_code in (200, 201), r.get_json()
    ids = [t["id"] for t in client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]]
    for i in ids[:2]:
        r = client.post(f"/api/tasks/{i}/annotations", json={"result": choice("pos")}, headers=lead.headers)
        assert r.status_code == 201, r.get_json()
    r = client.post("/api/predictions", json={"task": ids[2], "result": choice("neg"), "score": 0.5},
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    return pid, ids


def listed(client, who, pid, query=None, **args) -> dict:
    args = {"project": pid, **args, **({"query": json.dumps(query)} if query is not None else {})}
    r = client.get("/api/tasks", query_string=args, headers=who.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_tasks_list_applies_the_query(client, lead, project):
    pid, ids = project
    body = listed(client, lead, pid, {"filters": one("data.colour", "equal", "red")})
    assert [t["id"] for t in body["tasks"]] == [ids[0], ids[2], ids[4]]
    assert (body["total"], body["total_annotations"], body["total_predictions"]) == (3, 1, 1)
    big = {"filters": one("data.size", "greater", 5, "Number"), "ordering": ["-tasks:id"]}
    assert [t["id"] for t in listed(client, lead, pid, big)["tasks"]] == [ids[5], ids[4], ids[1]]
    sel = {"selectedItems": {"all": False, "included": [ids[1], ids[3]]}}
    assert [t["id"] for t in listed(client, lead, pid, sel)["tasks"]] == [ids[1], ids[3]]
    alone = client.get("/api/tasks", query_string={"project": pid, "selectedItems": json.dumps(
        {"all": True, "excluded": [ids[0], ids[1]]})}, headers=lead.headers).get_json()
    assert [t["id"] for t in alone["tasks"]] == ids[2:]
    bad = client.get("/api/tasks", query_string={"project": pid, "selectedItems": "[1]"}, headers=lead.headers)
    assert bad.status_code == 400
    paged = listed(client, lead, pid, {"filters": one("data.colour", "not_equal", "red")}, page=2, page_size=2)
    assert [t["id"] for t in paged["tasks"]] == [ids[5]] and paged["total"] == 3
    assert listed(client, lead, pid, {"filters": one("total_annotations", "greater", 0, "Number")})["total"] == 2


@pytest.mark.parametrize(("query", "says"), [
    ("{broken", "not JSON"),
    (json.dumps({"filters": one("colour", "equal", "red")}), "unknown filter 'filter:tasks:colour'"),
    (json.dumps({"filters": one("data.colour", "like", "red")}), "unknown filter operator 'like'"),
    (json.dumps({"ordering": ["tasks:colour"]}), "unknown ordering"),
])
def test_tasks_list_refuses_what_it_cannot_honour(client, lead, project, query, says):
    pid, _ = project
    r = client.get("/api/tasks", query_string={"project": pid, "query": query}, headers=lead.headers)
    assert r.status_code == 400 and says in r.get_json()["detail"], r.get_json()
    assert r.get_json()["errors"]


def test_views_crud_and_tasks_by_view(client, lead, project, make_user):
    pid, ids = project
    data = {"title": "Red ones", "type": "list", "target": "tasks", "hiddenColumns": {"explore": ["tasks:inner_id"]},
            "filters": one("data.colour", "equal", "red"), "ordering": ["-tasks:id"]}
    r = client.post("/api/dm/views", json={"project": pid, "data": data}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    view = r.get_json()
    assert (view["project"], view["user"], view["data"], view["ordering"]) == (pid, lead.id, data, ["-tasks:id"])
    second = client.post("/api/dm/views/", json={"project": pid, "data": {"title": "All"}}, headers=lead.headers)
    assert second.status_code == 201 and second.get_json()["order"] > view["order"]

    assert [v["id"] for v in client.get(f"/api/dm/views?project={pid}", headers=lead.headers).get_json()] == [
        view["id"], second.get_json()["id"]]
    assert client.get(f"/api/dm/views/{view['id']}", headers=lead.headers).get_json() == view
    by_view = client.get(f"/api/tasks?project={pid}&view={view['id']}", headers=lead.headers).get_json()
    assert [t["id"] for t in by_view["tasks"]] == [ids[4], ids[2], ids[0]]

    # PATCH replaces data, as Label Studio's serializer does, but for the ordering (and filters) the
    # new data does not name: those stay
    r = client.patch(f"/api/dm/views/{view['id']}", json={"data": {"title": "Blue", "filters": one(
        "data.colour", "equal", "blue")}}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["data"] == {"title": "Blue", "filters": one("data.colour", "equal", "blue"),
                                                             "ordering": ["-tasks:id"]}
    by_view = client.get(f"/api/tasks?project={pid}&view={view['id']}", headers=lead.headers).get_json()
    assert [t["id"] for t in by_view["tasks"]] == [ids[5], ids[1]]
    r = client.put(f"/api/dm/views/{view['id']}", json={"data": {"title": "t", "filters": {
        "conjunction": "and", "items": []}}, "selected_items": {"all": False, "included": [ids[3]]}}, headers=lead.headers)
    assert r.status_code == 200
    by_view = client.get(f"/api/tasks?project={pid}&view={view['id']}", headers=lead.headers).get_json()
    assert [t["id"] for t in by_view["tasks"]] == [ids[3]]

    # a view never holds a filter that would be ignored
    bad = client.post("/api/dm/views", json={"project": pid, "data": {"filters": one("nope", "equal", 1)}},
                      headers=lead.headers)
    assert bad.status_code == 400 and "unknown filter" in bad.get_json()["detail"]
    bad = client.patch(f"/api/dm/views/{view['id']}", json={"data": {"ordering": ["tasks:nope"]}}, headers=lead.headers)
    assert bad.status_code == 400

    r = client.post("/api/dm/views/order", json={"project": pid, "ids": [second.get_json()["id"], view["id"]]},
                    headers=lead.headers)
    assert r.status_code == 200
    assert [v["id"] for v in client.get(f"/api/dm/views?project={pid}", headers=lead.headers).get_json()] == [
        second.get_json()["id"], view["id"]]

    assert client.delete(f"/api/dm/views/{view['id']}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/dm/views/{view['id']}", headers=lead.headers).status_code == 404
    assert client.delete(f"/api/dm/views/reset?project={pid}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/dm/views?project={pid}", headers=lead.headers).get_json() == []


def test_views_of_another_project_and_who_may(client, lead, project, make_user, annotator):
    pid, _ = project
    other = client.post("/api/projects", json={"title": "Other", "label_config": TEXT}, headers=lead.headers)
    oid = other.get_json()["id"]
    view = client.post("/api/dm/views", json={"project": oid, "data": {"title": "x"}}, headers=lead.headers).get_json()
    r = client.get(f"/api/tasks?project={pid}&view={view['id']}", headers=lead.headers)
    assert r.status_code == 400 and "mismatch" in r.get_json()["detail"]

    reviewer = make_user("rev@example.com", Role.reviewer)
    client.post(f"/api/projects/{oid}/members", json={"user": reviewer.email, "role": "reviewer"}, headers=lead.headers)
    assert client.get(f"/api/dm/views?project={oid}", headers=annotator.headers).status_code in (403, 404)
    mine = client.post("/api/dm/views", json={"project": oid, "data": {"title": "mine"}}, headers=reviewer.headers)
    assert mine.status_code == 201
    assert client.patch(f"/api/dm/views/{mine.get_json()['id']}", json={"data": {}},
                        headers=reviewer.headers).status_code == 200
    assert client.delete(f"/api/dm/views/{view['id']}", headers=reviewer.headers).status_code == 403
    assert client.delete(f"/api/dm/views/reset?project={oid}", headers=reviewer.headers).status_code == 403


def _counts(pid: int) -> tuple[int, int, int]:
    with read_session() as s:
        return (len(s.exec(select(Task.id).where(Task.project_id == pid)).all()),
                len(s.exec(select(Annotation.id).where(Annotation.project_id == pid)).all()),
                len(s.exec(select(Prediction.id).where(Prediction.project_id == pid)).all()))


def test_actions_list_and_delete_only_the_filtered_tasks(client, lead, project):
    pid, ids = project
    listed_actions = client.get(f"/api/dm/actions?project={pid}", headers=lead.headers).get_json()
    assert [a["id"] for a in listed_actions][:4] == ["retrieve_tasks_predictions", "delete_tasks",
                                                     "delete_tasks_annotations", "delete_tasks_predictions"]
    r = client.post(f"/api/dm/actions?id=delete_tasks&project={pid}",
                    json={"filters": one("data.colour", "equal", "red"),
                          "selectedItems": {"all": True, "excluded": [ids[0]]}}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["processed_items"] == 2, r.get_json()
    left = [t["id"] for t in listed(client, lead, pid)["tasks"]]
    assert left == [ids[0], ids[1], ids[3], ids[5]]
    assert _counts(pid) == (4, 2, 0)  # the prediction went with task 2


def test_action_delete_predictions_and_annotations(client, lead, project):
    pid, ids = project
    r = client.post(f"/api/dm/actions?id=delete_tasks_predictions&project={pid}", json={}, headers=lead.headers)
    assert r.get_json() == {"processed_items": 1, "detail": "Deleted 1 predictions"}
    assert _counts(pid) == (6, 2, 0)
    r = client.post(f"/api/dm/actions?id=delete_tasks_annotations&project={pid}",
                    json={"selectedItems": {"all": False, "included": [ids[0]]}}, headers=lead.headers)
    assert r.get_json() == {"processed_items": 1, "detail": "Deleted 1 annotations"}
    assert _counts(pid) == (6, 1, 0)
    with read_session() as s:
        t0, t1 = s.get(Task, ids[0]), s.get(Task, ids[1])
        assert (t0.state, t0.n_annotations, t1.state, t1.n_annotations) == ("open", 0, "labeled", 1)
        event = s.exec(select(TaskEvent).where(TaskEvent.task_id == ids[0]).order_by(TaskEvent.id.desc())).first()
        assert (event.from_state, event.to_state) == ("labeled", "open")


def test_action_refusals(client, lead, project, make_user):
    pid, ids = project
    base = f"/api/dm/actions?project={pid}"
    reviewer = make_user("rev@example.com", Role.reviewer)
    client.post(f"/api/projects/{pid}/members", json={"user": reviewer.email, "role": "reviewer"}, headers=lead.headers)
    assert client.post(base + "&id=delete_tasks", json={}, headers=reviewer.headers).status_code == 403
    assert client.post(base, json={}, headers=lead.headers).status_code == 422
    r = client.post(base + "&id=explode", json={}, headers=lead.headers)
    assert r.status_code == 400 and "unknown action" in r.get_json()["detail"]
    r = client.post(base + "&id=delete_tasks", json={"filters": one("data.colour", "equal", "purple")},
                    headers=lead.headers)
    assert r.status_code == 404 and r.get_json()["detail"] == "No selected items for specified view"
    r = client.post(base + "&id=delete_tasks", json={"selectedItems": {"all": False, "included": []}},
                    headers=lead.headers)
    assert r.status_code == 404  # nothing selected is nothing, never everything
    r = client.post(base + "&id=delete_tasks", json={"filters": one("colour", "equal", "red")}, headers=lead.headers)
    assert r.status_code == 400
    with write_session() as s:  # a task QC has taken keeps its annotations
        task = s.get(Task, ids[1])
        task.state = "review"
        s.add(task)
    r = client.post(base + "&id=delete_tasks_annotations", json={}, headers=lead.headers)
    assert r.status_code == 409 and str(ids[1]) in r.get_json()["detail"]
    assert _counts(pid) == (6, 2, 1)


def test_action_on_a_view(client, lead, project):
    pid, ids = project
    view = client.post("/api/dm/views", json={"project": pid, "data": {
        "filters": one("data.size", "greater_or_equal", 20, "Number")}}, headers=lead.headers).get_json()
    r = client.post(f"/api/dm/actions?id=delete_tasks&project={pid}&view={view['id']}", json={}, headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["processed_items"] == 2
    assert [t["id"] for t in listed(client, lead, pid)["tasks"]] == [ids[0], ids[2], ids[3], ids[5]]


@pytest.mark.parametrize("body", [
    {"project": 2**70, "data": {}}, {"project": "1", "data": {}}, {"data": {}},
    {"project": "P", "data": []}, {"project": "P", "data": {"filters": "and"}}, {"project": "P", "data": {"ordering": "x"}},
    {"project": "P", "data": {}, "order": "first"}, {"project": "P", "data": {}, "order": 2**40},
    {"project": "P", "data": {}, "selected_items": {"all": False, "included": [2**70]}},
])
def test_view_bodies_that_make_no_view(client, lead, project, body):
    body = {**body, "project": project[0]} if body.get("project") == "P" else body
    r = client.post("/api/dm/views", json=body, headers=lead.headers)
    assert r.status_code in (400, 422), r.get_data(as_text=True)
    assert r.get_json()["detail"]
    assert client.get(f"/api/dm/views?project={project[0]}", headers=lead.headers).get_json() == []


def test_actions_read_the_selection_once_and_act_in_chunks(client, lead, project, monkeypatch):
    """Deleting annotations selected by their annotator: the selection is read before anything is
    deleted (else the later chunks would match nothing), and every chunk is acted on."""
    from labeling.dm import actions

    pid, ids = project
    for i in ids[2:5]:
        client.post(f"/api/tasks/{i}/annotations", json={"result": choice("neg")}, headers=lead.headers)
    monkeypatch.setattr(actions, "CHUNK", 2)
    r = client.post(f"/api/dm/actions?id=delete_tasks_annotations&project={pid}",
                    json={"filters": one("annotators", "contains", lead.id, "List")}, headers=lead.headers)
    assert r.get_json() == {"processed_items": 5, "detail": "Deleted 5 annotations"}
    with read_session() as s:
        tasks = [s.get(Task, i) for i in ids]
        assert [(t.state, t.n_annotations) for t in tasks] == [("open", 0)] * 6


@pytest.mark.parametrize("body", [{"ids": [], "project": 2**31}, {"ids": [2**31], "project": 1}])
def test_ids_past_the_database_integer_are_refused_not_a_500(client, lead, body):
    """PostgreSQL's integer ends at 2**31 - 1: a bigger id is refused before any query."""
    for url in ("/api/dm/views/order", "/api/dm/views"):
        r = client.post(url, json=body if url.endswith("order") else {"project": body["project"]},
                        headers=lead.headers)
        assert r.status_code in (400, 404, 422), r.get_data(as_text=True)
