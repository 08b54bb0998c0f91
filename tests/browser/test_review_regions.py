"""Reviewing spans and boxes in a real browser: the annotators' regions drawn in their label
colours in the labeling page's workspace, edited with its keys, and relabeled."""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from labeling import annotations, projects, router
from labeling.db import read_session, write_session
from labeling.models import ReviewDecision, Role, Task
from quality.policy import apply_policy
from tests.browser.conftest import login
from tests.browser.test_annotate import png_data_url
from tests.browser.test_review import nav_gap, wait_for_task
from tests.labeling.test_review import qc_run, task
from tests.labeling.test_review_regions import (
    HAWAII_LOC,
    HAWAII_PER,
    NER_CONFIG,
    PEOPLE,
    PEOPLE_BOXES,
    TEXT,
    box_suspect,
    ner_suspect,
)

pytestmark = pytest.mark.browser

PER, LOC, ORG = (
    "rgb(214, 39, 40)",
    "rgb(44, 160, 44)",
    "rgb(31, 119, 180)",
)  # the config's backgrounds


def spans(result) -> list[tuple[int, int, str, list[str]]]:
    return sorted(
        (r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"])
        for r in result
    )


COLOURS_JS = """() => {
    const out = {};
    const body = document.querySelector('.anno-text-body');
    const ws = window.labelfabAnnotate.workspace;
    for (const a of Object.values(ws.objects)[0].annotator.getAnnotations()) {
        const mark = body.parentNode.querySelector(`.r6o-annotation[data-annotation="${a.id}"]`);
        out[a.target.selector[0].quote] = mark ? getComputedStyle(mark).borderBottomColor : null;
    }
    return out;
}"""


def highlights(page, expected: dict[str, str]) -> None:
    """Wait until the text annotator's highlights are ``expected``: span text -> the colour of
    its underline (its label's), as drawn on the page; fail with what is drawn."""
    try:
        page.wait_for_function(
            f"(want) => JSON.stringify(({COLOURS_JS})()) === JSON.stringify(want)",
            arg=expected,
            timeout=5000,
        )
    except Exception:  # noqa: BLE001  (a timeout: say what is drawn instead)
        assert page.evaluate(COLOURS_JS) == expected


def decisions(task_id: int) -> list[tuple[str, bool]]:
    with read_session() as s:
        rows = s.exec(
            select(ReviewDecision)
            .where(ReviewDecision.task_id == task_id)
            .order_by(ReviewDecision.id)
        )
        return [(d.decision, d.undone_at is None) for d in rows]


def open_review(page, reviewer, project, task_id: int, n_regions: int) -> None:
    """Log in as ``reviewer``, open the review page, and wait for the suspect's regions."""
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, task_id)
    expect(page.locator(".anno-region")).to_have_count(n_regions)


def test_ner_review_shows_the_spans_in_their_colours_and_relabels_with_keyboard_edits(
    page, shot, lead, annotator, make_user
):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = ner_suspect(lead.user, annotator)
    open_review(page, reviewer, project, tid, len(PEOPLE))
    # the annotators' spans, highlighted in their label colours as on the labeling page
    expect(page.locator(".r6o-annotation")).to_have_count(2)
    highlights(page, {"Ada Lovelace": PER, "Hawaii": PER})
    regions = page.locator(".anno-region")
    expect(regions.nth(0)).to_contain_text("PER")
    expect(regions.nth(0)).to_contain_text("Ada Lovelace")
    # QC's suggestion in words, never a raw dict
    expect(page.locator("#review-suggested")).to_have_text("Hawaii → LOC")
    expect(page.locator("#review-apply")).to_be_visible()
    expect(page.locator("#review-given")).to_have_text("PER 'Ada Lovelace'; PER 'Hawaii'")
    # the workspace's one button here holds its key: "Ctrl Z" not drawn past its border
    undo = page.locator('[data-anno="undo"]')
    inside, outside = undo.bounding_box(), undo.locator("kbd").bounding_box()
    assert outside["x"] + outside["width"] <= inside["x"] + inside["width"], (outside, inside)
    shot(page, "review-ner")

    # the labeling page's span keys: → caret, → to "Hawaii", 2 (LOC) relabels it; the caret moves
    # on to "with"; → "IBM", 3 (ORG) adds a span
    page.keyboard.press("ArrowRight")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(page.locator("[data-span-status]")).to_contain_text("“Hawaii” (marked PER)")
    page.keyboard.press("2")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("3")
    page.keyboard.press("Escape")
    expect(regions).to_have_count(3)
    highlights(page, {"Ada Lovelace": PER, "Hawaii": LOC, "IBM": ORG})
    assert task(tid).state == "review"  # nothing decided yet

    page.keyboard.press("r")  # relabel: the edits, in words, to confirm
    changes = page.locator(".review-change")
    expect(changes).to_have_text(["“Hawaii”: PER → LOC", "+ “IBM”: ORG"])
    page.keyboard.press("1")  # the confirmation has the keys: no label is changed
    expect(changes).to_have_count(2)
    shot(page, "review-ner-relabel")
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    t = task(tid)
    assert (t.state, t.final_source) == ("accepted", "reviewer")
    assert spans(t.final_label) == [
        (0, 12, "Ada Lovelace", ["PER"]),
        (21, 27, "Hawaii", ["LOC"]),
        (33, 36, "IBM", ["ORG"]),
    ]
    assert decisions(tid) == [("relabel", True)]


