"""Label Studio's Pairwise, Ranker and HyperText templates on the labeling page, with the
keyboard only; each stored result is what Label Studio's editor stores. A hostile HTML task runs
nothing and loads nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.browser.test_annotate_keyboard import caret_text

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def _xml(name: str) -> str:
    return (TEMPLATES / f"{name}.xml").read_text()


def test_pairwise_picks_a_side_with_the_keys(page, shot, lead, annotator):
    data = {"prompt": "Which answer is better?", "answer1": "Short answer.", "answer2": "A longer, better answer."}
    project = make_project(lead, _xml("generative-ai__human-feedback-collection"), [data], title="RLHF")
    open_annotate(page, annotator, project)
    page.keyboard.press("[")
    expect(page.locator('[data-object="answer1"]')).to_have_class(re.compile("is-pair-selected"))
    page.keyboard.press("]")  # changes the pick
    expect(page.locator('[data-object="answer2"]')).to_have_class(re.compile("is-pair-selected"))
    expect(page.locator('[data-object="answer1"].is-pair-selected')).to_have_count(0)
    shot(page, "annotate-pairwise")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result == [{"id": "comparison-pairwise", "from_name": "comparison", "to_name": "comparison",
                             "type": "pairwise", "value": {"selected": "right"}}]


ITEMS = [{"id": "llama", "title": "Llama", "body": "Jobs change."}, {"id": "cobra", "title": "Cobra", "body": "Chaos."},
         {"id": "puma", "title": "Puma", "body": "More jobs."}]


def test_ranker_with_buckets_moves_items_with_arrows_and_bucket_keys(page, shot, lead, annotator):
    project = make_project(lead, _xml("generative-ai__llm-ranker"), [{"task": "Rank", "prompt": "AI and jobs?",
                                                                       "items": ITEMS}], title="Ranker")
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-rank-column")).to_have_count(3)  # the list and the two buckets
    page.locator('.anno-rank-item[data-id="llama"]').focus()
    page.keyboard.press("ArrowDown")  # llama below cobra
    page.keyboard.press("1")  # llama -> relevant_results (the first bucket's key)
    page.locator('.anno-rank-item[data-id="puma"]').focus()
    page.keyboard.press("2")  # puma -> biased_results
    expect(page.locator('[data-column="relevant_results"] .anno-rank-item')).to_have_count(1)
    shot(page, "annotate-ranker-buckets")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result == [{"id": "rank-ranker", "from_name": "rank", "to_name": "answers", "type": "ranker",
                             "value": {"ranker": {"_": ["cobra"], "relevant_results": ["llama"],
                                                  "biased_results": ["puma"]}}}]


def test_ranker_columns_are_headed_by_the_titles_label_studio_shows(page, lead, annotator):
    items = [{"id": f"r{i}", "title": f"Answer {i}", "body": "..."} for i in range(3)]
    project = make_project(lead, _xml("generative-ai__llm-ranker"),
                           [{"task": "Rank them", "prompt": "Best pets?", "items": items}], title="Ranker titles")
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-rank-title")).to_have_text(["All Results", "Relevant Results", "Biased Results"])
    expect(page.locator('[data-control="rank"]')).to_contain_text("buckets Relevant Results 1, Biased Results 2")
    page.locator(".anno-rank-item").first.focus()
    page.keyboard.press("2")  # into "Biased Results": stored under the bucket's name
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["ranker"] == {"_": ["r1", "r2"], "relevant_results": [], "biased_results": ["r0"]}


def test_ranker_without_buckets_reorders_the_list(page, lead, annotator):
    images = [{"id": f"chair_{n}", "html": f"<img src='/static/nothing{n}.png' alt='chair {n}'/>"} for n in (1, 2, 3)]
    project = make_project(lead, _xml("generative-ai__visual-ranker"), [{"prompt": "Chairs", "images": images}],
                           title="Visual ranker")
    page.allow_console(r"nothing\d\.png")  # the sample images are not there; nothing else may fail
    open_annotate(page, annotator, project)
    page.locator('.anno-rank-item[data-id="chair_3"]').focus()
    page.keyboard.press("Home")  # to the top
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["to_name"] == "generated_images"
    assert saved.result[0]["value"] == {"ranker": {"rank": ["chair_3", "chair_1", "chair_2"]}}


HOSTILE = ("<h1>John works at Acme Inc.</h1><p onclick=\"window.__pwned='click'\">He lives in New York."
           "<img src=\"x\" onerror=\"window.__pwned='onerror'\"></p>"
           "<script>window.__pwned='script'</script><a href=\"javascript:window.__pwned='href'\">a link</a>"
           "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>"
           "<div style=\"background:url(https://evil.example/css.png)\">styled</div>"
           "<img src=\"https://evil.example/pixel.png\"><style>h1{background:url(https://evil.example/s.png)}</style>")


def test_html_spans_with_the_keyboard_and_a_hostile_document_runs_nothing(page, shot, lead, annotator):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    xml = _xml("community-contributions__html-ner-tagging-person-and-organization")
    project = make_project(lead, xml, [{"text": HOSTILE}], title="HTML NER")
    open_annotate(page, annotator, project)
    body = page.locator(".anno-html-body")
    expect(body.locator("h1")).to_have_text("John works at Acme Inc.")
    assert body.locator("script, iframe, style, [onclick], [onerror], [style]").count() == 0
    assert body.locator("a[href^='javascript']").count() == 0
    body.locator("p").click()
    assert page.evaluate("window.__pwned") is None

    page.locator(".anno-html").focus()
    page.keyboard.press("ArrowRight")  # span mode on "John"
    assert caret_text(page) == "John"
    page.keyboard.press("1")  # Person; the caret goes on to "works"
    assert caret_text(page) == "works"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # Acme
    page.keyboard.press("Shift+ArrowRight")  # Acme Inc
    assert caret_text(page) == "Acme Inc"
    page.keyboard.press("2")  # Organization
    expect(page.locator(".anno-region")).to_have_count(2)
    shot(page, "annotate-hypertext-spans")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert not [u for u in requests if "evil.example" in u]

    (saved,) = annotations_of(annotator.id, project.id)
    values = sorted((r["value"] for r in saved.result), key=lambda v: v["globalOffsets"]["start"])
    assert {(r["from_name"], r["to_name"], r["type"]) for r in saved.result} == {("ner", "text", "hypertextlabels")}
    assert values == [
        {"start": "/h1[1]/text()[1]", "end": "/h1[1]/text()[1]", "startOffset": 0, "endOffset": 4,
         "globalOffsets": {"start": 0, "end": 4}, "text": "John", "hypertextlabels": ["Person"]},
        {"start": "/h1[1]/text()[1]", "end": "/h1[1]/text()[1]", "startOffset": 14, "endOffset": 22,
         "globalOffsets": {"start": 14, "end": 22}, "text": "Acme Inc", "hypertextlabels": ["Organization"]},
    ]


def test_html_caret_words_stop_at_the_edge_of_a_block(page, lead, annotator):
    # minified HTML: no space between the heading's last word and the paragraph's first
    html = "<div><h2>Notice</h2><p>Ada met Bob<br>in London</p></div>"
    project = make_project(lead, _xml("structured-data-parsing__html-entity-recognition"), [{"html": html}],
                           title="HTML words")
    open_annotate(page, annotator, project)
    page.locator(".anno-html").focus()
    page.keyboard.press("ArrowRight")
    assert caret_text(page) == "Notice"  # not "NoticeAda"
    page.keyboard.press("1")  # Title; the caret goes on to the paragraph's first word
    assert caret_text(page) == "Ada"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert caret_text(page) == "Bob"  # not "Bobin" across the <br>
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    (span,) = saved.result
    assert span["value"]["text"] == "Notice" and span["value"]["globalOffsets"] == {"start": 0, "end": 6}
    assert (span["value"]["start"], span["value"]["end"]) == ("/div[1]/h2[1]/text()[1]", "/div[1]/h2[1]/text()[1]")
    assert (span["value"]["startOffset"], span["value"]["endOffset"]) == (0, 6)
