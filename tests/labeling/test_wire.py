"""labeling.wire: one builder per shape, the same dict from an ORM object and from a Core row,
no key its model lacks, and the keys only leads see."""

from __future__ import annotations

import sqlalchemy as sa

from labeling import projects, users, wire
from labeling.db import read_session, write_session
from labeling.models import Annotation, Prediction, Task, TaskState

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


def declared(model) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def stored(lead, annotator, *, state=TaskState.labeled, n_annotations=1, is_gold=False) -> int:
    project = projects.create_project(lead.user, title="w", label_config=CONFIG)
    with write_session() as s:
        task = Task(project_id=project.id, data={"text": "x"}, target_overlap=1, state=state,
                    n_annotations=n_annotations, is_gold=is_gold, file_name="a.json")
        s.add(task)
        s.flush()
        s.add(Annotation(task_id=task.id, project_id=project.id, user_id=annotator.id, result=RESULT))
        s.add(Prediction(task_id=task.id, project_id=project.id, result=RESULT, score=0.9, model_version="m1"))
        s.flush()
        return task.id


def both_ways(task_id: int, **options) -> tuple[dict, dict]:
    """task_json of the ORM objects and of the Core row mappings (as the export reads them)."""
    with read_session() as s:
        task = s.get(Task, task_id)
        anns = list(s.exec(sa.select(Annotation).where(Annotation.task_id == task_id)).scalars())
        preds = list(s.exec(sa.select(Prediction).where(Prediction.task_id == task_id)).scalars())
        names = users.usernames((a.user_id for a in anns), conn=s)
        orm = wire.task_json(task, annotations=anns, predictions=preds, names=names, **options)
        row = s.execute(sa.select(Task.__table__).where(Task.__table__.c.id == task_id)).mappings().one()
        a_rows = s.execute(sa.select(Annotation.__table__).where(Annotation.__table__.c.task_id == task_id)).mappings().all()
        p_rows = s.execute(sa.select(Prediction.__table__).where(Prediction.__table__.c.task_id == task_id)).mappings().all()
        core = wire.task_json(row, annotations=a_rows, predictions=p_rows, names=names, **options)
    return orm, core


def test_orm_objects_and_core_rows_make_the_same_task(lead, annotator):
    tid = stored(lead, annotator)
    for private, gold in ((False, False), (True, False), (True, True)):
        orm, core = both_ways(tid, private=private, gold=gold)
        assert orm == core
        assert set(orm) <= declared(wire.ExportTask)
        wire.ExportTask.model_validate(orm)
        assert set(orm["annotations"][0]) <= declared(wire.Annotation)
        assert set(orm["predictions"][0]) <= declared(wire.Prediction)
        assert (set(wire.PRIVATE_TASK_KEYS) <= set(orm)) is private
        assert not (set(wire.PRIVATE_TASK_KEYS) & set(orm)) or private
        # the gold flag and answer only when asked (leads, admins), never with the workflow keys alone
        assert (set(wire.GOLD_TASK_KEYS) <= set(orm)) is gold
        assert not (set(wire.GOLD_TASK_KEYS) & set(orm)) or gold
    assert orm["total_predictions"] == 1 and orm["annotations"][0]["completed_by"] == annotator.id


def test_is_labeled_follows_the_pool_not_the_count(lead, annotator):
    labeled, _ = both_ways(stored(lead, annotator, state=TaskState.labeled))
    assert labeled["is_labeled"] is True
    # a gold task stays open whatever its count: it never shows as labeled to an annotator
    gold, _ = both_ways(stored(lead, annotator, state=TaskState.open, n_annotations=3, is_gold=True))
    assert gold["is_labeled"] is False and "is_gold" not in gold


def test_without_annotations_the_keys_are_left_out(lead, annotator):
    tid = stored(lead, annotator)
    with read_session() as s:
        view = wire.task_json(s.get(Task, tid), annotations=None, predictions=None, n_predictions=4)
    assert "annotations" not in view and "predictions" not in view and view["total_predictions"] == 4
    wire.Task.model_validate(view)


# Django's timesince (Django 5, Label Studio 1.23.2's venv) for these times, 2026-03-31 12:00 UTC:
# Label Studio's created_ago of annotations and predictions.
DJANGO_TIMESINCE = [
    ("2026-03-31T12:00:00+00:00", "0\xa0minutes"), ("2026-03-31T11:59:01+00:00", "0\xa0minutes"),
    ("2026-03-31T11:59:00+00:00", "1\xa0minute"), ("2026-03-31T10:59:00+00:00", "1\xa0hour, 1\xa0minute"),
    ("2026-03-31T08:59:55+00:00", "3\xa0hours"), ("2026-03-22T11:00:00+00:00", "1\xa0week, 2\xa0days"),
    ("2026-02-19T12:00:00+00:00", "1\xa0month, 1\xa0week"), ("2025-02-24T12:00:00+00:00", "1\xa0year, 1\xa0month"),
    ("2024-01-21T10:00:00+00:00", "2\xa0years, 2\xa0months"), ("2026-03-31T13:00:00+00:00", "0\xa0minutes"),
    ("2025-01-31T12:00:00+00:00", "1\xa0year, 2\xa0months"), ("2026-02-28T13:00:00+00:00", "1\xa0month"),
]


def test_created_ago_writes_djangos_timesince():
    from datetime import datetime

    now = datetime.fromisoformat("2026-03-31T12:00:00+00:00")
    assert [wire.created_ago(datetime.fromisoformat(d), now) for d, _ in DJANGO_TIMESINCE] == [
        want for _, want in DJANGO_TIMESINCE]
    naive = datetime(2026, 3, 31, 10, 0)  # labelfab's SQLite times: naive UTC
    assert wire.created_ago(naive, now) == "2\xa0hours"
    assert wire.created_ago(None) == ""


def test_user_label_is_label_studios_created_username():
    assert wire.user_label("Ann", "ann@x.org", 3) == "Ann ann@x.org, 3"
    assert wire.user_label("", "ann@x.org", 3) == " ann@x.org, 3"  # Label Studio: no name, a leading space
