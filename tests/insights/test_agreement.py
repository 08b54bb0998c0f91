"""insights.agreement: alpha, unanimity and kappa from QC runs, and from the annotations by the
agreement job that stores them (never computed in a request)."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.metrics import cohen_kappa_score

from insights import agreement
from labeling import annotations as annotation_api
from labeling import projects
from labeling.db import read_session, utcnow, write_session
from labeling.models import Annotation, Job, ProjectAgreement, Task
from tests.conftest import wait_for
from tests.insights.world import MULTI, noon, qc_run, res


def agreement_jobs(world) -> list[Job]:
    with read_session() as s:
        return list(s.execute(sa.select(Job).where(Job.project_id == world.pid, Job.kind == "agreement")
                              .order_by(Job.id)).scalars())


def computed(world, *names):
    """The panels once the agreement job has stored figures that are up to date."""
    return wait_for(lambda: (p := world.panels(*names))[names[0]]["source"] == "annotations" and p, timeout=60)


def test_agreement_from_the_latest_qc_run(world):
    qc_run(world, agreement={"alpha": 0.1}, when=noon(3))
    qc_run(world, agreement={"alpha": 0.61234, "per_label": {"cat": 0.5, "dog": 0.7}, "unanimous": 0.4,
                              "n_items": 5, "n_annotators": 3,
                              "kappa": [{"a": world.a1.id, "b": world.a2.id, "kappa": 0.2, "n": 3}]})
    p = world.panels("agreement", "kappa")
    ag, kappa = p["agreement"], p["kappa"]
    assert (ag["alpha"], ag["unanimous"], ag["n_items"], ag["n_annotators"]) == (0.6123, 0.4, 5, 3)
    assert ag["rows"] == [{"label": "cat", "alpha": 0.5}, {"label": "dog", "alpha": 0.7}]
    assert ag["source"].startswith("QC run")
    assert kappa["rows"] == [{"annotator_a": world.a1.id, "email_a": "a1@example.com", "annotator_b": world.a2.id,
                              "email_b": "a2@example.com", "kappa": 0.2, "items": 3}]
    assert kappa["mean"] == 0.2


def test_agreement_is_computed_by_a_job_and_stored(world, worker):
    """A load never computes agreement: it queues the agreement job (once) and says so; the job
    stores the figures, and later loads read them."""
    first = world.panels("agreement", "kappa")
    assert first["agreement"]["pending"] is True and first["agreement"]["alpha"] is None
    assert "being computed" in first["kappa"]["note"] and first["kappa"]["pending"] is True
    p = computed(world, "agreement", "kappa")
    assert len(agreement_jobs(world)) == 1 and agreement_jobs(world)[0].status == "done"
    with read_session() as s:
        project = s.get(type(world.project), world.pid)
        expected = agreement.normalise_agreement(agreement.calculate(*agreement.agreement_inputs(s.connection(),
                                                                                                   project)))
        stored = s.execute(sa.select(ProjectAgreement).where(ProjectAgreement.project_id == world.pid)).scalar_one()
    assert stored.n_annotations == 13 and stored.figures == expected
    ag = p["agreement"]
    assert (ag["alpha"], ag["unanimous"], ag["n_items"], ag["n_annotators"]) == (
        expected["alpha"], expected["unanimous"], 4, 3)
    assert ag["pending"] is False and ag["computed_at"] == stored.computed_at.isoformat()
    # stored and up to date: more loads queue nothing
    assert world.panels("agreement", "kappa")["agreement"]["source"] == "annotations"
    assert len(agreement_jobs(world)) == 1


def test_agreement_job_measures_every_submitted_annotation_of_non_gold_tasks(world, worker, monkeypatch):
    """Items t1 (cat, cat, dog), t2 (dog, dog), t3 (bird, bird), t4 (cat, dog), t8 (bird); the gold
    task t7 and the skip of t5 are left out. Kappa of the pairs sharing two items, by sklearn."""
    monkeypatch.setattr(agreement, "KAPPA_MIN_SHARED", 2)
    with read_session() as s:
        triples, _, skipped = agreement.agreement_inputs(s.connection(), s.get(type(world.project), world.pid))
    assert skipped == 0
    t, a1, a2, a3 = world.t, world.a1.id, world.a2.id, world.a3.id
    assert sorted(triples) == sorted([(t["t1"], a1, "cat"), (t["t1"], a2, "cat"), (t["t1"], a3, "dog"),
                                      (t["t2"], a1, "dog"), (t["t2"], a2, "dog"), (t["t3"], a1, "bird"),
                                      (t["t3"], a3, "bird"), (t["t4"], a2, "cat"), (t["t4"], a3, "dog"),
                                      (t["t8"], a3, "bird")])
    world.panels("kappa")
    p = computed(world, "agreement", "kappa")
    assert (p["agreement"]["n_items"], p["agreement"]["unanimous"]) == (4, 0.5)
    pairs = {(r["email_a"], r["email_b"]): (r["kappa"], r["items"]) for r in p["kappa"]["rows"]}
    expected = {("a1@example.com", "a2@example.com"): (cohen_kappa_score(["cat", "dog"], ["cat", "dog"]), 2),
                ("a1@example.com", "a3@example.com"): (cohen_kappa_score(["cat", "bird"], ["dog", "bird"]), 2),
                ("a2@example.com", "a3@example.com"): (cohen_kappa_score(["cat", "cat"], ["dog", "dog"]), 2)}
    assert pairs == {k: (round(v, 4), n) for k, (v, n) in expected.items()}
    assert pairs[("a1@example.com", "a3@example.com")][0] == round(1 / 3, 4)


def test_stored_agreement_goes_stale_when_annotations_change(world, worker, monkeypatch):
    """New or edited annotations make the stored figures stale: they are shown meanwhile, and the
    job is queued again at most every AGREEMENT_REFRESH seconds."""
    world.panels("agreement")
    before = computed(world, "agreement")["agreement"]
    world.add_annotations([("t5", world.a2.id, "bird", 4.0, utcnow()), ("t5", world.a3.id, "bird", 4.0, utcnow())])
    # within AGREEMENT_REFRESH of the last computation: the stored figures, no new job
    stale = world.panels("agreement")["agreement"]
    assert stale["source"] == "annotations (cached)" and stale["alpha"] == before["alpha"]
    assert stale["pending"] is False and len(agreement_jobs(world)) == 1
    monkeypatch.setattr(agreement, "AGREEMENT_REFRESH", 0)
    after = computed(world, "agreement")["agreement"]
    assert len(agreement_jobs(world)) == 2
    assert after["n_items"] == before["n_items"] + 1 and after["alpha"] != before["alpha"]
    # an edit (t3: a1's bird becomes cat: no longer unanimous) is a change too
    with read_session() as s:
        mine = s.execute(sa.select(Annotation.id).where(Annotation.task_id == world.t["t3"],
                                                        Annotation.user_id == world.a1.id)).scalar_one()
    annotation_api.update_annotation(mine, world.a1.user, result=res("cat"))
    assert world.panels("agreement")["agreement"]["source"] != "annotations"
    edited = computed(world, "agreement")["agreement"]
    assert len(agreement_jobs(world)) == 3 and edited["unanimous"] < after["unanimous"]


def test_stale_figures_are_shown_while_the_job_brings_them_up_to_date(world, monkeypatch):
    """Without a worker the queued job waits: the load shows the stored figures, pending."""
    monkeypatch.setattr(agreement, "AGREEMENT_REFRESH", 0)
    with write_session() as s:
        s.add(ProjectAgreement(project_id=world.pid, figures={"alpha": 0.25, "kappa": [], "note": None},
                               n_annotations=1, computed_at=noon(1)))
    p = world.panels("agreement", "kappa")
    assert (p["agreement"]["alpha"], p["agreement"]["pending"]) == (0.25, True)
    assert p["agreement"]["source"] == "annotations (being brought up to date)"
    assert p["kappa"]["pending"] is True
    world.panels("agreement", "kappa")
    assert [j.status for j in agreement_jobs(world)] == ["queued"]  # one job, however many loads


def test_agreement_as_the_qc_engine_stores_it_with_pairs_computed(world, worker, monkeypatch):
    """quality.run.classification stores alpha, per class alpha, unanimity and each annotator's mean kappa, not the
    pairs: the agreement panel shows the run's figures, the kappa panel the pairs the job stored."""
    monkeypatch.setattr(agreement, "KAPPA_MIN_SHARED", 2)
    qc_run(world, agreement={"n_items_multi": 4, "krippendorff_alpha": 0.3, "unanimous_share": 0.5,
                             "krippendorff_alpha_per_class": {"cat": 0.2, "dog": None},
                             "mean_pairwise_kappa": 0.1,
                             "kappa_by_annotator": {str(world.a1.id): 0.15, str(world.a2.id): 0.05}})
    world.panels("kappa")
    p = wait_for(lambda: (p := world.panels("agreement", "kappa", "annotators"))["kappa"]["source"] == "annotations"
                 and p, timeout=60)
    ag = p["agreement"]
    assert (ag["alpha"], ag["unanimous"], ag["n_items"], ag["mean_kappa"]) == (0.3, 0.5, 4, 0.1)
    assert ag["rows"] == [{"label": "cat", "alpha": 0.2}, {"label": "dog", "alpha": None}]
    assert ag["source"].startswith("QC run")
    assert [(r["email_a"], r["email_b"], r["kappa"]) for r in p["kappa"]["rows"]] == [
        ("a2@example.com", "a3@example.com", 0.0), ("a1@example.com", "a3@example.com", 0.3333),
        ("a1@example.com", "a2@example.com", 1.0)]
    means = {r["email"]: r["mean_kappa"] for r in p["annotators"]["rows"]}
    assert means == {"a1@example.com": 0.15, "a2@example.com": 0.05, "a3@example.com": None}


