"""Log-in and log-out (Flask-Login sessions, CSRF-protected forms) and who the caller is."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from labeling import users
from labeling.models import Role, User
from web.extensions import login_manager

bp = Blueprint("auth", __name__)


@dataclass
class AuthUser:
    """The logged-in user as Flask-Login sees it (a snapshot of the ``user`` row)."""

    user: User
    scope: str = "full"  # token scope for API calls: full | read

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_lead(self) -> bool:
        return self.user.role in (Role.admin, Role.lead)


# The session remembers the user's session generation at log-in; log-out, a password change and
# an admin's "sign out everywhere" change it, and every session that remembers another is over
# (signed cookies cannot be taken back; this is how they end).
SESSION_VERSION_KEY = "_sv"


@login_manager.user_loader
def load_user(user_id: str) -> AuthUser | None:
    user = users.get_user(int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return AuthUser(user)


def start_session(user: User) -> None:
    """Sign the browser in as ``user`` (Flask-Login), remembering their session generation."""
    login_user(AuthUser(user))
    session[SESSION_VERSION_KEY] = user.session_version


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = users.authenticate(form.email.data, form.password.data, address=request.remote_addr)
        if result.user is not None:
            start_session(result.user)
            return redirect(_safe_next(request.args.get("next")))
        flash(result.error, "error")
        status = 429 if result.retry_after else 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session: this one, and (signed cookies being copyable) every other of the user's."""
    if current_user.is_authenticated:
        users.end_sessions(current_user.id)
    logout_user()
    session.pop(SESSION_VERSION_KEY, None)
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))

