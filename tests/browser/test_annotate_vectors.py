"""Polygons on the labeling page, with Label Studio's own template (semantic segmentation with
polygons): a label key, clicks on the corners, the first corner again to close, Enter submits;
the stored result is Label Studio's polygonlabels in percent of the image."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling import projects
from labeling.imports import ImportFile
from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_bytes

pytestmark = pytest.mark.browser

TEMPLATE = (Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
            / "computer-vision__semantic-segmentation-with-polygons.xml").read_text(encoding="utf-8")
CORNERS = [(0.2, 0.25), (0.5, 0.25), (0.5, 0.65), (0.2, 0.65)]


def test_draw_a_polygon_with_a_label_key_and_submit(page, shot, lead, annotator):
    project = make_project(lead, TEMPLATE, None, title="Segmentation",
                           files=[ImportFile(name="plane.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("2")  # Car
    b = image.bounding_box()
    for fx, fy in [*CORNERS, CORNERS[0]]:
        page.mouse.click(b["x"] + b["width"] * fx, b["y"] + b["height"] * fy)
        page.wait_for_timeout(80)
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Car")
    expect(regions).to_contain_text("4 corners")
    shot(page, "annotate-polygon")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    (poly,) = saved.result
    assert poly["type"] == "polygonlabels" and poly["value"]["polygonlabels"] == ["Car"]
    assert poly["value"]["closed"] is True and (poly["original_width"], poly["original_height"]) == (640, 400)
    points = poly["value"]["points"]
    assert len(points) == 4
    for (x, y), (fx, fy) in zip(points, CORNERS, strict=True):
        assert x == pytest.approx(fx * 100, abs=1.5) and y == pytest.approx(fy * 100, abs=1.5)


ELLIPSES = """<View><Image name="image" value="$image"/>
<EllipseLabels name="cells" toName="image"><Label value="Cell"/><Label value="Nucleus"/></EllipseLabels></View>"""


def test_drag_an_ellipse_with_a_label_key_and_submit(page, shot, lead, annotator):
    project = make_project(lead, ELLIPSES, None, title="Cells",
                           files=[ImportFile(name="cells.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("2")  # Nucleus
    b = image.bounding_box()
    # drag the ellipse's bounding box from 62%,35% to 87%,75% of the image (the drawn disc)
    page.mouse.move(b["x"] + b["width"] * 0.62, b["y"] + b["height"] * 0.35)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.87, b["y"] + b["height"] * 0.75, steps=10)
    page.mouse.up()
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Nucleus")
    shot(page, "annotate-ellipse")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    (ell,) = saved.result
    assert ell["type"] == "ellipselabels" and ell["value"]["ellipselabels"] == ["Nucleus"]
    value = ell["value"]
    for key, want in (("x", 74.5), ("y", 55), ("radiusX", 12.5), ("radiusY", 20), ("rotation", 0)):
        assert value[key] == pytest.approx(want, abs=1.5), key


def test_review_page_draws_the_polygons_of_annotators_who_disagree(page, shot, lead, annotator, make_user):
    from labeling.db import read_session
    from labeling.models import Role, Task, TaskState
    from quality.run.skeleton import run_qc
    from tests.browser.test_annotate import png_data_url
    from tests.browser.test_review_regions import open_review
    from tests.quality.test_qc import import_rows
    from tests.quality.test_qc_regions import square

    def polygon(label):
        item = square(20, 25, 30, label)
        return dict(item, original_width=400, original_height=300)

    project = projects.create_project(lead.user, title="Segmentation review", label_config=TEMPLATE)
    rows = [{"data": {"image": png_data_url(400, 300)},
             "annotations": [{"result": [polygon("Car")], "completed_by": "one@example.com"},
                             {"result": [polygon("Airplane")], "completed_by": "two@example.com"}]}]
    (tid,) = import_rows(lead, project.id, rows)
    assert run_qc(project.id)["status"] == "done"
    with read_session() as s:
        assert s.get(Task, tid).state == TaskState.review
    open_review(page, make_user("rev@example.com", Role.reviewer), project, tid, 1)
    expect(page.locator(".anno-region")).to_contain_text("4 corners")
    shot(page, "review-polygons")


def test_ocr_template_draws_a_box_and_a_polygon_each_with_its_label_and_transcription(page, shot, lead, annotator):
    from tests.browser.test_annotate import png_data_url
    from tests.browser.test_annotate_linked import drag, template, transcribe

    # Label Studio's OCR template unchanged: Labels, Rectangle, Polygon, TextArea perRegion
    project = make_project(lead, template("computer-vision__optical-character-recognition"),
                           [{"ocr": png_data_url(640, 400)}], title="OCR")
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    tools = page.locator("[data-tools] [data-tool]")
    expect(tools).to_have_text(["Box", "Polygon"])
    expect(page.locator('[data-tool="rectangle"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("1")  # Text
    drag(page, image.bounding_box(), 0.1, 0.1, 0.4, 0.2)
    regions = page.locator("[data-regions] .anno-region")
    expect(regions).to_have_count(1)
    transcribe(page, "Total due")
    page.keyboard.press("Escape")  # leaves the text field
    page.keyboard.press("Escape")  # and the box
    page.keyboard.press("w")  # the polygon tool
    expect(page.locator('[data-tool="polygon"]')).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("2")  # Handwriting
    b = image.bounding_box()
    for fx, fy in [*CORNERS, CORNERS[0]]:
        page.mouse.click(b["x"] + b["width"] * fx, b["y"] + b["height"] * fy)
        page.wait_for_timeout(80)
    expect(regions).to_have_count(2)
    expect(regions.nth(1)).to_contain_text("Handwriting")
    expect(regions.nth(1)).to_contain_text("4 corners")
    transcribe(page, "Signed")
    page.keyboard.press("Escape")
    shot(page, "annotate-ocr-polygon")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    by_id: dict[str, dict[str, dict]] = {}
    for item in saved.result:
        by_id.setdefault(item["id"], {})[item["type"]] = item
    assert len(by_id) == 2 and len(saved.result) == 6
    (box,) = [r for r in by_id.values() if "rectangle" in r]
    (poly,) = [r for r in by_id.values() if "polygon" in r]
    assert sorted(box) == ["labels", "rectangle", "textarea"] and sorted(poly) == ["labels", "polygon", "textarea"]
    assert box["labels"]["value"]["labels"] == ["Text"] and box["textarea"]["value"]["text"] == ["Total due"]
    shape = poly["polygon"]
    assert (shape["from_name"], poly["labels"]["from_name"], poly["textarea"]["from_name"]) == ("poly", "label", "transcription")
    assert set(shape["value"]) == {"points", "closed"} and len(shape["value"]["points"]) == 4
    assert poly["labels"]["value"] == {**shape["value"], "labels": ["Handwriting"]}
    assert poly["textarea"]["value"] == {**shape["value"], "text": ["Signed"]}
    for (x, y), (fx, fy) in zip(shape["value"]["points"], CORNERS, strict=True):
        assert x == pytest.approx(fx * 100, abs=1.5) and y == pytest.approx(fy * 100, abs=1.5)
