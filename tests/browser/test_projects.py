"""Projects in a real browser: create from the config gallery, edit, archive, an invalid config
refused on the form, the upload page (drag-and-drop, JSON with annotations, CSV, errors, a large
import run as a job, a zip of images in ImageFolder layout) and the task list for leads."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect
from sqlmodel import select

from labeling import imports, projects
from labeling.db import get_engine, read_session
from labeling.models import Annotation, ImportBatch, Project, Task, User
from labeling.schema import gallery, schema_of
from labeling.settings import get_settings
from tests.browser.conftest import login, save_shot
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

XML = {g["id"]: g["xml"] for g in gallery()}


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def count(model, project_id: int) -> int:
    with read_session() as s:
        return s.execute(select(sa.func.count()).select_from(model).where(model.project_id == project_id)).scalar_one()


def drop_files(page, files: list[tuple[str, bytes, str]], target: str = "#dropzone") -> None:
    """Drop files on ``target`` as a user dragging them from the desktop would: dragenter,
    dragover and drop events carrying a DataTransfer with the files."""
    payload = [{"name": n, "b64": base64.b64encode(d).decode(), "type": t} for n, d, t in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": transfer})


def record_progress(page) -> None:
    """Keep every text the upload page's progress line shows, in ``window.progressSeen``."""
    page.evaluate(
        """() => {
            window.progressSeen = [];
            const node = document.getElementById('progress-text');
            new MutationObserver(() => window.progressSeen.push(node.textContent))
                .observe(node, { childList: true, characterData: true, subtree: true });
        }"""
    )


