"""Webhooks (labeling/webhooks.py): events queued in the act's transaction and sent after its
commit by the ``webhook`` job, signed, retried with backoff, each attempt logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from labeling import annotations, datasets, projects, review, tasks, webhooks
from labeling.db import read_session, write_session
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import Job, Role, WebhookDelivery
from labeling.settings import get_settings
from tests.conftest import wait_for
from tests.labeling.test_review import CONFIG, label, suspects_in_review


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers the statuses it is given
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None):
        self.received: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, received: dict) -> bool:
    """What a receiver does (the README's snippet)."""
    expected = "sha256=" + hmac.new(secret.encode(), received["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received["headers"]["X-Labelfab-Signature"])


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("LABELFAB_WEBHOOK_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("LABELFAB_WEBHOOK_MAX_ATTEMPTS", "4")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="hooks", label_config=CONFIG)


def deliveries() -> list[WebhookDelivery]:
    with read_session() as s:
        return list(s.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_annotation_arrives_signed_with_label_studios_payload(lead, annotator, project, receiver, worker):
    hook, secret = webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id,
                                                       "headers": {"X-Token": "s3cret"}})
    assert secret.startswith("whsec_")
    task_id = tasks.get_task(lead.user, _import(lead, project, ["a"])[0])["id"]
    ann, created = annotations.submit(task_id, annotator.user, result=label("pos"))
    assert created
    wait_for(lambda: any(e["action"] == "ANNOTATION_CREATED" for e in receiver.events()), timeout=20)
    got = next(r for r in receiver.received if json.loads(r["body"])["action"] == "ANNOTATION_CREATED")
    assert verify(secret, got) and not verify("whsec_wrong", got)
    assert got["headers"]["X-Token"] == "s3cret"  # the webhook's own header, unsealed for the call
    assert got["headers"]["X-Labelfab-Event"] == "ANNOTATION_CREATED"
    assert int(got["headers"]["X-Labelfab-Timestamp"]) > 0
    body = json.loads(got["body"])
    assert set(body) == {"action", "annotation", "task", "project"}  # Label Studio's keys
    assert body["annotation"]["id"] == ann.id and body["annotation"]["result"] == label("pos")
    assert body["task"]["id"] == task_id and body["task"]["data"] == {"text": "a"}
    assert body["project"]["id"] == project.id and body["project"]["title"] == "hooks"
    events = [e["action"] for e in receiver.events()]
    assert events.count("TASKS_CREATED") == 1
    tasks_event = next(e for e in receiver.events() if e["action"] == "TASKS_CREATED")
    assert [t["id"] for t in tasks_event["tasks"]] == [task_id]
    wait_for(lambda: all(d.status == "delivered" for d in deliveries()), timeout=10)
    assert all(d.attempts == 1 and d.response_status == 200 for d in deliveries())


def test_payloads_carry_every_field_of_label_studios_webhook_serializers(lead, annotator, project, receiver,
                                                                         worker):
    """Label Studio's webhook serializers send every field of its task and annotation models: the
    comment keys and ``precomputed_agreement`` of a task, ``prediction`` and ``result_count`` of
    an annotation, beyond what its API answers."""
    from labeling import comments

    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id})
    task_id = _import(lead, project, ["a"])[0]
    comments.create_comment(lead.user, text="check the spelling", task=task_id)
    annotations.submit(task_id, annotator.user, result=[{**label("pos")[0], "id": "r1"}])
    wait_for(lambda: {"TASKS_CREATED", "ANNOTATION_CREATED"} <= {e["action"] for e in receiver.events()}, timeout=20)
    created = next(e for e in receiver.events() if e["action"] == "TASKS_CREATED")["tasks"][0]
    assert (created["comment_count"], created["unresolved_comment_count"], created["comment_authors"],
            created["last_comment_updated_at"], created["precomputed_agreement"]) == (0, 0, [], None, None)
    event = next(e for e in receiver.events() if e["action"] == "ANNOTATION_CREATED")
    assert (event["task"]["comment_count"], event["task"]["comment_authors"]) == (1, [lead.id])
    assert (event["annotation"]["prediction"], event["annotation"]["result_count"]) == ({}, 1)
    # its project serializer sends every field of the project model, the API's project and more
    sent = event["project"]
    assert sent["data_types"] == {"text": "Text"} and sent["label_config_hash"] == webhooks.config_hash(CONFIG)
    assert isinstance(sent["label_config_hash"], int) and abs(sent["label_config_hash"]) < 2 ** 63
    assert sent["updated_at"] and sent["custom_task_lock_ttl"] == project.lease_seconds
    assert {"token", "result_count", "deleted_at", "deleted_by", "purge_at"} <= set(sent)


def test_data_types_as_label_studio_extracts_them():
    """Label Studio's ``extract_data_types``: a field per object tag, a video outranking an audio
    of the same field, a value with the field inside read by its first ``$name``, no name no type."""
    config = ('<View><Video name="v" value="$clip"/><Audio name="a" value="$clip"/><Image name="i" value="$img"/>'
              '<HyperText name="h" value="see $page and $other"/><Text value="$unnamed"/>'
              '<Choices name="c" toName="i"><Choice value="x"/></Choices></View>')
    assert webhooks.data_types(config) == {"clip": "Video", "img": "Image", "page": "HyperText"}
    assert webhooks.config_hash(config) == webhooks.config_hash(config) != webhooks.config_hash(config + " ")


def test_annotation_events_reach_organisation_webhooks_and_never_inactive_ones(lead, annotator, receiver, worker):
    """A submit finds the webhooks that may want it in its own context query: the project's
    active ones and the organisation's (project null); an inactive one alone asks for nothing."""
    project = projects.create_project(lead.user, title="org hooks", label_config=CONFIG)
    task_id = tasks.get_task(lead.user, _import(lead, project, ["a"])[0])["id"]
    off, _ = webhooks.create_webhook(lead.user, {"url": receiver.url + "/off", "project": project.id,
                                                 "is_active": False})
    annotations.submit(task_id, annotator.user, result=label("pos"), was_cancelled=True)  # a skip
    assert deliveries() == []  # only an inactive webhook: nothing queued
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": None, "send_for_all_actions": False,
                                        "actions": ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]})
    other = projects.create_project(lead.user, title="second", label_config=CONFIG)
    other_task = tasks.get_task(lead.user, _import(lead, other, ["b"])[0])["id"]
    ann, created = annotations.submit(other_task, annotator.user, result=label("pos"))
    assert created
    edited, created = annotations.submit(other_task, annotator.user, result=label("neg"))  # a different result: an edit
    assert not created and edited.id == ann.id
    wait_for(lambda: len(receiver.events()) >= 2, timeout=20)
    got = sorted(receiver.events(), key=lambda e: e["action"])
    assert [e["action"] for e in got] == ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]
    assert {e["annotation"]["id"] for e in got} == {ann.id} and got[1]["annotation"]["result"] == label("neg")
    assert all(r["path"] == "/hook" for r in receiver.received)
    assert all(d.webhook_id != off.id for d in deliveries())


