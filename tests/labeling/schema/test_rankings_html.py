"""Pairwise, Ranker and HyperTextLabels: results as Label Studio's editor stores them are
accepted (and Label Studio's SDK agrees where its validator knows the shape), wrong ones refused;
HTML is sanitised before a page gets it."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import parse_label_config, validate_result, validate_task_data
from labeling.schema.hypertext import page_data, sanitize_html, span_text, text_nodes
from labeling.schema.rankings import ranker_columns

HERE = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
PAIRWISE = (HERE / "ranking-and-scoring__pairwise-classification.xml").read_text()
LLM_RANKER = (HERE / "generative-ai__llm-ranker.xml").read_text()
VISUAL_RANKER = (HERE / "generative-ai__visual-ranker.xml").read_text()
HTML_NER = (HERE / "structured-data-parsing__html-entity-recognition.xml").read_text()


def _ls_ok(xml: str, result: list) -> bool:
    return LabelInterface(xml).validate_prediction({"result": result}, return_errors=True) == []


# ------------------------------------------------------------------ Pairwise


def test_pairwise_takes_the_editor_shape_and_the_sdk_shape():
    schema = parse_label_config(PAIRWISE)
    pw = schema.control("pw")
    assert (pw.type, pw.targets) == ("pairwise", ["text1", "text2"])
    data = {"pairText1": "a", "pairText2": "b"}
    editor = [{"id": "x", "from_name": "pw", "to_name": "pw", "type": "pairwise", "value": {"selected": "left"}}]
    sdk = [dict(editor[0], to_name="text1", value={"selected": "right"})]
    assert validate_result(schema, editor, data) == []
    assert validate_result(schema, sdk, data) == []
    assert _ls_ok(PAIRWISE, sdk)


@pytest.mark.parametrize("value", [{"selected": "none"}, {"selected": ["left"]}, {}])
def test_pairwise_refuses_other_values(value):
    schema = parse_label_config(PAIRWISE)
    problems = validate_result(schema, [{"from_name": "pw", "to_name": "pw", "type": "pairwise", "value": value}],
                               {"pairText1": "a", "pairText2": "b"})
    assert len(problems) == 1 and 'value.selected must be "left" or "right"' in problems[0]


def test_pairwise_needs_two_objects():
    from labeling.schema import LabelConfigError

    with pytest.raises(LabelConfigError, match="naming the two objects"):
        parse_label_config('<View><Text name="a" value="$a"/><Pairwise name="pw" toName="a"/></View>')


# ------------------------------------------------------------------ Ranker

ITEMS = [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}]


def test_ranker_without_buckets_ranks_in_one_column_named_after_it():
    schema = parse_label_config(VISUAL_RANKER)
    rank = schema.control("rank")
    assert ranker_columns(rank) == ["rank"]
    data = {"prompt": "p", "images": [{"id": i["id"], "html": "<img src='/x.png'>"} for i in ITEMS]}
    assert validate_task_data(schema, data) == []
    result = [{"from_name": "rank", "to_name": "generated_images", "type": "ranker",
               "value": {"ranker": {"rank": ["c", "a", "b"]}}}]
    assert validate_result(schema, result, data) == []
    assert _ls_ok(VISUAL_RANKER, result)


def test_ranker_with_buckets_keeps_the_list_in_column_underscore():
    schema = parse_label_config(LLM_RANKER)
    rank = schema.control("rank")
    assert ranker_columns(rank) == ["_", "relevant_results", "biased_results"]
    data = {"task": "t", "prompt": "p", "items": ITEMS}
    result = [{"from_name": "rank", "to_name": "answers", "type": "ranker",
               "value": {"ranker": {"_": ["b"], "relevant_results": ["c", "a"], "biased_results": []}}}]
    assert validate_result(schema, result, data) == []
    assert _ls_ok(LLM_RANKER, result)


def test_ranker_default_bucket_has_no_underscore_column():
    schema = parse_label_config('<View><List name="l" value="$items"/><Ranker name="r" toName="l">'
                                '<Bucket name="all" title="All" default="true"/><Bucket name="bad"/></Ranker></View>')
    assert schema.control("r").default_bucket == "all"
    assert ranker_columns(schema.control("r")) == ["all", "bad"]
    # the headings Label Studio shows: a Bucket's title (the name is the result's key), the List's title
    assert schema.control("r").titles == {"all": "All"} and schema.objects["l"].title is None
    llm = parse_label_config(LLM_RANKER)
    assert llm.control("rank").titles == {"relevant_results": "Relevant Results", "biased_results": "Biased Results"}
    assert llm.objects["answers"].title == "All Results"


@pytest.mark.parametrize(("ranker", "reason"), [
    ({"rank": ["a", "a"]}, "places an item twice"),
    ({"rank": ["zz"]}, "that the list does not have"),
    ({"other": ["a"]}, "unknown column"),
    ({"rank": "a"}, "column name -> list of item ids"),
])
def test_ranker_refuses_wrong_rankings(ranker, reason):
    schema = parse_label_config(VISUAL_RANKER)
    problems = validate_result(schema, [{"from_name": "rank", "to_name": "generated_images", "type": "ranker",
                                         "value": {"ranker": ranker}}], {"prompt": "p", "images": ITEMS})
    assert len(problems) == 1 and reason in problems[0]


def test_list_data_needs_items_with_ids():
    schema = parse_label_config(VISUAL_RANKER)
    assert "each with an \"id\"" in validate_task_data(schema, {"prompt": "p", "images": [{"html": "x"}]})[0]
    assert "repeats an item id" in validate_task_data(schema, {"prompt": "p", "images": [{"id": "a"}, {"id": "a"}]})[0]


# ------------------------------------------------------------------ HyperText

HTML = "<h1>John works at Acme Inc.</h1><p>He lives in <b>New</b> York.</p>"


def test_text_nodes_are_written_as_xpath_range_writes_them():
    assert text_nodes(HTML) == [("/h1[1]/text()[1]", "John works at Acme Inc."), ("/p[1]/text()[1]", "He lives in "),
                                ("/p[1]/b[1]/text()[1]", "New"), ("/p[1]/text()[2]", " York.")]


def test_a_span_across_nodes_is_checked_against_the_html():
    schema = parse_label_config(HTML_NER)
    value = {"start": "/p[1]/b[1]/text()[1]", "end": "/p[1]/text()[2]", "startOffset": 0, "endOffset": 5,
             "globalOffsets": {"start": 35, "end": 43}, "text": "New York", "hypertextlabels": ["Title"]}
    assert span_text(HTML, value) == "New York"
    item = {"id": "s1", "from_name": "ner", "to_name": "text", "type": "hypertextlabels", "value": value}
    assert validate_result(schema, [item], {"html": HTML}) == []
    assert _ls_ok(HTML_NER, [item])
    wrong = dict(item, value=dict(value, text="Old York"))
    assert "does not match the HTML's text" in validate_result(schema, [wrong], {"html": HTML})[0]
    outside = dict(item, value=dict(value, endOffset=50))
    assert "does not lie in the task's HTML" in validate_result(schema, [outside], {"html": HTML})[0]
    bad_path = dict(item, value=dict(value, start="//script"))
    assert "must be XPaths of text nodes" in validate_result(schema, [bad_path], {"html": HTML})[0]


HOSTILE = ("<p onclick=\"steal()\">Hi <a href=\"javascript:alert(1)\">link</a></p>"
           "<script>alert(1)</script><img src=\"x\" onerror=\"alert(2)\"><img src=\"https://evil.example/t.png\">"
           "<iframe src=\"https://evil.example\"></iframe><style>p{background:url(https://evil.example/c)}</style>"
           "<div style=\"background:url(https://evil.example/d)\">ok</div><svg onload=\"alert(3)\"></svg>"
           "<form action=\"https://evil.example\"><input name=\"q\"></form><img src=\"/static/ok.png\">")


def test_sanitize_html_removes_everything_that_runs_or_loads():
    clean = sanitize_html(HOSTILE)
    for bad in ("script", "onclick", "onerror", "onload", "javascript:", "iframe", "evil.example", "style",
                "svg", "form", "input", "alert"):
        assert bad not in clean.lower(), bad
    assert "Hi " in clean and ">ok</div>" in clean and '<img src="/static/ok.png">' in clean


def test_page_data_sanitises_hypertext_and_list_html_only():
    schema = parse_label_config(HTML_NER)
    data = {"html": HOSTILE, "other": "<script>x</script>"}
    shown = page_data(schema, data)
    assert "script" not in shown["html"] and shown["other"] == data["other"] and data["html"] == HOSTILE
    ranker = parse_label_config(VISUAL_RANKER)
    shown = page_data(ranker, {"prompt": "p", "images": [{"id": "a", "html": "<img src=x onerror=alert(1)>"}]})
    assert shown["images"] == [{"id": "a", "html": "<img>"}]
