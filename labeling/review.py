"""The review queue and its decisions (docs/ARCHITECTURE.md, "Item life cycle").

QC (:func:`quality.policy.apply_policy`) moves suspect tasks to the state ``review``. A reviewer
asks for the next one (:func:`next_suspect`): the worst-scored task of the queue that nobody
else holds is leased to them (``Lease.kind == "review"``, for ``Project.lease_seconds``; asking
again returns the same task and renews the lease). They decide (:func:`decide`):

- ``keep``: the label the people gave (the only annotator's, or their majority) is right ->
  ``accepted``; refused when the annotators are tied (the reviewer picks with ``relabel``);
- ``relabel``: the right label is ``result`` (checked against the label schema) -> ``accepted``;
  a relabel to the people's label is recorded as a keep (spans and boxes compare by offsets,
  labels and coordinates, whatever the items' ids, order or float noise);
- ``exclude``: the item is broken or ambiguous (a reason is required) -> ``excluded``.

The final label (``Task.final_label``) is recorded with the source ``reviewer``; it is always a
label a person gave or chose: QC's model-weighted consensus and its suggestion are shown to the
reviewer, named as the model's, and never kept without the reviewer picking them. Every decision
is a :class:`ReviewDecision` row with who, when, the state and label before and after, and the
label issue it answered; :func:`undo` takes back the reviewer's last decision (the task returns
to the queue, leased to them again). Leads audit decisions (:mod:`labeling.audit`); gold tasks
and pausing live in :mod:`labeling.gold`. The task helpers here (:func:`lock_task`,
:func:`drop_leases`, :func:`task_snapshot`, :func:`outcome`) serve those two as well.

Every state change goes through :mod:`labeling.lifecycle`, which writes its TaskEvent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import lifecycle
from labeling.access import require_project
from labeling.aggregation import people_label
from labeling.canonical import result_key
from labeling.db import unit_of_work, utcnow
from labeling.errors import Conflict, Invalid, NotFound
from labeling.models import (
    Annotation,
    LabelIssue,
    Lease,
    Project,
    ReviewDecision,
    Task,
    TaskState,
    User,
)
from labeling.router import ANNOTATE
from labeling.schema import LabelSchema, label_text, result_from_labels, schema_of
from labeling.validation import check_answer

__all__ = [
    "DECISIONS",
    "REVIEW",
    "as_result",
    "cleared_by",
    "current_issue",
    "decide",
    "drop_leases",
    "finding_text",
    "given_label",
    "lock_task",
    "next_suspect",
    "outcome",
    "release_cleared",
    "review_item",
    "same_label",
    "suggested_result",
    "task_snapshot",
    "undo",
]

REVIEW = "review"  # Lease.kind of the review queue
DECISIONS = ("keep", "relabel", "exclude")
MAX_REASON = 2000

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


def _lease(s: Session, task: Task, user_id: int, seconds: int, now: datetime) -> datetime:
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
    results: dict[int, list] = defaultdict(list)
    a = Annotation.__table__
    for i in range(0, len(ids), 500):
        for tid, result in s.execute(sa.select(a.c.task_id, a.c.result)
                                     .where(a.c.task_id.in_(ids[i:i + 500]), a.c.was_cancelled == sa.false())
                                     .order_by(a.c.task_id, a.c.id)):
            results[tid].append(result)
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


def _annotations(s: Session, task_id: int) -> list[tuple[Annotation, User]]:
    return list(s.execute(
        select(Annotation, User).join(User, User.id == Annotation.user_id)
        .where(Annotation.task_id == task_id, Annotation.was_cancelled == sa.false())
        .order_by(Annotation.id)).all())


def as_result(schema: LabelSchema, value: Any) -> list | None:
    """A label as QC stores it (a class name, a list of names, or result items) as result items;
    None when it is none of these (or names no label of the primary Choices)."""
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return value
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(x, str) for x in value)):
        try:
            return result_from_labels(schema, value)
        except ValueError:
            return None
    return None


def given_label(schema: LabelSchema, annotations: list[Annotation]) -> tuple[list | None, str | None, list[list]]:
    """The label the people gave: the only annotator's, or their majority, and the tied answers
    when there is no majority (:func:`labeling.aggregation.people_label`). Never a model's."""
    return people_label(schema, [a.result for a in annotations])


# --------------------------------------------------------------------------- QC findings as words


def _span_finding(value: Any) -> dict | None:
    """A QC finding about one span of text (NER: ``{"token", "start", "end", "label"}``)."""
    if isinstance(value, dict) and isinstance(value.get("label"), str) \
            and all(isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("start", "end")):
        return value
    return None


def _entity(label: str, schema: LabelSchema) -> str:
    """A span label as words: a label of the primary control, or no entity (NER's ``O``)."""
    return label if label in schema.primary_control.labels else f"not an entity ({label})"


