"""The QC queue over REST: review next/decide/undo, audit, gold, annotators, policy; access
rules and bad input; and the browser pages behind them."""

from __future__ import annotations

import re

import pytest

from labeling import router
from labeling.db import write_session
from labeling.models import Role, Task
from tests.conftest import login
from tests.labeling.test_review import label, make_project, suspects_in_review, task, tied_suspects


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


@pytest.fixture
def queue(lead, annotator):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg", "neu"], truth=["pos", "pos", "neg"])
    return project, ids


def test_review_next_decide_and_undo(client, queue, reviewer):
    project, ids = queue
    h = reviewer.headers
    r = client.get(f"/api/projects/{project.id}/review/next", headers=h)
    assert r.status_code == 200
    item = r.get_json()
    assert item["task"]["id"] == ids[1] and item["task"]["data"] == {"text": "item 1"}
    assert [a["label"] for a in item["annotations"]] == ["neg"]
    assert item["given"]["label"] == "neg" and item["suggested"]["label"] == "pos"
    assert item["reason"] and item["score"] == pytest.approx(0.06) and item["remaining"] == 2
    assert client.get(f"/api/projects/{project.id}/review/next/", headers=h).get_json()["task"]["id"] == ids[1]

    r = client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "relabel", "result": label("pos")}, headers=h)
    assert r.status_code == 201
    body = r.get_json()
    assert body["decision"] == "relabel" and body["before"]["state"] == "review"
    assert body["reviewer"] == reviewer.id and body["reviewer_email"] == "rev@example.com"  # as the record lists it
    assert body["after"]["final_label"] == label("pos")
    assert task(ids[1]).final_source == "reviewer"

    r = client.post(f"/api/tasks/{ids[1]}/review/undo", headers=h)
    assert r.status_code == 200 and r.get_json()["undone_at"] and r.get_json()["reviewer_email"] == "rev@example.com"
    assert task(ids[1]).state == "review"
    r = client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}, headers=h)
    assert r.status_code == 201
    r = client.post(f"/api/projects/{project.id}/review/undo", headers=h)
    assert r.get_json()["decision"] == "keep"
    client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}, headers=h)

    r = client.post(f"/api/tasks/{ids[2]}/review", json={"decision": "exclude", "reason": "sarcasm"}, headers=h)
    assert r.status_code == 201 and task(ids[2]).state == "excluded"
    r = client.get(f"/api/projects/{project.id}/review/next", headers=h)
    assert r.status_code == 404 and "no suspects" in r.get_json()["detail"]
    decisions = client.get(f"/api/projects/{project.id}/review/decisions", headers=h).get_json()
    assert [d["decision"] for d in decisions] == ["exclude", "keep", "keep", "relabel"]
    assert sum(d["undone_at"] is not None for d in decisions) == 2


def test_the_review_pages_next_answers_200_with_no_item_when_the_queue_is_empty(client, queue, reviewer, annotator):
    project, ids = queue
    h = reviewer.headers
    r = client.get(f"/api/review/{project.id}/next", headers=h)
    assert r.status_code == 200
    body = r.get_json()
    rest = client.get(f"/api/projects/{project.id}/review/next", headers=h).get_json()
    assert body["project"] == project.id and body["item"]["task"]["id"] == ids[1] == rest["task"]["id"]
    assert body["item"]["suggested"]["label"] == "pos" and body["item"]["remaining"] == 2
    for tid in (ids[1], ids[2]):
        assert client.post(f"/api/tasks/{tid}/review", json={"decision": "keep"}, headers=h).status_code == 201
    r = client.get(f"/api/review/{project.id}/next", headers=h)
    assert r.status_code == 200 and r.get_json() == {"item": None, "project": project.id}
    assert client.get(f"/api/projects/{project.id}/review/next", headers=h).status_code == 404  # REST keeps its 404
    assert client.get(f"/api/review/{project.id}/next").status_code == 401
    assert client.get(f"/api/review/{project.id}/next", headers=annotator.headers).status_code == 403


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"decision": "approve"}, 422, "decision"),
    ({}, 422, "decision"),
    ({"decision": "relabel"}, 422, "result"),
    ({"decision": "relabel", "result": label("nope")}, 422, "result"),
    ({"decision": "exclude"}, 422, "reason"),
    ({"decision": "exclude", "reason": 5}, 422, "reason"),
])
def test_bad_decisions_are_refused_with_the_field_named(client, queue, reviewer, body, status, field):
    project, ids = queue
    r = client.post(f"/api/tasks/{ids[1]}/review", json=body, headers=reviewer.headers)
    assert r.status_code == status
    out = r.get_json()
    assert out["detail"] and out["errors"][0]["field"].startswith(field)
    assert task(ids[1]).state == "review"  # nothing changed


