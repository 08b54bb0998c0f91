"""The labeling page in a real browser, on a live server: keyboard only, spans, boxes, skips,
going back, a flaky network, hostile task text, the read-only task view and the preview."""

from __future__ import annotations

import base64
import io
import json
import math
import statistics
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlmodel import select

from labeling import imports, projects, router
from labeling.db import read_session, utcnow, write_session
from labeling.imports import ImportFile
from labeling.models import Annotation, Lease
from labeling.schema import gallery
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

XML = {g["id"]: g["xml"] for g in gallery()}
SENTIMENT = ["positive", "negative", "neutral"]


def make_project(lead, xml: str, tasks: list[dict] | None, title: str = "Product reviews", files=None, **settings):
    project = projects.create_project(lead.user, title=title, label_config=xml, **settings)
    imports.import_data(lead.user, project.id, body=tasks, files=files, background=False)
    return project


def annotations_of(user_id: int, project_id: int) -> list[Annotation]:
    with read_session() as s:
        return list(s.exec(select(Annotation).where(Annotation.user_id == user_id, Annotation.project_id == project_id)
                           .order_by(Annotation.id)))


def task_id_shown(page) -> int:
    text = page.locator('[data-anno="task-id"]').text_content() or ""
    return int(text.split()[1]) if text.startswith("Task ") else 0


def wait_for_task(page, not_id: int | None = None) -> int:
    """Wait until a task (other than ``not_id``) is on screen and ready for keys; its id."""
    page.wait_for_function(
        """(notId) => {
            const root = document.querySelector('[data-anno-config]');
            const t = document.querySelector('[data-anno="task-id"]').textContent;
            return root && !root.classList.contains('is-loading') && t.startsWith('Task ')
                && !t.includes('earlier') && t !== 'Task ' + notId;
        }""",
        arg=not_id or -1,
    )
    return task_id_shown(page)


def open_annotate(page, user, project) -> int:
    login(page, user.email)
    page.goto(f"/annotate/{project.id}")
    return wait_for_task(page)


def select_text(page, needle: str, selector: str = ".anno-text-body") -> None:
    """Select ``needle`` in the task text with the mouse, as a person would, and wait until the
    text annotator has made a span of it."""
    regions = page.locator(".anno-region")
    before = regions.count()
    box = page.evaluate(
        """([selector, needle]) => {
            const node = document.querySelector(selector).firstChild;
            const start = node.textContent.indexOf(needle);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + needle.length);
            const rects = range.getClientRects();
            const a = rects[0], b = rects[rects.length - 1];
            return {x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2};
        }""",
        [selector, needle],
    )
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y2"], steps=6)
    page.mouse.up()
    if selector == ".anno-text-body":
        expect(regions).to_have_count(before + 1)


