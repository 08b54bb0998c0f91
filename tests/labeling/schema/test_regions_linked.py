"""Items tied to regions by id (Label Studio's editor's shapes): per-region controls, labels on
plain shapes, relations, multi-page images; checked by labelfab and by Label Studio's SDK."""

from __future__ import annotations

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import (
    LabelConfigError,
    parse_label_config,
    validate_result,
    validate_task_data,
)

OCR = """<View>
  <Image name="image" value="$ocr"/>
  <Labels name="label" toName="image">
    <Label value="Text" background="green"/><Label value="Handwriting" background="blue"/>
  </Labels>
  <Rectangle name="bbox" toName="image" strokeWidth="3"/>
  <TextArea name="transcription" toName="image" editable="true" perRegion="true" required="true"
            rows="5" placeholder="Recognized Text" displayMode="region-list"/>
</View>"""
BOX = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 25.0, "rotation": 0}
SIZE = {"original_width": 640, "original_height": 480, "image_rotation": 0}


def ocr_region(rid: str, label: str, text: str) -> list[dict]:
    """One OCR region as Label Studio 1.23 stores it: the shape, its labels, its transcription,
    each with the region's id and geometry."""
    base = {**SIZE, "id": rid, "to_name": "image", "origin": "manual"}
    return [
        {**base, "value": dict(BOX), "from_name": "bbox", "type": "rectangle"},
        {**base, "value": {**BOX, "labels": [label]}, "from_name": "label", "type": "labels"},
        {**base, "value": {**BOX, "text": [text]}, "from_name": "transcription", "type": "textarea"},
    ]


def test_rectangle_with_labels_and_a_per_region_transcription():
    schema = parse_label_config(OCR)
    assert schema.control("transcription").per_region
    assert [c.tag for c in schema.controls] == ["Labels", "Rectangle", "TextArea"]
    result = ocr_region("a1", "Text", "TOTAL") + ocr_region("b2", "Handwriting", "12.50")
    data = {"ocr": "https://example.com/receipt.png"}
    assert validate_result(schema, result, data) == []
    assert LabelInterface(OCR).validate_prediction({"result": result}) is True
    # required per region: the second box has no transcription
    assert validate_result(schema, result[:5], data) == [
        "control 'transcription' is required for every region, but region 'b2' has no item for it"]
    # a transcription (or labels) naming no region of the result
    stray = [*result, {**result[2], "id": "zz"}]
    assert "its id must be the id of a region on 'image'" in validate_result(schema, stray, data)[0]
    orphan_labels = [result[1]]
    assert any("labels a plain shape" in p for p in validate_result(schema, orphan_labels, data))
    twice = [*result, dict(result[2])]
    assert "gives region 'a1' a second item" in validate_result(schema, twice, data)[0]


def test_labels_on_an_image_need_a_shape_tool():
    with pytest.raises(LabelConfigError, match="no shape tool"):
        parse_label_config(OCR.replace('<Rectangle name="bbox" toName="image" strokeWidth="3"/>', ""))


PER_REGION = """<View>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
  <Choices name="sentiment" toName="text" perRegion="true"><Choice value="pos"/><Choice value="neg"/></Choices>
  <Rating name="confidence" toName="text" perRegion="true" maxRating="3"/>
  <Number name="age" toName="text" perRegion="true" min="0" max="150"
          visibleWhen="region-selected" whenLabelValue="PER" required="true"/>
</View>"""


