"""The real ``label-studio-sdk`` client (the version in pyproject) against a live ``labelfab serve``.

Scripts written for Label Studio must work unchanged: create a project, import tasks, list
tasks, create annotations and predictions, fetch the next task, and export JSON.
"""

from __future__ import annotations

import json

import pytest
from label_studio_sdk.client import LabelStudio

from labeling.models import Role

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


def choice(value: str) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def sdk_setup(live_server, make_user):
    lead = make_user("sdk-lead@example.com", Role.lead)
    ann = make_user("sdk-ann@example.com", Role.annotator)
    return (LabelStudio(base_url=live_server.url, api_key=lead.token),
            LabelStudio(base_url=live_server.url, api_key=ann.token), ann)


def test_label_studio_sdk_workflow(sdk_setup):
    ls, ls_annotator, ann = sdk_setup
    project = ls.projects.create(title="SDK project", label_config=CONFIG, maximum_annotations=1)
    assert project.id and project.title == "SDK project"
    assert ls.projects.get(id=project.id).label_config == CONFIG

    ls.projects.import_tasks(id=project.id, request=[{"text": f"sentence {i}"} for i in range(5)])
    tasks = list(ls.tasks.list(project=project.id))
    assert [t.data["text"] for t in tasks] == [f"sentence {i}" for i in range(5)]
    ids = [t.id for t in tasks]

    # a lead annotates directly, as a migration script would
    created = ls.annotations.create(id=ids[0], result=choice("pos"), lead_time=1.5)
    assert created.id and created.task == ids[0] and created.result == choice("pos")
    assert [a.id for a in ls.annotations.list(id=ids[0])] == [created.id]

    prediction = ls.predictions.create(task=ids[1], result=choice("neg"), score=0.75, model_version="bert-1")
    assert prediction.id and prediction.task == ids[1] and prediction.model_version == "bert-1"

    # an annotator with their own token works the queue through the same client's HTTP session
    nxt = ls_annotator._client_wrapper.httpx_client.request(f"api/projects/{project.id}/next", method="GET")
    assert nxt.status_code == 200
    task = nxt.json()
    assert task["id"] == ids[1]  # ids[0] is labeled; ids[1] comes with its prediction
    assert [p["model_version"] for p in task["predictions"]] == ["bert-1"]
    mine = ls_annotator.annotations.create(id=task["id"], result=choice("neg"))
    assert mine.completed_by == ann.id
    assert [a.id for a in ls_annotator.annotations.list(id=ids[0])] == []  # blind to the lead's

    updated = ls.annotations.update(id=created.id, result=choice("neg"))
    assert updated.result == choice("neg")

    exported = json.loads(b"".join(ls.projects.exports.download_sync(id=project.id, export_type="JSON")))
    assert sorted(t["id"] for t in exported) == [ids[0], ids[1]]
    by_id = {t["id"]: t for t in exported}
    assert by_id[ids[0]]["annotations"][0]["result"] == choice("neg")
    assert by_id[ids[1]]["predictions"][0]["score"] == 0.75
    assert by_id[ids[1]]["annotations"][0]["completed_by"] == ann.id