def png_bytes(width: int = 640, height: int = 400) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (214, 226, 240))
    draw = ImageDraw.Draw(img)
    draw.rectangle((width * 0.2, height * 0.25, width * 0.5, height * 0.65), fill=(200, 120, 60))
    draw.ellipse((width * 0.62, height * 0.35, width * 0.87, height * 0.75), fill=(70, 110, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_data_url(width: int = 640, height: int = 400) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()


class Keys:
    """Presses keys on the page and counts them."""

    def __init__(self, page):
        self.page = page
        self.count = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.count += 1


# --------------------------------------------------------------------------- classification


def test_label_20_text_items_with_the_keyboard_only(page, shot, lead, annotator):
    tasks = [{"text": f"Review {i}: " + ("great value, would buy again" if i % 3 == 0 else
                                         "broke after a day" if i % 3 == 1 else "it is a phone")}
             for i in range(20)]
    project = make_project(lead, XML["text_classification"], tasks,
                           instructions="Pick the sentiment of the review.\nNeutral when unsure.")
    current = open_annotate(page, annotator, project)
    expect(page.locator('[data-anno="remaining"]')).to_have_text("20")
    shot(page, "annotate-text-classification")
    page.keyboard.press("?")
    expect(page.locator('[data-anno="keys-dialog"]')).to_be_visible()
    shot(page, "annotate-keys-help")
    page.keyboard.press("Escape")
    expect(page.locator('[data-anno="keys-dialog"]')).to_be_hidden()
    keys = Keys(page)
    per_item, expected = [], {}
    for n in range(20):
        before = keys.count
        text = page.locator(".anno-text-body").text_content()
        index = int(text.split(":")[0].split()[1])
        label = SENTIMENT[index % 3]
        expected[current] = label
        keys.press(str(index % 3 + 1), "Enter")
        per_item.append(keys.count - before)
        if n < 19:
            current = wait_for_task(page, not_id=current)
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    expect(page.locator('[data-anno="done-today"]')).to_have_text("20")
    page.keyboard.press("1")  # with nothing to label a label key ticks nothing
    expect(page.locator('[data-control] input:checked')).to_have_count(0)
    shot(page, "annotate-queue-empty")

    saved = annotations_of(annotator.id, project.id)
    assert len(saved) == 20
    assert {a.task_id: a.result[0]["value"]["choices"][0] for a in saved} == expected
    assert all(not a.was_cancelled and a.lead_time is not None for a in saved)
    median = statistics.median(per_item)
    switch_ms = page.evaluate("window.labelfabAnnotate.workspace.switchTimes")
    print(json.dumps({"median_keypresses_per_classification_item": median, "items": len(per_item),
                      "median_ms_submit_to_next_task": statistics.median(switch_ms)}))
    assert median == 2


def test_long_text_scrolls_inside_its_pane(page, shot, lead, annotator):
    paragraph = ("The committee met on Tuesday to discuss the harbour extension. Residents raised concerns "
                 "about noise, traffic and the loss of the old fish market, while the port authority argued "
                 "that larger ships would bring jobs. ")
    text = "\n\n".join(f"{n}. {paragraph * 3}" for n in range(1, 13))
    project = make_project(lead, XML["multilabel_text"], [{"text": text}], title="Local news · topics",
                           instructions="Tag every topic the article covers.")
    open_annotate(page, annotator, project)
    pane = page.locator(".anno-text")
    assert pane.evaluate("el => el.scrollHeight > el.clientHeight + 100")  # the text scrolls in its pane
    expect(page.locator('[data-anno="submit"]')).to_be_in_viewport()  # the controls stay in reach
    page.keyboard.press("2")
    shot(page, "annotate-long-text")


def test_no_restored_notice_for_an_empty_draft_and_none_carried_to_the_next_task(page, lead, annotator):
    """Issue 21's walkthrough: "Your unsaved work on this task was restored" appeared when nothing
    was entered (a label ticked and unticked), and a notice stayed on for the next task."""
    project = make_project(lead, XML["multilabel_text"], [{"text": "one"}, {"text": "two"}])
    first = open_annotate(page, annotator, project)
    keys = Keys(page)
    keys.press("1", "1")  # on, then off: nothing entered
    page.reload()
    wait_for_task(page)
    notice = page.locator('[data-anno="notice"]')
    page.wait_for_timeout(300)  # the draft is read as the task is shown
    expect(notice).to_be_hidden()
    keys.press("1")
    page.reload()
    assert wait_for_task(page) == first
    expect(notice).to_contain_text("restored")
    keys.press("Enter")  # submitted at once: the next task comes without the notice
    wait_for_task(page, not_id=first)
    expect(notice).to_be_hidden()


def test_multilabel_and_the_draft_survives_a_reload(page, shot, lead, annotator):
    project = make_project(lead, XML["multilabel_text"], [{"text": "Shares of the football club rose 4%."}])
    open_annotate(page, annotator, project)
    keys = Keys(page)
    keys.press("1", "4", "5", "5")  # business, sports, technology, technology again (off)
    checked = page.locator(".anno-label input:checked")
    expect(checked).to_have_count(2)
    page.reload()
    wait_for_task(page)
    expect(page.locator('[data-anno="notice"]')).to_contain_text("restored")
    expect(checked).to_have_count(2)
    shot(page, "annotate-multilabel")
    keys.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["business", "sports"]


def test_image_classification_is_one_key_plus_enter(page, shot, lead, annotator):
    project = make_project(lead, XML["image_classification"], [{"image": png_data_url(1200, 900)}], title="Pets")
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-image")).to_be_visible()
    fitted = page.locator(".anno-image").bounding_box()["width"]
    page.keyboard.press("+")  # zoom in (a quarter more than fit; the readout against the image's 1200 px), then fit
    js_round = lambda x: math.floor(x + 0.5)  # noqa: E731  (JavaScript's Math.round: 80.5 is 81, Python's round says 80)
    expect(page.locator('[data-anno="zoom-level"]')).to_have_text(f"{js_round(js_round(fitted * 1.25) / 1200 * 100)}%")
    page.keyboard.press("0")
    shot(page, "annotate-image-classification")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["bird"]


def test_free_text_and_rating_next_to_choices(page, shot, lead, annotator):
    xml = ('<View><Text name="text" value="$text"/>'
           '<Choices name="sentiment" toName="text"><Choice value="good"/><Choice value="bad"/></Choices>'
           '<Rating name="stars" toName="text" maxRating="5"/>'
           '<TextArea name="note" toName="text"/></View>')
    project = make_project(lead, xml, [{"text": "Solid, but the battery is weak."}], title="Feedback")
    open_annotate(page, annotator, project)
    page.keyboard.press("1")
    page.get_by_role("radio", name="4").check()
    page.keyboard.press("t")
    page.keyboard.type("battery")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("weak")
    shot(page, "annotate-text-and-rating")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    values = {r["from_name"]: r["value"] for r in saved.result}
    assert values == {"sentiment": {"choices": ["good"]}, "stars": {"rating": 4}, "note": {"text": ["battery\nweak"]}}


def test_undo_with_ctrl_z(page, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "fine"}])
    open_annotate(page, annotator, project)
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Control+z")
    expect(page.locator('input[value="positive"]')).to_be_checked()
    page.keyboard.press("Control+z")
    expect(page.locator(".anno-label input:checked")).to_have_count(0)
    page.keyboard.press("Control+y")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["positive"]


