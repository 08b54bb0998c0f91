"""insights.agreement: alpha, unanimity and kappa from QC runs and from the annotations."""

from __future__ import annotations

from insights import agreement
from labeling import projects
from labeling.db import write_session
from labeling.models import (
    Annotation,
    Task,
)
from tests.insights.world import MULTI, noon, qc_run, res


def test_agreement_from_the_latestqc_run(world):
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


def test_agreement_computed_from_annotations_and_cached(world):
    calls = []

    def calculator(triples, names):
        calls.append(sorted(triples))
        return {"alpha": 0.42, "per_label": {}, "unanimous": 0.5, "n_items": len({t[0] for t in triples})}

    p = world.panels("agreement", agreement=calculator)["agreement"]
    assert (p["alpha"], p["source"]) == (0.42, "annotations")
    t, a1, a2, a3 = world.t, world.a1.id, world.a2.id, world.a3.id
    # every submitted annotation of a non-gold task, skips left out
    assert calls[0] == sorted([(t["t1"], a1, "cat"), (t["t1"], a2, "cat"), (t["t1"], a3, "dog"),
                               (t["t2"], a1, "dog"), (t["t2"], a2, "dog"), (t["t3"], a1, "bird"),
                               (t["t3"], a3, "bird"), (t["t4"], a2, "cat"), (t["t4"], a3, "dog"),
                               (t["t8"], a3, "bird")])
    again = world.panels("agreement", agreement=calculator)["agreement"]
    assert (again["alpha"], again["source"], len(calls)) == (0.42, "annotations (cached)", 1)
    assert world.panels("agreement")["agreement"]["note"] == "no QC run has measured agreement yet"


def test_agreement_as_the_qc_engine_stores_it_with_pairs_computed(world):
    """quality.qc stores alpha, per class alpha, unanimity and each annotator's mean kappa, not the
    pairs: the agreement panel shows the run's figures, the kappa panel computed pairs."""
    qc_run(world, agreement={"n_items_multi": 4, "krippendorff_alpha": 0.3, "unanimous_share": 0.5,
                              "krippendorff_alpha_per_class": {"cat": 0.2, "dog": None},
                              "mean_pairwise_kappa": 0.1,
                              "kappa_by_annotator": {str(world.a1.id): 0.15, str(world.a2.id): 0.05}})

    def calculator(triples, names):
        return {"alpha": 0.99, "kappa": [{"a": world.a1.id, "b": world.a3.id, "kappa": -0.5, "n": 2}]}

    p = world.panels("agreement", "kappa", "annotators", agreement=calculator)
    ag = p["agreement"]
    assert (ag["alpha"], ag["unanimous"], ag["n_items"], ag["mean_kappa"]) == (0.3, 0.5, 4, 0.1)
    assert ag["rows"] == [{"label": "cat", "alpha": 0.2}, {"label": "dog", "alpha": None}]
    assert ag["source"].startswith("QC run")
    assert [(r["email_a"], r["email_b"], r["kappa"]) for r in p["kappa"]["rows"]] == [
        ("a1@example.com", "a3@example.com", -0.5)]
    assert p["kappa"]["source"] == "annotations"
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
        triples, names = agreement.agreement_inputs(s.connection(), project)
    assert (triples, names) == ([(task_id, annotator.id, "a|c")], ["a", "b", "c"])


def first_pair(triples, names):
    """A calculator for the background tests (module level: it goes to a child process)."""
    a, b = sorted({t[1] for t in triples})[:2]
    return {"alpha": 0.33, "kappa": [{"a": a, "b": b, "kappa": 0.1, "n": 2}]}


def broken(triples, names):
    raise ValueError("matrix too large")


def test_agreement_of_a_large_project_is_computed_in_the_background(world, monkeypatch):
    """Above SYNC_AGREEMENT_UP_TO annotations the request does not wait: the panel says it is
    pending, a child process computes, and a later load shows the figures."""
    from tests.conftest import wait_for

    monkeypatch.setattr(agreement, "SYNC_AGREEMENT_UP_TO", 0)
    first = world.panels("agreement", "kappa", agreement=first_pair)
    assert first["agreement"]["pending"] is True and first["agreement"]["alpha"] is None
    assert first["kappa"]["pending"] is True and "being computed" in first["kappa"]["note"]
    later = wait_for(lambda: (p := world.panels("agreement", "kappa", agreement=first_pair))["kappa"]["rows"] and p,
                     timeout=60)
    assert later["agreement"]["alpha"] == 0.33 and later["agreement"]["pending"] is False
    assert [(r["email_a"], r["email_b"], r["kappa"]) for r in later["kappa"]["rows"]] == [
        ("a1@example.com", "a2@example.com", 0.1)]


def test_agreement_failure_in_the_background_is_reported(world, monkeypatch):
    from tests.conftest import wait_for

    monkeypatch.setattr(agreement, "SYNC_AGREEMENT_UP_TO", 0)
    world.panels("agreement", agreement=broken)
    done = wait_for(lambda: not (a := world.panels("agreement", agreement=broken)["agreement"])["pending"] and a,
                    timeout=60)
    assert done["note"] == "agreement could not be computed: matrix too large"
