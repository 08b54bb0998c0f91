"""What hangs on a region by its id, on the labeling page with the keyboard: relations between
spans (Label Studio's relation-extraction template), per-region transcriptions of boxes (the
OCR invoices template), per-region choices on spans, boxes on a multi-page document. Each stored
result is Label Studio's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_data_url
from tests.browser.test_annotate_keyboard import caret_text

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.xml").read_text(encoding="utf-8")


def drag(page, box: dict, x1: float, y1: float, x2: float, y2: float) -> None:
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x2, box["y"] + box["height"] * y2, steps=10)
    page.mouse.up()


def test_relation_between_two_spans_with_the_keyboard(page, shot, lead, annotator):
    text = "Microsoft was founded by Bill Gates and Paul Allen on April 4, 1975."
    project = make_project(lead, template("natural-language-processing__relation-extraction"), [{"text": text}],
                           title="Relations")
    open_annotate(page, annotator, project)
    page.keyboard.press("ArrowRight")  # span mode on "Microsoft"
    assert caret_text(page) == "Microsoft"
    page.keyboard.press("1")  # Organization
    for _ in range(3):  # labelling moved the caret on to "was"
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert caret_text(page) == "Bill Gates"
    page.keyboard.press("2")  # Person
    page.keyboard.press("Escape")  # out of span mode
    expect(page.locator("[data-regions] .anno-region")).to_have_count(2)
    page.keyboard.press("Escape")  # nothing selected
    page.keyboard.press("]")  # the first region: Microsoft
    page.keyboard.press("Alt+r")  # relation mode from it; Tab would pick another target
    status = page.locator('[data-anno="relation-status"]')
    expect(status).to_contain_text("Organization “Microsoft” → Person “Bill Gates”")
    page.keyboard.press("1")  # org:founded_by
    expect(status).to_contain_text("1 [x] org:founded_by")
    page.keyboard.press("Enter")  # link
    expect(status).to_be_hidden()
    relations = page.locator("[data-relations] .anno-relation")
    expect(relations).to_have_count(1)
    expect(relations).to_contain_text("org:founded_by")
    expect(page.locator("svg.anno-relations path.anno-relation-line")).to_have_count(1)
    shot(page, "annotate-relation")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    spans = {r["value"]["text"]: r for r in saved.result if r["type"] == "labels"}
    (relation,) = [r for r in saved.result if r["type"] == "relation"]
    assert relation == {"from_id": spans["Microsoft"]["id"], "to_id": spans["Bill Gates"]["id"],
                        "type": "relation", "direction": "right", "labels": ["org:founded_by"]}
    assert spans["Bill Gates"]["value"]["labels"] == ["Person"]


def test_per_region_transcription_of_each_box(page, shot, lead, annotator):
    project = make_project(lead, template("community-contributions__ocr-invoices-pre-ner-bio-format"),
                           [{"image": png_data_url(640, 400)}], title="Receipts")
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    transcription = page.locator('[data-control="transcription"]')
    expect(transcription).to_be_hidden()  # shown for the selected region only
    page.keyboard.press("1")  # O
    b = image.bounding_box()
    drag(page, b, 0.1, 0.1, 0.4, 0.2)
    expect(transcription).to_be_visible()
    page.keyboard.press("t")
    page.keyboard.type("TOTAL 12.50")
    page.keyboard.press("Escape")  # leaves the text box
    page.keyboard.press("Escape")  # and the region: the transcription hides
    expect(transcription).to_be_hidden()
    drag(page, b, 0.1, 0.5, 0.5, 0.6)
    expect(transcription.locator("textarea")).to_have_value("")  # the new box's own
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # refused: required for every region
    expect(page.locator('[data-anno="alert-text"]')).to_contain_text(  # and how to reach the hidden field
        "for every region (1 still without: select it with a click or [ ] and its field shows)")
    page.keyboard.press("]")
    page.keyboard.press("]")  # the second box again
    expect(transcription).to_be_visible()
    page.keyboard.press("t")
    page.keyboard.type("Thank you")
    page.keyboard.press("Escape")
    page.keyboard.press("]")  # back to the first box: its own transcription
    expect(transcription.locator("textarea")).to_have_value("TOTAL 12.50")
    shot(page, "annotate-per-region-transcription")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    boxes = {r["id"]: r for r in saved.result if r["type"] == "rectanglelabels"}
    texts = {r["id"]: r for r in saved.result if r["type"] == "textarea"}
    assert len(boxes) == 2 and set(texts) == set(boxes)
    for rid, text in texts.items():
        box = boxes[rid]
        geometry = {k: v for k, v in box["value"].items() if k != "rectanglelabels"}
        assert text["value"] == {**geometry, "text": text["value"]["text"]}
        assert (text["from_name"], text["to_name"], text["original_width"]) == ("transcription", "image", 640)
    assert sorted(t["value"]["text"][0] for t in texts.values()) == ["TOTAL 12.50", "Thank you"]


PER_REGION_CHOICES = """<View>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
  <Choices name="sentiment" toName="text" perRegion="true"><Choice value="pos" hotkey="q"/><Choice value="neg" hotkey="w"/></Choices>