def _import(lead, project, texts: list[str]) -> list[int]:
    from labeling import imports

    result = imports.import_data(lead.user, project.id, body=[{"text": t} for t in texts], return_task_ids=True,
                                 background=False)
    return result.task_ids


def test_a_receiver_failing_twice_gets_the_event_three_times_and_the_log_shows_it(lead, project, fast_retries,
                                                                                worker):
    failing = Receiver([500, 500])
    try:
        hook, secret = webhooks.create_webhook(lead.user, {"url": failing.url, "project": project.id,
                                                           "send_for_all_actions": False,
                                                           "actions": ["PROJECT_UPDATED"]})
        projects.edit_project(lead.user, project.id, title="renamed")
        wait_for(lambda: deliveries() and deliveries()[0].status == "delivered", timeout=30)
        assert [r["status"] for r in failing.received] == [500, 500, 200]
        assert len({r["body"] for r in failing.received}) == 1  # the exact body, each time
        assert all(verify(secret, r) for r in failing.received)
        [d] = deliveries()
        assert (d.action, d.attempts, d.response_status, d.status) == ("PROJECT_UPDATED", 3, 200, "delivered")
        _, log = webhooks.deliveries(lead.user, hook.id)
        assert webhooks.delivery_view(log[0])["attempts"] == 3
        with read_session() as s:  # one job per attempt, each done
            kinds = [j.status for j in s.exec(select(Job).where(Job.kind == "webhook"))]
        assert kinds == ["done"] * 3
    finally:
        failing.close()


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_bound(lead, project, fast_retries, worker):
    failing = Receiver([503] * 10)
    try:
        webhooks.create_webhook(lead.user, {"url": failing.url, "project": project.id})
        projects.edit_project(lead.user, project.id, title="again")
        wait_for(lambda: deliveries() and deliveries()[0].status == "failed", timeout=30)
        [d] = deliveries()
        assert d.attempts == 4 and d.response_status == 503 and len(failing.received) == 4
    finally:
        failing.close()


