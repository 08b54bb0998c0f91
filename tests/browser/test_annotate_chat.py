"""A chat (Label Studio's <Chat>) on the labeling page, with the keyboard only: J/K walk the
messages, per-message controls appear for assistant messages (a <View whenRole>), digits rate the
selected message and label keys choose for it, the conversation gets its own choice, M writes a
new message; the stored result is Label Studio's (chatmessage item, per-message items sharing the
message's id, a conversation-level item)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from labeling import annotations, imports, projects
from tests.browser.conftest import login
from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.browser.test_annotate_linked import template

pytestmark = pytest.mark.browser

CONFIG = """<View>
  <Chat name="chat" value="$chat" messageroles="user" />
  <View visibleWhen="region-selected" whenRole="assistant">
    <Rating name="accuracy" toName="chat" perRegion="true" maxRating="5" />
    <Choices name="relevance" toName="chat" perRegion="true">
      <Choice value="Relevant" hotkey="r" /><Choice value="Off topic" hotkey="o" />
    </Choices>
  </View>
  <Header value="The whole conversation" />
  <Choices name="resolved" toName="chat">
    <Choice value="Resolved" hotkey="y" /><Choice value="Unresolved" hotkey="n" />
  </Choices>
</View>"""

CHAT = [{"role": "user", "content": "How do I reset my password? <b>now</b>"},
        {"role": "assistant", "content": "Open Settings, then Security, then Reset password."},
        {"role": "user", "content": "And where do I change my email?"},
        {"role": "assistant", "content": "I cannot help with that."}]


def test_rate_and_choose_on_two_messages_and_the_conversation_with_the_keyboard(page, shot, lead, annotator):
    project = make_project(lead, CONFIG, [{"chat": CHAT}], title="Support chats")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    messages = page.locator(".anno-chat-msg")
    expect(messages).to_have_count(4)
    expect(messages.nth(0)).to_contain_text("How do I reset my password? <b>now</b>")  # text, never markup
    assert page.locator(".anno-chat b").count() == 0
    accuracy, relevance = page.locator('[data-control="accuracy"]'), page.locator('[data-control="relevance"]')
    expect(accuracy).to_be_hidden()

    page.keyboard.press("j")  # the first message: a user's, no per-message controls for it
    expect(messages.nth(0)).to_have_class(re.compile("is-selected"))
    expect(accuracy).to_be_hidden()
    expect(relevance).to_be_hidden()
    page.keyboard.press("j")  # the assistant's answer
    expect(accuracy).to_be_visible()
    expect(relevance).to_be_visible()
    page.keyboard.press("4")
    page.keyboard.press("r")
    expect(messages.nth(1).locator(".anno-chat-answers")).to_have_text("accuracy: ★★★★ 4/5 · relevance: Relevant")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("j")  # the second answer
    expect(accuracy.locator("input:checked")).to_have_count(0)  # its own answers, none yet
    page.keyboard.press("2")
    page.keyboard.press("o")
    page.keyboard.press("k")  # back up to the user's question: the controls hide
    expect(accuracy).to_be_hidden()
    page.keyboard.press("Escape")  # no message: the conversation's own controls
    page.keyboard.press("y")
    page.keyboard.press("m")  # write a message as the user
    expect(page.locator("[data-chat-input]")).to_be_focused()
    page.keyboard.type("Thanks, found it.")
    page.keyboard.press("Enter")
    expect(messages).to_have_count(5)
    expect(messages.nth(4)).to_contain_text("Thanks, found it.")
    page.keyboard.press("Escape")  # out of the text box; no message selected
    for _ in range(4):  # k from nothing starts at the last message: 4, 3, 2, then the first answer
        page.keyboard.press("k")
    expect(accuracy.locator("input:checked")).to_have_value("4")
    expect(messages.nth(3).locator(".anno-chat-answers")).to_have_text("accuracy: ★★ 2/5 · relevance: Off topic")
    shot(page, "annotate-chat")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    by = {(r["from_name"], r.get("id")): r for r in saved.result}
    (added,) = [r for r in saved.result if r["type"] == "chatmessage"]
    assert added["from_name"] == added["to_name"] == "chat" and added["value"]["chatmessage"]["role"] == "user"
    assert added["value"]["chatmessage"]["content"] == "Thanks, found it."
    assert isinstance(added["value"]["chatmessage"]["createdAt"], int)
    assert by[("accuracy", "msg-1")] == {"id": "msg-1", "from_name": "accuracy", "to_name": "chat",
                                         "type": "rating", "value": {"rating": 4}}
    assert by[("relevance", "msg-1")]["value"] == {"choices": ["Relevant"]}
    assert by[("accuracy", "msg-3")]["value"] == {"rating": 2}
    assert by[("relevance", "msg-3")]["value"] == {"choices": ["Off topic"]}
    assert [r["value"] for r in saved.result if r["from_name"] == "resolved"] == [{"choices": ["Resolved"]}]
    assert len(saved.result) == 6


def test_the_rlhf_template_shows_its_chat_and_the_keys_dialog_names_the_chat_keys(page, shot, lead, annotator):
    project = make_project(lead, template("chat__chat_rlhf"), [{"text": "Review it.", "chat": CHAT}], title="RLHF")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    expect(page.locator(".anno-chat-msg")).to_have_count(4)
    expect(page.locator('[data-control="relevance"]')).to_be_hidden()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator('[data-control="relevance"]')).to_be_visible()
    page.keyboard.press("1")  # the first per-message choice list's first label
    expect(page.locator(".anno-chat-msg").nth(1).locator(".anno-chat-answers")).to_have_text("relevance: Highly relevant")
    shot(page, "annotate-chat-rlhf")
    page.keyboard.press("?")
    expect(page.locator('[data-anno="keys-dialog"]')).to_contain_text("Select the next, the previous message")


def test_the_rlhf_template_draws_its_per_message_headers_only_with_their_controls(page, shot, lead, annotator):
    """Its headers ("Response Accuracy", "Relevance", ...) are in the View of the per-message
    controls: hidden with them until an assistant message is selected; "Click on a message to
    evaluate" shows while no message is."""
    project = make_project(lead, template("chat__chat_rlhf"), [{"text": "Review it.", "chat": CHAT}], title="RLHF")
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-chat-msg")).to_have_count(4)
    side = page.locator(".anno-side")
    per_message = [side.get_by_role("heading", name=n, exact=True)
                   for n in ("Response Accuracy", "Relevance", "Correctness", "Tone")]
    prompt = side.get_by_role("heading", name="Click on a message to evaluate")
    expect(prompt).to_be_visible()
    for header in per_message:
        expect(header).to_be_hidden()
    expect(side.get_by_text("Overall quality of this conversation")).to_be_visible()
    page.keyboard.press("j")  # a user's message: no per-message controls, nor their headers
    expect(prompt).to_be_hidden()
    for header in per_message:
        expect(header).to_be_hidden()
    page.keyboard.press("j")  # the assistant's answer: each header above its control
    for header, control in zip(per_message, ("assistant_response_accuracy", "relevance", "correctness", "tone"),
                               strict=True):
        expect(header).to_be_visible()
        below = page.locator(f'[data-control="{control}"]')
        expect(below).to_be_visible()
        assert header.bounding_box()["y"] < below.bounding_box()["y"]
    shot(page, "annotate-chat-rlhf-headers")
    page.keyboard.press("Escape")  # no message: the prompt again
    expect(prompt).to_be_visible()
    for header in per_message:
        expect(header).to_be_hidden()


