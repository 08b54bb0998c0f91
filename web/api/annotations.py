"""Annotation workflow over REST, answering as Label Studio does.

``GET /api/projects/ID/next``, ``POST/GET /api/tasks/ID/annotations``,
``GET/PATCH/DELETE /api/annotations/ID``, ``POST/GET /api/predictions``,
``GET/PATCH/DELETE /api/predictions/ID``, ``POST /api/projects/ID/import/predictions`` (the export is in :mod:`web.api.exports`); and labelfab's
``POST/DELETE /api/tasks/ID/lease`` (renew / give back) and
``GET /api/projects/ID/my-annotations?before=ANNOTATION_ID&limit=N`` (going back).
"""

from __future__ import annotations

from flask import jsonify, request

from labeling import annotations, gold, predictions, router, users, wire
from labeling.errors import Invalid, NotFound
from labeling.limits import MAX_ID
from web.api import api_user, bp, changes_state, readable
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import flag_field, id_field, int_arg, json_body, seconds_field, string_field

# --------------------------------------------------------------------------- routing


@bp.get("/projects/<int:project_id>/next")
@changes_state
@doc(responses={200: wire.Task}, tags=('annotating',))
def next_task(project_id: int):
    """The caller's next task (leased to them), or 404 when none is left for them."""
    task = router.serve_next(project_id, api_user().user)
    if task is None:
        raise NotFound(f"no more tasks for you in project {project_id}")
    return jsonify(task)


@bp.post("/tasks/<int:task_id>/lease")
@doc(summary="Extend the caller's lease on a task", responses={200: s.Lease}, tags=('annotating',))
def renew_lease(task_id: int):
    expires = router.renew_lease(task_id, api_user().user)
    return jsonify({"task": task_id, "expires_at": expires.isoformat()})


@bp.delete("/tasks/<int:task_id>/lease")
@doc(summary="Give a leased task back", responses={204: None}, tags=('annotating',))
def release_lease(task_id: int):
    router.release(task_id, api_user().user)
    return "", 204


# --------------------------------------------------------------------------- annotations


def _annotation_json(annotation) -> dict:
    """One annotation with its annotator's ``created_username``, as Label Studio answers.

    The caller's own annotation (every submit's) is labelled from the caller's user row, read
    when the request was authenticated (:func:`labeling.users.user_for_token`: in this process
    as fresh as the user's role and active state, which a change of the user forgets): no query."""
    me = api_user().user
    names = {me.id: wire.user_label(me.name, me.email, me.id)} if annotation.user_id == me.id \
        else users.usernames([annotation.user_id])
    return wire.annotation_json(annotation, names=names)


@bp.post("/tasks/<int:task_id>/annotations")
@doc(body=s.AnnotationBody, responses={200: wire.Annotation, 201: wire.Annotation}, tags=('annotations',))
def create_annotation(task_id: int):
    """Submit (or skip, with ``was_cancelled: true``); a repeated submit returns the same one.
    Label Studio's ``draft_id``: the caller's draft of this task it was made from, deleted in the
    submit's transaction."""
    body = json_body()
    annotation, created = annotations.submit(
        task_id, api_user().user, result=body.get("result"), was_cancelled=bool(flag_field(body, "was_cancelled")),
        skip_reason=string_field(body, "skip_reason", "comment") or "", lead_time=seconds_field(body, "lead_time"),
        source="ui" if body.get("source") == "ui" else "api", parent_prediction=id_field(body, "parent_prediction"),
        draft_id=id_field(body, "draft_id"))
    return jsonify(_annotation_json(annotation)), 201 if created else 200


@bp.get("/tasks/<int:task_id>/annotations")
@readable
@doc(summary="A task's annotations (an annotator sees their own)", responses={200: list[wire.Annotation]}, tags=('annotations',))
def list_annotations(task_id: int):
    found = annotations.task_annotations(task_id, api_user().user)
    names = users.usernames(a.user_id for a in found)
    return jsonify([wire.annotation_json(a, names=names) for a in found])


@bp.get("/annotations/<int:annotation_id>")
@readable
@doc(summary="One annotation", responses={200: wire.Annotation}, tags=('annotations',))
def get_annotation(annotation_id: int):
    return jsonify(_annotation_json(annotations.get_annotation(annotation_id, api_user().user)))