def test_ner_review_applies_the_suggestion_and_keep_keeps_the_annotators_spans(
    page, lead, annotator, make_user
):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = ner_suspect(lead.user, annotator)
    open_review(page, reviewer, project, tid, len(PEOPLE))
    page.keyboard.press("a")  # QC's suggestion applied to the spans
    expect(page.locator("#review-status")).to_contain_text("Hawaii → LOC")
    highlights(page, {"Ada Lovelace": PER, "Hawaii": LOC})
    page.keyboard.press("Control+z")  # an edit is undone with the labeling page's key
    page.wait_for_function("() => window.labelfabAnnotate.workspace.pointer === 0")
    highlights(page, {"Ada Lovelace": PER, "Hawaii": PER})
    assert decisions(tid) == []  # Ctrl+Z took back the edit, not a decision
    page.keyboard.press("Control+y")
    page.keyboard.press("Enter")  # the labeling page's submit: relabel, to confirm
    expect(page.locator(".review-change")).to_have_text(["“Hawaii”: PER → LOC"])
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    assert spans(task(tid).final_label) == [
        (0, 12, "Ada Lovelace", ["PER"]),
        (21, 27, "Hawaii", ["LOC"]),
    ]

    page.keyboard.press("u")  # undo the decision: the task is back, with the annotators' spans
    wait_for_task(page, tid)
    expect(page.locator(".r6o-annotation")).to_have_count(2)
    highlights(page, {"Ada Lovelace": PER, "Hawaii": PER})
    page.keyboard.press("a")
    page.keyboard.press("k")  # edited: K asks again, so that the edits are not dropped by mistake
    expect(page.locator("#review-status")).to_contain_text("Press K again to keep")
    assert task(tid).state == "review"
    page.keyboard.press("k")
    expect(page.locator("#review-empty")).to_be_visible()
    assert task(tid).final_label == PEOPLE
    assert decisions(tid) == [("relabel", False), ("keep", True)]

    page.keyboard.press("u")  # and once more: G makes the edited spans the gold answer
    wait_for_task(page, tid)
    page.keyboard.press("g")
    expect(page.locator(".review-change")).to_have_text(
        ["The annotators' regions, unchanged, become the gold answer."]
    )
    page.keyboard.press("Escape")  # back to editing
    expect(page.locator("#review-picker")).to_be_hidden()
    page.keyboard.press("a")
    page.keyboard.press("g")
    expect(page.locator("#review-picker-title")).to_contain_text("gold")
    expect(page.locator(".review-change")).to_have_text(["“Hawaii”: PER → LOC"])
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    t = task(tid)
    assert t.is_gold and spans(t.gold_answer) == [
        (0, 12, "Ada Lovelace", ["PER"]),
        (21, 27, TEXT[21:27], ["LOC"]),
    ]


