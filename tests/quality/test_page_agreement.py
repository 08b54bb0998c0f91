"""Agreement on classifications per page (perItem on a <Pdf>): the exact-match share of pages
over pairs of annotators, a line of quality.task_agreement's MEASURES, and a real QC run that
sends a document whose pages the annotators classify differently to review with that reason."""

from __future__ import annotations

from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.models import LabelIssue, QualityRun, Task
from labeling.schema import parse_label_config
from quality.page_agreement import page_match_share
from quality.run.skeleton import run_qc
from quality.task_agreement import PAGES, measured_controls, task_agreement
from tests.labeling.test_pdfs import CONFIG


def pages(*labels, doc="Invoice"):
    items = [{"id": f"p{i}", "from_name": "page_type", "to_name": "pdf", "type": "choices",
              "value": {"choices": [lab]}, "item_index": i} for i, lab in enumerate(labels) if lab]
    return [*items, {"id": "d", "from_name": "doc_type", "to_name": "pdf", "type": "choices",
                     "value": {"choices": [doc]}}]


def test_the_share_of_pages_alike_over_pairs():
    assert page_match_share([pages("Cover", "Body"), pages("Cover", "Body")], "page_type") == (1.0, "")
    assert page_match_share([pages("Cover", "Body"), pages("Cover", "Cover")], "page_type") == (0.5, "pages apart: 2")
    # a page one annotator left out is a page they disagree on; three annotators: three pairs
    share, detail = page_match_share([pages("Cover", "Body"), pages("Cover", None), pages("Cover", "Body")], "page_type")
    assert (round(share, 4), detail) == (round(4 / 6, 4), "pages apart: 2")  # pairs agree on 2, 1 and 1 of 2 pages
    assert page_match_share([pages(None), pages(None)], "page_type") == (None, "")


def test_the_per_page_control_is_measured_and_the_document_control_is_left_to_cleanlab():
    schema = parse_label_config(CONFIG)
    assert measured_controls(schema) == [("page_type", PAGES)]
    (figure,) = task_agreement(schema, [pages("Cover", "Body", "Body"), pages("Cover", "Cover", "Body")])
    assert (figure.control, figure.type, figure.agrees) == ("page_type", PAGES, False)
    assert figure.reason == "annotators classify pages differently (exact match 0.67): pages apart: 2"
    assert round(figure.score, 4) == round(2 / 3, 4)


def test_a_qc_run_sends_documents_with_pages_apart_to_review(lead, make_user):
    one, two = make_user("p1@example.com"), make_user("p2@example.com")
    project = projects.create_project(lead.user, title="Docs", label_config=CONFIG, overlap=2)
    rows = [(pages("Cover", "Body"), pages("Cover", "Body" if n else "Cover")) for n in range(6)]
    body = [{"data": {"pdf": f"https://docs.example.com/{n}.pdf"},
             "annotations": [{"result": a, "completed_by": one.email}, {"result": b, "completed_by": two.email}]}
            for n, (a, b) in enumerate(rows)]
    imports.import_data(lead.user, project.id, body=body)
    with read_session() as s:
        ids = [t.id for t in s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id))]
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    with read_session() as s:
        found = {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.project_id == project.id,
                                                                        LabelIssue.kind == "agreement"))}
        states = {t.id: t.state for t in s.exec(select(Task).where(Task.project_id == project.id))}
        run = s.exec(select(QualityRun).where(QualityRun.project_id == project.id)).one()
    assert found[ids[0]].is_issue and not any(found[t].is_issue for t in ids[1:])
    assert found[ids[0]].reason == "annotators classify pages differently (exact match 0.50): pages apart: 2"
    # the dashboard's agreement panel has the figure per control (quality.results.agreement_controls)
    from quality import results as qc_results
    shown = {c["type"]: c for c in qc_results.agreement_controls(lead.user, project.id)}
    assert {'pagechoices'} <= set(shown) and all(shown[t]["n_tasks"] >= 2 for t in ['pagechoices'])
    assert states[ids[0]] == "review"
    assert [c["control"] for c in run.agreement["controls"]] == ["page_type"]
