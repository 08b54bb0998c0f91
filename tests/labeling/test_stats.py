"""labeling.stats: known data -> known numbers, for every panel, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from labeling import projects, stats
from labeling.db import utcnow, write_session
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import (
    Annotation,
    AnnotatorScore,
    DatasetVersion,
    Job,
    LabelIssue,
    Lease,
    Membership,
    QualityRun,
    Role,
    Task,
    TaskEvent,
)

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="cat"/><Choice value="dog"/><Choice value="bird"/></Choices>
</View>"""
MULTI = """<View><Text name="text" value="$text"/>
<Choices name="tags" toName="text" choice="multiple"><Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices>
</View>"""


def res(*labels: str, name: str = "label") -> list[dict]:
    return [{"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}]


@pytest.fixture(autouse=True)
def fresh_cache():
    stats.clear_cache()
    yield
    stats.clear_cache()


def noon(days_ago: int):
    """12:00 UTC, ``days_ago`` days before today: always in the past for days_ago >= 1."""
    return utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


class World:
    """One project with known tasks, annotations, events, QC runs and releases."""

    def __init__(self, lead, annotators):
        self.lead = lead
        self.a1, self.a2, self.a3 = annotators
        self.project = projects.create_project(lead.user, title="stats", label_config=CONFIG, overlap=2)
        self.pid = self.project.id
        self.t = {}
        # name: (state, final, gold answer)
        plan = {"t1": ("accepted", "cat", None), "t2": ("accepted", "dog", None), "t3": ("labeled", None, None),
                "t4": ("suspect", None, None), "t5": ("open", None, None), "t6": ("imported", None, None),
                "t7": ("open", None, "cat"), "t8": ("excluded", None, None)}
        with write_session() as s:
            for name, (state, final, gold) in plan.items():
                task = Task(project_id=self.pid, data={"text": name}, state=state, is_gold=gold is not None,
                            gold_answer=res(gold) if gold else None, final_label=res(final) if final else None,
                            final_source="consensus" if final else None, target_overlap=2)
                s.add(task)
                s.flush()
                self.t[name] = task.id
        a1, a2, a3 = self.a1.id, self.a2.id, self.a3.id
        now = utcnow()
        # (task, user, label or None for a skip, lead time, created at)
        self.annotations = [
            ("t1", a1, "cat", 10.0, noon(5)), ("t1", a2, "cat", 20.0, noon(5)), ("t1", a3, "dog", 30.0, noon(5)),
            ("t2", a1, "dog", 5.0, noon(4)), ("t2", a2, "dog", 15.0, noon(4)),
            ("t3", a1, "bird", 40.0, noon(2)), ("t3", a3, "bird", 50.0, noon(2)),
            ("t4", a2, "cat", 8.0, now - timedelta(hours=1)), ("t4", a3, "dog", 12.0, now - timedelta(hours=2)),
            ("t5", a1, None, 3.0, noon(2)),
            ("t7", a1, "cat", 6.0, noon(3)), ("t7", a2, "dog", 7.0, noon(3)),
            ("t8", a3, "bird", 9.0, noon(3)),
        ]
        self.add_annotations(self.annotations)
        events = [("t1", "open", "labeled", noon(5)), ("t1", "labeled", "accepted", noon(4)),
                  ("t2", "open", "labeled", noon(5)), ("t2", "labeled", "accepted", noon(1)),
                  ("t3", "open", "labeled", noon(2)), ("t4", "open", "labeled", noon(2)),
                  ("t4", "labeled", "suspect", noon(1)), ("t8", "open", "labeled", noon(3)),
                  ("t8", "labeled", "excluded", noon(1))]
        with write_session() as s:
            s.execute(sa.insert(TaskEvent.__table__), [
                {"task_id": self.t[t], "project_id": self.pid, "from_state": old, "to_state": to, "reason": "",
                 "created_at": when} for t, old, to, when in events])

    def add_annotations(self, rows):
        with write_session() as s:
            for task, user, label, seconds, when in rows:
                s.add(Annotation(task_id=self.t[task], project_id=self.pid, user_id=user,
                                 result=res(label) if label else [], was_cancelled=label is None,
                                 lead_time=seconds, created_at=when, updated_at=when))

    def submitted(self, user=None):
        return [sec for _, u, label, sec, _ in self.annotations if label is not None and (user is None or u == user)]

    def panels(self, *names, **kw):
        return stats.project_stats(self.lead.user, self.pid, names or None, **kw)["panels"]


@pytest.fixture
def world(lead, make_user):
    return World(lead, [make_user(f"a{i}@example.com") for i in (1, 2, 3)])


def test_states_count_each_state_gold_apart(world):
    p = world.panels("states")["states"]
    by_state = {r["state"]: r["tasks"] for r in p["rows"]}
    assert by_state == {"open": 2, "labeled": 1, "suspect": 1, "review": 0, "accepted": 2, "excluded": 1}
    assert (p["total"], p["gold"], p["annotated"], p["final"], p["remaining"]) == (7, 1, 5, 3, 2)
    assert p["annotated_share"] == round(5 / 7, 4)
    assert [r["share"] for r in p["rows"]][0] == round(2 / 7, 4)


def test_progress_per_day_cumulative_and_finish_date(world):
    before = utcnow()
    p = world.panels("progress")["progress"]
    assert p["unit"] == "day"
    days = {r["period"]: r for r in p["rows"]}
    assert [r["period"] for r in p["rows"]] == [noon(d).strftime("%Y-%m-%d") for d in (5, 4, 3, 2, 1)]
    assert days[noon(5).strftime("%Y-%m-%d")]["labeled"] == 2
    assert days[noon(4).strftime("%Y-%m-%d")] == {
        "period": noon(4).strftime("%Y-%m-%d"), "labeled": 0, "suspect": 0, "accepted": 1, "excluded": 0,
        "annotated_total": 2, "final_total": 1}
    last = p["rows"][-1]
    assert (last["accepted"], last["suspect"], last["excluded"]) == (1, 1, 1)
    # net over time; at the end as many as the states say: 5 annotated, 3 final
    assert [r["annotated_total"] for r in p["rows"]] == [2, 2, 3, 5, 5]
    assert [r["final_total"] for r in p["rows"]] == [0, 1, 1, 1, 3]
    # 5 tasks annotated since noon five days ago: the pace; 2 tasks still open.
    span_days = (before - noon(5)).total_seconds() / 86400
    assert p["rate_per_day"] == pytest.approx(5 / span_days, abs=0.1)
    eta = utcnow().fromisoformat(p["eta"])
    assert abs((eta - (before + timedelta(days=2 / (5 / span_days)))).total_seconds()) < 120
    assert (p["remaining"], p["tasks"]) == (2, 7)


def test_progress_counts_tasks_sent_back_once(lead):
    """Labeled, sent back for more labels (QC, or a higher overlap), labeled again: one task."""
    project = projects.create_project(lead.user, title="back", label_config=CONFIG)
    with write_session() as s:
        task = Task(project_id=project.id, data={"text": "x"}, state="accepted")
        s.add(task)
        s.flush()
        s.execute(sa.insert(TaskEvent.__table__), [
            {"task_id": task.id, "project_id": project.id, "from_state": old, "to_state": new, "reason": "",
             "created_at": noon(days)}
            for old, new, days in (("open", "labeled", 6), ("labeled", "suspect", 5), ("suspect", "open", 5),
                                   ("open", "labeled", 4), ("labeled", "accepted", 2))])
    p = stats.project_stats(lead.user, project.id, ["progress"])["panels"]["progress"]
    assert [r["annotated_total"] for r in p["rows"]] == [1, 0, 1, 1, 1]
    assert [r["final_total"] for r in p["rows"]] == [0, 0, 0, 0, 1]
    assert [r["labeled"] for r in p["rows"]] == [1, 0, 1, 0, 0]
    assert p["eta"] is not None  # nothing left open


def test_progress_is_hourly_for_a_young_project(lead, annotator):
    project = projects.create_project(lead.user, title="young", label_config=CONFIG)
    start = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=5)
    with write_session() as s:
        task = Task(project_id=project.id, data={"text": "x"}, state="labeled")
        s.add(task)
        s.flush()
        s.execute(sa.insert(TaskEvent.__table__), [
            {"task_id": task.id, "project_id": project.id, "to_state": "labeled", "reason": "", "created_at": when}
            for when in (start, start + timedelta(minutes=20), start + timedelta(hours=3))])
    p = stats.project_stats(lead.user, project.id, ["progress"])["panels"]["progress"]
    assert p["unit"] == "hour"
    assert [r["labeled"] for r in p["rows"]] == [2, 0, 0, 1]
    assert p["rows"][0]["period"] == start.strftime("%Y-%m-%d %H:00")
    assert p["eta"] is not None  # every task labeled: the finish date is now


def test_throughput_per_day_and_time_per_item(world):
    p = world.panels("throughput")["throughput"]
    days = {r["period"]: (r["annotations"], r["skips"]) for r in p["rows"]}
    assert days[noon(5).strftime("%Y-%m-%d")] == (3, 0)
    assert days[noon(2).strftime("%Y-%m-%d")] == (2, 1)
    assert days[noon(3).strftime("%Y-%m-%d")] == (3, 0)
    assert sum(a for a, _ in days.values()) == 12 and p["total"] == 12 and p["skips"] == 1
    assert (p["last_24h"], p["active_annotators_24h"]) == (2, 2)
    times = world.submitted()
    assert p["median_seconds"] == round(float(np.percentile(times, 50)), 1)
    assert p["p90_seconds"] == round(float(np.percentile(times, 90)), 1)
    assert p["timed_items"] == 12


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 11])
def test_percentiles_match_numpy_for_any_count(lead, annotator, n):
    """percentile_cont on PostgreSQL, index walks on SQLite: the same numbers as numpy."""
    project = projects.create_project(lead.user, title="p", label_config=CONFIG)
    rng = np.random.default_rng(n)
    times = [float(x) for x in np.round(rng.uniform(1, 100, n), 2)]
    with write_session() as s:
        for i, sec in enumerate(times):
            task = Task(project_id=project.id, data={"text": str(i)})
            s.add(task)
            s.flush()
            s.add(Annotation(task_id=task.id, project_id=project.id, user_id=annotator.id, result=res("cat"),
                             lead_time=sec))
    p = stats.project_stats(lead.user, project.id, ["throughput", "annotators"])["panels"]
    expected = (round(float(np.percentile(times, 50)), 1), round(float(np.percentile(times, 90)), 1))
    assert (p["throughput"]["median_seconds"], p["throughput"]["p90_seconds"]) == expected
    row = p["annotators"]["rows"][0]
    assert (row["median_seconds"], row["p90_seconds"]) == expected


