"""QC policy: settings and their checks, what becomes a suspect, where it goes, dynamic overlap,
acceptance with the final label; and the loop with the real QC job end to end."""

from __future__ import annotations

import pytest
from sqlmodel import select

from labeling import annotations, imports, jobs, projects, router
from labeling.db import read_session, write_session
from labeling.errors import Forbidden, Invalid
from labeling.models import LabelIssue, QualityRun, Role, Task, TaskEvent
from quality import policy
from quality.run.skeleton import start_qc
from tests.conftest import wait_for
from tests.labeling.test_review import annotate_all, label, make_project, qc_run, task


def states(ids: list[int]) -> list[str]:
    return [task(i).state for i in ids]


def test_policy_defaults_validation_and_storage(lead, make_user):
    project = make_project(lead.user)
    assert policy.get_policy(project.id, lead.user) == policy.DEFAULTS
    with pytest.raises(Invalid) as bad:
        policy.set_policy(project.id, lead.user, {"suspect": "random", "threshold": 2, "budget": 1.5,
                                                  "kinds": ["label", "typo"], "colour": "red", "route": 3,
                                                  "dynamic_overlap": "yes", "relabel_k": 0})
    fields = [e["field"] for e in bad.value.errors]
    assert fields == ["suspect", "threshold", "budget", "kinds", "colour", "route", "dynamic_overlap", "relabel_k"]
    changed = policy.set_policy(project.id, lead.user, {"suspect": "threshold", "threshold": 0.3, "route": "relabel"})
    assert changed["suspect"] == "threshold" and changed["kinds"] == ["label"]
    with read_session() as s:
        stored = s.get(type(project), project.id).qc_policy
    assert stored == {"suspect": "threshold", "threshold": 0.3, "route": "relabel"}  # only what differs
    reviewer = make_user("rev@example.com", Role.reviewer)
    assert policy.get_policy(project.id, reviewer.user)["threshold"] == 0.3
    with pytest.raises(Forbidden):
        policy.set_policy(project.id, reviewer.user, {"threshold": 0.2})


@pytest.mark.parametrize(("settings", "expected"), [
    ({"suspect": "flagged"}, {1, 3}),
    ({"suspect": "threshold", "threshold": 0.25}, {1, 2}),
    ({"suspect": "worst_share", "worst_share": 0.4}, {1, 2}),
    ({"suspect": "budget", "budget": 3}, {1, 2, 3}),
    ({"suspect": "budget", "budget": 0}, set()),
    ({"suspect": "flagged", "kinds": ["outlier"]}, {4}),
])
def test_what_makes_a_suspect(lead, annotator, settings, expected):
    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos"] * 5)
    run = qc_run(project.id, {
        ids[0]: {"score": 0.9}, ids[1]: {"score": 0.1, "is_issue": True}, ids[2]: {"score": 0.2},
        ids[3]: {"score": 0.3, "is_issue": True}, ids[4]: {"score": 0.8}})
    with write_session() as s:  # an outlier row for the last task, in the same run
        s.add(LabelIssue(run_id=run, project_id=project.id, task_id=ids[4], kind="outlier", is_issue=True,
                         score=0.05, reason="far from every other item"))
    policy.set_policy(project.id, lead.user, settings)
    counts = policy.apply_policy(project.id, run)
    got = {i for i, tid in enumerate(ids) if task(tid).state == "review"}
    assert got == expected
    assert counts["review"] == len(expected) and counts["accepted"] == 5 - len(expected)


def test_passing_tasks_are_accepted_with_final_label_and_events_and_suspects_keep_their_labels(lead, annotator):
    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos", "neg"])
    run = qc_run(project.id, {ids[0]: {"score": 0.95}, ids[1]: {"score": 0.02, "is_issue": True,
                                                                "suggested": "pos", "reason": "model says 'pos'"}})
    counts = policy.apply_policy(project.id, run)
    assert counts == {**counts, "scored": 2, "accepted": 1, "review": 1}
    ok, bad = task(ids[0]), task(ids[1])
    assert (ok.state, ok.final_label, ok.final_source) == ("accepted", label("pos"), "single")
    assert (bad.state, bad.final_label) == ("review", None)
    assert [a.result for a in annotations.task_annotations(ids[1], annotator.user)] == [label("neg")]
    with read_session() as s:
        ev = s.exec(select(TaskEvent).where(TaskEvent.task_id == ids[1]).order_by(TaskEvent.id)).all()
    assert [(e.from_state, e.to_state) for e in ev][-2:] == [("labeled", "suspect"), ("suspect", "review")]
    assert "model says 'pos'" in ev[-2].reason
    # applying the run again changes nothing
    assert policy.apply_policy(project.id, run)["scored"] == 0


