"""Label Studio exports come back in: predictions given as ids are skipped and reported,
ground-truth annotations make gold tasks, every completed_by is attributed and reported (a user
map for another instance's ids), never to an admin, and import placeholders cannot log in until
an admin creates their email."""

from __future__ import annotations

import pytest
from sqlmodel import select

from labeling import gold, imports, projects, users
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.models import Annotation, Prediction, Role, Task, User

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="from Label Studio", label_config=TEXT)


def ls_task(text: str, *annotations: dict, predictions=None) -> dict:
    """A task as Label Studio 1.23's JSON export writes it."""
    return {"id": 17, "data": {"text": text}, "annotations": list(annotations),
            "predictions": predictions if predictions is not None else [], "meta": {}, "inner_id": 1,
            "total_annotations": len(annotations), "cancelled_annotations": 0, "total_predictions": 0,
            "comment_count": 0, "file_upload": "tasks.json", "drafts": [], "project": 4,
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}


def ls_annotation(label: str, completed_by, **extra) -> dict:
    return {"id": 31, "result": choice(label), "completed_by": completed_by, "was_cancelled": False,
            "ground_truth": False, "lead_time": 2.5, "prediction": {}, "result_count": 1, **extra}


def test_predictions_given_as_ids_are_skipped_with_a_line_in_the_report(lead, annotator, project):
    body = [ls_task("good", ls_annotation("pos", annotator.email), predictions=[5]),
            ls_task("bad", ls_annotation("neg", annotator.email),
                    predictions=[7, {"result": choice("neg"), "score": 0.7}])]
    result = imports.import_data(lead.user, project.id, body=body)
    assert (result.task_count, result.annotation_count, result.prediction_count) == (2, 2, 1)
    assert [(n["row"], n["field"]) for n in result.notes] == [(1, "predictions"), (2, "predictions")]
    assert "[5]" in result.notes[0]["detail"] and "skipped" in result.notes[0]["detail"]
    assert result.as_dict()["notes"] == result.notes
    with read_session() as s:
        assert [p.score for p in s.exec(select(Prediction))] == [0.7]


def test_a_prediction_that_is_neither_an_id_nor_an_object_is_still_refused(lead, project):
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, project.id, body=[ls_task("x", predictions=["five"])])
    assert err.value.errors[0]["field"] == "predictions[0]"


def test_a_ground_truth_annotation_makes_the_task_gold_with_its_answer(lead, annotator, make_user, project):
    other = make_user("other@example.com")
    body = [ls_task("truth", ls_annotation("neg", annotator.email, ground_truth=True),
                    ls_annotation("pos", other.email)),
            ls_task("ordinary", ls_annotation("pos", annotator.email))]
    result = imports.import_data(lead.user, project.id, body=body)
    assert result.gold_count == 1 and result.annotation_count == 3
    assert any("ground_truth" in n["detail"] for n in result.notes)
    with read_session() as s:
        tasks = {t.data["text"]: t for t in s.exec(select(Task))}
    assert (tasks["truth"].is_gold, tasks["truth"].gold_answer) == (True, choice("neg"))
    assert tasks["ordinary"].is_gold is False and tasks["ordinary"].state == "labeled"


def test_patch_ground_truth_on_an_annotation_marks_its_task_gold_and_back(lead, annotator, project):
    imports.import_data(lead.user, project.id, body=[ls_task("x", ls_annotation("pos", annotator.email))])
    with read_session() as s:
        ann = s.exec(select(Annotation)).one()
    marked = gold.set_ground_truth(ann.id, lead.user, True)
    assert marked["ground_truth"] is True and marked["id"] == ann.id
    with read_session() as s:
        task = s.get(Task, ann.task_id)
    assert (task.is_gold, task.gold_answer) == (True, choice("pos"))
    assert gold.set_ground_truth(ann.id, lead.user, True) is None  # already the answer: nothing to do
    gold.set_ground_truth(ann.id, lead.user, False)
    with read_session() as s:
        assert s.get(Task, ann.task_id).is_gold is False


def test_every_completed_by_is_attributed_and_reported(lead, annotator, project):
    body = [ls_task("by id", ls_annotation("pos", annotator.id)),
            ls_task("by email", ls_annotation("pos", annotator.email)),
            ls_task("unknown", ls_annotation("neg", "stranger@elsewhere.org")),
            ls_task("nobody", {"result": choice("pos")})]
    result = imports.import_data(lead.user, project.id, body=body)
    how = {(line["completed_by"], line["how"], line["user"], line["annotations"]) for line in result.attribution}
    assert how == {(annotator.id, "id", annotator.email, 1), (annotator.email, "email", annotator.email, 1),
                   ("stranger@elsewhere.org", "placeholder", "stranger@elsewhere.org", 1),
                   (None, "labels", None, 1)}
    assert result.as_dict()["attribution"] == result.attribution


def test_a_user_map_attributes_another_instances_ids_by_email(lead, annotator, project):
    body = [ls_task("a", ls_annotation("pos", 501)), ls_task("b", ls_annotation("neg", 502))]
    with pytest.raises(Invalid, match="no user with id 501"):
        imports.import_data(lead.user, project.id, body=body)
    user_map = imports.parse_user_map(f"501={annotator.email}, 502=Newcomer@Example.org")
    result = imports.import_data(lead.user, project.id, body=body, user_map=user_map)
    lines = {line["completed_by"]: line for line in result.attribution}
    assert (lines[501]["how"], lines[501]["user"], lines[501]["mapped"]) == ("email", annotator.email, True)
    assert (lines[502]["how"], lines[502]["user"]) == ("placeholder", "newcomer@example.org")
    with read_session() as s:
        owners = {t.data["text"]: s.exec(select(User).join(Annotation, Annotation.user_id == User.id)
                                         .where(Annotation.task_id == t.id)).one() for t in s.exec(select(Task))}
    assert owners["a"].id == annotator.id and owners["b"].email == "newcomer@example.org"
    with pytest.raises(Invalid, match="write id=email"):
        imports.parse_user_map("501 ann@example.com")
    with pytest.raises(Invalid, match="not a user id"):
        imports.import_data(lead.user, project.id, body=body, user_map={"x": annotator.email})


def test_an_import_never_attributes_annotations_to_an_admin(lead, admin, project):
    body = [ls_task("by id", ls_annotation("pos", admin.id)), ls_task("by email", ls_annotation("neg", admin.email))]
    result = imports.import_data(lead.user, project.id, body=body)
    assert {line["how"] for line in result.attribution} == {"admin"}
    with read_session() as s:
        owners = set(s.exec(select(Annotation.user_id)))
        assert admin.id not in owners and len(owners) == 1
        labels_user = s.get(User, owners.pop())
    assert labels_user.is_active is False and labels_user.password_hash is None


def test_a_placeholder_cannot_log_in_and_an_admin_creating_its_email_takes_it_over(lead, project):
    imports.import_data(lead.user, project.id, body=[ls_task("x", ls_annotation("pos", "later@example.com"))])
    placeholder = users.get_user_by_email("later@example.com")
    assert placeholder.is_active is False and placeholder.password_hash is None
    assert users.authenticate("later@example.com", "").user is None
    taken = users.create_user("later@example.com", role=Role.reviewer, password="a long password")
    assert taken.id == placeholder.id and taken.is_active and taken.role == Role.reviewer
    assert users.authenticate("later@example.com", "a long password").user.id == placeholder.id
    with read_session() as s:
        assert s.exec(select(Annotation.user_id)).one() == placeholder.id
    with pytest.raises(users.UserError, match="exists already"):  # a real account is never taken over
        users.create_user("later@example.com", password="another password")
