"""Documents: the <Pdf> object, per-page classifications (perItem) and OcrLabels regions, checked as
Label Studio stores them; Label Studio's two PDF templates accepted unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.schema import (
    LabelConfigError,
    label_text,
    parse_label_config,
    validate_result,
    validate_task_data,
)
from labeling.schema.pdf import page_items

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab

DOC = """<View>
  <Pdf name="pdf" value="$pdf"/>
  <Choices name="page_type" toName="pdf" perItem="true">
    <Choice value="Cover"/><Choice value="Body"/><Choice value="Appendix"/>
  </Choices>
  <Choices name="doc_type" toName="pdf">
    <Choice value="Invoice" hotkey="i"/><Choice value="Letter" hotkey="l"/>
  </Choices>
  <OcrLabels name="ocr" toName="pdf"><Label value="Total"/><Label value="Name"/></OcrLabels>
  <TextArea name="transcription" toName="pdf" perRegion="true"/>
</View>"""


def page(index: int, label: str, id_: str | None = None) -> dict:
    return {"id": id_ or f"p{index}", "from_name": "page_type", "to_name": "pdf", "type": "choices",
            "value": {"choices": [label]}, "item_index": index}


DOC_ITEM = {"id": "d", "from_name": "doc_type", "to_name": "pdf", "type": "choices", "value": {"choices": ["Invoice"]}}
BOX = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 5.0, "rotation": 0}
OCR = {"id": "r1", "from_name": "ocr", "to_name": "pdf", "type": "ocrlabels",
       "value": {**BOX, "ocrlabels": ["Total"], "ocrtext": "12.50", "pageIndex": 2}}
TEXT = {"id": "r1", "from_name": "transcription", "to_name": "pdf", "type": "textarea",
        "value": {**BOX, "text": ["12.50"]}}


def test_the_schema_of_a_document_config():
    schema = parse_label_config(DOC)
    assert schema.objects["pdf"].tag == "Pdf"
    per_item = {c.name: c.per_item for c in schema.controls}
    assert per_item == {"page_type": True, "doc_type": False, "ocr": False, "transcription": False}
    # QC classifies the document, not its pages
    assert schema.primary_control.name == "doc_type" and schema.kind == "classification"
    assert validate_task_data(schema, {"pdf": "/media/1/x.pdf"}) == []
    assert validate_task_data(schema, {"pdf": 3}) == ["data field 'pdf' must be the URL or path of a PDF document, got 3"]


def test_a_result_with_pages_the_document_and_an_ocr_region_is_valid():
    schema = parse_label_config(DOC)
    result = [DOC_ITEM, page(0, "Cover"), page(1, "Body"), page(2, "Appendix"), OCR, TEXT]
    assert validate_result(schema, result, {"pdf": "/x.pdf"}) == []
    assert validate_result(schema, result, {"pdf": "/x.pdf"}, page_count=3) == []
    assert {i: item["value"]["choices"] for i, item in page_items(result, "page_type").items()} == {
        0: ["Cover"], 1: ["Body"], 2: ["Appendix"]}


@pytest.mark.parametrize(("items", "problem"), [
    ([page(0, "Cover"), page(0, "Body", "again")], "control 'page_type' gives page 0 a second item"),
    ([{**page(0, "Cover"), "item_index": None}], "item_index must name the page (a whole number from 0), got None"),
    ([page(-1, "Cover")], "got -1"),
    ([page(0, "Nope")], "unknown label(s) ['Nope']"),
    ([DOC_ITEM, {**DOC_ITEM, "id": "d2"}], "control 'doc_type' takes one result item per task, found more"),
    ([{**OCR, "value": {**OCR["value"], "pageIndex": "2"}}, TEXT], "value.pageIndex must be the 0-based page"),
    ([{**OCR, "value": {k: v for k, v in OCR["value"].items() if k != "pageIndex"}}, TEXT],
     "value.pageIndex must name the page of the PDF"),
    ([{**OCR, "value": {**OCR["value"], "x": 95.0}}, TEXT], "goes outside the image"),
    ([{**OCR, "value": {**OCR["value"], "ocrtext": 5}}, TEXT], "value.ocrtext must be a string"),
    ([{**TEXT, "id": "nowhere"}], "its id must be the id of a region"),
])
def test_bad_items_are_named(items, problem):
    problems = validate_result(parse_label_config(DOC), items, {"pdf": "/x.pdf"})
    assert any(problem in p for p in problems), problems


def test_pages_past_the_document_are_refused_when_its_page_count_is_known():
    problems = validate_result(parse_label_config(DOC), [page(3, "Body")], {"pdf": "/x.pdf"}, page_count=3)
    assert problems == ["result[0] (page_type): control 'page_type' answers per page (perItem): item_index "
                        "must name the page (0 to 2), got 3"]


def test_per_item_classifies_the_pages_of_a_multi_page_image_too():
    xml = ('<View><Image name="doc" valueList="$pages"/>'
           '<Choices name="kind" toName="doc" perItem="true"><Choice value="a"/><Choice value="b"/></Choices></View>')
    schema = parse_label_config(xml)
    data = {"pages": ["/1.png", "/2.png"]}
    item = {"id": "x", "from_name": "kind", "to_name": "doc", "type": "choices", "value": {"choices": ["a"]}}
    assert validate_result(schema, [{**item, "item_index": 1}], data) == []
    assert "(0 to 1), got 2" in validate_result(schema, [{**item, "item_index": 2}], data)[0]


@pytest.mark.parametrize(("xml", "needle"), [
    ('<View><Text name="t" value="$t"/><Choices name="c" toName="t" perItem="true"><Choice value="a"/></Choices></View>',
     "which has no pages"),
    ('<View><Pdf name="p" value="$p"/><Choices name="c" toName="p" perItem="true" perRegion="true">'
     '<Choice value="a"/></Choices></View>', "they are two modes"),
    ('<View><Pdf name="p" value="$p"/><OcrLabels name="o" toName="p" perItem="true"><Label value="a"/></OcrLabels></View>',
     "supports on classifications"),
    ('<View><Pdf name="p" value="$p" ocrValue="$ocr"/><Choices name="c" toName="p"><Choice value="a"/></Choices></View>',
     "ocrValue"),
])
def test_configs_refused_with_a_reason(xml, needle):
    with pytest.raises(LabelConfigError) as err:
        parse_label_config(xml)
    assert needle in str(err.value)


@pytest.mark.parametrize("name", ["structured-data-parsing__pdf-classification", "computer-vision__pdf_ocr"])
def test_label_studios_pdf_templates_take_their_results(name):
    schema = parse_label_config((TEMPLATES / f"{name}.xml").read_text(encoding="utf-8"))
    if name.endswith("classification"):
        # the result of the template's own example annotation (its config.xml)
        result = [{"value": {"rating": 6}, "id": "LBtpNELmQx", "from_name": "rating", "to_name": "pdf", "type": "rating"},
                  {"value": {"choices": ["Important article"]}, "id": "NsP16im1Jg", "from_name": "choices",
                   "to_name": "pdf", "type": "choices"}]
    else:
        result = [{"id": "o1", "from_name": "ocr", "to_name": "pdf", "type": "ocrlabels",
                   "value": {**BOX, "ocrlabels": ["Typo"], "ocrtext": "teh", "pageIndex": 0}}]
    assert validate_result(schema, result, {"pdf": "/static/samples/sample.pdf"}) == []


def test_the_text_of_a_result_names_the_pages():
    assert label_text([page(0, "Cover"), page(1, "Body"), DOC_ITEM, OCR]) == (
        "Cover (page 1); Body (page 2); Invoice; Total (OCR box: 12.50)")
