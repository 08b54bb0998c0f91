"""The review page with the keyboard, and pausing (and resuming) an annotator, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from labeling import annotations, router
from labeling.db import read_session, write_session
from labeling.models import Membership, Role, Task
from tests.browser.conftest import login, save_shot
from tests.labeling.test_review import label, make_project, suspects_in_review, task, tied_suspects

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="document.title=\'pwned\'"> & <b>bold</b>'


def shown_task(page) -> int:
    text = page.locator("#review-task-title").text_content() or ""
    return int(text.split("#")[1]) if "#" in text else 0


def wait_for_task(page, task_id: int) -> None:
    expect(page.locator("#review-item")).to_be_visible()
    expect(page.locator("#review-task-title")).to_have_text(f"Task #{task_id}")
    expect(page.locator("#review")).to_have_attribute("aria-busy", "false")


NAV_GAP_JS = """() => {
    const nav = document.querySelector('.review-nav'), status = document.getElementById('review-status');
    return {gap: status.getBoundingClientRect().top - nav.getBoundingClientRect().bottom,
            margin: parseFloat(getComputedStyle(nav).marginBottom)};
}"""


def nav_gap(page) -> dict:
    """The room between the QC sub-navigation and the status line, and the sub-navigation's own
    margin below it: as on every other page, the one is the other (the margins collapse)."""
    return page.evaluate(NAV_GAP_JS)


def test_review_queue_with_the_keyboard(page, shot, lead, annotator, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg", "neg", "pos", "neu", "neg"],
                             truth=["pos", "pos", "neg", "neg", "neg"])
    a, b, c, d = ids[:4]  # four suspects, served in this order (worst score first)
    with write_session() as s:
        t = s.get(Task, a)
        t.data = {"text": HOSTILE}
        s.add(t)
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, a)
    # the data, every annotator's label, given and suggested labels, reason and score, as text
    expect(page.locator("#review-text")).to_have_text(HOSTILE)
    assert page.locator("#review-text img, #review-text b").count() == 0
    expect(page.locator("#review-given")).to_have_text("neg")
    expect(page.locator("#review-suggested")).to_have_text("pos")
    expect(page.locator("#review-annotations")).to_contain_text("ann@example.com")
    expect(page.locator("#review-reason")).to_contain_text("model says 'pos'")
    expect(page.locator("#review-score")).to_have_text("0.050")
    room = nav_gap(page)  # no band under the sub-navigation (the box and span page checks it too)
    assert room["gap"] <= room["margin"] + 1, room
    shot(page, "review-page")

    page.keyboard.press("k")  # keep
    wait_for_task(page, b)
    assert (task(a).state, task(a).final_label, task(a).final_source) == ("accepted", label("neg"), "reviewer")

    page.keyboard.press("r")  # relabel: the picker opens with the suggestion chosen
    expect(page.locator("#review-picker")).to_be_visible()
    expect(page.locator('.picker-option[data-label="pos"]')).to_have_attribute("aria-pressed", "true")
    shot(page, "review-relabel")
    page.keyboard.press("3")  # "neu"
    expect(page.locator('.picker-option[data-label="neu"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    wait_for_task(page, c)
    assert (task(b).state, task(b).final_label) == ("accepted", label("neu"))

    page.keyboard.press("u")  # undo: task b is back, leased to me
    wait_for_task(page, b)
    assert task(b).state == "review"
    page.keyboard.press("r")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_for_task(page, c)
    assert task(b).final_label == label("pos")

    page.keyboard.press("x")  # exclude: a reason is required
    expect(page.locator("#review-exclude-reason")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_have_text("Say why the item is excluded.")
    page.keyboard.type("the text is cut off")
    page.keyboard.press("Enter")
    wait_for_task(page, d)
    assert (task(c).state, task(c).final_label) == ("excluded", None)

    page.keyboard.press("g")  # mark gold with the suggested answer
    expect(page.locator("#review-picker-title")).to_contain_text("gold")
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    assert (task(d).is_gold, task(d).gold_answer, task(d).state) == (True, label("neg"), "open")

    page.keyboard.press("Control+z")  # undo the gold marking
    wait_for_task(page, d)
    assert (task(d).is_gold, task(d).state) == (False, "review")
    page.get_by_role("button", name="Keep").click()
    expect(page.locator("#review-empty")).to_be_visible()
    assert task(d).state == "accepted"
    assert page.title() != "pwned"


def test_an_empty_queue_is_no_console_error(page, shot, lead, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user)
    login(page, reviewer.email)
    with page.expect_response(lambda r: r.url.endswith(f"/api/review/{project.id}/next")) as answer:
        page.goto(f"/review/{project.id}")
    assert answer.value.status == 200 and answer.value.json()["item"] is None
    expect(page.locator("#review-empty")).to_be_visible()
    expect(page.locator("#review")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#review-status")).to_have_text("No suspects left.")  # announced to screen readers
    assert page.locator("#review-status").bounding_box()["width"] <= 1  # but shown once: the panel
    assert page.console.errors == []  # the fixture fails the test on any console error, too
    shot(page, "review-empty")


def test_an_annotator_failing_gold_is_paused_and_a_lead_resumes_them(page, browser, live_server, lead, make_user):
    project = make_project(lead.user, gold_rate=0.5, gold_threshold=0.8, gold_min_items=2)
    weak = make_user("weak@example.com")
    with write_session() as s:
        s.add_all([Task(project_id=project.id, data={"text": f"gold {i}"}, is_gold=True, gold_answer=label("pos"))
                   for i in range(3)] + [Task(project_id=project.id, data={"text": f"item {i}"}) for i in range(6)])
    for _ in range(4):
        served = router.next_task(project.id, weak.user)
        annotations.submit(served.id, weak.user, result=label("neg"))
    with read_session() as s:
        assert s.exec(select(Membership).where(Membership.user_id == weak.id)).one().paused_at is not None

    page.allow_console(r"status of 403")
    login(page, weak.email)
    page.goto(f"/annotate/{project.id}")
    expect(page.get_by_text("paused", exact=False).first).to_be_visible()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    lead_page = context.new_page()
    try:
        login(lead_page, lead.email)
        lead_page.goto(f"/review/{project.id}/annotators")
        row = lead_page.locator(f'tr[data-user="{weak.id}"]')
        expect(row).to_contain_text("paused")
        expect(row).to_contain_text("0%")
        save_shot(lead_page, "review-annotators-paused")
        row.get_by_role("button", name="Resume").click()
        expect(lead_page.locator(".flash-success")).to_contain_text("Resumed")
        expect(lead_page.locator(f'tr[data-user="{weak.id}"]')).to_contain_text("active")
    finally:
        context.close()
    with read_session() as s:
        assert s.exec(select(Membership).where(Membership.user_id == weak.id)).one().paused_at is None
    assert router.next_task(project.id, weak.user) is not None


def test_keep_keeps_what_the_annotators_gave_and_a_tie_makes_the_reviewer_pick(page, lead, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, (tie, both) = tied_suspects(lead, make_user)
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, tie)
    # the people's answers, and the model's consensus shown apart and named as such
    expect(page.locator("#review-given")).to_have_text("tied: pos / neg")
    expect(page.locator("#review-consensus")).to_have_text("neu")
    expect(page.locator(".review-labels")).to_contain_text("QC consensus (weighted by the QC model)")
    expect(page.locator('[data-action="keep"]')).to_be_disabled()
    page.keyboard.press("k")
    expect(page.locator("#review-status")).to_contain_text("The annotators are tied")
    assert task(tie).state == "review" and task(tie).final_label is None
    page.keyboard.press("r")
    expect(page.locator("#review-picker")).to_be_visible()
    page.keyboard.press("2")  # "neg"
    page.keyboard.press("Enter")
    wait_for_task(page, both)
    assert (task(tie).state, task(tie).final_label) == ("accepted", label("neg"))
    expect(page.locator("#review-given")).to_have_text("neu")
    expect(page.locator("#review-given-source")).to_have_text("(majority)")
    page.keyboard.press("k")
    expect(page.locator("#review-empty")).to_be_visible()
    assert (task(both).state, task(both).final_label) == ("accepted", label("neu"))


def test_the_page_shows_the_run_that_queued_a_suspect_and_a_run_that_cleared_it(page, lead, annotator, make_user):
    from quality.policy import apply_policy
    from tests.labeling.test_review import qc_run

    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg"], truth=["pos"])
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, ids[0])
    expect(page.locator("#review-run")).to_have_text("QC run #1")
    expect(page.locator("#review-cleared")).to_be_hidden()
    run2 = qc_run(project.id, {ids[0]: {"is_issue": False, "score": 0.9, "given": "neg"}})
    apply_policy(project.id, run2)  # the reviewer holds it: it stays
    page.reload()
    wait_for_task(page, ids[0])
    expect(page.locator("#review-run")).to_have_text("QC run #1")
    expect(page.locator("#review-reason")).to_contain_text("model says 'pos'")
    expect(page.locator("#review-cleared")).to_contain_text(f"QC run #{run2} no longer flags this item")