def test_relabel_sends_suspects_to_k_new_annotators_first_then_judges_them_again(lead, make_user):
    project = make_project(lead.user, overlap=1, max_overlap=3)
    first, second, third = (make_user(f"a{i}@example.com") for i in range(3))
    ids = annotate_all(project, first, ["pos", "neg", "neu"])
    with write_session() as s:
        s.add(Task(project_id=project.id, data={"text": "fresh"}, target_overlap=1, priority=5.0))
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 2})
    run = qc_run(project.id, {ids[0]: {"score": 0.9}, ids[1]: {"score": 0.1, "is_issue": True},
                              ids[2]: {"score": 0.9}})
    assert policy.apply_policy(project.id, run)["relabel"] == 1
    t = task(ids[1])
    assert (t.state, t.target_overlap, t.requeued) == ("open", 3, True)
    assert router.next_task(project.id, first.user).id != ids[1]  # never to an earlier annotator
    for person, name in ((second, "pos"), (third, "pos")):
        served = router.next_task(project.id, person.user)
        assert served.id == ids[1]  # first in their queue, before a task of higher priority
        annotations.submit(served.id, person.user, result=label(name))
    t = task(ids[1])
    assert (t.state, t.n_annotations, t.requeued) == ("labeled", 3, False)
    # the next run has three labels; it passes and is released with the annotators' majority
    run2 = qc_run(project.id, {ids[1]: {"score": 0.8, "consensus": "pos"}})
    assert policy.apply_policy(project.id, run2)["accepted"] == 1
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("pos"), "majority")


def test_relabel_beyond_the_maximum_overlap_goes_to_review(lead, annotator):
    project = make_project(lead.user, overlap=1, max_overlap=2)
    ids = annotate_all(project, annotator, ["pos"])
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 2})
    run = qc_run(project.id, {ids[0]: {"score": 0.1, "is_issue": True}})
    assert policy.apply_policy(project.id, run)["review"] == 1
    assert task(ids[0]).state == "review"


def annotate_in_turn(project, ids: list[int], work) -> None:
    """Each (person, labels) of ``work`` takes the tasks ``ids`` from the router in order and
    labels them."""
    for person, names in work:
        for tid, name in zip(ids, names, strict=True):
            assert router.next_task(project.id, person.user).id == tid
            annotations.submit(tid, person.user, result=label(name))


def test_low_agreement_gets_one_more_annotator_up_to_the_maximum(lead, make_user):
    project = make_project(lead.user, overlap=3, max_overlap=4)
    people = [make_user(f"a{i}@example.com") for i in range(4)]
    ids = annotate_all(project, people[0], ["pos", "pos"])
    annotate_in_turn(project, ids, [(people[1], ["neg", "pos"]), (people[2], ["neu", "pos"])])
    run = qc_run(project.id, {ids[0]: {"score": 0.3, "consensus": "pos", "is_issue": True},
                              ids[1]: {"score": 0.9, "consensus": "pos"}})
    counts = policy.apply_policy(project.id, run)
    assert counts["more_annotators"] == 1 and counts["accepted"] == 1
    t = task(ids[0])
    assert (t.state, t.target_overlap, t.requeued, t.priority) == ("open", 4, False, pytest.approx(0.7))
    served = router.next_task(project.id, people[3].user)
    assert served.id == ids[0]
    annotations.submit(ids[0], people[3].user, result=label("neg"))
    # at the maximum overlap: judged by the policy (flagged -> review), no more annotators
    run2 = qc_run(project.id, {ids[0]: {"score": 0.3, "consensus": "pos", "is_issue": True}})
    counts = policy.apply_policy(project.id, run2)
    assert counts["review"] == 1 and task(ids[0]).state == "review"


