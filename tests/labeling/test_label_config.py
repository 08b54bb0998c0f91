"""Label Studio XML configs -> LabelSchema, config change checks, result validation."""

from __future__ import annotations

import pytest

from labeling.label_config import (
    LabelConfigError,
    LabelSchema,
    check_config_change,
    collect_used_labels,
    gallery,
    parse_label_config,
    result_from_labels,
    result_labels,
    validate_result,
    validate_task_data,
)

TEXT_CLS = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" required="true">
    <Choice value="pos" hotkey="1"/>
    <Choice value="neg" hotkey="2"/>
  </Choices>
</View>"""

NER = """<View>
  <Labels name="ner" toName="text">
    <Label value="PER" hotkey="1" background="red"/>
    <Label value="ORG" hotkey="2"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""

DETECTION = """<View>
  <Image name="img" value="$image"/>
  <RectangleLabels name="box" toName="img">
    <Label value="cat" hotkey="1"/>
    <Label value="dog" hotkey="2"/>
  </RectangleLabels>
</View>"""

MIXED = """<View>
  <Header value="Describe the picture"/>
  <Style>.x { color: red }</Style>
  <View style="display: flex">
    <Image name="img" value="$url"/>
  </View>
  <Choices name="tags" toName="img" choice="multiple">
    <View><Choice value="indoor"/><Choice value="outdoor"/></View>
  </Choices>
  <TextArea name="caption" toName="img"/>
  <Rating name="quality" toName="img" maxRating="3"/>
</View>"""


def _error(xml: str) -> LabelConfigError:
    with pytest.raises(LabelConfigError) as info:
        parse_label_config(xml)
    return info.value


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("config_id", "kind", "data_key", "labels"),
    [
        ("image_classification", "classification", "image", ["cat", "dog", "bird", "other"]),
        (
            "multilabel_image",
            "multilabel",
            "image",
            ["person", "vehicle", "animal", "building", "text"],
        ),
        ("text_classification", "classification", "text", ["positive", "negative", "neutral"]),
        (
            "multilabel_text",
            "multilabel",
            "text",
            ["business", "politics", "science", "sports", "technology"],
        ),
        ("ner", "ner", "text", ["PER", "ORG", "LOC", "MISC"]),
        ("object_detection", "detection", "image", ["person", "car", "bicycle", "dog"]),
    ],
)
def test_gallery_configs_parse_to_their_kind(config_id, kind, data_key, labels):
    entry = {g["id"]: g for g in gallery()}[config_id]
    assert entry["kind"] == kind
    assert entry["title"] and "<" not in entry["title"] and "--" not in entry["title"]
    schema = parse_label_config(entry["xml"])
    assert schema.kind == kind
    assert schema.data_keys == {data_key}
    assert schema.primary_control.labels == labels
    assert schema.primary_control.hotkeys == {label: str(i) for i, label in enumerate(labels, 1)}


def test_gallery_lists_the_six_configs():
    assert {g["id"]: g["title"] for g in gallery()}["ner"] == "Named entity recognition"
    assert [g["id"] for g in gallery()] == [
        "image_classification",
        "multilabel_image",
        "multilabel_text",
        "ner",
        "object_detection",
        "text_classification",
    ]


def test_text_classification_schema_and_json_round_trip():
    schema = parse_label_config(TEXT_CLS)
    assert schema.model_dump() == {
        "objects": {"text": {"tag": "Text", "value_key": "text"}},
        "controls": [
            {
                "name": "sentiment",
                "tag": "Choices",
                "type": "choices",
                "to_name": "text",
                "object_tag": "Text",
                "data_key": "text",
                "labels": ["pos", "neg"],
                "choice": "single",
                "hotkeys": {"pos": "1", "neg": "2"},
                "colors": {},
                "max_rating": None,
                "required": True,
            }
        ],
    }
    assert LabelSchema.model_validate(schema.model_dump()) == schema
    assert LabelSchema.model_validate_json(schema.model_dump_json()) == schema
    assert schema.kind == "classification"
    assert schema.label_names("sentiment") == ["pos", "neg"]
    assert schema.label_names() == ["pos", "neg"]


def test_ner_and_detection_kinds():
    ner = parse_label_config(NER)
    assert ner.kind == "ner"
    assert ner.primary_control.colors == {"PER": "red"}
    assert ner.primary_control.object_tag == "Text"
    detection = parse_label_config(DETECTION)
    assert detection.kind == "detection"
    assert detection.primary_control.type == "rectanglelabels"
    assert detection.objects["img"].value_key == "image"


