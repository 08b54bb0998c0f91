"""The access matrix: every route of the app (read from its ``url_map``) x method x identity
against one table of who may call it. A route missing from the table fails the test.

The world: an open project (not restricted to its members, as Label Studio Community's are)
led by ``lead``, with a member annotator and a member reviewer, labelled tasks, two suspects in
the review queue, a prediction, a review decision and a published dataset version; another lead
with a project of their own; an annotator who is no member; an admin; the lead's read token.

Refused callers must get 401 (anonymous, API), a redirect to the login page (anonymous, pages),
403 or 404, and change nothing; allowed callers must get past the access check (any answer but
401, 403 and a login redirect; 404 only where the table says the thing may be missing). Writes
are sent by the least privileged allowed caller only, so that nothing is destroyed for the others.
"""

from __future__ import annotations

import pytest
from flask_login.utils import _create_identifier

from labeling import predictions, projects, review, router, users
from labeling.db import read_session, write_session
from labeling.models import (
    Annotation,
    Job,
    MLBackend,
    Prediction,
    ReviewDecision,
    Role,
    Storage,
    Task,
)
from tests.labeling.test_review import CONFIG, label, suspects_in_review
from web.auth import SESSION_VERSION_KEY

# identities, least privileged first
ANON, OUTSIDER, ANN, REV, OTHER_LEAD, LEAD, ADMIN, READ = (
    "anonymous", "annotator (no member)", "annotator (member)", "reviewer (member)",
    "lead of another project", "lead (member)", "admin", "read token")
ORDER = [OUTSIDER, ANN, REV, OTHER_LEAD, LEAD, ADMIN]

USERS = set(ORDER)  # every signed-in user
ANNOTATE = set(ORDER)  # an open project: every user may annotate (a lead who is no member too)
OWN = {ANN, REV, OTHER_LEAD, LEAD, ADMIN}  # the member annotator's own things, and who sees all
SEE_ALL = {REV, OTHER_LEAD, LEAD, ADMIN}  # reviewers; a lead who is no member reviews, never manages
MANAGE = {LEAD, ADMIN}
CREATE = {OTHER_LEAD, LEAD, ADMIN}  # leads by their global role: new projects, their overview
ADMINS = {ADMIN}
PUBLIC = {ANON} | USERS

