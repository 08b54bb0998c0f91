"""Projects: settings, label config changes that keep annotations valid, overlap, archive,
delete, members and roles, and a project's tasks (list, filter, view, change, delete)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import imports, project_config, projects, tasks
from labeling.db import read_session
from labeling.db import write_session as write_session_
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import Annotation, ImportBatch, Membership, Prediction, Task, TaskEvent
from labeling.schema import schema_of

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def count(model, *where) -> int:
    with read_session() as s:
        return s.execute(select(sa.func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="Reviews", label_config=TEXT, description="d")


def labeled(lead, project, annotator_email="ann@example.com", n=2):
    body = [{"data": {"text": f"text {i}"}, "annotations": [{"result": choice("pos"), "completed_by": annotator_email}],
             "predictions": [{"probs": {"pos": 0.8, "neg": 0.2}}]} for i in range(n)]
    return imports.import_data(lead.user, project.id, body=body)


def test_create_checks_title_config_settings_and_role(lead, annotator):
    with pytest.raises(Invalid, match="title"):
        projects.create_project(lead.user, title="  ", label_config=TEXT)
    with pytest.raises(Invalid) as err:
        projects.create_project(lead.user, title="x", label_config="<View><Text name='t' value='$t'/></View>")
    assert "nothing to annotate" in err.value.detail
    with pytest.raises(Invalid) as err:
        projects.create_project(lead.user, title="x", label_config=TEXT, overlap=0, lease_seconds="long")
    assert {e["field"] for e in err.value.errors} == {"overlap", "lease_seconds"}
    with pytest.raises(Forbidden):
        projects.create_project(annotator.user, title="x", label_config=TEXT)


def test_update_settings_title_and_instructions(lead, project):
    updated = projects.update_project(lead.user, project.id, title="New title", instructions="Be careful.",
                                      lease_seconds=120, show_predictions=False)
    assert (updated.title, updated.instructions, updated.lease_seconds, updated.show_predictions) == (
        "New title", "Be careful.", 120, False)
    with pytest.raises(Invalid) as err:
        projects.update_project(lead.user, project.id, colour="red")
    assert err.value.errors[0]["field"] == "colour"
    with pytest.raises(Invalid, match="max_overlap"):
        projects.update_project(lead.user, project.id, overlap=3, max_overlap=2)


def test_label_config_may_grow_but_not_lose_used_labels(lead, project):
    labeled(lead, project)
    grown = TEXT.replace('<Choice value="neg"/>', '<Choice value="neg"/><Choice value="neu"/>')
    assert schema_of(projects.update_project(lead.user, project.id, label_config=grown)).label_names() == [
        "pos", "neg", "neu"]
    shrunk = TEXT.replace('<Choice value="pos"/>', "")
    with pytest.raises(Invalid) as err:
        projects.update_project(lead.user, project.id, label_config=shrunk)
    assert "label 'pos' is used by existing annotations" in err.value.detail
    renamed_field = grown.replace("$text", "$body")
    with pytest.raises(Invalid) as err:
        projects.update_project(lead.user, project.id, label_config=renamed_field)
    assert "data key changed" in err.value.detail
    assert projects.get_project(project.id).label_config == grown


def test_labels_only_predictions_use_may_go_as_in_label_studio(lead, project):
    imports.import_data(lead.user, project.id, body=[
        {"data": {"text": "t"}, "predictions": [{"probs": {"pos": 0.4, "neg": 0.6}}]},
        {"data": {"text": "u"}, "predictions": [{"result": choice("neg")}]}])
    without_neg = TEXT.replace('<Choice value="neg"/>', "")
    # the live check and Save agree: accepted, and the predictions keep their stored result
    assert project_config.check_label_config(lead.user, project.id, without_neg) is True
    assert schema_of(projects.update_project(lead.user, project.id, label_config=without_neg)).label_names() == ["pos"]
    with read_session() as s:
        stored = sorted(str(p.result or p.probs) for p in s.exec(select(Prediction).where(Prediction.project_id == project.id)))
    assert any("'neg'" in r for r in stored) and len(stored) == 2
    # an unchanged config is always accepted, by both
    assert project_config.check_label_config(lead.user, project.id, without_neg) is False
    other = projects.create_project(lead.user, title="empty", label_config=TEXT)
    imports.import_data(lead.user, other.id, body=[{"text": "no labels yet"}])
    changed = projects.update_project(lead.user, other.id, label_config=TEXT.replace('<Choice value="neg"/>', ""))
    assert schema_of(changed).label_names() == ["pos"]


def test_the_live_check_refuses_what_save_refuses_naming_the_label(lead, project):
    labeled(lead, project)
    imports.import_data(lead.user, project.id, body=[{"data": {"text": "p"}, "predictions": [{"result": choice("neg")}]}])
    without_pos = TEXT.replace('<Choice value="pos"/>', "")
    with pytest.raises(Invalid) as live:
        project_config.check_label_config(lead.user, project.id, without_pos)
    with pytest.raises(Invalid) as save:
        projects.update_project(lead.user, project.id, label_config=without_pos)
    assert live.value.detail == save.value.detail
    assert "label 'pos' is used by existing annotations" in save.value.detail
    assert "neg" not in save.value.detail


def test_new_config_may_only_read_fields_every_task_has(lead, project):
    imports.import_data(lead.user, project.id, body=[{"text": "a", "title": "A"}, {"text": "b"}])
    two_objects = TEXT.replace('<Text name="text" value="$text"/>',
                               '<Text name="text" value="$text"/><Text name="title" value="$title"/>')
    with pytest.raises(Invalid, match="'title'"):
        projects.update_project(lead.user, project.id, label_config=two_objects)


def test_raising_overlap_reopens_labeled_tasks_with_events(lead, project):
    labeled(lead, project, n=3)
    assert count(Task, Task.state == "labeled") == 3
    projects.update_project(lead.user, project.id, overlap=2)
    with read_session() as s:
        tasks = list(s.exec(select(Task)))
        assert {(t.state, t.target_overlap) for t in tasks} == {("open", 2)}
        reopened = list(s.exec(select(TaskEvent).where(TaskEvent.to_state == "open")))
    assert len(reopened) == 3 and all(e.reason == "overlap changed from 1 to 2" for e in reopened)
    projects.update_project(lead.user, project.id, overlap=1)
    assert count(Task, Task.state == "labeled", Task.target_overlap == 1) == 3
    assert count(TaskEvent) == 3 + 3 + 3  # import, reopen, label again


def _finish(project_id: int, source: str = "single") -> None:
    """Mark every labeled task accepted with a final label, as a QC run that passes them does."""
    from labeling import lifecycle
    from labeling.db import utcnow, write_session
    from labeling.models import TaskState
    with write_session() as s:
        lifecycle.move_where(s, where=(Task.project_id == project_id,), from_state=TaskState.labeled,
                             to_state=TaskState.accepted, cause=lifecycle.Cause.qc, project_id=project_id,
                             user_id=None, reason="QC run 1: passed", now=utcnow(),
                             values={"final_label": choice("pos"), "final_source": source})


def test_raising_overlap_on_a_finished_project_reopens_accepted_tasks(lead, project):
    labeled(lead, project, n=3)
    _finish(project.id)
    with read_session() as s:
        decided = s.exec(select(Task).order_by(Task.id)).first()
    with write_session_() as s:  # a reviewer's decision stays a decision
        s.execute(sa.update(Task).where(Task.id == decided.id).values(final_source="reviewer"))
    preview = projects.preview_overlap(lead.user, project.id, 2)
    assert (preview.reopened, preview.labeled) == (2, 0)
    assert count(Task, Task.state == "accepted") == 3  # a preview changes nothing
    edit = projects.edit_project(lead.user, project.id, overlap=2)
    assert edit.overlap_change.as_dict() == {"from_overlap": 1, "to_overlap": 2, "reopened": 2, "labeled": 0}
    assert "2 tasks reopen" in edit.overlap_change.text()
    with read_session() as s:
        tasks = {t.id: t for t in s.exec(select(Task))}
        events = list(s.exec(select(TaskEvent).where(TaskEvent.from_state == "accepted")))
    assert tasks[decided.id].state == "accepted" and tasks[decided.id].final_source == "reviewer"
    reopened = [t for t in tasks.values() if t.id != decided.id]
    assert {(t.state, t.target_overlap, t.final_label is None) for t in reopened} == {("open", 2, True)}
    assert sorted((e.task_id, e.to_state, e.user_id) for e in events) == sorted(
        (t.id, "open", lead.id) for t in reopened)
    # lowering it again lets the reopened tasks move on
    edit = projects.edit_project(lead.user, project.id, overlap=1)
    assert (edit.overlap_change.reopened, edit.overlap_change.labeled) == (0, 2)
    assert count(Task, Task.state == "labeled") == 2


def test_reopened_tasks_go_to_a_second_annotator_not_the_first(lead, project, make_user):
    from labeling import router
    first = make_user("ann@example.com")
    second = make_user("second@example.com")
    labeled(lead, project, n=2)
    _finish(project.id)
    assert router.serve_next(project.id, second.user) is None  # nothing left to label
    projects.update_project(lead.user, project.id, overlap=2)
    assert router.serve_next(project.id, first.user) is None  # not the earlier annotator
    served = router.serve_next(project.id, second.user)
    assert served is not None and served["id"] in {t.id for t in _tasks(project.id)}


def _tasks(project_id: int) -> list[Task]:
    with read_session() as s:
        return list(s.exec(select(Task).where(Task.project_id == project_id)))


def test_archive_hides_and_brings_back(lead, project):
    projects.archive_project(lead.user, project.id)
    assert projects.list_projects(lead.user) == []
    assert [p.id for p, _ in projects.list_projects(lead.user, include_archived=True)] == [project.id]
    projects.archive_project(lead.user, project.id, archived=False)
    assert [p.id for p, _ in projects.list_projects(lead.user)] == [project.id]


def test_leads_of_the_project_and_admins_delete_and_everything_goes(lead, admin, make_user, project):
    labeled(lead, project)
    projects.set_member(lead.user, project.id, member="ann@example.com", role="annotator")
    other = make_user("other-lead@example.com", "lead")
    with pytest.raises((Forbidden, NotFound)):
        projects.delete_project(other.user, project.id)  # a lead of another project
    kept = projects.create_project(admin.user, title="kept", label_config=TEXT)
    labeled(admin, kept, annotator_email="ann2@example.com", n=1)
    projects.delete_project(lead.user, project.id)
    with read_session() as s:
        for model in (Task, Annotation, Prediction, TaskEvent, ImportBatch, Membership):
            assert s.exec(select(model).where(model.project_id == project.id)).first() is None, model.__name__
        assert s.exec(select(Task).where(Task.project_id == kept.id)).first() is not None  # others untouched
    with pytest.raises(NotFound):
        projects.get_project(project.id)
    projects.delete_project(admin.user, kept.id)
    for model in (Task, Annotation, Prediction, TaskEvent, ImportBatch):
        assert count(model) == 0, model.__name__


def test_a_project_with_published_versions_is_deleted_only_with_force(lead, project):
    from labeling import publish_job
    from labeling.models import DatasetVersion
    from labeling.settings import get_settings
    from tests.labeling.test_exports import accept

    labeled(lead, project)
    accept(project.id)
    done = publish_job.request_publish(project.id, lead.user, note="v1", background=False)
    assert done.version is not None
    folder = get_settings().data_dir / "datasets" / str(project.id)
    assert folder.exists()
    with pytest.raises(Conflict) as err:
        projects.delete_project(lead.user, project.id)
    assert "v1" in err.value.detail and "force" in err.value.detail
    assert count(DatasetVersion) == 1 and projects.get_project(project.id)  # nothing went
    projects.delete_project(lead.user, project.id, force=True)
    assert count(DatasetVersion) == 0 and count(Task) == 0
    assert not folder.exists()  # the version's files went after the commit


def test_members_and_their_roles(lead, annotator, make_user, project):
    reviewer = make_user("rev@example.com", "annotator")
    projects.set_member(lead.user, project.id, member=reviewer.email, role="reviewer")
    projects.set_member(lead.user, project.id, member=annotator.email, role="annotator")
    projects.set_member(lead.user, project.id, member=str(annotator.id), role="lead")  # a role change
    rows = {u.email: m.role for m, u in projects.list_members(lead.user, project.id)}
    assert rows == {"rev@example.com": "reviewer", "ann@example.com": "lead"}
    # the membership role overrides the global one: the annotator now manages the project
    projects.update_project(annotator.user, project.id, description="by a project lead")
    with pytest.raises(Invalid, match="unknown project role"):
        projects.set_member(lead.user, project.id, member=reviewer.id, role="admin")
    with pytest.raises(NotFound):
        projects.set_member(lead.user, project.id, member="ghost@example.com")
    with pytest.raises(Forbidden):
        projects.set_member(reviewer.user, project.id, member=reviewer.id, role="lead")
    projects.remove_member(lead.user, project.id, annotator.id)
    with pytest.raises(Forbidden):
        projects.update_project(annotator.user, project.id, description="no longer")
    with pytest.raises(NotFound):
        projects.remove_member(lead.user, project.id, annotator.id)


def test_restricted_project_is_invisible_to_non_members(lead, annotator, project):
    projects.update_project(lead.user, project.id, restricted=True)
    assert projects.list_projects(annotator.user) == []
    with pytest.raises(NotFound):
        projects.get_project_for(annotator.user, project.id)
    projects.set_member(lead.user, project.id, member=annotator.email)
    assert [p.id for p, _ in projects.list_projects(annotator.user)] == [project.id]


def test_list_tasks_filters_by_state_and_search(lead, project):
    labeled(lead, project, n=2)
    imports.import_data(lead.user, project.id, body=[{"text": "Another Café review"}, {"text": "100% fine_print"}])
    page = tasks.list_tasks(lead.user, project.id, page_size=3)
    assert (page.total, len(page.tasks), page.total_annotations) == (4, 3, 2)
    assert tasks.list_tasks(lead.user, project.id, page=2, page_size=3).tasks[0].data["text"] == "100% fine_print"
    assert [t.data["text"] for t in tasks.list_tasks(lead.user, project.id, state="open").tasks] == [
        "Another Café review", "100% fine_print"]
    assert tasks.list_tasks(lead.user, project.id, search="café").total == 1
    assert tasks.list_tasks(lead.user, project.id, search="100%").total == 1
    assert tasks.list_tasks(lead.user, project.id, search="_print").total == 1
    assert tasks.list_tasks(lead.user, project.id, search="%").total == 1  # % is a character, not a wildcard
    first = page.tasks[0].id
    assert first in [t.id for t in tasks.list_tasks(lead.user, project.id, search=str(first)).tasks]
    assert [t.id for t in tasks.list_tasks(lead.user, project.id, search=f"#{first}").tasks] == [first]
    with pytest.raises(Invalid, match="unknown task state"):
        tasks.list_tasks(lead.user, project.id, state="finished")
    full = tasks.list_tasks(lead.user, project.id, page_size=1, with_results=True)
    anns, preds = full.results[full.tasks[0].id]
    assert anns[0]["result"] == choice("pos") and preds[0]["probs"] == {"pos": 0.8, "neg": 0.2}


def test_task_view_follows_roles(lead, annotator, make_user, project):
    labeled(lead, project, annotator_email=annotator.email, n=1)
    other = make_user("other@example.com")
    with read_session() as s:
        task = s.exec(select(Task)).one()
    lead_view = tasks.get_task(lead.user, task.id)
    assert lead_view["annotations"][0]["completed_by"] == annotator.id and lead_view["is_gold"] is False
    own = tasks.get_task(annotator.user, task.id)  # their own annotation: visible, no gold fields
    assert len(own["annotations"]) == 1 and "is_gold" not in own and len(own["predictions"]) == 1
    with pytest.raises(NotFound):
        tasks.get_task(other.user, task.id)  # neither labeled nor holds it
    with pytest.raises(Forbidden):
        tasks.list_tasks(other.user, project.id)


def test_update_task_checks_data_and_protects_annotated_fields(lead, project):
    labeled(lead, project, n=1)
    imports.import_data(lead.user, project.id, body=[{"text": "free"}])
    with read_session() as s:
        done, free = sorted(s.exec(select(Task)), key=lambda t: t.id)
    view = tasks.update_task(lead.user, free.id, data={"text": "changed"}, meta={"note": 1}, priority=2)
    assert (view["data"], view["meta"], view["priority"]) == ({"text": "changed"}, {"note": 1}, 2.0)
    with pytest.raises(Invalid, match="must be a string"):
        tasks.update_task(lead.user, free.id, data={"text": 3})
    with pytest.raises(Conflict, match="has annotations"):
        tasks.update_task(lead.user, done.id, data={"text": "rewritten"})
    tasks.update_task(lead.user, done.id, data={"text": done.data["text"], "extra": "kept"})


def test_delete_task_takes_what_hangs_on_it(lead, annotator, project):
    labeled(lead, project, n=2)
    with read_session() as s:
        first = s.exec(select(Task).order_by(Task.id)).first()
    with pytest.raises(Forbidden):
        tasks.delete_task(annotator.user, first.id)
    tasks.delete_task(lead.user, first.id)
    assert (count(Task), count(Annotation), count(Prediction), count(TaskEvent)) == (1, 1, 1, 1)
    with pytest.raises(NotFound):
        tasks.get_task(lead.user, first.id)
