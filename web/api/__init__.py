"""The REST API under /api: token auth (``Authorization: Token <key>`` or ``Bearer``) or the
browser session (then CSRF is checked on writes), JSON errors, Label Studio field names."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from labeling import jobs, users
from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import NotFound
from web.api.describe import doc
from web.api.schemas import Job, Me
from web.auth import AuthUser
from web.errors import error_response

bp = Blueprint("api", __name__, url_prefix="/api")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _token_from_header() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and key.strip():
        return key.strip()
    return None


@bp.before_request
def authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(getattr(view, "_openapi", None), "public", False):
        return None  # the API's own description (web.api.openapi)
    key = _token_from_header()
    if key is not None:
        found = users.user_for_token(key)
        if found is None:
            return error_response(401, "invalid, revoked or missing API token")
        g.user = AuthUser(found[0], scope=found[1])
    elif current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except ValidationError as exc:
                return error_response(400, f"CSRF check failed: {exc}")
        g.user = current_user
    else:
        return error_response(401, "authentication required: send 'Authorization: Token <key>'")
    if g.user.scope == "read":
        if request.method not in SAFE_METHODS:
            return error_response(403, "this token is read-only")
        if not getattr(view, "readable", False):
            return error_response(403, "a read token reads projects, tasks, QC results and datasets: "
                                       "this request needs a full token")
    if getattr(view, "changes_state", False):
        dest = request.headers.get("Sec-Fetch-Dest", "empty")
        if dest != "empty":  # an <img>, a frame or a page: a link in task data, never the app's scripts
            return error_response(403, f"this request leases a task: it is not loaded as a {dest}")
    return None


def changes_state(view):
    """Mark a GET that changes state (it leases a task, as Label Studio's ``next`` does): a
    browser loading it as an image, a frame or a page is refused (read tokens are: not readable)."""
    view.changes_state = True
    return view


def readable(view):
    """Mark a GET that a read token (a training pipeline's) may call: it reads, and the
    caller's role in the project still decides what it sees. Every other route refuses them."""
    view.readable = True
    return view


def accepts_uploads(view):
    """Mark a route that takes uploads (an import): its body may reach LABELFAB_MAX_UPLOAD_MB,
    where every other route's stops at LABELFAB_MAX_REQUEST_MB (``create_app``)."""
    view.accepts_uploads = True
    return view


def api_user() -> AuthUser:
    return g.user


def project_for(project_id: int, action: str = "view"):
    """The project if the caller may ``action`` in it (404/403 otherwise), detached."""
    with read_session() as s:
        return require_project(s, api_user().user, project_id, action, scope=api_user().scope)


@bp.get("/me")
@readable
@doc(responses={200: Me}, tags=("users",))
def me():
    """The caller: user, role and the token's scope."""
    u = api_user()
    return jsonify({"id": u.id, "email": u.email, "username": u.email, "role": u.role, "token_scope": u.scope})


@bp.get("/jobs/<int:job_id>")
@readable
@doc(responses={200: Job}, tags=("jobs",))
def get_job(job_id: int):
    """A background job: status and progress (imports, QC, ...)."""
    job = jobs.get_job(job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if job.project_id is not None:
        project_for(job.project_id)
    elif not api_user().is_lead and job.created_by != api_user().id:
        raise NotFound(f"job {job_id} not found")
    return jsonify(jobs.job_view(job))


# The routes live in one module per area (microblog style); importing them registers them on bp.
# 'annotations' is also the name bound by 'from __future__ import annotations': import it by path.
import web.api.annotations  # noqa: E402,F401
from web.api import (  # noqa: E402,F401
    accounts,
    annotate_ui,
    comments,
    dm,
    drafts,
    exports,
    invites,
    ml,
    openapi,
    organizations,
    projects,
    quality,
    review,
    review_ui,
    stats,
    storages,
    webhooks,
)
