"""ML backends over REST, as Label Studio 1.23 answers them (:mod:`labeling.ml`).

``GET/POST /api/ml`` (``?project=ID``), ``GET/PATCH/PUT/DELETE /api/ml/ID``, ``POST
/api/ml/ID/train`` (queues the ``ml_train`` job), ``GET /api/ml/ID/versions`` and ``POST
/api/ml/ID/interactive-annotating``. Leads and admins of the project set and read them; the
interactive call is for those who annotate it.
"""

from __future__ import annotations

from flask import jsonify, request

from labeling import ml
from labeling.errors import Invalid
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg, json_body

TAGS = ("machine learning",)


def _flag_arg(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise Invalid(f"{name} must be true or false", [{"field": name, "detail": "true or false"}])


@bp.get("/ml")
@doc(query=s.MLBackendsQuery, responses={200: list[s.MLBackend]}, tags=TAGS)
def list_ml_backends():
    """A project's ML backends (leads)."""
    project_id = int_arg("project", 0, minimum=0)
    if not project_id:
        raise Invalid("give the project: ?project=ID", [{"field": "project", "detail": "required"}])
    found = ml.list_backends(api_user().user, project_id, is_interactive=_flag_arg("is_interactive"))
    return jsonify([ml.backend_json(b) for b in found])


@bp.post("/ml")
@doc(body=s.MLBackendBody, responses={201: s.MLBackend}, tags=TAGS)
def create_ml_backend():
    """Connect a model server to a project (leads): its /health and /setup are called first."""
    return jsonify(ml.backend_json(ml.create_backend(api_user().user, json_body()))), 201


@bp.get("/ml/<int:ml_id>")
@doc(responses={200: s.MLBackend}, tags=TAGS)
def get_ml_backend(ml_id: int):
    """One ML backend (leads)."""
    return jsonify(ml.backend_json(ml.get_backend(api_user().user, ml_id)))


@bp.route("/ml/<int:ml_id>", methods=["PATCH", "PUT"])
@doc(body=s.MLBackendBody, responses={200: s.MLBackend}, tags=TAGS)
def update_ml_backend(ml_id: int):
    """Change an ML backend (leads): /health and /setup are called again."""
    return jsonify(ml.backend_json(ml.update_backend(api_user().user, ml_id, json_body())))


@bp.delete("/ml/<int:ml_id>")
@doc(responses={204: None}, tags=TAGS)
def delete_ml_backend(ml_id: int):
    """Disconnect an ML backend (leads); its predictions stay."""
    ml.delete_backend(api_user().user, ml_id)
    return "", 204


@bp.post("/ml/<int:ml_id>/train")
@doc(body=s.MLTrainBody, responses={200: s.MLTrainAnswer}, tags=TAGS)
def train_ml_backend(ml_id: int):
    """Tell the model server to train (Label Studio's START_TRAINING webhook), as a job (leads)."""
    return jsonify({"job": ml.request_train(api_user().user, ml_id)})


@bp.get("/ml/<int:ml_id>/versions")
@doc(responses={200: s.MLVersions}, tags=TAGS)
def ml_backend_versions(ml_id: int):
    """The model versions the server offers (its GET /versions; leads)."""
    return jsonify(ml.model_versions(api_user().user, ml_id))


@bp.post("/ml/<int:ml_id>/interactive-annotating")
@doc(body=s.MLInteractiveBody, responses={200: s.MLInteractiveAnswer}, tags=TAGS)
def ml_interactive_annotating(ml_id: int):
    """One task sent to an interactive backend with the annotator's context."""
    body = json_body()
    return jsonify(ml.interactive_annotating(api_user().user, ml_id, body.get("task"), body.get("context")))
