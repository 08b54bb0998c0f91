"""Label Studio's annotation drafts over REST: ``GET/POST /api/tasks/ID/drafts``,
``GET/POST /api/tasks/ID/annotations/ID/drafts`` and ``GET/PUT/PATCH/DELETE /api/drafts/ID``
(:mod:`labeling.drafts`), answering in Label Studio's draft shape (``wire.draft_json``)."""

from __future__ import annotations

from flask import jsonify

from labeling import drafts, wire
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import json_body


def _views(found: list) -> list[dict]:
    authors = drafts.authors(found)
    return [wire.draft_json(d, authors[d.user_id]) for d in found]


def _view(draft) -> dict:
    return _views([draft])[0]


@bp.get("/tasks/<int:task_id>/drafts")
@doc(summary="A task's drafts (an annotator sees their own)", responses={200: list[wire.Draft]}, tags=('annotations',))
def list_task_drafts(task_id: int):
    return jsonify(_views(drafts.list_drafts(api_user().user, task_id)))


@bp.get("/tasks/<int:task_id>/annotations/<int:annotation_id>/drafts")
@doc(summary="The drafts of an annotation's task (Label Studio lists the task's drafts here too)",
     responses={200: list[wire.Draft]}, tags=('annotations',))
def list_annotation_drafts(task_id: int, annotation_id: int):
    return jsonify(_views(drafts.list_drafts(api_user().user, task_id, annotation_id=annotation_id)))


@bp.post("/tasks/<int:task_id>/drafts")
@doc(summary="Save a draft of the caller's on a task", body=s.DraftBody, responses={201: wire.Draft},
     tags=('annotations',))
def create_task_draft(task_id: int):
    return jsonify(_view(drafts.create_draft(api_user().user, task_id, json_body()))), 201


@bp.post("/tasks/<int:task_id>/annotations/<int:annotation_id>/drafts")
@doc(summary="Save a draft of changes to an annotation (its author; reviewers and leads correct anyone's)",
     body=s.DraftBody, responses={201: wire.Draft}, tags=('annotations',))
def create_annotation_draft(task_id: int, annotation_id: int):
    return jsonify(_view(drafts.create_draft(api_user().user, task_id, json_body(), annotation_id=annotation_id))), 201


@bp.get("/drafts/<int:draft_id>")
@doc(summary="One draft (its author's; reviewers and leads see every one)", responses={200: wire.Draft},
     tags=('annotations',))
def get_draft(draft_id: int):
    return jsonify(_view(drafts.get_draft(api_user().user, draft_id)))


@bp.route("/drafts/<int:draft_id>", methods=["PATCH", "PUT"])
@doc(summary="Change a draft (its author)", body=s.DraftBody, responses={200: wire.Draft}, tags=('annotations',))
def update_draft(draft_id: int):
    return jsonify(_view(drafts.update_draft(api_user().user, draft_id, json_body())))


@bp.delete("/drafts/<int:draft_id>")
@doc(summary="Delete a draft (its author, or a lead of the project)", responses={204: None}, tags=('annotations',))
def delete_draft(draft_id: int):
    drafts.delete_draft(api_user().user, draft_id)
    return "", 204
