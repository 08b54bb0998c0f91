"""insights.labels: labels given vs final, noise per QC run, confusion, confused pairs."""

from __future__ import annotations

import sqlalchemy as sa

from insights import cache, dashboard
from insights import items as figure_items
from labeling import projects
from labeling.db import utcnow, write_session
from labeling.models import (
    Annotation,
    LabelIssue,
    Task,
)
from tests.insights.world import MULTI, noon, qc_run, res


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
    monkeypatch.setattr(cache, "RECOUNT_EVERY", 0)
    with write_session() as s:
        s.execute(sa.delete(Annotation).where(Annotation.task_id == world.t["t1"], Annotation.user_id == world.a3.id))
    assert _given(world) == {"cat": 5, "dog": 4, "bird": 3}
    cache.clear_cache()
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
    p = dashboard.project_stats(lead.user, project.id, ["labels"])["panels"]["labels"]
    assert {r["label"]: (r["given"], r["final"]) for r in p["rows"]} == {"a": (2, 2), "b": (2, 0), "c": (1, 1)}


def test_noise_confusion_and_confused_pairs(world):
    first = qc_run(world, noise=0.2, when=noon(3))
    latest = qc_run(world, noise=0.1, cj=[[3, 1, 0], [2, 4, 0], [0, 0, 10]])
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
    found = figure_items.items(world.lead.user, world.pid, given=pairs[0]["given_json"], suggested=pairs[0]["suggested_json"])
    assert found["total"] == 2 and {r["task_id"] for r in found["rows"]} == {world.t["t2"], world.t["t3"]}
    assert found["rows"][0]["reason"] == "dog or cat"


def test_the_latest_noise_reads_as_on_the_qc_page(world):
    """The dashboard's headline noise and the QC page's (``'%.1f' % (noise_rate * 100)``) agree:
    0.11445 is 11.4 %, not 11.5 % (the row's 4-digit 0.1145 rounded once more)."""
    qc_run(world, noise=0.11445364801728075)
    noise = world.panels("noise")["noise"]
    assert noise["rows"][-1]["noise_rate"] == 0.1145  # the JSON and CSV rows keep 4 digits
    assert "%.1f" % (noise["latest"] * 100) == "%.1f" % (0.11445364801728075 * 100) == "11.4"
