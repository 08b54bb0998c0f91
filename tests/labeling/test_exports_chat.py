"""Label Studio's chat templates: a result shaped as Label Studio stores it (``chatmessage`` items,
per-message answers sharing the message's id, conversation-level answers) is accepted and comes
back from Label Studio's JSON export identical, for each of the five templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling import annotations, imports, projects
from labeling.errors import Invalid
from tests.labeling.schema.test_chat import CHAT, answer, message
from tests.labeling.test_exports_regions import exported_result

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def whole(control: str, kind: str, value) -> dict:
    return {"id": f"{control}-1", "from_name": control, "to_name": "chat", "type": kind, "origin": "manual",
            "value": {"text" if kind == "textarea" else kind: value}}


ADDED = [message("Ue7x1", "user", "Hi, I need help with my labels."),
         message("As2k9", "assistant", "Sure. Which project?"),
         message("Uq0p4", "user", "The \u201cinvoices\u201d one \U0001F9FE"),
         message("Ar5t2", "assistant", "Open its settings, then Labeling Interface.")]

CASES = {
    "chat__chat_eval": ({"text": "Play both sides.", "chat": []}, ADDED),
    "chat__chat_llm_eval": ({"text": "Talk to the model.", "chat": []},
                            [*ADDED, whole("answered_rating", "choices", ["4 - Mostly yes - most of them were answered"]),
                             whole("topics", "choices", ["Billing", "Other"]),
                             whole("comments", "textarea", ["asked twice\nthen left"])]),
    "chat__chat_red_team": ({"text": "Escalate slowly.", "chat": []},
                            [*ADDED, answer("Ue7x1", "user_risk", "choices", ["1 - Borderline"]),
                             answer("Ue7x1", "user_jailbreak_tactic", "choices", ["Role play", "Obfuscated"]),
                             answer("As2k9", "assistant_outcome", "choices", ["Over refusal"]),
                             answer("As2k9", "assistant_refusal_quality", "choices", ["Clear but unhelpful"])]),
    "chat__chat_rlhf": ({"text": "Review it.", "chat": CHAT},
                        [whole("rating", "rating", 4), whole("conversation_comment", "textarea", ["fine"]),
                         answer("msg-1", "assistant_response_accuracy", "rating", 5),
                         answer("msg-1", "relevance", "choices", ["Highly relevant"]),
                         answer("msg-3", "correctness", "choices", ["Contains significant errors"]),
                         answer("msg-3", "tone", "choices", ["Too formal", "Appropriate"]),
                         answer("msg-3", "message_comment", "textarea", ["wrong page"])]),
    "chat__chatbot": ({"instructions": "Review it.", "chat": CHAT, "max": 10},
                      [message("Ax1", "assistant", "Anything else?"),
                       answer("msg-1", "accuracy", "rating", 3),
                       answer("msg-1", "documentation", "choices", ["Provided some documentation, missing some"]),
                       answer("Ax1", "questions_answered", "choices", ["Partial"]),
                       answer("Ax1", "style", "choices", ["Too verbose", "Too technical"])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_label_studio_chat_result_comes_back_identical(lead, name):
    config = (TEMPLATES / f"{name}.xml").read_text(encoding="utf-8")
    data, result = CASES[name]
    assert exported_result(lead.user, config, data, result) == result


def test_a_chat_too_short_for_min_messages_is_refused(lead):
    config = (TEMPLATES / "chat__chat_eval.xml").read_text(encoding="utf-8")
    project = projects.create_project(lead.user, title="compose", label_config=config)
    report = imports.import_data(lead.user, project.id, body=[{"data": {"text": "x", "chat": []}}],
                                 background=False, return_task_ids=True)
    with pytest.raises(Invalid, match="at least 4 messages"):
        annotations.submit(report.task_ids[0], lead.user, result=ADDED[:3], lead_time=1.0)
