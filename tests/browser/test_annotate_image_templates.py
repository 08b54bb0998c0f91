"""Every image template of Label Studio's (the vendored ones in scope, as bench/ls_templates.py
measures them) opens in the live preview, and each of its drawing tools draws a region of its
type with the mouse: boxes, polygons, ellipses, key points and brush masks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
IMAGE_TEMPLATES = sorted(p.stem for p in TEMPLATES.glob("*.xml") if "<Image" in p.read_text(encoding="utf-8"))
#: The result types a tool's region is stored as (a plain shape labelled by <Labels>: its own type).
TYPES = {"rectangle": {"rectanglelabels", "rectangle"}, "polygon": {"polygonlabels", "polygon"},
         "ellipse": {"ellipselabels", "ellipse"}, "keypoint": {"keypointlabels", "keypoint"},
         "brush": {"brushlabels", "brush"}}


def draw(page, tool: str, box: dict, n: int) -> None:
    """Draw one region with ``tool`` in the n-th fifth of the image."""
    x0 = 0.05 + 0.18 * n

    def at(fx, fy):
        return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy

    if tool in ("rectangle", "ellipse", "brush"):
        page.mouse.move(*at(x0, 0.3))
        page.mouse.down()
        page.mouse.move(*at(x0 + 0.12, 0.5), steps=8)
        page.mouse.up()
    elif tool == "polygon":
        for fx, fy in [(x0, 0.3), (x0 + 0.12, 0.3), (x0 + 0.12, 0.5), (x0, 0.3)]:
            page.mouse.click(*at(fx, fy))
            page.wait_for_timeout(80)
    elif tool == "keypoint":
        page.mouse.click(*at(x0, 0.4))
    page.wait_for_timeout(350)
    page.keyboard.press("Escape")


@pytest.mark.parametrize("name", IMAGE_TEMPLATES)
def test_image_template_opens_and_each_tool_draws(page, shot, lead, name):
    xml = (TEMPLATES / f"{name}.xml").read_text(encoding="utf-8")
    login(page, lead.email)
    page.goto("/projects/preview")
    page.wait_for_function("() => window.labelfabAnnotate && window.labelfabAnnotate.workspace")
    page.evaluate("() => { window.labelfabAnnotate.workspace.root.dataset.before = '1'; }")  # the example's
    page.locator("#preview-xml").fill(xml)
    image = page.locator(".anno-image").first
    expect(image).to_be_visible()
    # the preview's workspace for this XML, its task shown (the image loaded, its tools made)
    page.wait_for_function("() => { const w = window.labelfabAnnotate.workspace;"
                           " return w && w.root.isConnected && !w.root.dataset.before && !w.root.classList.contains('is-loading')"
                           " && Object.values(w.objects).some((o) => o.image && o.image.naturalWidth); }")
    tools = page.evaluate("() => { const w = window.labelfabAnnotate.workspace;"
                          " const o = Object.values(w.objects).find((o) => o.image); return o && o.annotator ? w.imageTools(o) : []; }")
    drawn = [t for t in tools if t in TYPES]
    assert bool(drawn) == any(f"<{tag}" in xml for tag in ("Rectangle", "Polygon", "Ellipse", "KeyPoint", "Brush")), tools
    # keys go to the labeling page, not to the XML just filled in (a "1" typed there would
    # preview the XML again, the image taken away mid-stroke)
    page.locator("#preview-xml").blur()
    box = image.bounding_box()
    for n, tool in enumerate(drawn):
        if len(tools) > 1:
            page.locator(f'[data-tools] [data-tool="{tool}"]').click()
        page.keyboard.press("1")  # the first label, where the tool's control has labels
        draw(page, tool, box, n)
    result = json.loads(page.evaluate("() => JSON.stringify(window.labelfabAnnotate.workspace.getResult())"))
    types = {item["type"] for item in result}
    for tool in drawn:
        assert types & TYPES[tool], f"{name}: the {tool} tool drew nothing ({sorted(types)})"
    if drawn:
        shot(page, f"template-{name}")
