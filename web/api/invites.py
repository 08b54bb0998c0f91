"""Invites over REST (``/api/invites``): create one (a new account without a password and a
one-time link to set it), list the links that still work, revoke one. Admins invite anyone with
any global role; leads invite into a project they manage (``project`` and ``project_role``) and
list or revoke the invites of its members. The page (Users, a project's Members) and ``labelfab
user invite`` call the same :mod:`labeling.invites` functions.

No e-mail is sent: labelfab has no mail setting, so the link comes back in the answer, once
(only its SHA-256 is stored), for the inviter to pass on, as the pages show it.
"""

from __future__ import annotations

from flask import jsonify

from labeling import invites, users
from labeling.errors import Conflict, Invalid
from labeling.models import Role
from web.api import api_user, bp
from web.api import schemas as s
from web.api.accounts import user_view
from web.api.describe import doc
from web.api.params import id_field, int_arg, json_body, string_field

#: The keys ``POST /api/invites`` takes.
INVITE_KEYS = {"email", "role", "name", "project", "project_role"}


@bp.post("/invites")
@doc(summary="Invite someone: an account without a password and a one-time link to set it (admins; leads "
             "into a project they manage)", body=s.InviteBody, responses={201: s.NewInvite}, tags=('users',))
def create_invite():
    body = json_body()
    unknown = sorted(set(body) - INVITE_KEYS)
    if unknown:
        raise Invalid(f"unknown fields: {', '.join(unknown)} (an invite takes {', '.join(sorted(INVITE_KEYS))})",
                      [{"field": k, "detail": "unknown"} for k in unknown])
    email = string_field(body, "email")
    if not email:
        raise Invalid("an invite needs the person's email", [{"field": "email", "detail": "required"}])
    try:
        made = invites.invite(api_user().user, email, role=string_field(body, "role") or Role.annotator,
                              name=string_field(body, "name") or "", project_id=id_field(body, "project"),
                              project_role=string_field(body, "project_role"))
    except users.UserError as exc:
        raise refusal(exc) from None
    return jsonify({**invite_answer(made), "user": user_view(made.user), "created": made.created}), 201


def refusal(exc: users.UserError) -> Conflict | Invalid:
    """An invite refused by :mod:`labeling.users`: 409 for an account that exists, else 422."""
    if "exists already" in str(exc):
        return Conflict(str(exc))
    return Invalid(str(exc), [{"field": "role" if "role" in str(exc) else "email", "detail": str(exc)}])


def invite_answer(made: invites.Invited) -> dict:
    """An invite made, as the API answers it (its link shown this once)."""
    from web.views.people import invite_url

    return {"id": made.invite_id, "link": invite_url(made.key), "expires_at": made.expires_at.isoformat(),
            "emailed": False}


@bp.get("/invites")
@doc(summary="Invites whose link still works, newest first (admins: all, or ?project=ID; leads: ?project=ID)",
     query=s.InviteQuery, responses={200: list[s.Invite]}, tags=('users',))
def list_invites():
    found = invites.list_invites(api_user().user, project_id=int_arg("project", None, minimum=1))
    return jsonify([invites.invite_view(inv, user) for inv, user in found])


@bp.delete("/invites/<int:invite_id>")
@doc(summary="Revoke an invite: its link stops working (the account stays, without a password)",
     responses={204: None}, tags=('users',))
def revoke_invite(invite_id: int):
    invites.revoke_invite(api_user().user, invite_id)
    return "", 204