def finding_text(schema: LabelSchema, value: Any, *, role: str = "suggested") -> str:
    """A label as QC stores it in a finding, in words for the review page and the API.

    Parameters
    ----------
    schema : LabelSchema
    value : str, list, dict or None
        What QC gave or suggests: a class name, names, result items, an NER token finding
        ``{"token", "start", "end", "label"}``, or a detection summary (``"car x2, truck"``).
    role : {"suggested", "given"}
        A suggestion reads ``Hawaii → LOC`` (the span's text, then the label QC suggests),
        what was given ``Hawaii: PER``; a detection summary reads ``model finds: car x2`` or
        ``boxes labelled: car``.

    Returns
    -------
    str
        Never a raw dict: other mappings read ``key: value; ...``.
    """
    if value is None:
        return ""
    span = _span_finding(value)
    if span is not None:
        token = span.get("token") if isinstance(span.get("token"), str) else span.get("text")
        where = token if isinstance(token, str) and token else f"characters {span['start']}-{span['end']}"
        label = _entity(span["label"], schema)
        return f"{where} → {label}" if role == "suggested" else f"{where}: {label}"
    if isinstance(value, str) and schema.primary_control.type == "rectanglelabels":
        return f"model finds: {value}" if role == "suggested" else f"boxes labelled: {value}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {label_text(v) if isinstance(v, list) else v}" for k, v in value.items())
    return label_text(value)


def suggested_result(schema: LabelSchema, given: list | None, suggestion: Any, data: dict) -> list | None:
    """The people's result with QC's suggestion applied, for the reviewer to start from.

    Classification: the suggested class as result items (:func:`as_result`). Spans: an NER token
    finding ``{"start", "end", "label"}`` relabels the people's spans that overlap the token (or
    removes them when QC says it is no entity), or adds a span of the token when none does.
    None when the suggestion cannot be turned into a result (a tie leaves no people's result to
    change; a detection summary names no boxes) or would leave nothing labeled.
    """
    span = _span_finding(suggestion)
    if span is None:
        return as_result(schema, suggestion)
    control = schema.primary_control
    text = data.get(control.data_key) if isinstance(data, dict) else None
    if control.type != "labels" or given is None or not isinstance(text, str):
        return None
    start, end, label = span["start"], span["end"], span["label"]
    if not 0 <= start < end <= len(text):
        return None
    items = [dict(item, value=dict(item["value"])) if isinstance(item, dict) and isinstance(item.get("value"), dict)
             else item for item in given]
    hits = [i for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("from_name") == control.name and item.get("type") == "labels"
            and isinstance(item["value"].get("start"), int) and isinstance(item["value"].get("end"), int)
            and item["value"]["start"] < end and item["value"]["end"] > start]
    if label not in control.labels:
        items = [item for i, item in enumerate(items) if i not in hits]
    elif hits:
        for i in hits:
            items[i]["value"]["labels"] = [label]
    else:
        items.append({"id": f"qc-{start}-{end}", "from_name": control.name, "to_name": control.to_name,
                      "type": "labels", "value": {"start": start, "end": end, "text": text[start:end],
                                                  "labels": [label]}})
    return items or None


def _region_key(item: Any) -> str:
    """What a result item says, for :func:`same_label`: no id, origin or score; a span by its
    offsets and labels; a box by its labels and coordinates rounded to 1/10,000 of a percent."""
    if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
        return result_key([item])
    kind = str(item.get("type", "")).lower()
    value = item["value"]
    if kind == "labels":
        said = {"start": value.get("start"), "end": value.get("end"), "labels": sorted(map(str, value.get("labels") or []))}
    elif kind == "rectanglelabels":
        said = {k: round(float(value.get(k) or 0), 4) for k in ("x", "y", "width", "height", "rotation")}
        said["labels"] = sorted(map(str, value.get("rectanglelabels") or []))
    else:
        return result_key([item])
    return result_key([{"from_name": item.get("from_name"), "to_name": item.get("to_name"), "type": kind,
                        "value": said}])


def same_label(a: list | None, b: list | None) -> bool:
    """Whether two results say the same label: equal items in any order, whatever their ids;
    spans by offsets and labels (their text follows from the task), boxes by labels and
    coordinates up to float noise (an editor's pixel round trip)."""
    if a is None or b is None:
        return a is b
    return sorted(map(_region_key, a)) == sorted(map(_region_key, b))


