"""Users over REST (admins: list, get, create, change, sign out everywhere), the caller
(``/api/current-user/whoami``), the server's version (``/api/version``) and the caller's own
tokens (create, list, revoke; admins revoke anyone's). Users answer in Label Studio's user shape
(its ``UserSerializer`` keys) with labelfab's ``role`` and ``is_active`` added."""

from __future__ import annotations

from importlib import metadata

from flask import jsonify, request

from labeling import users, wire
from labeling.access import ls_permissions
from labeling.db import utcnow
from labeling.errors import DomainError, Forbidden, Invalid, NotFound
from labeling.models import ApiToken, Role, User
from web.api import _token_from_header, api_user, bp, readable
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import flag_field, json_body, string_field


def _initials(user: User) -> str:
    """Label Studio's initials: first letters of the first and last name, else of the email."""
    words = [w for w in (user.name or "").split() if w]
    if words:
        return "".join(w[0] for w in words[:2]).lower()
    return user.email[:2].lower()


def user_view(user: User) -> dict:
    """A user as Label Studio's ``UserSerializer`` writes one (labelfab has one ``name``: it is
    the first name; every user is in labelfab's one organisation), then labelfab's ``role`` and
    ``is_active``."""
    return {"id": user.id, "first_name": user.name, "last_name": "", "username": user.email,
            "email": user.email,
            "last_activity": user.last_login_at.isoformat() if user.last_login_at else None,
            "custom_hotkeys": users.hotkeys_of(user), "avatar": None, "initials": _initials(user), "phone": "",
            "active_organization": wire.ORGANIZATION_ID,
            "active_organization_meta": {"title": wire.ORGANIZATION_TITLE, "email": None}, "allow_newsletters": None,
            "date_joined": user.created_at.isoformat() if user.created_at else None,
            "role": user.role, "is_active": user.is_active}


@bp.get("/current-user/whoami")
@readable
@doc(summary="The caller, in Label Studio's user shape", responses={200: s.WhoAmI}, tags=('users',))
def whoami():
    me = api_user()
    return jsonify({**user_view(me.user), "permissions": ls_permissions(me.user, scope=me.scope),
                    "token_scope": me.scope})


@bp.get("/current-user/token")
@doc(summary="The API token this request was made with (Label Studio's legacy token call)",
     responses={200: s.UserToken}, tags=('users',))
def current_token():
    """Label Studio keeps each user's one key and shows it; labelfab keeps only a hash of each
    token, so the key it can show is the one the request itself carries. Signed in through the
    browser there is none: 404, where Label Studio, for a user without its token, fails with
    "Token matching query does not exist." (a 500)."""
    key = _token_from_header()
    if key is None:
        raise NotFound("Token matching query does not exist. labelfab stores only a hash of each API token: "
                       "POST /api/current-user/reset-token makes a new one and shows it once")
    return jsonify({"token": key})


@bp.post("/current-user/reset-token")
@doc(summary="A new API token for the caller (shown once); the token the request was made with stops working",
     responses={201: s.UserToken}, tags=('users',))
def reset_current_token():
    return jsonify({"token": users.reset_token(api_user().id, replacing=_token_from_header())}), 201


@bp.get("/current-user/hotkeys")
@doc(summary="The caller's custom hotkeys (Label Studio's editor's; labelfab's pages keep their own keys)",
     responses={200: s.Hotkeys}, tags=('users',))
def get_hotkeys():
    return jsonify({"custom_hotkeys": users.hotkeys_of(api_user().user)})


@bp.patch("/current-user/hotkeys")
@doc(summary="Replace the caller's custom hotkeys ({\"section:action\": {\"key\", \"active\"}})", body=s.Hotkeys,
     responses={200: s.Hotkeys}, tags=('users',))
def update_hotkeys():
    """Label Studio's checks, its 400 when they fail."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "custom_hotkeys" not in body:
        raise DomainError("Invalid hotkeys configuration: send {\"custom_hotkeys\": {...}}",
                          [{"field": "custom_hotkeys", "detail": "This field is required."}])
    try:
        stored = users.set_hotkeys(api_user().id, body["custom_hotkeys"])
    except users.UserError as exc:
        raise DomainError(f"Invalid hotkeys configuration: {exc}",
                          [{"field": "custom_hotkeys", "detail": str(exc)}]) from None
    return jsonify({"custom_hotkeys": stored})


@bp.get("/version")
@readable
@doc(responses={200: s.Version}, tags=('users',))
def version():
    """The server's version in Label Studio's keys (``release``: the Label Studio API it
    answers as; ``edition``: Community, whose exports are immediate) and labelfab's own."""
    return jsonify(server_version())


