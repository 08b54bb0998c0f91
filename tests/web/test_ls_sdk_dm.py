"""The real ``label-studio-sdk`` client's Data Manager calls against a live ``labelfab serve``:
``tasks.list(query=...)`` returns only the matching tasks (built with the SDK's own
``data_manager.Filters`` helper), views are created, listed, updated and deleted, an action
deletes only the filtered tasks, and a filter labelfab cannot honour is an error, never ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.data_manager import Column, Filters, Operator, Type

from labeling.db import read_session
from labeling.models import Role, Task

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


@pytest.fixture
def sdk(live_server, make_user):
    lead = make_user("sdk-dm-lead@example.com", Role.lead)
    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    project = ls.projects.create(title="DM over the SDK", label_config=CONFIG, maximum_annotations=1)
    ls.projects.import_tasks(id=project.id, request=[
        {"text": f"sentence {i}", "lang": lang, "length": n}
        for i, (lang, n) in enumerate([("en", 10), ("fr", 25), ("en", 40), ("de", 5), ("en", 60)])])
    ids = [t.id for t in ls.tasks.list(project=project.id)]
    return ls, project.id, ids


def _ids(ls, project_id, query: dict) -> list[int]:
    return [t.id for t in ls.tasks.list(project=project_id, query=json.dumps(query))]


def test_tasks_list_with_a_query_returns_only_matching_tasks(sdk):
    ls, pid, ids = sdk
    english = Filters.create(Filters.AND, [
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("en"))])
    assert _ids(ls, pid, {"filters": english}) == [ids[0], ids[2], ids[4]]
    long_or_german = Filters.create(Filters.OR, [
        Filters.item(Column.data("length"), Operator.GREATER, Type.Number, Filters.value(30)),
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("de"))])
    assert _ids(ls, pid, {"filters": long_or_german, "ordering": ["-tasks:id"]}) == [ids[4], ids[3], ids[2]]
    ranged = Filters.create(Filters.AND, [
        Filters.item(Column.id, Operator.IN, Type.Number, Filters.value(ids[1], ids[3]))])
    assert _ids(ls, pid, {"filters": ranged, "selectedItems": {"all": True, "excluded": [ids[2]]}}) == [ids[1], ids[3]]
    now = datetime.now(UTC)
    recent = Filters.create(Filters.AND, [Filters.item(Column.created_at, Operator.IN, Type.Datetime,
                                                       Filters.value(now - timedelta(hours=1), now + timedelta(hours=1)))])
    assert _ids(ls, pid, {"filters": recent}) == ids
    picked = ls.tasks.list(project=pid, selected_items=json.dumps({"all": False, "included": [ids[1], ids[4]]}))
    assert [t.id for t in picked] == [ids[1], ids[4]]
    assert _ids(ls, pid, {"filters": Filters.create(Filters.AND, [
        Filters.item(Column.total_annotations, Operator.GREATER, Type.Number, Filters.value(0))])}) == []


def test_a_filter_that_cannot_be_honoured_is_an_error(sdk):
    ls, pid, _ = sdk
    unknown = Filters.create(Filters.AND, [
        Filters.item(Column.reviews_rejected, Operator.GREATER, Type.Number, Filters.value(0))])  # Enterprise's
    with pytest.raises(ApiError) as err:
        list(ls.tasks.list(project=pid, query=json.dumps({"filters": unknown})))
    assert err.value.status_code == 400 and "filter:tasks:reviews_rejected" in err.value.body["detail"]


def test_views_create_list_update_delete(sdk):
    ls, pid, ids = sdk
    french = Filters.create(Filters.AND, [
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("fr"))])
    view = ls.views.create(project=pid, data={"title": "French", "filters": french, "ordering": ["tasks:id"]})
    assert view.id and view.project == pid and view.data["filters"] == french
    assert [v.id for v in ls.views.list(project=pid)] == [view.id]
    assert [t.id for t in ls.tasks.list(project=pid, view=view.id)] == [ids[1]]

    english = Filters.create(Filters.AND, [
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("en"))])
    updated = ls.views.update(id=str(view.id), project=pid, data={"title": "English", "filters": english,
                                                                  "ordering": ["-tasks:id"]})
    assert updated.data["title"] == "English"
    assert ls.views.get(id=str(view.id)).data["filters"] == english
    assert [t.id for t in ls.tasks.list(project=pid, view=view.id)] == [ids[4], ids[2], ids[0]]

    # a rename keeps the filters and ordering, as on Label Studio; the rest of data is replaced
    renamed = ls.views.update(id=str(view.id), project=pid, data={"title": "English, newest first"})
    assert renamed.data == {"title": "English, newest first", "filters": english, "ordering": ["-tasks:id"]}
    assert [t.id for t in ls.tasks.list(project=pid, view=view.id)] == [ids[4], ids[2], ids[0]]
    cleared = ls.views.update(id=str(view.id), project=pid, data={"title": "All", "filters": {
        "conjunction": "and", "items": []}, "hiddenColumns": {"explore": ["tasks:data.length"]}})
    assert cleared.data["filters"]["items"] == [] and cleared.data["ordering"] == ["-tasks:id"]
    assert len(list(ls.tasks.list(project=pid, view=view.id))) == 5

    ls.views.delete(id=str(view.id))
    assert list(ls.views.list(project=pid)) == []
    ls.views.create(project=pid, data={"title": "again"})
    ls.views.delete_all(project=pid)
    assert list(ls.views.list(project=pid)) == []


def test_an_action_deletes_only_the_filtered_tasks(sdk):
    ls, pid, ids = sdk
    assert {"delete_tasks", "delete_tasks_annotations", "delete_tasks_predictions"} <= {
        a.id for a in ls.actions.list(project=pid)}
    english = Filters.create(Filters.AND, [
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("en"))])
    ls.actions.create(id="delete_tasks", project=pid, filters=english,
                      selected_items={"all": True, "excluded": [ids[0]]})
    assert [t.id for t in ls.tasks.list(project=pid)] == [ids[0], ids[1], ids[3]]


def test_labelfab_actions_through_the_sdk(sdk, make_user):
    """``actions.create`` with labelfab's own ids: accept, send to review, exclude, mark gold."""
    ls, pid, ids = sdk
    ann = make_user("sdk-dm-ann@example.com", Role.annotator)
    annotator = LabelStudio(base_url=ls._client_wrapper.get_base_url(), api_key=ann.token)
    for tid, label in zip(ids[:3], ("pos", "neg", "pos"), strict=True):
        annotator.annotations.create(id=tid, result=[{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                                      "value": {"choices": [label]}}])
    listed = {a.id for a in ls.actions.list(project=pid)}
    assert {"send_to_review", "reopen", "accept", "exclude", "include", "mark_gold", "unmark_gold"} <= listed
    english = Filters.create(Filters.AND, [
        Filters.item(Column.data("lang"), Operator.EQUAL, Type.String, Filters.value("en"))])
    ls.actions.create(id="accept", project=pid, filters=english)  # ids 0, 2 labeled; 4 open: refused
    assert [ls.tasks.get(id=i).is_labeled for i in ids] == [True, True, True, False, False]

    def state_of() -> list[str]:
        with read_session() as s:
            return [s.get(Task, i).state for i in ids]

    assert state_of() == ["accepted", "labeled", "accepted", "open", "open"]
    ls.actions.create(id="send_to_review", project=pid, selected_items={"all": False, "included": [ids[0], ids[1]]})
    assert state_of() == ["review", "review", "accepted", "open", "open"]
    ls.actions.create(id="exclude", project=pid, selected_items={"all": False, "included": [ids[3]]})
    ls.actions.create(id="mark_gold", project=pid, selected_items={"all": False, "included": [ids[2]]})
    assert state_of() == ["review", "review", "open", "excluded", "open"]
    with read_session() as s:
        assert s.get(Task, ids[2]).is_gold
    with pytest.raises(ApiError) as err:
        ls.actions.create(id="reopen", project=pid, selected_items={"all": False, "included": []})
    assert err.value.status_code == 404