# (endpoint, method) -> who may (READ in the set: a read token may too; it never writes)
TABLE: dict[tuple[str, str], set[str]] = {
    # the REST API
    ("api.openapi_document", "GET"): PUBLIC | {READ},  # the API's description, as Label Studio's is
    ("api.openapi_page", "GET"): PUBLIC | {READ},
    ("api.me", "GET"): USERS | {READ},
    ("api.whoami", "GET"): USERS | {READ},
    ("api.current_token", "GET"): USERS,  # the key the request carries
    ("api.reset_current_token", "POST"): USERS,  # the caller's own token
    ("api.get_hotkeys", "GET"): USERS,
    ("api.update_hotkeys", "PATCH"): USERS,  # the caller's own
    ("api.version", "GET"): USERS | {READ},
    ("api.get_user", "GET"): ADMINS,
    ("api.create_token", "POST"): USERS,
    ("api.list_tokens", "GET"): USERS,  # each sees their own only
    ("api.revoke_token", "DELETE"): {ANN, ADMIN},  # the token named is the member annotator's
    ("api.sign_out_user", "POST"): ADMINS,
    ("api.list_users", "GET"): ADMINS,
    ("api.list_organizations", "GET"): USERS | {READ},  # labelfab's one organisation
    ("api.get_organization", "GET"): USERS | {READ},
    ("api.list_organization_members", "GET"): ADMINS,  # every user, as /api/users
    ("api.get_organization_member", "GET"): ADMINS,
    ("api.delete_organization_member", "DELETE"): ADMINS,  # deactivates the member annotator
    ("api.create_user", "POST"): ADMINS,
    ("api.update_user", "PATCH"): ADMINS,
    ("api.label_configs", "GET"): USERS | {READ},
    ("api.validate_config", "POST"): CREATE,  # checking configs is part of creating projects
    ("api.list_projects", "GET"): USERS | {READ},
    ("api.create_project", "POST"): CREATE,
    ("api.get_project", "GET"): USERS | {READ},
    ("api.update_project", "PATCH"): MANAGE,
    ("api.update_project", "PUT"): MANAGE,
    ("api.delete_project", "DELETE"): MANAGE,  # the world has a published version: 409 unless force
    ("api.validate_project_config", "POST"): MANAGE,
    ("api.create_task", "POST"): MANAGE,
    ("api.list_members", "GET"): MANAGE,
    ("api.set_member", "POST"): MANAGE,
    ("api.set_member", "PATCH"): MANAGE,
    ("api.remove_member", "DELETE"): MANAGE,
    ("api.remove_member_by_query", "DELETE"): MANAGE,
    ("api.import_tasks", "POST"): MANAGE,
    ("api.get_import", "GET"): MANAGE,
    ("api.get_job", "GET"): USERS | {READ},
    ("api.export", "GET"): MANAGE,
    ("api.export_formats", "GET"): MANAGE,
    ("api.create_snapshot", "POST"): MANAGE,
    ("api.list_snapshots", "GET"): MANAGE,
    ("api.get_snapshot", "GET"): MANAGE,
    ("api.delete_snapshot", "DELETE"): MANAGE,
    ("api.download_snapshot", "GET"): MANAGE,
    ("api.publish_dataset", "POST"): MANAGE,
    ("api.resplit_datasets", "POST"): MANAGE,
    ("api.list_datasets", "GET"): MANAGE | {READ},
    ("api.get_dataset", "GET"): MANAGE | {READ},
    ("api.download_dataset", "GET"): MANAGE | {READ},
    ("api.diff_datasets", "GET"): MANAGE | {READ},
    ("api.list_tasks", "GET"): SEE_ALL | {READ},
    ("api.list_project_tasks", "GET"): SEE_ALL | {READ},
    ("api.delete_all_tasks", "DELETE"): MANAGE,
    ("api.dm_list_views", "GET"): SEE_ALL | {READ},
    ("api.dm_get_view", "GET"): SEE_ALL | {READ},
    ("api.dm_create_view", "POST"): SEE_ALL,  # a reviewer keeps tabs of their own
    ("api.dm_order_views", "POST"): SEE_ALL,
    ("api.dm_update_view", "PATCH"): MANAGE,  # the world's view is the lead's: its author or a lead
    ("api.dm_update_view", "PUT"): MANAGE,
    ("api.dm_delete_view", "DELETE"): MANAGE,
    ("api.dm_reset_views", "DELETE"): MANAGE,
    ("api.dm_list_actions", "GET"): SEE_ALL | {READ},
    ("api.dm_perform_action", "POST"): MANAGE,
    ("api.get_task", "GET"): OWN | {READ},
    ("api.update_task", "PATCH"): MANAGE,
    ("api.update_task", "PUT"): MANAGE,
    ("api.delete_task", "DELETE"): MANAGE,
    ("api.next_task", "GET"): ANNOTATE,
    ("api.annotate_next", "GET"): ANNOTATE,
    ("api.annotate_previous", "GET"): ANNOTATE,
    ("api.annotate_stats", "GET"): ANNOTATE,
    ("api.annotate_csrf", "GET"): USERS,
    ("api.annotate_series", "GET"): OWN,  # who may see the task; the world has no TimeSeries: 404
    ("api.my_annotations", "GET"): ANNOTATE,
    ("api.renew_lease", "POST"): ANNOTATE,
    ("api.release_lease", "DELETE"): ANNOTATE,
    ("api.create_annotation", "POST"): ANNOTATE,
    ("api.list_annotations", "GET"): USERS | {READ},  # an annotator sees their own only
    ("api.get_annotation", "GET"): OWN | {READ},
    ("api.update_annotation", "PATCH"): OWN,  # its author; leads and reviewers correct it (a new version)
    ("api.update_annotation", "PUT"): OWN,
    ("api.delete_annotation", "DELETE"): {ANN, LEAD, ADMIN},
    # drafts: an annotator's own on a task they labelled; reviewers and leads see all; the author changes
    ("api.list_task_drafts", "GET"): OWN,
    ("api.list_annotation_drafts", "GET"): OWN,
    ("api.create_task_draft", "POST"): OWN,
    ("api.create_annotation_draft", "POST"): OWN,
    ("api.get_draft", "GET"): OWN,  # the member annotator's
    ("api.update_draft", "PATCH"): {ANN},
    ("api.update_draft", "PUT"): {ANN},
    ("api.delete_draft", "DELETE"): {ANN, LEAD, ADMIN},
    ("api.create_prediction", "POST"): MANAGE,
    ("api.list_predictions", "GET"): USERS | {READ},  # the project shows predictions
    ("api.get_prediction", "GET"): USERS | {READ},
    ("api.update_prediction", "PATCH"): MANAGE,
    ("api.delete_prediction", "DELETE"): MANAGE,
    ("api.import_predictions", "POST"): MANAGE,
    ("api.list_ml_backends", "GET"): MANAGE,
    ("api.create_ml_backend", "POST"): MANAGE,  # the world's URL is down: 400 once let in
    ("api.get_ml_backend", "GET"): MANAGE,
    ("api.update_ml_backend", "PATCH"): MANAGE,
    ("api.update_ml_backend", "PUT"): MANAGE,
    ("api.delete_ml_backend", "DELETE"): MANAGE,
    ("api.train_ml_backend", "POST"): MANAGE,
    ("api.ml_backend_versions", "GET"): MANAGE,
    ("api.ml_interactive_annotating", "POST"): ANNOTATE,
    ("api.gold_mark", "POST"): SEE_ALL,
    ("api.gold_unmark", "DELETE"): MANAGE,  # a reviewer undoes their own marking instead
    ("api.start_qc", "POST"): MANAGE,
    ("api.qc_policy", "GET"): SEE_ALL,
    ("api.qc_policy_set", "PATCH"): MANAGE,
    ("api.qc_policy_set", "PUT"): MANAGE,
    ("api.qc_runs", "GET"): SEE_ALL | {READ},
    ("api.qc_run", "GET"): SEE_ALL | {READ},
    ("api.label_issues", "GET"): SEE_ALL | {READ},
    ("api.review_next", "GET"): SEE_ALL,
    ("api.review_ui_next", "GET"): SEE_ALL,
    ("api.review_decide", "POST"): SEE_ALL,
    ("api.review_undo_task", "POST"): SEE_ALL,
    ("api.review_undo_last", "POST"): SEE_ALL,
    ("api.review_decisions", "GET"): SEE_ALL,
    ("api.audit_queue", "GET"): MANAGE,
    ("api.audit_decision", "POST"): MANAGE,
    ("api.annotators", "GET"): MANAGE,
    ("api.annotator_resume", "POST"): MANAGE,
    ("api.project_stats", "GET"): MANAGE | {READ},
    ("api.project_panel", "GET"): MANAGE | {READ},
    ("api.stats_items", "GET"): MANAGE | {READ},
    ("api.overview", "GET"): CREATE | {READ},
    ("api.list_webhooks", "GET"): CREATE,  # each lead sees the webhooks they manage
    ("api.create_webhook", "POST"): MANAGE,
    ("api.webhook_info", "GET"): USERS,
    ("api.get_webhook", "GET"): MANAGE,
    ("api.update_webhook", "PATCH"): MANAGE,
    ("api.update_webhook", "PUT"): MANAGE,
    ("api.delete_webhook", "DELETE"): MANAGE,
    ("api.webhook_deliveries", "GET"): MANAGE,
    # comments: an annotator on their own tasks (the member annotator labelled the task named),
    # leads and reviewers on every task; they resolve; the author or a lead deletes
    ("api.list_comments", "GET"): OWN,
    ("api.create_comment", "POST"): OWN,
    ("api.get_comment", "GET"): OWN,
    ("api.update_comment", "PATCH"): SEE_ALL,  # the world's body resolves it
    ("api.delete_comment", "DELETE"): {ANN, LEAD, ADMIN},  # the comment named is the member annotator's
    ("api.task_story", "GET"): SEE_ALL | {READ},
    # invites: admins anyone; leads into (and of the members of) a project they manage
    ("api.create_invite", "POST"): MANAGE,
    ("api.list_invites", "GET"): MANAGE,
    ("api.revoke_invite", "DELETE"): MANAGE,  # the invite named is of a member of the lead's project
    # cloud storages: a project's leads and admins only (they hold credentials and make the server call out)
    ("api.list_import_storages", "GET"): MANAGE,
    ("api.list_export_storages", "GET"): MANAGE,
    ("api.import_storage_types", "GET"): USERS,
    ("api.export_storage_types", "GET"): USERS,
    **{(f"api.{op}_{name}", method): MANAGE
       for name in ("s3_import_storage", "s3_export_storage", "localfiles_storage")
       for op, method in (("list", "GET"), ("create", "POST"), ("validate", "POST"), ("get", "GET"),
                          ("update", "PATCH"), ("delete", "DELETE"), ("sync", "POST"))},
    # pages
    ("static", "GET"): PUBLIC,
    ("main.health", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): USERS,
    ("main.index", "GET"): USERS,
    ("tokens.page", "GET"): USERS,
    ("tokens.create", "POST"): USERS,
    ("tokens.revoke", "POST"): {ANN, ADMIN},  # the token named is the member annotator's
    ("people.index", "GET"): ADMINS,
    ("people.create", "POST"): ADMINS,
    ("people.update", "POST"): ADMINS,
    ("people.reinvite", "POST"): ADMINS,
    ("people.accept", "GET"): PUBLIC,  # the link is the credential: the world's is unknown (404)
    ("people.accept", "POST"): PUBLIC,
    ("projects.index", "GET"): USERS,
    ("projects.list_partial", "GET"): USERS,
    ("projects.create", "GET"): CREATE,
    ("projects.create", "POST"): CREATE,
    ("annotate.preview", "GET"): CREATE,
    ("annotate.preview", "POST"): CREATE,
    ("dashboard.overview", "GET"): CREATE,
    ("dashboard.overview_table", "GET"): CREATE,
    ("projects.detail", "GET"): USERS,
    ("annotate.annotate", "GET"): ANNOTATE,
    ("annotate.task_view", "GET"): SEE_ALL,
    ("annotate.task_editor", "GET"): SEE_ALL,  # leads and reviewers: any task in the editor
    ("annotate.review_stream", "GET"): SEE_ALL,
    ("projects.media", "GET"): USERS,
    ("projects.thumbnail", "GET"): USERS,
    ("projects.resolve_storage_uri", "GET"): USERS,
    ("projects.tasks", "GET"): SEE_ALL,
    ("projects.tasks_table", "GET"): SEE_ALL,
    ("projects.tasks_count", "GET"): SEE_ALL,
    ("projects.settings", "GET"): MANAGE,
    ("projects.settings", "POST"): MANAGE,
    ("projects.archive", "POST"): MANAGE,
    ("projects.delete", "POST"): MANAGE,  # a wrong title typed: nothing is deleted
    ("projects.members", "GET"): MANAGE,
    ("projects.webhooks_page", "GET"): MANAGE,
    ("projects.members", "POST"): MANAGE,
    ("projects.remove_member", "POST"): MANAGE,
    ("projects.upload", "GET"): MANAGE,
    ("projects.recent_imports", "GET"): MANAGE,
    ("dashboard.page", "GET"): MANAGE,
    ("dashboard.items", "GET"): MANAGE,
    ("dashboard.panel", "GET"): MANAGE,
    ("datasets.index", "GET"): MANAGE,
    ("datasets.publish", "POST"): MANAGE,
    ("datasets.resplit", "POST"): MANAGE,
    ("datasets.publish_progress", "GET"): MANAGE,
    ("datasets.card", "GET"): MANAGE,
    ("datasets.diff", "GET"): MANAGE,
    ("datasets.export", "GET"): MANAGE,
    ("quality.page", "GET"): SEE_ALL,
    ("quality.job", "GET"): SEE_ALL,
    ("quality.run", "POST"): MANAGE,
    ("quality.settings", "POST"): MANAGE,
    ("review.page", "GET"): SEE_ALL,
    ("review.annotators", "GET"): MANAGE,
    ("review.resume", "POST"): MANAGE,
    ("review.audit", "GET"): MANAGE,
    ("review.audit", "POST"): MANAGE,
    ("review.policy_settings", "GET"): MANAGE,
    ("review.policy_settings", "POST"): MANAGE,
}