def test_a_rolled_back_act_sends_nothing(lead, project, receiver, worker):
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id})
    with pytest.raises(RuntimeError), write_session() as s:
        assert webhooks.emit(s, "PROJECT_UPDATED", project.id, dict) == 1  # queued in the transaction...
        raise RuntimeError("the act fails after it")
    with pytest.raises(Invalid):  # a refused edit (inside its transaction) queues nothing either
        projects.edit_project(lead.user, project.id, overlap=1, max_overlap=0)
    projects.edit_project(lead.user, project.id, title="committed")
    wait_for(lambda: receiver.received, timeout=20)
    assert [e["project"]["title"] for e in receiver.events()] == ["committed"]
    assert len(deliveries()) == 1


def test_send_payload_false_sends_the_action_only_and_inactive_hooks_nothing(lead, project, receiver, worker):
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id, "send_payload": False})
    webhooks.create_webhook(lead.user, {"url": receiver.url + "/off", "project": project.id, "is_active": False})
    projects.edit_project(lead.user, project.id, title="x")
    wait_for(lambda: receiver.received, timeout=20)
    assert receiver.events() == [{"action": "PROJECT_UPDATED"}]
    assert all(r["path"] == "/hook" for r in receiver.received)


def test_organisation_webhooks_reach_the_projects_their_creator_manages(lead, make_user, receiver, worker):
    other = make_user("other-lead@example.com", Role.lead)
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": None})
    mine = projects.create_project(lead.user, title="mine", label_config=CONFIG)
    projects.create_project(other.user, title="theirs", label_config=CONFIG)
    projects.delete_project(lead.user, mine.id)
    wait_for(lambda: len(receiver.received) >= 2, timeout=20)
    # two delivery jobs, run by the worker's threads: they may arrive in either order
    events = sorted(receiver.events(), key=lambda e: e["action"] != "PROJECT_CREATED")
    assert [e["action"] for e in events] == ["PROJECT_CREATED", "PROJECT_DELETED"]
    assert events[0]["project"]["title"] == "mine"
    assert events[1] == {"action": "PROJECT_DELETED", "project": {"id": mine.id}}


def test_labelfab_events_review_and_dataset(lead, annotator, make_user, receiver, worker):
    project = projects.create_project(lead.user, title="line", label_config=CONFIG)
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id, "send_for_all_actions": False,
                                        "actions": ["REVIEW_DECIDED", "DATASET_PUBLISHED", "QC_RUN_FINISHED"]})
    reviewer = make_user("rev@example.com", Role.reviewer)
    suspects_in_review(project, annotator, given=["neg", "neg", "pos"], truth=["neg", "pos", "pos"])
    item = review.next_suspect(project.id, reviewer.user)
    review.decide(item["task"]["id"], reviewer.user, decision="relabel", result=label("pos"))
    version, created = datasets.publish(project.id, lead.user)
    assert created
    wait_for(lambda: {"REVIEW_DECIDED", "DATASET_PUBLISHED"} <= {e["action"] for e in receiver.events()}, timeout=20)
    by = {e["action"]: e for e in receiver.events()}
    decided = by["REVIEW_DECIDED"]["review"]
    assert decided["task"] == item["task"]["id"] and decided["decision"] == "relabel"
    assert decided["reviewer"] == {"id": reviewer.id, "email": "rev@example.com"}
    assert decided["final_label"] == label("pos")
    published = by["DATASET_PUBLISHED"]["dataset_version"]
    assert published["number"] == version.number and published["sha256"] == version.sha256
    assert published["download_url"] == f"/api/projects/{project.id}/datasets/{version.number}/download"
    assert {f["format"] for f in published["files"]} >= {"jsonl"}


