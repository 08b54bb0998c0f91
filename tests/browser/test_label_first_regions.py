"""Label first, then draw, on images (Label Studio's way): a label key pressed right after a region
was drawn with a label picked ahead picks the next region's label and leaves the drawn one as it
was, for boxes, key points and brush masks alike; a region the annotator selects still takes the
key (relabelled)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.imports import ImportFile
from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_bytes
from tests.browser.test_walkthrough_defects import drag

pytestmark = pytest.mark.browser

T = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
TEMPLATES = {  # the tool -> Label Studio's template, its labels 1 and 2
    "rectangle": ("computer-vision__object-detection-with-bounding-boxes", "rectanglelabels", ("Airplane", "Car")),
    "keypoint": ("computer-vision__keypoints", "keypointlabels", ("Face", "Nose")),
    "brush": ("computer-vision__semantic-segmentation-with-masks", "brushlabels", ("Airplane", "Car")),
}


def draw(page, tool: str, b: dict, x: float, y: float) -> None:
    if tool == "keypoint":
        page.mouse.click(b["x"] + b["width"] * x, b["y"] + b["height"] * y)
    else:
        drag(page, b, x, y, x + 0.2, y + 0.2)


@pytest.mark.parametrize("tool", list(TEMPLATES))
def test_label_draw_label_draw_gives_each_region_its_own_label(page, shot, lead, annotator, tool):
    name, kind, (first, second) = TEMPLATES[tool]
    project = make_project(lead, (T / f"{name}.xml").read_text(encoding="utf-8"), None, title="Label first",
                           files=[ImportFile(name="scene.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    b = image.bounding_box()
    regions = page.locator("[data-regions] .anno-region")
    page.keyboard.press("1")
    draw(page, tool, b, 0.1, 0.1)
    expect(regions).to_have_count(1)
    page.keyboard.press("2")  # the next region's label: the one just drawn keeps its own
    expect(regions.nth(0)).to_contain_text(first)
    draw(page, tool, b, 0.6, 0.5)
    expect(regions).to_have_count(2)
    expect(regions.nth(1)).to_contain_text(second)
    shot(page, f"label-first-{tool}")
    regions.nth(0).locator(".anno-region-name").click()  # selected by the annotator: a key relabels it
    page.keyboard.press("2")
    expect(regions.nth(0)).to_contain_text(second)
    page.keyboard.press("1")
    expect(regions.nth(0)).to_contain_text(first)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    labels = sorted((round(r["value"].get("x", 0)), r["value"][kind][0]) for r in saved.result if r["type"] == kind)
    if tool == "brush":  # a mask has no x: its two labels, one mask each
        assert sorted(label for _, label in labels) == [first, second]
    else:
        assert [label for _, label in labels] == [first, second] and labels[0][0] < labels[1][0]