def test_write_a_whole_conversation_and_edit_a_message_with_the_keyboard(page, shot, lead, annotator):
    """Label Studio's "Fine-Tune an Agent without an LLM" template: an empty chat, four messages
    needed (minMessages), both roles written by the annotator, added messages editable."""
    project = make_project(lead, template("chat__chat_eval"), [{"text": "Play both sides.", "chat": []}],
                           title="Write chats")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    messages = page.locator(".anno-chat-msg")
    expect(messages).to_have_count(0)
    page.keyboard.press("m")
    for n, text in enumerate(["Hi, my export is empty.", "Which format did you pick?", "JSON.", "Try JSON-MIN."]):
        if n:  # the role box is before the text box: Shift+Tab, then an arrow picks the role
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("ArrowDown" if n % 2 else "ArrowUp")
            page.keyboard.press("Tab")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        expect(messages).to_have_count(n + 1)
    expect(page.locator('[data-chat-count="chat"]')).to_have_text("4 messages · at least 4")
    page.keyboard.press("Escape")
    page.keyboard.press("k")  # the last message
    page.keyboard.press("e")  # edit it: the composer holds its text, the role kept
    expect(page.locator("[data-chat-input]")).to_have_value("Try JSON-MIN.")
    page.keyboard.press("Control+a")
    page.keyboard.type("Try JSON-MIN, it skips empty fields.")
    page.keyboard.press("Enter")
    expect(messages).to_have_count(4)
    expect(messages.nth(3)).to_contain_text("Try JSON-MIN, it skips empty fields.")
    shot(page, "annotate-chat-compose")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    said = [(r["value"]["chatmessage"]["role"], r["value"]["chatmessage"]["content"]) for r in saved.result]
    assert said == [("user", "Hi, my export is empty."), ("assistant", "Which format did you pick?"),
                    ("user", "JSON."), ("assistant", "Try JSON-MIN, it skips empty fields.")]
    assert all(r["type"] == "chatmessage" and r["from_name"] == r["to_name"] == "chat" for r in saved.result)
    assert len({r["id"] for r in saved.result}) == 4