def test_the_agreement_filter_is_a_percentage_as_label_studio_enterprises(sdk, make_user):
    """``filter:tasks:agreement`` as Label Studio Enterprise has it: a percentage, 0 to 100 (it was
    filtered as a share, 0 to 1, so the SDK's "agreement >= 50" found nothing)."""
    from labeling.db import write_session

    ls, pid, ids = sdk
    ann = make_user("sdk-agree-ann@example.com", Role.annotator)
    annotator = LabelStudio(base_url=ls._client_wrapper.get_base_url(), api_key=ann.token)
    for tid, label in zip(ids[:3], ("pos", "neg", "pos"), strict=True):
        annotator.annotations.create(id=tid, result=[{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                                      "value": {"choices": [label]}}])
    ls.actions.create(id="accept", project=pid, selected_items={"all": False, "included": ids[:3]})
    with write_session() as s:  # a reviewer's decision overrode the annotator on task 1: no agreement
        t = s.get(Task, ids[1])
        t.final_label = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
        t.final_source = "reviewer"
    at_least_half = Filters.create(Filters.AND, [
        Filters.item(Column.agreement, Operator.GREATER_OR_EQUAL, Type.Number, Filters.value(50))])
    assert at_least_half["items"][0]["filter"] == "filter:tasks:agreement"
    assert _ids(ls, pid, {"filters": at_least_half}) == [ids[0], ids[2]]
    full = Filters.create(Filters.AND, [Filters.item(Column.agreement, Operator.IN, Type.Number, Filters.value(99, 100))])
    assert _ids(ls, pid, {"filters": full}) == [ids[0], ids[2]]
    none = Filters.create(Filters.AND, [Filters.item(Column.agreement, Operator.LESS, Type.Number, Filters.value(1))])
    assert _ids(ls, pid, {"filters": none}) == [ids[1]]
    assert _ids(ls, pid, {"filters": at_least_half, "ordering": ["tasks:agreement"]}) == [ids[0], ids[2]]


def test_tasks_list_of_a_view_alone_takes_the_views_project(sdk):
    """Label Studio's ``GET /api/tasks?view=ID``: the view names its project."""
    ls, pid, ids = sdk
    filters = Filters.create(Filters.AND, [Filters.item(Column.data("lang"), Operator.EQUAL, Type.String,
                                                        Filters.value("fr"))])
    view = ls.views.create(project=pid, data={"title": "french", "filters": filters})
    assert [t.id for t in ls.tasks.list(view=view.id)] == [ids[1]]


def test_tasks_list_of_neither_project_nor_view_is_label_studios_404(sdk):
    ls, _, _ = sdk
    with pytest.raises(ApiError) as err:
        list(ls.tasks.list())
    assert err.value.status_code == 404 and err.value.body["detail"] == "Neither project nor view id specified"
