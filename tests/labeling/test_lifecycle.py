"""The task life cycle (labeling.lifecycle): the transition table, walked move by move, and the
bulk forms that write events."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import lifecycle, projects
from labeling.db import read_session, unit_of_work, utcnow
from labeling.lifecycle import TRANSITIONS, Cause, IllegalTransition, Move
from labeling.models import Task, TaskEvent, TaskState

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
PAIRS = [(a, b) for a, b in itertools.product(TaskState, TaskState) if a != b]


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="life", label_config=CONFIG)


def _task(s, project, state=TaskState.open, **fields) -> Task:
    task = Task(project_id=project.id, data={"text": "x"}, state=state, **fields)
    s.add(task)
    s.flush()
    return task


def test_the_table_names_every_cause_and_only_real_states():
    assert set(TRANSITIONS) == set(Cause)
    for moves in TRANSITIONS.values():
        assert moves and all(a != b and a in TaskState and b in TaskState for a, b in moves)
    assert (TaskState.labeled, TaskState.accepted) in TRANSITIONS[Cause.qc]
    assert (TaskState.accepted, TaskState.labeled) not in set().union(*TRANSITIONS.values())
    # a raised overlap reopens what QC accepted; the review queue and exclusions are people's
    assert (TaskState.accepted, TaskState.open) in TRANSITIONS[Cause.overlap]
    assert not {(TaskState.review, TaskState.open), (TaskState.excluded, TaskState.open)} & TRANSITIONS[Cause.overlap]


def test_walk_the_table_every_allowed_move_works_every_other_is_refused(project, lead):
    """Each cause tries every move between two different states on a real task: an allowed one
    changes the state and writes exactly its event, any other raises and writes nothing."""
    now = utcnow()
    tried = refused = 0
    with unit_of_work() as s:
        task = _task(s, project)
        for cause, (a, b) in itertools.product(Cause, PAIRS):
            task.state = a
            before = s.execute(sa.select(sa.func.count()).select_from(TaskEvent)).scalar_one()
            if (a, b) in TRANSITIONS[cause]:
                assert lifecycle.allowed(cause, a, b)
                assert lifecycle.move(s, task, b, cause=cause, user_id=lead.id, reason=f"{cause} {a}>{b}", now=now)
                s.flush()
                event = s.exec(select(TaskEvent).order_by(TaskEvent.id.desc())).first()
                assert (event.task_id, event.from_state, event.to_state, event.user_id, event.reason) == (
                    task.id, a, b, lead.id, f"{cause} {a}>{b}")
                assert task.state == b
                tried += 1
            else:
                assert not lifecycle.allowed(cause, a, b)
                with pytest.raises(IllegalTransition, match=f"cannot go from {a} to {b}"):
                    lifecycle.move(s, task, b, cause=cause, user_id=lead.id, reason="no", now=now)
                with pytest.raises(IllegalTransition):
                    lifecycle.event_params(cause, task_id=task.id, project_id=project.id, user_id=None,
                                           from_state=a, to_state=b, reason="no", now=now)
                with pytest.raises(IllegalTransition):
                    lifecycle.event_row(cause, project_id=project.id, user_id=None, from_state=a, to_state=b,
                                        reason="no", now=now)
                assert task.state == a
                refused += 1
            s.flush()
            after = s.execute(sa.select(sa.func.count()).select_from(TaskEvent)).scalar_one()
            assert after - before == (1 if (a, b) in TRANSITIONS[cause] else 0)
    assert tried == sum(len(m) for m in TRANSITIONS.values())
    assert tried + refused == len(Cause) * len(PAIRS)


def test_staying_in_a_state_is_no_move_and_writes_no_event(project):
    with unit_of_work() as s:
        task = _task(s, project, TaskState.accepted)
        for cause in Cause:
            assert lifecycle.allowed(cause, TaskState.accepted, TaskState.accepted)
            assert not lifecycle.move(s, task, TaskState.accepted, cause=cause, user_id=None, reason="", now=utcnow())
        s.flush()
        assert s.exec(select(TaskEvent).where(TaskEvent.task_id == task.id)).first() is None


def test_counted_state_opens_and_labels_by_overlap_and_keeps_gold():
    assert lifecycle.counted_state("open", 2, 2, False, True) == ("labeled", False)
    assert lifecycle.counted_state("open", 1, 2, False, True) == ("open", True)
    assert lifecycle.counted_state("labeled", 1, 2, False, True) == ("open", True)
    assert lifecycle.counted_state("open", 5, 2, True, False) == ("open", False)
    assert lifecycle.counted_state("review", 0, 2, False, False) == ("review", False)


def test_move_where_writes_one_event_per_task_that_moves(project, lead):
    now = utcnow()
    with unit_of_work() as s:
        ids = [_task(s, project, TaskState.open, n_annotations=n, target_overlap=2).id for n in (0, 2, 3)]
        _task(s, project, TaskState.review, n_annotations=2, target_overlap=2)
        moved = lifecycle.move_where(s, where=[Task.project_id == project.id, Task.n_annotations >= 2],
                                     from_state=TaskState.open, to_state=TaskState.labeled, cause=Cause.overlap,
                                     project_id=project.id, user_id=lead.id, reason="overlap 2", now=now,
                                     values={"target_overlap": 2})
        assert moved == 2
        with pytest.raises(IllegalTransition):
            lifecycle.move_where(s, where=[Task.project_id == project.id], from_state=TaskState.review,
                                 to_state=TaskState.labeled, cause=Cause.overlap, project_id=project.id,
                                 user_id=lead.id, reason="no", now=now)
    with read_session() as s:
        events = s.exec(select(TaskEvent.task_id, TaskEvent.from_state, TaskEvent.to_state, TaskEvent.reason)
                        .order_by(TaskEvent.task_id)).all()
        states = dict(s.exec(select(Task.id, Task.state).where(Task.id.in_(ids))).all())
    assert [tuple(e) for e in events] == [(ids[1], "open", "labeled", "overlap 2"), (ids[2], "open", "labeled",
                                                                                  "overlap 2")]
    assert states == {ids[0]: "open", ids[1]: "labeled", ids[2]: "labeled"}


def test_move_many_follows_each_path_groups_equal_values_and_skips_moved_tasks(project):
    now = utcnow()
    with unit_of_work() as s:
        a, b, c, d = (_task(s, project, TaskState.labeled).id for _ in range(4))
        s.execute(sa.update(Task).where(Task.id == d).values(state=TaskState.accepted))
        final = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
        moves = [
            Move(a, [(TaskState.accepted, "passed")], {"final_label": final, "final_source": "annotator"}),
            Move(b, [(TaskState.accepted, "passed")], {"final_label": final, "final_source": "annotator"}),
            Move(c, [(TaskState.suspect, "suspect"), (TaskState.review, "to review")],
                 {"final_label": None, "final_source": None}),
            Move(d, [(TaskState.accepted, "passed")], {"final_label": final, "final_source": "x"}),
        ]
        lifecycle.move_many(s.connection(), moves, cause=Cause.qc, project_id=project.id,
                            from_state=TaskState.labeled, user_id=None, now=now,
                            column_types={"final_label": sa.JSON(none_as_null=True)})
        with pytest.raises(IllegalTransition):
            lifecycle.move_many(s.connection(), [Move(a, [(TaskState.excluded, "no")])], cause=Cause.qc,
                                project_id=project.id, from_state=TaskState.labeled, user_id=None, now=now)
    with read_session() as s:
        rows = {t.id: t for t in s.exec(select(Task).where(Task.project_id == project.id))}
        events = [(e.task_id, e.from_state, e.to_state) for e in s.exec(select(TaskEvent).order_by(TaskEvent.id))]
    assert [rows[i].state for i in (a, b, c, d)] == ["accepted", "accepted", "review", "accepted"]
    assert rows[a].final_label == final and rows[c].final_label is None and rows[d].final_source is None
    assert events == [(a, "labeled", "accepted"), (b, "labeled", "accepted"), (c, "labeled", "suspect"),
                      (c, "suspect", "review"), (d, "labeled", "accepted")]


def test_event_row_makes_checked_rows_in_column_order(project, lead):
    now = utcnow()
    row = lifecycle.event_row(Cause.imported, project_id=project.id, user_id=lead.id, from_state=TaskState.open,
                              to_state=TaskState.labeled, reason="import #1", now=now)
    assert dict(zip(lifecycle.EVENT_COLUMNS, row(7), strict=True)) == {
        "task_id": 7, "project_id": project.id, "user_id": lead.id, "from_state": "open", "to_state": "labeled",
        "reason": "import #1", "created_at": now}