def test_annotators_table(world):
    run = _qc_run(world, agreement={"alpha": 0.5, "kappa": [{"a": world.a1.id, "b": world.a2.id, "kappa": 0.25, "n": 3},
                                                           {"a": world.a1.id, "b": world.a3.id, "kappa": 0.75, "n": 2}]})
    with write_session() as s:
        s.add(AnnotatorScore(run_id=run, project_id=world.pid, user_id=world.a1.id, n_items=4, agreement=0.75,
                             quality=0.8))
        s.add(Membership(project_id=world.pid, user_id=world.a3.id, role=Role.annotator, paused_at=utcnow(),
                         paused_reason="gold accuracy 40%"))
    p = world.panels("annotators")["annotators"]
    rows = {r["email"]: r for r in p["rows"]}
    a1, a2, a3 = rows["a1@example.com"], rows["a2@example.com"], rows["a3@example.com"]
    assert (a1["items"], a1["skips"], a2["items"], a3["items"]) == (4, 1, 4, 4)
    for r, user in ((a1, world.a1.id), (a2, world.a2.id), (a3, world.a3.id)):
        times = world.submitted(user)
        assert r["median_seconds"] == round(float(np.percentile(times, 50)), 1)
        assert r["p90_seconds"] == round(float(np.percentile(times, 90)), 1)
    assert (a1["gold_items"], a1["gold_accuracy"], a2["gold_items"], a2["gold_accuracy"]) == (1, 1.0, 1, 0.0)
    assert a3["gold_items"] == 0 and a3["gold_accuracy"] is None
    assert (a1["agreement"], a1["quality"], a2["agreement"]) == (0.75, 0.8, None)
    assert (a1["mean_kappa"], a2["mean_kappa"], a3["mean_kappa"]) == (0.5, 0.25, 0.75)
    assert (a2["last_24h"], a3["last_24h"], a1["last_24h"]) == (1, 1, 0)
    assert a3["paused"] is True and a3["paused_reason"] == "gold accuracy 40%" and a1["paused"] is False
    assert (p["annotators"], p["paused"], p["scores_run"]) == (3, 1, run)
    assert a1["last_active"] == noon(2).isoformat()


