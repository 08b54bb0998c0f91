"""The review page on a phone (390x844 and 360x740) for image projects: an image-classification
suspect and a box suspect. The picture fits the screen's width, a box is drawn where it is on the
picture, and the decisions stick to the foot of the screen, with the picture in sight above them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labeling import projects
from labeling.models import Role
from tests.browser.conftest import login
from tests.browser.test_annotate import png_data_url
from tests.browser.test_review import wait_for_task
from tests.browser.test_small_screens import _inside, _no_sideways_scroll
from tests.labeling.test_review import IMAGE_CONFIG, suspects_in_review, task
from tests.labeling.test_review_regions import PEOPLE_BOXES, box_suspect

pytestmark = pytest.mark.browser

PHONES = [(390, 844), (360, 740)]


def open_on_phone(page, reviewer, project, task_id: int, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    login(page, reviewer.email)
    page.goto(f"/review/{project.id}")
    wait_for_task(page, task_id)


def decisions_on_screen(page) -> dict:
    """Every decision button on screen, and the top of the decisions' card (what covers the page
    below it)."""
    buttons = page.locator(".review-actions .row button")
    assert buttons.count() == 5
    for i in range(buttons.count()):
        _inside(page, buttons.nth(i))
    return page.locator("section.review-actions").bounding_box()


def in_sight_above_the_decisions(page, picture: dict, foot: dict) -> None:
    """The picture starts in the upper half of the screen as the page opens, and the whole of it fits
    above the decisions (no higher than the room they leave): at most a short scroll shows it all."""
    height = page.viewport_size["height"]
    assert 0 <= picture["y"] < height / 2, picture
    assert picture["height"] <= foot["y"], (picture, foot)


@pytest.mark.parametrize(("width", "height"), PHONES)
@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_image_classification_review_on_a_phone(
    page, shot, lead, annotator, make_user, width, height, shape
):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = projects.create_project(lead.user, title="Animals", label_config=IMAGE_CONFIG)
    picture = png_data_url(1600, 1200) if shape == "landscape" else png_data_url(600, 1400)
    ids = suspects_in_review(
        project, annotator, given=["cat", "dog"], truth=["dog", "dog"], image=picture
    )
    open_on_phone(page, reviewer, project, ids[0], width, height)
    expect(page.locator("#review-suggested")).to_have_text("dog")
    _no_sideways_scroll(page)
    image = page.locator("#review-image")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.getElementById('review-image').complete")
    box, card = image.bounding_box(), page.locator("section.review-data").bounding_box()
    assert (
        card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"] <= width
    ), (box, card)
    ratio = 1600 / 1200 if shape == "landscape" else 600 / 1400
    fit = image.evaluate(
        "(i) => getComputedStyle(i).objectFit"
    )  # contain: drawn at its ratio in its box
    assert fit == "contain" or box["width"] / box["height"] == pytest.approx(ratio, rel=0.03), (
        fit,
        box,
    )
    in_sight_above_the_decisions(page, box, decisions_on_screen(page))
    shot(page, f"review-phone-image-{shape}-{width}")
    page.keyboard.press(
        "r"
    )  # relabel: the picker grows the decisions; the picture stays in sight above them
    expect(page.locator("#review-picker")).to_be_visible()
    page.wait_for_timeout(300)  # a smooth scroll, if any, is over
    shown, foot = image.bounding_box(), page.locator("section.review-actions").bounding_box()
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= foot["y"] + 1, (shown, foot)
    shot(page, f"review-phone-image-{shape}-{width}-relabel")
    for target in (page.locator(".picker-option").last, page.locator("#review-confirm")):
        target.scroll_into_view_if_needed()
        _inside(page, target)
    page.locator(".picker-option", has_text="dog").click()
    page.locator("#review-confirm").click()
    expect(page.locator("#review-empty")).to_be_visible()
    assert task(ids[0]).final_label[0]["value"]["choices"] == ["dog"]


@pytest.mark.parametrize(("width", "height"), PHONES)
def test_box_review_on_a_phone(page, shot, lead, annotator, make_user, width, height):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project, tid = box_suspect(lead.user, annotator, image=png_data_url(1600, 1200))
    open_on_phone(page, reviewer, project, tid, width, height)
    expect(page.locator(".anno-region")).to_have_count(len(PEOPLE_BOXES))
    page.wait_for_timeout(300)  # the image fitted to its view
    _no_sideways_scroll(page)
    view = page.locator(".anno-image-view")
    image = page.locator(".anno-image-view img").first
    shown, room = image.bounding_box(), view.bounding_box()
    assert room["x"] >= 0 and room["x"] + room["width"] <= width, room
    # fitted: the whole picture in its view, as wide as the view or as high
    assert (
        shown["x"] >= room["x"] - 1 and shown["x"] + shown["width"] <= room["x"] + room["width"] + 1
    ), (shown, room)
    assert (
        shown["y"] >= room["y"] - 1
        and shown["y"] + shown["height"] <= room["y"] + room["height"] + 1
    ), (shown, room)
    assert shown["width"] >= room["width"] - 2 or shown["height"] >= room["height"] - 2, (
        shown,
        room,
    )
    # the box (10%, 20%, 40% x 40% of the picture) drawn there on the picture
    drawn = page.locator(".a9s-annotationlayer .a9s-annotation").first.bounding_box()
    v = PEOPLE_BOXES[0]["value"]
    want = {
        "x": shown["x"] + shown["width"] * v["x"] / 100,
        "y": shown["y"] + shown["height"] * v["y"] / 100,
        "width": shown["width"] * v["width"] / 100,
        "height": shown["height"] * v["height"] / 100,
    }
    for key in want:
        assert drawn[key] == pytest.approx(want[key], abs=3), (drawn, want)
    in_sight_above_the_decisions(page, shown, decisions_on_screen(page))
    shot(page, f"review-phone-boxes-{width}")
