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
    Project,
    QualityRun,
    ReviewDecision,
    Role,
    Task,
    TaskEvent,
)
from quality.policy import apply_policy, set_policy

CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
    '<Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>'
)


IMAGE_CONFIG = (
    '<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
    '<Choice value="cat"/><Choice value="dog"/><Choice value="bird"/></Choices></View>'
)


def label(name: str, to_name: str = "text") -> list[dict]:
    return [
        {"from_name": "label", "to_name": to_name, "type": "choices", "value": {"choices": [name]}}
    ]


def make_project(owner, **settings) -> Project:
    return projects.create_project(owner, title="review", label_config=CONFIG, **settings)


def annotate_all(
    project: Project, annotator, labels: list[str], *, image: str | None = None
) -> list[int]:
    """Add one task per label and let ``annotator`` label them through the router, in order
    (texts "item 0", "item 1", ...; with ``image``, that picture in each task of IMAGE_CONFIG)."""
    with write_session() as s:
        tasks = [
            Task(
                project_id=project.id,
                data={"image": image} if image else {"text": f"item {i}"},
                target_overlap=project.overlap,
            )
            for i in range(len(labels))
        ]
        s.add_all(tasks)
        s.flush()
        ids = [t.id for t in tasks]
    for expected_id, name in zip(ids, labels, strict=True):
        task = router.next_task(project.id, annotator.user)
        assert task.id == expected_id
        annotations.submit(
            task.id, annotator.user, result=label(name, "image" if image else "text")
        )
    return ids


