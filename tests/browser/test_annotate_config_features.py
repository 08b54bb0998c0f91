"""Label Studio config features on the labeling page, with the keyboard: the config's own
headers and literal texts, text given as a list of paragraphs, visibleWhen, labels from task
data, Number and DateTime, a rating on two images. Each stored result is Label Studio's."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_data_url
from tests.browser.test_annotate_keyboard import caret_text

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element ``selector`` has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


NOTES_AND_PARAGRAPHS = """<View>
  <Style><!-- the project's theme --> .x { color: red }</Style>
  <Header value="$title" size="2"/>
  <Text name="intro" value="Mark every person; a name may run over a paragraph's end."/>
  <!-- the document, one paragraph a list item -->
  <Text name="doc" value="$doc"/>
  <Labels name="ner" toName="doc"><Label value="PER"/><Label value="ORG"/></Labels>
</View>"""


def test_headers_literal_text_and_paragraphs_with_spans_as_label_studio_stores_them(page, shot, lead, annotator):
    doc = ["Ada met Charles.", "Grace wrote code."]
    project = make_project(lead, NOTES_AND_PARAGRAPHS, [{"title": "<b>Report 7</b>", "doc": doc}], title="Notes")
    open_annotate(page, annotator, project)
    header = page.locator("h2.anno-note")
    expect(header).to_have_text("<b>Report 7</b>")  # task data as text, never markup
    expect(header.locator("b")).to_have_count(0)
    expect(page.locator("p.anno-note")).to_have_text("Mark every person; a name may run over a paragraph's end.")
    expect(page.locator(".anno-text-body")).to_have_text("Ada met Charles.\nGrace wrote code.")

    page.keyboard.press("ArrowRight")  # span mode on "Ada"
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")
    assert caret_text(page) == "Ada met Charles.\nGrace"
    page.keyboard.press("1")  # PER, over the paragraph break
    page.keyboard.press("End")
    assert caret_text(page) == "code"
    page.keyboard.press("2")  # ORG
    expect(page.locator(".anno-region")).to_have_count(2)
    shot(page, "annotate-notes-and-paragraphs")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    joined = ",".join(doc)  # Label Studio's text of a list: String(list)
    spans = sorted((r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"]) for r in saved.result)
    code = joined.index("code")
    assert spans == [(0, 22, "Ada met Charles.,Grace", ["PER"]), (code, code + 4, "code", ["ORG"])]
    assert {(r["from_name"], r["to_name"], r["type"]) for r in saved.result} == {("ner", "doc", "labels")}


def test_label_studio_template_with_visible_when_unchanged(page, shot, lead, annotator):
    xml = (TEMPLATES / "community-contributions__two-level-sentiment-analysis-of-x-twitter-posts.xml").read_text()
    project = make_project(lead, xml, [{"tweet": "The new bridge is closed again. Great planning."}], title="Tweets")
    open_annotate(page, annotator, project)
    expect(page.locator("h4.anno-note").first).to_have_text("John Doe")
    expect(page.locator("p.anno-note").first).to_have_text("@johndoe")
    more = page.locator('[data-control="other-props"]')
    expect(more).to_be_hidden()  # visibleWhen="choice-selected": nothing chosen yet
    page.keyboard.press("3")  # Negative
    expect(more).to_be_visible()
    tab_to(page, '[data-control="other-props"] input[value="Emotional"]')
    page.keyboard.press("Space")
    tab_to(page, '[data-control="other-props"] input[value="Sarcams"]')
    page.keyboard.press("Space")
    shot(page, "annotate-visible-when-template")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert [(r["from_name"], r["to_name"], r["type"], r["value"]) for r in saved.result] == [
        ("sentiment", "tweet", "choices", {"choices": ["Negative"]}),
        ("other-props", "tweet", "choices", {"choices": ["Emotional", "Sarcams"]}),
    ]


REASONS = """<View>
  <Text name="review" value="$review"/>
  <Choices name="sentiment" toName="review"><Choice value="Positive"/><Choice value="Neutral"/><Choice value="Negative"/></Choices>
  <Header value="Why?"/>
  <Choices name="why" toName="review" value="$reasons" choice="multiple" required="true"
           visibleWhen="choice-selected" whenTagName="sentiment" whenChoiceValue="Negative"/>
