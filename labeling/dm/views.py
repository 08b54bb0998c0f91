"""Saved Data Manager views (Label Studio's tabs): a title, filters, ordering, hidden columns...

Stored and answered as Label Studio's ``/api/dm/views`` does: ``data`` is the front end's
dict, kept whole; a PATCH with ``data`` replaces it except for ``filters`` and ``ordering``, which
stay unless the new data has its own (Label Studio keeps them apart from the rest of ``data``: a
script that renames a view keeps its filters there, so it does here). ``filters`` and ``ordering`` are checked by :mod:`labeling.dm.filters` when saved, so a view can
never hold a filter that would later be ignored. Reviewers and leads (who see every task) may
list views and add their own; changing or deleting another's view needs the lead role.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import can, require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.dm import filters
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import DmView, User

MAX_DATA_CHARS = 100_000
MAX_VIEWS = 200  # per project


def view_json(view: DmView) -> dict[str, Any]:
    """A view in Label Studio's shape (``ViewSerializer``)."""
    return {"id": view.id, "filter_group": None, "data": view.data, "ordering": view.data.get("ordering"),
            "selected_items": view.selected_items, "user": view.user_id, "project": view.project_id,
            "order": view.order}


def _check_data(data: Any) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Invalid("a view's data must be an object (title, filters, ordering, hiddenColumns...)",
                      [{"field": "data", "detail": "must be an object"}])
    if len(json.dumps(data)) > MAX_DATA_CHARS:
        raise Invalid(f"a view's data is at most {MAX_DATA_CHARS} characters of JSON",
                      [{"field": "data", "detail": "too large"}])
    filters.parse({"filters": data.get("filters"), "ordering": data.get("ordering") or []})
    return data


def _check_selected(selected: Any) -> dict | None:
    if selected is None:
        return None
    params = filters.parse({"selectedItems": selected})
    return params.selectedItems.model_dump() if params.selectedItems else None


def _check_order(order: Any) -> int | None:
    if order is not None and (isinstance(order, bool) or not isinstance(order, int) or abs(order) > 2**31 - 1):
        raise Invalid("order must be an integer", [{"field": "order", "detail": "must be a 32-bit integer"}])
    return order


def _get(s: Session, user: User, view_id: int, *, write: bool) -> DmView:
    view = s.get(DmView, view_id)
    if view is None:
        raise NotFound(f"view {view_id} not found")
    project = require_project(s, user, view.project_id, "see_all")
    if write and view.user_id != user.id and not can(s, user, project, "manage"):
        raise Forbidden(f"view {view_id} is another user's; only its author or a lead may change it")
    return view


def list_views(user: User, project_id: int) -> list[DmView]:
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        return list(s.exec(select(DmView).where(DmView.project_id == project_id)
                           .order_by(sa.func.coalesce(DmView.order, 0), DmView.id)))


def get_view(user: User, view_id: int) -> DmView:
    with read_session() as s:
        return _get(s, user, view_id, write=False)


def create_view(user: User, project_id: int, *, data: Any = None, selected_items: Any = None,
                order: int | None = None) -> DmView:
    data, selected, order = _check_data(data), _check_selected(selected_items), _check_order(order)
    with unit_of_work() as s:
        require_project(s, user, project_id, "see_all")
        n, top = s.execute(select(sa.func.count(), sa.func.max(DmView.order))
                           .where(DmView.project_id == project_id)).one()
        if n >= MAX_VIEWS:
            raise Invalid(f"a project has at most {MAX_VIEWS} views", [{"field": "project", "detail": "too many"}])
        view = DmView(project_id=project_id, user_id=user.id, data=data, selected_items=selected,
                      order=order if order is not None else (top or 0) + (1 if n else 0))
        s.add(view)
        s.flush()
        return view


def _kept(old: dict, new: dict) -> dict:
    """``new`` with the ``filters`` and ``ordering`` of ``old`` where it has none, as Label Studio's
    ``ViewSerializer.update`` leaves them: filters without a conjunction, an empty ordering."""
    filters_given = isinstance(new.get("filters"), dict) and new["filters"].get("conjunction")
    if not filters_given and old.get("filters"):
        new["filters"] = old["filters"]
    if not new.get("ordering") and old.get("ordering"):
        new["ordering"] = old["ordering"]
    return new


def update_view(user: User, view_id: int, *, changes: dict[str, Any]) -> DmView:
    """Change ``data`` (replaced, but for filters and ordering it does not name), ``selected_items``
    or ``order`` of a view."""
    with unit_of_work() as s:
        view = _get(s, user, view_id, write=True)
        if "project" in changes and changes["project"] not in (None, view.project_id):
            raise Invalid("a view cannot move to another project", [{"field": "project", "detail": "read-only"}])
        if "data" in changes:
            view.data = _kept(view.data or {}, dict(_check_data(changes["data"])))
        if "selected_items" in changes:
            view.selected_items = _check_selected(changes["selected_items"])
        if "order" in changes:
            view.order = _check_order(changes["order"])
        view.updated_at = utcnow()
        s.add(view)
        s.flush()
        return view


def delete_view(user: User, view_id: int) -> None:
    with unit_of_work() as s:
        view = _get(s, user, view_id, write=True)
        s.delete(view)


def reset_views(user: User, project_id: int) -> int:
    """Delete every view of a project (Label Studio's ``DELETE /api/dm/views/reset``): leads."""
    with unit_of_work() as s:
        require_project(s, user, project_id, "manage")
        return s.execute(sa.delete(DmView).where(DmView.project_id == project_id)).rowcount


def order_views(user: User, project_id: int, ids: list[int]) -> None:
    """Give the views their places in the order of ``ids`` (Label Studio's ``/api/dm/views/order``)."""
    with unit_of_work() as s:
        require_project(s, user, project_id, "see_all")
        views = {v.id: v for v in s.exec(select(DmView).where(DmView.project_id == project_id,
                                                              DmView.id.in_(ids)))}
        missing = [i for i in ids if i not in views]
        if missing:
            raise NotFound(f"no view {missing[0]} in project {project_id}")
        for place, view_id in enumerate(ids):
            views[view_id].order = place
            s.add(views[view_id])


def view_params(user: User, project_id: int, view_id: int) -> filters.PrepareParams:
    """The query a view stands for (its filters, ordering and selected items), as Label
    Studio's ``get_prepare_tasks_params(add_selected_items=True)``."""
    view = get_view(user, view_id)
    if view.project_id != project_id:
        raise filters.BadQuery("Project and View mismatch", [{"field": "view", "detail": "of another project"}])
    return filters.parse({**view.data, "filters": view.data.get("filters"),
                          "ordering": view.data.get("ordering") or [], "selectedItems": view.selected_items})