def test_layout_textarea_rating_and_multiple_choice():
    schema = parse_label_config(MIXED)
    assert schema.kind == "multilabel"
    assert [c.name for c in schema.controls] == ["tags", "caption", "quality"]
    assert schema.control("tags").labels == ["indoor", "outdoor"]
    assert schema.control("caption").type == "textarea"
    assert schema.control("quality").max_rating == 3
    assert schema.data_keys == {"url"}


def test_only_textarea_is_other_kind_and_default_max_rating():
    schema = parse_label_config(
        '<View><Text name="t" value="$doc"/><TextArea name="sum" toName="t"/>'
        '<Rating name="r" toName="t"/></View>'
    )
    assert schema.kind == "other"
    assert schema.primary_control.name == "sum"
    assert schema.control("r").max_rating == 5


def test_single_radio_alias_and_lowercase_tags():
    schema = parse_label_config(
        '<?xml version="1.0" encoding="utf-8"?>\n<view><text name="t" value="$text"/>'
        '<choices name="c" toName="t" choice="single-radio">'
        '<choice value="Positive" alias="pos"/><choice value="Negative" alias="neg"/>'
        "</choices></view>"
    )
    assert schema.kind == "classification"
    assert schema.control("c").labels == ["pos", "neg"]
    assert schema.control("c").choice == "single"


def test_refuses_invalid_xml_with_line():
    err = _error('<View>\n  <Text name="t" value="$t">\n</View>')
    assert err.errors[0]["line"] == 3
    assert err.errors[0]["tag"] is None
    assert str(err).startswith("not valid XML on line 3")
    assert isinstance(err, ValueError)


def test_refuses_empty_config():
    err = _error("")
    assert err.errors[0]["line"] == 1
    assert "not valid XML on line 1" in str(err)


def test_refuses_unsupported_tag_with_line():
    err = _error(
        '<View>\n  <Image name="img" value="$image"/>\n'
        '  <PolygonLabels name="p" toName="img"><Label value="a"/></PolygonLabels>\n</View>'
    )
    assert err.errors == [
        {
            "line": 3,
            "tag": "PolygonLabels",
            "detail": err.errors[0]["detail"],
        }
    ]
    assert "tag <PolygonLabels> on line 3 is not supported yet" in str(err)


@pytest.mark.parametrize(
    ("tag", "xml"),
    [
        (
            "KeyPointLabels",
            '<KeyPointLabels name="k" toName="img"><Label value="a"/></KeyPointLabels>',
        ),
        ("BrushLabels", '<BrushLabels name="b" toName="img"><Label value="a"/></BrushLabels>'),
        ("Relations", '<Relations><Relation value="r"/></Relations>'),
        ("Taxonomy", '<Taxonomy name="tx" toName="img"><Choice value="a"/></Taxonomy>'),
        ("Video", '<Video name="v" value="$video"/>'),
        ("Audio", '<Audio name="a" value="$audio"/>'),
        ("HyperText", '<HyperText name="h" value="$html"/>'),
    ],
)
def test_refuses_each_unsupported_tag(tag, xml):
    err = _error(
        '<View>\n<Image name="img" value="$image"/>\n'
        '<Choices name="c" toName="img"><Choice value="x"/></Choices>\n' + xml + "\n</View>"
    )
    assert err.errors[0]["line"] == 4
    assert err.errors[0]["tag"] == tag
    assert f"tag <{tag}> on line 4 is not supported yet" in str(err)
    assert len(err.errors) == 1


def test_refuses_control_on_refused_object_without_extra_noise():
    err = _error(
        '<View>\n<Audio name="a" value="$audio"/>\n'
        '<Choices name="c" toName="a"><Choice value="x"/></Choices>\n</View>'
    )
    assert [(e["line"], e["tag"]) for e in err.errors] == [(2, "Audio")]


def test_refuses_missing_to_name_object():
    err = _error(
        '<View>\n  <Text name="text" value="$text"/>\n'
        '  <Choices name="c" toName="txt">\n    <Choice value="a"/>\n  </Choices>\n</View>'
    )
    assert err.errors[0]["line"] == 3
    assert err.errors[0]["tag"] == "Choices"
    assert str(err) == (
        'tag <Choices> on line 3 has toName="txt", but no <Text> or <Image> has that name'
    )


def test_refuses_control_without_labels():
    err = _error(
        '<View>\n<Text name="t" value="$t"/>\n<Labels name="l" toName="t">\n</Labels>\n</View>'
    )
    assert (err.errors[0]["line"], err.errors[0]["tag"]) == (3, "Labels")
    assert str(err) == 'tag <Labels> on line 3 has no labels; add <Label value="..."/> inside it'


def test_refuses_config_without_controls():
    err = _error('\n<View>\n  <Text name="t" value="$t"/>\n</View>')
    assert (err.errors[0]["line"], err.errors[0]["tag"]) == (2, "View")
    assert "tag <View> on line 2 has no control tag" in str(err)


