"""``<Chat>``: LLM conversations, their ``chatmessage`` items and per-message answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import (
    LabelConfigError,
    parse_label_config,
    validate_result,
    validate_task_data,
)
from labeling.schema.chat import message_id

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
RLHF = (TEMPLATES / "chat__chat_rlhf.xml").read_text(encoding="utf-8")
RED_TEAM = (TEMPLATES / "chat__chat_red_team.xml").read_text(encoding="utf-8")
COMPOSE = (TEMPLATES / "chat__chat_eval.xml").read_text(encoding="utf-8")
CHATBOT = (TEMPLATES / "chat__chatbot.xml").read_text(encoding="utf-8")
LLM_EVAL = (TEMPLATES / "chat__chat_llm_eval.xml").read_text(encoding="utf-8")

CHAT = [{"role": "user", "content": "How do I reset my password?"},
        {"role": "assistant", "content": "Open Settings, then Security."},
        {"role": "user", "content": "Thanks, and my email?"},
        {"role": "assistant", "content": "Same page, under Account."}]


def message(mid: str, role: str, content: str, name: str = "chat") -> dict:
    return {"id": mid, "from_name": name, "to_name": name, "type": "chatmessage", "origin": "manual",
            "value": {"chatmessage": {"role": role, "content": content, "createdAt": 1755872989436}}}


def answer(mid: str, control: str, kind: str, value, to_name: str = "chat") -> dict:
    return {"id": mid, "from_name": control, "to_name": to_name, "type": kind, "origin": "manual",
            "value": {"text" if kind == "textarea" else kind: value}}


def test_a_chat_is_an_object_and_its_own_control_as_label_studio_reads_it():
    schema = parse_label_config(RLHF)
    chat = schema.objects["chat"]
    assert chat.tag == "Chat" and chat.value_key == "chat" and chat.chat.min_messages == 2
    own = schema.control("chat")
    assert (own.tag, own.type, own.to_name, own.object_tag) == ("ChatMessage", "chatmessage", "chat", "Chat")
    assert "chat" in {c.name for c in LabelInterface(RLHF).controls}  # the SDK's ChatMessageTag, same name
    per_message = {c.name for c in schema.controls if c.per_region}
    assert per_message == {"assistant_response_accuracy", "relevance", "correctness", "tone", "message_comment"}
    assert all(schema.control(n).when_roles == ["assistant"] for n in per_message)
    assert schema.control("rating").when_roles == [] and schema.kind == "chat"


def test_chat_attributes_are_read_and_bad_ones_refused():
    red = parse_label_config(RED_TEAM).objects["chat"].chat
    assert (red.message_roles, red.editable, red.min_messages, red.llm) == (["user"], [], 2, "openai/gpt-4.1-nano")
    compose = parse_label_config(COMPOSE).objects["chat"].chat
    assert (compose.message_roles, compose.min_messages) == (["user", "assistant"], 4)
    assert parse_label_config(CHATBOT).objects["chat"].chat.max_messages == "max"  # maxMessages="$max"
    for attrs, reason in (('messageroles="user,robot"', "unknown role"), ('minMessages="many"', "minMessages"),
                          ('minMessages="5" maxMessages="3"', "above maxMessages"), ('editable="sometimes"', "editable")):
        with pytest.raises(LabelConfigError, match=reason):
            parse_label_config(f'<View><Chat name="c" value="$c" {attrs}/></View>')
    with pytest.raises(LabelConfigError, match="not written in label configs"):
        parse_label_config('<View><Chat name="c" value="$c"/><ChatMessage name="m" toName="c"/></View>')


def test_editable_true_makes_every_added_message_editable_as_label_studio_does():
    """Label Studio's Chat docs: ``editable="true"`` lets annotators edit chat messages "including
    responses from the LLM", whatever ``messageroles`` lets them write; roles name some; "false"
    none. Task-data messages are never editable (the page's rule, not the schema's)."""
    llm_eval = parse_label_config(LLM_EVAL).objects["chat"].chat  # llm=...: writes as the user only
    assert llm_eval.message_roles == ["user"]
    assert llm_eval.editable == ["user", "assistant", "system", "tool", "developer"]
    assert parse_label_config(COMPOSE).objects["chat"].chat.editable == ["user", "assistant", "system", "tool",
                                                                         "developer"]
    some = parse_label_config('<View><Chat name="c" value="$c" editable="user,system"/></View>').objects["c"].chat
    assert some.editable == ["user", "system"]
    assert parse_label_config(RLHF).objects["chat"].chat.editable == []


def test_task_data_must_be_a_list_of_messages():
    schema = parse_label_config(RLHF)
    assert validate_task_data(schema, {"chat": CHAT}) == []
    assert validate_task_data(schema, {"chat": []}) == []
    assert "must be a list of chat messages" in validate_task_data(schema, {"chat": "hello"})[0]
    assert "needs its role" in validate_task_data(schema, {"chat": [{"content": "hi"}]})[0]
    assert "content as a string" in validate_task_data(schema, {"chat": [{"role": "user", "content": 3}]})[0]


def test_per_message_answers_name_data_messages_and_added_ones():
    schema = parse_label_config(RLHF)
    assert [message_id(m, n) for n, m in enumerate(CHAT)] == ["msg-0", "msg-1", "msg-2", "msg-3"]
    added = message("k3J9x", "assistant", "Anything else?")
    result = [added,
              answer("msg-1", "relevance", "choices", ["Highly relevant"]),
              answer("msg-1", "assistant_response_accuracy", "rating", 4),
              answer("msg-3", "tone", "choices", ["Too formal", "Appropriate"]),
              answer("k3J9x", "relevance", "choices", ["Not relevant"]),
              {"id": "rating", "from_name": "rating", "to_name": "chat", "type": "rating", "value": {"rating": 5}}]
    assert validate_result(schema, result, {"chat": CHAT}) == []
    # a message id of nothing, a user message for assistant-only controls, a second answer
    bad = [answer("msg-9", "relevance", "choices", ["Highly relevant"]),
           answer("msg-0", "relevance", "choices", ["Highly relevant"]),
           answer("msg-1", "relevance", "choices", ["Not relevant"]), answer("msg-1", "relevance", "choices", ["Not relevant"])]
    problems = validate_result(schema, bad, {"chat": CHAT})
    assert any("'msg-9'" in p and "id of a region" in p for p in problems)
    assert any("roles assistant" in p and "'msg-0'" in p for p in problems)
    assert any("second item" in p for p in problems)


def test_a_data_message_with_its_own_id_is_named_by_it():
    schema = parse_label_config(RLHF)
    chat = [dict(CHAT[0], id="u-1"), dict(CHAT[1], id="a-1")]
    assert validate_result(schema, [answer("a-1", "relevance", "choices", ["Highly relevant"])], {"chat": chat}) == []
    assert validate_result(schema, [answer("msg-1", "relevance", "choices", ["Highly relevant"])], {"chat": chat})


def test_chat_messages_are_checked_and_counted():
    schema = parse_label_config(COMPOSE)  # minMessages="4", messageroles user and assistant
    four = [message(f"m{n}", role, f"line {n}") for n, role in enumerate(["user", "assistant"] * 2)]
    assert validate_result(schema, four, {"text": "x", "chat": []}) == []
    assert "needs at least 4 messages" in " ".join(validate_result(schema, four[:3], {"text": "x", "chat": []}))
    bad = dict(four[0], value={"chatmessage": {"role": "wizard", "content": 1, "createdAt": "now"}})
    problems = " ".join(validate_result(schema, [bad, *four[1:]], {"text": "x", "chat": []}))
    assert "role must be one of" in problems and "content must be a string" in problems and "createdAt" in problems
    system = message("s", "system", "You are terse.")
    assert "messageroles allows" in " ".join(validate_result(schema, [system, *four], {"text": "x", "chat": []}))
    chatbot = parse_label_config(CHATBOT)  # maxMessages="$max"
    data = {"instructions": "x", "chat": CHAT, "max": 4}
    assert "at most 4 messages" in " ".join(validate_result(chatbot, [message("m", "user", "more")], data))


def test_red_team_per_message_controls_keep_to_their_roles():
    schema = parse_label_config(RED_TEAM)
    data = {"text": "x", "chat": CHAT}
    ok = [answer("msg-0", "user_risk", "choices", ["2 - Risky"]),
          answer("msg-1", "assistant_outcome", "choices", ["Safe-refusal"])]
    assert validate_result(schema, ok, data) == []
    wrong = [answer("msg-1", "user_risk", "choices", ["2 - Risky"])]
    assert any("roles user" in p for p in validate_result(schema, wrong, data))


def test_the_rlhf_template_s_headers_carry_the_visibility_of_their_view():
    """Label Studio hides a <View visibleWhen>'s contents, its headers with its controls: the
    per-message headers show with an assistant message, "Click on a message" with none."""
    schema = parse_label_config(RLHF)
    shown = {n.text: (n.visible_when, n.when_roles) for n in schema.notes}
    assert shown["Click on a message to evaluate"] == ("no-region-selected", [])
    for header in ("Response Accuracy", "Relevance", "Correctness", "Tone"):
        assert shown[header] == ("region-selected", ["assistant"])
    assert shown["Overall quality of this conversation"] == (None, [])
