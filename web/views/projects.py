"""Project pages: the list (on the front page), create with the config gallery, settings,
members, upload (the task list is web.views.data_manager), the media route for a project's images
and Label Studio's resolve proxy of the objects of its storages."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from labeling import invites, projects, users, webhooks
from labeling.errors import Conflict, DomainError
from labeling.imports import list_imports
from labeling.models import TaskState
from labeling.schema import gallery, schema_of
from labeling.storages.resolve import Redirect, open_uri
from labeling.thumbnails import media_file
from web.extensions import login_manager
from web.views import project_access
from web.views.people import invite_url

bp = Blueprint("projects", __name__)


class ProjectForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=255)])
    description = TextAreaField("Description", validators=[Optional()])
    instructions = TextAreaField("Instructions shown to annotators", validators=[Optional()])
    overlap = IntegerField("Annotations per task (overlap)", default=1, validators=[NumberRange(min=1, max=100)])
    label_config = TextAreaField("Label config (Label Studio XML)", validators=[DataRequired()])


class SettingsForm(ProjectForm):
    max_overlap = IntegerField("Most annotations per task (QC may ask for more, up to this)",
                               validators=[NumberRange(min=1, max=100)])
    lease_seconds = IntegerField("Lease time (seconds an annotator holds a task)",
                                 validators=[NumberRange(min=10, max=7 * 24 * 3600)])
    restricted = BooleanField("Only members of the project get tasks")
    show_instruction = BooleanField("Show the instructions before labelling starts")
    prelabels = SelectField(
        "Pre-labels (predictions pre-filled for a task's first annotator)",
        choices=[("", "Default: on with overlap 1, off with overlap 2 or more"),
                 ("on", "On: pre-fill predictions for each task's first annotator"),
                 ("off", "Off: annotators never see predictions")], default="")


class MemberForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=255)])
    role = SelectField("Role", choices=[(r.value, r.value) for r in projects.MEMBER_ROLES], default="annotator")


class ActionForm(FlaskForm):
    """A button that posts (archive, unarchive, remove member): CSRF only."""


def _user():
    return current_user.user


def _text(field) -> str:
    """A textarea's value as typed: browsers send line breaks as CRLF, the domain keeps LF."""
    return (field.data or "").replace("\r\n", "\n")


