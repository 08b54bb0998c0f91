"""Uncertain first: a model's prediction scores order the router's tasks (``router.prioritize_uncertain``)."""

from __future__ import annotations


def test_uncertain_first_serves_the_least_sure_predictions_first(client, lead, annotator):
    """With uncertain_first, a prediction's score sets its open task's priority (1 - score) as it
    is stored, by import with the tasks, by the predictions API and by a batch of predictions."""
    from labeling.db import read_session
    from labeling.models import Task

    config = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
              '<Choice value="a"/><Choice value="b"/></Choices></View>')
    pid = client.post("/api/projects", json={"title": "Uncertain", "label_config": config}, headers=lead.headers) \
        .get_json()["id"]
    assert client.patch(f"/api/projects/{pid}", json={"uncertain_first": True}, headers=lead.headers).status_code == 200

    def pred(score):
        return {"result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}],
                "score": score, "model_version": "m1"}

    r = client.post(f"/api/projects/{pid}/import", headers=lead.headers, json=[
        {"data": {"text": "sure"}, "predictions": [pred(0.95)]},
        {"data": {"text": "unsure"}, "predictions": [pred(0.55)]},
        {"data": {"text": "none"}},
        {"data": {"text": "middle"}},
        {"data": {"text": "later"}}])
    assert r.status_code == 201, r.get_json()
    ids = [t["id"] for t in client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]]
    assert client.post("/api/predictions", json={"task": ids[3], **pred(0.7)}, headers=lead.headers).status_code == 201
    r = client.post(f"/api/projects/{pid}/import/predictions", json=[{"task": ids[4], **pred(0.8)}],
                    headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    with read_session() as s:
        assert [round(s.get(Task, i).priority, 6) for i in ids] == [0.05, 0.45, 0.0, 0.3, 0.2]
    served = []
    for _ in ids:
        task = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
        served.append(task["id"])
        client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]})
    assert served == [ids[1], ids[3], ids[4], ids[0], ids[2]]