@pytest.mark.parametrize(
    ("xml", "line", "tag", "fragment"),
    [
        ("<Foo/>", 1, "Foo", "cannot be the root of a label config"),
        (
            '<View>\n<Image name="i" value="$i"/>\n<Labels name="l" toName="i"><Label value="a"/></Labels></View>',
            3,
            "Labels",
            "cannot annotate <Image> 'i'",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="t" toName="t"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            "reuses the name 't' of <Text> on line 2",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t">\n<Choice value="a"/>\n<Choice value="a"/></Choices></View>',
            5,
            "Choice",
            "repeats the label 'a' of line 4",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t">\n<Choice value="a" hotkey="1"/>\n<Choice value="b" hotkey="1"/></Choices></View>',
            5,
            "Choice",
            "reuses hotkey '1'",
        ),
        (
            '<View>\n<Text name="t" value="hello"/>\n<Choices name="c" toName="t"><Choice value="a"/></Choices></View>',
            2,
            "Text",
            'needs value="$field"',
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t" perRegion="true"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            "perRegion",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t"><Label value="a"/></Choices></View>',
            3,
            "Label",
            "use <Choice>",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choice value="a"/></View>',
            3,
            "Choice",
            "must be inside",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t" choice="many"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            'choice="many"',
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Rating name="r" toName="t" maxRating="0"/></View>',
            3,
            "Rating",
            'maxRating="0"',
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices toName="t"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            'has no name="..."',
        ),
    ],
)
def test_other_refusals_name_tag_and_line(xml, line, tag, fragment):
    err = _error(xml)
    assert (err.errors[0]["line"], err.errors[0]["tag"]) == (line, tag)
    assert f"tag <{tag}> on line {line}" in err.errors[0]["detail"]
    assert fragment in str(err)


def test_refuses_doctype():
    err = _error('<!DOCTYPE View [<!ENTITY x "y">]>\n<View/>')
    assert "DOCTYPE" in str(err)


# --------------------------------------------------------------------------- config changes


def test_change_adding_labels_and_hotkeys_is_allowed():
    old = parse_label_config(TEXT_CLS)
    new = parse_label_config(
        '<View><Header value="Sentiment"/><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text" required="true">'
        '<Choice value="pos" hotkey="p"/><Choice value="neg" hotkey="n"/>'
        '<Choice value="neutral" hotkey="u"/></Choices></View>'
    )
    assert check_config_change(old, new, used_labels={"sentiment": {"pos", "neg"}}) is None


def test_change_removing_an_unused_label_is_allowed():
    old = parse_label_config(TEXT_CLS)
    new = parse_label_config(TEXT_CLS.replace('<Choice value="neg" hotkey="2"/>', ""))
    assert check_config_change(old, new, used_labels={"sentiment": {"pos"}}) is None


def test_change_removing_a_used_label_is_refused():
    old = parse_label_config(TEXT_CLS)
    new = parse_label_config(TEXT_CLS.replace('value="neg"', 'value="negative"'))
    with pytest.raises(LabelConfigError) as info:
        check_config_change(old, new, used_labels={"sentiment": {"pos", "neg"}})
    assert str(info.value) == (
        "control 'sentiment' (<Choices>): label 'neg' is used by existing annotations "
        "and was removed or renamed"
    )
    assert info.value.errors[0]["tag"] == "Choices"


def test_change_renaming_a_used_control_is_refused():
    old = parse_label_config(TEXT_CLS)
    new = parse_label_config(TEXT_CLS.replace('name="sentiment"', 'name="mood"'))
    with pytest.raises(LabelConfigError, match="'sentiment' .* was removed or renamed"):
        check_config_change(old, new, used_labels={"sentiment": {"pos"}})


def test_change_of_control_type_is_refused():
    old = parse_label_config(NER)
    new = parse_label_config(
        '<View><Text name="text" value="$text"/><Choices name="ner" toName="text">'
        '<Choice value="PER"/><Choice value="ORG"/></Choices></View>'
    )
    with pytest.raises(LabelConfigError, match="type changed to <Choices>"):
        check_config_change(old, new, used_labels={"ner": {"PER"}})


def test_change_of_data_key_is_refused():
    old = parse_label_config(TEXT_CLS)
    new = parse_label_config(TEXT_CLS.replace("$text", "$review"))
    with pytest.raises(LabelConfigError) as info:
        check_config_change(old, new, used_labels={"sentiment": {"pos"}})
    assert [e["detail"] for e in info.value.errors] == [
        "object 'text' (<Text>): data key changed from $text to $review; "
        "existing tasks hold 'text'",
        "control 'sentiment' (<Choices>) has annotations and its data key changed "
        "from $text to $review",
    ]