def _form_errors(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error on the form: under the field it names, else at the top."""
    placed = False
    for err in exc.errors or []:
        name = err.get("field") if isinstance(err, dict) else None
        if name and hasattr(form, name):
            getattr(form, name).errors = [*getattr(form, name).errors, err.get("detail", str(err))]
            placed = True
    if exc.errors and all("line" in e or "tag" in e for e in exc.errors if isinstance(e, dict)):
        form.label_config.errors = [e["detail"] for e in exc.errors]
        placed = True
    if not placed:
        flash(exc.detail, "error")


# --------------------------------------------------------------------------- list


@bp.get("/projects")
@login_required
def index():
    rows = projects.list_projects(_user(), include_archived=request.args.get("archived") == "1")
    return render_template("projects/list.html", rows=_with_kind(rows), archived=request.args.get("archived") == "1")


@bp.get("/projects/_list")
@login_required
def list_partial():
    """The project list the front page loads with htmx."""
    return render_template("projects/_list.html", rows=_with_kind(projects.list_projects(_user())))


def _with_kind(rows):
    return [(p, c, schema_of(p).kind) for p, c in rows]


# --------------------------------------------------------------------------- create


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required
def create():
    if not current_user.is_lead:
        abort(403)
    form = ProjectForm()
    status = 200
    if request.method == "GET" and request.args.get("template"):
        chosen = next((g for g in gallery() if g["id"] == request.args["template"]), None)
        if chosen is not None:
            form.label_config.data = chosen["xml"]
    if form.validate_on_submit():
        try:
            project = projects.create_project(_user(), title=form.title.data,
                                              label_config=_text(form.label_config),
                                              description=_text(form.description),
                                              instructions=_text(form.instructions), overlap=form.overlap.data)
        except DomainError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            flash(f"Project “{project.title}” created. Now import some data.", "success")
            return redirect(url_for("projects.upload", project_id=project.id))
    elif request.method == "POST":
        status = 422
    return render_template("projects/new.html", form=form, gallery=gallery()), status


# --------------------------------------------------------------------------- one project


@bp.get("/projects/<int:project_id>")
@login_required
def detail(project_id: int):
    project, counts = projects.get_project_for(_user(), project_id)
    can_manage = _can(project_id, "manage")
    # imports name their files (server paths for a CLI import): only those who manage the project see them
    imports = list_imports(_user(), project_id, limit=10, action="manage") if can_manage else []
    kind = schema_of(project).kind
    return render_template("projects/detail.html", project=project, counts=counts, imports=imports, kind=kind,
                           states=list(TaskState), can_manage=can_manage,
                           can_see_all=_can(project_id, "see_all"))


def _can(project_id: int, action: str) -> bool:
    try:
        projects.get_project_for(_user(), project_id, action)
        return True
    except DomainError:
        return False


_PRELABELS = {None: "", True: "on", False: "off"}  # Project.show_predictions as the form's choice


@bp.route("/projects/<int:project_id>/settings", methods=["GET", "POST"])
@login_required
def settings(project_id: int):
    project, counts = projects.get_project_for(_user(), project_id, "manage")
    form = SettingsForm(obj=project, prelabels=_PRELABELS[project.show_predictions])
    status = 200
    pending = None  # a new overlap that moves tasks: the page says how many before saving
    if form.validate_on_submit():
        try:
            if form.overlap.data != project.overlap:
                change = projects.preview_overlap(_user(), project_id, form.overlap.data)
                if (change.reopened or change.labeled) and request.form.get("confirm_overlap") != str(change.new):
                    pending = change
            if pending is None:
                edit = projects.edit_project(
                    _user(), project_id, title=form.title.data, label_config=_text(form.label_config),
                    description=_text(form.description), instructions=_text(form.instructions),
                    overlap=form.overlap.data, max_overlap=max(form.max_overlap.data, form.overlap.data),
                    lease_seconds=form.lease_seconds.data, restricted=form.restricted.data,
                    show_instruction=form.show_instruction.data,
                    show_predictions={"": None, "on": True, "off": False}.get(form.prelabels.data))
        except DomainError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            if pending is None:
                moved = edit.overlap_change
                said = f" {moved.text()}" if moved is not None and (moved.reopened or moved.labeled) else ""
                flash(f"Settings saved.{said}", "success")
                return redirect(url_for("projects.settings", project_id=project_id))
    elif request.method == "POST":
        status = 422
    return render_template("projects/settings.html", project=project, counts=counts, form=form,
                           action_form=ActionForm(), gallery=gallery(), pending=pending), status


@bp.post("/projects/<int:project_id>/delete")
@login_required
def delete(project_id: int):
    """Delete the project for good: the form asks for its title typed again (the confirmation),
    and for ``force`` when it has published dataset versions."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    project, _ = projects.get_project_for(_user(), project_id, "manage")
    if request.form.get("confirm_title", "").strip() != project.title.strip():
        flash("Nothing was deleted: type the project's title exactly to confirm.", "error")
        return redirect(url_for("projects.settings", project_id=project_id))
    try:
        projects.delete_project(_user(), project_id, force=request.form.get("force") == "1")
    except Conflict as exc:
        flash(f"Nothing was deleted: {exc.detail}", "error")
        return redirect(url_for("projects.settings", project_id=project_id))
    flash(f"Project “{project.title}” and everything in it were deleted.", "success")
    return redirect(url_for("projects.index"))


@bp.post("/projects/<int:project_id>/archive")
@login_required
def archive(project_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    archived = request.form.get("archived", "1") == "1"
    project = projects.archive_project(_user(), project_id, archived=archived)
    flash(f"Project “{project.title}” {'archived' if archived else 'is active again'}.", "success")
    return redirect(url_for("projects.index") if archived else url_for("projects.detail", project_id=project_id))


@bp.route("/projects/<int:project_id>/members", methods=["GET", "POST"])
@login_required
@project_access("manage")
def members(project_id: int):
    project, _ = projects.get_project_for(_user(), project_id, "see_all")
    form = MemberForm()
    can_manage = _can(project_id, "manage")
    status = 200
    invited = None
    if form.validate_on_submit():
        try:  # an email no account has is invited: an account, its membership and a link
            added = invites.add_member(_user(), project_id, member=form.email.data, role=form.role.data)
            user, invited = added.user, added.invited
            if invited is not None:
                status = 201
        except DomainError as exc:
            form.email.errors = [*form.email.errors, exc.detail]
            status = exc.status
        except users.UserError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
            status = 422
        else:
            if invited is None:
                flash(f"{user.email} is now {form.role.data} in this project.", "success")
                return redirect(url_for("projects.members", project_id=project_id))
            form = MemberForm(formdata=None)
    elif request.method == "POST":
        status = 422
    rows = projects.list_members(_user(), project_id)
    return render_template("projects/members.html", project=project, rows=rows, form=form, invited=invited,
                           link=invite_url(invited.key) if invited else None,
                           action_form=ActionForm(), can_manage=can_manage), status


@bp.get("/projects/<int:project_id>/webhooks")
@login_required
@project_access("manage")
def webhooks_page(project_id: int):
    """The project's webhooks and the last deliveries of each (managed through /api/webhooks)."""
    project, hooks = webhooks.project_deliveries(_user(), project_id, limit=20)
    return render_template("projects/webhooks.html", project=project, hooks=hooks,
                           view=webhooks.webhook_view, delivery=webhooks.delivery_view)


@bp.post("/projects/<int:project_id>/members/<int:user_id>/remove")
@login_required
@project_access("manage")
def remove_member(project_id: int, user_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    projects.remove_member(_user(), project_id, user_id)
    flash("Member removed.", "success")
    return redirect(url_for("projects.members", project_id=project_id))


@bp.get("/projects/<int:project_id>/import")
@login_required
def upload(project_id: int):
    project, counts = projects.get_project_for(_user(), project_id, "manage")
    schema = schema_of(project)
    return render_template("projects/import.html", project=project, counts=counts, schema=schema,
                           project_id=project_id, imports=list_imports(_user(), project_id, limit=10))


@bp.get("/projects/<int:project_id>/import/_recent")
@login_required
def recent_imports(project_id: int):
    """The import page's "Recent imports" section, which htmx reloads when an import ends."""
    return render_template("projects/_recent_imports.html", project_id=project_id,
                           imports=list_imports(_user(), project_id, limit=10, action="manage"))


# --------------------------------------------------------------------------- media


IMMUTABLE = "private, max-age=31536000, immutable"


def _media_user():
    """The browser session's user, or the owner of an API token (scripts fetching images)."""
    if current_user.is_authenticated:
        return current_user.user
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and key.strip():
        found = users.user_for_token(key.strip())
        if found is not None:
            return found[0]
        abort(401)
    return None


@bp.get("/media/<int:project_id>/<string(length=64):sha256>.<ext>")
def media(project_id: int, sha256: str, ext: str):
    user = _media_user()
    if user is None:
        return login_manager.unauthorized()
    path, mime, _ = media_file(user, project_id, sha256.lower(), ext.lower())
    return _send(path, mime, sha256, final=True)


@bp.get("/media/<int:project_id>/thumbs/<string(length=64):sha256>.jpg")
def thumbnail(project_id: int, sha256: str):
    user = _media_user()
    if user is None:
        return login_manager.unauthorized()
    path, mime, final = media_file(user, project_id, sha256.lower(), "jpg", thumbnail=True)
    return _send(path, mime, f"{sha256}-t" if final else f"{sha256}-o", final=final)


@bp.get("/tasks/<int:task_id>/resolve/")
@bp.get("/tasks/<int:task_id>/presign/")
def resolve_storage_uri(task_id: int):
    """Label Studio's proxy of a task's ``s3://`` objects (``labeling.storages.resolve``)."""
    user = _media_user()
    if user is None:
        return login_manager.unauthorized()
    fileuri = request.args.get("fileuri")
    if fileuri is None:
        abort(400)
    # the app's pages (a session) get the bytes: their CSP loads media from this origin alone;
    # scripts and ML backends (a token) are redirected as Label Studio redirects them
    found = open_uri(user, task_id, fileuri, relay=current_user.is_authenticated,
                     range_header=request.headers.get("Range"))
    if isinstance(found, Redirect):
        response = redirect(found.url, code=303)
        response.headers["Cache-Control"] = f"no-store, max-age={found.max_age}"
        return response
    response = Response(found.chunks, status=found.status, headers=found.headers, direct_passthrough=True)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _send(path, mime: str, etag: str, *, final: bool):
    response = send_file(path, mimetype=mime, etag=etag, conditional=True, max_age=None)
    response.headers["Cache-Control"] = IMMUTABLE if final else "private, no-cache"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
