"""The data manager page (projects/tasks.html) in a real browser: columns hidden and reordered,
sorting by a header, filters as chips, tabs saved as the API's views, and bulk actions on a few
rows and on every task that matches."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from labeling import projects
from labeling.db import read_session, write_session
from labeling.models import Annotation, DmView, LabelIssue, Membership, QualityRun, Role, Task
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'


def choice(value: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def world(lead, annotator, make_user):
    """60 tasks: 0-49 labeled with one 'pos' each, 50-57 open, 58 suspect (QC score 0.1), 59 gold."""
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = projects.create_project(lead.user, title="dm", label_config=CONFIG)
    ids = []
    with write_session() as s:
        s.add(Membership(project_id=project.id, user_id=reviewer.id, role="reviewer"))
        run = QualityRun(project_id=project.id)
        s.add(run)
        for i in range(60):
            state = "labeled" if i < 50 else "suspect" if i == 58 else "open"
            text = HOSTILE if i == 3 else f"review text {i:02d}"
            t = Task(project_id=project.id, data={"text": text, "city": ["Paris", "Rome"][i % 2]}, state=state,
                     n_annotations=1 if i < 50 or i == 58 else 0, is_gold=i == 59)
            s.add(t)
            s.flush()
            ids.append(t.id)
            if i < 50 or i == 58:
                s.add(Annotation(task_id=t.id, project_id=project.id, user_id=annotator.id, result=choice("pos"),
                                 lead_time=float(i)))
        s.add(LabelIssue(run_id=run.id, project_id=project.id, task_id=ids[58], score=0.1, reason="model says neg"))
        s.add(LabelIssue(run_id=run.id, project_id=project.id, task_id=ids[0], score=0.8, reason="fine",
                         is_issue=False))
    return {"project": project.id, "ids": ids, "reviewer": reviewer}


def headers(page) -> list[str]:
    return [t.strip() for t in page.locator("table.dm thead th").all_text_contents()[1:]]


def first_ids(page, n: int = 3) -> list[int]:
    return [int(x) for x in page.locator('table.dm tbody td[data-col="tasks:id"] a').all_text_contents()[:n]]


def settled(page) -> None:
    expect(page.locator("#dm-count")).to_be_visible()
    page.wait_for_load_state("networkidle")


def test_columns_sort_filters_and_tabs(page, shot, lead, world):
    ids = world["ids"]
    login(page, lead.email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    expect(page.locator("#dm-count")).to_have_text("60 tasks")
    assert headers(page)[:4] == ["ID", "text", "city", "State"]
    assert "Agreement" in headers(page) and "QC reason" not in headers(page)
    assert page.title() != "pwned" and page.locator("table.dm img").count() == 0  # data shown as text

    # hide a column, show another, move State before the data with the keyboard
    page.locator("#dm-columns summary").click()
    page.get_by_role("checkbox", name="Agreement", exact=True).uncheck()
    page.get_by_role("checkbox", name="QC reason", exact=True).check()
    state_box = page.get_by_role("checkbox", name="State", exact=True)
    state_box.focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#dm-column-list li").nth(2)).to_have_attribute("data-col", "tasks:state")
    expect(page.get_by_role("checkbox", name="State", exact=True)).to_be_focused()  # it keeps the focus
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#dm-column-list li").nth(1)).to_have_attribute("data-col", "tasks:state")
    expect(page.locator("table.dm thead th").nth(2)).to_have_text("State")
    settled(page)
    assert "Agreement" not in headers(page) and "QC reason" in headers(page)
    assert headers(page)[:3] == ["ID", "State", "text"]
    page.locator("#dm-columns summary").click()
    shot(page, "dm-columns")

    # sort by a header: the suspect's low QC score first, then the reverse
    page.get_by_role("button", name="QC score").click()
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    assert first_ids(page, 2) == [ids[58], ids[0]]
    page.get_by_role("button", name="QC score").click()
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    assert first_ids(page, 1) == [ids[0]]
    page.get_by_role("button", name="ID").click()
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "ascending")

    # filters: state is open, then a data field; each a chip that removes itself
    page.locator("#dm-f-column").select_option(label="State")
    page.locator("#dm-f-state").select_option("open")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("9 tasks match")
    expect(page.locator(".dm-chip")).to_have_text(["State is open×"])
    page.locator("#dm-f-column").select_option(label="data: city")
    page.locator("#dm-f-operator").select_option("equal")
    page.locator("#dm-f-text").fill("Rome")
    page.locator("#dm-f-text").press("Enter")
    expect(page.locator("#dm-count")).to_have_text("5 tasks match")
    expect(page.locator("table.dm tbody tr")).to_have_count(5)  # the table and the count load apart
    assert first_ids(page, 9) == [ids[i] for i in (51, 53, 55, 57, 59)]
    expect(page.locator(f'tr[data-id="{ids[59]}"] .badge.warn')).to_have_text("gold")
    page.locator("#dm-f-column").select_option(label="QC score")
    page.locator("#dm-f-min").fill("0")
    page.locator("#dm-f-max").fill("0.5")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("0 tasks match")
    expect(page.locator("#dm-table")).to_contain_text("No tasks match these filters")
    page.get_by_role("button", name="Remove filter: QC score between 0 – 0.5").click()
    expect(page.locator("#dm-count")).to_have_text("5 tasks match")
    shot(page, "dm-filters")

    # a tab keeps the filters, the order and the columns; renamed, reloaded, deleted
    page.get_by_role("button", name="+ Save as new tab").click()
    page.wait_for_url(re.compile(r"view=\d+"))
    settled(page)
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Tab title").fill("Open in Rome")
    page.get_by_label("Tab title").press("Enter")
    expect(page.get_by_role("tab", name="Open in Rome")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="ID").click()  # descending, saved in the tab
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    page.wait_for_timeout(600)  # the tab is saved 300 ms after the last change
    with read_session() as s:
        view = s.exec(select(DmView)).one()
    assert view.data["title"] == "Open in Rome" and view.data["ordering"] == ["-tasks:id"]
    assert [i["filter"] for i in view.data["filters"]["items"]] == ["filter:tasks:state", "filter:tasks:data.city"]
    assert "tasks:agreement" in view.data["hiddenColumns"]["explore"]
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    page.get_by_role("tab", name="Open in Rome").click()
    page.wait_for_url(re.compile(r"view=\d+"))
    settled(page)
    expect(page.locator("#dm-count")).to_have_text("5 tasks match")
    expect(page.locator(".dm-chip")).to_have_count(2)
    assert first_ids(page, 1) == [ids[59]] and "Agreement" not in headers(page) and headers(page)[1] == "State"
    shot(page, "dm-tab")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete tab").click()
    page.wait_for_url(re.compile(r"/tasks\?$|/tasks$"))
    expect(page.get_by_role("tab")).to_have_count(1)
    with read_session() as s:
        assert s.exec(select(DmView)).all() == []


def run_action(page, title: str, *, reason: str | None = None) -> str:
    page.locator("#dm-action").select_option(label=title)
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#dm-dialog")).to_be_visible()
    if reason is not None:
        page.get_by_role("textbox", name="Reason", exact=True).fill(reason)
    before = page.locator("#dm-result").text_content()
    page.locator("#dm-dialog-ok").click()
    # the dialog's close event comes a moment later: wait for this action's own answer
    expect(page.locator("#dm-result .flash")).not_to_have_text(re.compile(
        "^(Working…|" + re.escape(before or "\0") + ")$"))
    return page.locator("#dm-result").text_content()


def test_bulk_actions_on_rows_and_on_all_that_match(page, shot, lead, world):
    ids = world["ids"]
    login(page, lead.email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    # two rows: one labeled is accepted, one open is refused and says why
    page.get_by_role("button", name="ID").click()
    page.get_by_role("button", name="ID").click()  # descending: tasks 59 to 10 on the first page
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    page.get_by_label(f"Select task {ids[10]}", exact=True).check()
    page.get_by_label(f"Select task {ids[50]}", exact=True).check()
    expect(page.locator("#dm-selected")).to_have_text("2 selected")
    said = run_action(page, "Accept", reason="checked by hand")
    assert "Accepted 1 tasks; 1 left as they are" in said and f"task {ids[50]} (open)" in said
    with read_session() as s:
        assert s.get(Task, ids[10]).state == "accepted" and s.get(Task, ids[50]).state == "open"
    expect(page.locator(f'tr[data-id="{ids[10]}"] .badge')).to_have_text("accepted")
    shot(page, "dm-bulk-result")

    # every labeled task (49, on a page of 50 rows): the whole page, then all that match, less one
    page.locator("#dm-f-column").select_option(label="State")
    page.locator("#dm-f-state").select_option("labeled")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("49 tasks match")
    page.locator("#dm-f-column").select_option(label="Lead time (s)")
    page.locator("#dm-f-operator").select_option("greater_or_equal")
    page.locator("#dm-f-min").fill("5")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("44 tasks match")  # lead times 5..49, less task 10's
    page.locator("#dm-all-page").check()
    expect(page.locator("#dm-selected")).to_have_text("44 selected")
    expect(page.locator("#dm-select-matching")).to_be_hidden()  # the page holds all of them
    page.locator("#dm-all-page").uncheck()
    page.get_by_label(f"Select task {ids[7]}", exact=True).check()
    said = run_action(page, "Mark as gold")
    assert "Marked 1 tasks as gold" in said
    with read_session() as s:
        assert s.get(Task, ids[7]).is_gold

    # remove the lead-time chip: 48 labeled tasks on one page of 50... use a smaller page: the
    # all-that-match offer appears once the count is larger than the page
    page.get_by_role("button", name=re.compile("Remove filter: Lead time")).click()
    expect(page.locator("#dm-count")).to_have_text("48 tasks match")
    page.locator("#dm-all-page").check()
    expect(page.locator("#dm-selected")).to_have_text("48 selected")
    page.get_by_label(f"Select task {ids[9]}", exact=True).uncheck()
    said = run_action(page, "Exclude", reason="bad batch")
    assert "Excluded 47 tasks" in said
    with read_session() as s:
        states = {i: s.get(Task, i).state for i in ids[:50]}
    assert states[ids[9]] == "labeled" and sum(1 for v in states.values() if v == "excluded") == 47

    # delete one task, with its confirmation
    page.get_by_role("button", name="Remove filter: State is labeled").click()
    expect(page.locator("#dm-count")).to_have_text("60 tasks")
    page.get_by_label(f"Select task {ids[57]}", exact=True).check()
    page.locator("#dm-action").select_option(label="Delete tasks")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#dm-dialog-title")).to_have_text("Delete selected tasks?")
    page.get_by_role("button", name="Cancel").click()
    with read_session() as s:
        assert s.get(Task, ids[57]) is not None
    said = run_action(page, "Delete tasks")
    assert "Deleted 1 tasks" in said
    expect(page.locator("#dm-count")).to_have_text("59 tasks")
    with read_session() as s:
        assert s.get(Task, ids[57]) is None


def test_rows_of_the_previous_filter_cannot_be_taken_while_the_table_reloads(page, lead, world):
    """The count may come back before the table: until the new rows are in, a click on "select the
    page" does nothing (it used to select the rows of the previous filter)."""
    login(page, lead.email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    held = []
    page.route(re.compile(r"/tasks/_table\?"), lambda route: held.append(route))  # the table's answer waits
    page.locator("#dm-f-column").select_option(label="State")
    page.locator("#dm-f-state").select_option("open")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("9 tasks match")
    expect(page.locator("#dm-table")).to_have_attribute("aria-busy", "true")
    page.locator("#dm-all-page").click(force=True)  # a real click on the old page's box
    expect(page.locator("#dm-selected")).to_have_text("")
    expect(page.locator("#dm-all-page")).not_to_be_checked()
    held[0].continue_()
    expect(page.locator("#dm-table")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("table.dm tbody tr[data-id]")).to_have_count(9)
    page.locator("#dm-all-page").check()
    expect(page.locator("#dm-selected")).to_have_text("9 selected")


def test_select_all_that_match_beyond_the_page(page, lead, world):
    ids = world["ids"]
    login(page, lead.email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    expect(page.locator("#dm-table button.dm-page")).to_have_text("Next →")
    page.locator("#dm-all-page").check()
    expect(page.locator("#dm-select-matching")).to_have_text("Select all 60 that match")
    page.locator("#dm-select-matching").click()
    expect(page.locator("#dm-selected")).to_have_text("all 60 that match selected")
    page.get_by_role("button", name="Next →").click()
    expect(page.locator(f'tr[data-id="{ids[59]}"] .dm-select')).to_be_checked()
    page.get_by_label(f"Select task {ids[59]}", exact=True).uncheck()  # the gold one
    said = run_action(page, "Send to review", reason="second look")
    assert "Sent 50 tasks to review; 9 left as they are" in said and "(suspect): not labeled yet" in said
    with read_session() as s:
        assert sum(1 for t in s.exec(select(Task)) if t.state == "review") == 50


def test_reviewers_view_without_actions_or_gold(page, world):
    login(page, world["reviewer"].email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    expect(page.locator("#dm-count")).to_have_text("60 tasks")
    assert page.locator("#dm-action").count() == 0 and "Gold" not in headers(page)
    assert page.locator('#dm-f-column option[value="filter:tasks:is_gold"]').count() == 0
    state = json.loads(page.locator("#dm-state").text_content())
    assert state["actions"] == [] and not state["sees_gold"]
    page.locator("#dm-f-column").select_option(label="Annotator")
    page.locator("#dm-f-person").select_option(label="ann <ann@example.com>")
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("51 tasks match")


def test_export_of_ticked_rows_and_of_all_that_match(page, shot, lead, world):
    """The bulk action "export": the ticked rows, or every task that matches the filters beyond
    the page (it said "tick the rows to export here" for all that match)."""
    ids = world["ids"]
    login(page, lead.email)
    page.goto(f"/projects/{world['project']}/tasks")
    settled(page)
    page.get_by_role("button", name="ID").click()
    page.get_by_role("button", name="ID").click()  # descending: tasks 59 to 10 on the first page
    expect(page.locator("table.dm th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    page.get_by_label(f"Select task {ids[51]}", exact=True).check()
    page.get_by_label(f"Select task {ids[12]}", exact=True).check()
    page.locator("#dm-action").select_option(label="Export the selection (Label Studio JSON)")
    with page.expect_download() as got:
        page.get_by_role("button", name="Run").click()
    ticked = json.loads(open(got.value.path()).read())
    assert [t["id"] for t in ticked] == [ids[12], ids[51]]  # an open task too: the selection, all of it
    assert ticked[0]["annotations"][0]["result"] == choice("pos") and ticked[1]["annotations"] == []

    page.locator("#dm-clear-selection").click()
    page.locator("#dm-f-column").select_option(label="ID")
    page.locator("#dm-f-operator").select_option("greater_or_equal")
    page.locator("#dm-f-min").fill(str(ids[3]))
    page.get_by_role("button", name="Add filter").click()
    expect(page.locator("#dm-count")).to_have_text("57 tasks match")  # more than the page's 50
    page.locator("#dm-all-page").check()
    page.locator("#dm-select-matching").click()
    expect(page.locator("#dm-selected")).to_have_text("all 57 that match selected")
    page.get_by_label(f"Select task {ids[40]}", exact=True).uncheck()
    page.locator("#dm-action").select_option(label="Export the selection (Label Studio JSON)")
    with page.expect_download() as got:
        page.get_by_role("button", name="Run").click()
    expect(page.locator("#dm-result")).to_contain_text("Exporting 56 tasks")
    shot(page, "dm-export-all-that-match")
    matched = json.loads(open(got.value.path()).read())
    # every match but the unticked one; the gold task never leaves in an export
    assert [t["id"] for t in matched] == [i for i in ids[3:59] if i != ids[40]]
