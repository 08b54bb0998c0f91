"""A lead's acts on a selection of tasks (the Data Manager's, :mod:`labeling.dm.actions`), each in
the caller's transaction through :func:`labeling.lifecycle.move_planned` (one event per task
moved; a task that cannot make the move is reported and left as it is)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from labeling import lifecycle
from labeling.aggregation import people_label
from labeling.errors import Invalid
from labeling.models import Lease, Project, Task, TaskState, User
from labeling.review.queue import results_of
from labeling.schema import schema_of

__all__ = ["accept_many", "exclude_many", "include_many", "lock_selection", "release_places", "reopen_many",
           "send_to_review_many"]

_T = Task.__table__
_L = Lease.__table__
_JSON = {"final_label": sa.JSON(none_as_null=True)}
_LABELLED = (TaskState.labeled, TaskState.review, TaskState.accepted, TaskState.excluded)


def lock_selection(s: Session, project_id: int, task_ids: list[int]) -> list[sa.Row]:
    """The rows of the project's tasks ``task_ids``, locked (in id order), with what the acts on
    a selection read: id, state, is_gold, n_annotations, target_overlap, final_label."""
    return list(s.execute(sa.select(_T.c.id, _T.c.state, _T.c.is_gold, _T.c.n_annotations, _T.c.target_overlap,
                                    _T.c.final_label)
                          .where(_T.c.project_id == project_id, _T.c.id.in_(task_ids))
                          .order_by(_T.c.id).with_for_update()).all())


def release_places(s: Session, task_ids: list[int]) -> None:
    """Drop every lease on tasks that just changed state (annotation or review)."""
    for i in range(0, len(task_ids), 500):
        chunk = task_ids[i:i + 500]
        s.execute(sa.delete(_L).where(_L.c.task_id.in_(chunk)))
        s.execute(sa.update(_T).where(_T.c.id.in_(chunk)).values(n_leases=0))


def _act(s: Session, project: Project, rows: list, plan, user: User, now: datetime) -> lifecycle.PlanOutcome:
    """Plan each row (``plan(row) -> Planned | dict``: a dict is a refusal), make the moves."""
    plans, refused = [], []
    for row in rows:
        if row.is_gold:
            refused.append({"id": row.id, "state": row.state, "detail": "a gold task: unmark it as gold first"})
            continue
        p = plan(row)
        (refused if isinstance(p, dict) else plans).append(p)
    out = lifecycle.move_planned(s, plans, cause=lifecycle.Cause.curate, project_id=project.id, user_id=user.id,
                                 now=now, column_types=_JSON)
    release_places(s, out.moved)
    out.refused = refused + out.refused
    return out


def _refusal(row, detail: str) -> dict:
    return {"id": row.id, "state": row.state, "detail": detail}


def send_to_review_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime, *,
                        reason: str = "") -> lifecycle.PlanOutcome:
    """Send labeled, accepted or excluded tasks to the review queue (their final label withdrawn
    until a reviewer decides); open tasks are refused (nothing to review yet)."""
    why = "sent to review by a lead" + (f": {reason}" if reason else "")

    def plan(row):
        if row.state not in _LABELLED:
            return _refusal(row, "not labeled yet: nothing to review")
        return lifecycle.Planned(row.id, row.state, TaskState.review, why,
                                 {"final_label": None, "final_source": None})

    return _act(s, project, lock_selection(s, project.id, task_ids), plan, user, now)


def reopen_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime, *, more: int = 1,
                reason: str = "") -> lifecycle.PlanOutcome:
    """Send tasks back to annotators for ``more`` labels from annotators who have not labelled
    them (overlap raised, served first, final label dropped), as QC's relabel route does; a
    task whose overlap would pass the project's maximum is refused."""
    if isinstance(more, bool) or not isinstance(more, int) or not 1 <= more <= 50:
        raise Invalid("more must be a whole number from 1 to 50", [{"field": "more", "detail": "1 to 50"}])

    def plan(row):
        target = max(row.target_overlap, row.n_annotations) + more
        if target > project.max_overlap:
            return _refusal(row, f"overlap {target} would pass the project's maximum ({project.max_overlap})")
        return lifecycle.Planned(row.id, row.state, TaskState.open,
                                 f"reopened by a lead: {more} more annotators (overlap {row.target_overlap} -> "
                                 f"{target})" + (f"; {reason}" if reason else ""),
                                 {"target_overlap": target, "requeued": True, "final_label": None,
                                  "final_source": None, "review_issue_id": None})

    return _act(s, project, lock_selection(s, project.id, task_ids), plan, user, now)


def accept_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime, *,
                reason: str = "") -> lifecycle.PlanOutcome:
    """Accept labeled, queued or excluded tasks with the label their annotators gave (the only
    one's, or their majority); tasks without annotations or with tied annotators are refused."""
    rows = lock_selection(s, project.id, task_ids)
    schema = schema_of(project)
    results = results_of(s, [r.id for r in rows])

    def plan(row):
        if row.state == TaskState.open:
            return _refusal(row, "still open: its annotations are not all in")
        label, source, tied = people_label(schema, results.get(row.id, []))
        if label is None:
            return _refusal(row, "the annotators are tied: a reviewer picks" if tied else "no annotation to accept")
        return lifecycle.Planned(row.id, row.state, TaskState.accepted,
                                 f"accepted by a lead with the annotators' label ({source})"
                                 + (f": {reason}" if reason else ""),
                                 {"final_label": label, "final_source": source})

    return _act(s, project, rows, plan, user, now)


def exclude_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime, *,
                 reason: str = "") -> lifecycle.PlanOutcome:
    """Exclude tasks from the dataset (broken or ambiguous items), in whatever state they are."""
    why = "excluded by a lead" + (f": {reason}" if reason else "")

    def plan(row):
        return lifecycle.Planned(row.id, row.state, TaskState.excluded, why,
                                 {"final_label": None, "final_source": None})

    return _act(s, project, lock_selection(s, project.id, task_ids), plan, user, now)


def include_many(s: Session, project: Project, task_ids: list[int], user: User, now: datetime, *,
                 reason: str = "") -> lifecycle.PlanOutcome:
    """Take excluded tasks back into the line: ``labeled`` when they have the annotations their
    overlap wants (QC judges them at its next run), else ``open``; other tasks are refused."""
    why = "included again by a lead" + (f": {reason}" if reason else "")

    def plan(row):
        if row.state != TaskState.excluded:
            return _refusal(row, "not excluded")
        to = TaskState.labeled if row.n_annotations >= row.target_overlap else TaskState.open
        return lifecycle.Planned(row.id, row.state, to, why)

    return _act(s, project, lock_selection(s, project.id, task_ids), plan, user, now)
