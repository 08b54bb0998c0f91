"""Time series on the labeling page (uPlot charts), keyboard first: a range and an instant event
marked with the keys, on inline columns and on a CSV read by URL; each stored result is what
Label Studio's editor stores. The mouse marks a range by dragging too, and Delete removes it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.web.test_timeseries_api import HEADLESS_CSV, csv_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
INLINE = """<View>
  <TimeSeriesLabels name="label" toName="ts">
    <Label value="Run" background="#d62728"/><Label value="Walk" background="#2ca02c"/>
  </TimeSeriesLabels>
  <TimeSeries name="ts" value="$ts" valueType="json" timeColumn="t">
    <Channel column="speed" legend="Speed" strokeColor="#1f77b4"/>
    <Channel column="accel" legend="Acceleration" strokeColor="#ff7f0e"/>
  </TimeSeries>
</View>"""
DATA = {"ts": {"t": list(range(30)), "speed": [round(math.sin(i / 3) * 10, 2) for i in range(30)],
               "accel": [round(math.cos(i / 3) * 5, 2) for i in range(30)]}}


def _press(page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def _values(result: list[dict]) -> list[tuple]:
    return [(r["from_name"], r["to_name"], r["type"], r["value"]) for r in result]


def test_a_range_and_an_instant_event_on_inline_columns_with_the_keys(page, shot, lead, annotator):
    project = make_project(lead, INLINE, [DATA], title="Inline series")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    expect(page.locator(".anno-series-chart")).to_have_count(2)  # one chart per channel
    page.keyboard.press("ArrowRight")  # from the page to the chart
    expect(page.locator("[data-series]")).to_be_focused()
    _press(page, "ArrowRight", 3)
    expect(page.locator("[data-series-status]")).to_contain_text("Cursor at 3 (point 4 of 30)")
    page.keyboard.press("1")  # the active label: Run
    page.keyboard.press("[")
    _press(page, "ArrowRight", 4)
    page.keyboard.press("]")
    expect(page.locator(".anno-region")).to_have_count(1)
    expect(page.locator(".anno-region").first).to_contain_text("Run")
    page.keyboard.press("Escape")  # deselect, so the next label key picks the label, not relabels
    page.keyboard.press("Shift+ArrowRight")  # ten points on: 17
    page.keyboard.press("2")  # Walk
    page.keyboard.press(".")
    expect(page.locator(".anno-region")).to_have_count(2)
    page.keyboard.press("+")  # zoom in around the cursor; the marks stay
    shot(page, "annotate-timeseries-inline")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert _values(saved.result) == [
        ("label", "ts", "timeserieslabels", {"start": 3, "end": 7, "instant": False, "timeserieslabels": ["Run"]}),
        ("label", "ts", "timeserieslabels", {"start": 17, "end": 17, "instant": True, "timeserieslabels": ["Walk"]}),
    ]
    assert all(isinstance(r["id"], str) and r["id"] for r in saved.result)


def test_a_csv_by_url_gets_time_strings_in_its_format(page, shot, lead, annotator, csv_server):  # noqa: F811
    xml = (TEMPLATES / "time-series-analysis__change-point-detection.xml").read_text()
    project = make_project(lead, xml, [{"csv": f"{csv_server}/s.csv"}], title="Change points")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    expect(page.locator(".anno-series-chart")).to_have_count(1)
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-series]")).to_be_focused()
    page.keyboard.press("1")  # Change
    page.keyboard.press("ArrowRight")
    page.keyboard.press("[")
    _press(page, "ArrowRight", 2)
    page.keyboard.press("]")
    expect(page.locator(".anno-region")).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("Home")  # the first point shown
    page.keyboard.press(".")
    expect(page.locator(".anno-region")).to_have_count(2)
    shot(page, "annotate-timeseries-url")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert _values(saved.result) == [
        ("label", "ts", "timeserieslabels", {"start": "2019-01-01 00:00:01.000000", "end": "2019-01-01 00:00:03.000000",
                                             "instant": False, "timeserieslabels": ["Change"]}),
        ("label", "ts", "timeserieslabels", {"start": "2019-01-01 00:00:00.000000", "end": "2019-01-01 00:00:00.000000",
                                             "instant": True, "timeserieslabels": ["Change"]}),
    ]


HEADLESS = """<View>
  <TimeSeriesLabels name="label" toName="ts"><Label value="Step"/></TimeSeriesLabels>
  <TimeSeries name="ts" value="$csv" valueType="url" sep="," timeColumn="0">
    <MultiChannel>
      <Channel column="1" legend="Square" strokeColor="#d62728"/>
      <Channel column="2" legend="Falling" strokeColor="#2ca02c"/>
    </MultiChannel>
    <Channel column="3" legend="Cycle"/>
  </TimeSeries>
