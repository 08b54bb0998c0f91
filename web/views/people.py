"""People: the admin's Users page (create and invite, role, active, a new link) and the page an
invite link opens (set a password, then signed in). Leads invite from a project's members page
(``web.views.projects.members``); all of them call ``labeling.invites``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from labeling import invites, users
from labeling.errors import DomainError
from labeling.models import Role
from labeling.settings import get_settings
from web.auth import start_session

bp = Blueprint("people", __name__)

ROLE_CHOICES = [(r.value, r.value) for r in Role]


class InviteForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=255)])
    name = StringField("Name", validators=[Length(max=255)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.annotator.value)


class UserForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = SelectField("Account", choices=[("1", "active"), ("0", "inactive")])


class ActionForm(FlaskForm):
    """A button that posts (a new link): CSRF only."""


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD)])
    again = PasswordField("The same password again",
                          validators=[DataRequired(), EqualTo("password", message="the two passwords differ")])


def invite_url(key: str) -> str:
    """The link to send: on ``LABELFAB_PUBLIC_URL`` when set (behind a proxy), else as this request came."""
    base = get_settings().public_url.rstrip("/")
    return base + url_for("people.accept", key=key) if base else url_for("people.accept", key=key, _external=True)


def _require_admin() -> None:
    if current_user.role != Role.admin:
        abort(403)


def _users_page(form: InviteForm, *, invited=None, status: int = 200):
    return render_template("people/users.html", rows=users.list_users(), form=form, action_form=ActionForm(),
                           roles=ROLE_CHOICES, pending=invites.pending_invites(), invited=invited,
                           link=invite_url(invited.key) if invited else None), status


@bp.get("/users")
@login_required
def index():
    _require_admin()
    return _users_page(InviteForm())


@bp.post("/users")
@login_required
def create():
    """Create a user without a password and show their one-time link."""
    _require_admin()
    form = InviteForm()
    if not form.validate_on_submit():
        return _users_page(form, status=422)
    try:
        invited = invites.invite(current_user.user, form.email.data, role=form.role.data, name=form.name.data or "")
    except DomainError as exc:
        form.email.errors = [*form.email.errors, exc.detail]
        return _users_page(form, status=exc.status)
    except users.UserError as exc:
        form.email.errors = [*form.email.errors, str(exc)]
        return _users_page(form, status=422)
    return _users_page(InviteForm(formdata=None), invited=invited, status=201)


@bp.post("/users/<int:user_id>")
@login_required
def update(user_id: int):
    _require_admin()
    form = UserForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        user = users.update_user(user_id, role=form.role.data, is_active=form.active.data == "1")
    except users.UserError as exc:
        flash(f"Nothing changed: {exc}", "error")
    else:
        flash(f"{user.email}: {user.role}, {'active' if user.is_active else 'inactive'}.", "success")
    return redirect(url_for("people.index"))


@bp.post("/users/<int:user_id>/invite")
@login_required
def reinvite(user_id: int):
    """A new one-time link for a user (a lost password, or an invite that expired)."""
    _require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    user = users.get_user(user_id)
    if user is None:
        abort(404)
    invited = invites.invite(current_user.user, user.email, role=user.role)
    return _users_page(InviteForm(formdata=None), invited=invited, status=201)


@bp.route("/invite/<key>", methods=["GET", "POST"])
def accept(key: str):
    """The page a one-time link opens: set a password, then signed in; the link is then dead."""
    user = invites.check_invite(key)  # NotFound (404) for a used, expired or unknown link
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = invites.accept_invite(key, form.password.data)
        except users.UserError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
            status = 422
        else:
            if current_user.is_authenticated:
                logout_user()
            start_session(user)
            flash("Your password is set; you are signed in.", "success")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("people/accept.html", form=form, user=user), status