def test_one_more_annotator_says_whom_the_annotators_agree_with(lead, make_user):
    """Dynamic overlap measures the annotators against QC's (model-weighted) consensus: a 2-1 split
    whose consensus is the lone label is not read as "annotators agree 33%"."""
    project = make_project(lead.user, overlap=3, max_overlap=4)
    people = [make_user(f"a{i}@example.com") for i in range(3)]
    ids = annotate_all(project, people[0], ["pos", "pos"])
    annotate_in_turn(project, ids, [(people[1], ["pos", "neg"]), (people[2], ["neg", "neu"])])
    run = qc_run(project.id, {ids[0]: {"score": 0.3, "consensus": "neg", "is_issue": True},
                              ids[1]: {"score": 0.3, "is_issue": True}})
    assert policy.apply_policy(project.id, run)["more_annotators"] == 2
    with read_session() as s:
        why = {tid: s.exec(select(TaskEvent.reason).where(TaskEvent.task_id == tid)
                           .order_by(TaskEvent.id.desc())).first() for tid in ids}
    assert why[ids[0]] == (f"QC run {run}: 1 of 3 annotators (33%) agree with QC's consensus; "
                           "one more annotator (overlap 3 -> 4)")
    assert why[ids[1]] == (f"QC run {run}: 1 of 3 annotators (33%) agree with the most common answer; "
                           "one more annotator (overlap 3 -> 4)")


def test_an_accepted_task_keeps_the_annotators_label_never_the_models_consensus(lead, make_user):
    """QC's consensus weighs the annotators with its model (with one annotator it leans on the
    model): a task the policy passes is accepted with what its people gave, the majority where
    there are several, and the consensus is named in the event as not used."""
    project = make_project(lead.user, overlap=1, max_overlap=3)
    first, second, third = (make_user(f"a{i}@example.com") for i in range(3))
    with write_session() as s:  # one task for one annotator, one for three
        made = [Task(project_id=project.id, data={"text": f"item {i}"}, target_overlap=k) for i, k in enumerate((1, 3))]
        s.add_all(made)
        s.flush()
        ids = [t.id for t in made]
    for person, tid, name in ((first, ids[0], "pos"), (first, ids[1], "neg"), (second, ids[1], "neg"),
                              (third, ids[1], "neu")):
        assert router.next_task(project.id, person.user).id == tid
        annotations.submit(tid, person.user, result=label(name))
    assert task(ids[1]).state == "labeled"
    run = qc_run(project.id, {ids[0]: {"score": 0.7, "consensus": "neg", "suggested": "neg"},
                              ids[1]: {"score": 0.7, "consensus": "neu", "suggested": "neu"}})
    counts = policy.apply_policy(project.id, run)
    one, many = task(ids[0]), task(ids[1])
    assert (one.state, one.final_label, one.final_source) == ("accepted", label("pos"), "single")
    assert (many.state, many.final_label, many.final_source) == ("accepted", label("neg"), "majority")
    assert (counts["accepted"], counts["review"], counts["tied"]) == (2, 0, 0)
    with read_session() as s:
        ev = s.exec(select(TaskEvent).where(TaskEvent.task_id == ids[0]).order_by(TaskEvent.id.desc())).first()
    assert ev.to_state == "accepted" and "consensus differs and is not used" in ev.reason


