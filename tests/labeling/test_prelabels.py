"""Pre-labels (predictions pre-filled for annotators): off by default with overlap > 1, never
shown to a task's second and later annotators, turned on by a lead; annotations made from one
carry Label Studio's ``parent_prediction`` (ARCHITECTURE.md, Pre-labels)."""

from __future__ import annotations

import pytest

from labeling import annotations, predictions, projects, router, tasks
from labeling.errors import Invalid
from labeling.models import prelabels_on
from tests.labeling.test_router import Person, add_tasks, label, make_project


@pytest.fixture
def annotators():
    return [Person(f"p{i}@example.com") for i in range(3)]


@pytest.fixture
def lead():
    return Person("prelead@example.com", "lead")


def predicted_task(lead, project) -> tuple[int, int]:
    (tid,) = add_tasks(project, 1)
    prediction = predictions.create_prediction(lead.user, task_id=tid, result=label("neg"), score=0.9,
                                               model_version="m1")
    return tid, prediction.id


def test_the_default_follows_the_overlap():
    assert prelabels_on(None, 1) is True
    assert prelabels_on(None, 2) is False
    assert prelabels_on(True, 3) is True
    assert prelabels_on(False, 1) is False


def test_overlap_2_shows_no_prelabel_by_default(lead, annotators):
    project = make_project(lead.user, overlap=2)
    tid, _ = predicted_task(lead, project)
    first = router.serve_next(project.id, annotators[0].user)
    assert first["id"] == tid and first["predictions"] == []
    view = projects.project_view(projects.get_project(project.id))
    assert view["show_collab_predictions"] is False and view["show_predictions"] is None
    # nor through Label Studio's task and prediction endpoints
    assert tasks.get_task(annotators[0].user, tid)["predictions"] == []


def test_overlap_1_shows_them_by_default(lead, annotators):
    project = make_project(lead.user, overlap=1)
    tid, pid = predicted_task(lead, project)
    view = router.serve_next(project.id, annotators[0].user)
    assert [p["id"] for p in view["predictions"]] == [pid]


def test_turned_on_they_reach_the_first_annotator_only(lead, annotators):
    project = make_project(lead.user, overlap=2)
    projects.update_project(lead.user, project.id, show_predictions=True)
    tid, pid = predicted_task(lead, project)
    first = router.serve_next(project.id, annotators[0].user)
    assert [p["id"] for p in first["predictions"]] == [pid]
    # a second annotator while the first holds the task, and a third after the first labelled it
    second = router.serve_next(project.id, annotators[1].user)
    assert second["id"] == tid and second["predictions"] == []
    router.release(tid, annotators[1].user)
    annotations.submit(tid, annotators[0].user, result=label("neg"), parent_prediction=pid)
    later = router.serve_next(project.id, annotators[2].user)
    assert later["id"] == tid and later["predictions"] == []
    assert tasks.get_task(annotators[2].user, tid)["predictions"] == []


def test_a_lead_turns_them_off_on_overlap_1(lead, annotators):
    project = make_project(lead.user, overlap=1, show_predictions=False)
    predicted_task(lead, project)
    assert router.serve_next(project.id, annotators[0].user)["predictions"] == []
    projects.update_project(lead.user, project.id, show_predictions=None)  # back to the default
    assert projects.get_project(project.id).show_predictions is None


def test_an_annotation_from_a_prelabel_is_marked(lead, annotators):
    project = make_project(lead.user, overlap=1)
    tid, pid = predicted_task(lead, project)
    router.serve_next(project.id, annotators[0].user)
    ann, created = annotations.submit(tid, annotators[0].user, result=label("neg"), parent_prediction=pid)
    assert created and ann.parent_prediction == pid
    stored = annotations.get_annotation(ann.id, lead.user)
    assert stored.parent_prediction == pid
    # an independent one is not
    (other,) = add_tasks(project, 1)
    ann2, _ = annotations.submit(other, annotators[1].user, result=label("pos"))
    assert annotations.get_annotation(ann2.id, lead.user).parent_prediction is None


def test_parent_prediction_must_be_the_tasks_own(lead, annotators):
    project = make_project(lead.user, overlap=1)
    tid, _ = predicted_task(lead, project)
    _, other_pid = predicted_task(lead, project)
    with pytest.raises(Invalid, match="not a prediction of task"):
        annotations.submit(tid, annotators[0].user, result=label("neg"), parent_prediction=other_pid)
