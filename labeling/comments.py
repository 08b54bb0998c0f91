"""Comments on tasks, as Label Studio's ``/api/comments`` has them.

An annotator flags a problem with a task they hold or labeled (the labeling page's key and box);
the project's leads and reviewers answer (a comment of their own on the task) and resolve. Who
sees what:

- leads, reviewers and admins of the project see and answer every comment of its tasks, and
  resolve or reopen any;
- an annotator sees only the comments of tasks they hold or labeled, writes comments only there,
  and changes or deletes only their own (never resolves);
- the author edits the text; the author or a lead deletes.

A comment is Label Studio's shape (:func:`comment_json`: ``id``, ``text``, ``project``,
``task``, ``annotation``, ``draft``, ``created_by``, ``created_at``, ``updated_at``,
``is_resolved``, ``resolved_at``) with labelfab's ``region`` (a box on the task's image, in
percent) and ``resolved_by``. The task list carries Label Studio's ``comment_count``,
``unresolved_comment_count``, ``last_comment_updated_at`` and ``comment_authors``
(:func:`counts`), and the Data Manager filters on the two counts.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import ACTIONS, project_role, require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.limits import check_text
from labeling.models import Annotation, Comment, Lease, Project, Task, User

MAX_TEXT = 10_000
MAX_LIST = 1_000


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment in Label Studio's shape, with labelfab's ``region`` and ``resolved_by``."""
    return {"id": c.id, "text": c.text, "project": c.project_id, "task": c.task_id, "annotation": c.annotation_id,
            "draft": None, "created_by": c.created_by, "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(), "is_resolved": c.is_resolved,
            "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None,
            "resolved_by": c.resolved_by, "region": c.region}


def task_comments(s: Session, task_id: int) -> list[dict[str, Any]]:
    """Every comment of a task, oldest first (the caller has checked access)."""
    return [comment_json(c) for c in s.exec(select(Comment).where(Comment.task_id == task_id).order_by(Comment.id))]


#: The comments of some tasks (``ids``), built once: building the statement cost several times
#: what running it does (0.34-0.49 ms against 0.07 ms for one task on SQLite), and a webhook's
#: task payload runs it inside an annotation submit.
_COUNTS = (sa.select(Comment.task_id, Comment.is_resolved, Comment.updated_at, Comment.created_by)
           .where(Comment.task_id.in_(sa.bindparam("ids", expanding=True))).order_by(Comment.id))


def counts(s: Session, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Label Studio's comment keys of a task list, for the given tasks (one query)."""
    if not task_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = s.execute(_COUNTS, {"ids": list(task_ids)}).all()
    for task_id, resolved, updated, author in rows:
        c = out.setdefault(task_id, {"comment_count": 0, "unresolved_comment_count": 0,
                                     "last_comment_updated_at": None, "comment_authors": []})
        c["comment_count"] += 1
        c["unresolved_comment_count"] += 0 if resolved else 1
        if c["last_comment_updated_at"] is None or updated.isoformat() > c["last_comment_updated_at"]:
            c["last_comment_updated_at"] = updated.isoformat()
        if author not in c["comment_authors"]:
            c["comment_authors"].append(author)
    return out


def empty_counts() -> dict[str, Any]:
    return {"comment_count": 0, "unresolved_comment_count": 0, "last_comment_updated_at": None,
            "comment_authors": []}


def _role(s: Session, user: User, project: Project) -> str:
    role = project_role(s, user, project)
    if role is None:
        raise NotFound(f"project {project.id} not found")
    return role


def _own_task(s: Session, user: User, task_id: int) -> bool:
    """The task is one the user holds (a lease) or labeled."""
    return s.execute(select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id == user.id)
                     .union_all(select(Lease.id).where(Lease.task_id == task_id, Lease.user_id == user.id))
                     .limit(1)).first() is not None


def _task_in_reach(s: Session, user: User, task_id: int) -> tuple[Task, str]:
    """The task and the user's role, if the user may see its comments; NotFound otherwise."""
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    project = require_project(s, user, task.project_id, "view")
    role = _role(s, user, project)
    if role not in ACTIONS["see_all"] and not _own_task(s, user, task_id):
        raise NotFound(f"task {task_id} not found")
    return task, role


def _annotation_in_reach(s: Session, user: User, annotation_id: int) -> tuple[Annotation, Task, str]:
    """The annotation, its task and the user's role, if the user may see it; otherwise one
    NotFound naming only the annotation (never the task it belongs to)."""
    ann = s.get(Annotation, annotation_id)
    try:
        if ann is None:
            raise NotFound("no annotation")
        task, role = _task_in_reach(s, user, ann.task_id)
        if role not in ACTIONS["see_all"] and ann.user_id != user.id:
            raise NotFound("not theirs")
    except NotFound:
        raise NotFound(f"annotation {annotation_id} not found") from None
    return ann, task, role


