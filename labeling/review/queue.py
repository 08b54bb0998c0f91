"""The review queue: leases on suspects, the finding that queued each, what the reviewer is shown
(:func:`review_item`, :func:`next_suspect`), and QC's two moves of the queue: :func:`queue_move`
(a labeled task QC sends to review, the one way in for every finding) and
:func:`release_cleared` (a suspect a later run clears). ARCHITECTURE.md, "Item life cycle"."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import lifecycle
from labeling.access import require_project
from labeling.aggregation import people_label
from labeling.db import unit_of_work, utcnow
from labeling.errors import NotFound
from labeling.models import Annotation, LabelIssue, Lease, Project, Task, TaskState, User
from labeling.review.findings import finding_text, given_label, suggested_result
from labeling.schema import label_text, schema_of
from labeling.schema.hypertext import page_data
from labeling.storages.resolve import url_resolver

__all__ = ["REVIEW", "cleared_by", "current_issue", "drop_leases", "lease_for_review", "lock_task", "next_suspect",
           "queue_move", "release_cleared", "results_of", "review_item", "task_annotations", "task_snapshot"]

REVIEW = "review"  # Lease.kind of the review queue
_T = Task.__table__
_L = Lease.__table__
_LI = LabelIssue.__table__
# --------------------------------------------------------------------------- tasks and leases


def lock_task(s: Session, task_id: int) -> Task:
    task = s.get(Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def drop_leases(s: Session, *, task_id: int | None = None, project_id: int | None = None,
                 user_id: int | None = None, kind: str | None = None, expired_before: datetime | None = None) -> int:
    """Delete matching leases and give their places back (``Task.n_leases``); returns how many."""
    conds = []
    if task_id is not None:
        conds.append(_L.c.task_id == task_id)
    if project_id is not None:
        conds.append(_L.c.project_id == project_id)
    if user_id is not None:
        conds.append(_L.c.user_id == user_id)
    if kind is not None:
        conds.append(_L.c.kind == kind)
    if expired_before is not None:
        conds.append(_L.c.expires_at < expired_before)
    gone = s.execute(sa.delete(_L).where(*conds).returning(_L.c.task_id)).scalars().all()
    counts: dict[int, int] = defaultdict(int)
    for tid in gone:
        counts[tid] += 1
    for tid in sorted(counts):
        s.execute(sa.update(_T).where(_T.c.id == tid)
                  .values(n_leases=sa.case((_T.c.n_leases >= counts[tid], _T.c.n_leases - counts[tid]), else_=0)))
    return len(gone)


def lease_for_review(s: Session, task: Task, user_id: int, seconds: int, now: datetime) -> datetime:
    """Lease ``task`` (locked) to ``user_id`` for review, or renew their review lease on it.

    Lock order, as the router's: lease rows before task rows. Callers delete leases (an
    annotation lease of the reviewer's on the task included) before they lock the task; this
    only inserts or updates the reviewer's own row.
    """
    expires = now + timedelta(seconds=seconds)
    renewed = s.execute(sa.update(_L).where(_L.c.task_id == task.id, _L.c.user_id == user_id, _L.c.kind == REVIEW)
                        .values(expires_at=expires)).rowcount
    if not renewed:
        s.add(Lease(task_id=task.id, project_id=task.project_id, user_id=user_id, kind=REVIEW, expires_at=expires,
                    created_at=now))
        s.execute(sa.update(_T).where(_T.c.id == task.id).values(n_leases=_T.c.n_leases + 1))
    return expires


def task_snapshot(task: Task) -> dict:
    return {"state": task.state, "final_label": task.final_label, "final_source": task.final_source,
            "is_gold": task.is_gold, "gold_answer": task.gold_answer, "target_overlap": task.target_overlap}


# --------------------------------------------------------------------------- the suspect


def current_issue(s: Session, task_id: int) -> LabelIssue | None:
    """The QC finding that made a task a suspect: the one the policy recorded when it queued the
    task (``Task.review_issue_id``), whatever later runs said; for a task queued before that was
    recorded, of the newest QC run that flagged it (else that scored it), the ``label`` issue if
    there is one, else the lowest-scored one."""
    queued = s.execute(sa.select(_T.c.review_issue_id).where(_T.c.id == task_id)).scalar_one_or_none()
    if queued is not None:
        found = s.get(LabelIssue, queued)
        if found is not None:
            return found
    run_id = s.execute(sa.select(sa.func.max(_LI.c.run_id))
                       .where(_LI.c.task_id == task_id, _LI.c.is_issue == sa.true())).scalar_one_or_none()
    if run_id is None:
        run_id = s.execute(sa.select(sa.func.max(_LI.c.run_id)).where(_LI.c.task_id == task_id)).scalar_one_or_none()
    if run_id is None:
        return None
    rows = s.exec(select(LabelIssue).where(LabelIssue.task_id == task_id, LabelIssue.run_id == run_id)
                  .order_by(LabelIssue.score, LabelIssue.id)).all()
    return next((r for r in rows if r.kind == "label"), rows[0] if rows else None)


def cleared_by(s: Session, task_id: int, issue: LabelIssue | None) -> dict | None:
    """A QC run newer than ``issue``'s that scored the task and flagged nothing: its id and the
    task's lowest score in it (None when there is none). Such a run takes the suspect out of the
    queue (:func:`release_cleared`) unless a reviewer holds it; the review page tells them."""
    if issue is None:
        return None
    newer = s.execute(sa.select(_LI.c.run_id, sa.func.max(sa.case((_LI.c.is_issue == sa.true(), 1), else_=0)),
                                sa.func.min(_LI.c.score))
                      .where(_LI.c.task_id == task_id, _LI.c.run_id > issue.run_id)
                      .group_by(_LI.c.run_id).order_by(_LI.c.run_id.desc()).limit(1)).first()
    if newer is None or newer[1]:
        return None
    return {"run": newer[0], "score": newer[2]}


def release_cleared(s: Session, project_id: int, run_id: int, task_ids: set[int], *, now: datetime) -> list[int]:
    """Take suspects that QC run ``run_id`` cleared out of the review queue: each goes to
    ``accepted`` with the label its annotators gave (source ``single`` or ``majority``), unless a
    reviewer holds it (the review page says that the run cleared it) or the annotators are tied
    (a person picks). Called by the QC policy in the run's transaction; returns the ids moved."""
    if not task_ids:
        return []
    project = s.get(Project, project_id)
    schema = schema_of(project)
    ids = sorted(task_ids)
    held = set(s.execute(sa.select(_L.c.task_id).where(_L.c.project_id == project_id, _L.c.kind == REVIEW,
                                                       _L.c.expires_at >= now)).scalars())
    results = results_of(s, ids)
    moves = []
    for tid in ids:
        if tid in held:
            continue
        label, source, _ = people_label(schema, results.get(tid, []))
        if label is None:
            continue
        moves.append(lifecycle.Move(tid, [(TaskState.accepted, f"QC run {run_id} no longer flags it: out of the "
                                           f"review queue, the annotators' label kept ({source})")],
                                    {"final_label": label, "final_source": source}))
    if moves:
        lifecycle.move_many(s.connection(), moves, cause=lifecycle.Cause.qc, project_id=project_id,
                            from_state=TaskState.review, user_id=None, now=now,
                            column_types={"final_label": sa.JSON(none_as_null=True)})
    return [m.task_id for m in moves]