def test_labels_given_vs_final_and_incremental_cache(world, monkeypatch):
    p = world.panels("labels")["labels"]
    rows = {r["label"]: r for r in p["rows"]}
    assert [r["label"] for r in p["rows"]] == ["cat", "dog", "bird"]  # config order
    assert {k: (v["given"], v["final"]) for k, v in rows.items()} == {"cat": (4, 1), "dog": (5, 1), "bird": (3, 0)}
    assert (p["given_total"], p["final_total"]) == (12, 2)
    assert rows["dog"]["given_share"] == round(5 / 12, 4) and rows["cat"]["final_share"] == 0.5
    # New annotations are added to the cached counts ...
    world.add_annotations([("t3", world.a2.id, "cat", 4.0, utcnow())])
    assert _given(world) == {"cat": 5, "dog": 5, "bird": 3}
    # ... and an annotation that goes away makes them count again in full, once the rows are
    # counted again (at most RECOUNT_EVERY seconds later; here at once).
    monkeypatch.setattr(stats, "RECOUNT_EVERY", 0)
    with write_session() as s:
        s.execute(sa.delete(Annotation).where(Annotation.task_id == world.t["t1"], Annotation.user_id == world.a3.id))
    assert _given(world) == {"cat": 5, "dog": 4, "bird": 3}
    stats.clear_cache()
    assert _given(world) == {"cat": 5, "dog": 4, "bird": 3}


