"""The task router: overlap, leases, order, gold, pauses, access, and the index it relies on."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import annotations, predictions, projects, router, users
from labeling.db import get_engine, read_session, utcnow, write_session
from labeling.errors import Conflict, NotFound
from labeling.models import (
    Annotation,
    Lease,
    Membership,
    Project,
    Role,
    Task,
    TaskEvent,
    TaskState,
    User,
)

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


def label(name: str = "pos") -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


def make_project(owner: User, **settings) -> Project:
    return projects.create_project(owner, title="routing", label_config=CONFIG, **settings)


def add_tasks(project: Project, n: int, **fields) -> list[int]:
    """Insert ``n`` tasks through the ORM (the importer is tested on its own)."""
    fields.setdefault("target_overlap", project.overlap)
    with write_session() as s:
        tasks = [Task(project_id=project.id, data={"text": f"item {i}"}, **fields) for i in range(n)]
        s.add_all(tasks)
        s.flush()
        return [t.id for t in tasks]


def task_row(task_id: int) -> Task:
    with read_session() as s:
        return s.get(Task, task_id)


def lease_rows(project_id: int) -> list[Lease]:
    with read_session() as s:
        return list(s.exec(select(Lease).where(Lease.project_id == project_id)))


def expire_all_leases(project_id: int) -> None:
    with write_session() as s:
        s.execute(sa.update(Lease).where(Lease.project_id == project_id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))


class Person:
    """A user without a password (hashing one per test costs more than the test)."""

    def __init__(self, email: str, role: str = Role.annotator):
        self.user = users.create_user(email, role=role)
        self.id = self.user.id
        self.email = email


@pytest.fixture
def annotators():
    return [Person(f"a{i}@example.com") for i in range(4)]


@pytest.fixture
def lead():
    return Person("lead@example.com", Role.lead)


def test_overlap_each_task_gets_exactly_n_different_annotators(lead, annotators):
    project = make_project(lead.user, overlap=3)
    ids = add_tasks(project, 4)
    done: dict[int, list[int]] = {i: [] for i in ids}
    for _ in range(len(ids)):
        for a in annotators:
            task = router.next_task(project.id, a.user)
            if task is None:
                continue
            annotations.submit(task.id, a.user, result=label())
            done[task.id].append(a.id)
    assert all(len(users) == 3 and len(set(users)) == 3 for users in done.values()), done
    for a in annotators:
        assert router.next_task(project.id, a.user) is None
    for tid in ids:
        t = task_row(tid)
        assert (t.state, t.n_annotations, t.n_leases) == (TaskState.labeled, 3, 0)


def test_same_user_gets_the_same_task_back_and_others_do_not(lead, annotators):
    project = make_project(lead.user, overlap=1)
    ids = add_tasks(project, 3)
    first = router.next_task(project.id, annotators[0].user)
    again = router.next_task(project.id, annotators[0].user)
    assert first.id == again.id == ids[0]
    other = router.next_task(project.id, annotators[1].user)
    assert other.id == ids[1]
    assert task_row(ids[0]).n_leases == 1
    assert len(lease_rows(project.id)) == 2


def test_a_task_ahead_is_leased_besides_the_current_one_and_at_most_two(lead, annotators):
    project = make_project(lead.user, overlap=1)
    ids = add_tasks(project, 4)
    me, other = annotators[0].user, annotators[1].user
    current = router.next_task(project.id, me)
    ahead = router.next_task(project.id, me, ahead_of=current.id)
    assert (current.id, ahead.id) == (ids[0], ids[1])
    # asking again, with either task on screen, hands out no third lease
    assert router.next_task(project.id, me, ahead_of=current.id).id == ahead.id
    assert router.next_task(project.id, me, ahead_of=ahead.id).id == current.id
    assert router.next_task(project.id, me).id == current.id
    assert sorted(lease.task_id for lease in lease_rows(project.id)) == ids[:2]
    assert router.next_task(project.id, other).id == ids[2]  # both places are taken (overlap 1)
    # after the current one is submitted the task ahead is the next one, and a new one is ahead of it
    annotations.submit(current.id, me, result=label())
    assert router.next_task(project.id, me).id == ahead.id
    assert router.next_task(project.id, me, ahead_of=ahead.id).id == ids[3]
    assert router.next_task(project.id, other, ahead_of=ids[2]) is None
    assert [task_row(t).n_leases for t in ids] == [0, 1, 1, 1]


def test_expired_lease_returns_the_task_to_the_pool(lead, annotators):
    project = make_project(lead.user, overlap=1)
    (tid,) = add_tasks(project, 1)
    assert router.next_task(project.id, annotators[0].user).id == tid
    assert router.next_task(project.id, annotators[1].user) is None  # leased: no over-assignment
    expire_all_leases(project.id)
    assert router.next_task(project.id, annotators[1].user).id == tid
    assert task_row(tid).n_leases == 1
    assert [lease.user_id for lease in lease_rows(project.id)] == [annotators[1].id]
    # the first annotator's late submit is refused: the place is someone else's now
    with pytest.raises(Conflict):
        annotations.submit(tid, annotators[0].user, result=label())


def test_own_expired_but_unswept_lease_is_renewed(lead, annotators):
    project = make_project(lead.user, overlap=1)
    (tid,) = add_tasks(project, 1)
    router.next_task(project.id, annotators[0].user)
    expire_all_leases(project.id)
    assert router.next_task(project.id, annotators[0].user).id == tid
    (lease,) = lease_rows(project.id)
    assert lease.expires_at > utcnow()
    assert task_row(tid).n_leases == 1


def test_routing_order_requeued_then_priority_then_started_then_import_order(lead, annotators):
    project = make_project(lead.user, overlap=2)
    plain = add_tasks(project, 2)
    high = add_tasks(project, 1, priority=5.0)
    requeued = add_tasks(project, 1, requeued=True)
    started = add_tasks(project, 1)
    annotations.submit(started[0], annotators[3].user, result=label())  # started by someone else
    a = annotators[0].user
    served = []
    for _ in range(5):
        task = router.next_task(project.id, a)
        served.append(task.id)
        annotations.submit(task.id, a, result=label())
    assert served == [requeued[0], high[0], started[0], plain[0], plain[1]]


def test_started_tasks_come_before_new_ones_within_a_priority(lead, annotators):
    project = make_project(lead.user, overlap=3)
    ids = add_tasks(project, 3)
    annotations.submit(ids[2], annotators[1].user, result=label())
    annotations.submit(ids[2], annotators[2].user, result=label())
    annotations.submit(ids[1], annotators[3].user, result=label())
    order = []
    for _ in range(3):
        task = router.next_task(project.id, annotators[0].user)
        order.append(task.id)
        annotations.submit(task.id, annotators[0].user, result=label())
    assert order == [ids[2], ids[1], ids[0]]


def test_skip_releases_the_lease_and_never_comes_back(lead, annotators):
    project = make_project(lead.user, overlap=1)
    ids = add_tasks(project, 2)
    a, b = annotators[0].user, annotators[1].user
    first = router.next_task(project.id, a)
    annotations.submit(first.id, a, was_cancelled=True, skip_reason="unreadable")
    t = task_row(first.id)
    assert (t.n_leases, t.n_skips, t.n_annotations, t.state) == (0, 1, 0, TaskState.open)
    assert router.next_task(project.id, a).id == ids[1]  # never the skipped one again
    assert router.next_task(project.id, b).id == ids[0]  # someone else may take it


def test_gold_tasks_are_interleaved_at_the_gold_rate(lead, annotators):
    project = make_project(lead.user, overlap=1, gold_rate=0.25)
    gold = set(add_tasks(project, 3, is_gold=True, gold_answer=["pos"]))
    add_tasks(project, 20)
    a = annotators[0].user
    served = []
    for _ in range(12):
        task = router.next_task(project.id, a)
        served.append(task.id in gold)
        annotations.submit(task.id, a, result=label())
    # every fourth submission is gold, until the three gold tasks are used up
    assert served == [False, False, False, True] * 3
    with read_session() as s:
        golds = s.exec(select(Task).where(Task.id.in_(gold))).all()
    assert all(g.state == TaskState.open and g.n_annotations == 1 for g in golds)  # own track
    # another annotator gets the same gold tasks: they do not count toward overlap
    b = annotators[1].user
    served_b = []
    for _ in range(4):
        task = router.next_task(project.id, b)
        served_b.append(task.id)
        annotations.submit(task.id, b, result=label())
    assert served_b[3] in gold


def test_paused_member_gets_nothing(lead, annotators):
    project = make_project(lead.user, overlap=1)
    add_tasks(project, 2)
    a = annotators[0]
    with write_session() as s:
        s.add(Membership(project_id=project.id, user_id=a.id, role=Role.annotator, paused_at=utcnow(),
                         paused_reason="gold accuracy 40%"))
    with pytest.raises(router.Paused, match="gold accuracy 40%"):
        router.next_task(project.id, a.user)
    assert lease_rows(project.id) == []


def test_restricted_project_serves_members_only(lead, annotators):
    project = make_project(lead.user, overlap=1, restricted=True)
    add_tasks(project, 2)
    outsider, member = annotators[0], annotators[1]
    with write_session() as s:
        s.add(Membership(project_id=project.id, user_id=member.id, role=Role.annotator))
    with pytest.raises(NotFound):
        router.next_task(project.id, outsider.user)
    assert router.next_task(project.id, member.user) is not None


def test_open_project_serves_every_active_annotator(lead, annotators):
    project = make_project(lead.user, overlap=1)
    add_tasks(project, 1)
    assert router.next_task(project.id, annotators[2].user) is not None


def test_task_taken_by_qc_while_leased_is_dropped_from_the_lease(lead, annotators):
    project = make_project(lead.user, overlap=1)
    ids = add_tasks(project, 2)
    a = annotators[0].user
    assert router.next_task(project.id, a).id == ids[0]
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == ids[0]).values(state=TaskState.suspect))
    assert router.next_task(project.id, a).id == ids[1]
    assert task_row(ids[0]).n_leases == 0


def test_renew_and_release(lead, annotators):
    project = make_project(lead.user, overlap=1, lease_seconds=60)
    ids = add_tasks(project, 1)
    a, b = annotators[0].user, annotators[1].user
    router.next_task(project.id, a)
    before = lease_rows(project.id)[0].expires_at
    expires = router.renew_lease(ids[0], a)
    assert expires >= before
    assert router.release(ids[0], a) is True
    assert router.release(ids[0], a) is False
    assert task_row(ids[0]).n_leases == 0
    # after the release the place can be taken again by anyone, including by renewing
    assert router.renew_lease(ids[0], a) > utcnow()
    assert task_row(ids[0]).n_leases == 1
    with pytest.raises(Conflict):
        router.renew_lease(ids[0], b)  # the only place is a's
    with pytest.raises(NotFound):
        router.renew_lease(999_999, a)


def test_archived_project_serves_nothing(lead, annotators):
    project = make_project(lead.user)
    add_tasks(project, 1)
    projects.archive_project(lead.user, project.id)
    assert router.next_task(project.id, annotators[0].user) is None


def test_serve_next_shows_predictions_and_hides_gold_flags(lead, annotators):
    project = make_project(lead.user, overlap=1)
    (tid,) = add_tasks(project, 1)
    predictions.create_prediction(lead.user, task_id=tid, result=label("neg"), score=0.7, model_version="m1")
    view = router.serve_next(project.id, annotators[0].user)
    assert view["id"] == tid
    assert [p["model_version"] for p in view["predictions"]] == ["m1"]
    assert view["lease_seconds"] == project.lease_seconds
    assert "is_gold" not in view and "gold_answer" not in view


def test_reader_without_annotate_right_is_refused(lead):
    project = make_project(lead.user, restricted=True)
    add_tasks(project, 1)
    stranger = Person("s@example.com", Role.reviewer)
    with pytest.raises(NotFound):
        router.next_task(project.id, stranger.user)
    with pytest.raises(NotFound):
        router.next_task(987654, lead.user)


def test_counters_and_events_stay_consistent(lead, annotators):
    project = make_project(lead.user, overlap=2)
    ids = add_tasks(project, 3)
    for a in annotators:
        task = router.next_task(project.id, a.user)
        annotations.submit(task.id, a.user, result=label())
    with read_session() as s:
        for tid in ids:
            t = s.get(Task, tid)
            n = s.execute(sa.select(sa.func.count()).select_from(Annotation).where(Annotation.task_id == tid)).scalar()
            assert t.n_annotations == n
        events = s.exec(select(TaskEvent).order_by(TaskEvent.id)).all()
    assert [(e.task_id, e.from_state, e.to_state) for e in events] == [
        (ids[0], "open", "labeled"), (ids[1], "open", "labeled")]


def _pick_plan(params: dict) -> str:
    """EXPLAIN of the router's choice (SQLite: the pick; PostgreSQL: the one-statement claim, as
    a generic plan, which is what a prepared statement runs after a few executions)."""
    engine = get_engine()
    statement = router._PICK if engine.dialect.name == "sqlite" else router._CLAIM_PG
    compiled = statement.compile(dialect=engine.dialect)
    values = compiled.construct_params(params)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                        tuple(values[name] for name in compiled.positiontup)).all()
            return "\n".join(str(r[-1]) for r in rows)
        order: list[str] = []

        def number(m: re.Match) -> str:
            if m.group(1) not in order:
                order.append(m.group(1))
            return f"${order.index(m.group(1)) + 1}"

        def literal(value) -> str:
            if isinstance(value, str | datetime):
                return f"'{value}'"
            return repr(value)

        sql = re.sub(r"%\((\w+)\)s", number, str(compiled))
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE routing_claim AS {sql}")
        args = ", ".join(literal(values[name]) for name in order)
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE routing_claim({args})").all())
        conn.rollback()
        return plan


def test_the_choice_reads_ix_task_route_without_sorting(lead, annotators):
    """O(log n + in flight): the choice reads ix_task_route in routing order, never sorts the
    project and never walks past labeled tasks, even with statistics taken before the work."""
    project = make_project(lead.user, overlap=1)
    now = utcnow()
    rows = [dict(project_id=project.id, data={"text": "x"}, meta={}, state="open", priority=float(i % 3),
                 requeued=False, target_overlap=1, n_annotations=0, n_skips=0, n_leases=0, is_gold=False,
                 created_at=now, updated_at=now) for i in range(20_000)]
    with write_session() as s:
        s.execute(sa.insert(Task.__table__), rows)
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # statistics from before any work: no annotations
    with write_session() as s:  # then much work: labeled tasks, annotations, leases
        ids = s.execute(sa.select(Task.id).where(Task.project_id == project.id).order_by(Task.id)).scalars().all()
        s.execute(sa.update(Task).where(Task.id.in_(ids[:6000])).values(state=TaskState.labeled, n_annotations=1))
        s.execute(sa.insert(Annotation.__table__), [
            dict(task_id=t, project_id=project.id, user_id=annotators[i % 3 + 1].id, result=[], was_cancelled=False,
                 skip_reason="", source="api", version=1, created_at=now, updated_at=now)
            for i, t in enumerate(ids[:6000])])
    plan = _pick_plan({"pid": project.id, "uid": annotators[0].id, "now": now, "expires": now})
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Seq Scan on task" not in plan, plan
    assert "Seq Scan on annotation" not in plan and "Hash" not in plan, plan
    if engine.dialect.name == "sqlite":
        assert "SEARCH task USING INDEX ix_task_route (project_id=? AND state=? AND is_gold=? AND requeued=? " \
               "AND priority=? AND n_annotations=?)" in plan, plan
    else:
        assert "Index Scan Backward using ix_task_route on task tier" in plan, plan
        assert "Index Scan using ix_task_route on task task_1" in plan, plan  # not pk_task in id order
    assert router.next_task(project.id, annotators[0].user).priority == 2.0


def test_submit_racing_the_sweep_of_its_own_expired_lease(lead, annotators):
    """A late submit and another annotator's request that sweeps the same expired lease touch
    the same task and lease rows; whatever the interleaving, both finish and the counters hold."""
    import threading

    project = make_project(lead.user, overlap=1)
    ids = add_tasks(project, 20)
    a, b = annotators[0].user, annotators[1].user
    outcomes = []
    for _ in range(10):
        task = router.next_task(project.id, a)
        expire_all_leases(project.id)
        results: dict[str, object] = {}

        def late_submit(task_id=task.id, results=results):
            try:
                results["submit"] = annotations.submit(task_id, a, result=label())[1]
            except Conflict as exc:  # the place went to b first: a correct answer
                results["submit"] = exc

        def sweep_by_next(results=results):
            results["next"] = router.next_task(project.id, b)

        threads = [threading.Thread(target=late_submit), threading.Thread(target=sweep_by_next)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes.append(results["submit"] is True)
        if results["next"] is not None:
            annotations.submit(results["next"].id, b, result=label())
    with read_session() as s:
        tasks = s.exec(select(Task).where(Task.id.in_(ids))).all()
        n_leases = s.execute(sa.select(sa.func.count()).select_from(Lease)).scalar()
        per_task = dict(s.execute(sa.select(Annotation.task_id, sa.func.count()).group_by(Annotation.task_id)).all())
    assert n_leases == 0 and all(t.n_leases == 0 for t in tasks)
    assert all(t.n_annotations == per_task.get(t.id, 0) <= 1 for t in tasks)
    assert any(outcomes)  # at least some late submits got in



@pytest.mark.skipif(get_engine().dialect.name != "postgresql", reason="SKIP LOCKED: PostgreSQL's claim")
def test_a_task_locked_by_a_submit_is_not_nothing_left(lead, annotators):
    """The last task open to b is locked by a's submit when b asks: b waits for it instead of
    hearing "nothing left" (and leaving a task one annotation short of its overlap)."""
    import threading

    project = make_project(lead.user, overlap=2)
    [tid] = add_tasks(project, 1)
    a, b = annotators[0].user, annotators[1].user
    assert router.next_task(project.id, a).id == tid
    answer: dict[str, object] = {}
    with get_engine().begin() as conn:  # a's submit, in flight: the task row is locked
        conn.execute(sa.select(Task.id).where(Task.id == tid).with_for_update())
        asking = threading.Thread(target=lambda: answer.update(task=router.next_task(project.id, b)))
        asking.start()
        asking.join(0.2)
        assert asking.is_alive()  # b is waiting, not told "nothing left"
    asking.join(10)
    assert answer["task"] is not None and answer["task"].id == tid
    assert router.next_task(project.id, annotators[2].user) is None  # full: a's lease and b's