def test_editable_true_lets_the_annotator_edit_the_assistant_replies_they_write(page, shot, lead, annotator):
    """Label Studio's "Fine-Tune an Agent with an LLM" template (llm=..., editable="true"): labelfab
    calls no model, so the annotator writes the assistant's replies too; editable="true" makes every
    message editable, "including responses from the LLM" (Label Studio's Chat docs), so E edits one."""
    project = make_project(lead, template("chat__chat_llm_eval"), [{"text": "Ask about billing.", "chat": []}],
                           title="LLM chats")
    open_annotate(page, annotator, project)
    messages = page.locator(".anno-chat-msg")
    expect(messages).to_have_count(0)
    page.keyboard.press("m")
    page.keyboard.type("How do I change my plan?")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")  # the role box: the assistant, whose replies the model would write
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Open Billing, then Plans.")
    page.keyboard.press("Enter")
    expect(messages).to_have_count(2)
    expect(messages.nth(1)).to_contain_text("assistant")
    page.keyboard.press("Escape")
    page.keyboard.press("k")  # the assistant's reply
    page.keyboard.press("e")
    expect(page.locator("[data-chat-input]")).to_have_value("Open Billing, then Plans.")
    page.keyboard.press("Control+a")
    page.keyboard.type("Open Billing, then Plans, then Change.")
    page.keyboard.press("Enter")
    expect(messages).to_have_count(2)
    expect(messages.nth(1)).to_contain_text("Open Billing, then Plans, then Change.")
    shot(page, "annotate-chat-llm-edit")


def test_editable_false_keeps_the_composer_and_edits_nothing_as_label_studio(page, shot, lead, annotator):
    """The RLHF template's editable="false": Label Studio's page for it says the Chat "provides an
    interface where the annotator can type and send messages" and that editable="false" only stops
    them editing messages; so the composer stays, and E does not edit a message they added."""
    project = make_project(lead, template("chat__chat_rlhf"), [{"text": "Review it.", "chat": CHAT}], title="RLHF")
    open_annotate(page, annotator, project)
    messages = page.locator(".anno-chat-msg")
    expect(messages).to_have_count(4)
    composer = page.locator("[data-chat-input]")
    expect(composer).to_be_visible()
    page.keyboard.press("m")
    page.keyboard.type("One more question.")
    page.keyboard.press("Enter")
    expect(messages).to_have_count(5)
    page.keyboard.press("Escape")
    page.keyboard.press("k")  # the message just added
    expect(messages.nth(4)).to_have_class(re.compile("is-selected"))
    page.keyboard.press("e")
    expect(composer).to_have_value("")
    expect(composer).not_to_be_focused()