def test_qc_run_finished(lead, annotator, receiver, worker):
    from quality.run.skeleton import run_qc

    project = projects.create_project(lead.user, title="qc", label_config=CONFIG)
    webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id, "send_for_all_actions": False,
                                        "actions": ["QC_RUN_FINISHED"]})
    for text, value in [("a", "pos"), ("b", "neg"), ("c", "pos"), ("d", "neg")] * 3:
        tid = _import(lead, project, [text])[0]
        annotations.submit(tid, annotator.user, result=label(value))
    result = run_qc(project.id)
    wait_for(lambda: receiver.received, timeout=30)
    [event] = receiver.events()
    assert event["action"] == "QC_RUN_FINISHED"
    assert event["qc_run"]["id"] == result["run"] and event["qc_run"]["status"] == result["status"]
    assert "n_items" in event["qc_run"] and "n_issues" in event["qc_run"]


def test_checks_and_access(lead, annotator, make_user, project, receiver, monkeypatch):
    reviewer = make_user("rev@example.com", Role.reviewer)
    other = make_user("other@example.com", Role.lead)
    monkeypatch.setenv("LABELFAB_OUTBOUND_ALLOW", "")
    get_settings.cache_clear()
    try:
        with pytest.raises(Invalid, match="refused"):
            webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id})
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    with pytest.raises(Invalid, match="organization-only"):
        webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id, "actions": ["PROJECT_CREATED"]})
    with pytest.raises(Invalid, match="unknown action"):
        webhooks.create_webhook(lead.user, {"url": receiver.url, "actions": ["LABEL_LINKS_MERGED"]})
    # Label Studio's label-link events are listed and accepted, as there (never sent: no label links)
    linked, _ = webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id,
                                                    "actions": ["LABEL_LINK_CREATED"]})
    assert list(linked.actions) == ["LABEL_LINK_CREATED"]
    with pytest.raises(Invalid, match="set by labelfab"):
        webhooks.create_webhook(lead.user, {"url": receiver.url, "headers": {"X-Labelfab-Signature": "x"}})
    hook, _ = webhooks.create_webhook(lead.user, {"url": receiver.url, "project": project.id,
                                                  "headers": {"Authorization": "Bearer abc"}})
    view = webhooks.webhook_view(hook)
    assert view["headers"] == {"Authorization": webhooks.MASK} and "secret" not in view
    assert "abc" not in json.dumps(view)
    for who in (annotator, reviewer):
        with pytest.raises(Forbidden):
            webhooks.get_webhook(who.user, hook.id)
        with pytest.raises(Forbidden):
            webhooks.list_webhooks(who.user)
    with pytest.raises(Forbidden):  # another lead sees the open project, but may not manage it
        webhooks.update_webhook(other.user, hook.id, {"is_active": False})
    assert webhooks.list_webhooks(other.user) == []
    org, _ = webhooks.create_webhook(lead.user, {"url": receiver.url})
    with pytest.raises(NotFound):
        webhooks.delete_webhook(other.user, org.id)
    changed = webhooks.update_webhook(lead.user, hook.id, {"is_active": False, "project": 999})
    assert changed.is_active is False and changed.project_id == project.id  # project is read-only


def test_emit_many_asks_once_whether_a_webhook_wants_the_action(lead):
    """An event of many items (an import's TASKS_CREATED, 1,000 tasks an event) asks once for
    the webhooks that want it: with none, one query for 5,000 tasks (it was one per event)."""
    import sqlalchemy as sa

    from labeling.db import get_engine

    project = projects.create_project(lead.user, title="quiet", label_config=CONFIG)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with write_session() as s:
            sent = webhooks.emit_many(s, "TASKS_CREATED", project.id, list(range(1, 5001)),
                                      lambda chunk: {"tasks": [{"id": i} for i in chunk]})
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert sent == 0
    assert len([q for q in statements if "webhook" in q.lower()]) == 1, statements
