"""A PDF on the labeling page, with the keyboard: PDF.js draws its pages, PageDown / PageUp turn
them, + and 0 zoom, number keys classify the page shown (perItem) and letter keys the document;
the stored result is Label Studio's shape (one choices item per page with its item_index)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from labeling import predictions
from labeling.db import read_session
from labeling.imports import ImportFile
from labeling.models import Task
from tests.browser.conftest import login
from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.labeling.test_pdfs import CONFIG, pdf_bytes

pytestmark = pytest.mark.browser


def canvas_page(page) -> str | None:
    return page.locator(".anno-pdf-object").get_attribute("data-rendered-page")


def test_page_through_a_pdf_and_classify_pages_and_the_document(page, shot, lead, annotator):
    project = make_project(lead, CONFIG, None, title="Contracts", files=[ImportFile("contract.pdf", pdf_bytes(3))])
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    where = page.locator("[data-page-number]")
    expect(where).to_have_text("1 of 3")
    canvas = page.locator("canvas.anno-pdf-page")
    expect(canvas).to_have_attribute("aria-label", "Page 1 of 3")
    page_choices = page.locator('[data-control="page_type"]')
    expect(page_choices).to_contain_text("page 1")

    page.keyboard.press("1")  # page 1: Cover
    expect(page_choices.locator('input[value="Cover"]')).to_be_checked()
    page.keyboard.press("PageDown")
    expect(where).to_have_text("2 of 3")
    expect(canvas).to_have_attribute("aria-label", "Page 2 of 3")
    expect(page_choices).to_contain_text("page 2")
    expect(page_choices.locator("input:checked")).to_have_count(0)  # page 2 has no answer yet
    page.keyboard.press("2")  # page 2: Body
    page.keyboard.press("PageDown")
    expect(where).to_have_text("3 of 3")
    page.keyboard.press("PageDown")  # the last page: nothing past it
    expect(where).to_have_text("3 of 3")
    page.keyboard.press("2")  # page 3: Body
    page.keyboard.press("i")  # the document: Invoice
    width = canvas.bounding_box()["width"]
    page.keyboard.press("+")
    expect(page.locator("[data-pdf-zoom-level]")).to_have_text("125%")
    page.wait_for_function(f"document.querySelector('canvas.anno-pdf-page').getBoundingClientRect().width > {width + 20}")
    page.keyboard.press("0")
    expect(page.locator("[data-pdf-zoom-level]")).to_have_text("100%")
    page.keyboard.press("PageUp")
    page.keyboard.press("PageUp")
    expect(where).to_have_text("1 of 3")
    assert canvas_page(page) == "0"
    expect(page_choices.locator('input[value="Cover"]')).to_be_checked()  # page 1's answer came back
    expect(page.locator('[data-control="doc_type"] input[value="Invoice"]')).to_be_checked()
    shot(page, "annotate-pdf")

    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    pages = {r["item_index"]: r["value"]["choices"] for r in saved.result if r["from_name"] == "page_type"}
    assert pages == {0: ["Cover"], 1: ["Body"], 2: ["Body"]}
    (doc,) = [r for r in saved.result if r["from_name"] == "doc_type"]
    assert doc["value"] == {"choices": ["Invoice"]} and "item_index" not in doc
    assert all(r["to_name"] == "pdf" and r["type"] == "choices" and r["id"] for r in saved.result)
    assert len({r["id"] for r in saved.result}) == 4  # every page's answer is an area of its own


def test_label_studios_pdf_template_previews_with_a_sample_document(page, shot, lead):
    from tests.web.test_pdf_api import TEMPLATES

    login(page, lead.email)
    page.goto("/projects/preview")
    page.wait_for_load_state("load")
    xml = (TEMPLATES / "structured-data-parsing__pdf-classification.xml").read_text(encoding="utf-8")
    page.locator("#preview-xml").fill(xml)
    canvas = page.locator("canvas.anno-pdf-page")
    expect(canvas).to_have_attribute("aria-label", "Page 1 of 1")  # the preview's sample PDF, drawn
    expect(page.locator("[data-page-number]")).to_have_text("1 of 1")
    page.locator(".anno-pdf-view").focus()
    page.keyboard.press("1")  # Important article
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="preview-json"]')).to_contain_text('"Important article"')
    shot(page, "preview-pdf-classification")


def test_per_page_choices_on_the_pages_of_an_image_document(page, lead, annotator):
    from tests.browser.test_annotate import png_data_url

    xml = ('<View><Image name="doc" valueList="$pages"/>'
           '<Choices name="kind" toName="doc" perItem="true"><Choice value="Form"/><Choice value="Letter"/></Choices>'
           '</View>')
    project = make_project(lead, xml, [{"pages": [png_data_url(300, 400), png_data_url(400, 300)]}], title="Scans")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    expect(page.locator("[data-page-number]")).to_have_text("1 of 2")
    page.keyboard.press("2")  # page 1: Letter
    page.keyboard.press("PageDown")
    expect(page.locator("[data-page-number]")).to_have_text("2 of 2")
    expect(page.locator('[data-control="kind"] input:checked')).to_have_count(0)
    page.keyboard.press("1")  # page 2: Form
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert {r["item_index"]: r["value"]["choices"] for r in saved.result} == {0: ["Letter"], 1: ["Form"]}


def test_ocr_regions_of_a_prediction_are_shown_on_their_page_and_submitted_unchanged(page, shot, lead, annotator):
    xml = CONFIG.replace("</View>", '<OcrLabels name="ocr" toName="pdf"><Label value="Total"/></OcrLabels>'
                                    '<TextArea name="transcription" toName="pdf" perRegion="true"/></View>')
    box = {"x": 10.0, "y": 20.0, "width": 40.0, "height": 8.0, "rotation": 0}
    ocr = [{"id": "r1", "from_name": "ocr", "to_name": "pdf", "type": "ocrlabels",
            "value": {**box, "ocrlabels": ["Total"], "ocrtext": "12.50", "pageIndex": 1}},
           {"id": "r1", "from_name": "transcription", "to_name": "pdf", "type": "textarea",
            "value": {**box, "text": ["12.50"]}}]
    project = make_project(lead, xml, None, title="OCR", files=[ImportFile("bill.pdf", pdf_bytes(2))],
                           show_predictions=True)
    with read_session() as s:
        (tid,) = s.exec(select(Task.id).where(Task.project_id == project.id)).all()
    predictions.create_prediction(lead.user, task_id=tid, result=ocr, score=0.9)  # a model's OCR regions
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    expect(page.locator("[data-page-number]")).to_have_text("1 of 2")
    regions = page.locator('[data-regions="ocr"] li')
    expect(regions).to_have_count(0)  # the region is on page 2
    page.keyboard.press("PageDown")
    expect(page.locator("[data-page-number]")).to_have_text("2 of 2")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Total")
    expect(regions).to_contain_text("12.50")
    expect(page.locator(".anno-pdf-object .a9s-annotation").first).to_be_visible()  # drawn on its page, editable
    page.keyboard.press("2")  # page 2: Body
    shot(page, "annotate-pdf-ocr")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert [r for r in saved.result if r["id"] == "r1"] == ocr
    assert [(r["item_index"], r["value"]["choices"]) for r in saved.result if r["from_name"] == "page_type"] == [
        (1, ["Body"])]


def drag(page, box: dict, x1: float, y1: float, x2: float, y2: float) -> None:
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x2, box["y"] + box["height"] * y2, steps=10)
    page.mouse.up()


def test_draw_ocr_boxes_on_two_pages_with_label_studios_pdf_ocr_template(page, shot, lead, annotator):
    from tests.web.test_pdf_api import TEMPLATES

    xml = (TEMPLATES / "computer-vision__pdf_ocr.xml").read_text(encoding="utf-8")
    project = make_project(lead, xml, None, title="PDF OCR", files=[ImportFile("scan.pdf", pdf_bytes(2))])
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    where = page.locator("[data-page-number]")
    expect(where).to_have_text("1 of 2")
    image = page.locator("img.anno-pdf-image")
    expect(image).to_have_attribute("data-page", "0")
    regions = page.locator('[data-regions="ocr"] li')
    text = page.locator('[data-ocr-text="ocr"]')

    page.keyboard.press("2")  # Incorrect Amount
    drag(page, image.bounding_box(), 0.10, 0.20, 0.50, 0.30)  # a box on page 1
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Incorrect Amount")
    expect(text).to_be_visible()  # shown once the new box is selected (Annotorious selects it after drawing)
    page.keyboard.press("t")  # the selected box's text
    expect(text).to_be_focused()
    page.keyboard.type("$12.50")
    page.keyboard.press("Enter")  # keeps it, leaves the field
    expect(text).not_to_be_focused()
    expect(regions).to_contain_text("$12.50")

    page.keyboard.press("PageDown")
    expect(where).to_have_text("2 of 2")
    expect(image).to_have_attribute("data-page", "1")
    expect(regions).to_have_count(0)  # page 1's box is kept aside
    page.keyboard.press("1")  # Typo
    box = image.bounding_box()
    drag(page, box, 0.20, 0.08, 0.60, 0.16)
    expect(regions).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("3")  # Incorrect Name: the next box's label
    drag(page, box, 0.20, 0.32, 0.40, 0.37)
    expect(regions).to_have_count(2)
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")  # selects a box
    expect(page.locator('[data-regions="ocr"] li.is-selected')).to_have_count(1)
    page.keyboard.press("Tab")  # and the other one
    selected = page.locator('[data-regions="ocr"] li.is-selected')
    expect(selected).to_contain_text("Incorrect Name")
    page.keyboard.press("Delete")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("Typo")
    page.keyboard.press("Control+z")  # the deleted box is back
    expect(regions).to_have_count(2)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(selected).to_contain_text("Incorrect Name")
    page.keyboard.press("Delete")
    expect(regions).to_have_count(1)
    page.keyboard.press("Tab")
    expect(text).to_be_visible()
    page.keyboard.press("t")
    expect(text).to_be_focused()
    page.keyboard.type("teh")
    page.keyboard.press("Enter")
    shot(page, "annotate-pdf-ocr-draw")

    page.keyboard.press("PageUp")
    expect(where).to_have_text("1 of 2")
    expect(regions).to_have_count(1)  # page 1's box came back with its text
    expect(regions).to_contain_text("$12.50")
    page.keyboard.press("+")  # the page drawn again, larger: its box stays where it was on the page
    expect(page.locator("[data-pdf-zoom-level]")).to_have_text("125%")
    expect(regions).to_have_count(1)
    expect(regions).to_contain_text("$12.50")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert sorted(r["value"]["pageIndex"] for r in saved.result) == [0, 1]
    by_page = {r["value"]["pageIndex"]: r for r in saved.result}
    for item in saved.result:
        assert item["type"] == "ocrlabels" and item["from_name"] == "ocr" and item["to_name"] == "pdf" and item["id"]
        assert set(item["value"]) == {"x", "y", "width", "height", "rotation", "ocrlabels", "ocrtext", "pageIndex"}
        assert item["value"]["rotation"] == 0
    first, second = by_page[0]["value"], by_page[1]["value"]
    assert first["ocrlabels"] == ["Incorrect Amount"] and first["ocrtext"] == "$12.50"
    assert second["ocrlabels"] == ["Typo"] and second["ocrtext"] == "teh"
    # percent of the page, where the mouse dragged (within a pixel or two of the drawn page)
    assert abs(first["x"] - 10) < 1 and abs(first["y"] - 20) < 1
    assert abs(first["width"] - 40) < 1 and abs(first["height"] - 10) < 1
    assert abs(second["x"] - 20) < 1 and abs(second["y"] - 8) < 1
    assert abs(second["width"] - 40) < 1 and abs(second["height"] - 8) < 1


def test_on_a_phone_the_page_bar_keeps_to_two_rows_above_the_page(page, shot, lead, annotator):
    """No PageUp / PageDown hint on a phone: the bar's buttons in two rows, the rest of the height the page's."""
    from tests.browser.test_small_screens import fits_the_window

    project = make_project(lead, CONFIG, None, title="Phone PDF", files=[ImportFile("doc.pdf", pdf_bytes(3))])
    page.set_viewport_size({"width": 390, "height": 844})
    open_annotate(page, annotator, project)
    expect(page.locator("canvas.anno-pdf-page")).to_be_visible()
    fits_the_window(page)
    bar = page.locator(".anno-pdf-object .anno-page-bar").bounding_box()
    button = page.locator('[data-pdf-zoom="fit"]').bounding_box()
    assert bar["height"] <= 2.5 * button["height"], (bar, button)
    shot(page, "pdf-phone")
