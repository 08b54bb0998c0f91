"""REST: labelfab's own Data Manager actions (``POST /api/dm/actions?id=send_to_review|reopen|
accept|exclude|include|mark_gold|unmark_gold``): the states before and after, one event per task
moved, the tasks that cannot move reported and left alone, the refusals, and one transaction."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling.db import get_engine, read_session
from labeling.dm import actions, filters
from labeling.models import Lease, Role, Task, TaskEvent, User

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def picked(*ids: int) -> dict:
    return {"selectedItems": {"all": False, "included": list(ids)}}


@pytest.fixture
def project(client, lead, make_user):
    """Six tasks, overlap 1: the first three labeled by an annotator (pos, neg, pos), the rest open."""
    r = client.post("/api/projects", json={"title": "Acts", "label_config": TEXT, "maximum_annotations": 1},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    client.post(f"/api/projects/{pid}/import", json=[{"text": f"t{i}", "n": i} for i in range(6)],
                headers=lead.headers)
    ids = [t["id"] for t in client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]]
    ann = make_user("acts-ann@example.com", Role.annotator)
    for i, label in zip(ids[:3], ("pos", "neg", "pos"), strict=True):
        r = client.post(f"/api/tasks/{i}/annotations", json={"result": choice(label)}, headers=ann.headers)
        assert r.status_code == 201, r.get_json()
    return pid, ids, ann


def act(client, who, pid, action, body=None, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return client.post(f"/api/dm/actions?id={action}&project={pid}" + (f"&{query}" if query else ""),
                       json=body if body is not None else {}, headers=who.headers)


def states(ids) -> list[str]:
    with read_session() as s:
        return [s.get(Task, i).state for i in ids]


def events(task_id: int) -> list[tuple]:
    with read_session() as s:
        return [(e.from_state, e.to_state, e.user_id, e.reason) for e in
                s.exec(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)).all()]


def n_events() -> int:
    with read_session() as s:
        return len(s.exec(select(TaskEvent.id)).all())


def test_the_actions_are_listed_with_label_studios_keys(client, lead, project):
    pid, _, _ = project
    listed = client.get(f"/api/dm/actions?project={pid}", headers=lead.headers).get_json()
    assert [a["id"] for a in listed] == ["retrieve_tasks_predictions", "delete_tasks", "delete_tasks_annotations",
                                         "delete_tasks_predictions", "send_to_review", "reopen", "accept", "exclude",
                                         "include", "mark_gold", "unmark_gold"]
    for a in listed:
        assert set(a) == {"id", "title", "order", "permission", "experimental", "dialog"}
        assert {"type", "title", "text", "form"} <= set(a["dialog"])


def test_send_to_review_then_accept(client, lead, project):
    pid, ids, _ = project
    before = n_events()
    r = act(client, lead, pid, "send_to_review", {**picked(ids[0], ids[1], ids[4]), "reason": "spot check"})
    body = r.get_json()
    assert r.status_code == 200, body
    assert (body["processed_items"], body["refused"]) == (2, 1)
    assert body["refusals"] == [{"id": ids[4], "state": "open", "detail": "not labeled yet: nothing to review"}]
    assert body["detail"].startswith("Sent 2 tasks to review; 1 left as they are")
    assert states(ids) == ["review", "review", "labeled", "open", "open", "open"]
    assert n_events() == before + 2
    assert events(ids[0])[-1] == ("labeled", "review", lead.id, "sent to review by a lead: spot check")
    # the review queue hands them out
    item = client.get(f"/api/projects/{pid}/review/next", headers=lead.headers).get_json()
    assert item["task"]["id"] in ids[:2] and item["issue"] is None

    r = act(client, lead, pid, "accept", {})  # every task: the open ones are refused
    body = r.get_json()
    assert (body["processed_items"], body["refused"]) == (3, 3), body
    assert states(ids) == ["accepted"] * 3 + ["open"] * 3
    with read_session() as s:
        t1 = s.get(Task, ids[1])
        assert (t1.final_label, t1.final_source) == (choice("neg"), "single")
        assert s.exec(select(Lease).where(Lease.task_id.in_(ids))).all() == []  # the review lease went
        assert s.get(Task, ids[0]).n_leases == 0
    assert events(ids[2])[-1][:2] == ("labeled", "accepted")


def test_reopen_sends_tasks_to_new_annotators(client, lead, project, make_user):
    pid, ids, ann = project
    act(client, lead, pid, "accept", picked(ids[0]))
    r = act(client, lead, pid, "reopen", {**picked(ids[0], ids[1]), "more": 2})
    assert r.get_json()["processed_items"] == 2, r.get_json()
    with read_session() as s:
        t0 = s.get(Task, ids[0])
        assert (t0.state, t0.target_overlap, t0.requeued, t0.final_label) == ("open", 3, True, None)
    assert events(ids[0])[-1][:2] == ("accepted", "open")
    other = make_user("acts-other@example.com", Role.annotator)
    served = client.get(f"/api/projects/{pid}/next", headers=other.headers).get_json()
    assert served["id"] in ids[:2]  # requeued tasks first, to someone who has not labelled them
    assert client.get(f"/api/projects/{pid}/next", headers=ann.headers).get_json()["id"] not in ids[:2]
    # past the project's maximum overlap (5): refused, left as it is
    r = act(client, lead, pid, "reopen", {**picked(ids[2]), "more": 5})
    body = r.get_json()
    assert (body["processed_items"], body["refused"]) == (0, 1)
    assert "maximum" in body["refusals"][0]["detail"] and states([ids[2]]) == ["labeled"]


def test_exclude_and_include_back(client, lead, project, make_user):
    pid, ids, _ = project
    other = make_user("acts-holder@example.com", Role.annotator)
    held = client.get(f"/api/projects/{pid}/next", headers=other.headers).get_json()["id"]
    r = act(client, lead, pid, "exclude", {**picked(ids[0], held), "reason": "broken text"})
    assert r.get_json()["processed_items"] == 2
    assert states([ids[0], held]) == ["excluded", "excluded"]
    with read_session() as s:
        assert s.get(Task, held).n_leases == 0
        assert s.exec(select(Lease).where(Lease.task_id == held)).all() == []
    assert events(held)[-1] == ("open", "excluded", lead.id, "excluded by a lead: broken text")
    r = act(client, lead, pid, "include", {})
    body = r.get_json()
    assert (body["processed_items"], body["refused"]) == (2, 4)
    assert states([ids[0], held]) == ["labeled", "open"]  # back to where their annotations put them


def test_mark_and_unmark_gold(client, lead, project):
    pid, ids, _ = project
    act(client, lead, pid, "accept", picked(ids[1]))
    r = act(client, lead, pid, "mark_gold", picked(ids[0], ids[1], ids[3]))
    body = r.get_json()
    assert (body["processed_items"], body["refused"]) == (2, 1), body
    assert body["refusals"][0] == {"id": ids[3], "state": "open", "detail": "no label to make its gold answer"}
    with read_session() as s:
        t0, t1 = s.get(Task, ids[0]), s.get(Task, ids[1])
        assert (t0.state, t0.is_gold, t0.gold_answer) == ("open", True, choice("pos"))
        assert (t1.state, t1.is_gold, t1.gold_answer, t1.final_label) == ("open", True, choice("neg"), None)
    assert events(ids[1])[-1][:2] == ("accepted", "open")
    # gold tasks keep to their track: the other acts refuse them
    r = act(client, lead, pid, "exclude", picked(ids[0]))
    assert r.get_json()["refusals"][0]["detail"] == "a gold task: unmark it as gold first"
    r = act(client, lead, pid, "unmark_gold", {})
    body = r.get_json()
    assert (body["processed_items"], body["refused"]) == (2, 4)
    assert states(ids[:2]) == ["labeled", "labeled"]
    with read_session() as s:
        assert not any(s.get(Task, i).is_gold for i in ids)


def where(column: str, operator: str, kind: str, value) -> dict:
    """A Label Studio Data Manager filter on every task (``selectedItems.all``), as its front end sends."""
    return {"filters": {"conjunction": "and", "items": [
        {"filter": f"filter:tasks:{column}", "operator": operator, "type": kind, "value": value}]},
        "selectedItems": {"all": True, "excluded": []}}


def test_the_acts_take_a_filter_as_well_as_a_selection(client, lead, project):
    """Each of labelfab's acts on the tasks a filter selects (data.n, a number), not the others."""
    pid, ids, _ = project
    r = act(client, lead, pid, "send_to_review", {**where("data.n", "less", "Number", 2), "reason": "low n"})
    assert r.get_json()["processed_items"] == 2, r.get_json()
    assert states(ids) == ["review", "review", "labeled", "open", "open", "open"]
    r = act(client, lead, pid, "accept", where("data.n", "equal", "Number", 2))
    assert (r.get_json()["processed_items"], r.get_json()["refused"]) == (1, 0)
    assert states(ids)[2] == "accepted"
    r = act(client, lead, pid, "mark_gold", where("data.n", "equal", "Number", 2))
    assert r.get_json()["processed_items"] == 1
    r = act(client, lead, pid, "exclude", {**where("data.n", "greater", "Number", 4), "reason": "out of scope"})
    assert r.get_json()["processed_items"] == 1
    r = act(client, lead, pid, "reopen", {**where("data.n", "in", "Number", {"min": 0, "max": 1}), "more": 1})
    assert r.get_json()["processed_items"] == 2, r.get_json()
    assert states(ids) == ["open", "open", "open", "open", "open", "excluded"]
    with read_session() as s:
        assert [s.get(Task, i).is_gold for i in ids] == [False, False, True, False, False, False]
    # a filter that matches nothing is Label Studio's 404; a bad one a 400, never every task
    assert act(client, lead, pid, "exclude", where("data.n", "greater", "Number", 99)).status_code == 404
    r = act(client, lead, pid, "exclude", where("data.n", "sounds_like", "Number", 1))
    assert r.status_code == 400 and states(ids)[:5] == ["open"] * 5


