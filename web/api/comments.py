"""Comments over REST, as Label Studio has them (:mod:`labeling.comments`), and a task's story.

``GET/POST /api/comments`` (``?project=``, ``?task=``, ``?annotation=``, labelfab's
``?is_resolved=``), ``GET/PATCH/DELETE /api/comments/ID``; ``GET /api/tasks/ID/story``
(:mod:`labeling.story`, the task page's data). The request and answer models of the comments
live here, beside their only routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request
from pydantic import Field

from labeling import comments, story
from labeling.errors import Invalid
from labeling.limits import MAX_ID
from web.api import api_user, bp, readable
from web.api.describe import doc
from web.api.params import flag_field, int_arg, json_body, string_field
from web.api.schemas import Schema

TAGS = ("comments",)


class CommentsQuery(Schema):
    project: int | None = Field(None, description="the project's comments (one of project, task, annotation)")
    projects: str | None = Field(None, description="Label Studio's name of project (one id)")
    ordering: str | None = Field(None, description="id, -id, created_at or -created_at")
    expand_created_by: bool | None = Field(None, description="false only: created_by is the user's id")
    task: int | None = Field(None, description="one task's comments")
    annotation: int | None = Field(None, description="one annotation's comments")
    is_resolved: bool | None = Field(None, description="labelfab: only resolved (true) or unresolved (false) ones")


class Region(Schema):
    x: float = Field(ge=0, le=100)
    y: float = Field(ge=0, le=100)
    width: float = Field(ge=0, le=100)
    height: float = Field(ge=0, le=100)


class CommentBody(Schema):
    """Label Studio's comment body; ``region`` (a box in percent of the task's image) is labelfab's."""
    text: str | None = Field(None, max_length=comments.MAX_TEXT)
    task: int | None = Field(None, description="the task (or give the annotation)")
    annotation: int | None = None
    project: int | None = Field(None, description="checked against the task's project when given")
    is_resolved: bool | None = Field(None, description="leads and reviewers only")
    region: Region | None = None


class Comment(Schema):
    """Label Studio's ``Comment``, with labelfab's ``region`` and ``resolved_by``."""
    id: int
    text: str
    project: int
    task: int
    annotation: int | None
    draft: int | None
    created_by: int
    created_at: datetime
    updated_at: datetime
    is_resolved: bool
    resolved_at: datetime | None
    resolved_by: int | None = None
    region: Region | None = None


class TaskStory(Schema):
    """A task's whole story (labelfab): data, annotations with every version, predictions, the
    final label and its source, QC findings with their runs, review decisions, state changes,
    comments, and all of them in one time line."""
    task: dict[str, Any]
    final: dict[str, Any]
    annotations: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    events: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    timeline: list[dict[str, Any]]


def _id(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise Invalid(f"{name} must be an id (a whole number >= 1)", [{"field": name, "detail": "not an id"}])
    return value


def _flag_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise Invalid(f"{name} must be true or false", [{"field": name, "detail": "not a boolean"}])
    return raw.lower() in ("true", "1")


#: Label Studio's arguments and fields labelfab does not keep: refused, never ignored.
UNSUPPORTED_ARGS = ("annotators", "draft")
UNSUPPORTED_FIELDS = ("draft", "region_ref", "classifications")
ORDERINGS = {"id": ("id", False), "-id": ("id", True), "created_at": ("id", False), "-created_at": ("id", True)}


def _refuse(names, where: str) -> None:
    given = [n for n in names if n in where]
    if given:
        raise Invalid(f"labelfab does not keep comment {', '.join(given)}",
                      [{"field": n, "detail": "not supported"} for n in given])


def _project_arg() -> int | None:
    """``project``, or Label Studio's ``projects`` (the SDK sends it; one project id)."""
    raw = request.args.get("projects")
    if raw in (None, ""):
        return int_arg("project", None, minimum=1)
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise Invalid("projects must be one project id", [{"field": "projects", "detail": "one project id"}])
    return int(raw)


@bp.get("/comments")
@doc(query=CommentsQuery, responses={200: list[Comment]}, tags=TAGS)
def list_comments():
    """Comments of a project, task or annotation, oldest first (an annotator's: their own tasks' only)."""
    _refuse(UNSUPPORTED_ARGS, request.args)
    if _flag_arg("expand_created_by"):
        raise Invalid("created_by is the user's id here", [{"field": "expand_created_by", "detail": "not supported"}])
    ordering = request.args.get("ordering") or "id"
    if ordering not in ORDERINGS:
        raise Invalid(f"ordering is one of {', '.join(ORDERINGS)}", [{"field": "ordering", "detail": "unknown"}])
    found = comments.list_comments(api_user().user, project=_project_arg(),
                                   task=int_arg("task", None, minimum=1),
                                   annotation=int_arg("annotation", None, minimum=1),
                                   is_resolved=_flag_arg("is_resolved"))
    return jsonify(found[::-1] if ORDERINGS[ordering][1] else found)


@bp.post("/comments")
@doc(body=CommentBody, responses={201: Comment}, tags=TAGS)
def create_comment():
    """Comment on a task: an annotator flags a problem, a lead or reviewer answers."""
    body = json_body()
    _refuse(UNSUPPORTED_FIELDS, {k for k, v in body.items() if v is not None})
    made = comments.create_comment(api_user().user, text=string_field(body, "text"), task=_id(body, "task"),
                                   annotation=_id(body, "annotation"), project=_id(body, "project"),
                                   region=body.get("region"), is_resolved=bool(flag_field(body, "is_resolved")))
    return jsonify(made), 201


@bp.get("/comments/<int:comment_id>")
@doc(responses={200: Comment}, tags=TAGS)
def get_comment(comment_id: int):
    """One comment."""
    return jsonify(comments.get_comment(api_user().user, comment_id))


@bp.patch("/comments/<int:comment_id>")
@doc(body=CommentBody, responses={200: Comment}, tags=TAGS)
def update_comment(comment_id: int):
    """Change a comment's text (its author) or resolve it / open it again (leads, reviewers)."""
    body = json_body()
    _refuse(UNSUPPORTED_FIELDS, {k for k, v in body.items() if v is not None})
    return jsonify(comments.update_comment(api_user().user, comment_id, text=string_field(body, "text"),
                                           is_resolved=flag_field(body, "is_resolved")))


@bp.delete("/comments/<int:comment_id>")
@doc(responses={204: None}, tags=TAGS)
def delete_comment(comment_id: int):
    """Delete a comment (its author, or a lead of the project)."""
    comments.delete_comment(api_user().user, comment_id)
    return "", 204


@bp.get("/tasks/<int:task_id>/story")
@readable
@doc(responses={200: TaskStory}, tags=("tasks",))
def task_story(task_id: int):
    """A task's whole story, in time order (leads, reviewers, admins)."""
    return jsonify(story.task_story(api_user().user, task_id))