def png(color: tuple[int, int, int], size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- projects


def test_a_lead_creates_edits_and_archives_a_project_from_the_gallery(page, shot, lead):
    login(page, lead.email)
    page.goto("/projects")
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    expect(page.locator(".gallery")).to_have_attribute("open", "")
    shot(page, "projects-gallery")

    page.get_by_label("Title", exact=True).fill("Review sentiment")
    page.get_by_label("Description").fill("Customer reviews, 2024")
    page.get_by_label("Instructions shown to annotators").fill("Pick the overall tone.")
    page.get_by_label("Annotations per task (overlap)").fill("2")
    page.get_by_role("button", name="Use Text classification (sentiment)", exact=True).click()
    expect(page.locator("#label_config")).to_have_value(XML["text_classification"].strip() + "\n")
    expect(page.locator("#config-status")).to_contain_text("Valid")
    expect(page.locator("#config-status")).to_contain_text("$text")
    shot(page, "projects-new-form")
    page.get_by_role("button", name="Create project").click()

    # on to the upload page, with the project created as typed
    expect(page.get_by_role("heading", name="Review sentiment: import data")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("created")
    with read_session() as s:
        project = s.exec(select(Project).where(Project.title == "Review sentiment")).one()
    assert (project.overlap, project.description, project.instructions) == (2, "Customer reviews, 2024",
                                                                          "Pick the overall tone.")
    assert schema_of(project).kind == "classification"

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value("Review sentiment")
    page.get_by_label("Title", exact=True).fill("Review tone")
    page.get_by_label("Annotations per task (overlap)").fill("3")
    page.get_by_label("Instructions shown to annotators").fill("Pick the overall tone.\nIgnore typos.")
    shot(page, "projects-settings")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_have_text("Settings saved.")
    expect(page.get_by_label("Title", exact=True)).to_have_value("Review tone")
    expect(page.get_by_label("Annotations per task (overlap)")).to_have_value("3")
    with read_session() as s:
        project = s.get(Project, project.id)
    assert (project.title, project.overlap, project.instructions) == ("Review tone", 3,
                                                                      "Pick the overall tone.\nIgnore typos.")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Overview").click()
    expect(page.locator(".prewrap")).to_have_text("Pick the overall tone.\nIgnore typos.")

    page.goto("/projects")
    row = page.locator(".projects-table tr", has_text="Review tone")
    expect(row).to_contain_text("classification")
    shot(page, "projects-list")
    row.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Archive project").click()
    expect(page.locator(".flash-success")).to_contain_text("archived")
    expect(page.locator(".projects-table tr", has_text="Review tone")).to_have_count(0)
    with read_session() as s:
        assert s.get(Project, project.id).archived_at is not None
    page.get_by_role("link", name="Show archived").click()
    expect(page.locator(".projects-table tr", has_text="Review tone")).to_contain_text("archived")


def test_raising_overlap_on_a_finished_project_says_how_many_reopen_before_saving(page, shot, lead):
    from labeling import lifecycle
    from labeling.db import utcnow, write_session
    from labeling.models import TaskState
    project = projects.create_project(lead.user, title="Finished", label_config=XML["text_classification"])
    label = schema_of(project).primary_control
    result = [{"from_name": label.name, "to_name": label.to_name, "type": "choices",
               "value": {"choices": [label.labels[0]]}}]
    key = sorted(schema_of(project).data_keys)[0]
    imports.import_data(lead.user, project.id, body=[
        {"data": {key: f"review {i}"}, "annotations": [{"result": result, "completed_by": lead.email}]}
        for i in range(4)])
    with write_session() as s:  # QC accepted every task
        lifecycle.move_where(s, where=(Task.project_id == project.id,), from_state=TaskState.labeled,
                             to_state=TaskState.accepted, cause=lifecycle.Cause.qc, project_id=project.id,
                             user_id=None, reason="QC passed", now=utcnow(),
                             values={"final_label": result, "final_source": "single"})
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/settings")
    page.get_by_label("Annotations per task (overlap)").fill("2")
    page.get_by_role("button", name="Save settings").click()
    notice = page.locator(".overlap-change")
    expect(notice).to_contain_text("Overlap 1 → 2: 4 tasks reopen for more annotators")
    expect(notice).to_contain_text("Nothing is saved yet")
    shot(page, "projects-settings-overlap-preview")
    with read_session() as s:
        assert s.get(Project, project.id).overlap == 1
        assert {t.state for t in s.exec(select(Task).where(Task.project_id == project.id))} == {"accepted"}
    expect(page.get_by_label("Annotations per task (overlap)")).to_have_value("2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Settings saved. Overlap 1 → 2: 4 tasks reopen for more annotators.")
    with read_session() as s:
        assert s.get(Project, project.id).overlap == 2
        assert {(t.state, t.target_overlap) for t in s.exec(select(Task).where(Task.project_id == project.id))} \
            == {("open", 2)}


@pytest.mark.parametrize(("xml", "message"), [
    ('<View>\n  <Text name="text" value="$text"/>\n  <Choices name="label" toName="txt">\n'
     '    <Choice value="a"/>\n  </Choices>\n</View>', 'tag <Choices> on line 3'),
    ('<View>\n  <Text name="text" value="$text"/>\n  <Choices name="label" toName="text">\n'
     '    <Choice value="a"/>\n  </Choices>\n  <MagicWand name="mw" toName="text"/>\n</View>', 'tag <MagicWand> on line 6'),
], ids=["missing-toName", "unknown-tag"])
def test_an_invalid_config_is_refused_on_the_form_naming_tag_and_line(page, shot, lead, xml, message):
    # expected answers, which Chromium logs: the live check's 422 and the refused form's 422
    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/(api/projects/validate|projects/new)\)")
    login(page, lead.email)
    page.goto("/projects/new")
    page.get_by_label("Title", exact=True).fill("Broken")
    page.locator("#label_config").fill(xml)
    # the live check says it while typing ...
    expect(page.locator("#config-status")).to_contain_text(message)
    page.get_by_role("button", name="Create project").click()
    # ... and the server refuses the form with the same message, as text: at the top of the
    # page (in view) and under the field
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("The project was not created")
    expect(problems).to_contain_text(message)
    expect(problems).to_be_in_viewport()
    expect(page.locator(".config-editor .field-error")).to_contain_text(message)
    expect(page.locator("#label_config")).to_have_value(xml)
    expect(page.get_by_label("Title", exact=True)).to_have_value("Broken")
    with read_session() as s:
        assert s.exec(select(Project)).all() == []
    shot(page, "projects-new-invalid-config-" + ("toname" if "txt" in xml else "unknown-tag"))


# --------------------------------------------------------------------------- import


def test_upload_by_drag_and_drop_json_with_annotations_and_csv(page, shot, lead):
    project = projects.create_project(lead.user, title="Reviews", label_config=XML["text_classification"])
    tasks = [
        {"data": {"text": "Loved it"}, "annotations": [{"completed_by": "old.hand@example.com",
                                                         "result": choice("positive")}]},
        {"data": {"text": "Broke after a day"}, "annotations": [{"completed_by": lead.email,
                                                                  "result": choice("negative")}],
         "predictions": [{"result": choice("negative"), "score": 0.9}]},
        {"data": {"text": "It is a chair"}},
    ]
    csv_body = "text,source\nFine value,shop\n\"Quote, with comma\",web\n"
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/import")
    expect(page.locator("#upload-button")).to_be_disabled()
    expect(page.get_by_role("button", name="Clear the list")).to_be_hidden()
    shot(page, "projects-upload-empty")

    # a wrong file dropped can be taken off the list again
    drop_files(page, [("notes.txt", b"not for this project\n", "text/plain")])
    expect(page.locator("#file-list")).to_contain_text("notes.txt")
    expect(page.locator("#upload-button")).to_be_enabled()
    page.get_by_role("button", name="Clear the list").click()
    expect(page.locator("#file-list li")).to_have_count(0)
    expect(page.locator("#upload-button")).to_be_disabled()

    drop_files(page, [("reviews.json", json.dumps(tasks).encode(), "application/json"),
                      ("more.csv", csv_body.encode(), "text/csv")])
    expect(page.locator("#file-list li")).to_have_count(3)
    expect(page.locator("#file-list")).to_contain_text("reviews.json")
    expect(page.locator("#file-list")).to_contain_text("more.csv")
    expect(page.locator("#file-list")).to_contain_text("2 file(s)")
    shot(page, "projects-upload-chosen")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#result-summary")).to_contain_text("Imported 5 tasks, 2 annotations, 1 prediction")
    expect(page.locator("#progress-text")).to_have_text("Done.")
    expect(page.locator("#file-list li")).to_have_count(0)
    expect(page.locator("#upload-button")).to_be_disabled()
    # the first import of the project appears under "Recent imports" without a reload
    expect(page.locator("#recent-imports table.imports tbody tr")).to_have_count(1)
    expect(page.locator("#recent-imports")).to_contain_text("reviews.json, more.csv")
    shot(page, "projects-upload-done")

    with read_session() as s:
        rows = s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
        assert [t.data.get("text") for t in rows] == ["Loved it", "Broke after a day", "It is a chair",
                                                       "Fine value", "Quote, with comma"]
        assert [t.file_name for t in rows] == ["reviews.json"] * 3 + ["more.csv"] * 2
        authors = s.exec(select(User.email).join(Annotation, Annotation.user_id == User.id)
                         .where(Annotation.project_id == project.id).order_by(Annotation.id)).all()
        assert authors == ["old.hand@example.com", lead.email]

    # the page's link leads to the tasks just imported; the import is still listed on a reload
    page.locator("#result-summary").get_by_role("link", name="See the tasks").click()
    expect(page.locator("table.tasks tbody tr")).to_have_count(5)
    page.goto(f"/projects/{project.id}/import")
    expect(page.locator("table.imports tbody tr")).to_have_count(1)
    expect(page.locator("table.imports tbody tr")).to_contain_text("reviews.json, more.csv")


def test_an_invalid_file_shows_its_problems_by_row_and_field_and_stores_nothing(page, shot, lead):
    project = projects.create_project(lead.user, title="Reviews", label_config=XML["text_classification"])
    imports.import_data(lead.user, project.id, body=[{"text": "already here"}], background=False)
    bad = [
        {"data": {"text": "fine"}},
        {"data": {"body": "no text field"}},
        {"data": {"text": "odd label"}, "annotations": [{"result": choice("furious")}]},
    ]
    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/api/projects/\d+/import\)")
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/import")
    page.locator("#files").set_input_files([{"name": "bad <b>tasks</b>.json", "mimeType": "application/json",
                                             "buffer": json.dumps(bad).encode()}])
    expect(page.locator("#file-list")).to_contain_text("bad <b>tasks</b>.json")
    page.get_by_role("button", name="Import", exact=True).click()
    summary = page.locator("#result-summary")
    expect(summary).to_have_class("bad")
    expect(page.locator("#upload-progress")).to_be_hidden()
    rows = page.locator("#error-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("bad <b>tasks</b>.json")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("2")
    expect(rows.nth(0)).to_contain_text("text")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("3")
    expect(rows.nth(1)).to_contain_text("furious")
    assert page.locator("#upload-result b").count() == 0
    shot(page, "projects-upload-errors")
    assert count(Task, project.id) == 1
    assert count(Annotation, project.id) == 0
    with read_session() as s:
        assert [b.status for b in s.exec(select(ImportBatch).where(ImportBatch.project_id == project.id))] == ["done"]
    # the file stays chosen: import it again, skipping the invalid rows (the valid one is
    # imported, the others listed)
    expect(page.locator("#file-list li")).to_have_count(2)
    expect(page.locator("#upload-button")).to_be_enabled()
    page.get_by_label("Skip invalid rows").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(summary).to_contain_text("Imported 1 task,")
    expect(summary).to_contain_text("2 invalid rows skipped")
    expect(page.locator("#error-table tbody tr")).to_have_count(2)
    assert count(Task, project.id) == 2


class WriteHold:
    """Hold back an import's writes (not its reads) from the test process: on PostgreSQL a lock
    on the task table (the import job waits at its insert of tasks), on SQLite the database's
    write lock (the job waits at its next write)."""

    def __init__(self):
        engine = get_engine()
        self.postgres = engine.dialect.name == "postgresql"
        self.engine = engine if self.postgres else engine.execution_options(immediate=True)
        self.conn = None

    def acquire(self) -> None:
        if self.conn is None:
            self.conn = self.engine.connect()
            self.conn.begin()  # BEGIN IMMEDIATE on SQLite
            if self.postgres:
                self.conn.execute(sa.text("LOCK TABLE task IN EXCLUSIVE MODE"))

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None


@pytest.fixture
def small_job_threshold(monkeypatch):
    """A live server on which imports of more than 100 rows run as a job."""
    monkeypatch.setenv("LABELFAB_IMPORT_JOB_THRESHOLD", "100")
    get_settings.cache_clear()
    server = LiveServer()
    yield server
    server.stop()
    monkeypatch.delenv("LABELFAB_IMPORT_JOB_THRESHOLD")
    get_settings.cache_clear()


def test_a_large_import_runs_as_a_job_and_the_page_shows_its_progress(browser, small_job_threshold, shot, lead):
    from tests.browser.conftest import VIEWPORT, ConsoleWatch

    project = projects.create_project(lead.user, title="Many reviews", label_config=XML["text_classification"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text"])
    writer.writerows([f"review number {i}"] for i in range(3000))
    context = browser.new_context(viewport=VIEWPORT, base_url=small_job_threshold.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = ConsoleWatch()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    try:
        login(page, lead.email)
        page.goto(f"/projects/{project.id}/import")
        record_progress(page)
        drop_files(page, [("reviews.csv", out.getvalue().encode(), "text/csv")])
        hold = WriteHold()
        answers = []

        def hold_the_job(route):
            # The import's writes wait while the page shows the job's progress. On PostgreSQL the
            # lock is taken before the upload (the upload itself writes no task); SQLite has one
            # write lock, taken once the server has answered (queued the job), before the page
            # sees the answer.
            response = route.fetch()
            answers.append(response.status)
            hold.acquire()
            route.fulfill(response=response)

        if hold.postgres:
            hold.acquire()
        page.route("**/api/projects/*/import", hold_the_job)
        try:
            page.get_by_role("button", name="Import", exact=True).click()
            expect(page.locator("#progress-text")).to_contain_text("Importing in the background")
            assert answers == [202]  # more rows than the threshold: a job
            expect(page.locator("#upload-progress")).to_be_visible()
            save_shot(page, "projects-upload-job-running")
            assert count(Task, project.id) == 0
        finally:
            hold.release()
        expect(page.locator("#progress-text")).to_have_text("Done.")
        expect(page.locator("#result-summary")).to_contain_text("Imported 3000 tasks")
        assert page.evaluate("document.getElementById('progress-bar').value") == 1
        seen = page.evaluate("window.progressSeen")
        assert any(s.startswith("Importing in the background") for s in seen)
        assert seen[-1] == "Done."
        expect(page.locator("#recent-imports table.imports tbody tr")).to_have_count(1)
        expect(page.locator("#recent-imports .badge")).to_have_text("done")
        shot(page, "projects-upload-job-done")
    finally:
        context.close()
    assert watch.unexpected() == []
    assert count(Task, project.id) == 3000
    with read_session() as s:
        assert s.exec(select(ImportBatch.status).where(ImportBatch.project_id == project.id)).all() == ["done"]


def test_a_zip_in_imagefolder_layout_imports_class_names_as_labels_with_thumbnails(page, shot, lead):
    project = projects.create_project(lead.user, title="Pets", label_config=XML["image_classification"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pets/cat/tabby.png", png((200, 120, 40)))
        z.writestr("pets/cat/black.png", png((20, 20, 20)))
        z.writestr("pets/dog/rex.png", png((90, 60, 30)))
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/import")
    drop_files(page, [("pets.zip", archive.getvalue(), "application/zip")])
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#result-summary")).to_contain_text("Imported 3 tasks, 3 annotations")
    with read_session() as s:
        tasks = s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.file_name)).all()
        labels = {t.file_name: [a.result[0]["value"]["choices"] for a in
                                s.exec(select(Annotation).where(Annotation.task_id == t.id))] for t in tasks}
    assert labels == {"pets/cat/black.png": [["cat"]], "pets/cat/tabby.png": [["cat"]],
                      "pets/dog/rex.png": [["dog"]]}

    page.goto(f"/projects/{project.id}/tasks")
    thumbs = page.locator("table.tasks img.thumb")
    expect(thumbs).to_have_count(3)
    page.wait_for_function("""() => [...document.querySelectorAll('table.tasks img.thumb')]
        .every((img) => img.complete && img.naturalWidth > 0)""")
    expect(page.locator("table.tasks")).to_contain_text("pets/dog/rex.png")
    shot(page, "projects-tasks-images")


# --------------------------------------------------------------------------- task list


def test_the_task_list_filters_by_state_and_searches_in_data(page, shot, lead):
    project = projects.create_project(lead.user, title="Reviews", label_config=XML["text_classification"])
    imports.import_data(lead.user, project.id, background=False, body=[
        {"data": {"text": "The blue kettle is great"}, "annotations": [{"result": choice("positive")}]},
        {"data": {"text": "A blue chair, wobbly"}},
        {"data": {"text": "Red lamp, bright"}},
        {"data": {"text": "<script>document.title='pwned'</script> blue"}},
    ])
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/tasks")
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(4)
    shot(page, "projects-tasks")

    page.goto(f"/projects/{project.id}/tasks?state=labeled")  # the data manager keeps the old links
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("The blue kettle is great")
    expect(rows.first).to_contain_text("labeled")

    page.goto(f"/projects/{project.id}/tasks?state=open&q=blue")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("A blue chair, wobbly")
    expect(rows.nth(1)).to_contain_text("<script>document.title='pwned'</script> blue")
    expect(page.get_by_label("Search in data, file name or id")).to_have_value("blue")
    assert page.title() != "pwned"
    shot(page, "projects-tasks-filtered")

    page.goto(f"/projects/{project.id}/tasks?q=nothing+like+this")
    expect(page.get_by_text("No tasks match these filters.")).to_be_visible()
    assert page.title() != "pwned"

    # a task's id opens the task's page (its data and annotations), not raw JSON
    page.goto(f"/projects/{project.id}/tasks?q=kettle")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").first.click()
    with read_session() as s:
        kettle = s.exec(select(Task.id).where(Task.project_id == project.id).order_by(Task.id)).first()
    expect(page).to_have_url(f"{page.base}/projects/{project.id}/tasks/{kettle}")
    expect(page.locator("main")).to_contain_text("The blue kettle is great")
    expect(page.locator("main")).to_contain_text("positive")
