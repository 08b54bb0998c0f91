"""Annotation drafts: Label Studio's ``AnnotationDraft``, the editor's autosave of a result not yet
submitted (``/api/tasks/ID/drafts``, ``/api/tasks/ID/annotations/ID/drafts``, ``/api/drafts/ID``).

A draft belongs to its author. A draft of a task is work towards the author's annotation; a draft
of an annotation (``annotation_id``) holds changes to it not saved yet. Who sees what follows the
annotations' rule (``access``): an annotator the drafts of their own, on a task they hold or
labelled; reviewers, leads and admins of the project every draft of it. Only the author changes a
draft; the author or someone who manages the project deletes one. Submitting an annotation with
Label Studio's ``draft_id`` deletes that draft in the submit's transaction (:func:`take_submitted`),
and a new annotation keeps the draft's creation time (``draft_created_at``).
Drafts never change a task's state and never reach an export or QC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from labeling.access import can, require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.limits import MAX_ID
from labeling.models import Annotation, AnnotationDraft, Project, Task, User
from labeling.tasks import task_for_user

__all__ = ["MAX_DRAFTS", "create_draft", "list_drafts", "get_draft", "update_draft", "delete_draft", "take_submitted",
           "delete_for_annotations", "authors"]

#: How many drafts one user keeps on one task (the editor keeps one and changes it).
MAX_DRAFTS = 20

#: The keys a draft's body may set (Label Studio's serializer: every field of its model).
FIELDS = {"result", "lead_time", "was_postponed", "import_id", "task", "annotation", "user"}


def _task(s, user: User, task_id: int) -> tuple[Task, Project, bool]:
    """The task if the user may see it (an annotator: one they hold or labelled), its project,
    and whether the user sees every draft there (:func:`labeling.tasks.task_for_user`)."""
    return task_for_user(s, user, task_id, "view")


def _values(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The fields a body sets, checked: ``result`` a list of objects (required unless ``partial``),
    ``lead_time`` seconds, ``was_postponed`` true or false, ``import_id`` a whole number."""
    out: dict[str, Any] = {}
    if "result" in body or not partial:
        result = body.get("result")
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise Invalid("a draft's result is a list of result objects",
                          [{"field": "result", "detail": "a list of objects"}])
        out["result"] = result
    if "lead_time" in body:
        lead = body["lead_time"]
        if lead is not None and (isinstance(lead, bool) or not isinstance(lead, int | float) or not 0 <= lead <= 1e9):
            raise Invalid("lead_time is a number of seconds", [{"field": "lead_time", "detail": "0 or more seconds"}])
        out["lead_time"] = float(lead) if lead is not None else None
    if "was_postponed" in body:
        if not isinstance(body["was_postponed"], bool):
            raise Invalid("was_postponed is true or false", [{"field": "was_postponed", "detail": "true or false"}])
        out["was_postponed"] = body["was_postponed"]
    if "import_id" in body:
        value = body["import_id"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID):
            raise Invalid("import_id is an id", [{"field": "import_id", "detail": "a whole number >= 1"}])
        out["import_id"] = value
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Invalid(f"unknown draft field(s): {', '.join(unknown)}", [{"field": k, "detail": "unknown"} for k in unknown])
    return out


def _same(body: dict[str, Any], key: str, value: Any, what: str) -> None:
    """Label Studio's body may repeat the draft's task, annotation or user: only as they are."""
    if key in body and body[key] is not None and body[key] != value:
        raise Invalid(f"a draft's {key} is {what}: it cannot be {body[key]!r}",
                      [{"field": key, "detail": f"is {value}"}])


def create_draft(user: User, task_id: int, body: dict[str, Any], *, annotation_id: int | None = None) -> AnnotationDraft:
    """A new draft of the user's on a task they may annotate (or of an annotation of it they may
    change: their own; a reviewer's or lead's correction of anyone's)."""
    values = _values(body, partial=False)
    with write_session() as s:
        task, project, privileged = _task(s, user, task_id)
        require_project(s, user, project.id, "annotate")
        _same(body, "task", task_id, f"task {task_id}")
        _same(body, "annotation", annotation_id, f"annotation {annotation_id}")
        _same(body, "user", user.email, user.email)
        if annotation_id is not None:
            ann = s.get(Annotation, annotation_id)
            if ann is None or ann.task_id != task_id or (ann.user_id != user.id and not privileged):
                raise NotFound(f"annotation {annotation_id} of task {task_id} not found")
        kept = s.execute(select(sa.func.count()).select_from(AnnotationDraft).where(
            AnnotationDraft.task_id == task_id, AnnotationDraft.user_id == user.id)).scalar_one()
        if kept >= MAX_DRAFTS:
            raise Conflict(f"you keep {kept} drafts of task {task_id}, the most one user may: change one "
                           "(PATCH /api/drafts/ID) or delete some", [{"field": "task", "detail": f"{kept} drafts"}])
        now = utcnow()
        draft = AnnotationDraft(task_id=task_id, annotation_id=annotation_id, user_id=user.id, created_at=now,
                                updated_at=now, **values)
        s.add(draft)
        s.flush()
        s.expunge(draft)
        return draft


