"""The OpenAPI document of /api: valid, complete (every rule, every method), and true (what the
endpoints answer validates against the schemas it declares)."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.web.test_api_annotations import CONFIG, RESULT


@pytest.fixture
def document(client):
    r = client.get("/api/openapi.json")  # no token: the description is public
    assert r.status_code == 200
    return r.get_json()


def test_the_document_passes_openapi_spec_validator(document):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "Task" in document["components"]["schemas"] and "Token" in document["components"]["securitySchemes"]


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            yield rule, sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_api_rule_and_method_is_in_the_document_with_its_path_parameters(app, document):
    assert "x-undocumented" not in document, document.get("x-undocumented")
    seen = 0
    for rule, methods in _api_rules(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in document["paths"], f"{rule.rule} is not in /api/openapi.json"
        for method in methods:
            op = document["paths"][path].get(method.lower())
            assert op is not None, f"{method} {rule.rule} is not in /api/openapi.json"
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(rule.arguments), f"{method} {rule.rule}: path parameters {declared}"
            assert op["responses"] and "default" not in op["responses"], f"{method} {rule.rule} has no answers"
            assert op["summary"] != rule.endpoint.split(".")[-1].replace("_", " "), f"{rule.rule}: say what it does"
            assert any(code.startswith("2") or code == "304" for code in op["responses"])
            view = app.view_functions[rule.endpoint]
            assert op.get("x-read-token", False) is getattr(view, "readable", False)
            if method in ("POST", "PUT", "PATCH") and rule.endpoint not in BODYLESS:
                assert "requestBody" in op, f"{method} {rule.rule} declares no request body"
            seen += 1
    assert seen == sum(len(ops) for ops in document["paths"].values())  # and nothing that is not a route


# Writes whose request has no body (the path says it all).
BODYLESS = {"api.renew_lease", "api.review_undo_task", "api.review_undo_last", "api.annotator_resume",
            "api.sign_out_user", "api.sync_s3_import_storage", "api.sync_s3_export_storage",
            "api.sync_localfiles_storage", "api.reset_current_token"}


def test_query_parameters_are_described(document):
    params = {p["name"] for p in document["paths"]["/api/tasks"]["get"]["parameters"] if p["in"] == "query"}
    assert {"project", "page", "page_size", "state", "search", "fields"} <= params
    export = document["paths"]["/api/projects/{project_id}/export"]["get"]
    assert {"exportType", "download_all_tasks", "ids", "state", "split"} <= {p["name"] for p in export["parameters"]}
    diff = document["paths"]["/api/projects/{project_id}/datasets/diff"]["get"]["parameters"]
    assert {"from", "to"} <= {p["name"] for p in diff if p["required"]}


def test_import_takes_json_tasks_or_files(document):
    body = document["paths"]["/api/projects/{project_id}/import"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert set(document["paths"]["/api/projects/{project_id}/import"]["post"]["responses"]) >= {"201", "202"}


def test_the_docs_page_loads_swagger_ui_from_local_files(client):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
    assert all(s.startswith(("/", "data:")) for s in sources), sources  # nothing from another host
    assert 'data-spec-url="/api/openapi.json"' in html
    assert '<a class="link" href="/">' in html  # a way back to the app


def test_other_api_routes_still_need_a_token(client):
    assert client.get("/api/me").status_code == 401


# --------------------------------------------------------------------------- answers match


class Answers:
    """Validate answers against the response schema the document declares for them."""

    def __init__(self, document):
        self.document = document

    def check(self, path: str, method: str, response) -> dict | list:
        op = self.document["paths"][path][method]
        code = str(response.status_code)
        declared = op["responses"].get(code) or op["responses"].get(code[0] + "XX")
        assert declared is not None, f"{method} {path} answered {response.status_code}, not in the document"
        body = response.get_json()
        schema = declared["content"]["application/json"]["schema"]
        errors = list(OAS31Validator({**schema, "components": self.document["components"]}).iter_errors(body))
        assert not errors, f"{method} {path}: {[e.message for e in errors[:3]]}"
        return body



def test_answers_validate_against_the_document(client, document, lead, annotator):
    a = Answers(document)
    h, hl = annotator.headers, lead.headers
    created = a.check("/api/projects", "post",
                      client.post("/api/projects", json={"title": "p", "label_config": CONFIG}, headers=hl))
    a.check("/api/projects", "get", client.get("/api/projects", headers=hl))
    pid = created["id"]
    a.check("/api/projects/{project_id}", "get", client.get(f"/api/projects/{pid}", headers=hl))
    report = a.check("/api/projects/{project_id}/import", "post",
                     client.post(f"/api/projects/{pid}/import?return_task_ids=true",
                                 json=[{"text": "a"}, {"data": {"text": "b"}}], headers=hl))
    a.check("/api/projects/{project_id}/imports/{import_id}", "get",
            client.get(f"/api/projects/{pid}/imports/{report['import']}", headers=hl))
    task = a.check("/api/projects/{project_id}/next", "get", client.get(f"/api/projects/{pid}/next", headers=h))
    ann = a.check("/api/tasks/{task_id}/annotations", "post",
                  client.post(f"/api/tasks/{task['id']}/annotations", json={"result": RESULT}, headers=h))
    a.check("/api/annotations/{annotation_id}", "get", client.get(f"/api/annotations/{ann['id']}", headers=h))
    a.check("/api/tasks/{task_id}/annotations", "get", client.get(f"/api/tasks/{task['id']}/annotations", headers=h))
    a.check("/api/projects/{project_id}/my-annotations", "get",
            client.get(f"/api/projects/{pid}/my-annotations", headers=h))
    a.check("/api/annotate/{project_id}/next", "get", client.get(f"/api/annotate/{pid}/next", headers=h))
    a.check("/api/annotate/{project_id}/previous", "get", client.get(f"/api/annotate/{pid}/previous", headers=h))
    pred = a.check("/api/predictions", "post", client.post(
        "/api/predictions", json={"task": report["task_ids"][1], "result": RESULT, "score": 0.5}, headers=hl))
    a.check("/api/predictions/{prediction_id}", "get", client.get(f"/api/predictions/{pred['id']}", headers=hl))
    a.check("/api/tasks", "get", client.get(f"/api/tasks?project={pid}&fields=all", headers=hl))
    a.check("/api/projects/{project_id}/tasks", "get", client.get(f"/api/projects/{pid}/tasks", headers=hl))
    a.check("/api/tasks/{task_id}", "get", client.get(f"/api/tasks/{task['id']}", headers=hl))
    a.check("/api/tasks/{task_id}", "patch",
            client.patch(f"/api/tasks/{task['id']}", json={"priority": 2}, headers=hl))
    a.check("/api/projects/{project_id}/members", "post",
            client.post(f"/api/projects/{pid}/members", json={"user": annotator.email}, headers=hl))
    a.check("/api/projects/{project_id}/members", "get", client.get(f"/api/projects/{pid}/members", headers=hl))
    a.check("/api/me", "get", client.get("/api/me", headers=h))
    a.check("/api/projects/{project_id}/qc/runs", "get", client.get(f"/api/projects/{pid}/qc/runs", headers=hl))
    refused = client.get("/api/projects/999999", headers=hl)
    a.check("/api/projects/{project_id}", "get", refused)  # 4XX: the error shape


def test_review_answers_validate_against_the_document(client, document, lead, annotator, make_user):
    from labeling.models import Role
    from tests.labeling.test_review import make_project as review_project
    from tests.labeling.test_review import suspects_in_review

    reviewer = make_user("rev@example.com", Role.reviewer)
    project = review_project(lead.user)
    suspects_in_review(project, annotator, given=["pos", "neg", "neu"], truth=["pos", "pos", "neg"])
    a, h, pid = Answers(document), reviewer.headers, project.id
    a.check("/api/review/{project_id}/next", "get", client.get(f"/api/review/{pid}/next", headers=h))
    item = a.check("/api/projects/{project_id}/review/next", "get",
                   client.get(f"/api/projects/{pid}/review/next", headers=h))
    a.check("/api/tasks/{task_id}/review", "post",
            client.post(f"/api/tasks/{item['task']['id']}/review", json={"decision": "keep"}, headers=h))
    a.check("/api/projects/{project_id}/review/decisions", "get",
            client.get(f"/api/projects/{pid}/review/decisions", headers=lead.headers))
    a.check("/api/projects/{project_id}/review/undo", "post",
            client.post(f"/api/projects/{pid}/review/undo", headers=h))


def test_qc_run_answers_name_only_documented_keys(client, document, lead, annotator):
    """The keys a QC run is answered with are the document's QcRun properties, not extras."""
    from tests.labeling.test_review import make_project as review_project
    from tests.labeling.test_review import suspects_in_review

    project = review_project(lead.user)
    suspects_in_review(project, annotator, given=["pos", "neg", "neu"], truth=["pos", "pos", "neg"])
    a, pid = Answers(document), project.id
    runs = a.check("/api/projects/{project_id}/qc/runs", "get",
                   client.get(f"/api/projects/{pid}/qc/runs", headers=lead.headers))
    one = a.check("/api/projects/{project_id}/qc/runs/{run_id}", "get",
                  client.get(f"/api/projects/{pid}/qc/runs/{runs[0]['id']}", headers=lead.headers))
    documented = set(document["components"]["schemas"]["QcRun"]["properties"])
    assert runs and set(runs[0]) - documented == set()
    assert set(one) - documented == set() and "annotators" in one
