"""Config features Label Studio's templates use: comments, literal texts and headers, text as a
list of paragraphs, several objects in toName, controls without toName, visibleWhen, labels
from task data, Number and DateTime."""

from __future__ import annotations

import pytest

from labeling.schema import (
    LabelConfigError,
    parse_label_config,
    validate_result,
    validate_task_data,
)
from labeling.schema.validate import data_labels, hidden_controls


def test_comments_anywhere_even_inside_style():
    schema = parse_label_config(
        "<!-- before the root -->\n<View>\n  <!-- a note -->\n"
        "  <Style><!-- theme --> .x { color: red } </Style>\n"
        '  <Text name="t" value="$t"/><!-- after -->\n'
        '  <Choices name="c" toName="t"><!-- the choices --><Choice value="a"/><!-- x --></Choices>\n'
        '  <Header value="h"><!-- inside a header --></Header>\n</View>\n<!-- {"data": {"t": "x"}} -->'
    )
    assert schema.control("c").labels == ["a"]


def test_literal_text_and_headers_are_notes_placed_before_what_follows_them():
    schema = parse_label_config(
        '<View><Header value="Read this"/><Text name="intro" value="Some instruction"/>'
        '<Text name="t" value="$t"/><Header>Pick one</Header>'
        '<Choices name="c" toName="t"><Choice value="a"/></Choices>'
        '<Header value="$title" size="2"/></View>'
    )
    assert [n.model_dump(exclude={"visible_when", "when_roles"}) for n in schema.notes] == [
        {"tag": "Header", "text": "Read this", "value_key": None, "before": "t", "size": None},
        {"tag": "Text", "text": "Some instruction", "value_key": None, "before": "t", "size": None},
        {"tag": "Header", "text": "Pick one", "value_key": None, "before": "c", "size": None},
        {"tag": "Header", "text": None, "value_key": "title", "before": None, "size": 2},
    ]
    assert set(schema.objects) == {"t"}  # a literal text is shown, not annotated
    assert schema.data_keys == {"t"}


def test_text_as_a_list_of_paragraphs_counts_offsets_as_label_studio_joins_it():
    schema = parse_label_config('<View><Text name="t" value="$doc"/>'
                                '<Labels name="l" toName="t"><Label value="X"/></Labels></View>')
    data = {"doc": ["First one.", "Second, longer one."]}
    assert validate_task_data(schema, data) == []
    joined = "First one.,Second, longer one."  # Label Studio's String(list)
    start = joined.index("Second")
    span = {"from_name": "l", "to_name": "t", "type": "labels",
            "value": {"start": start, "end": start + 6, "text": "Second", "labels": ["X"]}}
    assert validate_result(schema, [span], data) == []
    across = dict(span, value={"start": 6, "end": 17, "text": "one.,Second", "labels": ["X"]})
    assert validate_result(schema, [across], data) == []
    wrong = dict(span, value={"start": 6, "end": 17, "text": "one.\nSecond", "labels": ["X"]})
    assert "does not match the task text" in validate_result(schema, [wrong], data)[0]
    assert validate_task_data(schema, {"doc": ["a", 3]}) == [
        "data field 'doc' must be a string (text) or a list of strings (paragraphs), got list"]


def test_a_classification_on_several_objects_takes_any_of_them_as_to_name():
    schema = parse_label_config('<View><Image name="a" value="$a"/><Image name="b" value="$b"/>'
                                '<Rating name="r" toName="a,b"/></View>')
    rating = schema.control("r")
    assert (rating.to_name, rating.to_names, rating.targets) == ("a", ["a", "b"], ["a", "b"])
    item = {"from_name": "r", "to_name": "b", "type": "rating", "value": {"rating": 3}}
    assert validate_result(schema, [item], {}) == []
    assert "annotates 'a' or 'b'" in validate_result(schema, [dict(item, to_name="c")], {})[0]


def test_regions_on_several_objects_are_refused_and_missing_objects_named():
    with pytest.raises(LabelConfigError, match='marks regions on several objects'):
        parse_label_config('<View><Text name="a" value="$a"/><Text name="b" value="$b"/>'
                           '<Labels name="l" toName="a,b"><Label value="x"/></Labels></View>')
    with pytest.raises(LabelConfigError, match='toName="c", but no'):
        parse_label_config('<View><Text name="a" value="$a"/><Rating name="r" toName="a,c"/></View>')


def test_rating_and_datetime_without_to_name_annotate_the_first_object_as_label_studio_allows():
    schema = parse_label_config('<View><Text name="a" value="$a"/><Text name="b" value="$b"/>'
                                '<Rating name="r"/><DateTime name="d" only="date"/></View>')
    assert [(c.name, c.to_name) for c in schema.controls] == [("r", "a"), ("d", "a")]
    with pytest.raises(LabelConfigError, match='has no toName'):  # Label Studio requires it here
        parse_label_config('<View><Text name="a" value="$a"/><TextArea name="x"/></View>')


VISIBLE = ('<View><Text name="t" value="$t"/>'
           '<Choices name="sentiment" toName="t"><Choice value="Positive"/><Choice value="Negative"/></Choices>'
           '<Choices name="why" toName="t" required="true" visibleWhen="choice-selected" '
           'whenTagName="sentiment" whenChoiceValue="Negative,Other"><Choice value="price"/></Choices>'
           '<TextArea name="more" toName="t" required="true" visibleWhen="choice-unselected"/></View>')