# Routes where an allowed caller may be told that the thing asked for is missing: the media file
# named here is no real image, the storage object named is not the task's, a queue may be empty, a lease may not be held, the job named is a
# QC job, not a publish job.
MAY_BE_MISSING = {"api.annotate_series", "people.accept", "projects.media", "projects.thumbnail", "api.annotate_previous", "static", "api.review_undo_task",
                  "projects.resolve_storage_uri",
                  "datasets.publish_progress",
                  "api.remove_member", "api.remove_member_by_query", "projects.remove_member"}


def _routes(app) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, rule.rule))
    return sorted(out)


def _all_routes() -> list[tuple[str, str, str]]:
    from web import create_app

    return _routes(create_app())


def test_every_route_is_in_the_table(app):
    missing = [(e, m, r) for e, m, r in _routes(app) if (e, m) not in TABLE]
    assert missing == [], "routes missing from the access matrix: add each with who may call it"
    gone = sorted(set(TABLE) - {(e, m) for e, m, _ in _routes(app)})
    assert gone == [], "the table names routes the app no longer has"


class World:
    """Everything the routes name, and one signed-in client per identity."""

    def __init__(self, app):
        make = {OUTSIDER: ("outsider@example.com", Role.annotator), ANN: ("ann@example.com", Role.annotator),
                REV: ("rev@example.com", Role.reviewer), OTHER_LEAD: ("other-lead@example.com", Role.lead),
                LEAD: ("lead@example.com", Role.lead), ADMIN: ("admin@example.com", Role.admin)}
        self.users = {who: users.create_user(email, role=role) for who, (email, role) in make.items()}
        self.tokens = {who: users.create_token(u.id) for who, u in self.users.items()}
        self.tokens[READ] = users.create_token(self.users[LEAD].id, scope="read")
        self.spare_token = users.new_token(self.users[ANN].id, name="spare")[0].id  # the one routes revoke
        lead = self.users[LEAD]
        project = projects.create_project(lead, title="matrix", label_config=CONFIG)
        projects.create_project(self.users[OTHER_LEAD], title="theirs", label_config=CONFIG)
        projects.set_member(lead, project.id, member="ann@example.com", role=Role.annotator)
        projects.set_member(lead, project.id, member="rev@example.com", role=Role.reviewer)
        self.project = project.id
        ann = _Actor(self.users[ANN])
        # eight suspects, so that every reviewer finds one; the routes name the last (served last)
        self.tasks = suspects_in_review(project, ann, given=["neg"] * 9, truth=["neg"] + ["pos"] * 8)
        with read_session() as s:
            self.annotation = s.exec(Annotation.__table__.select().where(
                Annotation.task_id == self.tasks[0])).first().id
            self.last_annotation = s.exec(Annotation.__table__.select().where(  # the drafts routes'
                Annotation.task_id == self.tasks[-1])).first().id
        prediction = predictions.create_prediction(lead, task_id=self.tasks[0], result=label("pos"), score=0.5,
                                                   model_version="m")
        self.prediction = prediction.id
        with write_session() as s:  # an ML backend whose server is down (nothing listens on port 9)
            backend = MLBackend(project_id=project.id, url="http://127.0.0.1:9", title="matrix", state="ER")
            s.add(backend)
            s.flush()
            self.ml_backend = backend.id
        review.decide(review.next_suspect(project.id, self.users[REV])["task"]["id"], self.users[REV],
                      decision="keep")
        with read_session() as s:
            self.decision = s.exec(ReviewDecision.__table__.select()).first().id
        self.open_tasks = [_add_task(project.id) for _ in range(8)]  # one for each caller of /next
        self.client_for = {}
        self.app = app

    def client(self, who: str):
        client = self.app.test_client()
        if who in self.users:
            with self.app.test_request_context(environ_base=client.environ_base):  # its address and agent
                identifier = _create_identifier()
            with client.session_transaction() as sess:  # signed in as Flask-Login signs in
                sess["_user_id"] = str(self.users[who].id)
                sess["_fresh"] = True
                sess["_id"] = identifier
                sess[SESSION_VERSION_KEY] = self.users[who].session_version
        return client