def queue_move(task_id: int, why: str, *, issue_id: int | None, values: dict | None = None,
               then: str = "to the review queue") -> lifecycle.Move:
    """The move of a labeled task QC sends to the review queue, for every finding that sends one
    (a suspect of the policy, tied annotators, annotators who disagree on a ranking, pick, path,
    span or relation): ``labeled -> suspect`` with QC's reason, then ``suspect -> review``, and
    the finding the reviewer is shown (``Task.review_issue_id``). Made with
    :func:`labeling.lifecycle.move_many` (cause ``qc``) in the run's transaction."""
    return lifecycle.Move(task_id, [(TaskState.suspect, why), (TaskState.review, then)],
                          {**(values or {}), "review_issue_id": issue_id})


def results_of(s: Session, task_ids: list[int]) -> dict[int, list]:
    """The results of the submitted annotations of ``task_ids``, earliest first, per task."""
    results: dict[int, list] = defaultdict(list)
    a = Annotation.__table__
    for i in range(0, len(task_ids), 500):
        for tid, result in s.execute(sa.select(a.c.task_id, a.c.result)
                                     .where(a.c.task_id.in_(task_ids[i:i + 500]), a.c.was_cancelled == sa.false())
                                     .order_by(a.c.task_id, a.c.id)):
            results[tid].append(result)
    return results


def task_annotations(s: Session, task_id: int) -> list[tuple[Annotation, User]]:
    return list(s.execute(
        select(Annotation, User).join(User, User.id == Annotation.user_id)
        .where(Annotation.task_id == task_id, Annotation.was_cancelled == sa.false())
        .order_by(Annotation.id)).all())


