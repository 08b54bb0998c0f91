"""Project settings and people in a real browser: the label config editor (the live preview
beside the XML follows typing; Save's refusal shown before saving; a gallery template previewed,
then used), the instructions opened before labelling, invite links (set a password, signed in
once, then dead), the admin's Users page, and these pages at 360 px wide."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from labeling import imports, projects
from labeling.db import read_session
from labeling.models import Project, User
from labeling.schema import gallery
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def labelled_project(lead, **settings):
    project = projects.create_project(lead.user, title="Reviews", label_config=TEXT, **settings)
    imports.import_data(lead.user, project.id, body=[
        {"data": {"text": "great"}, "annotations": [{"result": [{"from_name": "label", "to_name": "text",
                                                                  "type": "choices", "value": {"choices": ["pos"]}}],
                                                     "completed_by": "ann@example.com"}]},
        {"data": {"text": "awful"}}])
    return project


def test_the_config_editor_previews_as_you_type_and_refuses_what_save_would(page, shot, lead):
    project = labelled_project(lead)
    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/api/projects/(\d+/)?validate\)")  # the refusals shown
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/settings")
    preview = page.locator("#config-preview")
    expect(preview.get_by_role("radio", name="neg")).to_be_visible()
    expect(page.locator("#config-status")).to_contain_text("Save keeps this project's labels valid")
    xml = page.locator("#label_config")
    xml.fill(TEXT.replace('<Choice value="neg"/>', '<Choice value="neg"/><Choice value="meh"/>'))
    expect(preview.get_by_role("radio", name="meh")).to_be_visible()  # the preview follows typing
    expect(page.locator("#config-status")).to_contain_text("✓ Valid")
    page.locator(".config-preview-pane").scroll_into_view_if_needed()
    shot(page, "people-settings-editor-1280")

    # a label the annotations use, removed: the live check says what Save says, before saving
    xml.fill(TEXT.replace('<Choice value="pos"/>', ""))
    expect(page.locator("#config-status")).to_contain_text("Save would refuse")
    expect(page.locator("#config-errors")).to_contain_text("label 'pos' is used by existing annotations")
    expect(preview).to_contain_text("Save would refuse this config")
    # a syntax error names its line; a click selects that line in the XML
    xml.fill('<View>\n<Text name="text" value="$text"/>\n<Choices name="label" toName="text">\n</View>')
    line = page.locator("#config-errors button.error-line").first
    expect(line).to_be_visible()
    number = int(line.inner_text().split()[1])
    line.click()
    selected = page.evaluate("() => { const t = document.getElementById('label_config');"
                             " return t.value.slice(0, t.selectionStart).split('\\n').length; }")
    assert selected == number
    expect(preview).to_contain_text("cannot be used yet")
    shot(page, "people-settings-error-1280")

    page.set_viewport_size(PHONE)
    page.goto(f"/projects/{project.id}/settings")
    expect(preview.get_by_role("radio", name="neg")).to_be_visible()
    preview.scroll_into_view_if_needed()
    shot(page, "people-settings-preview-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_gallery_template_is_previewed_then_fills_the_editor(page, shot, lead):
    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/projects/new\)")  # the form sent without a title
    login(page, lead.email)
    page.goto("/projects/new")
    ner = next(g for g in gallery() if g["id"] == "ls-natural-language-processing__named-entity-recognition")
    page.get_by_role("searchbox", name="Filter templates").fill("entity recognition")
    expect(page.get_by_role("button", name="Preview Named entity recognition (Label Studio)")).to_be_visible()
    expect(page.get_by_role("button", name="Use Image classification", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Preview Named entity recognition (Label Studio)").click()
    expect(page.locator("#preview-title")).to_have_text("Template: Named entity recognition")
    preview = page.locator("#config-preview")
    expect(preview.get_by_text("ORG", exact=True).first).to_be_visible()
    assert page.locator("#label_config").input_value() == ""  # a preview changes nothing yet
    shot(page, "people-gallery-preview-1280")
    page.get_by_role("button", name="Use this template").click()
    expect(page.locator("#label_config")).to_have_value(ner["xml"].strip() + "\n")
    expect(page.locator("#config-status")).to_contain_text("✓ Valid")
    expect(page.locator("#preview-title")).to_have_text("Live preview of this config")
    # the required-title message goes once the title is typed
    page.get_by_role("button", name="Create project").click()
    expect(page.locator(".field-error", has_text="This field is required.")).to_be_visible()
    page.wait_for_load_state("load")  # the page's scripts listen to the fields once they have run
    page.get_by_label("Title", exact=True).fill("People in the news")
    expect(page.locator(".field-error", has_text="This field is required.")).to_be_hidden()
    page.set_viewport_size(PHONE)
    page.locator("#label_config").scroll_into_view_if_needed()
    shot(page, "people-new-project-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Create project").click()
    with read_session() as s:
        created = s.query(Project).filter(Project.title == "People in the news").one()
    assert created.label_config.strip() == ner["xml"].strip()


def test_instructions_open_before_labelling_when_the_lead_wants(page, shot, lead, annotator):
    project = labelled_project(lead, instructions="Tag the tone.\nNeutral when unsure.")
    login(page, annotator.email)
    page.goto(f"/annotate/{project.id}")
    expect(page.locator(".anno-workspace, [data-anno-root], main")).to_be_visible()
    assert page.locator("#instructions-dialog").count() == 0  # not asked for: no window
    page.context.clear_cookies()
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/settings")
    page.get_by_label("Show the instructions before labelling starts").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_contain_text("Settings saved.")
    # the page's live check of the config (two requests) ends before the lead's session does
    expect(page.locator("#config-status")).to_contain_text("Save keeps this project's labels valid")
    api = page.request.get(f"/api/projects/{project.id}")
    assert api.json()["show_instruction"] is True and api.json()["expert_instruction"].startswith("Tag the tone")
    page.context.clear_cookies()
    login(page, annotator.email)
    page.goto(f"/annotate/{project.id}")
    dialog = page.get_by_role("dialog", name="Before you start: instructions")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Neutral when unsure.")
    shot(page, "people-instructions-1280")
    dialog.get_by_role("button", name="Start labelling").click()
    expect(dialog).to_be_hidden()


def test_an_invite_link_sets_a_password_signs_in_once_then_is_dead(page, shot, lead, browser):
    project = labelled_project(lead)
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/members")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Role").select_option("reviewer")
    page.get_by_role("button", name="Save").click()
    link = page.locator("#invite-link").inner_text().strip()
    assert re.fullmatch(r"http://[^/]+/invite/[\w-]{40,}", link)
    expect(page.get_by_role("row").filter(has_text="newcomer@example.com")).to_contain_text("invited")
    page.set_viewport_size(PHONE)
    shot(page, "people-members-invite-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    other = browser.new_context(base_url=page.base, viewport=PHONE)
    newcomer = other.new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    newcomer.get_by_label("New password").fill("violet anchor orbit 42")
    newcomer.get_by_label("The same password again").fill("violet anchor orbit 42")
    shot(newcomer, "people-invite-accept-360")
    newcomer.get_by_role("button", name="Set password and sign in").click()
    expect(newcomer.locator(".flash-success")).to_contain_text("you are signed in")
    expect(newcomer.locator(".who")).to_contain_text("newcomer@example.com")
    again = newcomer.goto(link)
    assert again.status == 404
    expect(newcomer.locator("main")).to_contain_text("does not work")
    other.close()
    with read_session() as s:
        user = s.query(User).filter(User.email == "newcomer@example.com").one()
        assert user.password_hash and "violet" not in user.password_hash


def test_the_admin_users_page_and_tokens_at_360_and_1280(page, shot, admin, lead):
    login(page, admin.email)
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_label("Email").fill("pipeline-owner@example.com")
    page.get_by_label("Role", exact=True).select_option("lead")
    page.get_by_role("button", name="Create and invite").click()
    expect(page.locator("#invite-link")).to_contain_text("/invite/")
    row = page.get_by_role("row").filter(has_text="pipeline-owner@example.com")
    expect(row).to_contain_text("invited")
    shot(page, "people-users-1280")
    page.set_viewport_size(PHONE)
    shot(page, "people-users-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    row.get_by_label("Role of pipeline-owner@example.com").select_option("reviewer")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("pipeline-owner@example.com: reviewer, active")
    page.goto("/tokens")
    page.get_by_label("Name").fill("phone")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#new-token-key")).to_be_visible()
    shot(page, "people-tokens-360")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
