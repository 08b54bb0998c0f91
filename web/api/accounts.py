"""Users and tokens over REST (admins), and the caller's own tokens."""

from __future__ import annotations

from flask import jsonify, request

from labeling import users
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import Role, User
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc


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
    try:
        user = users.create_user(body.get("email", ""), role=body.get("role", Role.annotator),
                                 password=body.get("password"), name=body.get("name", ""))
    except users.UserError as exc:
        raise Invalid(str(exc), [{"field": "email" if "email" in str(exc) else "role", "detail": str(exc)}]) from None
    return jsonify(user_view(user)), 201


@bp.patch("/users/<int:user_id>")
@doc(summary="Change a user's role or deactivate them (admins)", body=s.UserPatch, responses={200: s.User}, tags=('users',))
def update_user(user_id: int):
    _require_admin()
    body = request.get_json(silent=True) or {}
    try:
        user = users.update_user(user_id, role=body.get("role"), is_active=body.get("is_active"))
    except users.UserError as exc:
        raise (NotFound if "no user" in str(exc) else Invalid)(str(exc)) from None
    return jsonify(user_view(user))


@bp.post("/tokens")
@doc(body=s.TokenBody, responses={201: s.NewToken}, tags=('users',))
def create_token():
    """A new token for the caller (``{"scope": "read"}`` for a pipeline); the key is shown once."""
    body = request.get_json(silent=True) or {}
    try:
        key = users.create_token(api_user().id, name=body.get("name", ""), scope=body.get("scope", "full"))
    except users.UserError as exc:
        raise Invalid(str(exc)) from None
    return jsonify({"token": key, "scope": body.get("scope", "full")}), 201
