"""Result and task-data checks (labeling.schema.validate)."""

from __future__ import annotations

from labeling.schema import (
    parse_label_config,
    validate_result,
    validate_task_data,
)
from tests.labeling.schema.configs import DETECTION, MIXED, NER, TEXT_CLS, _box, _choice, _span


def test_valid_choices_result():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, [_choice("pos")], {"text": "great"}) == []


def test_unknown_label_is_reported():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, [_choice("meh")], {"text": "x"}) == [
        "result[0] (sentiment): unknown label(s) ['meh'] for control 'sentiment'; "
        "labels are ['pos', 'neg']"
    ]


def test_two_choices_for_single_choice_control():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, [_choice("pos", "neg")], {"text": "x"}) == [
        "result[0] (sentiment): control 'sentiment' takes a single label, got 2: ['pos', 'neg']"
    ]


def test_two_items_for_one_classification_and_missing_required():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, [_choice("pos"), _choice("neg")], {"text": "x"}) == [
        "result[1] (sentiment): control 'sentiment' takes one result item per task, found more"
    ]
    assert validate_result(schema, [], {"text": "x"}) == [
        "control 'sentiment' is required, but the result has no item for it"
    ]


def test_multiple_choice_accepts_several_labels():
    schema = parse_label_config(MIXED)
    result = [_choice("indoor", "outdoor", from_name="tags", to_name="img")]
    assert validate_result(schema, result, {"url": "a.png"}) == []


def test_wrong_from_name_to_name_and_type():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, [_choice("pos", from_name="mood")], {"text": "x"}) == [
        "result[0]: from_name 'mood' is not a control of the label config; controls are ['sentiment']",
        "control 'sentiment' is required, but the result has no item for it",
    ]
    assert validate_result(schema, [_choice("pos", to_name="img")], {"text": "x"}) == [
        "result[0] (sentiment): to_name is 'img', but control 'sentiment' annotates 'text'"
    ]
    item = {**_choice("pos"), "type": "labels"}
    assert validate_result(schema, [item], {"text": "x"}) == [
        "result[0] (sentiment): type is 'labels', expected 'choices'"
    ]


def test_valid_span():
    schema = parse_label_config(NER)
    data = {"text": "Alice works at Acme."}
    assert validate_result(schema, [_span(0, 5, "Alice"), _span(15, 19, "Acme", "ORG")], data) == []
    assert validate_result(schema, [_span(0, 5, None)], data) == []


def test_span_out_of_range():
    schema = parse_label_config(NER)
    assert validate_result(schema, [_span(3, 12, None)], {"text": "Bob Smith"}) == [
        "result[0] (ner): span [3, 12) is outside the text, which has 9 characters "
        "(offsets need 0 <= start < end <= 9)"
    ]
    assert validate_result(schema, [_span(4, 4, None)], {"text": "Bob Smith"})[0].startswith(
        "result[0] (ner): span [4, 4) is outside the text"
    )


def test_span_text_mismatch():
    schema = parse_label_config(NER)
    assert validate_result(schema, [_span(0, 5, "Alicia")], {"text": "Alice works"}) == [
        "result[0] (ner): span text 'Alicia' does not match the task text at [0, 5), which is 'Alice'"
    ]


def test_span_utf16_offsets_get_a_hint():
    schema = parse_label_config(NER)
    text = "\N{GRINNING FACE} Alice and Bob"  # the emoji: 2 UTF-16 code units, 1 code point
    assert validate_result(schema, [_span(2, 7, "Alice")], {"text": text}) == []
    # JavaScript offsets of "Alice" are [3, 8): inside the text, but the wrong characters
    assert validate_result(schema, [_span(3, 8, "Alice")], {"text": text}) == [
        "result[0] (ner): span text 'Alice' does not match the task text at [3, 8), which is "
        "'lice ' (the offsets look like UTF-16 code units as counted by JavaScript; "
        "labelfab counts Unicode code points)"
    ]
    # JavaScript offsets of "Bob" run past the end of the Python string
    problems = validate_result(schema, [_span(13, 16, "Bob")], {"text": text})
    assert len(problems) == 1
    assert problems[0].startswith("result[0] (ner): span [13, 16) is outside the text")
    assert problems[0].endswith("labelfab counts Unicode code points)")