def span(rid: str, start: int, end: int, text: str, label: str) -> dict:
    return {"id": rid, "from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def per_region(item: dict, name: str, kind: str, answer: object) -> dict:
    geometry = {k: v for k, v in item["value"].items() if k != "labels"}
    return {"id": item["id"], "from_name": name, "to_name": "text", "type": kind,
            "value": {**geometry, kind: answer}}


def test_per_region_choices_rating_number_on_spans():
    schema = parse_label_config(PER_REGION)
    age = schema.control("age")
    assert (age.visible_when, age.when_label_values, age.per_region) == ("region-selected", ["PER"], True)
    data = {"text": "Ada works at Acme."}
    ada, acme = span("s1", 0, 3, "Ada", "PER"), span("s2", 13, 17, "Acme", "ORG")
    result = [ada, acme, per_region(ada, "sentiment", "choices", ["pos"]),
              per_region(acme, "sentiment", "choices", ["neg"]), per_region(ada, "confidence", "rating", 2),
              per_region(ada, "age", "number", 36)]
    assert validate_result(schema, result, data) == []
    assert LabelInterface(PER_REGION).validate_prediction({"result": result}) is True
    # the Number is required only for PER regions (whenLabelValue): Acme needs none, Ada does
    assert validate_result(schema, result[:-1], data) == [
        "control 'age' is required for every region, but region 's1' has no item for it"]
    bad = [*result[:4], per_region(ada, "confidence", "rating", 4), result[5]]
    assert validate_result(schema, bad, data) == [
        "result[4] (confidence): value.rating must be a whole number from 1 to 3, got 4"]


RELATIONS = """<View>
   <Relations>
    <Relation value="org:founded_by"/>
    <Relation value="org:founded"/>
  </Relations>
  <Labels name="label" toName="text">
    <Label value="Organization" background="orange"/><Label value="Person" background="green"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""


def test_relations_between_spans():
    schema = parse_label_config(RELATIONS)
    assert schema.relations is not None
    assert (schema.relations.labels, schema.relations.choice) == (["org:founded_by", "org:founded"],
                                                                 "multiple")
    data = {"text": "Microsoft was founded by Bill Gates."}
    ms = dict(span("m", 0, 9, "Microsoft", "Organization"), from_name="label")
    bill = dict(span("b", 25, 35, "Bill Gates", "Person"), from_name="label")
    relation = {"from_id": "m", "to_id": "b", "type": "relation", "direction": "right", "labels": ["org:founded_by"]}
    assert validate_result(schema, [ms, bill, relation], data) == []
    assert LabelInterface(RELATIONS).validate_prediction({"result": [ms, bill, relation]}) is True
    unlabelled = {k: v for k, v in relation.items() if k != "labels"}  # Label Studio's before a label is picked
    assert validate_result(schema, [ms, bill, unlabelled], data) == []
    problems = validate_result(schema, [ms, bill, dict(relation, to_id="x", direction="up", labels=["nope"])], data)
    assert problems == [
        "result[2] (relation): to_id must name regions of the result (the id of a span or image region), "
        "got 'm' -> 'x'",
        "result[2] (relation): direction is 'up'; use one of ['right', 'left', 'bi']",
        "result[2] (relation): unknown relation label(s) ['nope']; <Relations> has ['org:founded_by', 'org:founded']",
    ]
    assert validate_result(schema, [ms, bill, relation, dict(relation)], data) == [
        "result[3] (relation): the relation m -> b is given twice"]
    single = parse_label_config(RELATIONS.replace("<Relations>", '<Relations choice="single">'))
    two = dict(relation, labels=["org:founded_by", "org:founded"])
    assert "takes a single label" in validate_result(single, [ms, bill, two], data)[0]


def test_relations_without_a_relations_tag_carry_no_labels():
    schema = parse_label_config(RELATIONS.split("</Relations>")[1].join(["<View>", ""]))
    data = {"text": "Microsoft was founded by Bill Gates."}
    ms = dict(span("m", 0, 9, "Microsoft", "Organization"), from_name="label")
    bill = dict(span("b", 25, 35, "Bill Gates", "Person"), from_name="label")
    relation = {"from_id": "m", "to_id": "b", "type": "relation", "direction": "bi"}
    assert schema.relations is None
    assert validate_result(schema, [ms, bill, relation], data) == []
    assert "the config has no <Relations>" in validate_result(
        schema, [ms, bill, dict(relation, labels=["x"])], data)[0]


@pytest.mark.parametrize("xml", ["<View><Relation value='a'/><Text name='t' value='$t'/>"
                                 "<Labels name='l' toName='t'><Label value='x'/></Labels></View>",
                                 "<View><Relations/><Relations/><Text name='t' value='$t'/>"
                                 "<Labels name='l' toName='t'><Label value='x'/></Labels></View>"])
def test_relation_tags_out_of_place_are_refused(xml):
    with pytest.raises(LabelConfigError):
        parse_label_config(xml)


PAGES = """<View>
  <RectangleLabels name="rectangles" toName="pdf" showInline="true">
    <Label value="Title" background="green" /><Label value="Date" background="blue" />
  </RectangleLabels>
  <Image valueList="$pages" name="pdf"/>
</View>"""


def test_multipage_image_regions_name_their_page():
    schema = parse_label_config(PAGES)
    assert schema.objects["pdf"].value_list and schema.data_keys == {"pages"}
    data = {"pages": ["https://example.com/1.jpg", "https://example.com/2.jpg"]}
    assert validate_task_data(schema, data) == []
    assert validate_task_data(schema, {"pages": "https://example.com/1.jpg"})[0].startswith(
        "data field 'pages' must be a non-empty list of image URLs")
    assert validate_task_data(schema, {"pages": ["a.jpg", ""]}) == [
        "data field 'pages[1]' must be an image URL or path, got ''"]
    box = {**SIZE, "id": "p", "from_name": "rectangles", "to_name": "pdf", "type": "rectanglelabels",
           "item_index": 1, "value": {**BOX, "rectanglelabels": ["Date"]}}
    assert validate_result(schema, [box], data) == []
    assert LabelInterface(PAGES).validate_prediction({"result": [box]}) is True
    assert validate_result(schema, [dict(box, item_index=2)], data) == [
        "result[0] (rectangles): item_index must name the page of <Image valueList> the region is on "
        "(0 to 1), got 2"]
    assert "item_index" in validate_result(schema, [{k: v for k, v in box.items() if k != "item_index"}], data)[0]
    with pytest.raises(LabelConfigError, match="only <Image> supports"):
        parse_label_config('<View><Text name="t" valueList="$t"/><Labels name="l" toName="t">'
                           '<Label value="x"/></Labels></View>')


def test_box_labels_from_task_data():
    schema = parse_label_config('<View><Image name="i" value="$img"/>'
                                '<RectangleLabels name="r" toName="i" value="$regions"/></View>')
    assert (schema.control("r").labels_key, schema.data_keys) == ("regions", {"img", "regions"})
    data = {"img": "a.png", "regions": ["car", {"value": "bus"}]}
    assert validate_task_data(schema, data) == []
    box = {**SIZE, "id": "a", "from_name": "r", "to_name": "i", "type": "rectanglelabels",
           "value": {**BOX, "rectanglelabels": ["bus"]}}
    assert validate_result(schema, [box], data) == []
    assert "unknown label(s) ['van']" in validate_result(
        schema, [dict(box, value={**BOX, "rectanglelabels": ["van"]})], data)[0]