def test_access_rules(client, queue, annotator, reviewer, make_user):
    project, ids = queue
    stranger_project = make_project(make_user("lead2@example.com", Role.lead).user, restricted=True)
    assert client.get(f"/api/projects/{project.id}/review/next").status_code == 401
    assert client.get(f"/api/projects/{project.id}/review/next", headers=annotator.headers).status_code == 403
    assert client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"},
                       headers=annotator.headers).status_code == 403
    assert client.get(f"/api/projects/{stranger_project.id}/review/next", headers=reviewer.headers).status_code == 404
    assert client.get(f"/api/projects/{project.id}/annotators", headers=reviewer.headers).status_code == 403
    assert client.get(f"/api/projects/{project.id}/audit", headers=reviewer.headers).status_code == 403
    assert client.put(f"/api/projects/{project.id}/qc-policy", json={"threshold": 0.2},
                      headers=reviewer.headers).status_code == 403
    assert client.post(f"/api/tasks/{ids[1]}/gold", json={"answer": label("pos")},
                       headers=annotator.headers).status_code == 403
    assert client.post("/api/tasks/999999/review", json={"decision": "keep"}, headers=reviewer.headers).status_code == 404


def test_audit_endpoints(client, queue, reviewer, lead):
    project, ids = queue
    client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}, headers=reviewer.headers)
    client.post(f"/api/tasks/{ids[2]}/review", json={"decision": "relabel", "result": label("neg")},
                headers=reviewer.headers)
    sample = client.get(f"/api/projects/{project.id}/audit?sample=1&seed=1", headers=lead.headers).get_json()
    assert len(sample) == 1
    mine = client.get(f"/api/projects/{project.id}/audit?reviewer={reviewer.id}", headers=lead.headers).get_json()
    assert [d["task"] for d in mine] == [ids[1], ids[2]]
    r = client.post(f"/api/review-decisions/{mine[0]['id']}/audit",
                    json={"decision": "relabel", "result": label("pos"), "reason": "positive"}, headers=lead.headers)
    assert r.status_code == 201 and r.get_json()["overturns"] == mine[0]["id"] and r.get_json()["level"] == 2
    assert r.get_json()["reviewer_email"] == lead.email
    assert task(ids[1]).final_label == label("pos")
    r = client.post(f"/api/review-decisions/{mine[0]['id']}/audit", json={"decision": "confirm"},
                    headers=lead.headers)
    assert r.status_code == 409
    r = client.post(f"/api/review-decisions/{mine[1]['id']}/audit", json={"decision": "maybe"}, headers=lead.headers)
    assert r.status_code == 422
    assert client.get(f"/api/projects/{project.id}/audit?sample=0", headers=lead.headers).status_code == 422


def test_gold_pausing_and_resume_over_rest(client, lead, make_user):
    project = make_project(lead.user, gold_rate=0.5, gold_threshold=0.9, gold_min_items=1)
    with write_session() as s:
        s.add_all([Task(project_id=project.id, data={"text": f"t{i}"}) for i in range(4)])
    bad = make_user("bad@example.com")
    plain = router.next_task(project.id, bad.user)
    r = client.post(f"/api/tasks/{plain.id}/gold", json={"answer": label("pos")}, headers=lead.headers)
    assert r.status_code == 201 and task(plain.id).is_gold and r.get_json()["reviewer_email"] == lead.email
    assert client.post(f"/api/tasks/{plain.id}/gold", json={}, headers=lead.headers).status_code == 422
    r = client.post(f"/api/tasks/{plain.id}/annotations", json={"result": label("neg")}, headers=bad.headers)
    assert r.status_code == 201
    r = client.get(f"/api/projects/{project.id}/next", headers=bad.headers)
    assert r.status_code == 403 and "paused" in r.get_json()["detail"]
    rows = client.get(f"/api/projects/{project.id}/annotators", headers=lead.headers).get_json()
    row = next(x for x in rows if x["email"] == "bad@example.com")
    assert row["paused"] and row["gold_accuracy"] == 0.0 and "below" in row["paused_reason"]
    r = client.post(f"/api/projects/{project.id}/annotators/{bad.id}/resume", headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["paused"] is False
    assert client.post(f"/api/projects/{project.id}/annotators/{bad.id}/resume", headers=lead.headers).status_code == 409
    assert client.get(f"/api/projects/{project.id}/next", headers=bad.headers).status_code == 200
    r = client.delete(f"/api/tasks/{plain.id}/gold", headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["is_gold"] is False


def test_qc_policy_get_and_put(client, lead, reviewer):
    project = make_project(lead.user)
    r = client.get(f"/api/projects/{project.id}/qc-policy", headers=reviewer.headers)
    assert r.status_code == 200 and r.get_json()["suspect"] == "flagged"
    r = client.put(f"/api/projects/{project.id}/qc-policy", json={"suspect": "budget", "budget": 50},
                   headers=lead.headers)
    assert r.status_code == 200 and r.get_json()["budget"] == 50
    r = client.patch(f"/api/projects/{project.id}/qc-policy/", json={"budget": -1}, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "budget"
    r = client.put(f"/api/projects/{project.id}/qc-policy", data="[1]", content_type="application/json",
                   headers=lead.headers)
    assert r.status_code == 422


def test_browser_session_needs_csrf_for_decisions(client, queue, reviewer):
    project, ids = queue
    login(client, reviewer.email)
    page = client.get(f"/review/{project.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="review-config"' in html and "review.js" in html
    assert client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}).status_code == 400
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}, headers={"X-CSRFToken": token})
    assert r.status_code == 201


