"""The QC queue over REST: review, undo, audit, gold, annotator quality and the QC policy.

``GET /api/projects/ID/review/next``
    The next suspect (leased to the caller): data, every annotator's label, ``given`` (what the
    annotators gave: one's label or their majority, ``tied`` answers when there is none), QC's
    model-weighted ``consensus`` and ``suggested`` label (the model's, named so), the reason and
    the score; 404 when the queue holds none.
``POST /api/tasks/ID/review``
    ``{"decision": "keep"|"relabel"|"exclude", "result": [...], "reason": "..."}``. Keep keeps
    the annotators' label (409 when they are tied: relabel to pick); a relabel to that label is
    recorded as a keep.
``POST /api/tasks/ID/review/undo`` and ``POST /api/projects/ID/review/undo``
    Take back the caller's last decision on that task / in that project.
``GET /api/projects/ID/review/decisions?task=&reviewer=&limit=``
    The record of decisions (who, when, before, after).
``GET /api/projects/ID/audit?reviewer=UID&sample=N&seed=S&all=1``
    Level-1 decisions for a lead to audit (a random sample, or all of one reviewer).
``POST /api/review-decisions/ID/audit``
    ``{"decision": "confirm"|"keep"|"relabel"|"exclude", "result": [...], "reason": "..."}``.
``POST /api/tasks/ID/gold`` ``{"answer": [...]}`` / ``DELETE /api/tasks/ID/gold``
    Make a task gold with its answer / an ordinary task again.
``GET /api/projects/ID/annotators``
    Annotator quality (leads).
``POST /api/projects/ID/annotators/UID/resume``
    Resume a paused annotator (leads).
``GET/PUT /api/projects/ID/qc-policy``
    The project's QC policy (PUT changes the settings given; PATCH too).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from labeling import audit, gold, review
from labeling.errors import Invalid, NotFound
from quality import policy
from web.api import api_user, bp, changes_state
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg, json_body, string_field

# --------------------------------------------------------------------------- review


@bp.get("/projects/<int:project_id>/review/next")
@changes_state
@doc(summary="The next suspect to review, leased to the caller (404 when none)", responses={200: s.ReviewItem}, tags=('review',))
def review_next(project_id: int):
    item = review.next_suspect(project_id, api_user().user)
    if item is None:
        raise NotFound(f"no suspects left to review in project {project_id}")
    return jsonify(item)


@bp.post("/tasks/<int:task_id>/review")
@doc(summary="Decide on a suspect: keep, relabel or exclude", body=s.DecisionBody, responses={201: s.Decision}, tags=('review',))
def review_decide(task_id: int):
    body = json_body()
    decision = body.get("decision")
    if not isinstance(decision, str):
        raise Invalid("decision is required: keep, relabel or exclude",
                      [{"row": task_id, "field": "decision", "detail": "required"}])
    user = api_user().user
    row = review.decide(task_id, user, decision=decision, result=body.get("result"),
                        reason=string_field(body, "reason") or "")
    return jsonify(audit.decision_view(row, reviewer=user)), 201


@bp.post("/tasks/<int:task_id>/review/undo")
@doc(summary="Take back the caller's last decision on this task", responses={200: s.Decision}, tags=('review',))
def review_undo_task(task_id: int):
    user = api_user().user
    return jsonify(audit.decision_view(review.undo(user, task_id=task_id), reviewer=user))


@bp.post("/projects/<int:project_id>/review/undo")
@doc(summary="Take back the caller's last decision in the project", responses={200: s.Decision}, tags=('review',))
def review_undo_last(project_id: int):
    user = api_user().user
    return jsonify(audit.decision_view(review.undo(user, project_id=project_id), reviewer=user))


@bp.get("/projects/<int:project_id>/review/decisions")
@doc(summary="The record of review decisions", query=s.DecisionsQuery, responses={200: list[s.Decision]}, tags=('review',))
def review_decisions(project_id: int):
    limit = int_arg("limit", 100)
    return jsonify(audit.list_decisions(project_id, api_user().user, task_id=int_arg("task"),
                                         reviewer_id=int_arg("reviewer"), limit=limit))


# --------------------------------------------------------------------------- audit


@bp.get("/projects/<int:project_id>/audit")
@doc(query=s.AuditQuery, responses={200: list[s.Decision]}, tags=('review',))
def audit_queue(project_id: int):
    """``?reviewer=UID`` one reviewer's decisions (all of them unless ``sample`` is given);
    otherwise a random ``sample`` (default 20, ``seed`` to repeat a draw); ``all=1`` includes
    decisions already audited."""
    reviewer = int_arg("reviewer")
    sample = int_arg("sample")
    if sample is None and reviewer is None:
        sample = 20
    found = audit.audit_queue(project_id, api_user().user, reviewer_id=reviewer, sample=sample,
                               seed=int_arg("seed"),
                               include_audited=(request.args.get("all") or "").lower() in {"1", "true", "yes"})
    return jsonify(found)


@bp.post("/review-decisions/<int:decision_id>/audit")
@doc(summary="Audit a review decision: confirm or overturn it", body=s.AuditBody, responses={201: s.Decision}, tags=('review',))
def audit_decision(decision_id: int):
    body = json_body()
    verdict = body.get("decision", body.get("verdict"))
    if not isinstance(verdict, str):
        raise Invalid("decision is required: confirm, keep, relabel or exclude",
                      [{"row": decision_id, "field": "decision", "detail": "required"}])
    user = api_user().user
    row = audit.audit(decision_id, user, verdict=verdict, result=body.get("result"),
                       reason=string_field(body, "reason") or "")
    return jsonify(audit.decision_view(row, reviewer=user)), 201


# --------------------------------------------------------------------------- gold


@bp.post("/tasks/<int:task_id>/gold")
@doc(summary="Make a task gold with its answer", body=s.GoldBody, responses={201: s.Decision}, tags=('gold',))
def gold_mark(task_id: int):
    body = json_body()
    if "answer" not in body:
        raise Invalid("answer is required: the gold label as Label Studio result items",
                      [{"row": task_id, "field": "answer", "detail": "required"}])
    user = api_user().user
    row = gold.mark_gold(task_id, user, answer=body["answer"])
    return jsonify(audit.decision_view(row, reviewer=user)), 201


@bp.delete("/tasks/<int:task_id>/gold")
@doc(summary="Make a gold task an ordinary task again", responses={200: s.GoldOff}, tags=('gold',))
def gold_unmark(task_id: int):
    task = gold.unmark_gold(task_id, api_user().user)
    return jsonify({"task": task.id, "state": task.state, "is_gold": task.is_gold})


# --------------------------------------------------------------------------- annotators


@bp.get("/projects/<int:project_id>/annotators")
@doc(summary="Annotator quality: gold accuracy, agreement, pauses (leads)", responses={200: list[dict[str, Any]]}, tags=('gold',))
def annotators(project_id: int):
    return jsonify(gold.annotator_quality(project_id, api_user().user))


@bp.post("/projects/<int:project_id>/annotators/<int:user_id>/resume")
@doc(summary="Resume a paused annotator (leads)", responses={200: s.Resumed}, tags=('gold',))
def annotator_resume(project_id: int, user_id: int):
    membership = gold.resume(project_id, api_user().user, user_id)
    return jsonify({"user": membership.user_id, "project": project_id, "paused": False,
                    "resumed_at": membership.resumed_at.isoformat()})


# --------------------------------------------------------------------------- policy


@bp.get("/projects/<int:project_id>/qc-policy")
@doc(summary="The project's QC policy", responses={200: dict[str, Any]}, tags=('quality',))
def qc_policy(project_id: int):
    return jsonify(policy.get_policy(project_id, api_user().user))


@bp.route("/projects/<int:project_id>/qc-policy", methods=["PUT", "PATCH"])
@doc(summary="Change the project's QC policy", body=dict[str, Any], responses={200: dict[str, Any]}, tags=('quality',))
def qc_policy_set(project_id: int):
    return jsonify(policy.set_policy(project_id, api_user().user, json_body()))
