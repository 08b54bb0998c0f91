"""Checking results before they are stored: annotations, predictions, reviewers' labels and gold
answers all meet the same rules (docs/ARCHITECTURE.md, "labeling/ — the domain": ``validation``).

The rules themselves are the label schema's (:func:`labeling.schema.validate_result`); this
adds what needs the database (the image size of boxes) and turns problems into
:class:`~labeling.errors.Invalid` with one error row per problem.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from labeling.errors import Invalid
from labeling.models import Media, Project, Task
from labeling.schema import LabelSchema, schema_of, validate_result

__all__ = ["check_answer", "check_result"]

_MEDIA_SIZE = sa.select(Media.width, Media.height, Media.pages).where(Media.id == sa.bindparam("mid"))
_WHERE = re.compile(r"^(result\[\d+\])")


def check_result(conn: Connection, schema: LabelSchema, task: Any, result: Any, *, what: str = "annotation") -> list:
    """Raise Invalid unless ``result`` is a non-empty result that fits the project's label schema.

    Parameters
    ----------
    conn : Connection
        For the size of the task's image (boxes are checked against its ``Media`` row), or the
        page count of its PDF document (per-page answers).
    schema : LabelSchema
    task : Task or row
        With ``id``, ``data`` and ``media_id``.
    result : list of dict
    what : str
        What the result is, for messages (``annotation``, ``prediction``, ``answer``).

    Returns
    -------
    list of dict
        ``result``, unchanged.

    Raises
    ------
    Invalid
        Naming each problem: ``{"row": task id, "field": "result[i]", "detail": ...}``.
    """
    if not isinstance(result, list):
        raise Invalid(f"{what} result must be a list of result items, got {type(result).__name__}",
                      [{"row": task.id, "field": "result", "detail": "must be a list"}])
    if not result:
        raise Invalid(f"an empty {what} result for task {task.id}; label something, or skip the task "
                      "(was_cancelled: true)", [{"row": task.id, "field": "result", "detail": "empty"}])
    image_size = page_count = None
    boxes = any(c.type in ("rectanglelabels", "rectangle") for c in schema.controls)
    if task.media_id is not None and (boxes or any(c.per_item for c in schema.controls)):
        size = conn.execute(_MEDIA_SIZE, {"mid": task.media_id}).first()
        if size is not None and size.pages is not None:
            page_count = size.pages  # a PDF: per-page answers name one of its pages
        elif size is not None and size.width and size.height and boxes:
            image_size = (size.width, size.height)
    problems = validate_result(schema, result, task.data, image_size=image_size, page_count=page_count)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        errors = []
        for p in problems:
            m = _WHERE.match(p)
            errors.append({"row": task.id, "field": m.group(1) if m else "result", "detail": p})
        raise Invalid(f"{what} result refused for task {task.id}: {problems[0]}{more}", errors)
    return result




def check_answer(s: Session, project: Project, task: Task, result: Any, field: str) -> list:
    """:func:`check_result` for a label given in request field ``field`` (a reviewer's
    ``result``, a gold ``answer``): the error rows name ``field.result[i]``."""
    try:
        return check_result(s.connection(), schema_of(project), task, result, what=field)
    except Invalid as exc:
        for e in exc.errors:
            e["field"] = f"{field}.{e['field']}" if e.get("field") else field
        raise
