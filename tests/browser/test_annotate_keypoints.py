"""Key points on the labeling page, with Label Studio's own key point template: a label key, a
click places a point, a drag moves it, Delete removes the selected one, Ctrl+Z brings it back,
Enter submits; the stored result is Label Studio's keypointlabels in percent of the image, its
width the control's strokeWidth in percent of the image's width on screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.imports import ImportFile
from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_bytes

pytestmark = pytest.mark.browser

TEMPLATE = (Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
            / "computer-vision__keypoints.xml").read_text(encoding="utf-8")


def click_at(page, image, fx: float, fy: float) -> None:
    b = image.bounding_box()
    page.mouse.click(b["x"] + b["width"] * fx, b["y"] + b["height"] * fy)


def test_place_move_delete_and_undo_key_points_then_submit(page, shot, lead, annotator):
    project = make_project(lead, TEMPLATE, None, title="Faces",
                           files=[ImportFile(name="face.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    shown = image.bounding_box()["width"]  # at zoom 1, the image's width on screen
    page.keyboard.press("1")  # Face
    click_at(page, image, 0.25, 0.5)
    page.keyboard.press("2")  # Nose, for the next points (Label Studio's way): the Face stays one
    page.keyboard.press("Escape")
    click_at(page, image, 0.6, 0.3)
    click_at(page, image, 0.8, 0.8)
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(3)
    expect(page.locator(".anno-keypoint")).to_have_count(3)
    expect(regions.nth(0)).to_contain_text("Face")
    expect(regions.nth(1)).to_contain_text("Nose")
    # drag the second point from 60%,30% to 50%,40%
    b = image.bounding_box()
    page.mouse.move(b["x"] + b["width"] * 0.6, b["y"] + b["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.4, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)  # one undo step per gesture
    # the third point is selected with Tab (after the dragged one), and Delete removes it
    page.keyboard.press("Tab")
    expect(page.locator(".anno-keypoint.is-selected")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(page.locator(".anno-keypoint")).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(page.locator(".anno-keypoint")).to_have_count(3)
    page.keyboard.press("Control+y")
    expect(page.locator(".anno-keypoint")).to_have_count(2)
    shot(page, "annotate-keypoints")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    points = sorted(saved.result, key=lambda r: r["value"]["x"])
    assert [p["value"]["keypointlabels"] for p in points] == [["Face"], ["Nose"]]
    for p in points:
        assert p["type"] == "keypointlabels" and p["from_name"] == "kp-1" and p["to_name"] == "img-1"
        assert (p["original_width"], p["original_height"], p["image_rotation"]) == (640, 400, 0)
        assert set(p["value"]) == {"x", "y", "width", "keypointlabels"}
    (first, moved) = points
    assert first["value"]["x"] == pytest.approx(25, abs=1) and first["value"]["y"] == pytest.approx(50, abs=1)
    assert moved["value"]["x"] == pytest.approx(50, abs=1) and moved["value"]["y"] == pytest.approx(40, abs=1)
    # Label Studio's width: strokeWidth (2 px by default) in percent of the image's shown width
    assert first["value"]["width"] == pytest.approx(2 / shown * 100, rel=0.05)


def test_review_page_shows_the_key_points_of_annotators_who_disagree(page, shot, lead, annotator, make_user):
    from labeling import projects
    from labeling.db import read_session
    from labeling.models import Role, Task, TaskState
    from quality.run.skeleton import run_qc
    from tests.browser.test_annotate import png_data_url
    from tests.browser.test_review_regions import open_review
    from tests.quality.test_qc import import_rows

    def points(*xy):
        return [{"from_name": "kp-1", "to_name": "img-1", "type": "keypointlabels", "original_width": 400,
                 "original_height": 300, "image_rotation": 0,
                 "value": {"x": x, "y": y, "width": 0.5, "keypointlabels": ["Nose"]}} for x, y in xy]

    project = projects.create_project(lead.user, title="Key point review", label_config=TEMPLATE)
    rows = [{"data": {"img": png_data_url(400, 300)},
             "annotations": [{"result": points((20, 30), (60, 40)), "completed_by": "one@example.com"},
                             {"result": points((80, 80), (10, 90)), "completed_by": "two@example.com"}]}]
    (tid,) = import_rows(lead, project.id, rows)
    assert run_qc(project.id)["status"] == "done"
    with read_session() as s:
        assert s.get(Task, tid).state == TaskState.review
    open_review(page, make_user("rev@example.com", Role.reviewer), project, tid, 2)
    expect(page.locator(".anno-keypoint")).to_have_count(2)
    expect(page.locator(".anno-region").first).to_contain_text("Nose")
    # the reviewer moves a point with the same tool: Tab selects it, Delete removes it
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    expect(page.locator(".anno-keypoint")).to_have_count(1)
    shot(page, "review-keypoints")
