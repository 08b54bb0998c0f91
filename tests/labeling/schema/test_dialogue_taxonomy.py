"""Paragraphs (dialogues), Table, ParagraphLabels and Taxonomy: parsed from Label Studio's own
templates, results checked as Label Studio stores them (and as its SDK validates them), task
data checked with the Paragraphs' nameKey/textKey."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import (
    LabelConfigError,
    label_text,
    parse_label_config,
    validate_result,
    validate_task_data,
)

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
SLOTS = (TEMPLATES / "conversational-ai__intent-classification-and-slot-filling.xml").read_text()
TAXONOMY = (TEMPLATES / "natural-language-processing__taxonomy.xml").read_text()
CHATBOT = (TEMPLATES / "generative-ai__chatbot-assessment.xml").read_text()
TABLE = (TEMPLATES / "structured-data-parsing__tabular-data.xml").read_text()
DIALOGUE = [{"author": "Alice", "text": "Hi, Bob."}, {"author": "Bob", "text": "Hello, Alice!"}]


def span(start, end, first, last, text, label="Person"):
    value = {"start": start, "end": end, "startOffset": first, "endOffset": last, "paragraphlabels": [label]}
    if text is not None:
        value["text"] = text
    return {"id": "s1", "from_name": "entity_slot", "to_name": "dialogue", "type": "paragraphlabels", "value": value}


def test_paragraphs_and_paragraph_labels_are_read_with_their_keys():
    schema = parse_label_config(SLOTS)
    obj = schema.objects["dialogue"]
    assert (obj.tag, obj.value_key, obj.name_key, obj.text_key) == ("Paragraphs", "humanMachineDialogue", "author", "text")
    slots = schema.control("entity_slot")
    assert (slots.type, slots.labels[:2], slots.text_key) == ("paragraphlabels", ["Person", "Organization"], "text")
    assert schema.kind == "paragraphs"
    chat = parse_label_config(CHATBOT)
    assert (chat.objects["dialogue"].name_key, chat.objects["dialogue"].text_key) == ("role", "content")


def test_a_paragraph_span_as_label_studio_stores_it_is_valid_and_label_studio_agrees():
    schema = parse_label_config(SLOTS)
    data = {"humanMachineDialogue": DIALOGUE}
    result = [span("0", "0", 4, 7, "Bob"), span("0", "1", 4, 5, "Bob.\nHello")]
    assert validate_result(schema, result, data) == []
    assert LabelInterface(SLOTS).validate_prediction({"result": result}) is True
    assert label_text(result[:1]) == "Person 'Bob'"


@pytest.mark.parametrize(("item", "says"), [
    (span("0", "0", 4, 8, "Bob"), "does not match paragraph 0"),
    (span("0", "2", 0, 1, None), "outside the dialogue, which has 2"),
    (span("1", "0", 0, 1, None), "outside the dialogue"),
    (span("x", "0", 0, 1, None), "paragraph indexes"),
    (span("0", "0", 5, 5, None), "is empty"),
    (span("0", "0", 0, 99, None), "outside paragraphs 0"),
    (span("0", "0", 0, 2, "Hi", label="Planet"), "unknown label"),
])
def test_wrong_paragraph_spans_are_refused_with_a_reason(item, says):
    problems = validate_result(parse_label_config(SLOTS), [item], {"humanMachineDialogue": DIALOGUE})
    assert len(problems) == 1 and says in problems[0], problems


def test_dialogue_data_is_checked_with_the_configured_keys():
    slots, chat = parse_label_config(SLOTS), parse_label_config(CHATBOT)
    assert validate_task_data(slots, {"humanMachineDialogue": DIALOGUE}) == []
    assert "needs its text as a string under 'content'" in validate_task_data(chat, {"messages": DIALOGUE})[0]
    assert validate_task_data(chat, {"messages": [{"role": "user", "content": "hi"}]}) == []
    assert "non-empty list of paragraphs" in validate_task_data(slots, {"humanMachineDialogue": "Hi"})[0]


def test_table_takes_a_dict_or_rows_and_controls_annotate_it():
    schema = parse_label_config(TABLE)
    assert schema.objects["table"].tag == "Table"
    assert validate_task_data(schema, {"item": {"a": 1}}) == []
    assert validate_task_data(schema, {"item": [{"a": 1}, {"a": 2}]}) == []
    assert "{key: value} pairs" in validate_task_data(schema, {"item": "x"})[0]
    result = [{"from_name": "choice", "to_name": "table", "type": "choices", "value": {"choices": ["Correct"]}}]
    assert validate_result(schema, result, {"item": {"a": 1}}) == []


def test_taxonomy_tree_paths_with_alias_and_first_of_repeated_siblings():
    schema = parse_label_config(
        '<View><Text name="t" value="$text"/><Taxonomy name="tx" toName="t" leafsOnly="true" maxUsages="2" '
        'showFullPath="true" pathSeparator=" > ">'
        '<Choice value="Animals"><Choice value="Cat" alias="cat"/><Choice value="Dog"/></Choice>'
        '<Choice value="Animals"><Choice value="Cow"/></Choice><Choice value="Plants"/></Taxonomy></View>')
    tx = schema.control("tx")
    assert tx.taxonomy == [["Animals"], ["Animals", "cat"], ["Animals", "Dog"], ["Plants"]]
    assert (tx.leafs_only, tx.max_usages, tx.show_full_path, tx.path_separator) == (True, 2, True, " > ")
    assert schema.kind == "taxonomy"


def test_taxonomy_results_as_label_studio_stores_them():
    schema = parse_label_config(TAXONOMY)
    item = {"from_name": "taxonomy", "to_name": "text", "type": "taxonomy",
            "value": {"taxonomy": [["Eukarya", "Human"], ["Archaea"]]}}
    assert validate_result(schema, [item], {"text": "x"}) == []
    assert LabelInterface(TAXONOMY).validate_prediction({"result": [item]}) is True
    assert label_text([item]) == "Eukarya / Human, Archaea"
    bad = dict(item, value={"taxonomy": [["Human"]]})
    assert "not in the taxonomy" in validate_result(schema, [bad], {"text": "x"})[0]
    assert "non-empty list of paths" in validate_result(schema, [dict(item, value={"taxonomy": "Human"})], {})[0]


def test_taxonomy_leafs_only_and_max_usages_are_enforced():
    schema = parse_label_config(
        '<View><Text name="t" value="$text"/><Taxonomy name="tx" toName="t" leafsOnly="true" maxUsages="1">'
        '<Choice value="A"><Choice value="B"/></Choice><Choice value="C"/></Taxonomy></View>')

    def check(*paths):
        return validate_result(schema, [{"from_name": "tx", "to_name": "t", "type": "taxonomy",
                                         "value": {"taxonomy": list(paths)}}], {"text": "x"})

    assert check(["A", "B"]) == []
    assert "leaves only" in check(["A"])[0]
    assert "at most 1 path" in check(["A", "B"], ["C"])[0]


@pytest.mark.parametrize(("xml", "says"), [
    ('<Taxonomy name="tx" toName="t" apiUrl="https://example.com/tx"/>', "apiUrl"),
    ('<Taxonomy name="tx" toName="t"/>', "has no choices"),
    ('<Taxonomy name="tx" toName="t"><Label value="a"/></Taxonomy>', "use <Choice>"),
    ('<Taxonomy name="tx" toName="t" maxUsages="0"><Choice value="a"/></Taxonomy>', "maxUsages"),
])
def test_taxonomy_configs_refused_with_a_reason(xml, says):
    with pytest.raises(LabelConfigError) as err:
        parse_label_config(f'<View><Text name="t" value="$text"/>{xml}</View>')
    assert says in str(err.value)
