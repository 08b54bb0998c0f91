"""Gold tasks, pausing and annotator quality (labeling.gold)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import annotations, gold, review, router
from labeling.db import read_session, write_session
from labeling.errors import Conflict, Forbidden, Invalid
from labeling.models import (
    Lease,
    Membership,
    Role,
    Task,
)
from tests.labeling.test_review import (
    annotate_all,
    events,
    label,
    make_project,
    qc_run,
    task,
)


def test_mark_gold_from_review_takes_the_task_off_the_line(queue, reviewer, lead):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    with pytest.raises(Invalid):
        gold.mark_gold(ids[1], reviewer.user, answer=[])
    row = gold.mark_gold(ids[1], reviewer.user, answer=label("pos"))
    t = task(ids[1])
    assert (t.state, t.is_gold, t.gold_answer, t.n_leases) == ("open", True, label("pos"), 0)
    assert row.decision == "gold" and events(ids[1])[-1] == ("review", "open")
    assert review.next_suspect(project.id, reviewer.user)["task"]["id"] == ids[3]
    review.undo(reviewer.user, task_id=ids[1])
    t = task(ids[1])
    assert (t.state, t.is_gold, t.gold_answer) == ("review", False, None)
    gold.mark_gold(ids[1], reviewer.user, answer=label("pos"))
    with pytest.raises(Forbidden):
        gold.unmark_gold(ids[1], reviewer.user)
    t = gold.unmark_gold(ids[1], lead.user)
    assert (t.state, t.is_gold) == ("labeled", False)


def test_failing_gold_pauses_the_annotator_and_releases_their_leases(lead, make_user):
    project = make_project(lead.user, gold_rate=0.5, gold_threshold=0.75, gold_min_items=2)
    good, bad = make_user("good@example.com"), make_user("bad@example.com")
    with write_session() as s:
        golden = [Task(project_id=project.id, data={"text": f"gold {i}"}, is_gold=True, gold_answer=label("pos"))
                  for i in range(3)]
        plain = [Task(project_id=project.id, data={"text": f"item {i}"}) for i in range(6)]
        s.add_all(golden + plain)
    for person, answer in ((good, "pos"), (bad, "neg")):
        for _ in range(4):
            t = router.next_task(project.id, person.user)
            annotations.submit(t.id, person.user, result=label(answer if t.is_gold else "neu"))
    assert gold.check_gold(project.id, good.id) is False
    with read_session() as s:
        m = s.exec(select(Membership).where(Membership.user_id == bad.id)).one()
        assert m.paused_at is not None and "gold accuracy 0% (0 of 2)" in m.paused_reason
        assert m.role == Role.annotator
        assert s.exec(select(Lease).where(Lease.user_id == bad.id)).all() == []
    with pytest.raises(router.Paused):
        router.next_task(project.id, bad.user)

    table = {r["email"]: r for r in gold.annotator_quality(project.id, lead.user)}
    assert table["bad@example.com"]["paused"] and table["bad@example.com"]["gold_accuracy"] == 0.0
    assert table["good@example.com"]["gold_accuracy"] == 1.0 and not table["good@example.com"]["paused"]
    assert table["good@example.com"]["items"] == 2 and table["good@example.com"]["gold_items"] == 2

    with pytest.raises(Forbidden):
        gold.resume(project.id, good.user, bad.id)
    gold.resume(project.id, lead.user, bad.id)
    with pytest.raises(Conflict):
        gold.resume(project.id, lead.user, bad.id)
    t = router.next_task(project.id, bad.user)  # resumed: the earlier gold answers no longer count
    assert t is not None
    annotations.submit(t.id, bad.user, result=label("pos" if t.is_gold else "neu"))
    with read_session() as s:
        assert s.exec(select(Membership).where(Membership.user_id == bad.id)).one().paused_at is None


def test_annotator_quality_reports_items_time_gold_and_crowdlab(lead, make_user):
    project = make_project(lead.user, overlap=2)
    a, b = make_user("a@example.com"), make_user("b@example.com")
    ids = annotate_all(project, a, ["pos", "neg", "pos"])
    for tid, seconds in zip(ids, (4.0, 10.0, 6.0), strict=True):
        router.next_task(project.id, b.user)
        annotations.submit(tid, b.user, result=label("pos"), lead_time=seconds)
    with write_session() as s:
        s.execute(sa.update(annotations.Annotation).where(annotations.Annotation.user_id == a.id)
                  .values(lead_time=3.0))
    qc_run(project.id, {tid: {"score": 0.9} for tid in ids},
           scores={a.id: {"n_items": 3, "agreement": 0.67, "quality": 0.71},
                   b.id: {"n_items": 3, "agreement": 1.0, "quality": 0.93}})
    with pytest.raises(Forbidden):
        gold.annotator_quality(project.id, a.user)
    rows = {r["email"]: r for r in gold.annotator_quality(project.id, lead.user)}
    assert rows["b@example.com"]["median_seconds"] == pytest.approx(6.0)
    assert rows["a@example.com"]["median_seconds"] == pytest.approx(3.0)
    assert rows["b@example.com"]["quality"] == pytest.approx(0.93)
    assert rows["a@example.com"]["agreement"] == pytest.approx(0.67)
    assert rows["a@example.com"]["items"] == 3 and rows["a@example.com"]["gold_accuracy"] is None