def test_tied_annotators_are_not_accepted(client, lead, make_user):
    r = client.post("/api/projects", json={"title": "Tie", "label_config": TEXT, "maximum_annotations": 2},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    client.post(f"/api/projects/{pid}/import", json=[{"text": "a"}], headers=lead.headers)
    tid = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]["id"]
    for email, label in (("tie1@example.com", "pos"), ("tie2@example.com", "neg")):
        who = make_user(email, Role.annotator)
        client.post(f"/api/tasks/{tid}/annotations", json={"result": choice(label)}, headers=who.headers)
    body = act(client, lead, pid, "accept", {}).get_json()
    assert (body["processed_items"], body["refusals"]) == (
        0, [{"id": tid, "state": "labeled", "detail": "the annotators are tied: a reviewer picks"}])
    body = act(client, lead, pid, "mark_gold", {}).get_json()
    assert body["refusals"][0]["detail"] == "the annotators are tied: no answer to make gold"
    assert states([tid]) == ["labeled"]


def test_refusals(client, lead, project, make_user):
    pid, ids, ann = project
    reviewer = make_user("acts-rev@example.com", Role.reviewer)
    client.post(f"/api/projects/{pid}/members", json={"user": reviewer.email, "role": "reviewer"},
                headers=lead.headers)
    before = n_events()
    for action in ("send_to_review", "accept", "exclude", "mark_gold"):
        assert act(client, reviewer, pid, action).status_code == 403
        assert act(client, ann, pid, action).status_code == 403
    assert act(client, lead, pid, "reopen", {"more": 0}).status_code == 422
    assert act(client, lead, pid, "reopen", {"more": "many"}).status_code == 422
    assert act(client, lead, pid, "exclude", {"reason": "x" * 2001}).status_code == 422
    assert act(client, lead, pid, "exclude", {"reason": 5}).status_code == 422
    assert act(client, lead, pid, "accept", picked()).status_code == 404
    assert n_events() == before and states(ids) == ["labeled"] * 3 + ["open"] * 3


