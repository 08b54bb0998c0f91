"""ML backends: model servers that speak Label Studio's ML backend protocol (ARCHITECTURE.md, ML backends).

A lead connects a server (``/api/ml``, Label Studio's fields and answers); labelfab calls it as
Label Studio 1.23 does, and only through :func:`labeling.outbound.request` (the address checked at
each call, no redirects, bounded time and size):

- ``GET /health`` and ``POST /setup`` (``{"project": "ID.CREATED", "schema", "hostname",
  "extra_params"}``) when a backend is created or changed: a failure refuses the change (400, Label
  Studio's messages); a success stores the state ``CO`` and the ``model_version`` setup answers.
- ``POST /predict`` (``{"tasks", "project", "label_config", "params"}``, answered ``{"results":
  [...]}``) in batches of ``LABELFAB_ML_BATCH_SIZE``, always from a job (kind ``ml_predict``):
  after an import, on the Data Manager's ``retrieve_tasks_predictions`` and for the few open
  tasks the router is about to hand out (``LABELFAB_ML_LOOKAHEAD``). Predictions are stored as
  imported ones are (``Prediction`` with the model version and score), so they are pre-labels and
  QC's model where they cover the items. A task that already has a prediction of the backend's
  model version is not sent again.
- ``POST /webhook`` with Label Studio's ``{"action": "START_TRAINING", "project": {...}}`` from a
  job (kind ``ml_train``): on ``/api/ml/ID/train`` and when a dataset version is published (then
  with ``dataset_version``: number, sha256 and download path).

A call from a job that fails leaves the backend in state ``ER`` with the message (``health: ...``,
``setup: ...``, ``predict: ...``); the job ends done with the error in its result, and nothing else
fails with it (the import, the publish, the lease that queued it).
"""

from __future__ import annotations

import base64
import json
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import jobs, outbound, secretbox
from labeling.access import require_project
from labeling.db import read_session, unit_of_work, utcnow, write_session
from labeling.errors import DomainError, Invalid, NotFound
from labeling.limits import MAX_ID
from labeling.models import Job, JobStatus, MLBackend, Prediction, Project, Task, TaskState, User
from labeling.settings import get_settings
from labeling.wire import _iso, task_json

log = logging.getLogger(__name__)

#: Label Studio's ``MLBackendState``.
STATES = {"CO": "Connected", "DI": "Disconnected", "ER": "Error", "TR": "Training", "PR": "Predicting"}
AUTH_METHODS = ("NONE", "BASIC_AUTH")
#: Fields a lead may set (Label Studio's serializer, less the read-only ones).
FIELDS = ("url", "project", "title", "description", "is_interactive", "auth_method", "basic_auth_user",
          "basic_auth_pass", "extra_params", "timeout", "model_version", "auto_update")
#: Fields Label Studio also accepts in a body and that labelfab ignores, being read-only.
READ_ONLY = ("id", "state", "readable_state", "error_message", "created_at", "updated_at", "basic_auth_pass_is_set")
MAX_TEXT = 10_000
MAX_TIMEOUT = 300.0
#: the model_version column of ``prediction`` is 255 characters
MAX_VERSION = 255


class MLBadRequest(DomainError):
    """The server could not be reached or does not answer as an ML backend (Label Studio's 400)."""

    status = 400


# --------------------------------------------------------------------------- the protocol


@dataclass
class Answer:
    """One call's outcome, as Label Studio's ``MLApiResult``: the JSON body or an error message."""

    status: int
    body: Any = None
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return self.error is not None


def _project_uid(project: Project) -> str:
    """Label Studio's ``"{project.id}.{int(created_at.timestamp())}"``."""
    return f"{project.id}.{int(project.created_at.timestamp())}"


