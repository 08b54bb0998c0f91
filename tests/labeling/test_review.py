"""The review queue, undo, second-level audit, gold tasks, pausing and annotator quality.

QC results are written here as QualityRun / LabelIssue rows directly (the QC engine is tested on
its own); the policy that turns them into suspects is the real one (quality.policy).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import annotations, projects, review, router
from labeling.db import get_engine, read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import (
    AnnotatorScore,
    LabelIssue,
    Lease,
    Membership,
    Project,
    QualityRun,
    ReviewDecision,
    Role,
    Task,
    TaskEvent,
)
from quality.policy import apply_policy

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>')


def label(name: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


def make_project(owner, **settings) -> Project:
    return projects.create_project(owner, title="review", label_config=CONFIG, **settings)


def annotate_all(project: Project, annotator, labels: list[str]) -> list[int]:
    """Add one task per label and let ``annotator`` label them through the router, in order."""
    with write_session() as s:
        tasks = [Task(project_id=project.id, data={"text": f"item {i}"}, target_overlap=project.overlap)
                 for i in range(len(labels))]
        s.add_all(tasks)
        s.flush()
        ids = [t.id for t in tasks]
    for expected_id, name in zip(ids, labels, strict=True):
        task = router.next_task(project.id, annotator.user)
        assert task.id == expected_id
        annotations.submit(task.id, annotator.user, result=label(name))
    return ids


def qc_run(project_id: int, issues: dict[int, dict], scores: dict[int, dict] | None = None) -> int:
    """Store a finished QC run: one label issue row per task (``score``, ``is_issue``, ...)."""
    with write_session() as s:
        run = QualityRun(project_id=project_id, status="done", n_items=len(issues),
                         n_issues=sum(bool(v.get("is_issue")) for v in issues.values()), finished_at=utcnow())
        s.add(run)
        s.flush()
        for task_id, v in issues.items():
            s.add(LabelIssue(run_id=run.id, project_id=project_id, task_id=task_id, kind=v.get("kind", "label"),
                             is_issue=v.get("is_issue", False), given=v.get("given"), suggested=v.get("suggested"),
                             consensus=v.get("consensus"), score=v.get("score", 0.9), reason=v.get("reason", "")))
        for user_id, v in (scores or {}).items():
            s.add(AnnotatorScore(run_id=run.id, project_id=project_id, user_id=user_id, **v))
        return run.id


def suspects_in_review(project, annotator, *, given: list[str], truth: list[str]) -> list[int]:
    """Tasks labeled ``given``; QC flags those that differ from ``truth`` (worse score first)."""
    ids = annotate_all(project, annotator, given)
    issues = {}
    for i, (tid, g, t) in enumerate(zip(ids, given, truth, strict=True)):
        wrong = g != t
        issues[tid] = {"is_issue": wrong, "score": 0.05 + 0.01 * i if wrong else 0.95, "given": g,
                       "suggested": t, "reason": f"labelled '{g}'; model says '{t}' (0.9)" if wrong else ""}
    run_id = qc_run(project.id, issues)
    apply_policy(project.id, run_id)
    return ids


def task(task_id: int) -> Task:
    with read_session() as s:
        return s.get(Task, task_id)


def events(task_id: int) -> list[tuple[str, str]]:
    with read_session() as s:
        return [(e.from_state, e.to_state) for e in s.exec(select(TaskEvent).where(TaskEvent.task_id == task_id)
                                                           .order_by(TaskEvent.id))]


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


@pytest.fixture
def queue(lead, annotator):
    """A project of 5 tasks: tasks 1 and 3 (0-based) carry wrong labels and are in review."""
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg", "pos", "neu", "neg"],
                             truth=["pos", "pos", "pos", "neg", "neg"])
    return project, ids


def test_suspects_are_served_worst_first_leased_and_never_twice(queue, reviewer, make_user):
    project, ids = queue
    assert [task(i).state for i in ids] == ["accepted", "review", "accepted", "review", "accepted"]
    item = review.next_suspect(project.id, reviewer.user)
    assert item["task"]["id"] == ids[1]  # score 0.06 before 0.08
    assert item["given"]["label"] == "neg" and item["given"]["source"] == "single"
    assert item["suggested"]["label"] == "pos"
    assert item["suggested"]["result"] == label("pos")
    assert item["annotations"][0]["label"] == "neg" and item["annotations"][0]["email"] == "ann@example.com"
    assert item["reason"].startswith("labelled 'neg'") and item["score"] == pytest.approx(0.06)
    assert item["remaining"] == 2
    again = review.next_suspect(project.id, reviewer.user)
    assert again["task"]["id"] == ids[1]  # the same one while the lease lives
    other = make_user("rev2@example.com", Role.reviewer)
    assert review.next_suspect(project.id, other.user)["task"]["id"] == ids[3]
    third = make_user("rev3@example.com", Role.reviewer)
    assert review.next_suspect(project.id, third.user) is None
    with read_session() as s:
        leases = s.exec(select(Lease).where(Lease.project_id == project.id)).all()
        assert sorted((lease.task_id, lease.kind) for lease in leases) == [(ids[1], "review"), (ids[3], "review")]
        assert s.get(Task, ids[1]).n_leases == 1


def test_an_expired_review_lease_frees_the_suspect(queue, reviewer, make_user):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    with write_session() as s:
        s.execute(sa.update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    other = make_user("rev2@example.com", Role.reviewer)
    assert review.next_suspect(project.id, other.user)["task"]["id"] == ids[1]
    assert task(ids[1]).n_leases == 1


def test_annotators_may_not_review(queue, annotator):
    project, ids = queue
    with pytest.raises(Forbidden):
        review.next_suspect(project.id, annotator.user)
    with pytest.raises(Forbidden):
        review.decide(ids[1], annotator.user, decision="keep")


def test_keep_relabel_exclude_record_final_label_events_and_decisions(queue, reviewer):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    kept = review.decide(ids[1], reviewer.user, decision="keep", reason="the text is negative")
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source, t.n_leases) == ("accepted", label("neg"), "reviewer", 0)
    assert kept.before["state"] == "review" and kept.after["state"] == "accepted"
    assert kept.after["final_label"] == label("neg") and kept.level == 1
    assert events(ids[1])[-1] == ("review", "accepted")

    with pytest.raises(Invalid) as bad:
        review.decide(ids[3], reviewer.user, decision="relabel", result=label("maybe"))
    assert bad.value.errors[0]["field"].startswith("result")
    with pytest.raises(Invalid):
        review.decide(ids[3], reviewer.user, decision="exclude", reason="  ")
    with pytest.raises(Invalid):
        review.decide(ids[3], reviewer.user, decision="approve")
    relabeled = review.decide(ids[3], reviewer.user, decision="relabel", result=label("neg"))
    assert relabeled.result == label("neg")
    t = task(ids[3])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("neg"), "reviewer")
    # the annotation itself is left as it was: the final label is the reviewer's
    assert [a.result for a in annotations.task_annotations(ids[3], reviewer.user)] == [label("neu")]
    with pytest.raises(Conflict):
        review.decide(ids[3], reviewer.user, decision="keep")  # not in the queue any more


def test_exclude_needs_a_reason_and_releases_nothing(lead, annotator, reviewer):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos"], truth=["neg"])
    row = review.decide(ids[0], reviewer.user, decision="exclude", reason="two sentiments at once")
    t = task(ids[0])
    assert (t.state, t.final_label, t.final_source) == ("excluded", None, None)
    assert row.reason == "two sentiments at once"


def test_a_suspect_held_by_another_reviewer_cannot_be_decided(queue, reviewer, make_user):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    other = make_user("rev2@example.com", Role.reviewer)
    with pytest.raises(Conflict):
        review.decide(ids[1], other.user, decision="keep")


def test_undo_returns_the_task_to_the_queue_leased_to_the_reviewer(queue, reviewer):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    review.decide(ids[1], reviewer.user, decision="relabel", result=label("pos"))
    undone = review.undo(reviewer.user, project_id=project.id)
    assert undone.undone_at is not None
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("review", None, None)
    assert events(ids[1])[-2:] == [("review", "accepted"), ("accepted", "review")]
    assert review.next_suspect(project.id, reviewer.user)["task"]["id"] == ids[1]
    with pytest.raises(NotFound):
        review.undo(reviewer.user, task_id=ids[1])  # nothing left to undo there
    review.decide(ids[1], reviewer.user, decision="keep")
    assert task(ids[1]).final_label == label("neg")


def test_second_level_audit_samples_confirms_and_overturns(queue, reviewer, lead, make_user):
    project, ids = queue
    other = make_user("rev2@example.com", Role.reviewer)
    review.next_suspect(project.id, reviewer.user)
    review.next_suspect(project.id, other.user)
    first = review.decide(ids[1], reviewer.user, decision="keep")
    second = review.decide(ids[3], other.user, decision="exclude", reason="unclear")
    with pytest.raises(Forbidden):
        review.audit_queue(project.id, reviewer.user)
    assert [d["id"] for d in review.audit_queue(project.id, lead.user, sample=5)] == [first.id, second.id]
    assert len(review.audit_queue(project.id, lead.user, sample=1, seed=3)) == 1
    mine = review.audit_queue(project.id, lead.user, reviewer_id=reviewer.id, sample=None)
    assert [d["id"] for d in mine] == [first.id]
    assert mine[0]["reviewer_email"] == "rev@example.com" and mine[0]["after_label"] == "neg"

    overturn = review.audit(first.id, lead.user, verdict="relabel", result=label("pos"), reason="it is positive")
    assert (overturn.level, overturn.overturns_id, overturn.decision) == (2, first.id, "relabel")
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("pos"), "reviewer")
    assert overturn.before["final_label"] == label("neg") and overturn.after["final_label"] == label("pos")
    with pytest.raises(Conflict):
        review.audit(first.id, lead.user, verdict="confirm")  # audited already
    with pytest.raises(Conflict):
        review.undo(reviewer.user, task_id=ids[1])  # the reviewer cannot undo an audited decision
    confirm = review.audit(second.id, lead.user, verdict="confirm")
    assert confirm.decision == "confirm" and task(ids[3]).state == "excluded"
    assert review.audit_queue(project.id, lead.user) == []
    assert len(review.audit_queue(project.id, lead.user, include_audited=True)) == 2
    history = review.list_decisions(project.id, lead.user, task_id=ids[1])
    assert [(d["level"], d["decision"]) for d in history] == [(2, "relabel"), (1, "keep")]  # newest first
    assert [d["decision"] for d in review.list_decisions(project.id, reviewer.user)] == ["keep"]


def test_mark_gold_from_review_takes_the_task_off_the_line(queue, reviewer, lead):
    project, ids = queue
    review.next_suspect(project.id, reviewer.user)
    with pytest.raises(Invalid):
        review.mark_gold(ids[1], reviewer.user, answer=[])
    row = review.mark_gold(ids[1], reviewer.user, answer=label("pos"))
    t = task(ids[1])
    assert (t.state, t.is_gold, t.gold_answer, t.n_leases) == ("open", True, label("pos"), 0)
    assert row.decision == "gold" and events(ids[1])[-1] == ("review", "open")
    assert review.next_suspect(project.id, reviewer.user)["task"]["id"] == ids[3]
    review.undo(reviewer.user, task_id=ids[1])
    t = task(ids[1])
    assert (t.state, t.is_gold, t.gold_answer) == ("review", False, None)
    review.mark_gold(ids[1], reviewer.user, answer=label("pos"))
    with pytest.raises(Forbidden):
        review.unmark_gold(ids[1], reviewer.user)
    t = review.unmark_gold(ids[1], lead.user)
    assert (t.state, t.is_gold) == ("labeled", False)


def test_failing_gold_pauses_the_annotator_and_releases_their_leases(lead, make_user):
    project = make_project(lead.user, gold_rate=0.5, gold_threshold=0.75, gold_min_items=2)
    good, bad = make_user("good@example.com"), make_user("bad@example.com")
    with write_session() as s:
        gold = [Task(project_id=project.id, data={"text": f"gold {i}"}, is_gold=True, gold_answer=label("pos"))
                for i in range(3)]
        plain = [Task(project_id=project.id, data={"text": f"item {i}"}) for i in range(6)]
        s.add_all(gold + plain)
    for person, answer in ((good, "pos"), (bad, "neg")):
        for _ in range(4):
            t = router.next_task(project.id, person.user)
            annotations.submit(t.id, person.user, result=label(answer if t.is_gold else "neu"))
    assert review.check_gold(project.id, good.id) is False
    with read_session() as s:
        m = s.exec(select(Membership).where(Membership.user_id == bad.id)).one()
        assert m.paused_at is not None and "gold accuracy 0% (0 of 2)" in m.paused_reason
        assert m.role == Role.annotator
        assert s.exec(select(Lease).where(Lease.user_id == bad.id)).all() == []
    with pytest.raises(router.Paused):
        router.next_task(project.id, bad.user)

    table = {r["email"]: r for r in review.annotator_quality(project.id, lead.user)}
    assert table["bad@example.com"]["paused"] and table["bad@example.com"]["gold_accuracy"] == 0.0
    assert table["good@example.com"]["gold_accuracy"] == 1.0 and not table["good@example.com"]["paused"]
    assert table["good@example.com"]["items"] == 2 and table["good@example.com"]["gold_items"] == 2

    with pytest.raises(Forbidden):
        review.resume(project.id, good.user, bad.id)
    review.resume(project.id, lead.user, bad.id)
    with pytest.raises(Conflict):
        review.resume(project.id, lead.user, bad.id)
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
        review.annotator_quality(project.id, a.user)
    rows = {r["email"]: r for r in review.annotator_quality(project.id, lead.user)}
    assert rows["b@example.com"]["median_seconds"] == pytest.approx(6.0)
    assert rows["a@example.com"]["median_seconds"] == pytest.approx(3.0)
    assert rows["b@example.com"]["quality"] == pytest.approx(0.93)
    assert rows["a@example.com"]["agreement"] == pytest.approx(0.67)
    assert rows["a@example.com"]["items"] == 3 and rows["a@example.com"]["gold_accuracy"] is None


def test_results_match_compares_choices_spans_and_boxes():
    def box(x, name="car"):
        return {"from_name": "b", "to_name": "img", "type": "rectanglelabels",
                "value": {"x": x, "y": 10, "width": 20, "height": 20, "rectanglelabels": [name]}}

    assert review.results_match(label("pos"), label("pos"))
    assert not review.results_match(label("pos"), label("neg"))
    assert review.results_match([box(10), box(50)], [box(52), box(11)])
    assert not review.results_match([box(10)], [box(25)])  # IoU 0.33
    assert not review.results_match([box(10)], [box(10, "bus")])
    span = {"from_name": "ner", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}
    assert review.results_match([span], [dict(span, id="x")])
    assert not review.results_match([span], [{**span, "value": {**span["value"], "end": 4}}])


@pytest.mark.skipif(get_engine().dialect.name != "postgresql", reason="row locks: PostgreSQL only")
def test_concurrent_reviewers_never_get_the_same_suspect(lead, annotator, make_user):
    project = make_project(lead.user)
    suspects_in_review(project, annotator, given=["pos"] * 6, truth=["neg"] * 6)
    reviewers = [make_user(f"r{i}@example.com", Role.reviewer) for i in range(6)]
    got, barrier = [], threading.Barrier(len(reviewers))

    def work(r):
        barrier.wait()
        got.append(review.next_suspect(project.id, r.user)["task"]["id"])

    threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 6
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(ReviewDecision)).scalar_one() == 0