class _Actor:
    def __init__(self, user):
        self.user, self.id = user, user.id


def _add_task(project_id: int) -> int:
    from labeling.db import write_session

    with write_session() as s:
        task = Task(project_id=project_id, data={"text": "open"}, target_overlap=1)
        s.add(task)
        s.flush()
        return task.id


def _world_extras(world: World, client) -> dict:
    """A published version, an import and a QC job, made through the API as a lead would."""
    from labeling.models import ImportBatch

    h = {"Authorization": f"Token {world.tokens[LEAD]}"}
    pid = world.project
    r = client.post(f"/api/projects/{pid}/datasets", json={"note": "v1"}, headers=h)
    assert r.status_code in (200, 201, 202), r.get_json()
    r = client.post(f"/api/projects/{pid}/import", json=[{"text": "imported"}], headers=h)
    assert r.status_code in (200, 201, 202), r.get_json()
    r = client.post(f"/api/projects/{pid}/qc", json={}, headers=h)
    assert r.status_code in (200, 201, 202), r.get_json()
    r = client.post(f"/api/projects/{pid}/exports", json={"title": "snap"}, headers=h)
    assert r.status_code == 201, r.get_json()
    export_id = r.get_json()["id"]
    r = client.post("/api/dm/views", json={"project": pid, "data": {"title": "tab"}}, headers=h)
    assert r.status_code == 201, r.get_json()
    view_id = r.get_json()["id"]
    r = client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "project": pid}, headers=h)
    assert r.status_code == 201, r.get_json()
    webhook_id = r.get_json()["id"]
    with read_session() as s:
        batch = s.exec(ImportBatch.__table__.select()).first()
        job = s.exec(Job.__table__.select().where(Job.kind == "qc")).first()
    # storages written as rows: saving one through the API tries its connection; this S3 endpoint
    # is a closed port, so a sync is refused (400) quickly
    with write_session() as s:
        made = [Storage(project_id=pid, kind=kind, type=type_, bucket="world", s3_endpoint="http://127.0.0.1:9",
                        path=None, created_by=world.users[LEAD].id)
                for kind, type_ in (("import", "s3"), ("export", "s3"), ("import", "localfiles"))]
        s.add_all(made)
        s.flush()
        storage_ids = [x.id for x in made]
    r = client.post(f"/api/tasks/{world.tasks[-1]}/drafts", json={"result": label("pos")},
                    headers={"Authorization": f"Token {world.tokens[ANN]}"})
    assert r.status_code == 201, r.get_json()
    draft_id = r.get_json()["id"]
    r = client.post("/api/comments", json={"task": world.tasks[-1], "text": "is this right?"},
                    headers={"Authorization": f"Token {world.tokens[ANN]}"})
    assert r.status_code == 201, r.get_json()
    comment_id = r.get_json()["id"]
    from labeling import invites

    invite_id = invites.invite(world.users[LEAD], "invited@example.com", project_id=pid).invite_id
    return {"draft_id": draft_id, "invite_id": invite_id, "import_id": batch.id, "job_id": job.id, "export_id": export_id, "view_id": view_id,
            "webhook_id": webhook_id, "comment_id": comment_id,
            "storage_id": storage_ids[0], "export_storage_id": storage_ids[1], "localfiles_id": storage_ids[2]}


