"""Small screens: at 800 and 1024 px wide, at 1280x800 and on a 390x844 phone, the labeling page is as
high as the window (nothing to scroll it for) and shows its labels and Submit, and the project list does not
overflow sideways (on a phone too, its Label buttons on screen); on a phone the review page fits the screen,
the labeling page of an image, a PDF or a ranker keeps Submit and every control within the window,
and a lead's project pages scroll their wide tables in their cards."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from labeling import projects
from tests.browser.conftest import login
from tests.browser.test_annotate import XML, make_project, open_annotate, png_data_url

pytestmark = pytest.mark.browser

# laptop and tablet screens: 800 x 600, 1024 x 768
SIZES = [(800, 600), (1024, 768)]


def _inside(page, locator) -> None:
    """The element is on screen as the page opened: no scrolling, nothing cut at the edges."""
    box = locator.bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (
        box,
        width,
        height,
    )


def fits_the_window(page) -> None:
    """The labeling page is no higher and no wider than the window, and Submit is on screen: the data
    scroll in their own views, never the page (Label Studio keeps its controls in view)."""
    over = page.evaluate(
        "() => { const d = document.documentElement;"
        " return [d.scrollWidth - d.clientWidth, d.scrollHeight - d.clientHeight]; }"
    )
    assert over[0] <= 0 and over[1] <= 0, (
        f"the page is {over[0]} px too wide and {over[1]} px too high"
    )
    _inside(page, page.locator('[data-anno="submit"]'))


def _no_sideways_scroll(page) -> None:
    over = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert over <= 0, f"the page is {over} px wider than the window"


@pytest.mark.parametrize(("width", "height"), [*SIZES, (1280, 800), (390, 844)])
@pytest.mark.parametrize("template", ["text_classification", "image_classification"])
def test_the_labels_and_submit_are_on_screen_without_scrolling(
    page, shot, lead, annotator, width, height, template
):
    data = (
        {"text": "The battery lasts two days and the screen is sharp. " * 12}
        if template == "text_classification"
        else {"image": png_data_url(1600, 1200)}
    )
    project = make_project(lead, XML[template], [data], title="Small screens")
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    labels = page.locator(".anno-label")
    assert labels.count() >= 3
    for i in range(labels.count()):
        _inside(page, labels.nth(i))
    fits_the_window(page)
    assert page.evaluate("() => window.scrollY") == 0
    if (
        template == "image_classification"
    ):  # the image fitted in a view of its own, which zoom scrolls
        view = page.locator(".anno-image-view")
        assert view.bounding_box()["height"] >= 200, view.bounding_box()
        page.keyboard.press("+")
        page.keyboard.press("+")
        assert view.evaluate("(v) => v.scrollWidth > v.clientWidth")
        fits_the_window(page)
    shot(page, f"small-screen-annotate-{template}-{width}")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_project_list_does_not_overflow(page, shot, lead, width, height):
    for i in range(4):
        projects.create_project(
            lead.user,
            title=f"A project with a rather long title for a small screen, number {i}",
            label_config=XML["text_classification"],
        )
    page.set_viewport_size({"width": width, "height": height})
    login(page, lead.email)
    page.goto("/projects")
    page.wait_for_load_state("load")
    expect(page.get_by_text("number 3")).to_be_visible()
    _no_sideways_scroll(page)
    shot(page, f"small-screen-projects-{width}")


def test_on_a_phone_the_project_list_fits_and_every_label_button_is_on_screen(page, shot, lead):
    for i in range(3):
        projects.create_project(
            lead.user,
            title=f"A project with a rather long title for a phone, number {i}",
            description="Customer reviews of the spring catalogue, to sort by tone",
            label_config=XML["text_classification"],
        )
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, lead.email)
    page.goto("/projects")
    page.wait_for_load_state("load")
    expect(page.get_by_text("number 2")).to_be_visible()
    _no_sideways_scroll(page)
    buttons = page.get_by_role("link", name="Label", exact=True)
    expect(buttons).to_have_count(3)
    for n in range(3):
        box = buttons.nth(n).bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 390, (
            box
        )  # not cut by the card
    shot(page, "small-screen-projects-phone")


def test_on_a_phone_log_out_stays_on_one_line(page, shot, make_user):
    """The top bar of every page but the labeling page (which hides the email) broke "Log out" into
    "Log" over "out" beside an email as long as the demo reviewer's."""
    from labeling.models import Role

    reviewer = make_user("reviewer@example.com", Role.reviewer)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, reviewer.email)
    page.goto("/projects")
    lines = page.get_by_role("button", name="Log out").evaluate(
        "b => { const r = document.createRange(); r.selectNodeContents(b); return r.getClientRects().length; }"
    )
    assert lines == 1, f"Log out takes {lines} lines"
    shot(page, "small-screen-topbar-phone")