def test_lead_pages_render_and_act(app, client, queue, reviewer, lead, annotator):
    project, ids = queue
    client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "keep"}, headers=reviewer.headers)
    login(client, lead.email)
    audit_page = client.get(f"/review/{project.id}/audit")
    html = audit_page.get_data(as_text=True)
    assert audit_page.status_code == 200 and "decision-" in html and "rev@example.com" in html
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    decision_id = int(re.search(r'name="decision" value="(\d+)"', html).group(1))
    r = client.post(f"/review/{project.id}/audit", data={"csrf_token": token, "decision": decision_id,
                                                         "verdict": "relabel", "label": "pos"})
    assert r.status_code == 302 and task(ids[1]).final_label == label("pos")

    policy_page = client.get(f"/review/{project.id}/policy")
    assert policy_page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', policy_page.get_data(as_text=True)).group(1)
    form = {"csrf_token": token, "suspect": "worst_share", "threshold": "0.5", "worst_share": "0.2", "budget": "10",
            "kinds": ["label", "outlier"], "route": "review", "relabel_k": "2", "min_agreement": "0.6"}
    r = client.post(f"/review/{project.id}/policy", data=form)
    assert r.status_code == 302
    got = client.get(f"/api/projects/{project.id}/qc-policy", headers=lead.headers).get_json()
    assert got["suspect"] == "worst_share" and got["worst_share"] == 0.2 and got["kinds"] == ["label", "outlier"]
    assert got["dynamic_overlap"] is False  # unchecked box
    r = client.post(f"/review/{project.id}/policy", data={**form, "worst_share": "3"})
    assert r.status_code == 200 and "field-error" in r.get_data(as_text=True)

    annotators_page = client.get(f"/review/{project.id}/annotators")
    assert annotators_page.status_code == 200 and "ann@example.com" in annotators_page.get_data(as_text=True)
    other = app.test_client()
    login(other, annotator.email)
    assert other.get(f"/review/{project.id}").status_code == 403
    assert other.get(f"/review/{project.id}/annotators").status_code == 403


def test_task_data_is_rendered_as_text_on_the_audit_page(client, lead, annotator, reviewer):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos"], truth=["neg"])
    with write_session() as s:
        t = s.get(Task, ids[0])
        t.data = {"text": "<script>alert(1)</script>"}
        s.add(t)
    client.post(f"/api/tasks/{ids[0]}/review", json={"decision": "keep"}, headers=reviewer.headers)
    login(client, lead.email)
    html = client.get(f"/review/{project.id}/audit").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_keep_over_rest_refuses_a_tie_and_never_keeps_the_model_consensus(client, lead, reviewer, make_user):
    project, ids = tied_suspects(lead, make_user)
    h = reviewer.headers
    item = client.get(f"/api/projects/{project.id}/review/next", headers=h).get_json()
    assert item["given"]["result"] is None and item["consensus"]["by"] == "model"
    r = client.post(f"/api/tasks/{ids[0]}/review", json={"decision": "keep"}, headers=h)
    assert r.status_code == 409 and "tied" in r.get_json()["detail"]
    assert r.get_json()["errors"][0]["field"] == "decision" and task(ids[0]).final_label is None
    r = client.post(f"/api/tasks/{ids[0]}/review", json={"decision": "relabel", "result": label("pos")}, headers=h)
    assert r.status_code == 201 and task(ids[0]).final_label == label("pos")
    client.get(f"/api/projects/{project.id}/review/next", headers=h)
    r = client.post(f"/api/tasks/{ids[1]}/review", json={"decision": "relabel", "result": label("neu")}, headers=h)
    assert r.status_code == 201 and r.get_json()["decision"] == "keep"
