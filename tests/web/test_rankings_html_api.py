"""Rankings, pairwise and HTML over the API: the labeling page gets HTML sanitised, Label
Studio's API gets it as imported; results come back from the Label Studio export unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from labeling import annotations, imports, projects
from labeling.exports import iter_ls_json
from tests.labeling.schema.test_rankings_html import HOSTILE

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def _project(lead, name: str, tasks: list[dict]):
    project = projects.create_project(lead.user, title=name[:50], label_config=(TEMPLATES / f"{name}.xml").read_text())
    report = imports.import_data(lead.user, project.id, body=tasks, background=False, return_task_ids=True)
    return project, report.task_ids


def test_the_page_gets_sanitised_html_and_the_ls_api_the_html_as_imported(client, lead, annotator):
    project, _ = _project(lead, "structured-data-parsing__html-entity-recognition", [{"html": HOSTILE}])
    page = client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers).get_json()["task"]
    shown = page["data"]["html"]
    for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "evil.example", "style"):
        assert bad not in shown
    rest = client.get(f"/api/tasks/{page['id']}", headers=lead.headers).get_json()
    assert rest["data"]["html"] == HOSTILE
    result = [{"id": "s1", "from_name": "ner", "to_name": "text", "type": "hypertextlabels",
               "value": {"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 0, "endOffset": 2,
                         "globalOffsets": {"start": 0, "end": 2}, "text": "Hi", "hypertextlabels": ["Title"]}}]
    posted = client.post(f"/api/tasks/{page['id']}/annotations", headers=annotator.headers, json={"result": result})
    assert posted.status_code == 201, posted.get_json()
    back = client.get(f"/api/annotate/{project.id}/previous", headers=annotator.headers).get_json()
    assert "<script" not in back["task"]["data"]["html"] and back["annotation"]["result"] == result


def test_pairwise_and_ranker_results_come_back_from_the_export_unchanged(lead):
    pw, pw_tasks = _project(lead, "generative-ai__human-feedback-collection", [{"prompt": "p", "answer1": "a", "answer2": "b"}])
    rk, rk_tasks = _project(lead, "generative-ai__llm-ranker", [{"task": "t", "prompt": "p", "items": [
        {"id": "x", "title": "X", "body": "x"}, {"id": "y", "title": "Y", "body": "y"}]}])
    results = {
        pw.id: [{"id": "p1", "from_name": "comparison", "to_name": "comparison", "type": "pairwise",
                 "value": {"selected": "right"}}],
        rk.id: [{"id": "r1", "from_name": "rank", "to_name": "answers", "type": "ranker",
                 "value": {"ranker": {"_": ["y"], "relevant_results": ["x"], "biased_results": []}}}],
    }
    for project_id, task_ids in ((pw.id, pw_tasks), (rk.id, rk_tasks)):
        result = results[project_id]
        annotations.submit(task_ids[0], lead.user, result=result, lead_time=1.0)
        exported = json.loads(b"".join(iter_ls_json(project_id, lead.user)))
        assert exported[0]["annotations"][0]["result"] == result


def test_the_task_page_shows_rankings_pairwise_and_html_spans_as_text(client, lead):
    from tests.conftest import login

    project, (tid,) = _project(lead, "structured-data-parsing__html-entity-recognition",
                               [{"html": "<p>Ada <script>x()</script>wrote</p>"}])
    result = [{"id": "s1", "from_name": "ner", "to_name": "text", "type": "hypertextlabels",
               "value": {"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 0, "endOffset": 3,
                         "text": "Ada", "hypertextlabels": ["Author"]}}]
    annotations.submit(tid, lead.user, result=result, lead_time=1.0)
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/tasks/{tid}").get_data(as_text=True)
    assert "Author &#39;Ada&#39;" in page or "Author 'Ada'" in page
    assert "<script>x()" not in page  # the HTML's source is shown as text