def test_a_failure_midway_changes_nothing(lead, project, monkeypatch):
    """A database error on the last task, after the earlier chunks have moved, rolls every move
    and event back (a trigger makes the database refuse that one row)."""
    pid, ids, _ = project
    engine = get_engine()
    last = ids[2]
    if engine.dialect.name == "postgresql":
        create = [f"CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.id = {last} AND NEW.state <> OLD.state "
                  "THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                  "CREATE TRIGGER boom BEFORE UPDATE ON task FOR EACH ROW EXECUTE FUNCTION boom()"]
        drop = ["DROP TRIGGER boom ON task", "DROP FUNCTION boom()"]
    else:
        create = [f"CREATE TRIGGER boom BEFORE UPDATE OF state ON task WHEN NEW.id = {last} "
                  "BEGIN SELECT RAISE(ABORT, 'boom'); END"]
        drop = ["DROP TRIGGER boom"]
    with engine.begin() as conn:
        for sql in create:
            conn.execute(sa.text(sql))
    monkeypatch.setattr(actions, "CHUNK", 1)
    before = n_events()
    try:
        with read_session() as s:
            user = s.get(User, lead.id)
        with pytest.raises(sa.exc.DBAPIError, match="boom"):
            actions.perform(user, pid, "send_to_review", filters.parse({}))
    finally:
        with engine.begin() as conn:
            for sql in drop:
                conn.execute(sa.text(sql))
    assert states(ids) == ["labeled"] * 3 + ["open"] * 3
    assert n_events() == before
    body = actions.perform(user, pid, "send_to_review", filters.parse({}))
    assert body["processed_items"] == 3 and n_events() == before + 3


def test_the_cli_runs_the_same_actions(runner, client, lead, project):
    pid, ids, _ = project
    query = '{"filters": {"conjunction": "and", "items": [{"filter": "filter:tasks:data.n", "operator": "less", ' \
            '"type": "Number", "value": 2}]}}'
    out = runner.invoke(args=["tasks", "exclude", "--project", str(pid), "--query", query, "--reason", "too short",
                              "--as", lead.email])
    assert out.exit_code == 0, out.output
    answer = json.loads(out.output)
    assert (answer["processed_items"], answer["refused"]) == (2, 0)
    assert states(ids[:3]) == ["excluded", "excluded", "labeled"]
    assert events(ids[1])[-1] == ("labeled", "excluded", lead.id, "excluded by a lead: too short")
    out = runner.invoke(args=["tasks", "send_to_review", "--project", str(pid), "--as", lead.email])
    assert out.exit_code == 0 and json.loads(out.output)["processed_items"] == 3
    out = runner.invoke(args=["tasks", "explode", "--project", str(pid), "--as", lead.email])
    assert out.exit_code != 0 and "unknown action" in out.output
