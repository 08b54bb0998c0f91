"""Who may do what in a project (labeling.access): one rule set, read from the database or from
facts a caller has already fetched."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import access, projects
from labeling.db import read_session, write_session
from labeling.errors import Forbidden, NotFound
from labeling.models import Membership, Project, Role
from tests.labeling.test_router import Person, make_project


def test_role_from_fetched_facts_agrees_with_project_role(lead):
    """The router and the annotation hot path read the membership within their own one query
    and apply :func:`labeling.access.role_from`; it must agree with :func:`project_role`."""
    project = make_project(lead.user)
    people = [Person("x-admin@example.com", Role.admin), Person("x-rev@example.com", Role.reviewer),
              Person("x-ann@example.com", Role.annotator), Person("x-mem@example.com", Role.annotator), lead]
    with write_session() as s:
        s.add(Membership(project_id=project.id, user_id=people[3].id, role=Role.reviewer))
    for restricted in (False, True):
        with write_session() as s:
            s.execute(sa.update(Project).where(Project.id == project.id).values(restricted=restricted))
        with read_session() as s:
            p = s.get(Project, project.id)
            for person in people:
                member = s.exec(select(Membership.role).where(Membership.project_id == p.id,
                                                              Membership.user_id == person.id)).first()
                expected = access.project_role(s, person.user, p)
                got = access.role_from(person.user, member_role=member, created_by=p.created_by,
                                       restricted=p.restricted)
                assert got == expected, (person.email, restricted)
            roles = {person.email: access.project_role(s, person.user, p) for person in people}
        assert roles["x-admin@example.com"] == Role.admin and roles["x-mem@example.com"] == Role.reviewer
        assert roles[lead.email] == Role.lead
        assert roles["x-rev@example.com"] == (None if restricted else Role.reviewer)


def test_check_role_refuses_as_require_project_does(lead):
    project = projects.create_project(lead.user, title="p", label_config=(
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>'))
    with pytest.raises(NotFound, match=f"project {project.id} not found"):
        access.check_role(lead.user, project.id, None, "view")
    with pytest.raises(Forbidden, match=r"\(annotator\) may not manage"):
        access.check_role(lead.user, project.id, Role.annotator, "manage")
    with pytest.raises(Forbidden, match=r"\(annotator\) may not pull"):
        access.check_role(lead.user, project.id, Role.annotator, "pull", scope="read")
    access.check_role(lead.user, project.id, Role.lead, "pull", scope="read")
    with pytest.raises(Forbidden, match="a read token may not annotate"):
        access.check_role(lead.user, project.id, Role.lead, "annotate", scope="read")
    access.check_role(lead.user, project.id, Role.lead, "manage")
