"""ML backends (labeling.ml) against a label-studio-ml-backend-style server written for the test:
connecting (/health, /setup), predictions as jobs (import, the Data Manager's action, the
router's look-ahead) stored with their model version and shown as pre-labels, training on
/api/ml/ID/train and on publish (/webhook), a server that is down, sealed credentials."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from labeling import datasets, imports, jobs, ml, projects, router
from labeling.db import read_session, write_session
from labeling.dm import actions, filters
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import Job, JobStatus, MLBackend, Prediction, Role, Task
from tests.labeling.test_exports import accept, task_ids, text_task
from tests.ml_backend_server import ModelServer, closed_port_url

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


@pytest.fixture
def server():
    s = ModelServer()
    yield s
    s.stop()


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="ml", label_config=CONFIG)


def run_jobs(kind: str) -> list[Job]:
    """Run every queued job of ``kind`` here (the stub broker has no worker in these tests)."""
    with read_session() as s:
        ids = s.execute(sa.select(Job.id).where(Job.kind == kind, Job.status == JobStatus.queued)
                        .order_by(Job.id)).scalars().all()
    for job_id in ids:
        jobs.execute(job_id)
    with read_session() as s:
        return list(s.execute(sa.select(Job).where(Job.id.in_(ids)).order_by(Job.id)).scalars())


def predictions(project_id: int) -> list[Prediction]:
    with read_session() as s:
        return list(s.execute(sa.select(Prediction).where(Prediction.project_id == project_id)
                              .order_by(Prediction.task_id)).scalars())


def connect(lead, project, server, **fields) -> MLBackend:
    return ml.create_backend(lead.user, {"url": server.url, "project": project.id, "title": "keywords", **fields})


def test_create_calls_health_and_setup_and_stores_the_state(lead, project, server):
    backend = connect(lead, project, server)
    view = ml.backend_json(backend)
    assert (view["state"], view["readable_state"], view["model_version"]) == ("CO", "Connected", "keywords-v1")
    assert [p for _m, p, _b, _h in server.requests] == ["/health", "/setup"]
    setup = server.calls("/setup")[0]
    assert setup["project"] == f"{project.id}.{int(project.created_at.timestamp())}"
    assert setup["schema"] == CONFIG and setup["access_token"] is None
    assert set(view) >= {"url", "project", "title", "description", "is_interactive", "auth_method",
                         "basic_auth_user", "basic_auth_pass_is_set", "extra_params", "timeout", "model_version",
                         "state", "error_message", "auto_update", "created_at", "updated_at"}
    assert "basic_auth_pass" not in view
    assert [b.id for b in ml.list_backends(lead.user, project.id)] == [backend.id]


def test_setup_sends_the_servers_public_address_as_hostname(lead, project, server, monkeypatch):
    """Label Studio's ``hostname`` (its HOSTNAME setting): where a backend fetches ``/media/`` paths."""
    from labeling.settings import get_settings

    monkeypatch.setenv("LABELFAB_PUBLIC_URL", "https://labels.example.com/")
    get_settings.cache_clear()
    try:
        connect(lead, project, server)
    finally:
        monkeypatch.delenv("LABELFAB_PUBLIC_URL")
        get_settings.cache_clear()
    assert server.calls("/setup")[0]["hostname"] == "https://labels.example.com"


def test_a_server_that_is_down_is_refused_on_create_and_nothing_is_stored(lead, project):
    with pytest.raises(ml.MLBadRequest, match="health check failed") as caught:
        ml.create_backend(lead.user, {"url": closed_port_url(), "project": project.id})
    assert caught.value.status == 400
    assert ml.list_backends(lead.user, project.id) == []