def review_item(s: Session, project: Project, task: Task) -> dict:
    """What the review page and ``GET /api/projects/ID/review/next`` show of a suspect task."""
    schema = schema_of(project)
    issue = current_issue(s, task.id)
    pairs = task_annotations(s, task.id)
    anns = [a for a, _ in pairs]
    given, given_source, tied = given_label(schema, anns)
    suggested = issue.suggested if issue is not None else None
    primary = schema.primary_control
    obj = next((o for o in schema.objects.values() if o.value_key == primary.data_key), None)
    return {
        # HTML in the data sanitised: the review page shows it (labeling.schema.hypertext); s3:// URIs
        # through the resolve proxy (labeling.storages.resolve)
        "task": {"id": task.id,
                 "data": page_data(schema, urls(task.data, task.id) if (urls := url_resolver(s, project.id)) else task.data),
                 "meta": task.meta, "state": task.state,
                 "is_gold": task.is_gold, "file_upload": task.file_name},
        "object": {"tag": obj.tag if obj else None, "key": primary.data_key},
        # every object of the config (a pair's two texts, a prompt and its List), in config order
        "objects": [{"name": name, "tag": o.tag, "key": o.value_key} for name, o in schema.objects.items()],
        "control": {"name": primary.name, "type": primary.type, "to_name": primary.to_name,
                    "labels": primary.labels, "choice": primary.choice},
        "annotations": [{"id": a.id, "user": u.id, "email": u.email, "result": a.result,
                         "label": label_text(a.result), "lead_time": a.lead_time,
                         "created_at": a.created_at.isoformat()} for a, u in pairs],
        # what people gave; a tie leaves result None and lists the tied answers
        "given": {"result": given, "label": label_text(given), "source": given_source, "by": "people",
                  "tied": [{"result": r, "label": label_text(r)} for r in tied],
                  "qc": issue.given if issue is not None else None,
                  "qc_text": finding_text(schema, issue.given, role="given") if issue is not None else ""},
        # QC's consensus weighs the annotators with its model: shown apart, never kept by itself
        "consensus": None if issue is None or issue.consensus is None else {
            "value": issue.consensus, "label": finding_text(schema, issue.consensus, role="given"), "by": "model",
            "name": "QC consensus (weighted by the QC model)"},
        # QC's suggestion in words ("Hawaii → LOC"), and as the result to start from (for spans,
        # the people's spans with it applied); ``value`` is what QC stored
        "suggested": None if suggested is None else {
            "value": suggested, "label": finding_text(schema, suggested), "text": finding_text(schema, suggested),
            "result": suggested_result(schema, given, suggested, task.data)},
        "issue": None if issue is None else {"id": issue.id, "run": issue.run_id, "kind": issue.kind,
                                             "is_issue": issue.is_issue},
        "reason": issue.reason if issue is not None else "",
        "score": issue.score if issue is not None else None,
        # a later run that no longer flags it: the reviewer holding it is told
        "cleared": cleared_by(s, task.id, issue),
    }


def _queue_size(s: Session, project_id: int) -> int:
    return s.execute(sa.select(sa.func.count()).select_from(_T)
                     .where(_T.c.project_id == project_id, _T.c.state == TaskState.review)).scalar_one()


def _pick(s: Session, project_id: int, user_id: int) -> Task | None:
    """Lock and return the worst-scored suspect nobody holds (None: there is none).

    On PostgreSQL rows other transactions are taking are skipped (``SKIP LOCKED``); a row taken
    by a transaction that committed meanwhile is re-checked with a fresh statement and passed.
    """
    li, li2 = _LI.alias("li"), _LI.alias("li2")
    newest = sa.select(sa.func.max(li2.c.run_id)).where(li2.c.task_id == _T.c.id).scalar_subquery()
    score = sa.select(sa.func.min(li.c.score)).where(li.c.task_id == _T.c.id, li.c.run_id == newest).scalar_subquery()
    passed: list[int] = []
    while True:
        q = (sa.select(_T.c.id)
             .where(_T.c.project_id == project_id, _T.c.state == TaskState.review,
                    ~sa.exists().where(_L.c.task_id == _T.c.id, sa.or_(_L.c.kind == REVIEW, _L.c.user_id == user_id)))
             .order_by(score.asc().nulls_last(), _T.c.id).limit(1)
             .with_for_update(skip_locked=True, of=_T))
        if passed:
            q = q.where(_T.c.id.not_in(passed))
        task_id = s.execute(q).scalar_one_or_none()
        if task_id is None:
            return None
        task = lock_task(s, task_id)
        taken = s.execute(sa.select(_L.c.id).where(_L.c.task_id == task_id, _L.c.kind == REVIEW)).first()
        if taken is None and task.state == TaskState.review:
            return task
        passed.append(task_id)


def next_suspect(project_id: int, user: User) -> dict | None:
    """Lease the next suspect of the review queue to ``user`` and describe it.

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``review`` right in the project (reviewers, leads, admins).

    Returns
    -------
    dict or None
        :func:`review_item` plus ``lease_expires_at`` and ``remaining`` (tasks in the queue,
        this one included); None when the queue holds nothing for this user. The worst-scored
        suspect comes first; a suspect another reviewer holds is never handed out.
    """
    now = utcnow()
    with unit_of_work() as s:
        project = require_project(s, user, project_id, "review")
        drop_leases(s, project_id=project_id, kind=REVIEW, expired_before=now)
        held = s.execute(sa.select(_L.c.task_id).join(_T, _T.c.id == _L.c.task_id)
                         .where(_L.c.project_id == project_id, _L.c.user_id == user.id, _L.c.kind == REVIEW,
                                _T.c.state == TaskState.review)
                         .order_by(_L.c.id.desc()).limit(1)).scalar_one_or_none()  # newest: an undone one
        task = lock_task(s, held) if held is not None else _pick(s, project_id, user.id)
        if task is None:
            return None
        expires = lease_for_review(s, task, user.id, project.lease_seconds, now)
        item = review_item(s, project, task)
        item["lease_expires_at"] = expires.isoformat()
        item["remaining"] = _queue_size(s, project_id)
        return item
