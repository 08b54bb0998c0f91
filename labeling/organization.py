"""labelfab as Label Studio's one organisation: its members (every user) and what a member did.

Label Studio Community keeps users in an organisation (``/api/organizations``); labelfab has one,
:data:`labeling.wire.ORGANIZATION_ID`, whose members are its users. Reads only; who may call them
is decided by the API (admins, as for ``/api/users``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from labeling.db import read_session
from labeling.models import Annotation, Project, User

__all__ = ["MemberCounts", "member_counts", "member_projects", "members_page"]


def members_page(*, page: int, page_size: int) -> tuple[int, list[User]]:
    """The members on one page, ordered by username (the email) as Label Studio orders them, and
    how many there are."""
    with read_session() as s:
        total = s.exec(select(sa.func.count()).select_from(User)).one()
        rows = s.exec(select(User).order_by(User.email, User.id).offset((page - 1) * page_size).limit(page_size))
        return total, list(rows)


@dataclass(frozen=True)
class MemberCounts:
    annotations: int  # every annotation of the user, skips included (Label Studio's count)
    projects: int  # the projects they annotated


def member_counts(user_id: int) -> MemberCounts:
    """A member's ``annotations_count`` and ``contributed_projects_count``: one probe per project
    through ``ix_annotation_project_user``."""
    with read_session() as s:
        # written per project so that each count is a probe of the index (a WHERE on user_id
        # alone reads the whole table: no index leads with it)
        n_of_project = (select(sa.func.count()).select_from(Annotation)
                        .where(Annotation.project_id == Project.id, Annotation.user_id == user_id)
                        .scalar_subquery())
        counts = [n for n in s.exec(select(n_of_project).select_from(Project)) if n]
        return MemberCounts(annotations=sum(counts), projects=len(counts))


def member_projects(user_ids: Iterable[int]) -> tuple[dict[int, list[dict]], dict[int, list[dict]]]:
    """Label Studio's ``created_projects`` and ``contributed_to_projects`` of each user
    (``{"id", "title"}`` each, by project id), the projects they created and those they annotated."""
    ids = sorted(set(user_ids))
    created: dict[int, list[dict]] = {i: [] for i in ids}
    contributed: dict[int, list[dict]] = {i: [] for i in ids}
    if not ids:
        return created, contributed
    with read_session() as s:
        for pid, title, uid in s.exec(select(Project.id, Project.title, Project.created_by)
                                      .where(Project.created_by.in_(ids)).order_by(Project.id)):
            created[uid].append({"id": pid, "title": title})
        annotated = sa.exists().where(Annotation.project_id == Project.id, Annotation.user_id == User.id)
        # each (project, user) pair probed through ix_annotation_project_user: a cross join on purpose
        for pid, title, uid in s.exec(select(Project.id, Project.title, User.id).select_from(Project)
                                      .join(User, sa.true()).where(User.id.in_(ids), annotated)
                                      .order_by(Project.id)):
            contributed[uid].append({"id": pid, "title": title})
    return created, contributed
