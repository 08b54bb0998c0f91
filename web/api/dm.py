"""Label Studio's Data Manager over REST: views (tabs) and actions.

``GET/POST /api/dm/views``, ``GET/PATCH/PUT/DELETE /api/dm/views/ID``, ``DELETE
/api/dm/views/reset``, ``POST /api/dm/views/order``, ``GET/POST /api/dm/actions``. The
filters themselves are :mod:`labeling.dm.filters`; ``GET /api/tasks?query=...|view=ID``
applies them (``web.api.projects``).
"""

from __future__ import annotations

from flask import jsonify, request

from labeling.dm import actions, filters, views
from labeling.errors import Invalid
from labeling.limits import MAX_ID
from web.api import api_user, bp, readable
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg, json_body

TAGS = ("data manager",)


def _project_field(body: dict) -> int:
    project_id = body.get("project")
    if isinstance(project_id, bool) or not isinstance(project_id, int) or not 0 < project_id <= MAX_ID:
        raise Invalid("give the project", [{"field": "project", "detail": "required, an id"}])
    return project_id


def _project_arg() -> int:
    project_id = int_arg("project", 0)
    if not project_id:
        raise Invalid("give the project: ?project=ID", [{"field": "project", "detail": "required"}])
    return project_id


# --------------------------------------------------------------------------- views


@bp.get("/dm/views")
@readable
@doc(query=s.DmProjectQuery, responses={200: list[s.DmView]}, tags=TAGS)
def dm_list_views():
    """A project's Data Manager views (tabs), in their order."""
    return jsonify([views.view_json(v) for v in views.list_views(api_user().user, _project_arg())])


@bp.post("/dm/views")
@doc(body=s.DmViewBody, responses={201: s.DmView}, tags=TAGS)
def dm_create_view():
    """Save a view: ``data`` with its title, filters, ordering, hiddenColumns..."""
    body = json_body()
    project_id = _project_field(body)
    view = views.create_view(api_user().user, project_id, data=body.get("data"),
                             selected_items=body.get("selected_items"), order=body.get("order"))
    return jsonify(views.view_json(view)), 201


@bp.delete("/dm/views/reset")
@doc(query=s.DmProjectQuery, responses={204: None}, tags=TAGS)
def dm_reset_views():
    """Delete every view of a project (leads)."""
    views.reset_views(api_user().user, _project_arg())
    return "", 204


@bp.post("/dm/views/order")
@doc(body=s.DmViewOrderBody, responses={200: None}, tags=TAGS)
def dm_order_views():
    """Put a project's views in the order of ``ids``."""
    body = json_body()
    project_id, ids = _project_field(body), body.get("ids")
    if not isinstance(ids, list) or len(ids) > views.MAX_VIEWS \
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids):
        raise Invalid("ids must be a list of view ids", [{"field": "ids", "detail": "a list of ids"}])
    views.order_views(api_user().user, project_id, ids)
    return "", 200


@bp.get("/dm/views/<int:view_id>")
@readable
@doc(responses={200: s.DmView}, tags=TAGS)
def dm_get_view(view_id: int):
    """One Data Manager view."""
    return jsonify(views.view_json(views.get_view(api_user().user, view_id)))


@bp.route("/dm/views/<int:view_id>", methods=["PATCH", "PUT"])
@doc(body=s.DmViewBody, responses={200: s.DmView}, tags=TAGS)
def dm_update_view(view_id: int):
    """Change a view: ``data`` is replaced whole, as in Label Studio."""
    body = json_body()
    unknown = sorted(set(body) - {"data", "selected_items", "order", "project", "id", "user", "filter_group",
                                  "ordering"})
    if unknown:
        raise Invalid(f"unknown view field(s): {', '.join(unknown)}",
                      [{"field": k, "detail": "unknown field"} for k in unknown])
    changes = {k: body[k] for k in ("data", "selected_items", "order", "project") if k in body}
    return jsonify(views.view_json(views.update_view(api_user().user, view_id, changes=changes)))


@bp.delete("/dm/views/<int:view_id>")
@doc(responses={204: None}, tags=TAGS)
def dm_delete_view(view_id: int):
    """Delete a view (its author, or a lead)."""
    views.delete_view(api_user().user, view_id)
    return "", 204


# --------------------------------------------------------------------------- actions


@bp.get("/dm/actions")
@readable
@doc(query=s.DmProjectQuery, responses={200: list[s.DmAction]}, tags=TAGS)
def dm_list_actions():
    """The actions the Data Manager can run on a selection of tasks."""
    return jsonify(actions.list_actions(api_user().user, _project_arg()))


@bp.post("/dm/actions")
@doc(query=s.DmActionQuery, body=s.DmActionBody, responses={200: s.DmActionResult}, tags=TAGS)
def dm_perform_action():
    """Run an action on the tasks a view, or the body's filters and selectedItems, select (leads)."""
    project_id = _project_arg()
    action_id = request.args.get("id")
    user = api_user().user
    view_id = int_arg("view", 0)
    body = request.get_json(silent=True)
    if view_id:
        params = views.view_params(user, project_id, view_id)
    elif "query" in request.args:
        params = filters.parse(request.args["query"])
    else:
        params = filters.parse(body if body is not None else {})
    options = {k: body[k] for k in ("reason", "more") if k in body} if isinstance(body, dict) else {}
    return jsonify(actions.perform(user, project_id, action_id, params, options))
