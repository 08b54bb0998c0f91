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


def test_a_label_studio_export_comes_back_in_and_ground_truth_round_trips(sdk_setup, live_server):
    """Label Studio 1.23's export (predictions as ids, a ground-truth annotation, another
    instance's user ids) imports; annotations.update(ground_truth=True) makes a gold answer; the
    JSON export asked for gold tasks writes ground_truth back."""
    ls, _, ann = sdk_setup
    project = ls.projects.create(title="Back from Label Studio", label_config=CONFIG, maximum_annotations=1)
    http = ls._client_wrapper.httpx_client
    exported_elsewhere = [
        {"id": 90, "data": {"text": "first"}, "predictions": [5],
         "annotations": [{"id": 1, "result": choice("pos"), "completed_by": 12, "ground_truth": True}]},
        {"id": 91, "data": {"text": "second"}, "predictions": [6],
         "annotations": [{"id": 2, "result": choice("neg"), "completed_by": 13, "ground_truth": False}]},
    ]
    r = http.request(f"api/projects/{project.id}/import", method="POST", json=exported_elsewhere,
                     params={"user_map": f"12={ann.email},13=gone@elsewhere.org", "return_task_ids": "true"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["task_count"], report["annotation_count"], report["prediction_count"], report["gold_count"]) == (
        2, 2, 0, 1)
    assert sorted(n["row"] for n in report["notes"] if n["field"] == "predictions") == [1, 2]
    assert {(a["completed_by"], a["how"]) for a in report["attribution"]} == {(12, "email"), (13, "placeholder")}
    first, second = report["task_ids"]

    second_ann = [a.id for a in ls.annotations.list(id=second)]
    marked = ls.annotations.update(id=second_ann[0], ground_truth=True)
    assert marked.ground_truth is True

    plain = json.loads(b"".join(ls.projects.exports.download_sync(id=project.id, export_type="JSON")))
    assert plain == []  # both are gold now: exported only when asked
    r = http.request(f"api/projects/{project.id}/export", method="GET", params={"exportType": "JSON", "gold": "true"})
    by_id = {t["id"]: t for t in r.json()}
    assert by_id[first]["is_gold"] is True and by_id[first]["gold_answer"] == choice("pos")
    assert [a["ground_truth"] for a in by_id[first]["annotations"]] == [True]
    assert [a["ground_truth"] for a in by_id[second]["annotations"]] == [True]


def test_label_studio_sdk_gets_label_studios_display_keys(sdk_setup, live_server):
    """The keys Label Studio's answers have beyond the data: display strings (created_username,
    created_ago), counts and settings of a project, Label Studio's own fields labelfab has no use
    for (with a Community project's values), as the SDK reads them (bench/sdk_calls.py)."""
    ls, _, _ = sdk_setup
    project = ls.projects.create(title="keys", label_config=CONFIG, maximum_annotations=1)
    ls.projects.import_tasks(id=project.id, request=[{"text": f"s{i}"} for i in range(3)])
    ids = [t.id for t in ls.tasks.list(project=project.id)]
    ann = ls.annotations.create(id=ids[0], result=choice("pos"))
    ls.annotations.create(id=ids[1], result=[], was_cancelled=True)
    ls.predictions.create(task=ids[2], result=choice("neg"), score=0.5, model_version="m1")

    me = ls.users.whoami()
    assert ann.created_username == f"{me.first_name} {me.email}, {me.id}"  # Label Studio's "first last email, id"
    assert ann.created_ago == "0\xa0minutes"  # Django's timesince of a fresh annotation
    got = ls.annotations.get(id=ann.id)
    assert (got.created_username, got.bulk_created, got.import_id, got.draft_created_at) == (
        ann.created_username, False, None, None)
    pred = ls.predictions.list(task=ids[2])[0]
    assert (pred.created_ago, pred.mislabeling, pred.model_run, pred.cluster) == ("0\xa0minutes", 0.0, None, None)

    p = ls.projects.get(id=project.id)
    assert (p.skipped_annotations_number, p.total_predictions_number, p.useful_annotation_number,
            p.finished_task_number) == (1, 1, 1, 1)  # a skipped task stays in the pool (for others)
    assert p.parsed_label_config["sentiment"]["labels"] == ["pos", "neg"]
    assert p.parsed_label_config["sentiment"]["to_name"] == ["text"]
    assert {k: w.model_dump() for k, w in p.control_weights.items()} == {  # the SDK reads its ControlTagWeight
        "sentiment": {"overall": 1.0, "type": "Choices", "labels": {"pos": 1.0, "neg": 1.0}}}
    assert (p.config_has_control_tags, p.show_skip_button, p.enable_empty_annotation, p.sampling) == (
        True, True, False, "Sequential sampling")
    raw = ls._client_wrapper.httpx_client.request(f"api/projects/{project.id}", method="GET").json()
    round_trip = ls._client_wrapper.httpx_client.request(f"api/projects/{project.id}", method="PATCH",
                                                        json={**raw, "title": "keys 2"})
    assert round_trip.status_code == 200 and round_trip.json()["title"] == "keys 2"  # a GET body goes back

    info = ls._client_wrapper.httpx_client.request("api/webhooks/info", method="GET").json()
    assert {"LABEL_LINK_CREATED", "LABEL_LINK_UPDATED", "LABEL_LINK_DELETED"} <= set(info)
    versions = ls.versions.get()
    assert versions.lsf == {"message": None, "commit": None, "date": None, "branch": None}