def test_more_than_nine_labels_get_a_filter_box(page, lead, annotator):
    labels = ["apple", "apricot", "banana", "blueberry", "cherry", "date", "fig", "grape", "kiwi", "lemon", "mango"]
    xml = ('<View><Text name="text" value="$text"/><Choices name="fruit" toName="text">'
           + "".join(f'<Choice value="{x}"/>' for x in labels) + "</Choices></View>")
    project = make_project(lead, xml, [{"text": "yellow and curved"}])
    open_annotate(page, annotator, project)
    keys = Keys(page)
    keys.press("/")
    page.keyboard.type("mang")
    keys.count += 4
    expect(page.locator('.anno-label:not([hidden])')).to_have_count(1)
    keys.press("Enter", "Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["mango"]


def test_prediction_is_prefilled_and_enter_accepts_it(page, shot, lead, annotator):
    tasks = [{"data": {"text": "Loved it"},
              "predictions": [{"model_version": "sentiment-v2", "score": 0.91,
                               "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                           "value": {"choices": ["positive"]}}]}]}]
    project = make_project(lead, XML["text_classification"], tasks)
    open_annotate(page, annotator, project)
    expect(page.locator('[data-anno="prediction"]')).to_contain_text("sentiment-v2")
    expect(page.locator('input[value="positive"]')).to_be_checked()
    shot(page, "annotate-prediction")
    page.keyboard.press("Enter")  # one key accepts the pre-annotation
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["positive"]
    assert saved.parent_prediction is not None  # made from the pre-label: marked as Label Studio marks it


def test_second_annotator_of_an_overlap_2_task_sees_no_prefilled_answer(page, shot, lead, annotator, make_user):
    from labeling import annotations

    tasks = [{"data": {"text": "Not bad at all"},
              "predictions": [{"model_version": "sentiment-v2", "score": 0.91,
                               "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                           "value": {"choices": ["negative"]}}]}]}]
    # the lead turned pre-labels on: still, only the task's first annotator gets them
    project = make_project(lead, XML["text_classification"], tasks, overlap=2, show_predictions=True)
    first = make_user("first@example.com")
    view = router.serve_next(project.id, first.user)
    assert [p["model_version"] for p in view["predictions"]] == ["sentiment-v2"]
    annotations.submit(view["id"], first.user, result=view["predictions"][0]["result"],
                       parent_prediction=view["predictions"][0]["id"])
    assert open_annotate(page, annotator, project) == view["id"]
    expect(page.locator('[data-anno="prediction"]')).to_be_hidden()
    for value in SENTIMENT:
        expect(page.locator(f'input[value="{value}"]')).not_to_be_checked()
    shot(page, "annotate-second-annotator-no-prelabel")
    page.locator('input[value="positive"]').check()
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["positive"] and saved.parent_prediction is None


# --------------------------------------------------------------------------- spans and boxes


def test_ner_span_with_code_point_offsets(page, shot, lead, annotator):
    text = "🙂 Ada Lovelace met Charles Babbage in London."
    project = make_project(lead, XML["ner"], [{"text": text}], title="News · named entities")
    open_annotate(page, annotator, project)
    select_text(page, "Ada Lovelace")
    page.keyboard.press("1")  # PER
    select_text(page, "London")
    page.keyboard.press("3")  # LOC (the new span took PER, the key relabels it)
    expect(page.locator(".anno-region")).to_have_count(2)
    shot(page, "annotate-ner")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    spans = sorted(((r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"])
                    for r in saved.result), key=lambda s: s[0])
    start = text.index("Ada")  # Python counts the emoji as one character
    london = text.index("London")
    assert spans == [(start, start + 12, "Ada Lovelace", ["PER"]), (london, london + 6, "London", ["LOC"])]


def test_ner_label_first_then_text_as_in_label_studio(page, shot, lead, annotator):
    """Label Studio's way: the label's key, then the text. The new span is left unselected, so the
    next key picks the next span's label instead of relabelling the span just made."""
    text = "Ada Lovelace met Charles Babbage in London."
    project = make_project(lead, XML["ner"], [{"text": text}], title="label first")
    open_annotate(page, annotator, project)
    page.keyboard.press("1")  # PER, for the span to come
    select_text(page, "Ada Lovelace")
    expect(page.locator(".anno-region")).to_have_count(1)
    page.wait_for_timeout(100)
    page.keyboard.press("3")  # LOC, for the next one: Ada stays PER
    select_text(page, "London")
    expect(page.locator(".anno-region")).to_have_count(2)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    spans = sorted((r["value"]["text"], r["value"]["labels"]) for r in saved.result)
    assert spans == [("Ada Lovelace", ["PER"]), ("London", ["LOC"])]


def test_draw_a_bounding_box_and_submit(page, shot, lead, annotator):
    # a real upload, stored and served by the app at /media/...
    project = make_project(lead, XML["object_detection"], None, title="Street scenes",
                           files=[ImportFile(name="street.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith(f"/media/{project.id}/")
    page.keyboard.press("2")  # car
    b = image.bounding_box()
    # drag from 25%,25% to 50%,75% of the image as displayed
    page.mouse.move(b["x"] + b["width"] * 0.25, b["y"] + b["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.75, steps=10)
    page.mouse.up()
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("car")
    shot(page, "annotate-bounding-box")
    page.keyboard.press("Control+z")  # undo the box, and redo it
    expect(regions).to_have_count(0)
    page.keyboard.press("Control+y")
    expect(regions).to_have_count(1)
    page.keyboard.press("Escape")
    # a second box, selected with a click and relabeled, then deleted with the Delete key (a key
    # pressed right after drawing would be the next box's label, as in Label Studio)
    page.mouse.move(b["x"] + b["width"] * 0.7, b["y"] + b["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.9, b["y"] + b["height"] * 0.3, steps=10)
    page.mouse.up()
    expect(regions).to_have_count(2)
    page.mouse.click(b["x"] + b["width"] * 0.8, b["y"] + b["height"] * 0.2)
    page.keyboard.press("4")
    expect(regions.nth(1)).to_contain_text("dog")
    page.keyboard.press("Delete")
    expect(regions).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    (box,) = saved.result
    assert box["type"] == "rectanglelabels" and box["value"]["rectanglelabels"] == ["car"]
    assert (box["original_width"], box["original_height"]) == (640, 400)
    value = box["value"]
    for key, want in (("x", 25), ("y", 25), ("width", 25), ("height", 50)):
        assert value[key] == pytest.approx(want, abs=1.5), key


# --------------------------------------------------------------------------- skip, back, flaky network


def test_skip_with_a_reason(page, shot, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "asdf qwer"}, {"text": "good"}])
    first = open_annotate(page, annotator, project)
    page.keyboard.press("s")
    expect(page.locator('[data-anno="skip-dialog"]')).to_be_visible()
    page.keyboard.type("gibberish")
    shot(page, "annotate-skip-dialog")
    page.keyboard.press("Enter")
    wait_for_task(page, not_id=first)
    expect(page.locator('[data-anno="save"]')).to_contain_text(f"Saved (task {first} skipped)")
    expect(page.locator('[data-anno="done-today"]')).to_have_text("0")  # a skip is not done
    expect(page.locator('[data-anno="remaining"]')).to_have_text("1")
    saved = annotations_of(annotator.id, project.id)
    assert len(saved) == 1
    assert saved[0].task_id == first and saved[0].was_cancelled and saved[0].skip_reason == "gibberish"



def test_after_skipping_the_last_task_the_page_does_not_say_every_task_has_its_annotations(page, shot, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "asdf qwer"}])
    first = open_annotate(page, annotator, project)
    page.keyboard.press("s")
    expect(page.locator('[data-anno="skip-dialog"]')).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="save"]')).to_contain_text(f"Saved (task {first} skipped)")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    # the skipped task has no annotation: it waits for another annotator
    expect(page.locator('[data-anno="empty-text"]')).to_have_text(
        "Every task here is labeled, skipped by you, or with another annotator. Thank you!")
    shot(page, "annotate-empty-after-skip")

def test_go_back_and_fix_an_annotation(page, shot, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": f"item {i}"} for i in range(3)])
    first = open_annotate(page, annotator, project)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = wait_for_task(page, not_id=first)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    third = wait_for_task(page, not_id=second)
    page.keyboard.press("3")  # work in progress on the third task
    page.keyboard.press("ArrowLeft")
    expect(page.locator('[data-anno="task-id"]')).to_contain_text(f"Task {second}")
    expect(page.locator('input[value="negative"]')).to_be_checked()
    page.keyboard.press("Backspace")  # one further back
    expect(page.locator('[data-anno="task-id"]')).to_contain_text(f"Task {first}")
    expect(page.locator('input[value="positive"]')).to_be_checked()
    page.keyboard.press("3")
    shot(page, "annotate-fix-previous")
    page.keyboard.press("Enter")  # saves the fix and returns to the current task
    wait_for_task(page)
    assert task_id_shown(page) == third
    expect(page.locator('input[value="neutral"]')).to_be_checked()  # the work in progress is kept

    def fixed():
        by_task = {a.task_id: a for a in annotations_of(annotator.id, project.id)}
        return by_task[first].result[0]["value"]["choices"] == ["neutral"] and by_task[first].version == 2

    from tests.conftest import wait_for

    wait_for(fixed, timeout=10)
    by_task = {a.task_id: a for a in annotations_of(annotator.id, project.id)}
    assert by_task[second].result[0]["value"]["choices"] == ["negative"]
    assert set(by_task) == {first, second}


def test_submit_survives_a_flaky_network_and_arrives_once(page, shot, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "a"}, {"text": "b"}])
    first = open_annotate(page, annotator, project)
    attempts = []

    def flaky(route):
        attempts.append(route.request.post_data)
        if len(attempts) == 1:
            route.abort("connectionrefused")  # the server is down: nothing arrives
        elif len(attempts) == 2:
            route.fetch()  # the server stores it, but the answer is lost on the way back
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/tasks/*/annotations", flaky)
    page.allow_console(r"Failed to load resource: net::ERR_CONNECTION_(REFUSED|RESET)")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="save"]')).to_contain_text("retrying")
    shot(page, "annotate-retrying")
    wait_for_task(page, not_id=first)  # the next task was leased ahead: it does not wait for the save
    expect(page.locator('[data-anno="save"]')).to_contain_text(f"Saved (task {first} submitted)", timeout=20_000)
    expect(page.locator('[data-anno="done-today"]')).to_have_text("1")
    assert len(attempts) == 3
    assert len(set(attempts)) == 1  # the very same request each time
    saved = annotations_of(annotator.id, project.id)
    assert len(saved) == 1 and saved[0].task_id == first
    assert saved[0].result[0]["value"]["choices"] == ["negative"]


def test_submit_waits_through_a_logout_and_is_sent_after_logging_in_again(page, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "a"}, {"text": "b"}])
    first = open_annotate(page, annotator, project)
    page.context.clear_cookies()  # the session ends (expired, or logged out in another tab)
    page.allow_console(r"status of 40[01]")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="save"]')).to_contain_text("logged out")
    assert annotations_of(annotator.id, project.id) == []
    other = page.context.new_page()  # logging in again in another tab makes a new session
    login(other, annotator.email)
    other.close()
    wait_for_task(page, not_id=first)  # shown from the task leased ahead
    # the waiting submit goes out with a fresh CSRF token
    expect(page.locator('[data-anno="save"]')).to_contain_text(f"Saved (task {first} submitted)", timeout=20_000)
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.task_id == first and saved.result[0]["value"]["choices"] == ["neutral"]


def test_lease_is_shown_and_renewed_while_active(page, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "x"}], lease_seconds=10)
    task_id = open_annotate(page, annotator, project)
    expect(page.locator('[data-anno="lease"]')).to_contain_text("Reserved for you 0:")

    def expiry():
        with read_session() as s:
            return s.exec(select(Lease.expires_at).where(Lease.task_id == task_id)).first()

    first = expiry()
    from tests.conftest import wait_for

    def renewed():
        page.keyboard.press("Shift")  # the annotator is active
        return expiry() > first

    wait_for(renewed, timeout=15, interval=0.5)


def test_a_lost_lease_is_told_to_the_annotator(page, shot, lead, annotator, make_user):
    project = make_project(lead, XML["text_classification"], [{"text": "x"}], lease_seconds=10)
    task_id = open_annotate(page, annotator, project)
    # The annotator's hold runs out while they are away, and someone else takes the task.
    with write_session() as s:
        s.execute(sa.update(Lease).where(Lease.task_id == task_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert router.next_task(project.id, make_user("fast@example.com").user).id == task_id
    page.allow_console(r"status of 409")
    page.keyboard.press("1")  # back at the keyboard: the page tries to renew and learns the news
    expect(page.locator('[data-anno="alert"]')).to_contain_text("no longer reserved for you", timeout=20_000)
    expect(page.locator('[data-anno="lease"]')).to_have_text("Task no longer reserved for you", timeout=20_000)
    shot(page, "annotate-lease-lost")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="alert"]')).to_contain_text(f"Task {task_id} was not saved")
    assert annotations_of(annotator.id, project.id) == []


# --------------------------------------------------------------------------- safety, other pages


def test_script_in_task_text_is_shown_as_text_and_never_runs(page, shot, lead, annotator):
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> <b>bold?</b>'
    project = make_project(lead, XML["text_classification"], [{"text": hostile}])
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-text-body")).to_have_text(hostile)
    assert page.locator(".anno-text-body script, .anno-text-body img, .anno-text-body b").count() == 0
    assert page.evaluate("window.__pwned") is None
    shot(page, "annotate-script-in-text")


def test_read_only_task_view_shows_annotations_side_by_side(page, shot, lead, annotator, make_user):
    other = make_user("second@example.com")
    project = make_project(lead, XML["ner"], [{"text": "Grace Hopper worked <b>at</b> Harvard."}], overlap=2)
    task_id = None
    for who, label in ((annotator, "1"), (other, "2")):
        task_id = open_annotate(page, who, project)
        select_text(page, "Grace Hopper")
        page.keyboard.press(label)
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        expect(page.locator('[data-anno="empty"]')).to_be_visible()
        page.context.clear_cookies()
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/tasks/{task_id}")
    columns = page.locator(".task-column")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text(annotator.email)
    for n, label in ((0, "PER"), (1, "ORG")):  # each through the labeling page's widgets, read-only
        expect(columns.nth(n).locator("[data-task-view]")).to_have_attribute("data-ready", "1")
        expect(columns.nth(n).locator(".anno-region")).to_contain_text(["Grace Hopper"])
        expect(columns.nth(n).locator(".anno-region")).to_contain_text([label])
    expect(page.locator(".task-data-text").first).to_contain_text("<b>at</b>")
    shot(page, "task-read-only")


def test_preview_of_a_label_config(page, shot, lead):
    login(page, lead.email)
    page.goto("/projects/preview")
    page.select_option("#preview-example", "ner")
    expect(page.locator(".anno-text-body")).to_contain_text("Ada Lovelace")
    select_text(page, "Charles Babbage")
    page.keyboard.press("1")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="preview-json"]')).to_contain_text('"Charles Babbage"')
    shot(page, "preview-ner")
    page.locator("#preview-xml").fill("<View><Choices name='x' toName='nothing'/></View>")
    expect(page.locator("#preview-result [role=alert]")).to_be_visible()
    page.select_option("#preview-example", "object_detection")
    expect(page.locator(".anno-image")).to_be_visible()
    shot(page, "preview-object-detection")
