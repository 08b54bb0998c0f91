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

from labeling.models import Role

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
        Filters.item(Column.agreement, Operator.GREATER, Type.Number, Filters.value(0.5))])  # Enterprise only
    with pytest.raises(ApiError) as err:
        list(ls.tasks.list(project=pid, query=json.dumps({"filters": unknown})))
    assert err.value.status_code == 400 and "filter:tasks:agreement" in err.value.body["detail"]


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
