"""Reading and building results (labeling.schema.results)."""

from __future__ import annotations

import pytest

from labeling.schema import (
    label_text,
    parse_label_config,
    result_from_labels,
    result_labels,
    validate_result,
)
from tests.labeling.schema.configs import MIXED, NER, TEXT_CLS, _box, _choice, _span


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


def test_label_text_reads_each_tag_family():
    assert label_text(None) == "" and label_text("cat") == "cat" and label_text(["a", "b"]) == "a, b"
    assert label_text(3) == "3"
    result = [
        _choice("pos", "neg"),
        _span(0, 3, "Ada"),
        _span(4, 7, None, label="ORG"),
        _box(1, 2, 3, 4, label="dog"),
        {"from_name": "caption", "to_name": "img", "type": "textarea", "value": {"text": ["a", "b"]}},
        {"from_name": "quality", "to_name": "img", "type": "Rating", "value": {"rating": 4}},
        {"from_name": "x", "to_name": "img", "type": "unknown", "value": {"v": 1}},
        "not an item",
    ]
    assert label_text(result) == "pos, neg; PER 'Ada'; ORG [4:7]; dog (box); a / b; 4 stars"
