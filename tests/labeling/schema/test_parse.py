"""Label Studio XML configs -> LabelSchema (labeling.schema.parse), and the gallery."""

from __future__ import annotations

import pytest

from labeling.schema import (
    LabelConfigError,
    LabelSchema,
    gallery,
    parse_label_config,
)
from tests.labeling.schema.configs import DETECTION, MIXED, NER, TEXT_CLS


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


def test_gallery_lists_labelfabs_six_configs_then_the_label_studio_templates_it_accepts():
    entries = gallery()
    assert {g["id"]: g["title"] for g in entries}["ner"] == "Named entity recognition"
    assert [g["id"] for g in entries[:6]] == [
        "image_classification",
        "multilabel_image",
        "multilabel_text",
        "ner",
        "object_detection",
        "text_classification",
    ]
    ls = entries[6:]
    assert len(ls) == 69 and all(g["source"] == "Label Studio" and g["id"].startswith("ls-") for g in ls)
    ner = next(g for g in ls if g["id"] == "ls-natural-language-processing__named-entity-recognition")
    assert (ner["title"], ner["group"], ner["kind"]) == ("Named entity recognition",
                                                         "Natural language processing (NLP)", "ner")
    qa = next(g for g in ls if g["id"] == "ls-natural-language-processing__question-answering")
    assert set(qa["sample"]) == {"text", "question"}  # the template's example task, its text fields


def test_text_classification_schema_and_json_round_trip():
    schema = parse_label_config(TEXT_CLS)
    assert schema.model_dump() == {
        "objects": {"text": {"tag": "Text", "value_key": "text", "name_key": None, "text_key": None,
                             "value_list": False, "chat": None, "series": None, "frame_rate": None,
                             "sync": None, "audio_url": None, "title": None}},
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
                "to_names": [],
                "labels_key": None,
                "visible_when": None,
                "when_tag_name": None,
                "when_choice_values": [],
                "min_value": None,
                "max_value": None,
                "step": None,
                "only": [],
                "text_key": None,
                "taxonomy": [],
                "leafs_only": False,
                "show_full_path": False,
                "path_separator": " / ",
                "max_usages": None,
                "default_bucket": None,
                "titles": {},
                "per_region": False,
                "per_item": False,
                "when_label_values": [],
                "stroke_width": None,
                "when_roles": [],
                "series": None,
            }
        ],
        "notes": [],
        "relations": None,
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
        '  <MagicWand name="p" toName="img"/>\n</View>'
    )
    assert err.errors == [
        {
            "line": 3,
            "tag": "MagicWand",
            "detail": err.errors[0]["detail"],
        }
    ]
    assert "tag <MagicWand> on line 3 is not supported yet" in str(err)


@pytest.mark.parametrize(
    ("tag", "xml"),
    [
        ("Spectrogram", '<Spectrogram name="sp" value="$audio"/>'),  # no such tag (Audio is supported)
        ("MagicWand", '<MagicWand name="mw" toName="img"/>'),
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
        '<View>\n<Spectrogram name="a" value="$audio"/>\n'
        '<Choices name="c" toName="a"><Choice value="x"/></Choices>\n</View>'
    )
    assert [(e["line"], e["tag"]) for e in err.errors] == [(2, "Spectrogram")]


def test_refuses_missing_to_name_object():
    err = _error(
        '<View>\n  <Text name="text" value="$text"/>\n'
        '  <Choices name="c" toName="txt">\n    <Choice value="a"/>\n  </Choices>\n</View>'
    )
    assert err.errors[0]["line"] == 3
    assert err.errors[0]["tag"] == "Choices"
    # the object tags named are every one labelfab reads (registry.OBJECTS), Text first
    assert str(err).startswith('tag <Choices> on line 3 has toName="txt", but no <Text>, <Image>')
    assert str(err).endswith(" has that name")


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
            "labels the plain shapes of <Image> 'i', but no shape tool",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="t" toName="t"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            "reuses the name 't' of <Text> on line 2",
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<Choices name="c" toName="t">\n<Choice value="a" hotkey="1"/>\n<Choice value="b" hotkey="1"/></Choices></View>',
            5,
            "Choice",
            "reuses hotkey '1'",
        ),
        (
            '<View>\n<Text name="t" value="hello"/>\n<Choices name="c" toName="t"><Choice value="a"/></Choices></View>',
            3,
            "Choices",
            "<Text> 't' on line 2 shows a literal value; an object to annotate needs value=\"$field\"",
        ),
        (
            '<View>\n<Text name="t" value="Title: $t"/>\n<Choices name="c" toName="t"><Choice value="a"/></Choices></View>',
            2,
            "Text",
            'needs value="$field"',
        ),
        (
            '<View>\n<Text name="t" value="$t"/>\n<DateTime name="c" toName="t" perRegion="true"/></View>',
            3,
            "DateTime",
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


def test_the_readme_lists_every_supported_tag_in_its_compatibility_table():
    """README's Label Studio compatibility section names every tag the registry supports (and
    none of its "not yet" tags is one labelfab accepts)."""
    import re
    from pathlib import Path

    from labeling.schema import registry

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Label Studio compatibility: label configs"):]
    table = section[:section.index("Supported now:")]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    supported = {t for row in rows for t in re.findall(r"<(\w+)[ >]", row[2])}
    not_yet = {t for row in rows for t in re.findall(r"<(\w+)[ >]", row[3])}
    assert set(registry.CANONICAL.values()) <= supported
    assert not (not_yet - {"View", "Taxonomy", "DateTime"}) & set(registry.CANONICAL.values())