def review_item(s: Session, project: Project, task: Task) -> dict:
    """What the review page and ``GET /api/projects/ID/review/next`` show of a suspect task."""
    schema = schema_of(project)
    issue = current_issue(s, task.id)
    pairs = _annotations(s, task.id)
    anns = [a for a, _ in pairs]
    given, given_source, tied = given_label(schema, anns)
    suggested = issue.suggested if issue is not None else None
    primary = schema.primary_control
    obj = next((o for o in schema.objects.values() if o.value_key == primary.data_key), None)
    return {
        "task": {"id": task.id, "data": task.data, "meta": task.meta, "state": task.state,
                 "is_gold": task.is_gold, "file_upload": task.file_name},
        "object": {"tag": obj.tag if obj else None, "key": primary.data_key},
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
        expires = _lease(s, task, user.id, project.lease_seconds, now)
        item = review_item(s, project, task)
        item["lease_expires_at"] = expires.isoformat()
        item["remaining"] = _queue_size(s, project_id)
        return item


def _reviewable(s: Session, task: Task, user: User, now: datetime) -> None:
    """Refuse a decision on a task that is not in the queue, or that another reviewer holds."""
    if task.state != TaskState.review:
        raise Conflict(f"task {task.id} is {task.state}, not in the review queue",
                       [{"row": task.id, "field": "state", "detail": f"task is {task.state}"}])
    other = s.execute(sa.select(_L.c.user_id).where(_L.c.task_id == task.id, _L.c.kind == REVIEW,
                                                    _L.c.user_id != user.id, _L.c.expires_at >= now)).first()
    if other is not None:
        raise Conflict(f"task {task.id} is being reviewed by another reviewer; ask for the next suspect")


def _keepable(s: Session, project: Project, task: Task) -> list:
    """The people's label of ``task``, which a keep keeps; refused when there is none or a tie."""
    pairs = _annotations(s, task.id)
    schema = schema_of(project)
    given, _, tied = given_label(schema, [a for a, _ in pairs])
    if tied:
        who = ", ".join(f"{u.email}: {label_text(a.result) or '(none)'}" for a, u in pairs)
        raise Conflict(f"the annotators of task {task.id} are tied ({who}): there is no one label to keep; "
                       "pick the right label (relabel)",
                       [{"row": task.id, "field": "decision", "detail": "annotators tied: relabel to pick"}])
    if not given:
        raise Conflict(f"task {task.id} has no label to keep; relabel or exclude it")
    return given


def _people_gave(s: Session, project: Project, task: Task, result: list) -> list | None:
    """The label the people gave when ``result`` says the same (a relabel to it is a keep)."""
    given, _, _ = given_label(schema_of(project), [a for a, _ in _annotations(s, task.id)])
    return given if given is not None and same_label(given, result) else None


def outcome(s: Session, project: Project, task: Task, decision: str, result: Any, reason: str,
             field: str = "result") -> tuple[str, list | None, str | None, list | None, str]:
    """(state, final label, final source, stored result, reason) of a keep/relabel/exclude."""
    reason = (reason or "").strip()[:MAX_REASON] if isinstance(reason, str) or reason is None else None
    if reason is None:
        raise Invalid("reason must be a string", [{"row": task.id, "field": "reason", "detail": "not a string"}])
    if decision == "keep":
        given = _keepable(s, project, task)
        return TaskState.accepted, given, "reviewer", None, reason
    if decision == "relabel":
        result = check_answer(s, project, task, result, field)
        return TaskState.accepted, result, "reviewer", result, reason
    if decision == "exclude":
        if not reason:
            raise Invalid("say why the item is excluded", [{"row": task.id, "field": "reason", "detail": "required"}])
        return TaskState.excluded, None, None, None, reason
    raise Invalid(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}",
                  [{"row": task.id, "field": "decision", "detail": f"one of {', '.join(DECISIONS)}"}])


