"""The label config editor's live preview (the settings page, a new project's page) lays out by its
own width as the labeling page lays out by the window's: an image fills the preview's width, never
wider, in a view no taller than the image."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labeling import projects
from labeling.schema import gallery
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

XML = {g["id"]: g["xml"] for g in gallery()}

MEASURE = """() => {
  const pane = document.querySelector('#config-preview');
  const style = getComputedStyle(pane);
  const box = (sel) => { const r = pane.querySelector(sel).getBoundingClientRect(); return {width: r.width, height: r.height}; };
  return {pane: pane.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
          pane_scroll: pane.scrollWidth - pane.clientWidth,
          view: box('.anno-image-view'), image: box('.anno-image'), side: box('.anno-side')};
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_settings_preview_of_an_image_template_fills_its_width_as_the_labeling_page_does(
        page, shot, lead, width, height):
    project = projects.create_project(lead.user, title="Pets", label_config=XML["image_classification"])
    page.set_viewport_size({"width": width, "height": height})
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/settings")
    expect(page.locator("#config-preview .anno-image")).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('#config-preview .anno-image');"
                           " return i && i.complete && i.naturalWidth > 0 && i.style.width !== ''; }")
    page.locator("#config-preview").scroll_into_view_if_needed()
    shot(page, f"config-preview-image-{width}")
    m = page.evaluate(MEASURE)
    # the image takes the preview's width (the sample is wider than tall), as on a labeling page that
    # wide: not a narrow column beside the labels, and never wider than the preview
    assert 0.9 * m["pane"] <= m["image"]["width"] <= m["pane"], m
    assert m["pane_scroll"] <= 0, m
    # the labels below it, full width, as the labeling page puts them in a window this narrow
    assert m["side"]["width"] >= 0.9 * m["pane"], m
    # no empty grey area under the image: the view is as tall as the image it shows
    assert m["view"]["height"] <= m["image"]["height"] + 4, m
