"""insights.progress: tasks by state, progress and the finish date, throughput, time per item, queues,
dataset versions; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from insights import dashboard
from labeling import projects
from labeling.db import utcnow, write_session
from labeling.models import (
    Annotation,
    DatasetVersion,
    Job,
    Lease,
    Task,
    TaskEvent,
)
from tests.insights.world import CONFIG, noon, res


def test_states_count_each_state_gold_apart(world):
    p = world.panels("states")["states"]
    by_state = {r["state"]: r["tasks"] for r in p["rows"]}
    assert by_state == {"open": 2, "labeled": 1, "suspect": 1, "review": 0, "accepted": 2, "excluded": 1}
    assert (p["total"], p["gold"], p["annotated"], p["final"], p["remaining"]) == (7, 1, 5, 3, 2)
    assert p["annotated_share"] == round(5 / 7, 4)
    assert (p["done"], p["done_share"]) == (5, round(5 / 7, 4))  # labeled, suspect, accepted, excluded
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
        "done_total": 2, "final_total": 1}
    last = p["rows"][-1]
    assert (last["accepted"], last["suspect"], last["excluded"]) == (1, 1, 1)
    # net over time; at the end as many as the states say: 5 done labeling, 3 final
    assert [r["done_total"] for r in p["rows"]] == [2, 2, 3, 5, 5]
    assert [r["final_total"] for r in p["rows"]] == [0, 1, 1, 1, 3]
    # 5 tasks done since noon five days ago: the pace; 2 tasks still open.
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
    p = dashboard.project_stats(lead.user, project.id, ["progress"])["panels"]["progress"]
    assert [r["done_total"] for r in p["rows"]] == [1, 0, 1, 1, 1]
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
    p = dashboard.project_stats(lead.user, project.id, ["progress"])["panels"]["progress"]
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
    p = dashboard.project_stats(lead.user, project.id, ["throughput", "annotators"])["panels"]
    expected = (round(float(np.percentile(times, 50)), 1), round(float(np.percentile(times, 90)), 1))
    assert (p["throughput"]["median_seconds"], p["throughput"]["p90_seconds"]) == expected
    row = p["annotators"]["rows"][0]
    assert (row["median_seconds"], row["p90_seconds"]) == expected


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


def test_annotated_counts_the_tasks_sent_back_as_the_export_and_label_studio_do(client, lead, make_user):
    """"Annotated" is the tasks with a submitted annotation, whatever their state (Label Studio's
    num_tasks_with_annotations): a task QC sent back for more labels keeps its annotation and
    stays annotated; the dashboard, the overview, the project API and the export of every
    state's annotation rows agree."""
    import csv
    import io

    from insights.overview import overview
    from labeling import annotations, exports
    from quality import policy
    from tests.labeling.test_review import annotate_all, make_project, qc_run, task

    project = make_project(lead.user, overlap=1, max_overlap=3)
    ids = annotate_all(project, make_user("a1@example.com"), ["pos", "neg", "neu"])
    with write_session() as s:  # a task nobody annotated, and one only skipped
        fresh, skipped = Task(project_id=project.id, data={"text": "fresh"}), Task(project_id=project.id,
                                                                                   data={"text": "skipped"})
        s.add_all([fresh, skipped])
        s.flush()
    annotations.submit(skipped.id, make_user("a2@example.com").user, was_cancelled=True)
    policy.set_policy(project.id, lead.user, {"route": "relabel", "relabel_k": 2})
    run = qc_run(project.id, {ids[0]: {"score": 0.9}, ids[1]: {"score": 0.1, "is_issue": True},
                              ids[2]: {"score": 0.9}})
    assert policy.apply_policy(project.id, run)["relabel"] == 1
    assert (task(ids[1]).state, task(ids[1]).n_annotations) == ("open", 1)  # sent back with its annotation

    st = dashboard.project_stats(lead.user, project.id, ["states"])["panels"]["states"]
    assert (st["annotated"], st["total"], st["annotated_share"]) == (3, 5, 0.6)
    row = next(r for r in overview(lead.user)["rows"] if r["project_id"] == project.id)
    assert row["annotated_share"] == 0.6
    assert (st["done"], st["done_share"], row["done_share"]) == (2, 0.4, 0.4)  # the headline: every label asked for
    assert client.get(f"/api/projects/{project.id}", headers=lead.headers).get_json()["num_tasks_with_annotations"] == 3
    assert exports.annotated_tasks(project.id) == 3
    body = b"".join(exports.export(project.id, lead.user, format="CSV", rows="annotations",
                                   filters=exports.parse_filters(state="all"))).decode()
    assert sorted({int(r["id"]) for r in csv.DictReader(io.StringIO(body))}) == ids