def _given(world) -> dict:
    return {r["label"]: r["given"] for r in world.panels("labels")["labels"]["rows"]}


def test_labels_of_a_multiple_choice_project(lead, annotator):
    project = projects.create_project(lead.user, title="multi", label_config=MULTI)
    with write_session() as s:
        for labels, final in ((("a", "b"), ["a"]), (("b",), None), (("c", "a"), ["a", "c"])):
            task = Task(project_id=project.id, data={"text": "x"}, state="accepted" if final else "labeled",
                        final_label=res(*final, name="tags") if final else None)
            s.add(task)
            s.flush()
            s.add(Annotation(task_id=task.id, project_id=project.id, user_id=annotator.id,
                             result=res(*labels, name="tags")))
    p = stats.project_stats(lead.user, project.id, ["labels"])["panels"]["labels"]
    assert {r["label"]: (r["given"], r["final"]) for r in p["rows"]} == {"a": (2, 2), "b": (2, 0), "c": (1, 1)}


def _qc_run(world, *, agreement=None, noise=0.1, cj=None, when=None) -> int:
    with write_session() as s:
        run = QualityRun(project_id=world.pid, status="done", n_items=6, n_issues=2, noise_rate=noise,
                         class_names=["cat", "dog", "bird"], per_class_noise={"cat": noise / 2, "dog": noise},
                         confident_joint=cj or [[3, 1, 0], [2, 4, 0], [0, 0, 5]], agreement=agreement or {},
                         model_name="logreg", cv_accuracy=0.9, created_at=when or utcnow(),
                         finished_at=when or utcnow())
        s.add(run)
        s.flush()
        return run.id


