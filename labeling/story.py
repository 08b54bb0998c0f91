"""A task's story: everything that happened to one task, for its leads and reviewers.

:func:`task_story` reads, in one read transaction, the task's data, every annotation with each
of its versions (``annotation_version`` keeps the earlier ones; the row holds the current one),
the predictions, the final label and its source (``task.final_label``, ``task.final_source``),
each QC finding with its run, the review decisions, every state change (``task_event``) and the
comments, and merges the dated ones into one time line. The task page and
``GET /api/tasks/ID/story`` show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select

from labeling.access import can, require_project
from labeling.db import read_session
from labeling.errors import NotFound
from labeling.gold import GOLD_REASON
from labeling.models import (
    Annotation,
    AnnotationVersion,
    LabelIssue,
    Prediction,
    QualityRun,
    ReviewDecision,
    Task,
    TaskEvent,
    User,
)
from labeling.schema import label_text
from labeling.storages.resolve import url_resolver

# Where a final label came from (task.final_source), in words.
SOURCES = {
    "single": "the only annotator's label",
    "consensus": "the annotators' consensus",
    "majority": "the annotators' majority",
    "reviewer": "a reviewer's decision",
    "gold": "the gold answer",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _versions(ann: Annotation, older: list[AnnotationVersion], names: dict[int, str]) -> list[dict]:
    """Every version of ``ann``, oldest first, each with who made it and when.

    Version 1 is the author's at ``created_at``; a later version was made by the
    ``changed_by`` of the version row it replaced, at that row's ``created_at``.
    """
    out: list[dict] = []
    by, at = ann.user_id, ann.created_at
    for row in sorted(older, key=lambda v: v.version):
        out.append({"version": row.version, "result": row.result, "was_cancelled": row.was_cancelled,
                    "label": label_text(row.result), "by": by, "by_email": names.get(by), "at": _iso(at),
                    "current": False})
        by, at = row.changed_by, row.created_at
    out.append({"version": ann.version, "result": ann.result, "was_cancelled": ann.was_cancelled,
                "label": label_text(ann.result), "by": by, "by_email": names.get(by), "at": _iso(at),
                "current": True})
    return out


def task_story(user: User, task_id: int) -> dict[str, Any]:
    """The whole story of one task, for a lead, reviewer or admin of its project.

    Returns
    -------
    dict
        ``task`` (id, project, state, data, gold flag for those who may see gold), ``final``
        (``label``: result items or None, ``text``, ``source``, ``source_text``),
        ``annotations`` (each with its author and ``versions``, oldest first),
        ``predictions``, ``findings`` (QC findings, each with its run), ``reviews``,
        ``events`` (state changes), ``comments``, and ``timeline``: every dated entry of
        those in time order (``at``, ``kind``, ``who``, ``text``).

    Raises
    ------
    NotFound
        No such task, or the user cannot see its project.
    Forbidden
        The user's role in the project may not see every annotation (annotators).
    """
    from labeling import (
        comments,  # comments reads tasks; imported here to keep the two modules apart
    )

    with read_session() as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        project = require_project(s, user, task.project_id, "see_all")
        see_gold = can(s, user, project, "see_gold")
        anns = list(s.exec(select(Annotation).where(Annotation.task_id == task_id).order_by(Annotation.id)))
        older: dict[int, list[AnnotationVersion]] = {}
        if anns:
            for row in s.exec(select(AnnotationVersion).where(
                    AnnotationVersion.annotation_id.in_([a.id for a in anns]))):
                older.setdefault(row.annotation_id, []).append(row)
        preds = list(s.exec(select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id)))
        findings = list(s.exec(
            select(LabelIssue, QualityRun).join(QualityRun, QualityRun.id == LabelIssue.run_id)
            .where(LabelIssue.task_id == task_id).order_by(LabelIssue.run_id, LabelIssue.id)))
        reviews = list(s.exec(select(ReviewDecision).where(ReviewDecision.task_id == task_id)
                              .order_by(ReviewDecision.id)))
        events = list(s.exec(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)))
        if not see_gold:  # as the audit list: a reviewer sees their own decisions, and never a gold answer
            reviews = [r for r in reviews if r.reviewer_id == user.id and r.decision != "gold"]
        people = {a.user_id for a in anns} | {r.reviewer_id for r in reviews} | {
            e.user_id for e in events if e.user_id is not None} | {
            v.changed_by for vs in older.values() for v in vs if v.changed_by is not None}
        task_comments = comments.task_comments(s, task_id)
        people |= {c["created_by"] for c in task_comments} | {
            c["resolved_by"] for c in task_comments if c["resolved_by"] is not None}
        names = dict(s.exec(select(User.id, User.email).where(User.id.in_(people or {0}))).all())
        gold_hidden = task.is_gold and not see_gold
        resolve = url_resolver(s, task.project_id)  # s3:// media through the resolve proxy, as the task API
        data = resolve(task.data, task.id) if resolve else task.data
        final_source = None if gold_hidden else task.final_source
        final_label = None if gold_hidden else task.final_label
        story = {
            "task": {"id": task.id, "project": task.project_id, "state": task.state, "data": data,
                     "created_at": _iso(task.created_at), "updated_at": _iso(task.updated_at),
                     **({"is_gold": task.is_gold, "gold_answer": task.gold_answer} if see_gold else {})},
            "final": {"label": final_label, "text": label_text(final_label) if final_label else "",
                      "source": final_source, "source_text": SOURCES.get(final_source or "", final_source or "")},
            "annotations": [{
                "id": a.id, "completed_by": a.user_id, "author": names.get(a.user_id), "source": a.source,
                "was_cancelled": a.was_cancelled, "skip_reason": a.skip_reason, "lead_time": a.lead_time,
                "created_at": _iso(a.created_at), "updated_at": _iso(a.updated_at), "version": a.version,
                "result": a.result, "parent_prediction": a.parent_prediction,
                "versions": _versions(a, older.get(a.id, []), names)} for a in anns],
            "predictions": [{"id": p.id, "model_version": p.model_version, "score": p.score, "result": p.result,
                             "label": label_text(p.result), "created_at": _iso(p.created_at)} for p in preds],
            "findings": [{"id": i.id, "run": r.id, "run_at": _iso(r.created_at), "model": r.model_name,
                          "kind": i.kind, "is_issue": i.is_issue, "score": i.score, "reason": i.reason,
                          "given": label_text(i.given), "suggested": label_text(i.suggested),
                          "sent_to_review": task.review_issue_id == i.id} for i, r in findings],
            "reviews": [{"id": r.id, "reviewer": r.reviewer_id, "reviewer_email": names.get(r.reviewer_id),
                         "decision": r.decision, "level": r.level, "reason": r.reason, "result": r.result,
                         "label": label_text(r.result) if r.result else "", "finding": r.label_issue_id,
                         "created_at": _iso(r.created_at), "undone_at": _iso(r.undone_at)} for r in reviews],
            "events": [{"id": e.id, "user": e.user_id, "user_email": names.get(e.user_id), "from": e.from_state,
                        "to": e.to_state, "reason": _reason(e.reason, see_gold), "created_at": _iso(e.created_at)} for e in events],
            "comments": [{**c, "author": names.get(c["created_by"]),
                          "resolver": names.get(c["resolved_by"])} for c in task_comments],
        }
    story["timeline"] = timeline(story)
    return story


def _reason(reason: str, see_gold: bool) -> str:
    """An event's reason as its reader may see it: marking gold writes the answer into it
    (``marked gold: pos``), cut to ``marked gold`` for whoever may not see gold answers."""
    if not see_gold and reason and reason.startswith(GOLD_REASON):
        return GOLD_REASON
    return reason


def timeline(story: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dated entry of a story in time order (ties keep the order they happened in)."""
    lines: list[tuple[str, int, dict]] = []

    def add(at: str | None, kind: str, who: str | None, text: str) -> None:
        if at is not None:
            lines.append((at, len(lines), {"at": at, "kind": kind, "who": who or "system", "text": text}))

    for e in story["events"]:
        why = f" ({e['reason']})" if e["reason"] else ""
        add(e["created_at"], "state", e["user_email"], f"{e['from'] or 'new'} → {e['to']}{why}")
    for a in story["annotations"]:
        for v in a["versions"]:
            what = "skipped" if v["was_cancelled"] else (v["label"] or "empty result")
            verb = "annotated" if v["version"] == 1 else f"changed annotation {a['id']} to version {v['version']}:"
            add(v["at"], "annotation", v["by_email"],
                f"{verb} {what}" if v["version"] > 1 else f"annotation {a['id']}: {what}")
    for p in story["predictions"]:
        add(p["created_at"], "prediction", p["model_version"] or "model", f"prediction {p['id']}: {p['label']}")
    for f in story["findings"]:
        flag = "finding" if f["is_issue"] else "checked, no issue"
        add(f["run_at"], "qc", f"QC run {f['run']}",
            f"{flag} ({f['kind']}, score {f['score']:.2f}): given {f['given'] or '—'}, suggested "
            f"{f['suggested'] or '—'}{'; ' + f['reason'] if f['reason'] else ''}")
    for r in story["reviews"]:
        label = f" → {r['label']}" if r["label"] else ""
        undone = " (undone)" if r["undone_at"] else ""
        add(r["created_at"], "review", r["reviewer_email"],
            f"{'audit' if r['level'] == 2 else 'review'}: {r['decision']}{label}{undone}"
            f"{'; ' + r['reason'] if r['reason'] else ''}")
    for c in story["comments"]:
        add(c["created_at"], "comment", c["author"], c["text"])
        if c["is_resolved"] and c["resolved_at"]:
            add(c["resolved_at"], "comment", c["resolver"], f"resolved comment {c['id']}")
    lines.sort(key=lambda x: (x[0], x[1]))
    return [entry for _, _, entry in lines]


__all__ = ["SOURCES", "task_story", "timeline"]
