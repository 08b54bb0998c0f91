"""Comments on tasks (labeling.comments): who writes, sees, resolves and deletes them."""

from __future__ import annotations

import pytest

from labeling import comments, tasks
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import Role
from tests.labeling.test_review import annotate_all, make_project


@pytest.fixture
def world(lead, annotator, make_user):
    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos", "neg"])
    other = make_user("other@example.com", Role.annotator)
    elsewhere = make_project(lead.user)
    return project, ids, other, elsewhere


def test_an_annotator_flags_a_box_a_reviewer_answers_and_resolves(world, lead, annotator, make_user):
    project, ids, _, _ = world
    reviewer = make_user("rev@example.com", Role.reviewer)
    flag = comments.create_comment(annotator.user, task=ids[0], text="  the text is cut off  ",
                                   region={"x": 10, "y": 20, "width": 30, "height": 5})
    assert flag["text"] == "the text is cut off" and flag["region"] == {"x": 10.0, "y": 20.0, "width": 30.0, "height": 5.0}
    assert flag["project"] == project.id and flag["is_resolved"] is False and flag["created_by"] == annotator.user.id
    answer = comments.create_comment(reviewer.user, task=ids[0], text="fixed the source")
    with pytest.raises(Forbidden):
        comments.update_comment(annotator.user, flag["id"], is_resolved=True)
    with pytest.raises(Forbidden):
        comments.update_comment(reviewer.user, flag["id"], text="not mine")
    done = comments.update_comment(reviewer.user, flag["id"], is_resolved=True)
    assert done["is_resolved"] and done["resolved_by"] == reviewer.user.id and done["resolved_at"]
    assert [c["id"] for c in comments.list_comments(lead.user, task=ids[0])] == [flag["id"], answer["id"]]
    assert [c["id"] for c in comments.list_comments(lead.user, project=project.id, is_resolved=False)] == [answer["id"]]
    again = comments.update_comment(lead.user, flag["id"], is_resolved=False)
    assert again["resolved_at"] is None and again["resolved_by"] is None


def test_annotators_see_only_their_own_tasks_comments(world, lead, annotator):
    project, ids, other, _ = world
    comments.create_comment(lead.user, task=ids[1], text="for the annotator")
    with pytest.raises(NotFound):  # the other annotator neither holds nor labelled the task
        comments.create_comment(other.user, task=ids[0], text="hello")
    with pytest.raises(NotFound):
        comments.list_comments(other.user, task=ids[1])
    assert comments.list_comments(other.user, project=project.id) == []
    assert [c["text"] for c in comments.list_comments(annotator.user, project=project.id)] == ["for the annotator"]


def test_bad_comments_are_refused_and_deleting_is_for_the_author_or_a_lead(world, lead, annotator):
    project, ids, _, elsewhere = world
    for kwargs in ({"text": ""}, {"text": "x", "region": {"x": 90, "y": 0, "width": 20, "height": 5}},
                   {"text": "x", "region": {"x": "1", "y": 0, "width": 2, "height": 5}},
                   {"text": "x", "project": elsewhere.id}, {"text": "x" * (comments.MAX_TEXT + 1)}):
        with pytest.raises(Invalid):
            comments.create_comment(annotator.user, task=ids[0], **kwargs)
    with pytest.raises(Forbidden):
        comments.create_comment(annotator.user, task=ids[0], text="done", is_resolved=True)
    mine = comments.create_comment(annotator.user, task=ids[0], text="mine")
    theirs = comments.create_comment(lead.user, task=ids[0], text="the lead's")
    with pytest.raises(Forbidden):
        comments.delete_comment(annotator.user, theirs["id"])
    comments.delete_comment(annotator.user, mine["id"])
    comments.delete_comment(lead.user, theirs["id"])
    assert comments.list_comments(lead.user, task=ids[0]) == []


def test_the_task_list_counts_comments_and_the_data_manager_filters_unresolved_ones(world, lead, annotator):
    from labeling.dm import filters

    project, ids, _, _ = world
    first = comments.create_comment(annotator.user, task=ids[0], text="one")
    comments.create_comment(lead.user, task=ids[0], text="two")
    comments.update_comment(lead.user, first["id"], is_resolved=True)
    page = tasks.list_tasks(lead.user, project.id)
    assert page.comments[ids[0]]["comment_count"] == 2
    assert page.comments[ids[0]]["unresolved_comment_count"] == 1
    assert page.comments[ids[0]]["comment_authors"] == [annotator.user.id, lead.user.id]
    assert ids[1] not in page.comments
    query = filters.parse({"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:unresolved_comment_count", "operator": "greater", "type": "Number", "value": 0}]}})
    found = tasks.list_tasks(lead.user, project.id, where=filters.where(query))
    assert [t.id for t in found.tasks] == [ids[0]]
    query = filters.parse({"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:comment_count", "operator": "empty", "type": "Number", "value": True}]},
        "ordering": ["-tasks:unresolved_comment_count"]})
    found = tasks.list_tasks(lead.user, project.id, where=filters.where(query), order_by=filters.order_by(query))
    assert [t.id for t in found.tasks] == [ids[1]]