def _headers(backend: MLBackend, password: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if backend.auth_method == "BASIC_AUTH" and backend.basic_auth_user:
        if password is None:
            password = secretbox.unseal(backend.basic_auth_pass_sealed) if backend.basic_auth_pass_sealed else ""
        pair = f"{backend.basic_auth_user}:{password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return headers


def _timeout(backend: MLBackend, kind: str) -> float:
    """Label Studio's timeouts: health and setup short, predict and train the backend's own."""
    short = min(get_settings().outbound_timeout, 10.0)
    if kind in ("health", "setup", "versions"):
        return short
    return max(1.0, min(float(backend.timeout or 100.0), MAX_TIMEOUT))


def call(backend: MLBackend, suffix: str, body: Any = None, *, method: str = "POST",
         password: str | None = None) -> Answer:
    """One call to the backend's ``url`` + ``suffix`` through :func:`labeling.outbound.request`.

    Returns an :class:`Answer`; never raises for the remote side's failures (no answer, an HTTP
    error, a body that is not JSON): those are the answer's ``error``, as Label Studio keeps them.
    """
    url = backend.url.rstrip("/") + "/" + suffix
    data = None if method == "GET" else json.dumps(body if body is not None else {}).encode()
    try:
        reply = outbound.request(method, url, body=data, headers=_headers(backend, password),
                                 timeout=_timeout(backend, suffix))
    except (outbound.OutboundError, Invalid) as exc:
        return Answer(0, error=str(getattr(exc, "detail", exc)))
    if reply.status >= 400:
        text = reply.body[:500].decode("utf-8", "replace")
        return Answer(reply.status, error=f"{reply.status} from {url}: {text}")
    try:
        return Answer(reply.status, body=reply.json())
    except ValueError as exc:
        return Answer(reply.status, error=f"{url} answered something that is not JSON: {exc}")


def _setup_body(backend: MLBackend, project: Project) -> dict:
    """Label Studio's ``/setup`` request: ``hostname`` is the address the server is reached at
    (``LABELFAB_PUBLIC_URL``, Label Studio's ``HOSTNAME``), against which a backend resolves the
    task data's ``/media/`` paths. Its ``access_token`` (the project creator's API key in Label
    Studio) is not sent: labelfab hands no user's key to a remote server."""
    return {"project": _project_uid(project), "schema": project.label_config,
            "hostname": get_settings().public_url.rstrip("/"), "access_token": None,
            "extra_params": backend.extra_params}


def _connect(backend: MLBackend, project: Project, password: str | None = None) -> tuple[Answer, str]:
    """``/health`` then ``/setup``; the backend's state, message and model version set from them.
    Returns the last answer and which call it was (``health`` or ``setup``)."""
    health = call(backend, "health", method="GET", password=password)
    if health.is_error:
        backend.state, backend.error_message = "ER", f"health: {health.error}"
        return health, "health"
    setup = call(backend, "setup", _setup_body(backend, project), password=password)
    if setup.is_error:
        backend.state, backend.error_message = "ER", f"setup: {setup.error}"
        return setup, "setup"
    backend.state, backend.error_message = "CO", None
    version = setup.body.get("model_version") if isinstance(setup.body, dict) else None
    if backend.auto_update and version is not None:
        backend.model_version = str(version)[:MAX_TEXT]
    return setup, "setup"


# --------------------------------------------------------------------------- the records


def backend_json(b: MLBackend) -> dict[str, Any]:
    """An ML backend as Label Studio's ``MLBackendSerializer`` answers (the password never)."""
    return {
        "id": b.id, "state": b.state, "readable_state": STATES.get(b.state, b.state),
        "is_interactive": b.is_interactive, "url": b.url, "error_message": b.error_message, "title": b.title,
        "auth_method": b.auth_method, "basic_auth_user": b.basic_auth_user,
        "basic_auth_pass_is_set": bool(b.basic_auth_pass_sealed), "description": b.description,
        "extra_params": b.extra_params, "model_version": b.model_version, "timeout": b.timeout,
        "created_at": _iso(b.created_at), "updated_at": _iso(b.updated_at), "auto_update": b.auto_update,
        "project": b.project_id,
    }


def _text(body: dict, name: str, errors: list[dict]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        errors.append({"field": name, "detail": f"text of at most {MAX_TEXT} characters"})
        return None
    return value


def _clean(body: Any, *, creating: bool) -> dict[str, Any]:
    """The fields of a create or update body, checked (Invalid names each bad one)."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS) - set(READ_ONLY))
    if unknown:
        raise Invalid(f"unknown ML backend field(s): {', '.join(unknown)}",
                      [{"field": k, "detail": "unknown field"} for k in unknown])
    errors: list[dict] = []
    out: dict[str, Any] = {}
    for name in ("url", "title", "description", "basic_auth_user", "basic_auth_pass", "model_version"):
        if name in body:
            value = _text(body, name, errors)
            if value is not None or name in ("basic_auth_pass",):
                out[name] = value
    if "auth_method" in body:
        if body["auth_method"] not in AUTH_METHODS:
            errors.append({"field": "auth_method", "detail": f"one of {', '.join(AUTH_METHODS)}"})
        else:
            out["auth_method"] = body["auth_method"]
    for name in ("is_interactive", "auto_update"):
        if name in body and body[name] is not None:
            if not isinstance(body[name], bool):
                errors.append({"field": name, "detail": "true or false"})
            else:
                out[name] = body[name]
    if "timeout" in body and body["timeout"] is not None:
        t = body["timeout"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or not 0 < t <= MAX_TIMEOUT:
            errors.append({"field": "timeout", "detail": f"seconds, above 0 and at most {MAX_TIMEOUT:g}"})
        else:
            out["timeout"] = float(t)
    if "extra_params" in body:
        extra = body["extra_params"]
        if extra is not None and (not isinstance(extra, dict) or len(json.dumps(extra)) > 100_000):
            errors.append({"field": "extra_params", "detail": "a JSON object (at most 100 kB)"})
        else:
            out["extra_params"] = extra
    if creating:
        project = body.get("project")
        if isinstance(project, bool) or not isinstance(project, int) or not 0 < project <= MAX_ID:
            errors.append({"field": "project", "detail": "required, a project id"})
        else:
            out["project"] = project
        if not out.get("url"):
            errors.append({"field": "url", "detail": "required"})
    elif "url" in body and not out.get("url"):
        errors.append({"field": "url", "detail": "must not be empty"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['detail']}" for e in errors), errors)
    if "url" in out:
        outbound.check_url(out["url"], resolve=False)
    return out


def _apply(backend: MLBackend, fields: dict[str, Any]) -> str | None:
    """Set ``fields`` on ``backend``; the plain password given (to call with before it is sealed)."""
    password = None
    for name, value in fields.items():
        if name == "project":
            continue
        if name == "basic_auth_pass":
            if value:  # Label Studio: an empty password keeps the stored one
                password = value
                backend.basic_auth_pass_sealed = secretbox.seal(value)
            continue
        setattr(backend, name, value)
    if backend.auth_method == "BASIC_AUTH" and not (backend.basic_auth_user and
                                                    (password or backend.basic_auth_pass_sealed)):
        raise Invalid("Authentication username and password is required for Basic Authentication.",
                      [{"field": "basic_auth_pass", "detail": "required with BASIC_AUTH"}])
    return password


def _refuse_unconnected(backend: MLBackend, answer: Answer, stage: str) -> None:
    """Label Studio's validation messages when ``/health`` or ``/setup`` fails."""
    if stage == "health":
        if answer.status == 401:
            raise MLBadRequest("Able to connect to ML Server, but authentication parameters were either not "
                               "provided or are incorrect.", [{"field": "url", "detail": "401"}])
        raise MLBadRequest(f"Can't connect to ML backend {backend.url}, health check failed. Make sure it is up "
                           f"and your firewall is properly configured. Additional info: {answer.error}",
                           [{"field": "url", "detail": "health check failed"}])
    raise MLBadRequest(f"Successfully connected to {backend.url} but it doesn't look like a valid ML backend. "
                       f"Reason: {answer.error}.", [{"field": "url", "detail": "setup failed"}])


def _require_backend(s: Session, user: User, backend_id: int, action: str = "manage") -> tuple[MLBackend, Project]:
    backend = s.get(MLBackend, backend_id) if 0 < backend_id <= MAX_ID else None
    if backend is None:
        raise NotFound(f"ML backend {backend_id} not found")
    project = require_project(s, user, backend.project_id, action)
    return backend, project


def list_backends(user: User, project_id: int, *, is_interactive: bool | None = None) -> list[MLBackend]:
    """A project's ML backends (Label Studio's ``GET /api/ml?project=ID``), for its leads."""
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        q = select(MLBackend).where(MLBackend.project_id == project_id).order_by(MLBackend.id)
        if is_interactive is not None:
            q = q.where(MLBackend.is_interactive == is_interactive)
        return list(s.exec(q).all())


def get_backend(user: User, backend_id: int) -> MLBackend:
    with read_session() as s:
        return _require_backend(s, user, backend_id)[0]


def create_backend(user: User, body: Any) -> MLBackend:
    """Connect a model server to a project (leads and admins): ``/health`` and ``/setup`` are
    called first, and a server that fails either is refused (MLBadRequest, Label Studio's 400)."""
    fields = _clean(body, creating=True)
    with read_session() as s:
        project = require_project(s, user, fields["project"], "manage")
    backend = MLBackend(project_id=project.id, url=fields["url"], created_by=user.id)
    password = _apply(backend, fields)
    answer, stage = _connect(backend, project, password)
    if backend.state != "CO":
        _refuse_unconnected(backend, answer, stage)
    with write_session() as s:
        require_project(s, user, project.id, "manage")
        backend.created_at = backend.updated_at = utcnow()
        s.add(backend)
        s.flush()
        s.refresh(backend)
        s.expunge(backend)
    return backend


def update_backend(user: User, backend_id: int, body: Any) -> MLBackend:
    """Change a backend (Label Studio's PATCH); ``/health`` and ``/setup`` are called again with
    the new fields, and the change is refused as on create when they fail."""
    fields = _clean(body, creating=False)
    fields.pop("project", None)
    with read_session() as s:
        backend, project = _require_backend(s, user, backend_id)
        s.expunge(backend)
    password = _apply(backend, fields)
    answer, stage = _connect(backend, project, password)
    if backend.state != "CO":
        _refuse_unconnected(backend, answer, stage)
    with write_session() as s:
        row, _ = _require_backend(s, user, backend_id)
        for name in ("url", "title", "description", "is_interactive", "auth_method", "basic_auth_user",
                     "basic_auth_pass_sealed", "extra_params", "model_version", "timeout", "auto_update", "state",
                     "error_message"):
            setattr(row, name, getattr(backend, name))
        row.updated_at = utcnow()
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


def delete_backend(user: User, backend_id: int) -> None:
    with write_session() as s:
        backend, _ = _require_backend(s, user, backend_id)
        s.delete(backend)


def _set_state(backend_id: int, state: str, message: str | None, model_version: str | None = None) -> None:
    values: dict[str, Any] = {"state": state, "error_message": message, "updated_at": utcnow()}
    if model_version is not None:
        values["model_version"] = model_version
    with write_session() as s:
        s.execute(sa.update(MLBackend).where(MLBackend.id == backend_id).values(**values))


def model_versions(user: User, backend_id: int) -> dict:
    """Label Studio's ``GET /api/ml/ID/versions``: the server's ``GET /versions``; a server without
    it (404) answers the backend's own version with a note. Another failure is MLBadRequest (a
    400 naming it; Label Studio passes the server's status on, 500 when there is none)."""
    with read_session() as s:
        backend, project = _require_backend(s, user, backend_id)
    answer = call(backend, "versions", method="GET")
    if not answer.is_error:
        versions = answer.body.get("versions", []) if isinstance(answer.body, dict) else []
        return {"versions": [v if v is None else str(v) for v in versions] if isinstance(versions, list) else []}
    if answer.status == 404:
        return {"versions": [backend.model_version], "message": "Upgrade your ML backend version to latest."}
    raise MLBadRequest(f"the ML backend's versions could not be read: {answer.error}",
                       [{"field": "url", "detail": "versions failed"}])


def interactive_annotating(user: User, backend_id: int, task_id: Any, context: Any = None) -> dict:
    """Label Studio's ``POST /api/ml/ID/interactive-annotating``: one task sent to an interactive
    backend with the annotator's context, answered ``{"data": ...}`` or ``{"errors": [...]}``.
    It is the one call made inside a request: the annotator waits for its answer."""
    if isinstance(task_id, bool) or not isinstance(task_id, int) or not 0 < task_id <= MAX_ID:
        raise Invalid("task: required, a task id", [{"field": "task", "detail": "required"}])
    with read_session() as s:
        backend = s.get(MLBackend, backend_id) if 0 < backend_id <= MAX_ID else None
        if backend is None:
            raise NotFound(f"ML backend {backend_id} not found")
        project = require_project(s, user, backend.project_id, "annotate")
        task = s.get(Task, task_id)
        if task is None or task.project_id != project.id or task.is_gold:
            raise NotFound(f"task {task_id} not found")
    if not backend.is_interactive:
        return {"errors": ["Model is not set to be used for interactive preannotations"]}
    answer = call(backend, "predict", _predict_body(project, [task_json(task)], context))
    if answer.is_error:
        return {"errors": [answer.error]}
    results = answer.body.get("results") if isinstance(answer.body, dict) else None
    if not isinstance(results, list) or not results:
        return {"errors": ["Incorrect response from ML service: ML backend has to return list with more than "
                           "1 result."]}
    return {"data": results[0]}


# --------------------------------------------------------------------------- predictions


def _predict_body(project: Project, tasks: list[dict], context: Any = None) -> dict:
    return {"tasks": tasks, "project": _project_uid(project), "label_config": project.label_config,
            "params": {"login": None, "password": None, "context": context}}


def active_backend(s: Session, project_id: int) -> MLBackend | None:
    """The backend that predicts for a project: its first, as Label Studio's ``project.ml_backend``."""
    return s.exec(select(MLBackend).where(MLBackend.project_id == project_id)
                  .order_by(MLBackend.id).limit(1)).first()


def request_predictions(s: Session, project_id: int, *, task_ids: list[int] | None = None,
                        reason: str, created_by: int | None = None) -> int | None:
    """Queue an ``ml_predict`` job in the caller's transaction when the project has a backend;
    its job id, or None. ``task_ids`` None: every task of the project without a prediction of the
    backend's model version."""
    if active_backend(s, project_id) is None:
        return None
    payload = {"reason": reason, "task_ids": task_ids}
    return jobs.enqueue("ml_predict", project_id=project_id, payload=payload, created_by=created_by, session=s)


#: a look-ahead job is not queued again for a project this soon after the last one
LOOKAHEAD_SECONDS = 10

_J = Job.__table__
_B = MLBackend.__table__
# Built once (the router's hot path): does the project have a backend (one index probe), and
# only then, would a look-ahead be redundant (a job queued or running, or queued moments ago)?
_HAS_BACKEND = sa.select(_B.c.id).where(_B.c.project_id == sa.bindparam("pid")).limit(1)
_PENDING = sa.select(_J.c.id).where(
    _J.c.project_id == sa.bindparam("pid"), _J.c.kind == "ml_predict",
    sa.or_(_J.c.status.in_([JobStatus.queued, JobStatus.running]),
           _J.c.created_at >= sa.bindparam("since", type_=_J.c.created_at.type))).limit(1)


def lookahead_due(conn, project_id: int) -> bool:
    """True when the router's lease should queue a look-ahead job: the project has a backend and
    no such job is queued or running or was queued in the last ``LOOKAHEAD_SECONDS``. One query
    on the caller's connection for a project without a backend, two with one."""
    if get_settings().ml_lookahead <= 0 or conn.execute(_HAS_BACKEND, {"pid": project_id}).first() is None:
        return False
    since = utcnow() - timedelta(seconds=LOOKAHEAD_SECONDS)
    return conn.execute(_PENDING, {"pid": project_id, "since": since}).first() is None


def queue_lookahead(project_id: int) -> int:
    """Queue the job that pre-labels the next open tasks (after :func:`lookahead_due`); its id."""
    with write_session() as s:
        return jobs.enqueue("ml_predict", project_id=project_id, session=s,
                            payload={"reason": "lookahead", "task_ids": None, "lookahead": True})


def _missing(s: Session, project_id: int, version: str, task_ids: list[int] | None, *, lookahead: bool,
             after: int, limit: int) -> list[Task]:
    """Tasks (after id ``after``) that have no prediction of ``version``; gold tasks never (a
    pre-label would tell annotators the answer gold measures them by)."""
    has = sa.exists().where(Prediction.task_id == Task.id, Prediction.model_version == version)
    q = select(Task).where(Task.project_id == project_id, Task.is_gold == sa.false(), ~has, Task.id > after)
    if task_ids is not None:
        q = q.where(Task.id.in_(task_ids))
    if lookahead:
        q = q.where(Task.state == TaskState.open, Task.n_annotations < Task.target_overlap)
        q = q.order_by(Task.requeued.desc(), Task.priority.desc(), Task.n_annotations.desc(), Task.id)
        return list(s.exec(q.limit(limit)).all())
    return list(s.exec(q.order_by(Task.id).limit(limit)).all())


def _predictions_of(backend: MLBackend, project: Project, tasks: list[dict], body: Any) -> list[dict] | str:
    """Label Studio's reading of a ``/predict`` answer: one result (or a list) per task; a server
    that answers one result for several tasks is asked task by task. A string: what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list) or not body["results"]:
        return "ML backend returns an incorrect response: results must be a list with at least one item"
    results = body["results"]
    if len(results) != len(tasks):
        if len(results) != 1:
            return f"Number of tasks and responses are not equal: {len(tasks)} tasks != {len(results)} responses"
        out: list[dict] = []
        for task in tasks:
            answer = call(backend, "predict", _predict_body(project, [task]))
            if answer.is_error:
                return answer.error or "predict failed"
            one = _predictions_of(backend, project, [task], answer.body)
            if isinstance(one, str):
                return one
            out.extend(one)
        return out
    out = []
    for task, response in zip(tasks, results, strict=True):
        for r in response if isinstance(response, list) else [response]:
            if isinstance(r, dict) and isinstance(r.get("result"), list):
                out.append({"task": task["id"], "result": r["result"], "score": r.get("score"),
                            "probs": r.get("probs"), "model_version": r.get("model_version")})
    return out


def _store(s: Session, project: Project, predictions: list[dict], version: str) -> tuple[int, int]:
    """Write predictions checked against the label config; (stored, refused)."""
    from labeling.predictions import check_prediction, check_prediction_values

    stored = refused = 0
    tasks = {t.id: t for t in s.exec(select(Task).where(Task.id.in_({p["task"] for p in predictions})))}
    for p in predictions:
        task = tasks.get(p["task"])
        if task is None:  # deleted meanwhile
            continue
        score = p["score"] if isinstance(p["score"], int | float) and not isinstance(p["score"], bool) else None
        probs = p["probs"] if isinstance(p["probs"], dict) else None
        try:
            check_prediction_values(task.id, score=score, probs=probs)
            check_prediction(s, project, task, p["result"], probs)
        except DomainError as exc:
            refused += 1
            log.info("ML backend prediction for task %s refused: %s", task.id, exc)
            continue
        mv = p["model_version"] if isinstance(p["model_version"], str) and p["model_version"] else version
        s.add(Prediction(task_id=task.id, project_id=project.id, result=p["result"], score=score, probs=probs,
                         model_version=mv[:MAX_VERSION], created_at=utcnow()))
        stored += 1
    return stored, refused


def run_predict_job(ctx: jobs.JobContext) -> dict:
    """The ``ml_predict`` job: the project's backend asked for predictions in batches."""
    settings = get_settings()
    payload = ctx.payload or {}
    task_ids = payload.get("task_ids")
    is_lookahead = bool(payload.get("lookahead"))
    with read_session() as s:
        project = s.get(Project, ctx.project_id)
        backend = active_backend(s, ctx.project_id) if project is not None else None
        if backend is None:
            return {"predicted": 0, "detail": "the project has no ML backend"}
        limit = settings.ml_lookahead if is_lookahead else settings.ml_batch_size
        first = _missing(s, project.id, backend.model_version or backend.title, task_ids,
                         lookahead=is_lookahead, after=0, limit=limit)
    if not first:
        return {"predicted": 0, "refused": 0, "model_version": backend.model_version}
    _connect(backend, project)
    if backend.state != "CO":
        _set_state(backend.id, backend.state, backend.error_message)
        return {"predicted": 0, "error": backend.error_message}
    version = backend.model_version or backend.title
    _set_state(backend.id, "PR", None, backend.model_version)
    try:
        stored, refused, error = _predict_batches(ctx, backend, project, version, task_ids, is_lookahead)
    except Exception as exc:  # the backend must not stay "predicting": ER with the reason, the job fails
        _set_state(backend.id, "ER", f"predict: {exc.__class__.__name__}: {exc}")
        raise
    if error is not None:
        _set_state(backend.id, "ER", f"predict: {error}")
        return {"predicted": stored, "refused": refused, "error": error}
    _set_state(backend.id, "CO", None)
    return {"predicted": stored, "refused": refused, "model_version": version}


def _predict_batches(ctx: jobs.JobContext, backend: MLBackend, project: Project, version: str,
                     task_ids: list[int] | None, is_lookahead: bool) -> tuple[int, int, str | None]:
    """/predict for every task still missing a prediction of ``version``, a batch at a time, each
    batch stored in one transaction; (stored, refused, the error that stopped it or None)."""
    settings = get_settings()
    stored = refused = 0
    after = 0
    total = len(task_ids) if task_ids is not None else None
    while True:
        with read_session() as s:
            batch = _missing(s, project.id, version, task_ids, lookahead=is_lookahead, after=after,
                             limit=settings.ml_lookahead if is_lookahead else settings.ml_batch_size)
        if not batch:
            break
        after = max(t.id for t in batch)
        tasks = [task_json(t) for t in batch]
        answer = call(backend, "predict", _predict_body(project, tasks))
        found = answer.error if answer.is_error else _predictions_of(backend, project, tasks, answer.body)
        if isinstance(found, str) or found is None:
            return stored, refused, found or "predict failed"
        with unit_of_work() as s:
            n, bad = _store(s, s.get(Project, project.id), found, version)
        stored, refused = stored + n, refused + bad
        ctx.progress(min(0.99, (stored + refused) / total) if total else 0.5, f"{stored} predictions stored")
        if is_lookahead or (task_ids is None and len(batch) < settings.ml_batch_size):
            break
    return stored, refused, None


# --------------------------------------------------------------------------- training


def request_train(user: User, backend_id: int) -> int:
    """Label Studio's ``POST /api/ml/ID/train``: queue an ``ml_train`` job (leads); its id."""
    with write_session() as s:
        backend, project = _require_backend(s, user, backend_id)
        return jobs.enqueue("ml_train", project_id=project.id, created_by=user.id, session=s,
                            payload={"backend": backend.id})


def on_publish(s: Session, project_id: int, number: int, sha256: str) -> list[int]:
    """In the transaction that records a dataset version: an ``ml_train`` job per backend of the
    project, which tells the server to train with the version named."""
    ids = s.execute(select(MLBackend.id).where(MLBackend.project_id == project_id)).scalars().all()
    version = {"number": number, "sha256": sha256,
               "download_url": f"/api/projects/{project_id}/datasets/{number}/download"}
    return [jobs.enqueue("ml_train", project_id=project_id, session=s,
                         payload={"backend": backend_id, "dataset_version": version}) for backend_id in ids]


def run_train_job(ctx: jobs.JobContext) -> dict:
    """The ``ml_train`` job: Label Studio's ``START_TRAINING`` webhook posted to the backend."""
    from labeling.projects import project_counts, project_view

    payload = ctx.payload or {}
    with read_session() as s:
        backend = s.get(MLBackend, payload.get("backend") or 0)
        if backend is None:
            return {"trained": False, "detail": "the ML backend was deleted"}
        project = s.get(Project, backend.project_id)
        counts = project_counts(s, [project.id])[project.id]
    body: dict[str, Any] = {"action": "START_TRAINING", "project": project_view(project, counts)}
    if payload.get("dataset_version"):
        body["dataset_version"] = payload["dataset_version"]
    answer = call(backend, "webhook", body)
    if answer.is_error:
        _set_state(backend.id, "ER", f"webhook: {answer.error}")
        return {"trained": False, "error": answer.error}
    _set_state(backend.id, "TR", None)
    return {"trained": True, "response": answer.body if isinstance(answer.body, dict) else None}
