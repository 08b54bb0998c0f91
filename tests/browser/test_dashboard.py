"""The dashboard of the demo project in a real browser, after annotation, a QC run and a release:
every panel rendered with data, charts drawn, tables sortable, panels refreshed by htmx without
a reload, no console errors; a screenshot for people to look at."""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import expect

from insights.context import PANELS
from labeling import annotations, datasets, demo, projects, router
from labeling.models import Role
from quality.run.skeleton import run_qc
from tests.browser.conftest import login
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHARTS_DRAWN = """() => {
  const canvases = [...document.querySelectorAll('canvas[data-chart]')];
  return canvases.length > 0 && canvases.every((c) => window.Chart && window.Chart.getChart(c));
}"""


def demo_after_work(lead, annotators) -> int:
    """The demo digits project after three annotators labeled 150 tasks, a QC run and a release."""
    pid = next(d["id"] for d in demo.load_demo(lead.user) if d["title"] == demo.DIGITS_TITLE)
    projects.update_project(lead.user, pid, overlap=2)  # a second label for the imported ones
    truth = demo.digits_truth()
    rng = random.Random(7)
    for n, annotator in enumerate(annotators):
        for _ in range(50):
            task = router.next_task(pid, annotator.user)
            label = truth[task.file_name]
            if rng.random() > 0.95 - 0.15 * n:  # the third annotator is often wrong
                label = str((int(label) + rng.randint(1, 9)) % 10)
            annotations.submit(task.id, annotator.user, lead_time=rng.uniform(2, 12), source="ui",
                               result=[{"from_name": "label", "to_name": "image", "type": "choices",
                                        "value": {"choices": [label]}}])
    assert run_qc(pid)["status"] == "done"
    datasets.publish(pid, lead.user, note="first release")
    return pid


def test_dashboard_of_the_demo_project(page, shot, make_user):
    lead = make_user("lead@example.com", Role.lead)
    pid = demo_after_work(lead, [make_user(f"annotator{i}@example.com") for i in range(3)])
    login(page, lead.email)
    page.goto(f"/projects/{pid}/dashboard")
    expect(page.get_by_role("heading", name=demo.DIGITS_TITLE)).to_be_visible()
    page.wait_for_function(CHARTS_DRAWN)
    # the pairs of annotators (which the QC run does not store) come from the agreement job that
    # the first load queued: the kappa panel asks again every 3 s until the job has stored them
    page.wait_for_function("() => Number(document.querySelector('#panel-kappa').dataset.rows) > 0",
                           timeout=60_000)

    # every panel is there and has data
    for name, title in PANELS.items():
        panel = page.locator(f"#panel-{name}")
        expect(panel).to_be_visible()
        expect(panel.get_by_role("heading", name=title)).to_be_visible()
        assert int(panel.get_attribute("data-rows")) > 0, f"panel {name} has no data"
        expect(panel.get_by_role("link", name="CSV")).to_have_attribute("href", f"/api/projects/{pid}/stats/{name}.csv")
    assert page.locator("canvas[data-chart]").count() == 5
    tiles = page.locator("#panel-summary")
    expect(tiles).to_contain_text("Done labeling")
    expect(tiles).to_contain_text("α 0.")  # agreement measured
    expect(page.locator("#panel-datasets")).to_contain_text("first release")
    expect(page.locator("#panel-annotators")).to_contain_text("annotator2@example.com")

    # a confused label pair links to its items
    with page.expect_navigation():
        page.locator("#panel-confused_pairs tbody a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Items given")
    assert page.locator("table.items tbody tr").count() > 0
    page.go_back()
    page.wait_for_function(CHARTS_DRAWN)

    # the annotators table sorts by a column, high to low first
    table = page.locator("#t-annotators")
    table.get_by_role("button", name="Agreement").click()
    expect(table.locator("th").nth(7)).to_have_attribute("aria-sort", "descending")
    values = [float(v) for v in table.locator("tbody tr td:nth-child(8)").evaluate_all(
        "(cells) => cells.map((c) => c.dataset.v).filter((v) => v !== '')")]
    assert len(values) >= 3 and values == sorted(values, reverse=True)

    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "dashboard")  # what a lead sees first
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)

    # a refresh (what hx-trigger="every 30s" sends) swaps each panel in place: no reload, charts
    # drawn again on the new canvases, the sort order kept
    page.evaluate("window.__notReloaded = true")
    page.evaluate("""() => document.querySelectorAll('[hx-trigger="every 30s"]').forEach((el) => {
        el.dataset.old = '1';
        htmx.ajax('GET', el.getAttribute('hx-get'), {source: el, target: el, swap: 'outerHTML'});
    })""")
    page.wait_for_function("() => !document.querySelector('[data-old]')")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.evaluate("window.__notReloaded === true")
    expect(page.locator("#t-annotators th").nth(7)).to_have_attribute("aria-sort", "descending")
    assert page.locator("#panel-summary").count() == 1 and page.locator(".panel").count() == len(PANELS)


def test_overview_lists_the_projects_of_a_lead(page, make_user):
    lead = make_user("lead@example.com", Role.lead)
    demo.load_demo(lead.user)
    login(page, lead.email)
    page.get_by_role("link", name="Overview", exact=True).click()
    expect(page.get_by_role("heading", name="All projects")).to_be_visible()
    rows = page.locator("#t-overview tbody tr")
    expect(rows).to_have_count(2)
    # the uppercased header keeps its Greek alpha (it read "AGREEMENT A")
    header = page.locator("#t-overview thead").get_by_role("button", name="Agreement")
    expect(header).to_have_text("AGREEMENT α", use_inner_text=True)  # as rendered, once styled
    page.get_by_role("link", name=demo.TEXT_TITLE).click()
    expect(page.locator("#panel-states")).to_contain_text("36")
