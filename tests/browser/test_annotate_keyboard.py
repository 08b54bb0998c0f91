"""The labeling page without a mouse: marking NER spans with the keyboard ("span mode"), and
the next task shown from a prefetched answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_annotate import (
    XML,
    annotations_of,
    make_project,
    open_annotate,
    wait_for_task,
)

pytestmark = pytest.mark.browser


def spans_of(annotation) -> list[tuple[int, int, str, list[str]]]:
    return sorted(((r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"])
                   for r in annotation.result), key=lambda s: s[0])


def caret_text(page) -> str:
    """The words under the span-mode caret, as the page announces them."""
    status = page.locator("[data-span-status]").text_content() or ""
    return status.split("“", 1)[1].split("”", 1)[0] if "“" in status else ""


def test_ner_spans_with_the_keyboard_only(page, shot, lead, annotator):
    # emoji before the spans: a flag (two code points, four UTF-16 units) and a ZWJ family
    text = "🙂 Ada Lovelace met 👨‍👩‍👧 Charles Babbage in 🇬🇧 London."
    project = make_project(lead, XML["ner"], [{"text": text}], title="News · named entities")
    open_annotate(page, annotator, project)
    status = page.locator("[data-span-status]")
    expect(status).to_be_hidden()

    page.keyboard.press("ArrowRight")  # span mode: a caret on the first word
    expect(page.locator(".anno-text")).to_be_focused()
    expect(status).to_be_visible()
    assert caret_text(page) == "Ada"
    expect(page.locator(".anno-span-caret")).to_have_count(1)
    page.keyboard.press("Shift+ArrowRight")
    assert caret_text(page) == "Ada Lovelace"
    shot(page, "annotate-span-mode-selection")
    page.keyboard.press("1")  # PER
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions.first).to_contain_text("PER")
    assert caret_text(page) == "met"  # the caret moved on past the new span

    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert caret_text(page) == "Charles Babbage"
    page.keyboard.press("2")  # ORG
    expect(regions).to_have_count(2)
    page.keyboard.press("ArrowLeft")  # back onto "Babbage", inside the ORG span
    assert caret_text(page) == "Babbage"
    expect(status).to_contain_text("marked ORG")
    page.keyboard.press("Backspace")  # removes the span under the caret (and does not go back)
    expect(regions).to_have_count(1)
    expect(page.locator('[data-anno="mode"]')).to_be_hidden()

    page.keyboard.press("End")  # the last word
    assert caret_text(page) == "London"
    page.keyboard.press("3")  # LOC
    expect(regions).to_have_count(2)
    page.keyboard.press("Home")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("4")  # the same words again: relabels the span instead of adding one
    expect(regions).to_have_count(2)
    expect(regions.first).to_contain_text("MISC")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    expect(regions.first).to_contain_text("PER")
    shot(page, "annotate-span-mode-marked")
    page.keyboard.press("Escape")  # leaves span mode
    expect(status).to_be_hidden()
    expect(page.locator(".anno-span-caret")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    ada, london = text.index("Ada"), text.index("London")  # Python counts code points
    assert ada == 2 and london > text.index("🇬🇧") + 2
    assert spans_of(saved) == [(ada, ada + 12, "Ada Lovelace", ["PER"]), (london, london + 6, "London", ["LOC"])]


def test_span_mode_by_tab_and_by_line(page, shot, lead, annotator):
    text = "Grace Hopper 🙂 wrote\nthe first compiler\nat Remington Rand."
    project = make_project(lead, XML["ner"], [{"text": text}], title="News · named entities")
    open_annotate(page, annotator, project)
    pane = page.locator(".anno-text")
    for _ in range(40):  # the text is in the tab order
        page.keyboard.press("Tab")
        if pane.evaluate("el => el === document.activeElement"):
            break
    expect(pane).to_be_focused()
    expect(page.locator("[data-span-status]")).to_be_hidden()  # focus alone starts nothing
    page.keyboard.press("ArrowDown")  # an arrow key in the focused text starts span mode
    assert caret_text(page) == "Grace"
    page.keyboard.press("ArrowDown")
    assert caret_text(page) == "the"
    page.keyboard.press("ArrowDown")
    assert caret_text(page) == "at"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+End")
    assert caret_text(page) == "Remington Rand"
    shot(page, "annotate-span-mode-lines")
    page.keyboard.press("2")  # ORG
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")  # PER
    expect(page.locator(".anno-region")).to_have_count(2)
    page.keyboard.press("Tab")  # focus leaves the text: span mode ends
    expect(page.locator("[data-span-status]")).to_be_hidden()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    rr = text.index("Remington")
    assert spans_of(saved) == [(0, 12, "Grace Hopper", ["PER"]), (rr, rr + 14, "Remington Rand", ["ORG"])]


def test_span_keys_are_in_the_help(page, shot, lead, annotator):
    project = make_project(lead, XML["ner"], [{"text": "Ada Lovelace"}], title="News · named entities")
    open_annotate(page, annotator, project)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("?")
    dialog = page.locator('[data-anno="keys-dialog"]')
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Marking spans with the keyboard")
    shot(page, "annotate-span-mode-help")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-span-status]")).to_be_visible()  # still marking after the help
    expect(page.locator("#anno-span-help")).to_contain_text("without a mouse")
    wait_for_task(page)


# --------------------------------------------------------------------------- the task leased ahead

NEXT_URL = "**/api/annotate/*/next?*"


def drafts(page) -> dict[int, list]:
    """The drafts the page keeps in localStorage: task id -> draft result."""
    return {int(k.rsplit(":", 1)[1]): v["result"] for k, v in page.evaluate(
        """() => Object.fromEntries(Object.keys(localStorage).filter((k) => k.includes(':draft:'))
                 .map((k) => [k, JSON.parse(localStorage.getItem(k))]))""").items()}


def open_with_task_ahead(page, user, project) -> tuple[int, int]:
    """Open the labeling page and wait for the answer leased ahead: (task on screen, task ahead)."""
    from tests.browser.conftest import login

    login(page, user.email)
    with page.expect_response(lambda r: "/next?" in r.url and "exclude=" in r.url) as ahead:
        page.goto(f"/annotate/{project.id}")
        current = wait_for_task(page)
    assert f"exclude={current}" in ahead.value.url
    body = ahead.value.json()
    assert body["prefetch"] is True and body["task"] and body["lease"]["expires_at"]
    return current, body["task"]["id"]


def test_next_task_is_shown_from_the_task_leased_ahead(page, shot, lead, annotator):
    tasks = [{"text": f"item {i}"} for i in range(3)]
    project = make_project(lead, XML["text_classification"], tasks)
    first, ahead = open_with_task_ahead(page, annotator, project)
    assert ahead != first
    expect(page.locator('[data-anno="remaining"]')).to_have_text("3")
    expect(page.locator('[data-anno="done-today"]')).to_have_text("0")

    # From now on the next endpoint does not answer: what comes next can only be the task ahead.
    held, seen = [], []
    page.route(NEXT_URL, lambda route: held.append(route))
    page.on("request", lambda r: seen.append(r.url) if "/next?" in r.url else None)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = wait_for_task(page, not_id=first)
    assert second == ahead
    assert all(f"exclude={second}" in url for url in seen)  # only the request for the task after it
    # the submit of the first task still goes through the outbox, and the counters follow it
    expect(page.locator('[data-anno="save"]')).to_contain_text(f"Saved (task {first} submitted)")
    expect(page.locator('[data-anno="done-today"]')).to_have_text("1")
    expect(page.locator('[data-anno="remaining"]')).to_have_text("2")
    shot(page, "annotate-prefetched-next")

    # a draft belongs to its own task
    page.keyboard.press("2")
    page.wait_for_function(f"() => localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':draft:{second}')))")
    assert drafts(page) == {second: [{"id": "label-choices", "from_name": "label", "to_name": "text",
                                      "type": "choices", "value": {"choices": ["negative"]}}]}
    # going back still works, and coming back keeps the work in progress
    page.keyboard.press("Backspace")
    expect(page.locator('[data-anno="task-id"]')).to_contain_text(f"Task {first} · your earlier annotation")
    expect(page.locator('input[value="positive"]')).to_be_checked()
    page.keyboard.press("Escape")
    assert wait_for_task(page) == second
    expect(page.locator('input[value="negative"]')).to_be_checked()
    assert set(drafts(page)) == {second}

    # the next endpoint answers again: the page leases the third task ahead and shows it next
    assert held and all(f"exclude={second}" in route.request.url for route in held)
    with page.expect_response(lambda r: f"exclude={second}" in r.url and r.status == 200):
        for route in held:
            route.continue_()
    page.unroute(NEXT_URL)
    page.keyboard.press("Enter")
    third = wait_for_task(page, not_id=second)
    assert third not in (first, second)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    expect(page.locator('[data-anno="done-today"]')).to_have_text("3")
    expect(page.locator('[data-anno="remaining"]')).to_have_text("0")
    saved = {a.task_id: a.result[0]["value"]["choices"] for a in annotations_of(annotator.id, project.id)}
    assert saved == {first: ["positive"], second: ["negative"], third: ["neutral"]}
    assert drafts(page) == {}


def test_the_lease_on_the_task_ahead_is_renewed(page, lead, annotator):
    from sqlmodel import select

    from labeling.db import read_session
    from labeling.models import Lease
    from tests.conftest import wait_for

    project = make_project(lead, XML["text_classification"], [{"text": "a"}, {"text": "b"}], lease_seconds=10)
    _, ahead = open_with_task_ahead(page, annotator, project)

    def expiry():
        with read_session() as s:
            return s.exec(select(Lease.expires_at).where(Lease.task_id == ahead, Lease.user_id == annotator.id)).first()

    first = expiry()
    assert first is not None

    def renewed():
        page.keyboard.press("Shift")  # the annotator is active
        return expiry() > first

    wait_for(renewed, timeout=15, interval=0.5)


def test_with_overlap_one_two_annotators_never_get_the_same_task(page, browser, lead, annotator, make_user):
    from tests.browser.conftest import VIEWPORT, login

    other = make_user("second@example.com")
    project = make_project(lead, XML["text_classification"], [{"text": f"item {i}"} for i in range(7)], overlap=1)
    context = browser.new_context(viewport=VIEWPORT, base_url=page.base)
    try:
        page2 = context.new_page()
        errors = []
        page2.on("pageerror", lambda e: errors.append(str(e)))
        shown = {annotator.id: [], other.id: []}
        first, _ = open_with_task_ahead(page, annotator, project)
        shown[annotator.id].append(first)
        login(page2, other.email)
        page2.goto(f"/annotate/{project.id}")
        shown[other.id].append(wait_for_task(page2))
        pages = {annotator.id: page, other.id: page2}
        done = set()
        while len(done) < 2:
            for uid, pg in pages.items():
                if uid in done:
                    continue
                current = shown[uid][-1]
                pg.keyboard.press("1")
                pg.keyboard.press("Enter")
                pg.wait_for_function(
                    """(notId) => {
                        const t = document.querySelector('[data-anno="task-id"]').textContent;
                        const empty = !document.querySelector('[data-anno="empty"]').hidden;
                        const root = document.querySelector('[data-anno-config]');
                        return empty || (!root.classList.contains('is-loading') && t.startsWith('Task ') && t !== 'Task ' + notId);
                    }""", arg=current)
                if pg.locator('[data-anno="empty"]').is_visible():
                    done.add(uid)
                else:
                    shown[uid].append(int(pg.locator('[data-anno="task-id"]').text_content().split()[1]))
        mine, theirs = set(shown[annotator.id]), set(shown[other.id])
        assert not mine & theirs
        assert len(mine) == len(shown[annotator.id]) and len(theirs) == len(shown[other.id])  # none shown twice
        assert len(mine | theirs) == 7
        for uid, pg in pages.items():
            expect(pg.locator('[data-anno="done-today"]')).to_have_text(str(len(shown[uid])))
        assert {a.task_id for a in annotations_of(annotator.id, project.id)} == mine
        assert {a.task_id for a in annotations_of(other.id, project.id)} == theirs
        assert errors == []
    finally:
        context.close()


def test_a_long_keys_dialog_opens_at_its_title(page, shot, lead, annotator):
    """Named entities' keys fill more than the window: the dialog opens at its top (its first
    label key in view), not scrolled down to the Close button it focuses."""
    project = make_project(lead, XML["ner"], [{"text": "Ada Lovelace met Charles Babbage in London."}], title="People")
    open_annotate(page, annotator, project)
    page.keyboard.press("?")
    dialog = page.locator('[data-anno="keys-dialog"]')
    expect(dialog).to_be_visible()
    assert dialog.evaluate("(d) => d.scrollHeight > d.clientHeight"), "the list fits: the check needs it to scroll"
    top = dialog.bounding_box()["y"]
    title = page.locator("#anno-keys-title").bounding_box()
    assert title["y"] >= top, (title, top)
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    shot(page, "keys-dialog-at-its-title")
