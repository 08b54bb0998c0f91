"""``/api/ml`` as Label Studio answers it, over REST and with the real ``label-studio-sdk``
(``client.ml.*``, ``actions.create(id="retrieve_tasks_predictions")``) against a live labelfab,
with a label-studio-ml-backend-style model server written for the test: imported tasks are
pre-labelled (the annotator's next task carries the model's prediction), training is asked on
``train`` and on publish, a server that is down is refused or marked ER."""

from __future__ import annotations

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling.models import Role
from tests.conftest import wait_for
from tests.ml_backend_server import ModelServer, closed_port_url

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


@pytest.fixture
def server():
    s = ModelServer()
    yield s
    s.stop()


@pytest.fixture
def project_id(client, lead):
    r = client.post("/api/projects", json={"title": "ml api", "label_config": CONFIG}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_rest_create_list_get_patch_delete(client, lead, project_id, server):
    r = client.post("/api/ml/", json={"url": server.url, "project": project_id, "title": "kw",
                                      "auth_method": "NONE", "extra_params": {"k": 1}}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert (made["state"], made["readable_state"], made["model_version"], made["title"]) == (
        "CO", "Connected", "keywords-v1", "kw")
    assert server.calls("/setup")[0]["extra_params"] == {"k": 1}
    listed = client.get(f"/api/ml?project={project_id}", headers=lead.headers).get_json()
    assert [b["id"] for b in listed] == [made["id"]]
    assert client.get(f"/api/ml?project={project_id}&is_interactive=true", headers=lead.headers).get_json() == []
    got = client.get(f"/api/ml/{made['id']}", headers=lead.headers).get_json()
    assert got == made
    r = client.patch(f"/api/ml/{made['id']}", json={"description": "keywords", "timeout": 20},
                     headers=lead.headers)
    assert r.status_code == 200 and (r.get_json()["description"], r.get_json()["timeout"]) == ("keywords", 20.0)
    assert client.delete(f"/api/ml/{made['id']}", headers=lead.headers).status_code == 204
    assert client.get(f"/api/ml/{made['id']}", headers=lead.headers).status_code == 404


def test_rest_refusals(client, lead, annotator, project_id, server):
    r = client.post("/api/ml", json={"url": closed_port_url(), "project": project_id}, headers=lead.headers)
    assert r.status_code == 400 and "health check failed" in r.get_json()["detail"]
    r = client.post("/api/ml", json={"project": project_id}, headers=lead.headers)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "url"
    assert client.get("/api/ml", headers=lead.headers).status_code == 422  # no project given
    r = client.post("/api/ml", json={"url": server.url, "project": project_id}, headers=annotator.headers)
    assert r.status_code in (403, 404)
    assert client.get(f"/api/ml?project={project_id}", headers=annotator.headers).status_code in (403, 404)
    made = client.post("/api/ml", json={"url": server.url, "project": project_id, "auth_method": "BASIC_AUTH",
                                        "basic_auth_user": "u", "basic_auth_pass": "p4ss"},
                       headers=lead.headers)
    assert made.status_code == 201 and made.get_json()["basic_auth_pass_is_set"] is True
    assert "p4ss" not in made.get_data(as_text=True)
    for who in (annotator,):
        assert client.post(f"/api/ml/{made.get_json()['id']}/train", headers=who.headers).status_code in (403, 404)


def test_sdk_ml_calls_against_a_live_labelfab(live_server, make_user):
    lead = make_user("ml-lead@example.com", Role.lead)
    ann = make_user("ml-ann@example.com", Role.annotator)
    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    server = ModelServer()
    try:
        p = ls.projects.create(title="SDK ML", label_config=CONFIG)
        backend = ls.ml.create(url=server.url, project=p.id, title="ModelSingle", is_interactive=False)
        assert (backend.state, backend.model_version, backend.project) == ("CO", "keywords-v1", p.id)
        assert [b.title for b in ls.ml.list(project=p.id)] == ["ModelSingle"]
        assert ls.ml.get(id=backend.id).url == server.url
        assert ls.ml.update(id=backend.id, title="renamed", url=server.url).title == "renamed"
        versions = ls.ml.list_model_versions(id=backend.id)
        assert versions.versions == ["keywords-v1"]

        # import: the backend pre-labels the new tasks, from a job of the live server
        ls.projects.import_tasks(id=p.id, request=[{"text": "good day"}, {"text": "rain"}, {"text": "good news"}])
        preds = wait_for(lambda: (lambda found: found if len(found) == 3 else None)(
            list(ls.predictions.list(project=p.id))))
        assert sorted(x.result[0]["value"]["choices"][0] for x in preds) == ["neg", "pos", "pos"]
        assert {x.model_version for x in preds} == {"keywords-v1"}
        # the annotator's next task (what the labeling page pre-fills) carries the model's prediction
        nxt = LabelStudio(base_url=live_server.url, api_key=ann.token)._client_wrapper.httpx_client.request(
            f"api/projects/{p.id}/next", method="GET")
        assert nxt.status_code == 200, nxt.text
        task = nxt.json()
        assert [x["model_version"] for x in task["predictions"]] == ["keywords-v1"]
        assert task["predictions"][0]["result"][0]["value"]["choices"] == (
            ["pos"] if "good" in task["data"]["text"] else ["neg"])

        # retrieve_tasks_predictions on a selection: Label Studio's answer, the job does the calls
        tasks = sorted(t.id for t in ls.tasks.list(project=p.id))
        for x in preds:
            ls.predictions.delete(id=x.id)
        n_predict = len(server.calls("/predict"))
        ls.actions.create(id="retrieve_tasks_predictions", project=p.id,
                          selected_items={"all": True, "excluded": [tasks[1]]})
        again = wait_for(lambda: (lambda found: found if len(found) == 2 else None)(
            list(ls.predictions.list(project=p.id))))
        assert sorted(x.task for x in again) == [tasks[0], tasks[2]]
        assert len(server.calls("/predict")) > n_predict

        # interactive pre-annotation: the annotator's context reaches /predict
        ls.ml.update(id=backend.id, url=server.url, is_interactive=True)
        LabelStudio(base_url=live_server.url, api_key=ann.token).ml.predict_interactive(
            id=backend.id, task=tasks[0], context={"result": []})
        assert server.calls("/predict")[-1]["params"]["context"] == {"result": []}

        # train: START_TRAINING reaches the server's /webhook
        ls.ml.train(id=backend.id)
        (body,) = wait_for(lambda: server.calls("/webhook") or None)
        assert body["action"] == "START_TRAINING" and body["project"]["id"] == p.id
        wait_for(lambda: ls.ml.get(id=backend.id).state == "TR")

        # a server that goes down: the backend says ER with the message, the project keeps working
        server.stop()
        with pytest.raises(ApiError) as caught:
            ls.ml.update(id=backend.id, title="again", url=server.url)
        assert caught.value.status_code == 400
        ls.ml.train(id=backend.id)
        down = wait_for(lambda: (lambda b: b if b.state == "ER" else None)(ls.ml.get(id=backend.id)))
        assert down.error_message and "webhook" in down.error_message
        ls.projects.import_tasks(id=p.id, request=[{"text": "after the fall"}])
        assert len(list(ls.tasks.list(project=p.id))) == 4

        ls.ml.delete(id=backend.id)
        assert list(ls.ml.list(project=p.id)) == []
    finally:
        server.stop()