def test_agreement_inputs_of_a_multiple_choice_project(lead, annotator):
    project = projects.create_project(lead.user, title="multi", label_config=MULTI)
    with write_session() as s:
        task = Task(project_id=project.id, data={"text": "x"})
        s.add(task)
        s.flush()
        s.add(Annotation(task_id=task.id, project_id=project.id, user_id=annotator.id, result=res("c", "a", name="tags")))
        task_id = task.id
    with write_session() as s:
        triples, names, skipped = agreement.agreement_inputs(s.connection(), project)
    assert (triples, names, skipped) == ([(task_id, annotator.id, "a|c")], ["a", "b", "c"], 0)


def test_annotations_made_from_a_pre_label_do_not_count_where_people_labelled_independently(
        lead, make_user, worker):
    """Two people label four texts independently and agree on two; a third accepts the model's
    pre-label on each, which happens to be the first person's label. The dashboard's agreement
    (the job's figures) measures the two people only, as QC does; a text labelled only from
    pre-labels keeps them."""
    from insights import dashboard
    from labeling.models import Prediction

    project = projects.create_project(lead.user, title="pre-labels", label_config=MULTI.replace(
        'name="tags"', 'name="label"').replace('choice="multiple"', 'choice="single"'), overlap=3)
    a1, a2, a3 = (make_user(f"p{i}@example.com") for i in range(3))
    first, second = ["a", "b", "a", "b"], ["b", "a", "a", "b"]
    with write_session() as s:
        tasks = [Task(project_id=project.id, data={"text": f"t{i}"}) for i in range(5)]
        s.add_all(tasks)
        s.flush()
        for i, task in enumerate(tasks):
            guess = Prediction(task_id=task.id, project_id=project.id, result=res(first[i % 4]), score=0.9,
                               model_version="m")
            s.add(guess)
            s.flush()
            if i < 4:  # people who did not see the guess, and one who took it
                s.add(Annotation(task_id=task.id, project_id=project.id, user_id=a1.id, result=res(first[i])))
                s.add(Annotation(task_id=task.id, project_id=project.id, user_id=a2.id, result=res(second[i])))
                s.add(Annotation(task_id=task.id, project_id=project.id, user_id=a3.id, result=res(first[i]),
                                 parent_prediction=guess.id))
            else:  # only from the pre-label: nothing else to measure it by, so it stays
                for who in (a1, a3):
                    s.add(Annotation(task_id=task.id, project_id=project.id, user_id=who.id, result=res("a"),
                                     parent_prediction=guess.id))
        ids = [t.id for t in tasks]
    with read_session() as s:
        triples, names, skipped = agreement.agreement_inputs(s.connection(), s.get(type(project), project.id))
    people = [(ids[i], a1.id, first[i]) for i in range(4)] + [(ids[i], a2.id, second[i]) for i in range(4)]
    assert skipped == 4 and sorted(triples) == sorted(people + [(ids[4], a1.id, "a"), (ids[4], a3.id, "a")])
    dashboard.project_stats(lead.user, project.id, ["agreement"])  # queues the job
    p = wait_for(lambda: (q := dashboard.project_stats(lead.user, project.id, ["agreement"])["panels"])
                 ["agreement"]["source"] == "annotations" and q, timeout=60)["agreement"]
    expected = agreement.calculate(people + [(ids[4], a1.id, "a"), (ids[4], a3.id, "a")], names)
    with_prelabels = agreement.calculate(people + [(ids[i], a3.id, first[i]) for i in range(4)]
                                         + [(ids[4], a1.id, "a"), (ids[4], a3.id, "a")], names)
    assert p["alpha"] == round(expected["alpha"], 4) and p["alpha"] < round(with_prelabels["alpha"], 4)
    assert (p["n_items"], p["n_annotators"], p["n_prelabel_skipped"]) == (5, 3, 4)
    assert "4 annotation(s) made from a pre-label left out" in p["note"]


