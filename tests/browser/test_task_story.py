"""Leads and reviewers in a real browser: any task in the editor (a correction is a new version,
the old one kept), the task's story with its final label, and a comment from the labeling page
answered and resolved on the task's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from labeling import annotations
from labeling.db import read_session, write_session
from labeling.models import AnnotationVersion, Comment, Role, Task
from tests.browser.conftest import login
from tests.labeling.test_review import label, make_project, suspects_in_review
from tests.labeling.test_review import task as task_row

pytestmark = pytest.mark.browser


def test_a_lead_corrects_an_annotation_in_the_editor_and_accepts_the_task(page, shot, lead, annotator):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg"], truth=["pos", "pos"])
    ann = annotations.task_annotations(ids[1], lead.user)[0]
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/tasks/{ids[1]}")
    page.locator("[data-open-editor]").click()
    expect(page.locator("#editor-tabs [role=tab]")).to_have_text([f"{annotator.email} · v1"])
    expect(page.locator('.anno-label[data-label="neg"] input')).to_be_checked()
    page.locator('.anno-label[data-label="pos"]').click()
    page.keyboard.press("r")
    expect(page.locator("#editor-status")).to_contain_text("is now version 2")
    expect(page.locator("#editor-tabs [role=tab]")).to_have_text([f"{annotator.email} · v2"])
    shot(page, "task-editor-corrected")
    with read_session() as s:
        kept = s.exec(select(AnnotationVersion).where(AnnotationVersion.annotation_id == ann.id)).all()
    assert [(v.version, v.result, v.changed_by) for v in kept] == [(1, label("neg"), lead.user.id)]
    assert [r["value"] for r in annotations.get_annotation(ann.id, lead.user).result] == [{"choices": ["pos"]}]

    page.keyboard.press("k")  # accept: the task's final label is the corrected one
    expect(page.locator("#editor-state")).to_have_text("accepted")
    accepted = task_row(ids[1])
    assert (accepted.state, [r["value"] for r in accepted.final_label]) == ("accepted", [{"choices": ["pos"]}])

    page.goto(f"/projects/{project.id}/tasks/{ids[1]}")
    expect(page.locator("[data-final-label]")).to_have_text("pos")
    page.locator(".task-versions summary").click()
    expect(page.locator(".task-versions li")).to_contain_text(["v1: neg"])
    expect(page.locator(".task-timeline")).to_contain_text("changed annotation")
    shot(page, "task-story-after-correction")


def test_a_review_stream_walks_a_filter_with_the_keys(page, lead, annotator, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg", "neg"], truth=["pos", "pos", "pos"])
    login(page, reviewer.email)
    query = '{"filters":{"conjunction":"and","items":[{"filter":"filter:tasks:id","operator":"greater",' \
            f'"type":"Number","value":{ids[0]}}}]}}}}'
    page.goto(f"/projects/{project.id}/stream?query={query}")
    expect(page).to_have_url(re.compile(rf"/tasks/{ids[1]}/edit\?query="))
    page.keyboard.press("k")  # a reviewer keeps a task of the review queue
    expect(page.locator("#editor-state")).to_have_text("accepted")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/tasks/{ids[2]}/edit\?query="))
    page.wait_for_load_state("load")  # the editor's keys work once its scripts have run
    page.keyboard.press("x")
    page.locator("#editor-exclude-reason").fill("two digits in one image")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-state")).to_have_text("excluded")
    assert task_row(ids[2]).state == "excluded"
    expect(page.locator("[data-editor=next-task]")).to_have_count(0)


def test_an_annotator_flags_a_task_and_a_reviewer_answers_and_resolves(page, shot, lead, annotator, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    project = make_project(lead.user, overlap=1)
    login(page, annotator.email)
    with write_session() as s:
        t = Task(project_id=project.id, data={"text": "an item with a typo: teh"}, target_overlap=1)
        s.add(t)
        s.flush()
        flagged = t.id
    page.goto(f"/annotate/{project.id}")
    expect(page.locator(".anno-text-body, [data-anno=text]").first).to_contain_text("teh")
    page.keyboard.press("!")
    expect(page.locator("#flag-dialog")).to_be_visible()
    page.locator("#flag-text").fill("The text has a typo; is 'teh' part of the data?")
    shot(page, "annotate-flag-dialog")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#flag-status")).to_contain_text(f"Flagged task {flagged}")
    with read_session() as s:
        [c] = s.exec(select(Comment)).all()
    assert (c.task_id, c.created_by, c.is_resolved) == (flagged, annotator.user.id, False)

    page.context.clear_cookies()
    login(page, reviewer.email)
    page.goto(f"/projects/{project.id}/tasks/{flagged}")
    expect(page.locator(".task-comment")).to_contain_text(["The text has a typo"])
    page.locator("#comment-text").fill("Yes, keep it as it is.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator(".task-comment")).to_have_count(2)
    page.wait_for_load_state("load")  # the page shown again: its scripts (which bind Resolve) have run
    page.locator(f'[data-resolve="{c.id}"]').click()
    expect(page.locator(f'.task-comment[data-comment="{c.id}"] .badge')).to_have_text("resolved")
    expect(page.locator(".task-timeline")).to_contain_text("resolved comment")
    shot(page, "task-story-comments")
    with read_session() as s:
        assert s.get(Comment, c.id).resolved_by == reviewer.user.id


def test_a_flag_carries_the_box_selected_on_the_image(page, shot, lead, annotator):
    from labeling.imports import ImportFile
    from tests.browser.test_annotate import XML, open_annotate, png_bytes
    from tests.browser.test_annotate import make_project as make_image_project

    project = make_image_project(lead, XML["object_detection"], None, title="Street scenes",
                                 files=[ImportFile(name="street.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("2")
    b = image.bounding_box()
    page.mouse.move(b["x"] + b["width"] * 0.25, b["y"] + b["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.75, steps=10)
    page.mouse.up()
    expect(page.locator(".anno-region")).to_have_count(1)  # drawn, and selected
    page.keyboard.press("!")
    expect(page.locator("[data-flag-region]")).to_contain_text("With the selected box (at 25%, 25%")
    page.locator("#flag-text").fill("Two cars overlap here")
    shot(page, "annotate-flag-with-box")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#flag-status")).to_contain_text("Flagged task")
    with read_session() as s:
        [c] = s.exec(select(Comment)).all()
    assert c.text == "Two cars overlap here"
    for key, want in (("x", 25), ("y", 25), ("width", 25), ("height", 50)):
        assert c.region[key] == pytest.approx(want, abs=1.5), key