# The body each write is sent with: what a caller allowed to make the request would send, so
# that a refused caller is refused for who they are, not for what they sent.
def _body(endpoint: str, world: World) -> object:
    ann_email = world.users[ANN].email
    return {
        "api.create_token": {"name": "t"},
        "api.update_hotkeys": {"custom_hotkeys": {"annotation:submit": {"key": "ctrl+enter"}}},
        "api.create_user": {"email": "new@example.com", "role": "annotator", "password": "a-long-password"},
        "api.update_user": {"role": "reviewer"},
        "api.validate_config": {"label_config": CONFIG},
        "api.create_project": {"title": "new", "label_config": CONFIG},
        "api.update_project": {"title": "renamed"},
        "api.set_member": {"user": ann_email, "role": "reviewer"},
        "api.import_tasks": [{"text": "more"}],
        "api.publish_dataset": {"note": "v2"},
        "api.resplit_datasets": {"seed": 7, "reason": "new test set"},
        "api.update_task": {"data": {"text": "changed"}},
        "api.create_annotation": {"result": label("pos")},
        "api.update_annotation": {"result": label("neu")},
        "api.create_task_draft": {"result": label("pos")},
        "api.create_annotation_draft": {"result": label("pos")},
        "api.update_draft": {"result": label("neu")},
        "api.create_prediction": {"task": world.tasks[0], "result": label("pos"), "score": 0.4},
        "api.update_prediction": {"score": 0.9},
        "api.import_predictions": [{"task": world.tasks[0], "result": label("neg"), "score": 0.3}],
        "api.create_task": {"project": world.project, "data": {"text": "one more"}},
        "api.validate_project_config": {"label_config": CONFIG},
        "api.create_snapshot": {"title": "another"},
        "projects.delete": {"confirm_title": "not the title"},
        "api.gold_mark": {"answer": label("neg")},
        "api.qc_policy_set": {"threshold": 0.4},
        "api.review_decide": {"decision": "exclude", "reason": "cut off"},
        "api.audit_decision": {"decision": "confirm"},
        "projects.create": {"title": "new", "label_config": CONFIG},
        "projects.settings": {"title": "renamed", "label_config": CONFIG},
        "projects.members": {"email": ann_email, "role": "reviewer"},
        "people.create": {"email": "invited@example.com", "role": "annotator"},
        "people.update": {"role": "reviewer", "active": "1"},
        "quality.settings": {"qc_every": "5"},
        "review.policy_settings": {"threshold": "0.4"},
        "review.audit": {"verdict": "confirm", "decision": str(world.decision)},
        "datasets.publish": {"note": "v2"},
        "datasets.resplit": {"seed": "7", "reason": "new test set"},
        "annotate.preview": {"label_config": CONFIG, "data": '{"text": "x"}'},
        "api.dm_create_view": {"project": world.project, "data": {"title": "new"}},
        **{f"api.{op}_s3_{kind}_storage": {"project": world.project, "bucket": "world",
                                            "s3_endpoint": "http://127.0.0.1:9", "title": "t"}
           for op in ("create", "validate", "update") for kind in ("import", "export")},
        **{f"api.{op}_localfiles_storage": {"project": world.project, "path": "/nowhere"}
           for op in ("create", "validate", "update")},
        "api.dm_order_views": {"project": world.project, "ids": []},
        "api.dm_update_view": {"data": {"title": "renamed"}},
        "api.create_ml_backend": {"url": "http://127.0.0.1:9", "project": world.project},
        "api.update_ml_backend": {"title": "renamed"},
        "api.ml_interactive_annotating": {"task": world.open_tasks[0]},
        "api.create_webhook": {"url": "http://127.0.0.1:9/other", "project": world.project},
        "api.update_webhook": {"is_active": False},
        "api.create_comment": {"task": world.tasks[-1], "text": "a question"},
        "api.update_comment": {"is_resolved": True},
        "api.create_invite": {"email": "new-member@example.com", "project": world.project, "project_role": "reviewer"},
    }.get(endpoint, {})