#: Label Studio's build info of a component (message, commit, date, branch), unknown: null.
_NO_BUILD = {"message": None, "commit": None, "date": None, "branch": None}


def server_version() -> dict:
    mine = metadata.version("labelfab")
    sdk = metadata.version("label-studio-sdk")
    return {"release": LS_RELEASE, "edition": "Community",
            "label-studio-os-package": {"version": LS_RELEASE, "short_version": LS_RELEASE.rsplit(".", 1)[0],
                                        "latest_version_from_pypi": None, "latest_version_upload_time": None,
                                        "current_version_is_outdated": False},
            "label-studio-os-backend": {"message": f"labelfab {mine}", "commit": None, "date": None,
                                        "branch": None, "version": mine},
            # Label Studio's front-end components: labelfab ships none of them (its own pages)
            **{part: dict(_NO_BUILD) for part in ("label-studio-frontend", "dm2", "lsf")},
            "label-studio-converter": {"version": sdk},
            "backend": {"labelfab": mine, "commit": None},
            "labelfab": {"version": mine, "label_studio_sdk": sdk}}


#: The Label Studio release whose API labelfab answers as.
LS_RELEASE = "1.23.2"


def _require_admin() -> None:
    if api_user().role != Role.admin:
        raise Forbidden("only admins manage users")


@bp.get("/users")
@doc(summary="Every user (admins)", responses={200: list[s.User]}, tags=('users',))
def list_users():
    _require_admin()
    return jsonify([user_view(u) for u in users.list_users()])


@bp.get("/users/<int:user_id>")
@doc(summary="One user (admins)", responses={200: s.User}, tags=('users',))
def get_user(user_id: int):
    _require_admin()
    user = users.get_user(user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return jsonify(user_view(user))


@bp.post("/users")
@doc(summary="Create a user (admins)", body=s.UserBody, responses={201: s.User}, tags=('users',))
def create_user():
    _require_admin()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object: {\"email\": ..., \"role\": ..., \"password\": ...}")
    email, role = string_field(body, "email") or "", string_field(body, "role") or Role.annotator
    # Label Studio's first_name and last_name make labelfab's one name
    password = string_field(body, "password")
    name = string_field(body, "name") or " ".join(
        part.strip() for part in (string_field(body, "first_name"), string_field(body, "last_name")) if part and part.strip())
    try:
        user = users.create_user(email, role=role, password=password, name=name)
    except users.UserError as exc:
        raise Invalid(str(exc), [{"field": "email" if "email" in str(exc) else "role", "detail": str(exc)}]) from None
    return jsonify(user_view(user)), 201


@bp.patch("/users/<int:user_id>")
@doc(summary="Change a user's role or deactivate them (admins)", body=s.UserPatch, responses={200: s.User}, tags=('users',))
def update_user(user_id: int):
    """Label Studio's ``first_name`` (labelfab keeps one name), and labelfab's ``role`` and
    ``is_active``; Label Studio's other user keys are refused, never ignored."""
    _require_admin()
    body = json_body() if request.get_json(silent=True) is not None else {}
    unknown = sorted(set(body) - USER_PATCH_KEYS)
    if unknown:
        raise Invalid(f"these user fields cannot change here: {', '.join(unknown)} (first_name, role and "
                      "is_active can)", [{"field": k, "detail": "cannot change"} for k in unknown])
    if "id" in body and body["id"] != user_id:
        raise Invalid("a user's id cannot change", [{"field": "id", "detail": f"this is user {user_id}"}])
    role, is_active = string_field(body, "role"), flag_field(body, "is_active")
    try:
        user = users.update_user(user_id, role=role, is_active=is_active, name=string_field(body, "first_name"))
    except users.UserError as exc:
        raise (NotFound if "no user" in str(exc) else Invalid)(str(exc)) from None
    return jsonify(user_view(user))


#: The keys ``PATCH /api/users/ID`` takes (``id`` only as the user's own).
USER_PATCH_KEYS = {"first_name", "role", "is_active", "id"}


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
