"""The tallies the database keeps as tasks change (labeling/tally.py, migration 0021) equal a full
recount of the tasks after imports, annotations, QC-less state changes, gold marks, overlap
changes, final-label corrections, deletes, folding, and a project's delete; the dashboard reads
them."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import sqlalchemy as sa

from insights.sql import labels_sql
from labeling import projects, tally, tasks
from labeling.db import get_engine, read_session, write_session
from labeling.models import Annotation, FinalTally, Role, Task, TaskTally

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""

T = Task.__table__
A = Annotation.__table__


def choice(label: str, name: str = "label") -> list[dict]:
    return [{"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def recount(pid: int) -> tuple[dict, dict]:
    """Tasks by (state, gold) and the final labels, counted from the tasks themselves (the full
    scans the dashboard made before the tallies)."""
    with get_engine().connect() as conn:
        counts = {(state, bool(gold)): [n, *(int(v or 0) for v in values)]
                  for state, gold, n, *values in conn.execute(
            sa.select(T.c.state, T.c.is_gold, sa.func.count(),
                      sa.func.sum(sa.case((T.c.requeued.is_(True), 1), else_=0)),
                      sa.func.sum(T.c.target_overlap - T.c.n_annotations),
                      sa.func.sum(sa.case((T.c.n_annotations > 0, 1), else_=0)),
                      sa.func.sum(T.c.n_annotations), sa.func.sum(T.c.n_skips))
            .where(T.c.project_id == pid).group_by(T.c.state, T.c.is_gold))}
        ctx = SimpleNamespace(sqlite=conn.dialect.name == "sqlite")
        sql = labels_sql(ctx, "task", "task.final_label", "task.id",
                         "task.project_id = :p AND task.state = 'accepted' AND task.is_gold = :no "
                         "AND task.final_label IS NOT NULL", strings_too=True)
        labels = dict(conn.execute(sa.text(f"SELECT lab, count(*) FROM ({sql}) x GROUP BY lab"),
                                   {"p": pid, "no": False, "ctrl": "label", "path": "$.value.choices",
                                    "field": "choices"}).all())
    return counts, labels


def kept(pid: int) -> tuple[dict, dict]:
    with get_engine().connect() as conn:
        return (tally.task_counts(conn, [pid])[pid],
                tally.final_labels(conn, pid, control="label", field="choices"))


def check(pid: int) -> tuple[dict, dict]:
    full = recount(pid)
    assert kept(pid) == full
    return full


def act(client, who, pid, action, ids, **extra):
    r = client.post(f"/api/dm/actions?id={action}&project={pid}",
                    json={"selectedItems": {"all": False, "included": list(ids)}, **extra}, headers=who.headers)
    assert r.status_code == 200, r.get_json()


def test_tallies_follow_every_kind_of_task_write(client, lead, make_user):
    r = client.post("/api/projects", json={"title": "Tally", "label_config": TEXT, "maximum_annotations": 1},
                    headers=lead.headers)
    pid = r.get_json()["id"]
    other = client.post("/api/projects", json={"title": "Other", "label_config": TEXT},
                        headers=lead.headers).get_json()["id"]
    # an import: plain tasks, and tasks arriving with an annotation (labeled at once)
    rows = [{"text": f"t{i}"} for i in range(12)]
    rows += [{"data": {"text": f"a{i}"}, "annotations": [{"result": choice("pos" if i % 2 else "neg")}]}
             for i in range(4)]
    assert client.post(f"/api/projects/{pid}/import", json=rows, headers=lead.headers).status_code == 201
    client.post(f"/api/projects/{other}/import", json=[{"text": "x"}], headers=lead.headers)
    counts, _ = check(pid)
    assert counts[("open", False)][0] == 12 and counts[("labeled", False)][0] == 4
    assert kept(other)[0] == {("open", False): [1, 0, 1, 0, 0, 0]}

    ids = [t["id"] for t in client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"]]
    ann = make_user("tally-ann@example.com", Role.annotator)
    for i, label in zip(ids[:5], ("pos", "neg", "pos", "pos", "neg"), strict=True):  # open -> labeled
        assert client.post(f"/api/tasks/{i}/annotations", json={"result": choice(label)},
                           headers=ann.headers).status_code == 201
    check(pid)
    # a skip, a skip turned into an answer, and an annotation deleted
    skipper = make_user("tally-skip@example.com", Role.annotator)
    for i in ids[5:8]:
        assert client.post(f"/api/tasks/{i}/annotations", json={"result": [], "was_cancelled": True},
                           headers=skipper.headers).status_code == 201
    check(pid)
    skipped = client.get(f"/api/tasks/{ids[5]}/annotations", headers=lead.headers).get_json()
    assert client.patch(f"/api/annotations/{skipped[0]['id']}", json={"result": choice("pos"), "was_cancelled": False},
                        headers=skipper.headers).status_code == 200
    deleted = client.get(f"/api/tasks/{ids[4]}/annotations", headers=lead.headers).get_json()
    assert client.delete(f"/api/annotations/{deleted[0]['id']}", headers=lead.headers).status_code == 204
    counts, _ = check(pid)
    assert (sum(v[4] for v in counts.values()), sum(v[5] for v in counts.values())) == (4 + 5 - 1 + 1, 2)
    assert client.post(f"/api/tasks/{ids[4]}/annotations", json={"result": choice("neg")},
                       headers=ann.headers).status_code == 201
    act(client, lead, pid, "accept", ids[:3] + ids[12:15])  # labeled -> accepted with final labels
    _, labels = check(pid)
    assert sum(labels.values()) == 6
    act(client, lead, pid, "exclude", ids[3:4])
    act(client, lead, pid, "send_to_review", ids[4:5])
    act(client, lead, pid, "mark_gold", ids[5:7])
    check(pid)
    act(client, lead, pid, "reopen", ids[:1])  # accepted -> open: its final label leaves the count
    _, labels = check(pid)
    assert sum(labels.values()) == 5
    # a final label corrected in place (with a bare string in the list, which counts too)
    with write_session() as s:
        s.execute(sa.update(T).where(T.c.id == ids[1]).values(final_label=choice("pos") + ["neg"]))
    _, labels = check(pid)
    # one that is not a list of results counts nothing, and does not fail the write (the full
    # scan's json_array_elements refuses it on PostgreSQL)
    with write_session() as s:
        s.execute(sa.update(T).where(T.c.id == ids[2]).values(final_label={"not": "a list"}))
    assert sum(kept(pid)[1].values()) == sum(labels.values()) - 1
    with write_session() as s:
        s.execute(sa.update(T).where(T.c.id == ids[2]).values(final_label=choice("neg")))
    check(pid)
    # the overlap raised: labeled tasks reopen in one statement (lifecycle.move_where)
    projects.update_project(lead.user, pid, overlap=2)
    check(pid)
    act(client, lead, pid, "delete_tasks", ids[7:9])
    tasks.delete_task(lead.user, ids[9])
    check(pid)
    act(client, lead, pid, "delete_tasks_annotations", ids[10:13])
    counts, _ = check(pid)
    assert kept(other)[0] == {("open", False): [1, 0, 1, 0, 0, 0]}  # another project's tallies untouched
    # the project API's counts are the tallies' (and agree with counting the annotations)
    with get_engine().connect() as conn:
        by_kind = dict(conn.execute(sa.select(A.c.was_cancelled, sa.func.count()).where(A.c.project_id == pid)
                                    .group_by(A.c.was_cancelled)).all())
    got = client.get(f"/api/projects/{pid}", headers=lead.headers).get_json()
    assert (got["total_annotations_number"], got["skipped_annotations_number"]) == (by_kind[False], by_kind[True])
    assert got["task_number"] == sum(v[0] for v in counts.values()) == 16 - 3
    assert got["num_tasks_with_annotations"] == sum(v[3] for v in counts.values())
    assert got["ground_truth_number"] == sum(v[0] for (_, gold), v in counts.items() if gold) == 1
    assert got["states"] == {state: sum(v[0] for (st, _), v in counts.items() if st == state) for state, _ in counts}


def test_folding_keeps_the_figures_and_a_deleted_project_leaves_nothing(client, lead, monkeypatch):
    pid = client.post("/api/projects", json={"title": "Fold", "label_config": TEXT},
                      headers=lead.headers).get_json()["id"]
    for i in range(6):  # six statements: six rows of differences at least
        client.post(f"/api/projects/{pid}/import", json=[{"text": f"{i}-{j}"} for j in range(3)], headers=lead.headers)
    with write_session() as s:
        s.execute(sa.update(T).where(T.c.project_id == pid, T.c.id % 2 == 0)
                  .values(state="accepted", final_label=choice("pos")))
        s.execute(sa.update(T).where(T.c.project_id == pid, T.c.id % 3 == 0).values(final_label=choice("neg")))
    before = check(pid)

    def rows(model) -> int:
        with read_session() as s:
            return s.execute(sa.select(sa.func.count()).select_from(model).where(model.project_id == pid)).scalar_one()

    assert rows(TaskTally) > 2
    monkeypatch.setattr(tally, "FOLD_AT", 0)
    assert check(pid) == before  # the read folds the rows after it has summed them ...
    assert rows(TaskTally) == len(before[0])  # ... into one per key
    assert rows(FinalTally) == len(before[1])
    assert check(pid) == before
    projects.delete_project(lead.user, pid)
    assert rows(TaskTally) == rows(FinalTally) == 0


def test_the_states_panel_reads_the_tallies(client, lead):
    pid = client.post("/api/projects", json={"title": "Panel", "label_config": TEXT},
                      headers=lead.headers).get_json()["id"]
    client.post(f"/api/projects/{pid}/import", json=[{"text": str(i)} for i in range(5)], headers=lead.headers)
    with write_session() as s:
        s.execute(sa.update(T).where(T.c.project_id == pid).values(state="accepted", final_label=choice("neg")))
    panels = client.get(f"/api/projects/{pid}/stats?panels=states,labels", headers=lead.headers).get_json()["panels"]
    assert {r["state"]: r["tasks"] for r in panels["states"]["rows"]}["accepted"] == 5
    assert Counter({r["label"]: r["final"] for r in panels["labels"]["rows"]}) == Counter({"neg": 5, "pos": 0})
