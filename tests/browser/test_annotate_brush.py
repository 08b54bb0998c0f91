"""Brush masks on the labeling page, with Label Studio's own template (semantic segmentation with
masks): a label key, a mouse stroke paints a mask, [ and ] size the brush, Esc and another label
start a second mask, E erases, Enter submits. The stored result is Label Studio's brushlabels
with format "rle", and label-studio-sdk's own decoder gives back the painted pixels. A mask of a
prediction is shown and painted on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle, encode_rle
from playwright.sync_api import expect

from labeling.imports import ImportFile
from tests.browser.test_annotate import (
    annotations_of,
    make_project,
    open_annotate,
    png_bytes,
    png_data_url,
)

pytestmark = pytest.mark.browser

TEMPLATE = (Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
            / "computer-vision__semantic-segmentation-with-masks.xml").read_text(encoding="utf-8")
W, H = 640, 400
#: How long a submit may take on a busy shared machine (the brush check decodes the RLE with
#: labeling.rle, no longer importing label-studio-sdk's converter).
SAVE_TIMEOUT = 60_000


def alpha(item: dict) -> np.ndarray:
    """The mask of a brush result item, decoded as label-studio-sdk decodes it (its alpha)."""
    assert item["value"]["format"] == "rle"
    w, h = item["original_width"], item["original_height"]
    return np.reshape(decode_rle(item["value"]["rle"]), (h, w, 4))[:, :, 3]


def stroke(page, image, points: list[tuple[float, float]]) -> None:
    b = image.bounding_box()
    at = [(b["x"] + b["width"] * fx, b["y"] + b["height"] * fy) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()
    page.wait_for_timeout(300)  # one undo step per gesture


def px(fx: float, fy: float) -> tuple[int, int]:
    return int(fy * H), int(fx * W)  # row, column


def test_paint_two_masks_erase_and_submit_rle_the_sdk_decodes(page, shot, lead, annotator):
    project = make_project(lead, TEMPLATE, None, title="Masks",
                           files=[ImportFile(name="street.png", data=png_bytes(W, H))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    expect(page.locator('[data-tool="brush"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("1")  # Airplane
    stroke(page, image, [(0.1, 0.3), (0.4, 0.3)])
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Airplane")
    # a bigger brush: ] ] takes it from 15 to 25 screen pixels
    page.keyboard.press("]")
    page.keyboard.press("]")
    expect(page.locator("[data-brush-size]")).to_contain_text("size 25")
    # Esc leaves the mask; the next stroke with Car is a second mask
    page.keyboard.press("Escape")
    page.keyboard.press("2")  # Car
    stroke(page, image, [(0.6, 0.7), (0.9, 0.7)])
    expect(regions).to_have_count(2)
    expect(regions.nth(1)).to_contain_text("Car")
    # the eraser takes the right end off the Car mask (the selected one)
    page.keyboard.press("e")
    expect(page.locator('[data-tool="eraser"]')).to_have_attribute("aria-pressed", "true")
    stroke(page, image, [(0.9, 0.55), (0.9, 0.85)])
    # Tab selects the masks in turn
    page.keyboard.press("Tab")
    expect(page.locator(".anno-mask.is-selected")).to_have_count(1)
    shot(page, "annotate-brush")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible(timeout=SAVE_TIMEOUT)
    (saved,) = annotations_of(annotator.id, project.id)
    by_label = {item["value"]["brushlabels"][0]: item for item in saved.result}
    assert set(by_label) == {"Airplane", "Car"}
    for item in saved.result:
        assert item["type"] == "brushlabels" and item["from_name"] == "tag" and item["to_name"] == "image"
        assert (item["original_width"], item["original_height"], item["image_rotation"]) == (W, H, 0)
        assert set(item["value"]) == {"format", "rle", "brushlabels"}
    plane, car = alpha(by_label["Airplane"]), alpha(by_label["Car"])
    # painted pixels are set (opaque in the middle of the stroke), others are not
    for fx in (0.1, 0.25, 0.4):
        assert plane[px(fx, 0.3)] == 255
    assert plane[px(0.25, 0.6)] == 0 and plane[px(0.7, 0.7)] == 0
    assert car[px(0.6, 0.7)] == 255 and car[px(0.75, 0.7)] == 255
    assert car[px(0.9, 0.7)] == 0  # erased
    assert car[px(0.25, 0.3)] == 0
    # the brush is wider for the Car: 25 screen pixels against 15
    assert (car[:, px(0.7, 0.7)[1]] > 0).sum() > (plane[:, px(0.25, 0.3)[1]] > 0).sum() * 1.4


def test_a_predicted_mask_is_shown_and_painted_on(page, shot, lead, annotator):
    predicted = np.zeros((H, W), dtype=np.uint8)
    predicted[40:120, 40:200] = 255  # a block at the top left
    rgba = np.repeat(predicted[:, :, None], 4, axis=2).ravel()
    item = {"id": "pred1", "from_name": "tag", "to_name": "image", "type": "brushlabels",
            "original_width": W, "original_height": H, "image_rotation": 0,
            "value": {"format": "rle", "rle": [int(b) for b in encode_rle(rgba)], "brushlabels": ["Car"]}}
    tasks = [{"data": {"image": png_data_url(W, H)},
              "predictions": [{"model_version": "seg-v1", "score": 0.8, "result": [item]}]}]
    project = make_project(lead, TEMPLATE, tasks, title="Predicted masks", show_predictions=True)
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(page.locator('[data-anno="prediction"]')).to_contain_text("seg-v1")
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Car")
    expect(page.locator(".anno-mask")).to_have_count(1)
    # select the predicted mask (Tab) and paint on it: the stroke joins it
    page.keyboard.press("Tab")
    expect(page.locator(".anno-mask.is-selected")).to_have_count(1)
    stroke(page, image, [(0.5, 0.8), (0.8, 0.8)])
    expect(regions).to_have_count(1)
    shot(page, "annotate-brush-prediction")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible(timeout=SAVE_TIMEOUT)
    (saved,) = annotations_of(annotator.id, project.id)
    (mask,) = saved.result
    assert mask["id"] == "pred1" and mask["value"]["brushlabels"] == ["Car"]
    got = alpha(mask)
    assert (got[40:120, 40:200] == 255).all()  # the predicted block, unchanged
    assert got[px(0.65, 0.8)] == 255  # the new stroke
    assert got[px(0.65, 0.5)] == 0 and got[10, 10] == 0


def test_review_page_shows_the_masks_of_annotators_who_disagree(page, shot, lead, annotator, make_user):
    from label_studio_sdk.converter.brush import mask2rle

    from labeling import projects
    from labeling.db import read_session
    from labeling.models import Role, Task, TaskState
    from quality.run.skeleton import run_qc
    from tests.browser.test_review_regions import open_review
    from tests.quality.test_qc import import_rows

    def block(x, y, label):
        m = np.zeros((H, W), dtype=np.uint8)
        m[y:y + 100, x:x + 150] = 255
        return [{"from_name": "tag", "to_name": "image", "type": "brushlabels", "original_width": W,
                 "original_height": H, "image_rotation": 0,
                 "value": {"format": "rle", "rle": mask2rle(m), "brushlabels": [label]}}]

    project = projects.create_project(lead.user, title="Mask review", label_config=TEMPLATE)
    rows = [{"data": {"image": png_data_url(W, H)},
             "annotations": [{"result": block(20, 20, "Car"), "completed_by": "one@example.com"},
                             {"result": block(400, 250, "Car"), "completed_by": "two@example.com"}]}]
    (tid,) = import_rows(lead, project.id, rows)
    assert run_qc(project.id)["status"] == "done"
    with read_session() as s:
        assert s.get(Task, tid).state == TaskState.review
    open_review(page, make_user("rev@example.com", Role.reviewer), project, tid, 1)
    expect(page.locator(".anno-mask")).to_have_count(1)
    expect(page.locator(".anno-region")).to_contain_text("Car")
    shot(page, "review-masks")


def test_a_click_on_a_painted_mask_selects_it(page, shot, lead, annotator):
    """With no mask selected (or another one), a click on a painted mask selects it, as a click on
    a box or a key point does; Backspace then deletes that mask, and a drag from a mask still
    paints a new one."""
    project = make_project(lead, TEMPLATE, None, title="Mask click",
                           files=[ImportFile(name="street.png", data=png_bytes(W, H))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("1")  # Airplane
    stroke(page, image, [(0.1, 0.3), (0.4, 0.3)])
    page.keyboard.press("Escape")
    page.keyboard.press("2")  # Car
    stroke(page, image, [(0.6, 0.7), (0.9, 0.7)])
    page.keyboard.press("Escape")
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(2)
    expect(page.locator(".anno-mask.is-selected")).to_have_count(0)
    b = image.bounding_box()
    page.mouse.click(b["x"] + b["width"] * 0.25, b["y"] + b["height"] * 0.3)  # on the Airplane mask
    selected = page.locator(".anno-region.is-selected")
    expect(selected).to_have_count(1)
    expect(selected).to_contain_text("Airplane")
    expect(page.locator(".anno-mask.is-selected")).to_have_count(1)
    # a click on the other mask moves the selection there
    page.mouse.click(b["x"] + b["width"] * 0.75, b["y"] + b["height"] * 0.7)
    expect(selected).to_contain_text("Car")
    expect(regions).to_have_count(2)  # the clicks made no mask
    shot(page, "annotate-brush-click-select")
    page.keyboard.press("Backspace")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Airplane")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible(timeout=SAVE_TIMEOUT)
    (saved,) = annotations_of(annotator.id, project.id)
    (item,) = saved.result
    assert item["value"]["brushlabels"] == ["Airplane"]
    plane = alpha(item)
    assert plane[px(0.25, 0.3)] == 255 and plane[px(0.75, 0.7)] == 0