def test_visible_when_hides_controls_and_their_requirement():
    schema = parse_label_config(VISIBLE)
    why = schema.control("why")
    assert (why.visible_when, why.when_tag_name, why.when_choice_values) == (
        "choice-selected", "sentiment", ["Negative", "Other"])
    positive = [{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": ["Positive"]}}]
    negative = [dict(positive[0], value={"choices": ["Negative"]})]
    assert hidden_controls(schema, []) == {"why"}
    assert hidden_controls(schema, positive) == {"why", "more"}
    assert hidden_controls(schema, negative) == {"more"}
    assert validate_result(schema, positive, {"t": "x"}) == []
    assert validate_result(schema, negative, {"t": "x"}) == [
        "control 'why' is required, but the result has no item for it"]
    with pytest.raises(LabelConfigError, match='whenTagName="nope", but no <Choices>'):
        parse_label_config(VISIBLE.replace('whenTagName="sentiment"', 'whenTagName="nope"'))
    with pytest.raises(LabelConfigError, match='visibleWhen="region-unselected", which is not supported yet'):
        parse_label_config(VISIBLE.replace('visibleWhen="choice-unselected"', 'visibleWhen="region-unselected"'))


def test_labels_from_task_data():
    schema = parse_label_config('<View><Text name="t" value="$t"/>'
                                '<Choices name="c" toName="t" value="$options" choice="multiple"/></View>')
    control = schema.control("c")
    assert (control.labels, control.labels_key, schema.data_keys) == ([], "options", {"t", "options"})
    data = {"t": "q", "options": [{"value": "id#0", "html": "<b>zero</b>"}, {"value": "v1", "alias": "one"}, "two"]}
    assert data_labels(control, data) == ["id#0", "one", "two"]
    assert validate_task_data(schema, data) == []
    item = {"from_name": "c", "to_name": "t", "type": "choices", "value": {"choices": ["id#0", "two"]}}
    assert validate_result(schema, [item], data) == []
    assert "unknown label(s) ['v1']" in validate_result(schema, [dict(item, value={"choices": ["v1"]})], data)[0]
    assert validate_task_data(schema, {"t": "q"}) == [
        "data field 'options' (the labels of 'c') must be a list of labels, got nothing"]
    with pytest.raises(LabelConfigError, match='labels from task data need value="\\$field"'):
        parse_label_config('<View><Text name="t" value="$t"/><Choices name="c" toName="t" value="opts"/></View>')


def test_a_repeated_label_is_read_once_as_label_studio_stores_it():
    schema = parse_label_config('<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
                                '<Choice value="One"/><Choice value="Two"/><Choice value="Two"/></Choices></View>')
    assert schema.control("c").labels == ["One", "Two"]


def test_number_within_min_and_max():
    schema = parse_label_config('<View><Text name="t" value="$t"/>'
                                '<Number name="n" toName="t" min="0" max="10" step="0.5"/></View>')
    n = schema.control("n")
    assert (n.type, n.min_value, n.max_value, n.step) == ("number", 0.0, 10.0, 0.5)

    def item(x):
        return [{"from_name": "n", "to_name": "t", "type": "number", "value": {"number": x}}]

    assert validate_result(schema, item(7.5), {}) == []
    assert validate_result(schema, item(11), {}) == ["result[0] (n): value.number 11 is above the control's max 10"]
    assert validate_result(schema, item("3"), {}) == ["result[0] (n): value.number must be a number, got '3'"]
    with pytest.raises(LabelConfigError, match='has min="5" above max="1"'):
        parse_label_config('<View><Text name="t" value="$t"/><Number name="n" toName="t" min="5" max="1"/></View>')


@pytest.mark.parametrize(("only", "good", "bad"), [
    (None, "2024-03-05T10:30", "2024-03-05"),
    ("date", "2024-03-05", "2024-02-30"),
    ("time", "10:30", "25:00"),
    ("date,time", "2024-03-05T10:30", "10:30"),
])
def test_datetime_in_label_studios_format(only, good, bad):
    extra = f' only="{only}"' if only else ""
    schema = parse_label_config(f'<View><Text name="t" value="$t"/><DateTime name="d" toName="t"{extra}/></View>')

    def item(x):
        return [{"from_name": "d", "to_name": "t", "type": "datetime", "value": {"datetime": x}}]

    assert validate_result(schema, item(good), {}) == []
    assert "value.datetime must be a date and time written like" in validate_result(schema, item(bad), {})[0]


def test_datetime_formats_not_yet_supported_are_refused():
    with pytest.raises(LabelConfigError, match='only="year", which is not supported yet'):
        parse_label_config('<View><Text name="t" value="$t"/><DateTime name="d" toName="t" only="year"/></View>')
    with pytest.raises(LabelConfigError, match='format="%d.%m.%Y", which is not supported yet'):
        parse_label_config('<View><Text name="t" value="$t"/><DateTime name="d" toName="t" format="%d.%m.%Y"/></View>')