def decide(task_id: int, user: User, *, decision: str, result: Any = None, reason: str = "",
           labels: str | list[str] | None = None) -> ReviewDecision:
    """Record a reviewer's decision on a suspect task and release it.

    Parameters
    ----------
    task_id : int
        A task in the review queue (state ``review``).
    user : User
        Needs the ``review`` right; another reviewer must not hold a live lease on the task.
    decision : {"keep", "relabel", "exclude"}
        ``keep`` keeps the people's label (refused when the annotators are tied); a ``relabel``
        to the people's label is recorded as ``keep``.
    result : list of dict, optional
        The right label (Label Studio result items), for ``relabel``; checked against the schema.
    reason : str
        Why; required for ``exclude``.
    labels : str or list of str, optional
        Instead of ``result``: the right label by name(s) of the primary ``<Choices>`` control
        (what ``labelfab review decide --label`` gives).

    Returns
    -------
    ReviewDecision
        The level-1 decision, with the task's state and label ``before`` and ``after``.

    Raises
    ------
    Invalid
        Unknown decision, a relabel without a valid result, an exclude without a reason.
    Conflict
        The task is not in the review queue, or another reviewer holds it.
    """
    now = utcnow()
    with unit_of_work() as s:
        # lease rows before the task row (the router's lock order): the caller's review lease,
        # and expired ones; a live lease of another reviewer refuses the decision below
        drop_leases(s, task_id=task_id, kind=REVIEW, expired_before=now)
        drop_leases(s, task_id=task_id, kind=REVIEW, user_id=user.id)
        task = lock_task(s, task_id)
        project = require_project(s, user, task.project_id, "review")
        _reviewable(s, task, user, now)
        field = "result"
        if labels is not None:
            if result is not None:
                raise Invalid("give the right label as result or as labels, not both",
                              [{"row": task.id, "field": "label", "detail": "result given too"}])
            try:
                result, field = result_from_labels(schema_of(project), labels), "label"
            except ValueError as exc:
                raise Invalid(str(exc), [{"row": task.id, "field": "label", "detail": str(exc)}]) from None
        state, final, source, stored, reason = outcome(s, project, task, decision, result, reason, field)
        kept = _people_gave(s, project, task, final) if decision == "relabel" else None
        if kept is not None:
            decision, final, stored = "keep", kept, None  # the label already given: a keep, of it
        issue = current_issue(s, task.id)
        before = task_snapshot(task)
        task.final_label, task.final_source = final, source
        lifecycle.move(s, task, state, cause=lifecycle.Cause.review, user_id=user.id,
                       reason=f"review: {decision}" + (f" ({reason})" if reason else ""), now=now)
        row = ReviewDecision(task_id=task.id, project_id=task.project_id, reviewer_id=user.id,
                             label_issue_id=issue.id if issue is not None else None, level=1, decision=decision,
                             result=stored, reason=reason, before=before, after=task_snapshot(task), created_at=now)
        s.add(row)
        s.flush()
        return row


def _restore(s: Session, task: Task, before: dict, user_id: int, reason: str, now: datetime) -> None:
    task.final_label = before.get("final_label")
    task.final_source = before.get("final_source")
    task.is_gold = bool(before.get("is_gold", task.is_gold))
    task.gold_answer = before.get("gold_answer")
    lifecycle.move(s, task, before.get("state") or TaskState.review, cause=lifecycle.Cause.undo, user_id=user_id,
                   reason=reason, now=now)


def undo(user: User, *, task_id: int | None = None, project_id: int | None = None) -> ReviewDecision:
    """Take back the caller's last level-1 decision (on ``task_id``, or their last in ``project_id``).

    The task returns to the state it had (the review queue) with its earlier final label, and
    is leased to the caller again so that their next suspect is this one.

    Raises
    ------
    NotFound
        The caller has no decision there to undo.
    Conflict
        A lead has audited the decision, or the task has moved on since (annotated as gold,
        decided again).
    """
    if (task_id is None) == (project_id is None):
        raise Invalid("give a task or a project", [{"row": None, "field": "task", "detail": "required"}])
    now = utcnow()
    with unit_of_work() as s:
        q = select(ReviewDecision).where(ReviewDecision.reviewer_id == user.id, ReviewDecision.level == 1,
                                         ReviewDecision.undone_at.is_(None))
        q = q.where(ReviewDecision.task_id == task_id) if task_id is not None else \
            q.where(ReviewDecision.project_id == project_id)
        row = s.exec(q.order_by(ReviewDecision.id.desc()).limit(1)).first()
        if row is None:
            where = f"task {task_id}" if task_id is not None else f"project {project_id}"
            raise NotFound(f"you have no review decision on {where} to undo")
        drop_leases(s, task_id=row.task_id, user_id=user.id, kind=ANNOTATE)  # before the task row is locked
        task = lock_task(s, row.task_id)
        project = require_project(s, user, task.project_id, "review")
        audited = s.exec(select(ReviewDecision.id).where(ReviewDecision.overturns_id == row.id,
                                                         ReviewDecision.undone_at.is_(None))).first()
        if audited is not None:
            raise Conflict(f"a lead has audited decision {row.id}; it can no longer be undone")
        after = row.after or {}
        if task.state != after.get("state") or task.final_label != after.get("final_label") \
                or task.is_gold != bool(after.get("is_gold", task.is_gold)):
            raise Conflict(f"task {task.id} has changed since decision {row.id} (it is {task.state}); "
                           "it can no longer be undone")
        if row.decision == "gold" and task.n_annotations > (row.before or {}).get("n_annotations", task.n_annotations):
            raise Conflict(f"annotators have answered gold task {task.id} since; unmark it as gold instead")
        _restore(s, task, row.before or {}, user.id, f"review: undo of {row.decision} (decision {row.id})", now)
        row.undone_at = now
        s.add(row)
        if task.state == TaskState.review:
            _lease(s, task, user.id, project.lease_seconds, now)
        s.flush()
        return row