def test_box_review_draws_the_boxes_and_relabels_one(page, shot, lead, annotator, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = box_suspect(lead.user, annotator, image=png_data_url(400, 300))
    open_review(page, reviewer, project, tid, len(PEOPLE_BOXES))
    region = page.locator(".anno-region")
    expect(region).to_contain_text("car")
    expect(region).to_contain_text("160×120 px at 40, 60")  # 40% x 40% of 400x300 at (10%, 20%)
    expect(page.locator("#review-suggested")).to_have_text("model finds: truck")
    expect(page.locator("#review-apply")).to_be_hidden()  # a summary names no box to apply
    shot(page, "review-boxes")
    page.keyboard.press("?")  # the labeling page's key list, with the review's keys in it
    keys = page.locator('[data-anno="keys-dialog"]')
    expect(keys).to_contain_text("Relabel with your edits")
    expect(keys).not_to_contain_text("Skip, with an optional reason")
    shot(page, "review-boxes-keys")
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()
    region.locator(
        ".anno-region-name"
    ).click()  # select the box, then a label key, as when labeling
    page.keyboard.press("2")  # truck
    expect(region).to_contain_text("truck")
    page.keyboard.press("r")
    expect(page.locator(".review-change")).to_have_text(["box 160×120 at (40, 60): car → truck"])
    shot(page, "review-boxes-relabel")
    page.keyboard.press("Enter")
    expect(page.locator("#review-empty")).to_be_visible()
    (item,) = task(tid).final_label
    assert item["value"]["rectanglelabels"] == ["truck"]
    for key in ("x", "y", "width", "height"):
        assert item["value"][key] == pytest.approx(PEOPLE_BOXES[0]["value"][key])
    assert decisions(tid) == [("relabel", True)]


def test_on_a_phone_the_annotators_table_and_edit_from_these_fit_the_card(
    page, shot, lead, annotator, make_user
):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = ner_suspect(lead.user, annotator)
    page.set_viewport_size({"width": 390, "height": 844})
    open_review(page, reviewer, project, tid, len(PEOPLE))
    facts = page.locator("section.review-people")
    wider = facts.evaluate("(card) => card.scrollWidth - card.clientWidth")
    assert wider <= 0, f"the annotators' table is {wider} px wider than its card"
    button = page.get_by_role("button", name="Edit from these")
    button.scroll_into_view_if_needed()
    box, card = button.bounding_box(), facts.bounding_box()
    assert card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"] <= 390, (
        box,
        card,
    )
    words = button.evaluate(
        "(b) => { const r = document.createRange(); r.selectNodeContents(b);"
        " return new Set([...r.getClientRects()].map((l) => Math.round(l.top))).size; }"
    )
    assert words <= 3, f"'Edit from these' takes {words} lines: a word broke"
    shot(page, "review-phone-edit-from")


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768)])
def test_box_review_keeps_its_decisions_on_screen_without_scrolling(
    page, shot, lead, annotator, make_user, width, height
):
    """As the labeling page does: the page is no higher than the window, the image takes the room
    left, and every decision button is on screen as the page opens."""
    from tests.browser.test_small_screens import _inside

    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = box_suspect(lead.user, annotator, image=png_data_url(1600, 1200))
    page.set_viewport_size({"width": width, "height": height})
    open_review(page, reviewer, project, tid, len(PEOPLE_BOXES))
    page.wait_for_timeout(300)  # the image fitted to its view
    over = page.evaluate(
        "() => document.documentElement.scrollHeight - document.documentElement.clientHeight"
    )
    assert over <= 0, f"the review page is {over} px higher than the window"
    buttons = page.locator(".review-actions button:visible")
    assert buttons.count() == 5
    for i in range(buttons.count()):
        _inside(page, buttons.nth(i))
    assert page.locator(".anno-image-view").bounding_box()["height"] >= 250
    shot(page, f"review-boxes-{width}")