def _region(value: Any) -> dict | None:
    """A box in percent of the image, or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"x", "y", "width", "height"} or len(value) != 4:
        raise Invalid("region is a box {x, y, width, height} in percent",
                      [{"field": "region", "detail": "expected x, y, width, height"}])
    box = {}
    for key in ("x", "y", "width", "height"):
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= 100:
            raise Invalid(f"region.{key} must be a number from 0 to 100",
                          [{"field": f"region.{key}", "detail": "a number from 0 to 100"}])
        box[key] = round(float(v), 4)
    if box["x"] + box["width"] > 100.0001 or box["y"] + box["height"] > 100.0001:
        raise Invalid("the region leaves the image", [{"field": "region", "detail": "outside the image"}])
    return box


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a comment needs its text", [{"field": "text", "detail": "required"}])
    return check_text(value.strip(), "text", max_chars=MAX_TEXT)


def create_comment(user: User, *, text: Any, task: int | None = None, annotation: int | None = None,
                   project: int | None = None, region: Any = None, is_resolved: bool = False) -> dict[str, Any]:
    """A new comment on a task (Label Studio's ``POST /api/comments``).

    ``task`` or ``annotation`` names the task (Label Studio's comments hang on an annotation
    or a draft; labelfab's on the task, with the annotation when given); ``project``, when
    given, must be the task's.

    Raises
    ------
    Invalid
        No task, no text, a bad region, or a project or annotation of another task.
    NotFound
        The user cannot see the task (an annotator: a task they neither hold nor labeled).
    Forbidden
        An annotator creating a resolved comment, or a read token.
    """
    body = _text(text)
    box = _region(region)
    with unit_of_work() as s:
        ann = None
        if annotation is not None:
            ann, row, role = _annotation_in_reach(s, user, annotation)
            if task is not None and task != ann.task_id:
                raise Invalid(f"annotation {annotation} is not one of task {task}'s",
                              [{"field": "annotation", "detail": "of another task"}])
            task = ann.task_id
        if task is None:
            raise Invalid("name the task (or annotation) the comment is about", [{"field": "task", "detail": "required"}])
        if ann is None:
            row, role = _task_in_reach(s, user, task)
        if project is not None and project != row.project_id:
            raise Invalid(f"task {task} is not in project {project}", [{"field": "project", "detail": "another project"}])
        if is_resolved and role not in ACTIONS["review"]:
            raise Forbidden("only the project's leads and reviewers resolve comments")
        now = utcnow()
        c = Comment(project_id=row.project_id, task_id=row.id, annotation_id=ann.id if ann else None, text=body,
                    region=box, is_resolved=bool(is_resolved), resolved_at=now if is_resolved else None,
                    resolved_by=user.id if is_resolved else None, created_by=user.id, created_at=now, updated_at=now)
        s.add(c)
        s.flush()
        return comment_json(c)


def list_comments(user: User, *, project: int | None = None, task: int | None = None,
                  annotation: int | None = None, is_resolved: bool | None = None) -> list[dict[str, Any]]:
    """Comments the user may see (Label Studio's ``GET /api/comments?project=&task=&annotation=``),
    oldest first; an annotator's list holds only the comments of their own tasks."""
    if project is None and task is None and annotation is None:
        raise Invalid("name a project, task or annotation: /api/comments?project=ID",
                      [{"field": "project", "detail": "required"}])
    with read_session() as s:
        q = select(Comment)
        if task is not None:
            _task_in_reach(s, user, task)
            q = q.where(Comment.task_id == task)
        if annotation is not None:
            _annotation_in_reach(s, user, annotation)
            q = q.where(Comment.annotation_id == annotation)
        if project is not None:
            p = require_project(s, user, project, "view")
            q = q.where(Comment.project_id == project)
            if _role(s, user, p) not in ACTIONS["see_all"]:
                mine = (select(Annotation.task_id).where(Annotation.user_id == user.id)
                        .union(select(Lease.task_id).where(Lease.user_id == user.id)))
                q = q.where(Comment.task_id.in_(mine))
        if is_resolved is not None:
            q = q.where(Comment.is_resolved == sa.true() if is_resolved else Comment.is_resolved == sa.false())
        return [comment_json(c) for c in s.exec(q.order_by(Comment.id).limit(MAX_LIST))]


def _comment_in_reach(s: Session, user: User, comment_id: int) -> tuple[Comment, str]:
    c = s.get(Comment, comment_id)
    if c is None:
        raise NotFound(f"comment {comment_id} not found")
    try:
        _, role = _task_in_reach(s, user, c.task_id)
    except NotFound:
        raise NotFound(f"comment {comment_id} not found") from None
    return c, role


def get_comment(user: User, comment_id: int) -> dict[str, Any]:
    with read_session() as s:
        return comment_json(_comment_in_reach(s, user, comment_id)[0])


def update_comment(user: User, comment_id: int, *, text: Any = None, is_resolved: bool | None = None) -> dict:
    """Change a comment (Label Studio's ``PATCH /api/comments/ID``): its author edits the text;
    the project's leads and reviewers resolve it or open it again."""
    with unit_of_work() as s:
        c, role = _comment_in_reach(s, user, comment_id)
        now = utcnow()
        if text is not None:
            if c.created_by != user.id:
                raise Forbidden(f"comment {comment_id} is another user's; only its author may change its text")
            c.text = _text(text)
        if is_resolved is not None and bool(is_resolved) != c.is_resolved:
            if role not in ACTIONS["review"]:
                raise Forbidden("only the project's leads and reviewers resolve comments")
            c.is_resolved = bool(is_resolved)
            c.resolved_at = now if c.is_resolved else None
            c.resolved_by = user.id if c.is_resolved else None
        c.updated_at = now
        s.add(c)
        s.flush()
        return comment_json(c)


def delete_comment(user: User, comment_id: int) -> None:
    """Delete a comment: its author, or a lead of the project."""
    with unit_of_work() as s:
        c, role = _comment_in_reach(s, user, comment_id)
        if c.created_by != user.id and role not in ACTIONS["manage"]:
            raise Forbidden(f"comment {comment_id} is another user's; only its author or a lead may delete it")
        s.delete(c)
