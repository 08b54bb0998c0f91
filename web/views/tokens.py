"""The Tokens page (the user menu): the caller's API tokens, a new one (its key shown once, on
the answer to the form, never stored in the session) and revoking one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from labeling import users
from labeling.db import utcnow
from labeling.errors import DomainError
from labeling.models import TokenScope

bp = Blueprint("tokens", __name__)

EXPIRY_CHOICES = [("", "never"), ("7", "in 7 days"), ("30", "in 30 days"), ("90", "in 90 days"),
                  ("365", "in a year")]


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=255)])
    scope = SelectField("Scope", choices=[(TokenScope.full.value, "full: acts as you")])
    expires = SelectField("Expires", choices=EXPIRY_CHOICES)


class ActionForm(FlaskForm):
    """A button that posts (revoke): CSRF only."""


def _form(*, blank: bool = False) -> TokenForm:
    form = TokenForm(formdata=None) if blank else TokenForm()
    if current_user.is_lead:  # read tokens are the pipelines' of leads and admins
        form.scope.choices = [*form.scope.choices, (TokenScope.read.value, "read: pulls datasets, reads")]
    return form


def _page(form: TokenForm, *, new=None, key: str | None = None, status: int = 200):
    tokens = users.list_tokens(current_user.id, live=True)
    return render_template("tokens/page.html", tokens=tokens, form=form, action_form=ActionForm(),
                           new=new, key=key, now=utcnow()), status


@bp.get("/tokens")
@login_required
def page():
    return _page(_form())


@bp.post("/tokens")
@login_required
def create():
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        days = int(form.expires.data) if form.expires.data else None
        token, key = users.new_token(current_user.id, name=form.name.data or "", scope=form.scope.data,
                                     expires_at=users.token_expiry(expires_in_days=days))
    except DomainError as exc:
        form.name.errors = [*form.name.errors, exc.detail]
        return _page(form, status=exc.status)
    except users.UserError as exc:
        form.name.errors = [*form.name.errors, str(exc)]
        return _page(form, status=422)
    return _page(_form(blank=True), new=token, key=key, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    token = users.revoke_token(token_id, by=current_user.user)
    flash(f"Token {token.prefix}… revoked: it no longer opens the API.", "success")
    return redirect(url_for("tokens.page"))