@bp.route("/annotations/<int:annotation_id>", methods=["PATCH", "PUT"])
@doc(summary="Edit an annotation (its author while the task allows it; a lead or reviewer corrects anyone's result: a new version)", body=s.AnnotationBody, responses={200: wire.Annotation}, tags=('annotations',))
def update_annotation(annotation_id: int):
    body = json_body()
    truth = flag_field(body, "ground_truth")
    if truth is not None:  # Label Studio's ground truth: the task's gold answer (reviewers, leads)
        marked = gold.set_ground_truth(annotation_id, api_user().user, truth)
        if not any(k in body for k in ("result", "was_cancelled", "skip_reason", "comment", "lead_time")):
            if marked is None:
                found = annotations.get_annotation(annotation_id, api_user().user)
                marked = {**_annotation_json(found), "ground_truth": truth}
            return jsonify(marked)
    annotation = annotations.update_annotation(
        annotation_id, api_user().user, result=body.get("result"), was_cancelled=flag_field(body, "was_cancelled"),
        skip_reason=string_field(body, "skip_reason", "comment"), lead_time=seconds_field(body, "lead_time"))
    return jsonify(_annotation_json(annotation))


@bp.delete("/annotations/<int:annotation_id>")
@doc(summary="Delete an annotation", responses={204: None}, tags=('annotations',))
def delete_annotation(annotation_id: int):
    annotations.delete_annotation(annotation_id, api_user().user)
    return "", 204


@bp.get("/projects/<int:project_id>/my-annotations")
@doc(query=s.MyAnnotationsQuery, responses={200: list[wire.Task]}, tags=('annotations',))
def my_annotations(project_id: int):
    """The caller's own annotations, newest first: ``?before=ANNOTATION_ID&limit=N`` pages back."""
    limit = int_arg("limit", 1)
    found = annotations.my_annotations(project_id, api_user().user, before=int_arg("before"), limit=limit)
    return jsonify(found)


# --------------------------------------------------------------------------- predictions


@bp.post("/predictions")
@doc(summary="Store a model's prediction for a task (leads)", body=s.PredictionBody, responses={201: wire.Prediction}, tags=('predictions',))
def create_prediction():
    body = json_body()
    task_id = body.get("task")
    if isinstance(task_id, bool) or not isinstance(task_id, int) or not 0 < task_id <= MAX_ID:
        raise Invalid("a prediction needs \"task\": the task id", [{"row": None, "field": "task", "detail": "required"}])
    prediction = predictions.create_prediction(
        api_user().user, task_id=task_id, result=body.get("result"), score=body.get("score"),
        model_version=body.get("model_version") or "", probs=body.get("probs"))
    return jsonify(wire.prediction_json(prediction)), 201


@bp.get("/predictions")
@readable
@doc(summary="Predictions of a task or a project", query=s.PredictionsQuery, responses={200: list[wire.Prediction]}, tags=('predictions',))
def list_predictions():
    found = predictions.list_predictions(api_user().user, task_id=int_arg("task"), project_id=int_arg("project"))
    return jsonify([wire.prediction_json(p) for p in found])


@bp.get("/predictions/<int:prediction_id>")
@readable
@doc(summary="One prediction", responses={200: wire.Prediction}, tags=('predictions',))
def get_prediction(prediction_id: int):
    return jsonify(wire.prediction_json(predictions.get_prediction(prediction_id, api_user().user)))


@bp.patch("/predictions/<int:prediction_id>")
@doc(summary="Change a prediction's result, score or model version (leads)", body=s.PredictionPatch,
     responses={200: wire.Prediction}, tags=('predictions',))
def update_prediction(prediction_id: int):
    prediction = predictions.update_prediction(api_user().user, prediction_id, json_body())
    return jsonify(wire.prediction_json(prediction))


@bp.delete("/predictions/<int:prediction_id>")
@doc(summary="Delete a prediction (leads)", responses={204: None}, tags=('predictions',))
def delete_prediction(prediction_id: int):
    predictions.delete_prediction(api_user().user, prediction_id)
    return "", 204


@bp.post("/projects/<int:project_id>/import/predictions")
@doc(body=list[s.PredictionBody], responses={201: s.PredictionsCreated}, tags=('predictions',))
def import_predictions(project_id: int):
    """Store predictions of a project's tasks, all or none (Label Studio's body: a list of
    ``{"task", "result", "score", "model_version"}``); 201 with ``{"created": N}``."""
    body = request.get_json(silent=True)
    created = predictions.import_predictions(api_user().user, project_id, body)
    return jsonify({"created": created}), 201