def test_on_a_phone_the_review_page_fits_the_screen(page, shot, lead, annotator, make_user):
    from labeling.models import Role
    from tests.browser.test_review import wait_for_task
    from tests.labeling.test_review import make_project as make_review_project
    from tests.labeling.test_review import suspects_in_review

    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_review_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg", "pos"], truth=["pos", "pos"])
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, ids[0])
    expect(page.locator("#review-suggested")).to_have_text("pos")
    _no_sideways_scroll(page)
    for card in (page.locator("section.review-data").last, page.locator("section.review-facts")):
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shot(page, "small-screen-review-phone")


@pytest.mark.parametrize("kind", ["short", "long"])
def test_on_a_phone_the_review_decisions_are_on_screen_with_the_item(
    page, shot, lead, annotator, make_user, kind
):
    """On a 390x844 phone the classification review page was 1241 px high: Keep and the other
    decisions sat below the data and every fact, out of sight until the reviewer scrolled."""
    from labeling.db import write_session
    from labeling.models import Role, Task
    from tests.browser.test_review import wait_for_task
    from tests.labeling.test_review import make_project as make_review_project
    from tests.labeling.test_review import suspects_in_review

    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_review_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg", "pos"], truth=["pos", "pos"])
    with write_session() as s:
        t = s.get(Task, ids[0])
        t.data = {
            "text": "The battery lasts two days and the screen is sharp. "
            * (12 if kind == "long" else 1)
        }
        s.add(t)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, ids[0])
    _no_sideways_scroll(page)
    buttons = page.locator(".review-actions .row button")
    assert buttons.count() == 5
    for i in range(buttons.count()):
        _inside(page, buttons.nth(i))
    expect(page.locator("#review-text")).to_be_visible()
    box = page.locator("#review-text").bounding_box()
    assert box["y"] < 844 / 2, box  # the item starts in the upper half, above the decisions
    shot(page, f"small-screen-review-phone-{kind}")
    page.keyboard.press(
        "r"
    )  # the picker opens in the decisions, its labels and Confirm on screen too
    expect(page.locator("#review-picker")).to_be_visible()
    for target in (page.locator(".picker-option").last, page.locator("#review-confirm")):
        target.scroll_into_view_if_needed()
        _inside(page, target)
    shot(page, f"small-screen-review-phone-{kind}-relabel")


def test_on_a_phone_a_lead_s_project_pages_do_not_overflow_sideways(page, shot, lead):
    """Their wide tables (imports, QC findings and runs, dataset versions and files, a task's QC
    findings on its page) scroll in their cards instead of widening the page."""
    from labeling import datasets
    from labeling.db import write_session
    from labeling.models import LabelIssue, QualityRun
    from tests.labeling.test_exports import accept, task_ids, text_task
    from tests.labeling.test_exports import make_project as make_text_project

    pid = make_text_project(
        lead.user, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(12)]
    )
    ids = task_ids(pid)
    accept(pid, ids[:10])
    with write_session() as s:
        run = QualityRun(
            project_id=pid,
            status="done",
            n_items=12,
            n_issues=1,
            noise_rate=0.08,
            model_name="labelfab + logreg(C=0.01) & labelfab + svm_rbf(C=1)",
        )
        s.add(run)
        s.flush()
        s.add(
            LabelIssue(
                run_id=run.id,
                project_id=pid,
                task_id=ids[11],
                is_issue=True,
                score=0.1,
                given="pos",
                suggested="neg",
                reason="labelled 'pos'; model says 'neg' (0.91)",
            )
        )
    datasets.publish(pid, lead.user, note="first release")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, lead.email)
    for path, text in (
        (f"/projects/{pid}", "Recent imports"),
        (f"/projects/{pid}/quality", "model says 'neg'"),
        (f"/projects/{pid}/datasets", "first release"),
        (f"/projects/{pid}/datasets/1", "dataset.jsonl"),
        (f"/projects/{pid}/dashboard", "first release"),
        (f"/projects/{pid}/tasks/{ids[11]}", "model says 'neg'"),
    ):
        page.goto(path)
        expect(page.locator("main").get_by_text(text).first).to_be_visible()
        _no_sideways_scroll(page)
    shot(page, "small-screen-dashboard-phone")