def test_tied_annotators_are_not_accepted_a_person_picks_in_review(lead, make_user):
    project = make_project(lead.user, overlap=2, max_overlap=2)
    first, second = make_user("a0@example.com"), make_user("a1@example.com")
    ids = annotate_all(project, first, ["pos", "pos"])
    for tid, name in zip(ids, ["neg", "pos"], strict=True):
        assert router.next_task(project.id, second.user).id == tid
        annotations.submit(tid, second.user, result=label(name))
    run = qc_run(project.id, {ids[0]: {"score": 0.8, "consensus": "neg"}, ids[1]: {"score": 0.9, "consensus": "pos"}})
    counts = policy.apply_policy(project.id, run)
    tied = task(ids[0])
    assert (tied.state, tied.final_label, tied.final_source) == ("review", None, None)
    assert (counts["accepted"], counts["review"], counts["tied"]) == (1, 1, 1)
    with read_session() as s:
        issue = s.exec(select(LabelIssue).where(LabelIssue.run_id == run, LabelIssue.task_id == ids[0])).one()
        ev = s.exec(select(TaskEvent).where(TaskEvent.task_id == ids[0]).order_by(TaskEvent.id)).all()
    assert tied.review_issue_id == issue.id
    assert [(e.from_state, e.to_state) for e in ev][-2:] == [("labeled", "suspect"), ("suspect", "review")]
    assert "tied (pos, neg)" in ev[-2].reason
    # a later run that flags nothing does not let a tie go: it stays for a person
    run2 = qc_run(project.id, {ids[0]: {"score": 0.95, "consensus": "neg"}})
    assert policy.apply_policy(project.id, run2)["cleared"] == 0
    assert task(ids[0]).state == "review"


def test_the_real_qc_job_never_accepts_a_consensus_that_overrules_a_lone_annotator(lead, make_user, worker):
    """End to end with cleanlab: one annotator labels a football text "food", the model is sure
    it is sport, and CROWDLAB's consensus (items here have several annotators, so QC runs in
    multi-annotator mode) follows the model. A policy that passes every task (a review budget
    of 0) accepts it with the annotator's "food", never the model's "sport"."""
    project = projects.create_project(lead.user, title="qc", overlap=1, max_overlap=3, label_config=(
        '<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
        '<Choice value="sport"/><Choice value="food"/></Choices></View>'))
    policy.set_policy(project.id, lead.user, {"suspect": "budget", "budget": 0, "dynamic_overlap": False})
    people = [make_user(f"p{i}@example.com") for i in range(2)]
    sport = ["football match goal striker", "tennis serve racket court", "runner marathon finish line",
             "basketball dunk hoop court", "swimmer pool lap medal", "cyclist race mountain stage"]
    food = ["pasta tomato basil sauce", "bread oven flour yeast", "soup carrot onion broth",
            "cheese wine grapes dinner", "salad lettuce olive oil", "cake sugar butter eggs"]
    body = []
    for i in range(5):
        for j, text in enumerate(sport + food):
            right = "sport" if j < len(sport) else "food"
            lone = (i, j) == (0, 0)
            who = people[:1] if lone or (i + j) % 2 else people
            body.append({"data": {"text": f"{text} {i}"}, "annotations": [
                {"result": label_of("food" if lone else right), "completed_by": p.email} for p in who]})
    imports.import_data(lead.user, project.id, body=body)
    with read_session() as s:
        first = s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id)).first()
    job_id = start_qc(lead.user, project.id)[0].id
    job = wait_for(lambda: (j := jobs.get_job(job_id)) and j.status in ("done", "failed") and j, timeout=120)
    assert job.status == "done", job.message
    with read_session() as s:
        issue = s.exec(select(LabelIssue).where(LabelIssue.task_id == first.id, LabelIssue.kind == "label")).one()
        tasks = s.exec(select(Task).where(Task.project_id == project.id)).all()
    assert issue.consensus == "sport" and issue.given == "food"  # the model's consensus overrules the person
    lone = task(first.id)
    assert (lone.state, lone.final_label, lone.final_source) == ("accepted", label_of("food"), "single")
    assert job.result["policy"]["accepted"] == len(tasks) == 60
    assert {t.final_source for t in tasks} == {"single", "majority"}


def test_gold_and_unscored_tasks_are_left_alone(lead, annotator):
    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos", "neg"])
    with write_session() as s:
        gold = s.get(Task, ids[1])
        gold.is_gold, gold.gold_answer = True, label("neg")
        s.add(gold)
    run = qc_run(project.id, {ids[1]: {"score": 0.1, "is_issue": True}})
    assert policy.apply_policy(project.id, run)["scored"] == 0
    assert states(ids) == ["labeled", "labeled"]