def test_agreement_of_an_empty_project_queues_nothing(lead):
    project = projects.create_project(lead.user, title="empty", label_config=MULTI)
    from insights import dashboard

    p = dashboard.project_stats(lead.user, project.id, ["agreement", "kappa"])["panels"]
    assert p["agreement"]["note"] == "no item has labels from two annotators yet"
    assert p["kappa"]["rows"] == [] and p["agreement"]["pending"] is False
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Job)).scalar_one() == 0


def test_one_agreement_job_at_a_time(world):
    job_id = agreement.queue_agreement(world.pid)
    assert agreement.queue_agreement(world.pid) == job_id
    assert [j.id for j in agreement_jobs(world)] == [job_id]


@pytest.mark.parametrize("seed", [0, 1])
def test_calculate_matches_the_krippendorff_package_and_sklearn(seed):
    """The figures of calculate() are the krippendorff package's alpha (nominal, and per label as
    that label against the rest) and sklearn's kappa of each pair sharing KAPPA_MIN_SHARED items."""
    import krippendorff

    rng = np.random.default_rng(seed)
    names = ["cat", "dog", "bird"]
    matrix = np.full((60, 5), np.nan)
    triples = []
    for i in range(60):
        truth = rng.integers(0, 3)
        for j in rng.choice(5, size=int(rng.integers(1, 5)), replace=False):
            label = truth if rng.random() < 0.5 + 0.1 * j else rng.integers(0, 3)
            matrix[i, j] = label
            triples.append((100 + i, 10 + j, names[label]))
    out = agreement.calculate(triples, names)
    assert out["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=matrix.T,
                                                            level_of_measurement="nominal"), abs=1e-12)
    for c, name in enumerate(names):
        binary = np.where(np.isnan(matrix), np.nan, (matrix == c).astype(float))
        assert out["per_label"][name] == pytest.approx(
            krippendorff.alpha(reliability_data=binary.T, level_of_measurement="nominal"), abs=1e-12)
    assert out["n_annotators"] == 5 and out["kappa"]
    for pair in out["kappa"]:
        a, b = pair["a"] - 10, pair["b"] - 10
        both = ~np.isnan(matrix[:, a]) & ~np.isnan(matrix[:, b])
        assert pair["n"] == both.sum() >= agreement.KAPPA_MIN_SHARED
        assert pair["kappa"] == pytest.approx(cohen_kappa_score(matrix[both, a], matrix[both, b], labels=[0, 1, 2]))