def test_a_lead_corrects_a_message_rating_in_the_editor(page, shot, lead, annotator):
    """The task editor (mode review): the arrows walk the messages (J and K stay the editor's),
    a digit changes the selected message's rating, R saves the correction as a new version."""
    project = projects.create_project(lead.user, title="Support chats", label_config=CONFIG)
    (task_id,) = imports.import_data(lead.user, project.id, body=[{"data": {"chat": CHAT}}], background=False,
                                     return_task_ids=True).task_ids
    given = [{"id": "msg-1", "from_name": "accuracy", "to_name": "chat", "type": "rating", "value": {"rating": 5}},
             {"id": "resolved-choices", "from_name": "resolved", "to_name": "chat", "type": "choices",
              "value": {"choices": ["Resolved"]}}]
    ann, _ = annotations.submit(task_id, annotator.user, result=given, lead_time=1.0)
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/tasks/{task_id}/edit")
    page.wait_for_load_state("load")
    messages = page.locator(".anno-chat-msg")
    expect(messages.nth(1).locator(".anno-chat-answers")).to_have_text("accuracy: ★★★★★ 5/5")
    page.locator(".anno-chat").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(messages.nth(1)).to_have_class(re.compile("is-selected"))
    expect(page.locator('[data-control="accuracy"] input:checked')).to_have_value("5")
    page.keyboard.press("2")
    expect(messages.nth(1).locator(".anno-chat-answers")).to_have_text("accuracy: ★★ 2/5")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#editor-status")).to_contain_text("is now version 2")
    shot(page, "task-editor-chat")
    saved = annotations.get_annotation(ann.id, lead.user).result
    assert [r["value"] for r in saved if r["from_name"] == "accuracy"] == [{"rating": 2}]
    assert [r["id"] for r in saved if r["from_name"] == "accuracy"] == ["msg-1"]



def test_a_chat_whose_annotators_split_on_a_message_reaches_review_naming_it(page, shot, lead, make_user):
    """A real QC run over three annotators of Label Studio's RLHF template: two call the first answer
    highly relevant, one not relevant; the review page names the message and lists the conversation
    with the ids the reason uses; K keeps the majority."""
    from tests.browser.test_review_agreement import _open, _queued, _task

    people = [make_user(f"rlhf{n}@example.com") for n in range(3)]

    def said(relevance):
        return [{"id": "msg-1", "from_name": "relevance", "to_name": "chat", "type": "choices",
                 "value": {"choices": [relevance]}}]

    project, [(tid, state)] = _queued(lead, people, template("chat__chat_rlhf"), "RLHF review", [
        ({"text": "Review it.", "chat": CHAT},
         [said("Highly relevant"), said("Highly relevant"), said("Not relevant")])])
    assert state == "review"  # queued by the QC run _queued made (three annotators: no dynamic overlap)
    _open(page, lead, project, tid)
    expect(page.locator("#review-reason")).to_contain_text("annotators answer chat messages differently")
    expect(page.locator("#review-reason")).to_contain_text("relevance of message msg-1 (0.67 agree)")
    expect(page.locator('.review-object[data-object="chat"] li')).to_have_text([
        "msg-0 · user: How do I reset my password? <b>now</b>",
        "msg-1 · assistant: Open Settings, then Security, then Reset password.",
        "msg-2 · user: And where do I change my email?", "msg-3 · assistant: I cannot help with that."])
    expect(page.locator("#review-annotations tr")).to_have_count(3)
    shot(page, "review-chat")
    page.keyboard.press("k")
    expect(page.locator("#review-empty")).to_be_visible()
    assert _task(tid)[0] == "accepted"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_rlhf_template_keeps_submit_on_screen_beside_a_long_panel(page, shot, lead, annotator, width, height):
    """Its side panel (a rating, a comment, four per-message controls) is higher than the window:
    the panel scrolls with Submit at its foot, and the page is as high as the window."""
    from tests.browser.test_small_screens import fits_the_window

    chat = [{"role": "user" if i % 2 == 0 else "assistant", "content": "How do I reset my password? " * 4}
            for i in range(6)]
    project = make_project(lead, template("chat__chat_rlhf"), [{"text": "Review it.", "chat": chat}], title="RLHF")
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-chat-msg").first).to_be_visible()
    fits_the_window(page)
    shot(page, f"chat-rlhf-{width}")