def test_the_real_qc_job_applies_the_policy(lead, annotator, worker):
    """End to end: labeled tasks -> the QC job (cleanlab) -> the policy -> review and accepted."""
    project = projects.create_project(lead.user, title="qc", label_config=(
        '<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
        '<Choice value="sport"/><Choice value="food"/></Choices></View>'))
    sport = ["football match goal striker", "tennis serve racket court", "runner marathon finish line",
             "basketball dunk hoop court", "swimmer pool lap medal", "cyclist race mountain stage"]
    food = ["pasta tomato basil sauce", "bread oven flour yeast", "soup carrot onion broth",
            "cheese wine grapes dinner", "salad lettuce olive oil", "cake sugar butter eggs"]
    rows = []
    for i in range(5):
        for j, text in enumerate(sport):
            rows.append({"text": f"{text} {i}", "label": "food" if (i, j) == (0, 0) else "sport"})
        for text in food:
            rows.append({"text": f"{text} {i}", "label": "food"})
    body = [{"data": {"text": r["text"]},
             "annotations": [{"result": label_of(r["label"]), "completed_by": annotator.email}]} for r in rows]
    imports.import_data(lead.user, project.id, body=body)
    job_id = start_qc(lead.user, project.id)[0].id
    job = wait_for(lambda: (j := jobs.get_job(job_id)) and j.status in ("done", "failed") and j, timeout=120)
    assert job.status == "done", job.message
    assert job.result["policy"]["scored"] == 60
    with read_session() as s:
        tasks = s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
    by_state = {t.state for t in tasks}
    assert by_state <= {"accepted", "review"}
    assert tasks[0].state == "review"  # the flipped label ("food" on a football text) is a suspect
    accepted = [t for t in tasks if t.state == "accepted"]
    assert len(accepted) >= 50 and all(t.final_source == "single" and t.final_label for t in accepted)


def label_of(name: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


# --------------------------------------------------------------------------- ActiveLab order


def test_activelab_priorities_follow_cleanlab_split_votes_first():
    import numpy as np
    import pandas as pd
    from cleanlab.multiannotator import get_active_learning_scores

    nan = np.nan
    labels = np.array([  # three annotators, class indices; NaN: did not label it
        [0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 0, nan], [1, 1, 1], [2, 2, nan],
        [0, 1, 2],  # split votes
        [0, 0, 1],  # one dissent
        [0, 0, 0], [1, 1, nan], [2, 2, 2], [0, 0, 0],
    ])
    pred_probs = np.full((len(labels), 3), 0.05)
    majority = [0, 1, 2, 0, 1, 2, 0, 0, 0, 1, 2, 0]
    pred_probs[np.arange(len(labels)), majority] = 0.9
    pred_probs[6] = [0.4, 0.35, 0.25]  # the model is unsure where the annotators are split
    prio, prio_u = policy.activelab_priorities(labels, pred_probs, class_names=["pos", "neg", "neu"])
    assert prio_u is None and prio.shape == (len(labels),)
    expected, _ = get_active_learning_scores(pd.DataFrame(labels), pred_probs)
    np.testing.assert_allclose(prio, np.round(1.0 - expected, 6))
    order = list(np.argsort(-prio, kind="stable"))  # the router serves the highest priority first
    assert order == list(np.argsort(expected, kind="stable"))  # = lowest ActiveLab score first
    assert order[0] == 6 and order.index(6) < order.index(7) < order.index(0)  # split < dissent < unanimous
    unl = np.array([[0.34, 0.33, 0.33], [0.98, 0.01, 0.01]])
    _, prio_u = policy.activelab_priorities(labels, pred_probs, class_names=["pos", "neg", "neu"],
                                            pred_probs_unlabeled=unl)
    assert prio_u[0] > prio_u[1]  # an unlabelled item the model cannot place comes before a sure one


def test_tasks_sent_back_are_served_in_activelab_order(lead, make_user):
    project = make_project(lead.user, overlap=1, max_overlap=3)
    first, second = make_user("a0@example.com"), make_user("a1@example.com")
    ids = annotate_all(project, first, ["pos", "neg", "neu", "pos"])
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 1, "suspect": "threshold",
                                              "threshold": 0.5})
    # QC scores: ids[0] is the worst by label quality, but ActiveLab wants ids[2] relabelled most
    run = qc_run(project.id, {ids[0]: {"score": 0.1}, ids[1]: {"score": 0.2}, ids[2]: {"score": 0.3},
                              ids[3]: {"score": 0.9}})
    counts = policy.apply_policy(project.id, run, priorities={ids[0]: 0.2, ids[1]: 0.5, ids[2]: 0.8, ids[3]: 0.1})
    assert counts["relabel"] == 3 and counts["accepted"] == 1
    assert [task(i).priority for i in ids[:3]] == [0.2, 0.5, 0.8]
    served = []
    for _ in range(3):
        t = router.next_task(project.id, second.user)
        served.append(t.id)
        annotations.submit(t.id, second.user, result=label("pos"))
    assert served == [ids[2], ids[1], ids[0]]  # lowest ActiveLab score (highest priority) first


