"""Invites: a new user gets a one-time link to set their password.

The link's key is shown once (to the admin or lead who invited); only its SHA-256 is stored. It
works until ``LABELFAB_INVITE_DAYS`` have passed or it has set a password once, whichever comes
first; a newer link for the same user ends the older ones. Leads invite people into a project
they manage (the new account's global role is annotator; its role in the project is the
membership's); admins invite with any global role, and can send a new link to anyone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from labeling import users
from labeling.access import require_project
from labeling.db import read_session, unit_of_work, utcnow
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import ApiToken, Invite, Membership, Role, User
from labeling.projects import MEMBER_ROLES, set_member
from labeling.settings import get_settings

__all__ = ["Invited", "Added", "invite", "add_member", "check_invite", "accept_invite", "pending_invites", "list_invites",
           "revoke_invite", "invite_view"]


@dataclass(frozen=True)
class Invited:
    """An invite made: the user, the link's key (shown once), when it expires, and whether the
    account was created by this invite."""

    user: User
    key: str
    expires_at: object
    created: bool
    invite_id: int | None = None
    membership: Membership | None = None  # the project's membership it made or changed, if any


@dataclass(frozen=True)
class Added:
    """A member added to a project (or their role changed), and the invite made when no account
    had their email (None otherwise)."""

    membership: Membership
    user: User
    invited: Invited | None


def _new_link(s, user: User, by: User | None) -> tuple[str, object, int]:
    """A fresh key for ``user`` (with its expiry and the invite's id); older unused links of
    theirs stop working."""
    now = utcnow()
    s.execute(sa.update(Invite).where(Invite.user_id == user.id, Invite.used_at.is_(None))
              .values(used_at=now))
    key = secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=get_settings().invite_days)
    row = Invite(user_id=user.id, token_hash=users.hash_token(key), created_by=by.id if by else None,
                 created_at=now, expires_at=expires_at)
    s.add(row)
    s.flush()
    return key, expires_at, row.id


def invite(by: User | None, email: str, *, role: str = Role.annotator, name: str = "",
           project_id: int | None = None, project_role: str | None = None) -> Invited:
    """Create an account without a password and a one-time link to set it.

    Parameters
    ----------
    by : User or None
        Who invites: an admin (any ``role``), or a lead of ``project_id`` (``role`` annotator
        only). None: the operator (the CLI).
    email : str
        The new user's email. An existing account is refused, unless it is an import's
        placeholder (taken over), or was invited and never set a password (an annotator without
        tokens: it gets a new link); an admin or the operator may send a new link to anyone (a
        lost password).
    project_id, project_role : optional
        Also make the user a member of this project with this role (``projects.set_member``'s rules).

    Raises
    ------
    users.UserError
        A bad email or role, or an account that exists already.
    Forbidden, NotFound
        The caller may not invite, or not into that project.
    """
    admin = by is None or (by.role == Role.admin and by.is_active)
    if not admin:
        if project_id is None:
            raise Forbidden("only admins invite people outside a project")
        if role != Role.annotator:
            raise Forbidden("leads invite people as annotators; their role in the project is the membership's")
    if project_role is not None and project_role not in MEMBER_ROLES:
        raise Invalid(f"unknown project role {project_role!r}",
                      [{"field": "role", "detail": f"choose from {', '.join(MEMBER_ROLES)}"}])
    email = users.normalize_email(email)
    with unit_of_work() as s:  # the account, its membership and its link: one transaction
        if project_id is not None and by is not None:
            require_project(s, by, project_id, "manage")
        existing = s.exec(select(User).where(User.email == email)).first()
        placeholder = existing is not None and users.is_placeholder(s, existing)
        # a lead may send a new link only to someone invited before who never set a password: an
        # annotator without tokens (never to an account that uses tokens alone, or a lead's or admin's)
        relink = existing is not None and existing.password_hash is None and existing.role == Role.annotator \
            and s.exec(select(Invite.id).where(Invite.user_id == existing.id).limit(1)).first() is not None \
            and s.exec(select(ApiToken.id).where(ApiToken.user_id == existing.id).limit(1)).first() is None
        created = False
        if existing is None or placeholder:
            user = users.create_user_in(s, email, role=role, name=name, password=None, is_active=True)
            created = True
        elif admin or relink:
            user = existing
        else:
            raise users.UserError(f"a user with email {email} exists already: add them as a member")
        membership = None
        if project_id is not None:
            membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                         Membership.user_id == user.id)).first()
            if membership is None:
                membership = Membership(project_id=project_id, user_id=user.id, role=project_role or Role.annotator)
            elif project_role:
                membership.role = project_role
            s.add(membership)
        key, expires_at, invite_id = _new_link(s, user, by)
    return Invited(user=user, key=key, expires_at=expires_at, created=created, invite_id=invite_id,
                   membership=membership)


def add_member(by: User, project_id: int, *, member: int | str, role: str = Role.annotator) -> Added:
    """Add a member to a project, or change their role (:func:`labeling.projects.set_member`); an
    email no account has is invited into the project with that role instead (:func:`invite`: the
    account without a password, its membership and a one-time link, in one transaction). The
    project's Members page and ``POST /api/projects/ID/members`` both call it.

    Raises
    ------
    users.UserError
        A new email that is not an email address (or an account made meanwhile: "exists already").
    Invalid, Forbidden, NotFound
        As :func:`labeling.projects.set_member`.
    """
    if isinstance(member, str) and "@" in member and users.get_user_by_email(member) is None:
        made = invite(by, member, project_id=project_id, project_role=role)
        return Added(membership=made.membership, user=made.user, invited=made)
    membership, user = set_member(by, project_id, member=member, role=role)
    return Added(membership=membership, user=user, invited=None)


def _live(s, key: str) -> tuple[Invite, User] | None:
    if not isinstance(key, str) or not 10 <= len(key) <= 128:
        return None
    row = s.exec(select(Invite, User).join(User, User.id == Invite.user_id)
                 .where(Invite.token_hash == users.hash_token(key))).first()
    if row is None:
        return None
    inv, user = row
    if inv.used_at is not None or inv.expires_at <= utcnow() or not user.is_active:
        return None
    return inv, user


def check_invite(key: str) -> User:
    """The user a live link is for.

    Raises
    ------
    NotFound
        Unknown, used, expired or superseded link (one answer for all: nothing is told).
    """
    with read_session() as s:
        found = _live(s, key)
    if found is None:
        raise NotFound("this link does not work: it was used already, has expired or was replaced by a newer one")
    return found[1]


def accept_invite(key: str, password: str) -> User:
    """Set the password through a live link and end the link (once: two submissions race for it
    and one wins). The password policy applies; a refused password leaves the link alive."""
    with unit_of_work() as s:  # the link ends and the password is set together, or neither
        found = _live(s, key)
        if found is None:
            raise NotFound("this link does not work: it was used already, has expired or was replaced by a newer one")
        inv, user = found
        users.check_password_policy(password, email=user.email)
        done = s.execute(sa.update(Invite).where(Invite.id == inv.id, Invite.used_at.is_(None))
                         .values(used_at=utcnow()))
        if done.rowcount != 1:
            raise NotFound("this link was used already")
        users.set_password_in(s, user.id, password)
    return users.get_user(user.id)


def pending_invites() -> dict[int, object]:
    """User id -> expiry of their live link (the users page shows who has not accepted yet)."""
    with read_session() as s:
        rows = s.exec(select(Invite.user_id, Invite.expires_at)
                      .where(Invite.used_at.is_(None), Invite.expires_at > utcnow())).all()
    return {uid: when for uid, when in rows}


def invite_view(inv: Invite, user: User) -> dict:
    """An invite as the API lists it (never its key): whom it is for, who made it, when it ends."""
    now = utcnow()
    state = "used" if inv.used_at is not None else "expired" if inv.expires_at <= now else "live"
    return {"id": inv.id, "user": user.id, "email": user.email, "role": user.role, "created_by": inv.created_by,
            "created_at": inv.created_at.isoformat(), "expires_at": inv.expires_at.isoformat(),
            "used_at": inv.used_at.isoformat() if inv.used_at else None, "state": state}


def _members_of(project_id: int):
    return select(Membership.user_id).where(Membership.project_id == project_id)


def list_invites(by: User, *, project_id: int | None = None, live: bool = True) -> list[tuple[Invite, User]]:
    """Invites, newest first: an admin's of anyone (of a project's members with ``project_id``),
    a lead's of the members of a project they manage (``project_id`` needed); ``live``: only
    links that still work.

    Raises
    ------
    Forbidden, NotFound
        A lead without a project, or a project the caller may not manage.
    """
    admin = by.role == Role.admin and by.is_active
    if project_id is None and not admin:
        raise Forbidden("only admins list every invite: name the project (?project=ID)")
    with read_session() as s:
        q = select(Invite, User).join(User, User.id == Invite.user_id)
        if project_id is not None:
            require_project(s, by, project_id, "manage")
            q = q.where(Invite.user_id.in_(_members_of(project_id)))
        if live:
            q = q.where(Invite.used_at.is_(None), Invite.expires_at > utcnow())
        return list(s.exec(q.order_by(Invite.id.desc()).limit(1000)).all())


def revoke_invite(by: User, invite_id: int) -> None:
    """End a link that still works (its account stays, without a password; a new invite sends
    a new link): an admin any, a lead one for a member of a project they manage.

    Raises
    ------
    NotFound
        No such live invite, or one the caller may not see.
    """
    from labeling.access import can
    from labeling.models import Project

    with unit_of_work() as s:
        inv = s.get(Invite, invite_id)
        if inv is None or inv.used_at is not None or inv.expires_at <= utcnow():
            raise NotFound(f"no live invite {invite_id}")
        if not (by.role == Role.admin and by.is_active):
            projects_of = s.exec(select(Project).join(Membership, Membership.project_id == Project.id)
                                 .where(Membership.user_id == inv.user_id)).all()
            if not any(can(s, by, p, "manage") for p in projects_of):
                raise NotFound(f"no live invite {invite_id}")
        s.execute(sa.update(Invite).where(Invite.id == invite_id, Invite.used_at.is_(None)).values(used_at=utcnow()))
