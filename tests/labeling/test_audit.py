"""Second-level audit of review decisions (labeling.audit)."""

from __future__ import annotations

import pytest

from labeling import audit, review
from labeling.errors import Conflict, Forbidden
from labeling.models import (
    Role,
)
from tests.labeling.test_review import (
    label,
    task,
)


def test_second_level_audit_samples_confirms_and_overturns(queue, reviewer, lead, make_user):
    project, ids = queue
    other = make_user("rev2@example.com", Role.reviewer)
    review.next_suspect(project.id, reviewer.user)
    review.next_suspect(project.id, other.user)
    first = review.decide(ids[1], reviewer.user, decision="keep")
    second = review.decide(ids[3], other.user, decision="exclude", reason="unclear")
    with pytest.raises(Forbidden):
        audit.audit_queue(project.id, reviewer.user)
    assert [d["id"] for d in audit.audit_queue(project.id, lead.user, sample=5)] == [first.id, second.id]
    assert len(audit.audit_queue(project.id, lead.user, sample=1, seed=3)) == 1
    mine = audit.audit_queue(project.id, lead.user, reviewer_id=reviewer.id, sample=None)
    assert [d["id"] for d in mine] == [first.id]
    assert mine[0]["reviewer_email"] == "rev@example.com" and mine[0]["after_label"] == "neg"

    overturn = audit.audit(first.id, lead.user, verdict="relabel", result=label("pos"), reason="it is positive")
    assert (overturn.level, overturn.overturns_id, overturn.decision) == (2, first.id, "relabel")
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("pos"), "reviewer")
    assert overturn.before["final_label"] == label("neg") and overturn.after["final_label"] == label("pos")
    with pytest.raises(Conflict):
        audit.audit(first.id, lead.user, verdict="confirm")  # audited already
    with pytest.raises(Conflict):
        review.undo(reviewer.user, task_id=ids[1])  # the reviewer cannot undo an audited decision
    confirm = audit.audit(second.id, lead.user, verdict="confirm")
    assert confirm.decision == "confirm" and task(ids[3]).state == "excluded"
    assert audit.audit_queue(project.id, lead.user) == []
    assert len(audit.audit_queue(project.id, lead.user, include_audited=True)) == 2
    history = audit.list_decisions(project.id, lead.user, task_id=ids[1])
    assert [(d["level"], d["decision"]) for d in history] == [(2, "relabel"), (1, "keep")]  # newest first
    assert [d["decision"] for d in audit.list_decisions(project.id, reviewer.user)] == ["keep"]