def test_a_private_address_not_allowed_is_refused(lead, project, monkeypatch):
    monkeypatch.setenv("LABELFAB_OUTBOUND_ALLOW", "")
    from labeling.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(ml.MLBadRequest, match="refused"):
            ml.create_backend(lead.user, {"url": "http://127.0.0.1:9/", "project": project.id})
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_bad_fields_are_named(lead, project, server):
    with pytest.raises(Invalid) as caught:
        ml.create_backend(lead.user, {"url": server.url, "project": project.id, "timeout": -1,
                                      "auth_method": "OAUTH", "colour": "red"})
    assert "colour" in caught.value.detail
    with pytest.raises(Invalid) as caught:
        ml.create_backend(lead.user, {"url": server.url, "project": project.id, "timeout": -1})
    assert [e["field"] for e in caught.value.errors] == ["timeout"]
    with pytest.raises(Invalid, match="only http and https"):
        ml.create_backend(lead.user, {"url": "file:///etc/passwd", "project": project.id})


def test_basic_auth_password_is_sealed_and_never_returned(lead, project):
    server = ModelServer(basic_auth=("model", "s3cret-pass"))
    try:
        with pytest.raises(ml.MLBadRequest, match="authentication parameters"):
            connect(lead, project, server, auth_method="BASIC_AUTH", basic_auth_user="model",
                    basic_auth_pass="wrong")
        backend = connect(lead, project, server, auth_method="BASIC_AUTH", basic_auth_user="model",
                          basic_auth_pass="s3cret-pass")
        assert backend.state == "CO"
        with read_session() as s:
            stored = s.get(MLBackend, backend.id).basic_auth_pass_sealed
        assert stored and "s3cret-pass" not in stored
        view = ml.backend_json(backend)
        assert view["basic_auth_pass_is_set"] is True and "s3cret-pass" not in str(view)
        # an update without the password keeps the stored one (Label Studio's rule) and still connects
        updated = ml.update_backend(lead.user, backend.id, {"title": "renamed", "basic_auth_pass": ""})
        assert (updated.title, updated.state) == ("renamed", "CO")
    finally:
        server.stop()


def test_only_leads_and_admins_set_ml_backends(lead, project, server, make_user):
    ann = make_user("ann-ml@example.com", Role.annotator)
    other = make_user("other-lead@example.com", Role.lead)
    for who in (ann, other):
        with pytest.raises((Forbidden, NotFound)):
            connect(who, project, server)
        with pytest.raises((Forbidden, NotFound)):
            ml.list_backends(who.user, project.id)
    backend = connect(lead, project, server)
    for who in (ann, other):
        with pytest.raises((Forbidden, NotFound)):
            ml.update_backend(who.user, backend.id, {"title": "x"})
        with pytest.raises((Forbidden, NotFound)):
            ml.request_train(who.user, backend.id)
        with pytest.raises((Forbidden, NotFound)):
            ml.delete_backend(who.user, backend.id)


def test_imported_tasks_are_prelabelled_by_a_job_in_batches(lead, project, server, annotator, monkeypatch):
    connect(lead, project, server)
    monkeypatch.setenv("LABELFAB_ML_BATCH_SIZE", "4")
    from labeling.settings import get_settings

    get_settings.cache_clear()
    try:
        imports.import_data(lead.user, project.id, background=False,
                            body=[{"text": f"a good thing {i}" if i % 2 else f"a bad thing {i}"} for i in range(10)])
        assert server.calls("/predict") == []  # never inside the import's request
        (job,) = run_jobs("ml_predict")
    finally:
        get_settings.cache_clear()
    assert job.status == JobStatus.done and job.result["predicted"] == 10, job.result
    assert [len(body["tasks"]) for body in server.calls("/predict")] == [4, 4, 2]
    body = server.calls("/predict")[0]
    assert body["label_config"] == CONFIG and set(body["tasks"][0]) >= {"id", "data", "project"}
    stored = predictions(project.id)
    assert len(stored) == 10 and {p.model_version for p in stored} == {"keywords-v1"}
    by_text = {}
    with read_session() as s:
        for p in stored:
            by_text[s.get(Task, p.task_id).data["text"]] = (p.result[0]["value"]["choices"], p.score)
    assert by_text["a good thing 1"] == (["pos"], 0.9) and by_text["a bad thing 0"] == (["neg"], 0.6)
    # the annotator's first task carries the backend's prediction as its pre-label
    served = router.serve_next(project.id, annotator.user)
    assert [p["model_version"] for p in served["predictions"]] == ["keywords-v1"]
    # asked again, tasks that have a prediction of this model version are not sent again
    n_calls = len(server.requests)
    with write_session() as s:
        ml.request_predictions(s, project.id, reason="test")
    (again,) = run_jobs("ml_predict")
    assert again.result["predicted"] == 0 and len(server.requests) == n_calls


