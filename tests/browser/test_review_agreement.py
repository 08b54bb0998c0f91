"""The review page for the types a QC run sends to review for their annotators' disagreement:
a pairwise pick, a ranking, a taxonomy path and relations, each queued by a real QC run. The
reviewer sees the reason and every annotator's answer side by side, and decides with the keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling import imports, projects
from labeling.db import read_session
from labeling.models import Task
from quality.run.skeleton import run_qc
from tests.browser.conftest import login
from tests.quality.test_linked import TEXT, annotator

pytestmark = pytest.mark.browser

T = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def _queued(lead, people, xml, title, rows):
    """A project whose tasks ``rows`` (data, one result per person) a real QC run has judged."""
    project = projects.create_project(lead.user, title=title, label_config=xml, overlap=len(people))
    body = [{"data": data, "annotations": [{"result": r, "completed_by": p.email} for p, r in zip(people, results,
                                                                                                   strict=True)]}
            for data, results in rows]
    imports.import_data(lead.user, project.id, body=body)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    with read_session() as s:
        tasks = s.query(Task).filter(Task.project_id == project.id).order_by(Task.id).all()
        return project, [(t.id, t.state) for t in tasks]


def _task(tid):
    with read_session() as s:
        t = s.get(Task, tid)
        return t.state, t.final_label, t.final_source


def _open(page, lead, project, tid):
    login(page, lead.email)
    page.goto(f"/review/{project.id}")
    expect(page.locator("#review-task-title")).to_have_text(f"Task #{tid}")
    expect(page.locator("#review")).to_have_attribute("aria-busy", "false")


def pick(side):
    return [{"from_name": "pw", "to_name": "pw", "type": "pairwise", "value": {"selected": side}}]


def test_a_split_pairwise_pick_is_relabelled_with_the_keys(page, shot, lead, make_user):
    people = [make_user("left@example.com"), make_user("right@example.com")]
    xml = (T / "ranking-and-scoring__pairwise-classification.xml").read_text()
    project, [(tid, state)] = _queued(lead, people, xml, "Pairwise review",
                                      [({"pairText1": "a cat", "pairText2": "a dog"}, [pick("left"), pick("right")])])
    assert state == "review"
    _open(page, lead, project, tid)
    expect(page.locator("#review-reason")).to_have_text("annotators pick different sides (exact match 0.00)")
    expect(page.locator("#review-kind")).to_have_text("agreement")
    # both sides of the pair, named by their objects
    expect(page.locator('.review-object[data-object="text1"]')).to_contain_text("a cat")
    expect(page.locator('.review-object[data-object="text2"]')).to_contain_text("a dog")
    rows = page.locator("#review-annotations tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("left@example.com")
    expect(rows.nth(0)).to_contain_text("left")
    expect(rows.nth(1)).to_contain_text("right")
    expect(page.locator('[data-action="keep"]')).to_be_disabled()  # tied: a person picks
    shot(page, "review-pairwise")
    page.keyboard.press("r")
    expect(page.locator("#review-picker")).to_be_visible()
    page.keyboard.press("2")  # the second annotator's answer: right
    expect(page.locator('.picker-option[data-index="1"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    assert _task(tid) == ("accepted", pick("right"), "reviewer")


def rank(order):
    return [{"from_name": "rank", "to_name": "generated_images", "type": "ranker", "value": {"ranker": {"rank": order}}}]


def test_a_ranking_the_majority_agrees_on_is_kept_with_k(page, shot, lead, make_user):
    people = [make_user(f"rank{n}@example.com") for n in range(3)]
    xml = (T / "generative-ai__visual-ranker.xml").read_text()
    images = [{"id": i, "html": f"<b>{i}</b>"} for i in ("a", "b", "c")]
    project, [(tid, state)] = _queued(lead, people, xml, "Ranker review", [
        ({"prompt": "chairs", "images": images}, [rank(["a", "b", "c"]), rank(["a", "b", "c"]), rank(["c", "b", "a"])])])
    assert state == "review"
    _open(page, lead, project, tid)
    expect(page.locator("#review-reason")).to_have_text("annotators rank differently (Kendall tau -0.33)")
    expect(page.locator("#review-annotations tr")).to_have_count(3)
    expect(page.locator("#review-given-source")).to_have_text("(majority)")
    # the prompt and the List's items, their HTML as text
    expect(page.locator('.review-object[data-object="prompt"]')).to_contain_text("chairs")
    expect(page.locator('.review-object[data-object="generated_images"] li')).to_have_text(["a: a", "b: b", "c: c"])
    assert page.locator("#review-text b").count() == 0
    shot(page, "review-ranker")
    page.keyboard.press("k")
    expect(page.locator("#review-empty")).to_be_visible()
    assert _task(tid) == ("accepted", rank(["a", "b", "c"]), "reviewer")


def tax(*path):
    return [{"from_name": "taxonomy", "to_name": "text", "type": "taxonomy", "value": {"taxonomy": [list(path)]}}]


def test_a_taxonomy_disagreement_is_relabelled_to_one_annotators_path(page, shot, lead, make_user):
    people = [make_user("tax1@example.com"), make_user("tax2@example.com")]
    xml = (T / "natural-language-processing__taxonomy.xml").read_text()
    project, [(tid, state)] = _queued(lead, people, xml, "Taxonomy review", [
        ({"text": "a small marsupial"}, [tax("Eukarya", "Human"), tax("Eukarya", "Oppossum")])])
    assert state == "review"
    _open(page, lead, project, tid)
    expect(page.locator("#review-reason")).to_contain_text("2 annotators disagree (agreement 0.00)")
    rows = page.locator("#review-annotations tr")
    expect(rows.nth(0)).to_contain_text("Eukarya / Human")
    expect(rows.nth(1)).to_contain_text("Eukarya / Oppossum")
    shot(page, "review-taxonomy")
    page.keyboard.press("r")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    assert _task(tid) == ("accepted", tax("Eukarya", "Oppossum"), "reviewer")


def test_relations_that_differ_are_relabelled_in_the_workspace(page, shot, lead, make_user):
    people = [make_user("rel1@example.com"), make_user("rel2@example.com")]
    text = "Microsoft was founded by Bill Gates."
    project, [(tid, state)] = _queued(lead, people, TEXT, "Relations review", [
        ({"text": text}, [annotator("a"), annotator("b", rel_labels=("works_for",))])])
    assert state == "review"
    _open(page, lead, project, tid)
    expect(page.locator("#review-reason")).to_contain_text("annotators relate regions differently (exact match 0.00)")
    rows = page.locator("#review-annotations tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("rel1@example.com")
    expect(rows.nth(1)).to_contain_text("rel2@example.com")
    # the relations read side by side, the difference in words
    expect(rows.nth(0)).to_contain_text("ORG [0:9] → PER [25:35] (founded_by)")
    expect(rows.nth(1)).to_contain_text("ORG [0:9] → PER [25:35] (works_for)")
    expect(page.locator(".r6o-annotation")).to_have_count(2)  # the first annotator's spans, to edit
    shot(page, "review-relations")
    page.keyboard.press("k")  # tied: nothing to keep
    expect(page.locator("#review-status")).to_contain_text("tied")
    page.keyboard.press("r")  # relabel with the regions shown: the first annotator's
    expect(page.locator("#review-picker")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    state, final, source = _task(tid)
    assert (state, source) == ("accepted", "reviewer")
    assert [i["labels"] for i in final if i.get("type") == "relation"] == [["founded_by"]]


def test_the_dashboard_shows_the_ranking_agreement_with_the_worst_tasks(page, shot, lead, make_user):
    people = [make_user(f"dash{n}@example.com") for n in range(2)]
    xml = (T / "generative-ai__visual-ranker.xml").read_text()
    images = [{"id": i, "html": i} for i in ("a", "b", "c", "d")]
    orders = [(["a", "b", "c", "d"], ["a", "b", "c", "d"]), (["a", "b", "c", "d"], ["b", "a", "c", "d"]),
              (["a", "b", "c", "d"], ["d", "c", "b", "a"])]
    project, tasks = _queued(lead, people, xml, "Ranker dashboard",
                             [({"prompt": "chairs", "images": images}, [rank(x), rank(y)]) for x, y in orders])
    # tau 1, 2/3 (close enough, but two orders and no majority: tied, a person picks), -1 (apart)
    assert [s for _, s in tasks] == ["accepted", "review", "review"]
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/dashboard")
    row = page.locator('#t-controls tr[data-control="rank"]')
    expect(row).to_contain_text("Kendall tau")
    expect(row).to_contain_text("0.22")  # (1 + 2/3 - 1) / 3
    worst = row.locator("td.worst a")
    expect(worst).to_have_text([f"#{tasks[2][0]}", f"#{tasks[1][0]}"])
    expect(page.locator("#panel-summary")).to_contain_text("Kendall tau of rank · 1 of 3 tasks apart")
    page.locator("#panel-agreement").scroll_into_view_if_needed()
    shot(page, "dashboard-agreement-ranker")
    with page.expect_navigation():
        worst.first.click()
    assert page.url.endswith(f"/projects/{project.id}/tasks/{tasks[2][0]}")