WIDE = {  # Label Studio templates whose object is wider than a phone, its task and what shows it is drawn
    "computer-vision__object-detection-with-bounding-boxes": (".anno-image", lambda: None),
    "structured-data-parsing__pdf-classification": ("canvas.anno-pdf-page", lambda: None),
    "generative-ai__llm-ranker": (
        ".anno-rank-item",
        lambda: [
            {
                "prompt": "Best pets?",
                "task": "Rank them",
                "items": [
                    {"id": f"r{i}", "title": f"Answer {i}", "body": "A calm, friendly dog."}
                    for i in range(3)
                ],
            }
        ],
    ),
}


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
@pytest.mark.parametrize("template", list(WIDE))
def test_a_wide_object_leaves_submit_and_every_control_within_the_screen(
    page, shot, lead, annotator, template, width, height
):
    """A 640 px image, a PDF page, a ranker's three columns: on a phone they scroll in their own
    view, never widening the page past Submit; a rating of 10 stars wraps in its panel."""
    from pathlib import Path

    from labeling.imports import ImportFile
    from tests.browser.test_annotate import png_bytes
    from tests.labeling.test_pdfs import pdf_bytes

    xml = (
        Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates" / f"{template}.xml"
    ).read_text()
    shown, tasks = WIDE[template]
    files = {
        "computer-vision__object-detection-with-bounding-boxes": [
            ImportFile("wide.png", png_bytes(640, 400))
        ],
        "structured-data-parsing__pdf-classification": [ImportFile("doc.pdf", pdf_bytes(2))],
    }.get(template)
    project = make_project(lead, xml, tasks(), title="Wide things", files=files)
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    expect(page.locator(shown).first).to_be_visible()
    page.wait_for_timeout(300)  # the object fitted to its view
    fits_the_window(page)
    controls = page.locator('[data-anno="submit"], .anno-label, .anno-star, .anno-rank-column')
    assert controls.count() >= 3
    for i in range(controls.count()):
        box = controls.nth(i).bounding_box()
        side = controls.nth(i).evaluate(
            "(e) => e.closest('.anno-control, .anno-actions, .anno-object')"
            ".getBoundingClientRect().right"
        )
        assert (
            box is not None and box["x"] >= 0 and box["x"] + box["width"] <= min(width, side + 1)
        ), (i, box, side)
    shot(page, f"small-screen-wide-{template}-{width}")


def _labels_in_view(page) -> int:
    """How many label rows are whole on screen: inside the window and inside the scrolling side
    panel's visible part (a row scrolled out of the panel is not seen)."""
    return page.evaluate("""() => {
        const side = document.querySelector('.anno-side').getBoundingClientRect();
        const top = Math.max(0, side.top), bottom = Math.min(innerHeight, side.bottom);
        const actions = document.querySelector(".anno-side .anno-actions");
        const foot = actions ? Math.min(bottom, actions.getBoundingClientRect().top) : bottom;
        return [...document.querySelectorAll(".anno-label")].filter((l) => {
            const r = l.getBoundingClientRect();
            return r.height > 0 && r.top >= top - 0.5 && r.bottom <= foot + 0.5 && r.left >= 0 && r.right <= innerWidth;
        }).length;
    }""")


@pytest.mark.parametrize("template", ["object_detection", "multilabel_text", "ner"])
def test_on_a_small_phone_four_labels_and_submit_are_on_screen(
    page, shot, lead, annotator, template
):
    """At 360x640 (a small Android phone) an annotator sees at least four labels at once, picks
    one with a tap, and Submit stays on screen; the page is no higher than the window."""
    data = (
        {"image": png_data_url(1600, 1200)}
        if template == "object_detection"
        else {
            "text": "The battery lasts two days and the screen is sharp; Ada Lovelace wrote it in London. "
            * 10
        }
    )
    project = make_project(lead, XML[template], [data], title="Small phone")
    page.set_viewport_size({"width": 360, "height": 640})
    open_annotate(page, annotator, project)
    page.wait_for_timeout(300)  # the object fitted to its view
    fits_the_window(page)
    labels = page.locator(".anno-label")
    assert labels.count() >= 4
    seen = _labels_in_view(page)
    assert seen >= 4, f"{seen} label rows on screen"
    data_box = page.locator(".anno-data").bounding_box()
    assert data_box["height"] >= 200, data_box  # the task itself keeps room
    fourth = labels.nth(3)
    fourth.click()
    expect(fourth).to_have_class(re.compile("is-checked"))
    fits_the_window(page)
    shot(page, f"small-phone-{template}")


