"""Dialogues, tables and taxonomies on the labeling page, with the keyboard, from Label Studio's
own templates unchanged: ParagraphLabels spans in a dialogue (and a choice on it), a Choices on a
Table, a Taxonomy picked by arrows, Space and search. Each stored result is Label Studio's."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.browser.test_annotate_config_features import tab_to
from tests.browser.test_annotate_keyboard import caret_text

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
DIALOGUE = [{"author": "Alice", "text": "Hi, Bob."}, {"author": "Bob", "text": "Hello, Alice!"},
            {"author": "Alice", "text": "What's up?"}]


def test_paragraph_labels_in_a_dialogue_as_label_studio_stores_them(page, shot, lead, annotator):
    xml = (TEMPLATES / "conversational-ai__intent-classification-and-slot-filling.xml").read_text()
    project = make_project(lead, xml, [{"humanMachineDialogue": DIALOGUE}], title="Slots")
    open_annotate(page, annotator, project)
    paras = page.locator(".anno-para")
    expect(paras).to_have_count(3)
    expect(paras.nth(1)).to_have_attribute("data-author", "Bob")
    expect(paras.nth(1)).to_have_text("Hello, Alice!")  # the speaker is drawn by CSS, not part of the text

    page.keyboard.press("ArrowRight")  # span mode on "Hi"
    page.keyboard.press("ArrowRight")
    assert caret_text(page) == "Bob"
    page.keyboard.press("1")  # Person; the caret moves on to "Hello"
    page.keyboard.press("ArrowRight")
    assert caret_text(page) == "Alice"
    page.keyboard.press("3")  # Location
    expect(page.locator(".anno-region")).to_have_count(2)
    page.keyboard.press("Escape")
    tab_to(page, '[data-control="intent"] input[value="Greeting"]')
    page.keyboard.press("Space")
    shot(page, "annotate-dialogue-paragraph-labels")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    spans = sorted((r["value"] for r in saved.result if r["type"] == "paragraphlabels"), key=lambda v: v["start"])
    assert spans == [
        {"start": "0", "end": "0", "startOffset": 4, "endOffset": 7, "text": "Bob", "paragraphlabels": ["Person"]},
        {"start": "1", "end": "1", "startOffset": 7, "endOffset": 12, "text": "Alice", "paragraphlabels": ["Location"]},
    ]
    assert {(r["from_name"], r["to_name"], r["type"]) for r in saved.result} == {
        ("entity_slot", "dialogue", "paragraphlabels"), ("intent", "dialogue", "choices")}
    (choice,) = [r for r in saved.result if r["type"] == "choices"]
    assert choice["value"] == {"choices": ["Greeting"]}


def test_table_shown_as_rows_and_classified_with_a_key(page, lead, annotator):
    xml = (TEMPLATES / "structured-data-parsing__tabular-data.xml").read_text()
    item = {"Card number": 18799210, "First name": "Max", "Last name": "<b>Nobel</b>"}
    project = make_project(lead, xml, [{"item": item}], title="Table")
    open_annotate(page, annotator, project)
    rows = page.locator(".anno-table tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("th")).to_have_text("Card number")
    expect(rows.nth(2).locator("td")).to_have_text("<b>Nobel</b>")  # as text, never markup
    page.keyboard.press("2")  # Incorrect
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert [(r["from_name"], r["to_name"], r["type"], r["value"]) for r in saved.result] == [
        ("choice", "table", "choices", {"choices": ["Incorrect"]})]


def test_taxonomy_picked_with_arrows_space_and_search(page, shot, lead, annotator):
    xml = (TEMPLATES / "natural-language-processing__taxonomy.xml").read_text()
    project = make_project(lead, xml, [{"text": "A mammal that plays dead."}], title="Taxonomy")
    open_annotate(page, annotator, project)
    tree = page.locator("[data-taxonomy-tree]")
    expect(tree.locator('[role="treeitem"]')).to_have_count(3)  # the roots; Eukarya closed
    tab_to(page, "[data-taxonomy-tree]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(tree.locator(".is-focused")).to_have_text("▸Eukarya")
    page.keyboard.press("ArrowRight")  # opens Eukarya
    expect(tree.locator('[role="treeitem"]')).to_have_count(6)
    page.keyboard.press("ArrowRight")  # to its first child
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")  # Oppossum
    expect(tree.locator('[aria-selected="true"]')).to_have_text("·Oppossum")
    page.keyboard.press("e")  # typing searches
    page.keyboard.type("xtra")
    expect(tree.locator('[role="treeitem"]')).to_have_count(2)  # Eukarya > Extraterrestial
    page.keyboard.press("Enter")  # picks the first match
    expect(page.locator(".anno-taxonomy-chip")).to_have_count(2)
    shot(page, "annotate-taxonomy")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert [(r["from_name"], r["to_name"], r["type"], r["value"]) for r in saved.result] == [
        ("taxonomy", "text", "taxonomy", {"taxonomy": [["Eukarya", "Oppossum"], ["Eukarya", "Extraterrestial"]]})]


def test_on_a_phone_a_long_dialogue_scrolls_in_its_box_and_submit_stays_on_screen(page, shot, lead, annotator):
    from tests.browser.test_small_screens import fits_the_window

    xml = (TEMPLATES / "conversational-ai__intent-classification-and-slot-filling.xml").read_text()
    dialogue = [{"author": ["Alice", "Bob"][i % 2], "text": "I would like a table for two at eight tonight. " * 3}
                for i in range(8)]
    project = make_project(lead, xml, [{"humanMachineDialogue": dialogue}], title="Phone dialogue")
    page.set_viewport_size({"width": 390, "height": 844})
    open_annotate(page, annotator, project)
    text = page.locator(".anno-paragraphs")
    expect(text).to_contain_text("table for two")
    fits_the_window(page)
    assert text.evaluate("(t) => t.scrollHeight > t.clientHeight")  # the dialogue scrolls in its own box
    first = page.locator(".anno-label").first.bounding_box()
    assert first["y"] + first["height"] <= 844, first
    shot(page, "dialogue-phone")