def test_change_multiple_to_single_and_new_required_control_are_refused():
    old = parse_label_config(MIXED)
    new = parse_label_config(
        MIXED.replace(' choice="multiple"', "").replace(
            '<TextArea name="caption" toName="img"/>',
            '<TextArea name="caption" toName="img" required="true"/>',
        )
    )
    with pytest.raises(LabelConfigError) as info:
        check_config_change(old, new, used_labels={"tags": {"indoor"}})
    details = [e["detail"] for e in info.value.errors]
    assert len(details) == 2
    assert "changed from multiple to single choice" in details[0]
    assert "'caption' (<TextArea>) is required in the new config" in details[1]


def test_change_removing_an_unused_control_is_allowed_and_task_keys_checked():
    old = parse_label_config(MIXED)
    new = parse_label_config(
        MIXED.replace('<Rating name="quality" toName="img" maxRating="3"/>', "")
    )
    assert (
        check_config_change(old, new, used_labels={"tags": {"indoor"}}, task_keys={"url"}) is None
    )
    extra = parse_label_config(
        MIXED.replace(
            "</View>\n  <Choices", '</View><Text name="t" value="$notes"/>\n  <Choices', 1
        )
    )
    with pytest.raises(LabelConfigError, match="task data field 'notes'"):
        check_config_change(old, extra, used_labels={}, task_keys={"url"})


def test_collect_used_labels():
    schema = parse_label_config(MIXED)
    used = collect_used_labels(
        schema,
        [
            [
                {
                    "from_name": "tags",
                    "to_name": "img",
                    "type": "choices",
                    "value": {"choices": ["indoor"]},
                },
                {
                    "from_name": "caption",
                    "to_name": "img",
                    "type": "textarea",
                    "value": {"text": ["a"]},
                },
            ],
            [
                {
                    "from_name": "tags",
                    "to_name": "img",
                    "type": "choices",
                    "value": {"choices": ["indoor", "outdoor"]},
                },
                {
                    "from_name": "gone",
                    "to_name": "img",
                    "type": "choices",
                    "value": {"choices": ["x"]},
                },
            ],
        ],
    )
    assert used == {"tags": {"indoor", "outdoor"}, "caption": set()}


# --------------------------------------------------------------------------- results


def _choice(*labels, from_name="sentiment", to_name="text"):
    return {
        "from_name": from_name,
        "to_name": to_name,
        "type": "choices",
        "value": {"choices": list(labels)},
    }


def _span(start, end, text, label="PER"):
    value = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"from_name": "ner", "to_name": "text", "type": "labels", "value": value}


def _box(x, y, w, h, label="cat", rotation=0):
    return {
        "from_name": "box",
        "to_name": "img",
        "type": "rectanglelabels",
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": rotation,
            "rectanglelabels": [label],
        },
    }


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
        "result[0] (ner): cannot check the span: task data 'text' is missing or not a string",
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
        "data field 'text' must be a string (text), got int"
    ]
    image = parse_label_config(DETECTION)
    assert validate_task_data(image, {"image": "/data/media/ab/cd.png"}) == []
    assert validate_task_data(image, {"image": ""}) == [
        "data field 'image' must be an image URL or path, got ''"
    ]
    assert validate_task_data(image, ["x"]) == ["task data must be an object, got list"]


def test_result_labels():
    ner = parse_label_config(NER)
    result = [_span(0, 5, "Alice"), _span(10, 14, "Acme", "ORG"), _span(20, 23, "Bob")]
    assert result_labels(ner, result) == {"ner": ["PER", "ORG"]}
    mixed = parse_label_config(MIXED)
    assert result_labels(mixed, []) == {"tags": []}
    assert result_labels(
        mixed, [_choice("outdoor", "indoor", from_name="tags", to_name="img")]
    ) == {"tags": ["outdoor", "indoor"]}


def test_result_from_labels():
    schema = parse_label_config(TEXT_CLS)
    result = result_from_labels(schema, "neg")
    assert result == [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["neg"]},
        }
    ]
    assert validate_result(schema, result, {"text": "bad"}) == []
    assert result_from_labels(schema, ["pos"]) == [_choice("pos")]
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['meh'\]"):
        result_from_labels(schema, "meh")
    with pytest.raises(ValueError, match="takes exactly one label, got 2"):
        result_from_labels(schema, ["pos", "neg"])


def test_result_from_labels_multiple_and_non_choices():
    schema = parse_label_config(MIXED)
    assert result_from_labels(schema, ["indoor", "outdoor"]) == [
        _choice("indoor", "outdoor", from_name="tags", to_name="img")
    ]
    assert result_from_labels(schema, []) == []
    with pytest.raises(ValueError, match="primary control 'ner' is <Labels>"):
        result_from_labels(parse_label_config(NER), "PER")
