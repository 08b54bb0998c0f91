"""The final label of a task (labeling.aggregation): reviewer > consensus > single > majority."""

from __future__ import annotations

import pytest

from labeling.aggregation import final_label, label_value, people_label
from labeling.schema import parse_label_config

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices>
</View>"""
MULTI = """<View><Text name="text" value="$text"/>
<Choices name="topic" toName="text" choice="multiple"><Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices>
</View>"""
NER = """<View><Labels name="ents" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
<Text name="text" value="$text"/></View>"""


def choice(*names: str, control: str = "label") -> list[dict]:
    return [{"from_name": control, "to_name": "text", "type": "choices", "value": {"choices": list(names)}}]


def span(start: int, end: int, label: str, item_id: str = "x") -> list[dict]:
    return [{"id": item_id, "from_name": "ents", "to_name": "text", "type": "labels",
             "value": {"start": start, "end": end, "labels": [label]}}]


@pytest.fixture(scope="module")
def text():
    return parse_label_config(TEXT)


def test_reviewer_wins_over_everything(text):
    result, source = final_label(text, [choice("pos"), choice("pos")], reviewer_result=choice("neg"),
                                 consensus=choice("neu"))
    assert (result, source) == (choice("neg"), "reviewer")


def test_consensus_wins_over_the_annotators(text):
    assert final_label(text, [choice("pos"), choice("pos")], consensus=choice("neu")) == (choice("neu"), "consensus")


def test_one_annotator_is_single(text):
    assert final_label(text, [choice("neg")]) == (choice("neg"), "single")


def test_no_label_at_all(text):
    assert final_label(text, []) == (None, None)


def test_majority_of_classes(text):
    result, source = final_label(text, [choice("neg"), choice("pos"), choice("neg")])
    assert source == "majority"
    assert label_value(text, result) == "neg"


def test_a_tie_goes_to_the_label_listed_first_whatever_the_order(text):
    assert label_value(text, final_label(text, [choice("neg"), choice("pos")])[0]) == "pos"
    assert label_value(text, final_label(text, [choice("pos"), choice("neg")])[0]) == "pos"


def test_multilabel_keeps_labels_chosen_by_more_than_half():
    schema = parse_label_config(MULTI)
    result, source = final_label(schema, [choice("a", "b", control="topic"), choice("a", control="topic"),
                                          choice("a", "c", control="topic")])
    assert source == "majority"
    assert label_value(schema, result) == ["a"]


def test_spans_take_the_most_frequent_whole_result_ignoring_item_ids():
    schema = parse_label_config(NER)
    a, b = span(0, 4, "PER", "i1"), span(0, 4, "PER", "i2")
    result, source = final_label(schema, [span(5, 8, "ORG"), a, b])
    assert source == "majority"
    assert result == a  # the first of the two equal results
    assert label_value(schema, result) == a  # spans are exported as result items


def test_people_label_never_breaks_a_tie(text):
    assert people_label(text, []) == (None, None, [])
    assert people_label(text, [choice("neu")]) == (choice("neu"), "single", [])
    assert people_label(text, [choice("neg"), choice("neg"), choice("pos")]) == (choice("neg"), "majority", [])
    # final_label gives the tie to the first class of the config; people_label gives none
    assert final_label(text, [choice("neg"), choice("pos")])[0] == choice("pos")
    assert people_label(text, [choice("neg"), choice("pos")]) == (None, None, [choice("pos"), choice("neg")])


def test_people_label_of_multilabel_and_spans():
    multi, ner = parse_label_config(MULTI), parse_label_config(NER)
    picks = [choice("a", "b", control="topic"), choice("a", control="topic")]
    assert people_label(multi, picks) == (None, None, [choice("a", control="topic"), choice("a", "b", control="topic")])
    three = [*picks, choice("a", "b", control="topic")]
    assert people_label(multi, three) == (choice("a", "b", control="topic"), "majority", [])
    assert people_label(ner, [span(0, 4, "PER"), span(0, 4, "ORG")])[2] == [span(0, 4, "PER"), span(0, 4, "ORG")]
    assert people_label(ner, [span(0, 4, "PER", "1"), span(0, 4, "PER", "2"), span(0, 4, "ORG")])[:2] == \
        (span(0, 4, "PER", "1"), "majority")