def path_values(world: World, extras: dict, rule: str) -> dict:
    """A value for every path parameter of the app's routes: the world's things (``rule`` tells
    the two meanings of ``name`` apart)."""
    return {
        "project_id": world.project, "task_id": world.tasks[-1],
        "annotation_id": world.last_annotation if rule.endswith("/drafts") else world.annotation,
        "draft_id": extras["draft_id"],
        "prediction_id": world.prediction, "user_id": world.users[ANN].id, "decision_id": world.decision,
        "token_id": world.spare_token, "organization_id": 1,
        "job_id": extras["job_id"], "import_id": extras["import_id"], "run_id": _run_id(world),
        "export_id": extras["export_id"],
        "view_id": extras["view_id"], "ml_id": world.ml_backend,
        "webhook_id": extras["webhook_id"], "comment_id": extras["comment_id"], "invite_id": extras["invite_id"],
        "storage_id": extras["storage_id"], "export_storage_id": extras["export_storage_id"],
        "localfiles_id": extras["localfiles_id"],
        "version": "1", "number": 1, "panel": "progress",
        "object_name": "ts",
        "name": "overview" if rule.startswith("/api/stats/") else "progress",
        "key": "not-a-link-of-this-world", "sha256": "0" * 64, "ext": "png", "filename": "app.js",
    }