def test_gold_tasks_are_never_sent(lead, project, server):
    connect(lead, project, server)
    imports.import_data(lead.user, project.id, background=False, body=[{"text": "one"}, {"text": "two"}])
    with read_session() as s:
        first = s.execute(sa.select(Task.id).where(Task.project_id == project.id).order_by(Task.id)).scalar()
    from labeling import gold

    gold.mark_gold(first, lead.user, answer=[{"from_name": "label", "to_name": "text", "type": "choices",
                                               "value": {"choices": ["pos"]}}])
    run_jobs("ml_predict")
    assert [t["id"] for body in server.calls("/predict") for t in body["tasks"]] == [first + 1]


def test_an_old_server_answering_one_result_is_asked_task_by_task(lead, project):
    server = ModelServer(batch=False)
    try:
        connect(lead, project, server)
        imports.import_data(lead.user, project.id, background=False, body=[{"text": "good"}, {"text": "bad"}])
        (job,) = run_jobs("ml_predict")
        assert job.result["predicted"] == 2
        assert [len(b["tasks"]) for b in server.calls("/predict")] == [2, 1, 1]
    finally:
        server.stop()


def test_a_server_that_went_down_marks_the_backend_er_and_nothing_else_breaks(lead, project):
    server = ModelServer()
    backend = connect(lead, project, server)
    server.stop()
    result = imports.import_data(lead.user, project.id, background=False, body=[{"text": "good"}, {"text": "x"}])
    assert result.task_count == 2
    (job,) = run_jobs("ml_predict")
    assert job.status == JobStatus.done and "health" in job.result["error"]
    stored = ml.get_backend(lead.user, backend.id)
    assert stored.state == "ER" and stored.error_message.startswith("health: ")
    assert predictions(project.id) == []
    # train fails the same way, and the project still serves its tasks
    ml.request_train(lead.user, backend.id)
    (job,) = run_jobs("ml_train")
    assert job.status == JobStatus.done and job.result["trained"] is False
    assert ml.get_backend(lead.user, backend.id).state == "ER"
    assert router.next_task(project.id, lead.user) is not None


def test_retrieve_tasks_predictions_queues_a_job_for_the_selection(lead, project, server):
    imports.import_data(lead.user, project.id, background=False, body=[{"text": f"good {i}"} for i in range(4)])
    ids = task_ids(project.id)
    query = filters.parse({"selectedItems": {"all": True, "excluded": [ids[1]]}})
    with pytest.raises(Conflict, match="no ML backend"):
        actions.perform(lead.user, project.id, "retrieve_tasks_predictions", query)
    connect(lead, project, server)
    run_jobs("ml_predict")  # the import's job ran before the backend existed: nothing queued
    answer = actions.perform(lead.user, project.id, "retrieve_tasks_predictions", query)
    assert answer == {"processed_items": 3, "detail": "Retrieved 3 predictions"}
    assert server.calls("/predict") == []
    (job,) = run_jobs("ml_predict")
    assert job.result["predicted"] == 3
    assert sorted(p.task_id for p in predictions(project.id)) == [ids[0], ids[2], ids[3]]
    assert "retrieve_tasks_predictions" in [a["id"] for a in actions.list_actions(lead.user, project.id)]


def test_the_router_queues_a_lookahead_job_for_the_next_open_tasks(lead, project, annotator, monkeypatch):
    server = ModelServer()
    try:
        imports.import_data(lead.user, project.id, background=False, body=[{"text": f"t{i}"} for i in range(8)])
        connect(lead, project, server)
        monkeypatch.setenv("LABELFAB_ML_LOOKAHEAD", "3")
        from labeling.settings import get_settings

        get_settings.cache_clear()
        router.serve_next(project.id, annotator.user)
        assert server.calls("/predict") == []  # the request only queued a job
        router.serve_next(project.id, annotator.user)  # one job at a time per project
        (job,) = run_jobs("ml_predict")
        assert job.payload["lookahead"] is True and job.result["predicted"] == 3
        assert [t["id"] for t in server.calls("/predict")[0]["tasks"]] == task_ids(project.id)[:3]
    finally:
        get_settings.cache_clear()
        server.stop()


