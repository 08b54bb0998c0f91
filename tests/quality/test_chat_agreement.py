"""Per-message agreement of a chat's annotators: pure functions, and a real QC run that flags the
chat whose annotators answer a message differently, naming the message, and asks one more annotator."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import projects
from labeling.schema import parse_label_config
from quality.chat_agreement import chat_agreement, message_agreement, message_answers
from quality.run.skeleton import run_qc
from quality.task_agreement import measured_controls, task_agreement
from tests.labeling.schema.test_chat import CHAT, RLHF, answer, message
from tests.quality.test_control_agreement import _findings, _import, _state


def test_consensus_is_the_majority_and_agreement_its_share():
    consensus, share = message_agreement(np.array([[0, 0, np.nan], [1, 0, 1.0], [2, 1, 0.0], [0, 1, np.nan]]))
    assert consensus.tolist() == [0, 1, 0, 0]  # a tie goes to the first class
    assert np.round(share, 3).tolist() == [1.0, 0.667, 0.333, 0.5]
    consensus, share = message_agreement(np.array([[0, 1], [1, 0.0]]))  # every row a tie
    assert consensus.tolist() == [0, 0] and share.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="two annotators"):
        message_agreement(np.array([[0, np.nan]]))


def rlhf(relevance_1, tone_3, accuracy_1=4, extra=()):
    return [answer("msg-1", "relevance", "choices", [relevance_1]),
            answer("msg-1", "assistant_response_accuracy", "rating", accuracy_1),
            answer("msg-3", "tone", "choices", tone_3), *extra]


def test_messages_are_compared_control_by_control():
    schema = parse_label_config(RLHF)
    a = rlhf("Highly relevant", ["Appropriate", "Too formal"])
    b = rlhf("Highly relevant", ["Too formal", "Appropriate"], accuracy_1=2)  # same set of tones, other rating
    c = rlhf("Not relevant", ["Appropriate"], extra=[message("own", "assistant", "x"),
                                                      answer("own", "relevance", "choices", ["Not relevant"])])
    assert message_answers(schema, a)[("tone", "msg-3")] == ("Appropriate", "Too formal")
    found = {(m.control, m.message): m for m in chat_agreement(schema, [a, b, c])}
    assert set(found) == {("relevance", "msg-1"), ("assistant_response_accuracy", "msg-1"), ("tone", "msg-3")}
    assert found[("relevance", "msg-1")].consensus == ("Highly relevant",)
    assert round(found[("relevance", "msg-1")].share, 3) == 0.667 and found[("tone", "msg-3")].n_annotators == 3
    assert round(found[("assistant_response_accuracy", "msg-1")].share, 3) == 0.667  # 4, 2, 4
    # the chat is one measured control; its per-message answers are not the regions' figure
    assert measured_controls(schema) == [("chat", "chatmessage")]
    (figure,) = task_agreement(schema, [a, b])
    assert (figure.control, figure.metric, figure.agrees) == ("chat", "message agreement", False)
    assert figure.value == pytest.approx((1 + 0.5 + 1) / 3)
    assert "assistant_response_accuracy of message msg-1 (0.50 agree)" in figure.reason
    assert task_agreement(schema, [a, a])[0].agrees


def test_a_chat_run_reviews_the_disagreeing_chat_and_accepts_the_other(lead, make_user):
    one, two = make_user("c1@example.com"), make_user("c2@example.com")
    project = projects.create_project(lead.user, title="RLHF", label_config=RLHF, overlap=2)
    assert projects.parse_config(project.label_config).kind == "chat"
    rating = {"id": "r", "from_name": "rating", "to_name": "chat", "type": "rating", "value": {"rating": 4}}
    data = {"text": "Review it.", "chat": CHAT}
    same, apart = _import(lead, project, one, two, [
        (data, rlhf("Highly relevant", ["Appropriate"], extra=[rating]),
         rlhf("Highly relevant", ["Appropriate"], extra=[rating])),
        (data, rlhf("Highly relevant", ["Appropriate"]), rlhf("Not relevant", ["Appropriate"]))])
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    found = _findings(project.id)
    assert [found[t].is_issue for t in (same, apart)] == [False, True]
    assert found[apart].reason.startswith("annotators answer chat messages differently (message agreement 0.83)")
    assert "relevance of message msg-1 (0.50 agree)" in found[apart].reason
    # the policy's dynamic overlap (on by default): two annotators split on a message, a third decides
    assert _state(same)[0] == "accepted" and _state(apart)[0] == "open"
    assert (done["policy"]["accepted"], done["policy"]["more_annotators"]) == (1, 1)
    # the dashboard's agreement panel has the figure per control (quality.results.agreement_controls)
    from quality import results as qc_results
    shown = {c["type"]: c for c in qc_results.agreement_controls(lead.user, project.id)}
    assert {'chatmessage'} <= set(shown) and all(shown[t]["n_tasks"] >= 2 for t in ['chatmessage'])