def test_without_activelab_the_qc_score_orders_tasks_sent_back(lead, annotator):
    project = make_project(lead.user, overlap=1, max_overlap=3)
    ids = annotate_all(project, annotator, ["pos", "neg"])
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 1})
    run = qc_run(project.id, {ids[0]: {"score": 0.4, "is_issue": True}, ids[1]: {"score": 0.1, "is_issue": True}})
    assert policy.apply_policy(project.id, run)["relabel"] == 2
    assert [task(i).priority for i in ids] == [pytest.approx(0.6), pytest.approx(0.9)]


def test_the_real_qc_job_orders_relabelled_tasks_by_activelab(lead, make_user, worker):
    project = projects.create_project(lead.user, title="qc", overlap=1, max_overlap=3, label_config=(
        '<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
        '<Choice value="sport"/><Choice value="food"/></Choices></View>'))
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 1, "suspect": "worst_share",
                                              "worst_share": 0.1})
    sport = ["football match goal striker", "tennis serve racket court", "runner marathon finish line",
             "basketball dunk hoop court", "swimmer pool lap medal", "cyclist race mountain stage"]
    food = ["pasta tomato basil sauce", "bread oven flour yeast", "soup carrot onion broth",
            "cheese wine grapes dinner", "salad lettuce olive oil", "cake sugar butter eggs"]
    annotator = make_user("one@example.com")
    body = []
    for i in range(5):
        for j, text in enumerate(sport):
            body.append((f"{text} {i}", "food" if (i, j) in ((0, 0), (1, 1)) else "sport"))
        for text in food:
            body.append((f"{text} {i}", "food"))
    imports.import_data(lead.user, project.id, body=[
        {"data": {"text": t}, "annotations": [{"result": label_of(name), "completed_by": annotator.email}]}
        for t, name in body])
    job_id = start_qc(lead.user, project.id)[0].id
    job = wait_for(lambda: (j := jobs.get_job(job_id)) and j.status in ("done", "failed") and j, timeout=120)
    assert job.status == "done", job.message
    assert job.result["policy"]["relabel"] == 6
    with read_session() as s:
        run = s.exec(select(QualityRun).where(QualityRun.project_id == project.id)).one()
        back = s.exec(select(Task).where(Task.project_id == project.id, Task.requeued.is_(True))).all()
        worst = {i.task_id: i.score for i in s.exec(select(LabelIssue).where(LabelIssue.run_id == run.id,
                                                                           LabelIssue.kind == "label"))}
    assert run.summary["activelab"]["n_scored_labeled"] == 60
    assert len(back) == 6 and all(0.0 <= t.priority <= 1.0 for t in back)
    # the priorities are ActiveLab's, not 1 - the QC score
    assert any(abs(t.priority - round(1.0 - worst[t.id], 6)) > 1e-6 for t in back)
    order = sorted(back, key=lambda t: (-t.priority, t.id))
    second = make_user("two@example.com")
    served = []
    for _ in range(len(back)):
        t = router.next_task(project.id, second.user)
        served.append(t.id)
        annotations.submit(t.id, second.user, result=label_of("sport"))
    assert served == [t.id for t in order]