def qc_run(project_id: int, issues: dict[int, dict], scores: dict[int, dict] | None = None) -> int:
    """Store a finished QC run: one label issue row per task (``score``, ``is_issue``, ...)."""
    with write_session() as s:
        run = QualityRun(
            project_id=project_id,
            status="done",
            n_items=len(issues),
            n_issues=sum(bool(v.get("is_issue")) for v in issues.values()),
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        for task_id, v in issues.items():
            s.add(
                LabelIssue(
                    run_id=run.id,
                    project_id=project_id,
                    task_id=task_id,
                    kind=v.get("kind", "label"),
                    is_issue=v.get("is_issue", False),
                    given=v.get("given"),
                    suggested=v.get("suggested"),
                    consensus=v.get("consensus"),
                    score=v.get("score", 0.9),
                    reason=v.get("reason", ""),
                )
            )
        for user_id, v in (scores or {}).items():
            s.add(AnnotatorScore(run_id=run.id, project_id=project_id, user_id=user_id, **v))
        return run.id


def suspects_in_review(
    project, annotator, *, given: list[str], truth: list[str], image: str | None = None
) -> list[int]:
    """Tasks labeled ``given``; QC flags those that differ from ``truth`` (worse score first).
    With ``image`` (a project of IMAGE_CONFIG), each task shows that picture."""
    ids = annotate_all(project, annotator, given, image=image)
    issues = {}
    for i, (tid, g, t) in enumerate(zip(ids, given, truth, strict=True)):
        wrong = g != t
        issues[tid] = {
            "is_issue": wrong,
            "score": 0.05 + 0.01 * i if wrong else 0.95,
            "given": g,
            "suggested": t,
            "reason": f"labelled '{g}'; model says '{t}' (0.9)" if wrong else "",
        }
    run_id = qc_run(project.id, issues)
    apply_policy(project.id, run_id)
    return ids


def task(task_id: int) -> Task:
    with read_session() as s:
        return s.get(Task, task_id)


def events(task_id: int) -> list[tuple[str, str]]:
    with read_session() as s:
        return [
            (e.from_state, e.to_state)
            for e in s.exec(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        ]


def test_suspects_are_served_worst_first_leased_and_never_twice(queue, reviewer, make_user):
    project, ids = queue
    assert [task(i).state for i in ids] == ["accepted", "review", "accepted", "review", "accepted"]
    item = review.next_suspect(project.id, reviewer.user)
    assert item["task"]["id"] == ids[1]  # score 0.06 before 0.08
    assert item["given"]["label"] == "neg" and item["given"]["source"] == "single"
    assert item["suggested"]["label"] == "pos"
    assert item["suggested"]["result"] == label("pos")
    assert (
        item["annotations"][0]["label"] == "neg"
        and item["annotations"][0]["email"] == "ann@example.com"
    )
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
        assert sorted((lease.task_id, lease.kind) for lease in leases) == [
            (ids[1], "review"),
            (ids[3], "review"),
        ]
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
    assert (t.state, t.final_label, t.final_source, t.n_leases) == (
        "accepted",
        label("neg"),
        "reviewer",
        0,
    )
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


# --------------------------------------------------------------------------- people's labels, not the model's


def test_keep_keeps_the_label_people_gave_not_the_model_consensus(lead, annotator, reviewer):
    """One annotator said pos; QC's model-weighted consensus says neg: Keep keeps pos."""
    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos"])
    run_id = qc_run(
        project.id,
        {
            ids[0]: {
                "is_issue": True,
                "score": 0.05,
                "given": "neg",
                "suggested": "neg",
                "consensus": "neg",
                "reason": "labelled 'pos'; model says 'neg'",
            }
        },
    )
    apply_policy(project.id, run_id)
    item = review.next_suspect(project.id, reviewer.user)
    assert item["given"]["label"] == "pos" and item["given"]["source"] == "single"
    assert item["given"]["by"] == "people" and item["given"]["tied"] == []
    assert item["consensus"]["label"] == "neg" and item["consensus"]["by"] == "model"
    assert "QC model" in item["consensus"]["name"]
    kept = review.decide(ids[0], reviewer.user, decision="keep")
    assert kept.decision == "keep" and kept.after["final_label"] == label("pos")
    assert task(ids[0]).final_label == label("pos")


def tied_suspects(lead, make_user) -> tuple[Project, list[int]]:
    """Two suspects of two annotators each, with QC's consensus 'neu': one@ said pos and two@
    said neg (a tie), then both said neu."""
    project = make_project(lead.user, overlap=2)
    set_policy(project.id, lead.user, {"dynamic_overlap": False})  # disagreement goes to review
    one, two = make_user("one@example.com"), make_user("two@example.com")
    ids = annotate_all(project, one, ["pos", "neu"])
    for tid, name in zip(ids, ["neg", "neu"], strict=True):
        assert router.next_task(project.id, two.user).id == tid
        annotations.submit(tid, two.user, result=label(name))
    run_id = qc_run(
        project.id,
        {
            tid: {
                "is_issue": True,
                "score": 0.05 + i / 100,
                "suggested": "neu",
                "consensus": "neu",
                "reason": "model says neu",
            }
            for i, tid in enumerate(ids)
        },
    )
    apply_policy(project.id, run_id)
    return project, ids


def test_a_tie_makes_the_reviewer_pick_and_a_relabel_to_the_given_label_is_a_keep(
    lead, reviewer, make_user
):
    project, ids = tied_suspects(lead, make_user)
    item = review.next_suspect(project.id, reviewer.user)
    assert item["task"]["id"] == ids[0]
    assert item["given"]["result"] is None and [x["label"] for x in item["given"]["tied"]] == [
        "pos",
        "neg",
    ]
    with pytest.raises(Conflict) as err:
        review.decide(ids[0], reviewer.user, decision="keep")
    assert "tied" in err.value.detail and "one@example.com: pos" in err.value.detail
    assert task(ids[0]).state == "review"  # nothing stored
    picked = review.decide(ids[0], reviewer.user, decision="relabel", result=label("neg"))
    assert picked.decision == "relabel" and task(ids[0]).final_label == label("neg")
    # both said neu: a relabel to neu is the label already given, recorded as a keep
    review.next_suspect(project.id, reviewer.user)
    same = review.decide(ids[1], reviewer.user, decision="relabel", result=label("neu"))
    assert (
        same.decision == "keep" and same.result is None and task(ids[1]).final_label == label("neu")
    )


# --------------------------------------------------------------------------- the finding that queued a suspect


def test_a_suspect_keeps_the_run_and_reason_that_queued_it_and_a_later_run_clearing_it_lets_it_go(
    lead, annotator, reviewer, make_user
):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg", "neg"], truth=["pos", "pos"])
    first = task(ids[0]).review_issue_id
    with read_session() as s:
        run1 = s.get(LabelIssue, first).run_id
    # run 2 scores both again, differently: the reviewer still sees run 1's finding
    run2 = qc_run(
        project.id,
        {
            tid: {
                "is_issue": True,
                "score": 0.3,
                "suggested": "neu",
                "given": "neg",
                "reason": "run 2 says neu",
            }
            for tid in ids
        },
    )
    assert apply_policy(project.id, run2)["cleared"] == 0
    item = review.next_suspect(project.id, reviewer.user)
    assert (
        item["task"]["id"] == ids[0]
        and item["issue"]["run"] == run1
        and item["issue"]["id"] == first
    )
    assert item["reason"] == "labelled 'neg'; model says 'pos' (0.9)" and item[
        "score"
    ] == pytest.approx(0.05)
    assert item["suggested"]["label"] == "pos" and item["cleared"] is None
    # run 3 clears both: the one nobody holds leaves the queue with the annotator's label
    run3 = qc_run(
        project.id, {tid: {"is_issue": False, "score": 0.97, "given": "neg"} for tid in ids}
    )
    assert apply_policy(project.id, run3)["cleared"] == 1
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("neg"), "single")
    assert events(ids[1])[-1] == ("review", "accepted")
    # the one a reviewer holds stays, and the reviewer is told
    held = review.next_suspect(project.id, reviewer.user)
    assert held["task"]["id"] == ids[0] and held["cleared"] == {
        "run": run3,
        "score": pytest.approx(0.97),
    }
    assert held["issue"]["run"] == run1 and held["remaining"] == 1
    # applying an old run again clears nothing
    assert apply_policy(project.id, run1)["cleared"] == 0