def _url(rule: str, world: World, extras: dict) -> str:
    url = rule
    for key, value in path_values(world, extras, rule).items():
        for conv in ("", "int:", "string:", "path:", "string(length=64):"):
            url = url.replace(f"<{conv}{key}>", str(value))
    assert "<" not in url, f"no value for a parameter of {rule}"
    query = {"/api/tasks": f"?project={world.project}", "/api/comments": f"?task={world.tasks[-1]}", "/api/predictions": f"?project={world.project}",
             "/api/ml": f"?project={world.project}", "/api/invites": f"?project={world.project}",
             "/api/dm/views": f"?project={world.project}", "/api/dm/views/reset": f"?project={world.project}",
             "/api/storages": f"?project={world.project}", "/api/storages/export": f"?project={world.project}",
             "/api/storages/s3": f"?project={world.project}", "/api/storages/export/s3": f"?project={world.project}",
             "/api/storages/localfiles": f"?project={world.project}",
             # the one action that changes no task: deleting the predictions of a task that has none
             "/api/dm/actions": f"?project={world.project}&id=delete_tasks_predictions"
                                f"&query=%7B%22selectedItems%22%3A%7B%22all%22%3Afalse%2C%22included%22%3A%5B"
                                f"{world.open_tasks[0]}%5D%7D%7D",
             "/api/projects/<int:project_id>/datasets/diff": "?from=1&to=1",
             "/api/projects/<int:project_id>/members": f"?user={world.users[ANN].id}",
             "/projects/<int:project_id>/datasets/diff": "?from=1&to=1",
             "/tasks/<int:task_id>/resolve/": "?fileuri=czM6Ly9uby9zdWNo", "/tasks/<int:task_id>/presign/": "?fileuri=czM6Ly9uby9zdWNo",
             "/api/projects/<int:project_id>/stats/items": f"?annotator={world.users[ANN].id}",
             "/projects/<int:project_id>/dashboard/items": f"?annotator={world.users[ANN].id}"}
    return url + query.get(rule, "")