def test_train_posts_start_training_to_the_webhook(lead, project, server):
    backend = connect(lead, project, server)
    job_id = ml.request_train(lead.user, backend.id)
    assert server.calls("/webhook") == []
    (job,) = run_jobs("ml_train")
    assert job.id == job_id and job.result["trained"] is True
    (body,) = server.calls("/webhook")
    assert body["action"] == "START_TRAINING"
    assert body["project"]["id"] == project.id and body["project"]["label_config"] == CONFIG
    assert ml.get_backend(lead.user, backend.id).state == "TR"


def test_publishing_a_dataset_version_tells_the_backend_to_train(lead, server):
    project = projects.create_project(lead.user, title="ml publish", label_config=CONFIG)
    imports.import_data(lead.user, project.id, background=False,
                        body=[text_task(i, ["pos", "neg"][i % 2]) for i in range(6)])
    accept(project.id)
    connect(lead, project, server)
    version, _ = datasets.publish(project.id, lead.user, note="v1")
    (job,) = run_jobs("ml_train")
    assert job.result["trained"] is True
    (body,) = server.calls("/webhook")
    assert body["action"] == "START_TRAINING" and body["project"]["id"] == project.id
    assert body["dataset_version"] == {"number": 1, "sha256": version.sha256,
                                       "download_url": f"/api/projects/{project.id}/datasets/1/download"}


def test_versions_without_the_route_answer_the_backend_version(lead, project, server):
    backend = connect(lead, project, server)
    assert ml.model_versions(lead.user, backend.id) == {
        "versions": ["keywords-v1"], "message": "Upgrade your ML backend version to latest."}


def test_interactive_annotating(lead, project, server, annotator):
    imports.import_data(lead.user, project.id, background=False, body=[{"text": "good"}])
    (tid,) = task_ids(project.id)
    backend = connect(lead, project, server)
    assert ml.interactive_annotating(annotator.user, backend.id, tid) == {
        "errors": ["Model is not set to be used for interactive preannotations"]}
    ml.update_backend(lead.user, backend.id, {"is_interactive": True})
    answer = ml.interactive_annotating(annotator.user, backend.id, tid, {"result": []})
    assert answer["data"]["result"][0]["value"]["choices"] == ["pos"]
    assert server.calls("/predict")[-1]["params"]["context"] == {"result": []}


def test_deleting_the_project_deletes_its_backends(lead, project, server):
    connect(lead, project, server)
    projects.delete_project(lead.user, project.id)
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(MLBackend)).scalar() == 0


def test_the_backend_predictions_are_qcs_model_where_they_cover_the_items(lead, server):
    from quality.run.skeleton import run_qc
    from tests.quality.test_qc import flagged_rows, get_run

    project = projects.create_project(lead.user, title="ml qc", label_config=CONFIG)
    connect(lead, project, server)
    truth = ["pos" if i % 2 else "neg" for i in range(24)]
    given = list(truth)
    given[3], given[6] = "neg", "pos"  # two wrong labels
    rows = [{"data": {"text": f"a good thing {i}" if t == "pos" else f"a plain thing {i}"},
             "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                          "value": {"choices": [g]}}]}]}
            for i, (t, g) in enumerate(zip(truth, given, strict=True))]
    imports.import_data(lead.user, project.id, background=False, body=rows)
    (job,) = run_jobs("ml_predict")
    assert job.result["predicted"] == 24
    out = run_qc(project.id, options={"models": ["logreg"]})
    run = get_run(out["run"])
    assert run.pred_probs_source == "imported" and run.model_name == "imported: keywords-v1"
    assert flagged_rows(run.id, task_ids(project.id)) == {3, 6}