</View>"""


def test_a_csv_without_a_header_and_a_multichannel_plot(page, shot, lead, annotator, csv_server):  # noqa: F811
    project = make_project(lead, HEADLESS, [{"csv": f"{csv_server}/headless.csv"}], title="Headless")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    charts = page.locator(".anno-series-chart")
    expect(charts).to_have_count(2)  # the MultiChannel's two channels share the first chart
    expect(charts.first).to_have_attribute("data-series-channels", "2")
    legend = charts.first.locator(".u-legend")
    expect(legend).to_contain_text("Square")
    expect(legend).to_contain_text("Falling")
    expect(charts.nth(1).locator(".u-legend")).to_contain_text("Cycle")
    page.keyboard.press("ArrowRight")  # from the page to the chart
    expect(page.locator("[data-series]")).to_be_focused()
    page.keyboard.press("1")  # Step
    _press(page, "ArrowRight", 2)
    page.keyboard.press("[")
    _press(page, "ArrowRight", 3)
    page.keyboard.press("]")
    expect(page.locator(".anno-region")).to_have_count(1)
    shot(page, "annotate-timeseries-multichannel")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    times = [float(line.split(",")[0]) for line in HEADLESS_CSV.splitlines()]
    assert _values(saved.result) == [  # the time column's values (column 0) of points 2 and 5
        ("label", "ts", "timeserieslabels", {"start": times[2], "end": times[5], "instant": False,
                                             "timeserieslabels": ["Step"]}),
    ]


def test_dragging_with_the_mouse_marks_a_range_and_delete_removes_it(page, lead, annotator):
    project = make_project(lead, INLINE, [DATA], title="Mouse series")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    over = page.locator(".anno-series-chart .u-over").first
    expect(over).to_be_visible()
    page.keyboard.press("2")  # Walk
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    expect(page.locator(".anno-region")).to_have_count(1)
    expect(page.locator(".anno-region").first).to_contain_text("Walk")
    page.keyboard.press("Delete")  # the new range is selected
    expect(page.locator(".anno-region")).to_have_count(0)
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=8)
    page.mouse.up()
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    (item,) = saved.result
    value = item["value"]
    assert value["timeserieslabels"] == ["Walk"] and value["instant"] is False
    assert 0 <= value["start"] < value["end"] <= 29  # points of the series, as the chart showed them


@pytest.mark.parametrize("name", sorted(p.stem for p in TEMPLATES.glob("time-series-analysis__*.xml")))
def test_each_time_series_template_previews_a_chart_that_takes_the_keys(page, shot, lead, name):
    xml = (TEMPLATES / f"{name}.xml").read_text(encoding="utf-8")
    login(page, lead.email)
    page.goto("/projects/preview")
    page.wait_for_function("() => window.labelfabAnnotate && window.labelfabAnnotate.workspace")
    page.locator("#preview-xml").fill(xml)
    channels = xml.count("<Channel")
    expect(page.locator(".anno-series-chart")).to_have_count(channels)  # the made-up series, one chart per channel
    page.locator("[data-series]").focus()
    page.keyboard.press("1")  # the first label of the TimeSeriesLabels
    page.keyboard.press("ArrowRight")
    page.keyboard.press(".")
    result = json.loads(page.evaluate("() => JSON.stringify(window.labelfabAnnotate.workspace.getResult())"))
    (event,) = [r for r in result if r["type"] == "timeserieslabels"]
    value = event["value"]
    assert value["instant"] is True and value["start"] == value["end"] and len(value["timeserieslabels"]) == 1
    dated = 'timeFormat="%Y-%m-%d %H:%M:%S.%f"' in xml
    assert value["start"] == ("2024-01-01 00:00:01.000000" if dated else 1)
    if name.endswith("signal-quality"):
        shot(page, f"template-{name}")


def test_on_a_phone_the_charts_leave_the_labels_and_submit_on_screen(page, shot, lead, annotator):
    from tests.browser.test_small_screens import fits_the_window

    project = make_project(lead, INLINE, [DATA], title="Phone series")
    page.set_viewport_size({"width": 390, "height": 844})
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-series canvas").first).to_be_visible()
    fits_the_window(page)
    for label in page.locator(".anno-label").all():
        box = label.bounding_box()
        assert box["y"] + box["height"] <= 844, box
    shot(page, "timeseries-phone")
