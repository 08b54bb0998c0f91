"""Who may do what in a project. One rule set, used by views, the REST API and the CLI.

A user's role in a project is their membership role (the project's creator is its lead). Without a
membership, a project open to everyone (not restricted to its members, as Label Studio Community's
projects are) lets annotators annotate and reviewers and leads review; managing it (settings,
members, import, export, QC, datasets, delete) needs a lead membership. Admins may do everything
everywhere. A read token (a training pipeline's) never changes anything: it may only read.
"""

from __future__ import annotations

from sqlmodel import Session, select

from labeling.errors import Forbidden, NotFound
from labeling.models import Membership, Project, Role, TokenScope, User

# Which project roles may perform an action.
ACTIONS: dict[str, set[str]] = {
    "view": {Role.admin, Role.lead, Role.reviewer, Role.annotator},
    "annotate": {Role.admin, Role.lead, Role.reviewer, Role.annotator},
    "review": {Role.admin, Role.lead, Role.reviewer},
    "see_all": {Role.admin, Role.lead, Role.reviewer},  # others' annotations, read-only task view
    # which tasks are gold and their answers: not reviewers, who answer tasks too (labeling.gold)
    "see_gold": {Role.admin, Role.lead},
    "manage": {Role.admin, Role.lead},
    "export": {Role.admin, Role.lead},
    "pull": {Role.admin, Role.lead},  # list and download published dataset versions
}

# Actions a read-only token (scope "read", made by a lead or an admin for a training pipeline)
# may perform, each only where the token's user may: reading and pulling published datasets (not
# exporting the live project).
READ_TOKEN_ACTIONS = {"view", "see_all", "pull"}


class Paused(Forbidden):
    """The user is paused in the project (``Membership.paused_at``): no tasks, no annotations."""


def check_not_paused(user: User, project_id: int, paused_at: object, reason: str | None) -> None:
    """Refuse annotating to a member paused in the project (admins are never paused)."""
    if paused_at is not None and user.role != Role.admin:
        why = f": {reason}" if reason else ""
        raise Paused(f"you are paused in project {project_id}{why}; a lead can resume you")


def role_from(user: User, *, member_role: str | None, created_by: int | None, restricted: bool) -> str | None:
    """The user's role in a project from facts already read: their membership role (None
    without one), the project's creator and whether it is restricted to its members.

    The one rule set; :func:`project_role` reads the facts, the router and the annotation hot
    path read them within their own single query.
    """
    if not user.is_active:
        return None
    if user.role == Role.admin:
        return Role.admin
    if member_role is not None:
        return member_role
    if created_by == user.id:
        return Role.lead
    if restricted:
        return None
    # not a member of an open project: annotate, or review, but never manage it
    return Role.annotator if user.role == Role.annotator else Role.reviewer


def project_role(session: Session, user: User, project: Project) -> str | None:
    """The user's role in ``project``, or None if they have no access."""
    if not user.is_active:
        return None
    if user.role == Role.admin:
        return Role.admin
    member_role = session.exec(
        select(Membership.role).where(Membership.project_id == project.id, Membership.user_id == user.id)
    ).first()
    return role_from(user, member_role=member_role, created_by=project.created_by, restricted=project.restricted)


def check_role(user: User, project_id: int, role: str | None, action: str, *, scope: str = TokenScope.full) -> None:
    """Refuse ``action`` to a user whose role in the project is ``role``.

    Raises
    ------
    NotFound
        No role at all: a project the user cannot even view is not found, so ids are not probed.
    Forbidden
        The role may not do ``action``, or the caller's token is a read token and ``action``
        is not one of the READ_TOKEN_ACTIONS.
    """
    if role is None:
        raise NotFound(f"project {project_id} not found")
    if role not in ACTIONS[action]:
        raise Forbidden(f"your role in project {project_id} ({role}) may not {action.replace('_', ' ')}")
    if scope == TokenScope.read and action not in READ_TOKEN_ACTIONS:
        raise Forbidden(f"a read token may not {action.replace('_', ' ')}")


def can(session: Session, user: User, project: Project, action: str) -> bool:
    role = project_role(session, user, project)
    return role is not None and role in ACTIONS[action]


def require_project(session: Session, user: User, project_id: int, action: str = "view", *,
                    scope: str = TokenScope.full) -> Project:
    """The project, if ``user`` may perform ``action`` in it; NotFound / Forbidden otherwise.

    A project the user cannot even view answers NotFound, so that ids are not probed. ``scope``
    is the caller's token scope: a read token may only do the READ_TOKEN_ACTIONS.
    """
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    check_role(user, project_id, project_role(session, user, project), action, scope=scope)
    return project


#: Label Studio's permission names (its ``core.permissions.all_permissions``, in its order), the
#: ``permissions`` of ``/api/current-user/whoami``. Label Studio Community grants them all to every
#: member and checks each object; labelfab answers those the caller's global role holds.
LS_PERMISSIONS = (
    "organizations.create", "organizations.view", "organizations.change", "organizations.delete",
    "organizations.invite", "projects.create", "projects.view", "projects.change", "projects.delete",
    "projects.reset_cache", "tasks.create", "tasks.view", "tasks.change", "tasks.delete", "views.reset",
    "annotations.create", "annotations.view", "annotations.change", "annotations.delete", "actions.perform",
    "predictions.any", "avatar.any", "labels.create", "labels.view", "labels.change", "labels.delete",
    "models.create", "models.view", "models.change", "models.delete", "model_provider_connection.create",
    "model_provider_connection.view", "model_provider_connection.change", "model_provider_connection.delete",
    "webhooks.view", "webhooks.change", "users.token.any", "storages.view", "storages.change", "storages.sync",
    "views.view", "views.create", "views.change", "views.delete",
)
# what everyone may (see and annotate the projects open to them, their own annotations and tokens)
_ANNOTATOR_PERMISSIONS = {"organizations.view", "projects.view", "tasks.view", "views.view", "labels.view",
                          "annotations.create", "annotations.view", "annotations.change", "annotations.delete",
                          "avatar.any", "users.token.any"}
# leads manage their projects (settings, tasks, views, bulk actions, predictions, ML backends,
# webhooks, storages) and invite annotators; the organisation itself is the admins'
_LEAD_EXCLUDED = {"organizations.create", "organizations.change", "organizations.delete"}


def ls_permissions(user: User, *, scope: str = TokenScope.full) -> list[str]:
    """The Label Studio permissions of ``user``'s global role (a project membership may add to
    them in that project); a read token's are the ``.view`` ones among them."""
    if not user.is_active:
        return []
    if user.role == Role.admin:
        held = set(LS_PERMISSIONS)
    elif user.role == Role.lead:
        held = set(LS_PERMISSIONS) - _LEAD_EXCLUDED
    else:
        held = set(_ANNOTATOR_PERMISSIONS)
    if scope == TokenScope.read:
        held = {p for p in held if p.endswith(".view")}
    return [p for p in LS_PERMISSIONS if p in held]


def can_create_projects(user: User) -> bool:
    return user.is_active and user.role in (Role.admin, Role.lead)
