"""QC of taxonomies and of spans in dialogues: annotators' agreement (exact taxonomy paths, span
F1 as for named entities), and the real QC job sending disagreements to review."""

from __future__ import annotations

import math
from pathlib import Path

from sqlmodel import select

from labeling import imports, jobs, projects
from labeling.db import read_session
from labeling.models import LabelIssue, Task
from quality.run.skeleton import start_qc
from quality.structured_agreement import item_agreement, pair_score, paragraph_spans, taxonomy_paths
from tests.conftest import wait_for

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def tax(*paths: list[str]) -> list[dict]:
    return [{"from_name": "taxonomy", "to_name": "text", "type": "taxonomy", "value": {"taxonomy": list(paths)}}]


def span(start: str, first: int, last: int, label: str, text: str) -> dict:
    return {"from_name": "entity_slot", "to_name": "dialogue", "type": "paragraphlabels",
            "value": {"start": start, "end": start, "startOffset": first, "endOffset": last, "text": text,
                      "paragraphlabels": [label]}}


def test_taxonomy_paths_agree_only_when_exactly_the_same():
    a = taxonomy_paths(tax(["Eukarya", "Human"]))
    same = taxonomy_paths(tax(["Eukarya", "Human"]))
    parent = taxonomy_paths(tax(["Eukarya"]))
    two = taxonomy_paths(tax(["Eukarya", "Human"], ["Archaea"]))
    assert pair_score(a, same) == 1.0
    assert pair_score(a, parent) == 0.0  # the parent is another path, not half a match
    assert pair_score(a, two) == 0.5
    mean, per = item_agreement([a, same, parent])
    assert math.isclose(mean, 1 / 3)
    assert per.tolist() == [0.5, 0.5, 0.0]
    assert math.isnan(item_agreement([a])[0])


def test_paragraph_spans_by_exact_span_f1_with_indexes_as_label_studio_writes_them():
    a = paragraph_spans([span("0", 4, 7, "Person", "Bob"), span("1", 7, 12, "Person", "Alice")])
    as_numbers = paragraph_spans([{**span("0", 4, 7, "Person", "Bob"),
                                   "value": {**span("0", 4, 7, "Person", "Bob")["value"], "start": 0, "end": 0}}])
    assert as_numbers <= a
    other_label = paragraph_spans([span("0", 4, 7, "Location", "Bob"), span("1", 7, 12, "Person", "Alice")])
    assert pair_score(a, other_label, measure="f1") == 0.5
    assert pair_score(frozenset(), frozenset(), measure="f1") == 1.0


def _run_qc(lead, project_id):
    job_id = start_qc(lead.user, project_id)[0].id
    job = wait_for(lambda: (j := jobs.get_job(job_id)) and j.status in ("done", "failed") and j, timeout=120)
    assert job.status == "done", job.message
    with read_session() as s:
        tasks = s.exec(select(Task).where(Task.project_id == project_id).order_by(Task.id)).all()
        issues = {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.project_id == project_id))}
    return job, tasks, issues


def test_the_real_qc_job_sends_taxonomy_disagreements_to_review(lead, make_user, worker):
    ann1, ann2 = make_user("t1@example.com"), make_user("t2@example.com")
    xml = (TEMPLATES / "natural-language-processing__taxonomy.xml").read_text()
    project = projects.create_project(lead.user, title="tax", label_config=xml, overlap=2)
    assert projects.parse_config(xml).kind == "taxonomy"
    pairs = [(["Eukarya", "Human"], ["Eukarya", "Human"]), (["Archaea"], ["Archaea"]),
             (["Eukarya", "Human"], ["Eukarya", "Oppossum"]), (["Bacteria"], ["Bacteria"])]
    body = [{"data": {"text": f"text {n}"},
             "annotations": [{"result": tax(a), "completed_by": ann1.email}, {"result": tax(b), "completed_by": ann2.email}]}
            for n, (a, b) in enumerate(pairs)]
    imports.import_data(lead.user, project.id, body=body)
    job, tasks, issues = _run_qc(lead, project.id)
    assert [issues[t.id].is_issue for t in tasks] == [False, False, True, False]
    assert issues[tasks[2].id].score == 0.0
    assert "Eukarya / Oppossum" in issues[tasks[2].id].reason
    assert tasks[2].state == "review"
    assert {t.state for t in (tasks[0], tasks[1], tasks[3])} <= {"accepted", "labeled"}


def test_the_real_qc_job_sends_dialogue_span_disagreements_to_review(lead, make_user, worker):
    ann1, ann2 = make_user("p1@example.com"), make_user("p2@example.com")
    xml = (TEMPLATES / "conversational-ai__intent-classification-and-slot-filling.xml").read_text()
    project = projects.create_project(lead.user, title="slots", label_config=xml, overlap=2)
    dialogue = [{"author": "Alice", "text": "Hi, Bob."}, {"author": "Bob", "text": "Hello, Alice!"}]
    bob, alice = span("0", 4, 7, "Person", "Bob"), span("1", 7, 12, "Person", "Alice")
    alice_loc = span("1", 7, 12, "Location", "Alice")
    body = [{"data": {"humanMachineDialogue": dialogue},
             "annotations": [{"result": a, "completed_by": ann1.email}, {"result": b, "completed_by": ann2.email}]}
            for a, b in [([bob, alice], [bob, alice]), ([bob, alice], [bob, alice_loc])]]
    imports.import_data(lead.user, project.id, body=body)
    job, tasks, issues = _run_qc(lead, project.id)
    assert [issues[t.id].is_issue for t in tasks] == [False, True]
    assert issues[tasks[1].id].score == 0.5
    assert tasks[1].state == "review"


def test_a_taxonomy_disagreement_is_shown_on_the_review_page_and_its_api(lead, make_user, worker, client):
    from tests.conftest import login

    ann1, ann2 = make_user("r1@example.com"), make_user("r2@example.com")
    xml = (TEMPLATES / "natural-language-processing__taxonomy.xml").read_text()
    project = projects.create_project(lead.user, title="tax review", label_config=xml, overlap=2)
    body = [{"data": {"text": "a mammal"}, "annotations": [
        {"result": tax(["Eukarya", "Human"]), "completed_by": ann1.email},
        {"result": tax(["Eukarya", "Oppossum"]), "completed_by": ann2.email}]}]
    imports.import_data(lead.user, project.id, body=body)
    _, tasks, _ = _run_qc(lead, project.id)
    assert tasks[0].state == "review"
    login(client, lead.email)
    assert client.get(f"/review/{project.id}").status_code == 200
    shown = client.get(f"/api/review/{project.id}/next")
    assert shown.status_code == 200, shown.get_json()
    item = shown.get_json()["item"]
    assert item["task"]["id"] == tasks[0].id
    assert item["control"]["type"] == "taxonomy"
    assert sorted(a["label"] for a in item["annotations"]) == ["Eukarya / Human", "Eukarya / Oppossum"]
    page = client.get(f"/projects/{project.id}/tasks/{tasks[0].id}")
    assert page.status_code == 200
    assert "Eukarya / Oppossum" in page.get_data(as_text=True)