@pytest.mark.parametrize("kind", ["boxes", "spans"])
def test_no_blank_band_between_the_sub_navigation_and_the_status_line(
    page, shot, lead, annotator, make_user, kind
):
    """The box and span review page is a flex column (as high as the window), where margins add
    up instead of collapsing: the status line's own margin stood under the sub-navigation's, a
    blank band twice the room the classification review page leaves there."""
    reviewer = make_user("rev@example.com", Role.reviewer)
    if kind == "boxes":
        project, tid = box_suspect(lead.user, annotator, image=png_data_url(1600, 1200))
        n = len(PEOPLE_BOXES)
    else:
        project, tid = ner_suspect(lead.user, annotator)
        n = len(PEOPLE)
    open_review(page, reviewer, project, tid, n)
    expect(page.locator("#review-status")).to_contain_text(f"Task #{tid}")
    room = nav_gap(page)
    assert room["gap"] <= room["margin"] + 1, (
        f"a {room['gap'] - room['margin']:.0f} px band under the sub-navigation"
    )
    shot(page, f"review-{kind}-top")


def test_span_review_shows_every_fact_without_scrolling_inside_the_facts_card(
    page, shot, lead, annotator, make_user
):
    """At 1280x800 the facts card beside the workspace cut its last fact, "Queued by", at its foot:
    the reviewer had to scroll inside the card to read which run queued the task."""
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = ner_suspect(lead.user, annotator)
    open_review(page, reviewer, project, tid, len(PEOPLE))
    expect(page.locator("#review-run")).not_to_be_empty()
    card = page.locator("section.review-facts").bounding_box()
    for fact in (page.locator(".review-labels dt").last, page.locator("#review-run")):
        box = fact.bounding_box()
        assert box["y"] >= card["y"] and box["y"] + box["height"] <= card["y"] + card["height"], (
            box,
            card,
        )
        assert box["y"] + box["height"] <= 800, box
    assert page.locator("section.review-facts").evaluate("(c) => c.scrollTop") == 0
    shot(page, "review-ner-facts-1280")


def crowd_ner_suspect(owner, make_user, n: int):
    """An NER task that ``n`` annotators labeled (the people's spans, each), queued for review."""
    project = projects.create_project(owner, title="regions", label_config=NER_CONFIG, overlap=n)
    with write_session() as s:
        s.add(Task(project_id=project.id, data={"text": TEXT}, target_overlap=n))
    for i in range(n):
        person = make_user(f"annotator{i}@example.com")
        served = router.next_task(project.id, person.user)
        annotations.submit(served.id, person.user, result=copy.deepcopy(PEOPLE))
    run_id = qc_run(
        project.id,
        {
            served.id: {
                "is_issue": True,
                "score": 0.05,
                "given": HAWAII_PER,
                "suggested": HAWAII_LOC,
                "reason": "token 'Hawaii' (characters 21-27) labelled 'PER'; model says 'LOC' (0.90)",
            }
        },
    )
    apply_policy(project.id, run_id)
    return project, served.id


@pytest.mark.parametrize("n", [2, 12])
def test_span_review_shows_the_facts_and_decisions_without_scrolling_with_many_annotators(
    page, shot, lead, make_user, n
):
    """At 1280x800 the annotators' table shared the facts card: with 12 annotators the card scrolled
    inside itself, and the reviewer scrolled it to read the facts below the fold of the card. The
    facts and the decisions show whole; only the annotators' list scrolls, in its own card."""
    from tests.browser.test_small_screens import _inside

    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = crowd_ner_suspect(lead.user, make_user, n)
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, tid)
    rows = page.locator("#review-annotations tr")
    expect(rows).to_have_count(n)
    expect(page.locator("#review-run")).not_to_be_empty()
    over = page.evaluate(
        "() => document.documentElement.scrollHeight - document.documentElement.clientHeight"
    )
    assert over <= 0, f"the review page is {over} px higher than the window"
    facts = page.locator("section.review-facts")
    room = facts.evaluate("(c) => c.scrollHeight - c.clientHeight")
    assert room <= 0, f"the facts card scrolls: {room} px of it are out of sight"
    for fact in page.locator(".review-labels dt, .review-labels dd").all():
        _inside(page, fact)
    for button in page.locator(".review-actions button:visible").all():
        _inside(page, button)
    text = page.locator(".anno-text")  # the text whole in its box, on screen
    assert text.evaluate("(t) => t.scrollHeight - t.clientHeight") <= 0
    _inside(page, text)
    # each annotator's row can be brought into sight, in the window
    rows.last.scroll_into_view_if_needed()
    _inside(page, rows.last.locator("td").first)
    assert page.evaluate("() => window.scrollY") == 0
    shot(page, f"review-ner-{n}-annotators-1280")