def list_drafts(user: User, task_id: int, *, annotation_id: int | None = None) -> list[AnnotationDraft]:
    """The drafts of a task the user may see (Label Studio lists the task's drafts under both
    routes, the annotation's too), oldest first."""
    with read_session() as s:
        _, _, privileged = _task(s, user, task_id)
        q = select(AnnotationDraft).where(AnnotationDraft.task_id == task_id).order_by(AnnotationDraft.id)
        if not privileged:
            q = q.where(AnnotationDraft.user_id == user.id)
        return list(s.exec(q))


def _draft(s, user: User, draft_id: int) -> tuple[AnnotationDraft, Project]:
    draft = s.get(AnnotationDraft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    task = s.get(Task, draft.task_id)
    project = require_project(s, user, task.project_id, "view")
    if draft.user_id != user.id and not can(s, user, project, "see_all"):
        raise NotFound(f"draft {draft_id} not found")
    return draft, project


def get_draft(user: User, draft_id: int) -> AnnotationDraft:
    """A draft: the user's own, or any of a project where they see every annotation."""
    with read_session() as s:
        return _draft(s, user, draft_id)[0]


def update_draft(user: User, draft_id: int, body: dict[str, Any]) -> AnnotationDraft:
    """Change a draft's result, lead time or ``was_postponed`` (its author only; PUT and PATCH
    alike: a result is kept unless sent)."""
    values = _values(body, partial=True)
    with write_session() as s:
        draft, _ = _draft(s, user, draft_id)
        if draft.user_id != user.id:
            raise Forbidden(f"draft {draft_id} is another user's: only its author changes it")
        _same(body, "task", draft.task_id, f"task {draft.task_id}")
        _same(body, "annotation", draft.annotation_id, f"annotation {draft.annotation_id}")
        _same(body, "user", user.email, user.email)
        for key, value in values.items():
            setattr(draft, key, value)
        draft.updated_at = utcnow()
        s.add(draft)
        s.flush()
        s.expunge(draft)
        return draft


def delete_draft(user: User, draft_id: int) -> None:
    """Delete a draft (its author, or someone who manages its project)."""
    with write_session() as s:
        draft, project = _draft(s, user, draft_id)
        if draft.user_id != user.id and not can(s, user, project, "manage"):
            raise Forbidden(f"draft {draft_id} is another user's: its author or a lead of the project deletes it")
        s.execute(sa.delete(AnnotationDraft).where(AnnotationDraft.id == draft_id))


def take_submitted(conn: Any, user_id: int, draft_id: int, task_id: int) -> datetime | None:
    """A submit's ``draft_id`` (Label Studio's), in the submit's transaction: the user's own draft
    of that task (403 otherwise, as Label Studio), deleted with the annotation's storing. Returns
    the draft's ``created_at``, which Label Studio keeps as the annotation's ``draft_created_at``;
    None for a draft already gone (no error)."""
    table = AnnotationDraft.__table__
    row = conn.execute(sa.select(table.c.task_id, table.c.user_id, table.c.created_at)
                       .where(table.c.id == draft_id)).first()
    if row is None:
        return None
    if row.task_id != task_id or row.user_id != user_id:
        raise Forbidden(f"You have no permission to draft id:{draft_id}")
    conn.execute(sa.delete(table).where(table.c.id == draft_id))
    return row.created_at


def delete_for_annotations(conn: Any, annotation_ids: Any) -> None:
    """Delete the drafts of annotations being deleted, in the caller's transaction (Label
    Studio's drafts go with their annotation)."""
    conn.execute(sa.delete(AnnotationDraft.__table__).where(AnnotationDraft.__table__.c.annotation_id.in_(annotation_ids)))


def authors(draft_list: list[AnnotationDraft]) -> dict[int, User]:
    """The authors of drafts, by id (for their ``user`` and ``created_username``)."""
    ids = {d.user_id for d in draft_list}
    if not ids:
        return {}
    with read_session() as s:
        return {u.id: u for u in s.exec(select(User).where(User.id.in_(ids)))}