</View>"""


def test_labels_from_task_data_and_a_hidden_control_submits_nothing(page, shot, lead, annotator):
    tasks = [{"review": "Arrived broken, and late.", "reasons": [{"value": "shipping"}, {"value": "quality"}, "price"]},
             {"review": "Fine.", "reasons": ["too small", "too big"]}]
    project = make_project(lead, REASONS, tasks, title="Reviews")
    first = open_annotate(page, annotator, project)
    why = page.locator('[data-control="why"]')
    expect(why).to_be_hidden()
    page.keyboard.press("3")  # Negative: "why" appears, its options from this task's data, keys 4-9
    expect(why).to_be_visible()
    expect(why.locator(".anno-label")).to_have_text(["shipping4", "quality5", "price6"])
    page.keyboard.press("Enter")  # required while shown
    expect(page.locator('[data-anno="alert"]')).to_contain_text("“why”")
    page.keyboard.press("4")
    page.keyboard.press("6")
    shot(page, "annotate-labels-from-data")
    page.keyboard.press("Enter")
    second = page.wait_for_function(
        "(first) => { const t = document.querySelector('[data-anno=\"task-id\"]').textContent;"
        " return t.startsWith('Task ') && t !== 'Task ' + first; }", arg=first)
    assert second
    expect(why.locator(".anno-label")).to_have_text(["too small4", "too big5"])  # the next task's options
    page.keyboard.press("3")
    page.keyboard.press("5")  # "too big"
    page.keyboard.press("1")  # Positive: "why" is hidden again, and Label Studio submits nothing of it
    expect(why).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    results = {a.task_id: [(r["from_name"], r["value"]) for r in a.result] for a in annotations_of(annotator.id, project.id)}
    assert sorted(results.values(), key=len, reverse=True) == [
        [("sentiment", {"choices": ["Negative"]}), ("why", {"choices": ["shipping", "price"]})],
        [("sentiment", {"choices": ["Positive"]})],
    ]


VALUES = """<View>
  <Header>Set how likely these images show the same thing, and what the first one shows:</Header>
  <Image name="left" value="$left"/>
  <Image name="right" value="$right"/>
  <Rating name="same" toName="left,right"/>
  <Number name="count" toName="left" min="0" max="20"/>
  <DateTime name="taken" toName="left" only="date"/>
  <DateTime name="at" toName="left" only="time"/>
</View>"""


def test_number_datetime_and_a_rating_on_two_images_with_the_keyboard(page, shot, lead, annotator):
    project = make_project(lead, VALUES, [{"left": png_data_url(), "right": png_data_url(320, 200)}], title="Pairs")
    open_annotate(page, annotator, project)
    expect(page.locator("h4.anno-note")).to_have_text(
        "Set how likely these images show the same thing, and what the first one shows:")
    page.keyboard.press("4")  # the rating: digits rate when no control has labels
    page.keyboard.press("t")  # the first field
    expect(page.locator('[data-value-input="count"]')).to_be_focused()
    page.keyboard.type("7")
    page.keyboard.press("Tab")
    expect(page.locator('[data-value-input="taken"]')).to_be_focused()
    page.keyboard.type("03052024")  # mm dd yyyy: Chromium's en-US date field
    tab_to(page, '[data-value-input="at"]')  # past the field's own parts
    page.keyboard.type("1030AM")
    shot(page, "annotate-number-and-datetime")
    page.keyboard.press("Enter")  # submits from the field
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert [(r["from_name"], r["to_name"], r["type"], r["value"]) for r in saved.result] == [
        ("same", "left", "rating", {"rating": 4}),
        ("count", "left", "number", {"number": 7}),
        ("taken", "left", "datetime", {"datetime": "2024-03-05"}),
        ("at", "left", "datetime", {"datetime": "10:30"}),
    ]
