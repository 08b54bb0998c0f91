"""Label config changes (labeling.schema.changes)."""

from __future__ import annotations

import pytest

from labeling.schema import (
    LabelConfigError,
    check_config_change,
    collect_used_labels,
    parse_label_config,
)
from tests.labeling.schema.configs import MIXED, NER, TEXT_CLS


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