IMAGE_CHOICES = """<View>
  <Header value="Which animal is this?"/>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices>
</View>"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_nothing_left_to_label_shows_no_empty_image_view_and_check_again_is_on_screen(
    page, shot, lead, annotator, width, height
):
    """An image project with nothing left for the annotator: the empty state alone, not an empty
    image view with its zoom bar above it (the labeling page's own layout rule showed the image
    object again); on a phone that view pushed "Check again" out of the data pane's sight."""
    project = projects.create_project(lead.user, title="Animals", label_config=IMAGE_CHOICES)
    page.set_viewport_size({"width": width, "height": height})
    login(page, annotator.email)
    page.goto(f"/annotate/{project.id}")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    expect(page.locator(".anno-image-object")).to_be_hidden()
    recheck = page.locator('[data-anno="recheck"]')
    _inside(page, recheck)
    centre = recheck.bounding_box()
    shown = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('[data-anno=recheck]') !== null",
        [centre["x"] + centre["width"] / 2, centre["y"] + centre["height"] / 2],
    )
    assert shown, "Check again is covered or cut off"
    fits_the_window(page)
    shot(page, f"annotate-nothing-left-{width}")


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_nothing_left_to_label_hides_the_task_s_header_and_its_flag_button(
    page, shot, lead, annotator, width, height
):
    """With no task shown, the config's header ("Which animal is this?") and "Flag a problem with
    this task" asked about a task that is not there; they show again with the next task."""
    project = projects.create_project(lead.user, title="Animals", label_config=IMAGE_CHOICES)
    page.set_viewport_size({"width": width, "height": height})
    login(page, annotator.email)
    page.goto(f"/annotate/{project.id}")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    expect(page.get_by_text("Which animal is this?")).to_be_hidden()
    expect(page.locator("#flag-open")).to_be_hidden()
    fits_the_window(page)
    shot(page, f"annotate-nothing-left-no-header-{width}")
    from labeling import imports

    imports.import_data(
        lead.user, project.id, body=[{"image": png_data_url(64, 64)}], background=False
    )
    page.locator('[data-anno="recheck"]').click()
    expect(page.locator(".anno-image-object")).to_be_visible()
    expect(page.get_by_text("Which animal is this?")).to_be_visible()
    expect(page.locator("#flag-open")).to_be_visible()


SIDE_NOTES = """<View>
  <Image name="image" value="$image"/>
  <View style="padding: 0 1em">
    <Header value="Pick the animal you see"/>
    <Text name="hint" value="Look at the ears first"/>
    <Header value="$caption"/>
    <Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices>
  </View>
</View>"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_nothing_left_to_label_hides_the_side_panel_s_headers_and_texts(
    page, shot, lead, annotator, width, height
):
    """The config's headers and texts placed in the side panel (a <Header> and a literal <Text> before
    the choices, and a header of the task's caption, left from the last task) still showed with no
    task, above the dimmed choices; the empty state and "Check again" are what there is to see."""
    from labeling import imports

    project = projects.create_project(lead.user, title="Animals", label_config=SIDE_NOTES)
    imports.import_data(
        lead.user,
        project.id,
        body=[{"image": png_data_url(64, 64), "caption": "Barn, 6 am"}],
        background=False,
    )
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    notes = page.locator(".anno-side .anno-note")
    expect(notes).to_have_count(3)
    for note, text in zip(
        (0, 1, 2), ("Pick the animal you see", "Look at the ears first", "Barn, 6 am"), strict=True
    ):
        expect(notes.nth(note)).to_have_text(text)
        expect(notes.nth(note)).to_be_visible()
    page.keyboard.press("1")
    page.locator('[data-anno="submit"]').click()
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    for i in range(notes.count()):
        expect(notes.nth(i)).to_be_hidden()
    _inside(page, page.locator('[data-anno="recheck"]'))
    fits_the_window(page)
    shot(page, f"annotate-nothing-left-side-notes-{width}")

    imports.import_data(
        lead.user,
        project.id,
        body=[{"image": png_data_url(64, 64), "caption": "Field, noon"}],
        background=False,
    )
    page.locator('[data-anno="recheck"]').click()
    expect(page.locator(".anno-image-object")).to_be_visible()
    for i in range(notes.count()):
        expect(notes.nth(i)).to_be_visible()
    expect(notes.nth(2)).to_have_text("Field, noon")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (360, 740)])
def test_on_a_phone_the_task_bar_keeps_its_height_after_a_submit(
    page, shot, lead, annotator, width, height
):
    """Walking an image project on a phone: after the first submit, "Saved (task 343 submitted)"
    joined the bar's second row with the hold's clock and pushed "Keys" to a third row, so every
    next picture showed a row smaller than the first."""
    project = make_project(
        lead,
        XML["image_classification"],
        [{"image": png_data_url(1600, 1200)} for _ in range(3)],
        title="Photos",
    )
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    bar, view = page.locator(".anno-bar"), page.locator(".anno-image-view")
    before = bar.bounding_box()["height"], view.bounding_box()["height"]
    first = page.locator('[data-anno="task-id"]').text_content()
    page.locator(".anno-label").first.click()
    page.locator('[data-anno="submit"]').click()
    expect(page.locator('[data-anno="task-id"]')).not_to_have_text(first)
    expect(page.locator('[data-anno="save"]')).to_contain_text("Saved")
    after = bar.bounding_box()["height"], view.bounding_box()["height"]
    assert after[0] <= before[0] + 1 and after[1] >= before[1] - 1, (
        f"bar and view {before} before, {after} after"
    )
    fits_the_window(page)
    shot(page, f"small-screen-annotate-after-submit-{width}")
