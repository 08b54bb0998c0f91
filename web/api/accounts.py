"""Users over REST (admins: create, change, sign out everywhere), and the caller's own tokens
(create, list, revoke; admins revoke anyone's)."""

from __future__ import annotations

from flask import jsonify, request

from labeling import users
from labeling.db import utcnow
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import ApiToken, Role, User
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import flag_field, json_body, string_field


def user_view(user: User) -> dict:
    return {"id": user.id, "email": user.email, "username": user.email, "first_name": user.name,
            "role": user.role, "is_active": user.is_active,
            "last_activity": user.last_login_at.isoformat() if user.last_login_at else None}


def _require_admin() -> None:
    if api_user().role != Role.admin:
        raise Forbidden("only admins manage users")


@bp.get("/users")
@doc(summary="Every user (admins)", responses={200: list[s.User]}, tags=('users',))
def list_users():
    _require_admin()
    return jsonify([user_view(u) for u in users.list_users()])


@bp.post("/users")
@doc(summary="Create a user (admins)", body=s.UserBody, responses={201: s.User}, tags=('users',))
def create_user():
    _require_admin()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object: {\"email\": ..., \"role\": ..., \"password\": ...}")
    email, role = string_field(body, "email") or "", string_field(body, "role") or Role.annotator
    password, name = string_field(body, "password"), string_field(body, "name") or ""
    try:
        user = users.create_user(email, role=role, password=password, name=name)
    except users.UserError as exc:
        raise Invalid(str(exc), [{"field": "email" if "email" in str(exc) else "role", "detail": str(exc)}]) from None
    return jsonify(user_view(user)), 201


@bp.patch("/users/<int:user_id>")
@doc(summary="Change a user's role or deactivate them (admins)", body=s.UserPatch, responses={200: s.User}, tags=('users',))
def update_user(user_id: int):
    _require_admin()
    body = json_body() if request.get_json(silent=True) is not None else {}
    role, is_active = string_field(body, "role"), flag_field(body, "is_active")
    try:
        user = users.update_user(user_id, role=role, is_active=is_active)
    except users.UserError as exc:
        raise (NotFound if "no user" in str(exc) else Invalid)(str(exc)) from None
    return jsonify(user_view(user))


@bp.post("/users/<int:user_id>/sign-out")
@doc(summary="Sign a user out everywhere: end all their browser sessions (admins)", responses={204: None},
     tags=('users',))
def sign_out_user(user_id: int):
    _require_admin()
    try:
        users.end_sessions(user_id)
    except users.UserError as exc:
        raise NotFound(str(exc)) from None
    return "", 204


def token_view(token: ApiToken) -> dict:
    """A token as its owner sees it (never the key)."""
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "scope": token.scope,
            "created_at": token.created_at.isoformat(),
            "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "expired": token.expires_at is not None and token.expires_at <= utcnow(),
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


@bp.get("/tokens")
@doc(summary="The caller's tokens (not revoked), oldest first", responses={200: list[s.Token]}, tags=('users',))
def list_tokens():
    return jsonify([token_view(t) for t in users.list_tokens(api_user().id, live=True)])


@bp.post("/tokens")
@doc(body=s.TokenBody, responses={201: s.NewToken}, tags=('users',))
def create_token():
    """A new token for the caller (``{"scope": "read"}`` for a pipeline, an optional expiry); the key is shown once."""
    body = request.get_json(silent=True)
    body = json_body() if body is not None else {}
    scope = string_field(body, "scope") or "full"
    try:
        expires_at = users.token_expiry(expires_in_days=body.get("expires_in_days"), expires_at=body.get("expires_at"))
        token, key = users.new_token(api_user().id, name=string_field(body, "name") or "", scope=scope,
                                     expires_at=expires_at)
    except users.UserError as exc:
        field = next((f for f in ("expires_in_days", "expires_at", "name", "scope") if f in str(exc)), None)
        raise Invalid(str(exc), [{"field": field, "detail": str(exc)}]) from None
    return jsonify({"token": key, **token_view(token)}), 201


@bp.delete("/tokens/<int:token_id>")
@doc(summary="Revoke a token: the caller's own (admins: anyone's)", responses={204: None}, tags=('users',))
def revoke_token(token_id: int):
    users.revoke_token(token_id, by=api_user().user)
    return "", 204
