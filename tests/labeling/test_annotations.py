"""Submitting, skipping, editing and deleting annotations; predictions; who sees what."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import annotations, predictions, projects, router, users
from labeling.db import read_session, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import Annotation, AnnotationVersion, Media, Role, Task, TaskEvent, TaskState

CHOICES = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
           '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
NER = ('<View><Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>'
       '<Text name="text" value="$text"/></View>')
BOXES = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
         '<Label value="cat"/></RectangleLabels></View>')


class Person:
    def __init__(self, email: str, role: str = Role.annotator):
        self.user = users.create_user(email, role=role)
        self.id = self.user.id


@pytest.fixture
def lead():
    return Person("lead@example.com", Role.lead)


@pytest.fixture
def people():
    return [Person(f"p{i}@example.com") for i in range(3)]


def label(name: str = "pos") -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


def project_with_tasks(lead, n: int = 2, *, config: str = CHOICES, data: dict | None = None, **settings):
    project = projects.create_project(lead.user, title="p", label_config=config, **settings)
    with write_session() as s:
        tasks = [Task(project_id=project.id, data=data or {"text": f"item {i}"}, target_overlap=project.overlap)
                 for i in range(n)]
        s.add_all(tasks)
        s.flush()
        return project, [t.id for t in tasks]


def task_row(task_id: int) -> Task:
    with read_session() as s:
        return s.get(Task, task_id)


def test_submit_checks_the_result_against_the_schema(lead, people):
    project, (tid, _) = project_with_tasks(lead)
    a = people[0].user
    with pytest.raises(Invalid) as bad:
        annotations.submit(tid, a, result=label("maybe"))
    assert "unknown label" in bad.value.detail and bad.value.errors[0]["field"] == "result[0]"
    two = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos", "neg"]}}]
    with pytest.raises(Invalid, match="single label"):
        annotations.submit(tid, a, result=two)
    with pytest.raises(Invalid, match="empty"):
        annotations.submit(tid, a, result=[])
    with pytest.raises(Invalid, match="must be a list"):
        annotations.submit(tid, a, result={"choices": ["pos"]})
    t = task_row(tid)
    assert (t.n_annotations, t.state) == (0, TaskState.open)  # nothing stored


def test_span_offsets_must_match_the_text(lead, people):
    project, (tid,) = project_with_tasks(lead, 1, config=NER, data={"text": "Ada Lovelace met Babbage"})
    span = {"from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": 0, "end": 12, "text": "Ada Lovelace", "labels": ["PER"]}}
    wrong = {**span, "value": {**span["value"], "text": "Ada Lovelacx"}}
    outside = {**span, "value": {**span["value"], "end": 99, "text": None}}
    with pytest.raises(Invalid, match="does not match"):
        annotations.submit(tid, people[0].user, result=[wrong])
    with pytest.raises(Invalid, match="outside the text"):
        annotations.submit(tid, people[0].user, result=[outside])
    ann, created = annotations.submit(tid, people[0].user, result=[span])
    assert created and ann.result == [span]


def test_boxes_must_lie_inside_the_image_of_the_media_row(lead, people):
    project, (tid,) = project_with_tasks(lead, 1, config=BOXES, data={"image": "/media/x.png"})
    with write_session() as s:
        media = Media(sha256="a" * 64, ext="png", mime="image/png", width=200, height=100, size=10)
        s.add(media)
        s.flush()
        s.execute(sa.update(Task).where(Task.id == tid).values(media_id=media.id))
    box = {"from_name": "box", "to_name": "img", "type": "rectanglelabels", "original_width": 200,
           "original_height": 100, "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["cat"]}}
    outside = {**box, "value": {**box["value"], "x": 80}}
    wrong_size = {**box, "original_width": 640}
    with pytest.raises(Invalid, match="goes outside the image"):
        annotations.submit(tid, people[0].user, result=[outside])
    with pytest.raises(Invalid, match="the image is 200 px"):
        annotations.submit(tid, people[0].user, result=[wrong_size])
    annotations.submit(tid, people[0].user, result=[box])
    assert task_row(tid).state == TaskState.labeled


def test_a_retried_submit_returns_the_same_annotation(lead, people):
    project, (tid, _) = project_with_tasks(lead)
    a = people[0].user
    router.next_task(project.id, a)
    first, created = annotations.submit(tid, a, result=label())
    again, created_again = annotations.submit(tid, a, result=label())
    assert created and not created_again and again.id == first.id and again.version == 1
    t = task_row(tid)
    assert (t.n_annotations, t.n_leases, t.state) == (1, 0, TaskState.labeled)
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Annotation)).scalar() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(TaskEvent)).scalar() == 1


def test_concurrent_retries_store_one_annotation(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=1)
    a = people[0].user
    router.next_task(project.id, a)
    results, errors = [], []

    def send():
        try:
            results.append(annotations.submit(tid, a, result=label()))
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({ann.id for ann, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    t = task_row(tid)
    assert (t.n_annotations, t.n_leases) == (1, 0)


def test_lead_time_is_recorded(lead, people):
    project, (t1, t2) = project_with_tasks(lead)
    a = people[0].user
    router.next_task(project.id, a)
    ann, _ = annotations.submit(t1, a, result=label())
    assert ann.lead_time is not None and ann.lead_time >= 0  # from the lease
    ann2, _ = annotations.submit(t2, a, result=label(), lead_time=12.5)
    assert ann2.lead_time == 12.5


def test_edit_keeps_the_earlier_version_until_qc_takes_the_task(lead, people):
    project, (tid, _) = project_with_tasks(lead)
    a = people[0].user
    ann, _ = annotations.submit(tid, a, result=label("pos"), lead_time=3)
    edited = annotations.update_annotation(ann.id, a, result=label("neg"), lead_time=2)
    assert edited.version == 2 and edited.result == label("neg") and edited.lead_time == 5
    # a different re-submit is an edit too
    resubmitted, created = annotations.submit(tid, a, result=label("pos"))
    assert not created and resubmitted.version == 3
    with read_session() as s:
        versions = s.exec(select(AnnotationVersion).order_by(AnnotationVersion.id)).all()
    assert [(v.version, v.result) for v in versions] == [(1, label("pos")), (2, label("neg"))]
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == tid).values(state=TaskState.suspect))
    with pytest.raises(Conflict, match="QC has taken"):
        annotations.update_annotation(ann.id, a, result=label("neg"))
    with pytest.raises(Conflict, match="QC has taken"):
        annotations.delete_annotation(ann.id, a)


def test_only_the_author_edits_and_a_lead_corrects_the_result_as_a_new_version(lead, people):
    project, (tid, _) = project_with_tasks(lead)
    ann, _ = annotations.submit(tid, people[0].user, result=label())
    with pytest.raises(NotFound):
        annotations.update_annotation(ann.id, people[1].user, result=label("neg"))  # blind: not even seen
    with pytest.raises(Forbidden):  # a lead corrects the result, never the author's skip
        annotations.update_annotation(ann.id, lead.user, was_cancelled=True)
    with write_session() as s:  # in any state of the task
        s.execute(sa.update(Task).where(Task.id == tid).values(state=TaskState.accepted))
    fixed = annotations.update_annotation(ann.id, lead.user, result=label("neg"))
    assert (fixed.version, fixed.result, fixed.user_id) == (2, label("neg"), people[0].user.id)
    with read_session() as s:
        [kept] = s.exec(select(AnnotationVersion)).all()
        state = s.get(Task, tid).state
    assert (kept.version, kept.result, kept.changed_by, state) == (1, label(), lead.user.id, TaskState.accepted)


def test_skip_with_reason_does_not_count_and_can_become_an_annotation(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=2)
    a = people[0].user
    router.next_task(project.id, a)
    skip, _ = annotations.submit(tid, a, was_cancelled=True, skip_reason="not English")
    assert skip.was_cancelled and skip.skip_reason == "not English" and skip.result == []
    t = task_row(tid)
    assert (t.n_annotations, t.n_skips, t.n_leases, t.state) == (0, 1, 0, TaskState.open)
    back = annotations.update_annotation(skip.id, a, was_cancelled=False, result=label())
    assert not back.was_cancelled and back.version == 2
    t = task_row(tid)
    assert (t.n_annotations, t.n_skips) == (1, 0)
    # and back into a skip: the task loses the annotation again
    annotations.update_annotation(skip.id, a, was_cancelled=True)
    assert (task_row(tid).n_annotations, task_row(tid).n_skips) == (0, 1)


def test_skip_cannot_become_an_annotation_of_a_full_task(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=1)
    skip, _ = annotations.submit(tid, people[0].user, was_cancelled=True)
    annotations.submit(tid, people[1].user, result=label())
    with pytest.raises(Conflict, match="all the annotations"):
        annotations.update_annotation(skip.id, people[0].user, was_cancelled=False, result=label())


def test_a_full_task_refuses_more_annotations(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=1)
    annotations.submit(tid, people[0].user, result=label())
    with pytest.raises(Conflict, match="labeled"):
        annotations.submit(tid, people[1].user, result=label())
    # a place leased to someone else is not free either
    project2, (t2, _) = project_with_tasks(lead, overlap=1)
    assert router.next_task(project2.id, people[0].user).id == t2
    with pytest.raises(Conflict, match="leased"):
        annotations.submit(t2, people[1].user, result=label())


def test_labeled_event_and_delete_reopens(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=2)
    a1, _ = annotations.submit(tid, people[0].user, result=label())
    assert task_row(tid).state == TaskState.open
    annotations.submit(tid, people[1].user, result=label("neg"))
    assert task_row(tid).state == TaskState.labeled
    annotations.delete_annotation(a1.id, people[0].user)
    t = task_row(tid)
    assert (t.state, t.n_annotations) == (TaskState.open, 1)
    with read_session() as s:
        events = s.exec(select(TaskEvent).order_by(TaskEvent.id)).all()
    assert [(e.from_state, e.to_state) for e in events] == [("open", "labeled"), ("labeled", "open")]
    # the author may annotate it again after deleting
    assert router.next_task(project.id, people[0].user).id == tid


def test_only_author_or_lead_deletes(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=2)
    ann, _ = annotations.submit(tid, people[0].user, result=label())
    with pytest.raises(NotFound):
        annotations.delete_annotation(ann.id, people[1].user)
    reviewer = Person("rev@example.com", Role.reviewer)
    with pytest.raises(Forbidden):
        annotations.delete_annotation(ann.id, reviewer.user)
    annotations.delete_annotation(ann.id, lead.user)
    with pytest.raises(NotFound):
        annotations.get_annotation(ann.id, lead.user)


def test_annotators_see_only_their_own_annotations(lead, people):
    project, (tid, _) = project_with_tasks(lead, overlap=2)
    mine, _ = annotations.submit(tid, people[0].user, result=label())
    theirs, _ = annotations.submit(tid, people[1].user, result=label("neg"))
    assert [a.id for a in annotations.task_annotations(tid, people[0].user)] == [mine.id]
    assert [a.id for a in annotations.task_annotations(tid, lead.user)] == [mine.id, theirs.id]
    with pytest.raises(NotFound):
        annotations.get_annotation(theirs.id, people[0].user)
    assert annotations.get_annotation(theirs.id, lead.user).user_id == people[1].id


def test_my_annotations_pages_back_newest_first(lead, people):
    project, ids = project_with_tasks(lead, 3)
    a = people[0].user
    anns = [annotations.submit(t, a, result=label())[0] for t in ids]
    first = annotations.my_annotations(project.id, a)
    assert [t["annotations"][0]["id"] for t in first] == [anns[2].id]
    older = annotations.my_annotations(project.id, a, before=anns[2].id, limit=5)
    assert [t["id"] for t in older] == [ids[1], ids[0]] and all(t["editable"] for t in older)
    prev = annotations.previous_own_annotation(a, project.id, before=anns[1].id)
    assert prev["annotation"]["id"] == anns[0].id and prev["task"]["id"] == ids[0]
    assert annotations.previous_own_annotation(a, project.id, before=anns[0].id) is None
    assert annotations.annotator_counters(a, project.id) == {"done_today": 3, "remaining": 0}


def test_predictions_are_checked_and_for_leads(lead, people):
    project, (tid, _) = project_with_tasks(lead)
    p = predictions.create_prediction(lead.user, task_id=tid, result=label("neg"), score=0.9, model_version="v1",
                                      probs={"pos": 0.1, "neg": 0.9})
    assert p.id and p.probs == {"pos": 0.1, "neg": 0.9}
    with pytest.raises(Forbidden):
        predictions.create_prediction(people[0].user, task_id=tid, result=label())
    with pytest.raises(Invalid):
        predictions.create_prediction(lead.user, task_id=tid, result=label("maybe"))
    with pytest.raises(Invalid, match="unknown labels"):
        predictions.create_prediction(lead.user, task_id=tid, result=label(), probs={"meh": 1.0})
    assert [x.id for x in predictions.list_predictions(people[0].user, task_id=tid)] == [p.id]
    assert [x.id for x in predictions.list_predictions(lead.user, project_id=project.id)] == [p.id]
    assert predictions.get_prediction(p.id, people[0].user).model_version == "v1"
    with pytest.raises(NotFound):
        predictions.create_prediction(lead.user, task_id=123456, result=label())


def test_schema_cache_follows_label_config_changes(lead, people):
    project, (t1, t2) = project_with_tasks(lead)
    annotations.submit(t1, people[0].user, result=label("pos"))
    wider = CHOICES.replace('<Choice value="neg"/>', '<Choice value="neg"/><Choice value="mixed"/>')
    projects.update_project(lead.user, project.id, label_config=wider)
    ann, _ = annotations.submit(t2, people[0].user, result=label("mixed"))
    assert ann.result == label("mixed")


def test_submit_needs_access(lead, people):
    project, (tid, _) = project_with_tasks(lead, restricted=True)
    with pytest.raises(NotFound):
        annotations.submit(tid, people[0].user, result=label())
    with pytest.raises(NotFound):
        annotations.submit(99_999, people[0].user, result=label())


def test_a_reviewer_does_not_correct_answers_to_a_gold_task_a_lead_does(lead, people):
    """Answers to a gold task score their annotator (gold accuracy, pauses): a reviewer, who may not
    see which tasks are gold, cannot rewrite them; the project's lead can."""
    reviewer = Person("rev@example.com", Role.reviewer)
    project, (tid, _) = project_with_tasks(lead)
    ann, _ = annotations.submit(tid, people[0].user, result=label())
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == tid).values(is_gold=True, gold_answer=label("neg")))
    with pytest.raises(Forbidden, match="gold"):
        annotations.update_annotation(ann.id, reviewer.user, result=label("neg"))
    assert annotations.update_annotation(ann.id, lead.user, result=label("neg")).version == 2