def _run_id(world: World) -> int:
    from labeling.models import QualityRun

    with read_session() as s:
        return s.exec(QualityRun.__table__.select().where(QualityRun.project_id == world.project)).first().id


def _send(world: World, who: str, endpoint: str, method: str, url: str, api: bool):
    body = _body(endpoint, world) if method != "GET" else None
    if api:
        client = world.app.test_client()
        headers = {"Authorization": f"Token {world.tokens[who]}"} if who != ANON else {}
        return client.open(url, method=method, json=body, headers=headers)
    return world.client(who).open(url, method=method, data=body)


def _to_login(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")


def _refused(response, who: str, api: bool) -> bool:
    if who == ANON and not api:
        return _to_login(response)
    if who == ANON:
        return response.status_code == 401
    return response.status_code in (403, 404)


def _state(world: World) -> tuple:
    """What a refused request must not change."""
    with read_session() as s:
        tasks = sorted((t.id, t.state, t.n_annotations, t.n_leases, t.is_gold) for t in s.exec(Task.__table__.select()))
        n_ann = len(s.exec(Annotation.__table__.select()).all())
        n_pred = len(s.exec(Prediction.__table__.select()).all())
    return tasks, n_ann, n_pred


def wrong_grants(app, endpoint: str, method: str, rule: str) -> list[str]:
    """Every identity let in that the table refuses, or refused that it lets in, on one route (in a
    fresh world; a refused request that changed something counts too). ``bench/security.py``
    counts them over every route."""
    app.config["WTF_CSRF_ENABLED"] = False  # the form checks come after access; here access alone
    allowed = TABLE.get((endpoint, method))
    if allowed is None:
        return [f"{method} {rule} is not in the access matrix"]
    world = World(app)
    extras = _world_extras(world, app.test_client())
    url = _url(rule, world, extras)
    api = rule.startswith("/api/")
    identities = [ANON, *ORDER] + ([READ] if api else [])
    wrong = []
    before = _state(world)
    for who in identities:
        if who in allowed:
            continue
        response = _send(world, who, endpoint, method, url, api)
        if not _refused(response, who, api):
            wrong.append(f"{who} was let in: {response.status_code} {response.get_data(as_text=True)[:120]}")
    if _state(world) != before:
        wrong.append("a refused request changed tasks, annotations or predictions")
    callers = [w for w in identities if w in allowed and w != ANON]
    if method != "GET":
        callers = callers[:1]
    for who in callers:
        response = _send(world, who, endpoint, method, url, api)
        code = response.status_code
        let_in = code not in (401, 403) and (endpoint == "auth.logout" or not _to_login(response))
        if code == 404 and endpoint not in MAY_BE_MISSING:
            let_in = False
        if not let_in:
            wrong.append(f"{who} was refused: {code} {response.get_data(as_text=True)[:160]}")
    return [f"{method} {url}: {line}" for line in wrong]


@pytest.mark.parametrize(("endpoint", "method", "rule"), _all_routes())
def test_access(app, endpoint, method, rule):
    wrong = wrong_grants(app, endpoint, method, rule)
    assert not wrong, "\n".join(wrong)


def test_the_router_hands_out_tasks_in_the_matrix_world(app):
    """The world above is what the matrix thinks it is (a check of the test itself)."""
    world = World(app)
    assert router.next_task(world.project, world.users[OUTSIDER]) is not None