def test_agreement_from_the_latest_qc_run(world):
    _qc_run(world, agreement={"alpha": 0.1}, when=noon(3))
    _qc_run(world, agreement={"alpha": 0.61234, "per_label": {"cat": 0.5, "dog": 0.7}, "unanimous": 0.4,
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
    _qc_run(world, agreement={"n_items_multi": 4, "krippendorff_alpha": 0.3, "unanimous_share": 0.5,
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
        triples, names = stats.agreement_inputs(s.connection(), project)
    assert (triples, names) == ([(task_id, annotator.id, "a|c")], ["a", "b", "c"])


def test_noise_confusion_and_confused_pairs(world):
    first = _qc_run(world, noise=0.2, when=noon(3))
    latest = _qc_run(world, noise=0.1, cj=[[3, 1, 0], [2, 4, 0], [0, 0, 10]])
    with write_session() as s:
        for task, given, suggested in (("t1", "cat", "dog"), ("t2", "dog", "cat"), ("t3", "dog", "cat"),
                                       ("t4", "bird", "bird")):
            s.add(LabelIssue(run_id=latest, project_id=world.pid, task_id=world.t[task], given=given,
                             suggested=suggested, score=0.1, reason=f"{given} or {suggested}"))
        s.add(LabelIssue(run_id=first, project_id=world.pid, task_id=world.t["t1"], given="cat", suggested="bird"))
        # outliers and near duplicates are issues too, but no confusion between labels
        s.add(LabelIssue(run_id=latest, project_id=world.pid, task_id=world.t["t3"], kind="outlier", given="bird",
                         suggested=None))
        s.add(LabelIssue(run_id=latest, project_id=world.pid, task_id=world.t["t4"], kind="near_duplicate",
                         given="cat", suggested="dog"))
    p = world.panels("noise", "confusion", "confused_pairs")
    noise = p["noise"]
    assert [(r["run_id"], r["noise_rate"]) for r in noise["rows"]] == [(first, 0.2), (latest, 0.1)]
    assert noise["rows"][1]["noise:dog"] == 0.1 and noise["rows"][1]["noise:bird"] is None
    assert (noise["latest"], noise["latest_run"], noise["classes"]) == (0.1, latest, ["cat", "dog", "bird"])
    conf = p["confusion"]
    assert conf["run_id"] == latest and conf["matrix"] == [[3, 1, 0], [2, 4, 0], [0, 0, 10]]
    assert conf["off_diagonal_share"] == round(3 / 20, 4)
    cell = next(r for r in conf["rows"] if r["given"] == "dog" and r["suggested"] == "cat")
    assert (cell["count"], cell["row_share"]) == (2, round(2 / 6, 4))
    pairs = p["confused_pairs"]["rows"]
    assert [(r["given"], r["suggested"], r["items"]) for r in pairs] == [("dog", "cat", 2), ("cat", "dog", 1)]
    found = stats.items(world.lead.user, world.pid, given=pairs[0]["given_json"], suggested=pairs[0]["suggested_json"])
    assert found["total"] == 2 and {r["task_id"] for r in found["rows"]} == {world.t["t2"], world.t["t3"]}
    assert found["rows"][0]["reason"] == "dog or cat"


def test_items_of_an_annotator(world):
    found = stats.items(world.lead.user, world.pid, annotator=world.a1.id)
    assert found["total"] == 5
    # newest first: the skip of t5 and the label of t3, both at noon two days ago
    assert [(r["task_id"], r["label"]) for r in found["rows"][:2]] == [(world.t["t5"], "(skipped)"),
                                                                       (world.t["t3"], "bird")]
    assert found["rows"][1]["seconds"] == 40.0 and found["rows"][1]["state"] == "labeled"
    assert stats.items(world.lead.user, world.pid, annotator=world.a1.id, page=2, page_size=4)["rows"][0]["task_id"] \
        == world.t["t1"]
    with pytest.raises(Invalid):
        stats.items(world.lead.user, world.pid)


def test_queues(world):
    now = utcnow()
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == world.t["t5"]).values(requeued=True))
        s.add(Lease(task_id=world.t["t6"], project_id=world.pid, user_id=world.a1.id, expires_at=now + timedelta(minutes=5)))
        s.add(Lease(task_id=world.t["t5"], project_id=world.pid, user_id=world.a2.id, expires_at=now - timedelta(minutes=5)))
        s.add(Job(kind="qc", queue="quality", project_id=world.pid, status="running"))
        s.add(Job(kind="qc", queue="quality", project_id=world.pid, status="done"))
    p = world.panels("queues")["queues"]
    q = {r["queue"]: r["items"] for r in p["rows"]}
    assert q == {"to label": 1, "relabel (sent back by QC)": 1, "being labeled now": 1,
                 "suspect (awaiting QC policy)": 1, "review": 0, "QC jobs": 1}
    assert p["annotations_wanted"] == 4  # t5 (2 wanted: its skip does not count) and t6 (2)


def test_datasets(world):
    with write_session() as s:
        for n, noise in ((1, 0.03), (2, 0.01)):
            s.add(DatasetVersion(project_id=world.pid, number=n, sha256=f"{n:064x}", n_items=10 * n, noise_rate=noise,
                                 note=f"v{n}"))
    p = world.panels("datasets")["datasets"]
    assert [(r["version"], r["items"], r["noise_rate"], r["note"]) for r in p["rows"]] == [(1, 10, 0.03, "v1"),
                                                                                            (2, 20, 0.01, "v2")]
    assert p["latest"] == 2


def test_every_panel_of_an_empty_project(lead):
    project = projects.create_project(lead.user, title="empty", label_config=CONFIG)
    out = stats.project_stats(lead.user, project.id)
    assert list(out["panels"]) == list(stats.PANELS)
    assert out["panels"]["states"]["total"] == 0 and out["panels"]["progress"]["eta"] is None
    assert out["panels"]["throughput"]["median_seconds"] is None
    assert all(p["rows"] == [] for name, p in out["panels"].items() if name not in ("states", "queues", "labels"))


def test_access_leads_and_admins_only(world, admin, make_user):
    assert stats.project_stats(admin.user, world.pid, ["states"])["panels"]["states"]["total"] == 7
    with pytest.raises(Forbidden):
        stats.project_stats(world.a1.user, world.pid, ["states"])
    other = make_user("other-lead@example.com", Role.lead)
    with write_session() as s:
        s.execute(sa.update(type(world.project)).where(type(world.project).id == world.pid).values(restricted=True))
    with pytest.raises(NotFound):
        stats.project_stats(other.user, world.pid)
    with pytest.raises(NotFound):
        stats.items(other.user, world.pid, annotator=world.a1.id)
    with pytest.raises(Invalid):
        stats.project_stats(world.lead.user, world.pid, ["states", "nope"])


def test_overview_across_projects(world, make_user, admin):
    _qc_run(world, agreement={"alpha": 0.7}, noise=0.05)
    projects.create_project(world.lead.user, title="second", label_config=CONFIG)
    foreign = projects.create_project(make_user("x@example.com", Role.lead).user, title="foreign",
                                      label_config=CONFIG, restricted=True)
    data = stats.overview(world.lead.user)
    rows = {r["title"]: r for r in data["rows"]}
    assert set(rows) == {"stats", "second"}
    r = rows["stats"]
    assert (r["tasks"], r["open"], r["suspect"], r["review"], r["annotations_24h"]) == (7, 2, 1, 0, 2)
    assert (r["annotated_share"], r["final_share"], r["noise_rate"], r["alpha"]) == (round(5 / 7, 4), round(3 / 7, 4),
                                                                                     0.05, 0.7)
    assert r["rate_per_day"] == pytest.approx(1.0, abs=0.15) and r["eta"] is not None
    assert rows["second"]["tasks"] == 0 and rows["second"]["eta"] is None
    assert foreign.title in {r["title"] for r in stats.overview(admin.user)["rows"]}
    with pytest.raises(Forbidden):
        stats.overview(world.a1.user)


def test_panel_csv_quotes_formulas():
    panel = {"columns": ["email", "items", "note"],
             "rows": [{"email": "=HYPERLINK(1)", "items": 3, "note": None}, {"email": "a@b", "items": 0, "note": "x,y"}]}
    assert stats.panel_csv(panel) == "email,items,note\n'=HYPERLINK(1),3,\na@b,0,\"x,y\"\n"


def test_cached_sums_follow_new_rows(world):
    """Every figure summed over annotations and events is cached and brought up to date with
    the rows added since: the second load sees the new annotation and the new event."""
    first = world.panels("throughput", "progress", "annotators")
    assert first["throughput"]["total"] == 12 and first["progress"]["rows"][-1]["final_total"] == 3
    world.add_annotations([("t5", world.a2.id, "dog", 30.0, noon(1)), ("t6", world.a3.id, None, 1.0, noon(1))])
    with write_session() as s:
        s.add(TaskEvent(task_id=world.t["t3"], project_id=world.pid, from_state="labeled", to_state="accepted",
                        created_at=noon(1)))
    again = world.panels("throughput", "progress", "annotators")
    assert (again["throughput"]["total"], again["throughput"]["skips"]) == (13, 2)
    day = {r["period"]: r for r in again["throughput"]["rows"]}[noon(1).strftime("%Y-%m-%d")]
    assert (day["annotations"], day["skips"]) == (1, 1)
    assert again["progress"]["rows"][-1]["final_total"] == 4
    items = {r["email"]: (r["items"], r["skips"]) for r in again["annotators"]["rows"]}
    assert items["a2@example.com"] == (5, 0) and items["a3@example.com"] == (4, 1)
    stats.clear_cache()  # computed afresh in full: the same numbers
    fresh = world.panels("throughput", "progress")
    assert fresh["throughput"]["rows"] == again["throughput"]["rows"]
    assert fresh["progress"]["rows"] == again["progress"]["rows"]


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

    monkeypatch.setattr(stats, "SYNC_AGREEMENT_UP_TO", 0)
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

    monkeypatch.setattr(stats, "SYNC_AGREEMENT_UP_TO", 0)
    world.panels("agreement", agreement=broken)
    done = wait_for(lambda: not (a := world.panels("agreement", agreement=broken)["agreement"])["pending"] and a,
                    timeout=60)
    assert done["note"] == "agreement could not be computed: matrix too large"


def test_cached_sums_follow_edits(world):
    """An annotation edited after the sums were cached (the router copies its earlier version to
    annotation_version): what it was is taken out of the sums, what it is now goes in."""
    from labeling import annotations as annotation_api

    before = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in before["labels"]["rows"]} == {"cat": 4, "dog": 5, "bird": 3}
    with write_session() as s:
        mine = s.execute(sa.select(Annotation.id).where(Annotation.task_id == world.t["t3"],
                                                        Annotation.user_id == world.a1.id)).scalar_one()
        skip = s.execute(sa.select(Annotation.id).where(Annotation.task_id == world.t["t5"],
                                                        Annotation.user_id == world.a1.id)).scalar_one()
    annotation_api.update_annotation(mine, world.a1.user, result=res("cat"))  # bird -> cat
    annotation_api.update_annotation(mine, world.a1.user, result=res("dog"))  # ... -> dog (two versions)
    world.add_annotations([("t6", world.a2.id, "cat", 3.0, noon(1))])  # and a new one meanwhile
    after = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in after["labels"]["rows"]} == {"cat": 5, "dog": 6, "bird": 2}
    assert after["throughput"]["total"] == 13
    annotation_api.update_annotation(skip, world.a1.user, result=res("bird"), was_cancelled=False)  # a skip no more
    again = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in again["labels"]["rows"]} == {"cat": 5, "dog": 6, "bird": 3}
    assert (again["throughput"]["total"], again["throughput"]["skips"]) == (14, 0)
    a1 = next(r for r in again["annotators"]["rows"] if r["email"] == "a1@example.com")
    assert (a1["items"], a1["skips"]) == (5, 0)
    stats.clear_cache()  # the same as computed afresh
    fresh = world.panels("labels", "throughput")
    assert fresh["labels"]["rows"] == again["labels"]["rows"]
    assert fresh["throughput"]["rows"] == again["throughput"]["rows"]
