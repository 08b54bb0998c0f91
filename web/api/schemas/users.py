"""The API's pydantic models: statistics and users (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from web.api.schemas.common import Member, Schema, User


class StatsQuery(Schema):
    panels: str | None = Field(None, description="comma-separated panel names")


class PanelQuery(Schema):
    format: Literal["json", "csv"] = "json"


class ItemsQuery(Schema):
    annotator: int | None = None
    given: str | None = None
    suggested: str | None = None
    run: int | None = None
    page: int = 1


class UserBody(Schema):
    email: str
    role: str = "annotator"
    password: str | None = None
    name: str | None = None
    first_name: str | None = Field(None, description="Label Studio's: with last_name, the name when name is not given")
    last_name: str | None = None


class UserPatch(Schema):
    first_name: str | None = Field(None, description="the user's name (labelfab keeps one)")
    role: str | None = None
    is_active: bool | None = None


class TokenBody(Schema):
    name: str | None = Field(None, max_length=255)
    scope: Literal["full", "read"] = "full"
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="the token expires after this many days")
    expires_at: datetime | None = Field(None, description="or at this moment (ISO 8601 with a time zone)")


class InviteBody(Schema):
    email: str = Field(..., max_length=254)
    role: Literal["annotator", "reviewer", "lead", "admin"] = Field(
        "annotator", description="the new account's global role (leads: annotator only)")
    name: str | None = Field(None, max_length=255)
    project: int | None = Field(None, ge=1, description="also make them a member of this project")
    project_role: Literal["annotator", "reviewer", "lead"] | None = Field(None, description="their role in it")


class NewInvite(Schema):
    id: int
    user: User
    link: str = Field(..., description="the one-time link that sets the password; shown once, never stored")
    expires_at: datetime
    created: bool = Field(..., description="false: the account existed (a new link for it)")
    emailed: bool = Field(..., description="always false: labelfab sends no mail; pass the link on")


class MemberInvite(Schema):
    """The invite a member call made for an email no account had (``POST /api/projects/ID/members``)."""

    id: int
    link: str = Field(..., description="the one-time link that sets the password; shown once, never stored")
    expires_at: datetime
    emailed: bool = Field(..., description="always false: labelfab sends no mail; pass the link on")


class AddedMember(Member):
    """A member added or changed; ``invite`` when their email had no account: one was made, without
    a password, with a one-time link that sets it (as the project's Members page does)."""

    invite: MemberInvite | None = None


class Invite(Schema):
    id: int
    user: int
    email: str
    role: str
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    state: Literal["live", "used", "expired"]


class InviteQuery(Schema):
    project: int | None = Field(None, ge=1, description="the invites of this project's members (leads: required)")


class SnapshotBody(Schema):
    """Label Studio's export-create body."""
    title: str | None = None
    task_filter_options: dict[str, Any] | None = Field(
        None, description="only_with_annotations (bool); annotated, finished, skipped: only | exclude")
    annotation_filter_options: dict[str, Any] | None = Field(None, description="Label Studio's defaults only")
    serialization_options: dict[str, Any] | None = Field(None, description="Label Studio's defaults only")


class Snapshot(Schema):
    """Label Studio's ``Export``."""
    id: int
    title: str
    created_by: dict[str, Any] | None
    created_at: datetime | None
    finished_at: datetime | None
    status: str
    md5: str
    counters: dict[str, Any]
    converted_formats: list[dict[str, Any]]


class SnapshotDownloadQuery(Schema):
    exportType: str = Field("JSON", description="JSON (as stored), JSON_MIN, CSV, TSV, COCO, YOLO, VOC, CONLL2003")
    csv_raw: bool = Field(False, description="CSV and TSV cells as they are (by default neutralised)")


class Organization(Schema):
    """Label Studio's organisation (``OrganizationIdSerializer``; ``GET /api/organizations/ID``
    adds ``token``, ``created_by`` and ``updated_at``): labelfab is one."""
    id: int
    title: str
    contact_info: str | None = None
    created_at: datetime | None = None


class ProjectInfo(Schema):
    id: int
    title: str


class OrganizationMemberUser(User):
    created_projects: list[ProjectInfo] | None = None
    contributed_to_projects: list[ProjectInfo] | None = None


class OrganizationMemberListItem(Schema):
    """One member on Label Studio's members page (``OrganizationMemberListSerializer``)."""
    id: int = Field(..., description="the member's id: labelfab's user id")
    organization: int
    user: OrganizationMemberUser
    created_projects: list[ProjectInfo] | None = None
    contributed_to_projects: list[ProjectInfo] | None = None


class OrganizationMembers(Schema):
    """Label Studio's page of members (``PageNumberPagination``)."""
    count: int
    next: str | None
    previous: str | None
    results: list[OrganizationMemberListItem]


class OrganizationMember(Schema):
    """One member (``OrganizationMemberSerializer``): ``user`` is its id."""
    user: int
    organization: int
    contributed_projects_count: int
    annotations_count: int
    created_at: datetime | None
    created_projects: list[ProjectInfo] | None = None
    contributed_to_projects: list[ProjectInfo] | None = None


class MembersQuery(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=-1, description="members a page (Label Studio's 20); -1: all of them")
    contributed_to_projects: bool = Field(False, description="name the projects each member created and annotated")


class MemberQuery(Schema):
    contributed_to_projects: bool = False
