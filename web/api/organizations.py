"""Label Studio's organisation endpoints (``label_studio/organizations/api.py``): labelfab is one
organisation, :data:`labeling.wire.ORGANIZATION_ID`, whose members are its users.

``GET /api/organizations`` (every user: the one organisation), ``GET /api/organizations/ID``,
``GET /api/organizations/ID/memberships`` (admins, as ``/api/users``: Label Studio's page of
members, ``page``/``page_size``, ``page_size=-1`` for all, ``contributed_to_projects``) and
``GET``/``DELETE /api/organizations/ID/memberships/USER/`` (admins; a delete deactivates the
user, Label Studio's soft delete of a member, and no one deletes themselves: 405 as there).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import jsonify, request

from labeling import organization, users, wire
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.exports.options import parse_flag
from labeling.models import Role
from web.api import api_user, bp, readable
from web.api import schemas as s
from web.api.accounts import user_view
from web.api.describe import doc
from web.api.params import int_arg
from web.errors import error_response

TAGS = ("users",)
#: Label Studio's page of members (``OrganizationMemberListPagination.page_size``).
PAGE_SIZE = 20
#: ``page_size=-1`` is "every member", Label Studio's 1,000,000.
ALL = 1_000_000


def _organization(organization_id: int) -> None:
    if organization_id != wire.ORGANIZATION_ID:
        raise NotFound(f"no organization {organization_id}")


def _admin() -> None:
    if api_user().role != Role.admin:
        raise Forbidden("only admins see the organization's members")


def _flag(name: str) -> bool:
    return parse_flag(request.args.get(name), name)


def organization_view(*, detail: bool = False) -> dict:
    """The organisation as Label Studio's ``OrganizationIdSerializer`` writes it (``detail``: its
    ``OrganizationSerializer``, with ``token``, ``created_by``, ``updated_at``: labelfab has no
    invite token nor one creator, null)."""
    out = {"id": wire.ORGANIZATION_ID, "title": wire.ORGANIZATION_TITLE, "contact_info": None, "created_at": None}
    if detail:
        out.update({"token": None, "created_by": None, "updated_at": None})
    return out


@bp.get("/organizations")
@readable
@doc(summary="The organizations of the caller: labelfab's one", responses={200: list[s.Organization]}, tags=TAGS)
def list_organizations():
    return jsonify([organization_view()])


@bp.get("/organizations/<int:organization_id>")
@readable
@doc(summary="The organization", responses={200: s.Organization}, tags=TAGS)
def get_organization(organization_id: int):
    _organization(organization_id)
    return jsonify(organization_view(detail=True))


def _page_url(page: int) -> str:
    return f"{request.base_url}?{urlencode({**request.args.to_dict(), 'page': page})}"


@bp.get("/organizations/<int:organization_id>/memberships")
@readable
@doc(query=s.MembersQuery, responses={200: s.OrganizationMembers}, tags=TAGS)
def list_organization_members(organization_id: int):
    """Every user as a member of the organization, by username, a page at a time (admins)."""
    _organization(organization_id)
    _admin()
    page = int_arg("page", 1, minimum=1)
    size = int_arg("page_size", PAGE_SIZE, minimum=-1)
    if size == -1:
        size = ALL
    elif size == 0:
        raise Invalid("page_size must be at least 1 (or -1: every member)",
                      [{"field": "page_size", "detail": "at least 1"}])
    with_projects = _flag("contributed_to_projects")
    total, members = organization.members_page(page=page, page_size=size)
    if not members and page > 1:
        return error_response(404, "Invalid page.")
    created = contributed = None
    if with_projects:
        created, contributed = organization.member_projects(u.id for u in members)
    results = []
    for u in members:
        mine = (created[u.id], contributed[u.id]) if with_projects else (None, None)
        results.append({"id": u.id, "organization": wire.ORGANIZATION_ID,
                        "user": {**user_view(u), "created_projects": mine[0], "contributed_to_projects": mine[1]},
                        "created_projects": mine[0], "contributed_to_projects": mine[1]})
    return jsonify({"count": total, "next": _page_url(page + 1) if page * size < total else None,
                    "previous": _page_url(page - 1) if page > 1 else None, "results": results})


def _member(user_id: int):
    user = users.get_user(user_id)
    if user is None:
        raise NotFound(f"no member {user_id}")
    return user


@bp.get("/organizations/<int:organization_id>/memberships/<int:user_id>")
@readable
@doc(query=s.MemberQuery, responses={200: s.OrganizationMember}, tags=TAGS)
def get_organization_member(organization_id: int, user_id: int):
    """One member: their annotations and the projects they annotated (admins)."""
    _organization(organization_id)
    _admin()
    user = _member(user_id)
    counts = organization.member_counts(user.id)
    created = contributed = None
    if _flag("contributed_to_projects"):
        made, annotated = organization.member_projects([user.id])
        created, contributed = made[user.id], annotated[user.id]
    return jsonify({"user": user.id, "organization": wire.ORGANIZATION_ID,
                    "contributed_projects_count": counts.projects, "annotations_count": counts.annotations,
                    "created_at": user.created_at.isoformat() if user.created_at else None,
                    "created_projects": created, "contributed_to_projects": contributed})


@bp.delete("/organizations/<int:organization_id>/memberships/<int:user_id>")
@doc(responses={204: None}, tags=TAGS)
def delete_organization_member(organization_id: int, user_id: int):
    """Label Studio's soft delete of a member: the user is deactivated (their tokens and log-ins
    refused, their annotations kept); admins, never themselves (405)."""
    _organization(organization_id)
    _admin()
    _member(user_id)
    if user_id == api_user().id:
        return error_response(405, "User cannot soft delete self")
    try:
        users.update_user(user_id, is_active=False)
    except users.UserError as exc:
        raise Invalid(str(exc)) from None
    return "", 204