</View>"""


def test_per_region_choices_on_spans_with_keys(page, shot, lead, annotator):
    project = make_project(lead, PER_REGION_CHOICES, [{"text": "Ada likes Acme."}], title="Per-region choices")
    open_annotate(page, annotator, project)
    sentiment = page.locator('[data-control="sentiment"]')
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")  # Ada: PER; the caret moves on to "likes"
    page.keyboard.press("ArrowRight")
    assert caret_text(page) == "Acme"
    page.keyboard.press("2")  # Acme: ORG
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(sentiment).to_be_hidden()
    page.keyboard.press("]")  # Ada
    expect(sentiment).to_be_visible()
    page.keyboard.press("q")  # pos, for Ada
    expect(sentiment.locator("input:checked")).to_have_value("pos")
    page.keyboard.press("]")  # Acme
    expect(sentiment.locator("input:checked")).to_have_count(0)
    page.keyboard.press("w")  # neg, for Acme
    page.keyboard.press("[")  # Ada again: her own answer
    expect(sentiment.locator("input:checked")).to_have_value("pos")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    spans = {r["id"]: r["value"]["text"] for r in saved.result if r["type"] == "labels"}
    picked = {spans[r["id"]]: (r["value"]["choices"], r["value"]["start"], r["value"]["end"])
              for r in saved.result if r["type"] == "choices"}
    assert picked == {"Ada": (["pos"], 0, 3), "Acme": (["neg"], 10, 14)}


def test_boxes_on_the_pages_of_a_document(page, shot, lead, annotator):
    pages = [png_data_url(600, 800), png_data_url(800, 600), png_data_url(600, 800)]
    project = make_project(lead, template("computer-vision__multipage-documents"), [{"pages": pages}],
                           title="Documents")
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(page.locator("[data-page-number]")).to_have_text("1 of 3")
    page.keyboard.press("1")  # Title
    drag(page, image.bounding_box(), 0.1, 0.05, 0.9, 0.1)
    regions = page.locator("[data-regions] .anno-region")
    expect(regions).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("PageDown")
    expect(page.locator("[data-page-number]")).to_have_text("2 of 3")
    expect(regions).to_have_count(0)  # page 2 has none yet
    page.keyboard.press("5")  # Amount
    drag(page, image.bounding_box(), 0.5, 0.5, 0.8, 0.6)
    expect(regions).to_have_count(1)
    shot(page, "annotate-multipage")
    page.keyboard.press("Escape")
    page.keyboard.press("PageUp")
    expect(page.locator("[data-page-number]")).to_have_text("1 of 3")
    expect(regions).to_contain_text("Title")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    by_page = {r["item_index"]: (r["value"]["rectanglelabels"], r["original_width"]) for r in saved.result}
    assert by_page == {0: (["Title"], 600), 1: (["Amount"], 800)}


def transcribe(page, text):
    """T takes the selected region's transcription field once it is shown (the region is selected
    after the drawing's events have run), and the text goes in there."""
    area = page.locator("[data-textarea]:visible").first
    expect(area).to_be_visible()
    page.keyboard.press("t")
    expect(area).to_be_focused()
    page.keyboard.type(text)
    expect(area).to_have_value(text)


def test_plain_rectangles_labelled_by_labels_with_a_transcription(page, shot, lead, annotator):
    # Label Studio's OCR template without its <Polygon> tool
    xml = template("computer-vision__optical-character-recognition").replace(
        '<Polygon name="poly" toName="image" strokeWidth="3"/>', "")
    project = make_project(lead, xml, [{"ocr": png_data_url(640, 400)}], title="OCR")
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("2")  # Handwriting
    drag(page, image.bounding_box(), 0.2, 0.2, 0.6, 0.3)
    regions = page.locator("[data-regions] .anno-region")
    expect(regions).to_contain_text("Handwriting")
    transcribe(page, "Total due")
    page.keyboard.press("Escape")
    page.keyboard.press("1")  # relabel the selected box: Text
    expect(regions).to_contain_text("Text")
    shot(page, "annotate-rectangle-labels-ocr")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    by_type = {r["type"]: r for r in saved.result}
    assert sorted(by_type) == ["labels", "rectangle", "textarea"] and len(saved.result) == 3
    shape, labels, text = by_type["rectangle"], by_type["labels"], by_type["textarea"]
    assert shape["id"] == labels["id"] == text["id"]
    assert (shape["from_name"], labels["from_name"], text["from_name"]) == ("bbox", "label", "transcription")
    assert labels["value"] == {**shape["value"], "labels": ["Text"]}
    assert text["value"] == {**shape["value"], "text": ["Total due"]}
    assert set(shape["value"]) == {"x", "y", "width", "height", "rotation"}