def test_span_with_unknown_label_and_missing_text_field():
    schema = parse_label_config(NER)
    assert validate_result(schema, [_span(0, 3, "Bob", "XX")], {}) == [
        "result[0] (ner): unknown label(s) ['XX'] for control 'ner'; labels are ['PER', 'ORG']",
        "result[0] (ner): cannot check the span: task data 'text' is missing or not text",
    ]


def test_boxes_inside_and_outside_the_image():
    schema = parse_label_config(DETECTION)
    assert validate_result(schema, [_box(10, 20, 30, 40), _box(0, 0, 100, 100.000001)], {}) == []
    assert validate_result(schema, [_box(80, 10, 30, 10)], {}) == [
        "result[0] (box): box x=80, y=10, width=30, height=10 goes outside the image "
        "(x + width and y + height must be <= 100 percent)"
    ]
    assert validate_result(schema, [_box(-5, 10, 30, 10)], {}) == [
        "result[0] (box): box corner (-5, 10) is outside the image (0-100 percent)"
    ]
    assert validate_result(schema, [_box(10, 10, 0, 10)], {}) == [
        "result[0] (box): box has width 0 and height 10; both must be > 0"
    ]


def test_rotated_box_checked_with_image_size():
    schema = parse_label_config(DETECTION)
    # 90 degrees clockwise about (x, y): the box extends left of its anchor.
    assert (
        validate_result(schema, [_box(50, 10, 20, 20, rotation=90)], {}, image_size=(100, 100))
        == []
    )
    problems = validate_result(
        schema, [_box(5, 10, 20, 20, rotation=90)], {}, image_size=(100, 100)
    )
    assert len(problems) == 1
    assert "rotated by 90 degrees goes outside the 100x100 image" in problems[0]


def test_original_size_must_match_image_size():
    schema = parse_label_config(DETECTION)
    item = {**_box(10, 10, 10, 10), "original_width": 640, "original_height": 480}
    assert validate_result(schema, [item], {}, image_size=(640, 480)) == []
    assert validate_result(schema, [item], {}, image_size=(800, 480)) == [
        "result[0] (box): original_width is 640, but the image is 800 px"
    ]


def test_textarea_and_rating_values():
    schema = parse_label_config(MIXED)
    good = [
        {
            "from_name": "caption",
            "to_name": "img",
            "type": "textarea",
            "value": {"text": ["a dog"]},
        },
        {"from_name": "quality", "to_name": "img", "type": "rating", "value": {"rating": 3}},
    ]
    assert validate_result(schema, good, {"url": "x.jpg"}) == []
    bad = [
        {"from_name": "caption", "to_name": "img", "type": "textarea", "value": {"text": "a dog"}},
        {"from_name": "quality", "to_name": "img", "type": "rating", "value": {"rating": 4}},
    ]
    assert validate_result(schema, bad, {"url": "x.jpg"}) == [
        "result[0] (caption): value.text must be a non-empty list of strings",
        "result[1] (quality): value.rating must be a whole number from 1 to 3, got 4",
    ]


def test_result_must_be_a_list():
    schema = parse_label_config(TEXT_CLS)
    assert validate_result(schema, {"choices": ["pos"]}, {}) == [
        "result must be a list of result items, got dict"
    ]


def test_validate_task_data():
    text = parse_label_config(TEXT_CLS)
    assert validate_task_data(text, {"text": "hello", "extra": 1}) == []
    assert validate_task_data(text, {"body": "hello"}) == [
        "data field 'text' (shown by <Text> 'text') is missing"
    ]
    assert validate_task_data(text, {"text": 5}) == [
        "data field 'text' must be a string (text) or a list of strings (paragraphs), got int"
    ]
    image = parse_label_config(DETECTION)
    assert validate_task_data(image, {"image": "/data/media/ab/cd.png"}) == []
    assert validate_task_data(image, {"image": ""}) == [
        "data field 'image' must be an image URL or path, got ''"
    ]
    assert validate_task_data(image, ["x"]) == ["task data must be an object, got list"]
