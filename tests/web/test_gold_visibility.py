"""Gold answers are for the project's leads and admins only, and gold scores annotators only:
a reviewer sees no gold flag or answer (task API, task list, tasks page), is never handed a gold
task, and an answer of theirs (or a lead's) to a gold task counts toward no gold accuracy."""

from __future__ import annotations

import pytest
from sqlmodel import select

from insights import dashboard
from labeling import annotations, gold, projects, router
from labeling.db import read_session, write_session
from labeling.models import Membership, Role, Task
from labeling.wire import GOLD_TASK_KEYS, PRIVATE_TASK_KEYS
from tests.conftest import login

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


def label(name: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


@pytest.fixture
def world(lead):
    """A project whose gold tasks (answer "pos") make half of each annotator's work; two wrong
    gold answers pause an annotator."""
    project = projects.create_project(lead.user, title="gold", label_config=CONFIG, gold_rate=0.5,
                                      gold_threshold=0.75, gold_min_items=2)
    with write_session() as s:
        golden = [Task(project_id=project.id, data={"text": f"gold {i}"}, is_gold=True, gold_answer=label("pos"))
                  for i in range(3)]
        plain = [Task(project_id=project.id, data={"text": f"item {i}"}, target_overlap=project.overlap)
                 for i in range(6)]
        s.add_all(golden + plain)
        s.flush()
        return project.id, [t.id for t in golden], [t.id for t in plain]


def test_a_reviewer_gets_no_gold_keys_a_lead_and_an_admin_do(client, world, lead, admin, reviewer):
    pid, golden, plain = world
    seen = client.get(f"/api/tasks/{golden[0]}", headers=reviewer.headers)
    assert seen.status_code == 200
    body = seen.get_json()
    assert not set(GOLD_TASK_KEYS) & set(body)
    assert set(PRIVATE_TASK_KEYS) <= set(body)  # the other workflow keys, as before
    for who in (lead, admin):
        body = client.get(f"/api/tasks/{golden[0]}", headers=who.headers).get_json()
        assert body["is_gold"] is True and body["gold_answer"] == label("pos")
        assert client.get(f"/api/tasks/{plain[0]}", headers=who.headers).get_json()["is_gold"] is False

    for url in (f"/api/tasks?project={pid}&fields=all", f"/api/projects/{pid}/tasks"):
        listed = client.get(url, headers=reviewer.headers).get_json()
        tasks = listed["tasks"] if isinstance(listed, dict) else listed
        assert len(tasks) == 9 and all(not set(GOLD_TASK_KEYS) & set(t) for t in tasks)
        listed = client.get(url, headers=lead.headers).get_json()
        tasks = listed["tasks"] if isinstance(listed, dict) else listed
        assert sorted(t["id"] for t in tasks if t["is_gold"]) == golden
    # asking for the gold tasks by their state would tell them apart
    refused = client.get(f"/api/tasks?project={pid}&state=gold", headers=reviewer.headers)
    assert refused.status_code == 403 and "gold" in refused.get_json()["detail"]
    got = client.get(f"/api/tasks?project={pid}&state=gold", headers=lead.headers).get_json()
    assert sorted(t["id"] for t in got["tasks"]) == golden


def test_the_tasks_pages_show_gold_to_leads_only(app, client, world, lead, reviewer):
    pid, golden, _ = world
    login(client, reviewer.email)
    page = client.get(f"/projects/{pid}/tasks").get_data(as_text=True)
    assert f"/tasks/{golden[0]}" in page and 'class="badge warn">gold' not in page
    assert "filter:tasks:is_gold" not in page and "tasks:is_gold" not in page
    task_page = client.get(f"/projects/{pid}/tasks/{golden[0]}").get_data(as_text=True)
    assert 'class="badge warn">gold' not in task_page
    assert client.get(f"/projects/{pid}/tasks?state=gold").status_code == 403
    client = app.test_client()
    login(client, lead.email)
    page = client.get(f"/projects/{pid}/tasks").get_data(as_text=True)
    assert page.count('class="badge warn">gold') == 3 and 'value="filter:tasks:is_gold"' in page
    assert 'class="badge warn">gold' in client.get(f"/projects/{pid}/tasks/{golden[0]}").get_data(as_text=True)


def test_the_router_hands_gold_tasks_to_annotators_only(world, lead, reviewer, annotator):
    pid, golden, _ = world
    served = {}
    for person, rounds in ((annotator, 2), (reviewer, 4), (lead, 1)):
        served[person.email] = []
        for _ in range(rounds):
            task = router.next_task(pid, person.user)
            served[person.email].append(task.id in golden)
            annotations.submit(task.id, person.user, result=label("pos"))
    # gold_rate 0.5: every second task of an annotator's is gold; nobody else is handed one
    assert served == {annotator.email: [False, True], reviewer.email: [False] * 4, lead.email: [False]}


def test_a_reviewer_or_lead_answering_gold_is_not_scored(client, world, lead, reviewer, annotator, make_user):
    pid, golden, _ = world
    wrong = make_user("rev2@example.com", Role.reviewer)
    # the role in the project decides: a global reviewer who is an annotator member is scored
    member = make_user("member@example.com", Role.reviewer)
    assert client.post(f"/api/projects/{pid}/members", json={"email": member.email, "role": "annotator"},
                       headers=lead.headers).status_code == 201
    for tid in golden:  # they know (or could learn) the answers: all right, or all wrong
        assert client.post(f"/api/tasks/{tid}/annotations", json={"result": label("pos")},
                           headers=reviewer.headers).status_code == 201
        assert client.post(f"/api/tasks/{tid}/annotations", json={"result": label("neg")},
                           headers=wrong.headers).status_code == 201
        assert client.post(f"/api/tasks/{tid}/annotations", json={"result": label("pos")},
                           headers=lead.headers).status_code == 201
    for tid in golden[:2]:  # annotators are scored as ever: 1 of 2, and 0 of 2
        client.post(f"/api/tasks/{tid}/annotations", json={"result": label("pos" if tid == golden[0] else "neg")},
                    headers=annotator.headers)
        client.post(f"/api/tasks/{tid}/annotations", json={"result": label("neg")}, headers=member.headers)
        assert not set(GOLD_TASK_KEYS) & set(client.get(f"/api/tasks/{tid}", headers=member.headers).get_json())

    table = {r["user"]: r for r in gold.annotator_quality(pid, lead.user)}
    for person in (reviewer, wrong, lead):
        row = table[person.id]
        assert (row["gold_items"], row["gold_correct"], row["gold_accuracy"]) == (0, 0, None), person.email
        assert not row["paused"] and not row["below_gold_threshold"]
    assert (table[annotator.id]["gold_items"], table[annotator.id]["gold_accuracy"]) == (2, 0.5)
    assert table[annotator.id]["paused"]  # 50% is below 75% over 2 answers
    assert (table[member.id]["gold_items"], table[member.id]["gold_accuracy"], table[member.id]["paused"]) == \
        (2, 0.0, True)

    panel = {r["user_id"]: r for r in dashboard.project_stats(lead.user, pid, ["annotators"])
             ["panels"]["annotators"]["rows"]}
    for person in (reviewer, wrong, lead):
        assert (panel[person.id]["gold_items"], panel[person.id]["gold_accuracy"]) == (0, None)
    assert (panel[annotator.id]["gold_items"], panel[annotator.id]["gold_accuracy"]) == (2, 0.5)

    with read_session() as s:
        paused = {m.user_id for m in s.exec(select(Membership).where(Membership.project_id == pid,
                                                                     Membership.paused_at.is_not(None)))}
    assert paused == {annotator.id, member.id}
    assert gold.check_gold(pid, wrong.id) is False
    assert client.get(f"/api/projects/{pid}/next", headers=wrong.headers).status_code == 200



def test_a_task_marked_gold_tells_its_answer_to_leads_only(app, client, world, lead, reviewer):
    """Marking gold writes the answer into the task's events and a review decision: a reviewer's
    story of the task (page and API) shows neither; the lead's shows both."""
    pid, _, plain = world
    task_id = plain[0]
    with write_session() as s:  # a labelled task: marking it gold moves it back to open, with the answer
        s.get(Task, task_id).state = "labeled"
    gold.mark_gold(task_id, lead.user, answer=label("pos"))
    login(client, reviewer.email)
    told = client.get(f"/api/tasks/{task_id}/story").get_json()
    assert told["reviews"] == [] and "gold_answer" not in told["task"]
    assert "marked gold" in [e["reason"] for e in told["events"]]
    assert not any("pos" in (e["reason"] or "") for e in told["events"])
    page = client.get(f"/projects/{pid}/tasks/{task_id}").get_data(as_text=True)
    assert "marked gold: pos" not in page and "gold → pos" not in page
    client = app.test_client()
    login(client, lead.email)
    told = client.get(f"/api/tasks/{task_id}/story").get_json()
    assert [r["decision"] for r in told["reviews"]] == ["gold"]
    assert "marked gold: pos" in [e["reason"] for e in told["events"]]


def test_a_reviewer_cannot_stream_the_gold_tasks(client, world, reviewer):
    pid, _, _ = world
    login(client, reviewer.email)
    gold_only = ('{"filters":{"conjunction":"and","items":[{"filter":"filter:tasks:is_gold",'
                 '"operator":"equal","type":"Boolean","value":true}]}}')
    assert client.get(f"/projects/{pid}/stream", query_string={"query": gold_only}).status_code == 403


def test_the_annotator_filter_offers_the_projects_people_not_every_user(client, world, lead, reviewer, make_user):
    pid, _, _ = world
    stranger = make_user("stranger@example.com")
    login(client, reviewer.email)
    page = client.get(f"/projects/{pid}/tasks").get_data(as_text=True)
    assert stranger.email not in page and reviewer.email in page


def test_a_query_nested_past_pythons_limit_is_refused_not_a_server_error(client, world, lead):
    pid, _, _ = world
    deep = '{"filters":' + "[" * 5000 + "]" * 5000 + "}"
    login(client, lead.email)
    for url, args in ((f"/projects/{pid}/tasks", {}), (f"/projects/{pid}/stream", {}), ("/api/tasks", {"project": pid})):
        assert client.get(url, query_string={**args, "query": deep}).status_code == 400, url
