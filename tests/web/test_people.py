"""People: invites (a one-time, expiring link stored hashed that sets a password), the admin's
Users page, and the members page inviting someone new."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import invites, projects, users
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Forbidden, NotFound
from labeling.models import Invite, Membership, Role, User
from tests.conftest import login
from tests.web.test_projects_views import TEXT, csrf

NEW_PASSWORD = "violet anchor orbit 42"


@pytest.fixture
def project(lead):
    return projects.create_project(lead.user, title="Reviews", label_config=TEXT)


def test_an_invite_stores_only_the_hash_and_sets_a_password_once(admin):
    invited = invites.invite(admin.user, "New.Person@Example.com", role=Role.reviewer, name="New Person")
    assert invited.created and invited.user.email == "new.person@example.com"
    assert invited.user.password_hash is None and invited.user.role == Role.reviewer
    with read_session() as s:
        row = s.exec(select(Invite).where(Invite.user_id == invited.user.id)).one()
    assert row.token_hash == users.hash_token(invited.key) and invited.key not in row.token_hash
    assert row.created_by == admin.id
    # without a password the account cannot log in
    assert users.authenticate("new.person@example.com", "", address="10.0.0.9").user is None
    assert invites.check_invite(invited.key).id == invited.user.id
    with pytest.raises(users.UserError, match="most common"):
        invites.accept_invite(invited.key, "password")  # the policy applies; the link stays alive
    user = invites.accept_invite(invited.key, NEW_PASSWORD)
    assert users.authenticate(user.email, NEW_PASSWORD, address="10.0.0.9").user.id == user.id
    with pytest.raises(NotFound):
        invites.check_invite(invited.key)
    with pytest.raises(NotFound):
        invites.accept_invite(invited.key, "another good password")


def test_an_expired_or_replaced_link_is_dead(admin):
    first = invites.invite(admin.user, "late@example.com")
    second = invites.invite(admin.user, "late@example.com")  # a new link ends the older one
    assert not second.created and second.user.id == first.user.id
    with pytest.raises(NotFound):
        invites.check_invite(first.key)
    with write_session() as s:
        s.execute(sa.update(Invite).where(Invite.token_hash == users.hash_token(second.key))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(NotFound):
        invites.accept_invite(second.key, NEW_PASSWORD)
    with pytest.raises(NotFound):
        invites.check_invite("x" * 43)


def test_who_may_invite(lead, annotator, project, make_user):
    other = make_user("other-lead@example.com", Role.lead)
    with pytest.raises(Forbidden):
        invites.invite(lead.user, "x@example.com")  # outside a project: admins only
    with pytest.raises(Forbidden):
        invites.invite(lead.user, "x@example.com", role=Role.admin, project_id=project.id)
    with pytest.raises(Forbidden):
        invites.invite(other.user, "x@example.com", project_id=project.id)  # not their project
    with pytest.raises(users.UserError, match="exists already"):
        invites.invite(lead.user, annotator.email, project_id=project.id)  # a lead resets no one's password
    tokens_only = users.create_user("robot@example.com", role=Role.annotator, password=None)
    users.create_token(tokens_only.id)
    with pytest.raises(users.UserError, match="exists already"):  # no taking over an account that uses tokens
        invites.invite(lead.user, "robot@example.com", project_id=project.id)
    done = invites.invite(lead.user, "x@example.com", project_id=project.id, project_role="reviewer")
    again = invites.invite(lead.user, "x@example.com", project_id=project.id)  # never used: a new link
    assert not again.created and again.user.id == done.user.id
    assert done.user.role == Role.annotator
    assert {u.email: m.role for m, u in projects.list_members(lead.user, project.id)} == {"x@example.com": "reviewer"}
    with read_session() as s:
        assert s.exec(select(User).where(User.email == "x@example.com")).one().password_hash is None


def test_invite_page_sets_the_password_signs_in_once_then_is_dead(client, admin):
    invited = invites.invite(admin.user, "web@example.com")
    page = client.get(f"/invite/{invited.key}")
    assert page.status_code == 200 and "web@example.com" in page.get_data(as_text=True)
    token = csrf(page.get_data(as_text=True))
    r = client.post(f"/invite/{invited.key}", data={"csrf_token": token, "password": NEW_PASSWORD, "again": "nope"})
    assert r.status_code == 422 and "the two passwords differ" in r.get_data(as_text=True)
    r = client.post(f"/invite/{invited.key}", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert r.status_code in (400, 422)  # no CSRF token: refused, the link lives on
    invites.check_invite(invited.key)
    r = client.post(f"/invite/{invited.key}", data={"csrf_token": token, "password": NEW_PASSWORD,
                                                     "again": NEW_PASSWORD})
    assert r.status_code == 302
    assert "web@example.com" in client.get("/").get_data(as_text=True)  # signed in
    assert client.get(f"/invite/{invited.key}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf(client.get("/").get_data(as_text=True))})
    assert login(client, "web@example.com", NEW_PASSWORD).status_code == 302


def test_users_page_invites_changes_roles_and_is_for_admins(client, admin, lead):
    login(client, lead.email)
    assert client.get("/users").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client.get("/").get_data(as_text=True))})
    login(client, admin.email)
    page = client.get("/users").get_data(as_text=True)
    assert lead.email in page and 'href="/users"' in page
    r = client.post("/users", data={"csrf_token": csrf(page), "email": "fresh@example.com", "role": "lead",
                                    "name": "Fresh"})
    body = r.get_data(as_text=True)
    assert r.status_code == 201 and "fresh@example.com was created" in body
    key = re.search(r'id="invite-link">http://localhost/invite/([\w-]+)<', body).group(1)
    assert invites.check_invite(key).role == Role.lead
    assert ">invited<" in client.get("/users").get_data(as_text=True)
    r = client.post("/users", data={"csrf_token": csrf(page), "email": "fresh@example.com", "role": "lead"})
    assert r.status_code == 201  # an admin may send a new link to anyone: the old one is dead
    with pytest.raises(NotFound):
        invites.check_invite(key)
    fresh = users.get_user_by_email("fresh@example.com")
    r = client.post(f"/users/{fresh.id}", data={"csrf_token": csrf(page), "role": "reviewer", "active": "0"})
    assert r.status_code == 302
    fresh = users.get_user_by_email("fresh@example.com")
    assert (fresh.role, fresh.is_active) == ("reviewer", False)
    r = client.post(f"/users/{admin.id}", data={"csrf_token": csrf(page), "role": "annotator", "active": "1"})
    assert r.status_code == 302 and users.get_user(admin.id).role == Role.admin  # the last admin stays
    r = client.post(f"/users/{lead.id}/invite", data={"csrf_token": csrf(page)})
    assert r.status_code == 201 and "A new link for lead@example.com" in r.get_data(as_text=True)
    assert client.post(f"/users/{lead.id}/invite", data={}).status_code == 400  # CSRF


def test_every_gallery_template_previews_with_its_example_text(client, lead):
    """The gallery's templates (labelfab's and the Label Studio ones it accepts, shipped with it)
    each render the labeling interface in the preview; a template's example text is used."""
    import json

    from labeling.schema import gallery

    entries = gallery()
    assert len(entries) == 75 and sum(g["source"] == "Label Studio" for g in entries) == 69
    login(client, lead.email)
    token = csrf(client.get("/projects/preview").get_data(as_text=True))
    for g in entries:
        r = client.post("/projects/preview", headers={"HX-Request": "true"},
                        data={"csrf_token": token, "label_config": g["xml"], "data": json.dumps(g["sample"])})
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and "cannot be used" not in body and "data-anno-preview" in body, g["id"]
    qa = next(g for g in entries if g["id"] == "ls-natural-language-processing__question-answering")
    r = client.post("/projects/preview", headers={"HX-Request": "true"},
                    data={"csrf_token": token, "label_config": qa["xml"], "data": json.dumps(qa["sample"])})
    assert qa["sample"]["question"][:20] in r.get_data(as_text=True)


def test_an_invite_is_one_transaction(admin, project):
    """A failure writing the link leaves no account and no membership behind (it was three
    transactions: the account stayed, without a password and without a link)."""
    from tests.faults import refused

    with refused("invite"), pytest.raises(sa.exc.DBAPIError, match="refused by the test"):
        invites.invite(admin.user, "half@example.com", project_id=project.id, project_role="reviewer")
    assert users.get_user_by_email("half@example.com") is None
    invited = invites.invite(admin.user, "half@example.com", project_id=project.id, project_role="reviewer")
    assert invited.created and invites.check_invite(invited.key).id == invited.user.id


def test_accepting_an_invite_sets_the_password_and_ends_the_link_together(admin):
    """A failure setting the password leaves the link alive (it was marked used first, in its own
    transaction: a crash between left an account nobody could ever set a password for)."""
    from tests.faults import refused

    invited = invites.invite(admin.user, "crash@example.com")
    with refused("user", "UPDATE"), pytest.raises(sa.exc.DBAPIError, match="refused by the test"):
        invites.accept_invite(invited.key, NEW_PASSWORD)
    assert invites.check_invite(invited.key).id == invited.user.id  # still alive
    assert users.get_user(invited.user.id).password_hash is None
    user = invites.accept_invite(invited.key, NEW_PASSWORD)
    assert users.authenticate(user.email, NEW_PASSWORD, address="10.0.0.9").user.id == user.id


def test_invites_over_rest_create_list_revoke(client, admin, lead, project, make_user):
    """/api/invites: a lead invites into their project and sees and revokes its members' links;
    admins invite anyone with any role; the link works once, as the page's does."""
    made = client.post("/api/invites", headers=lead.headers,
                       json={"email": "Rest.Person@example.com", "project": project.id, "project_role": "reviewer"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["user"]["email"] == "rest.person@example.com" and body["user"]["role"] == Role.annotator
    assert body["created"] is True and body["emailed"] is False
    key = body["link"].rsplit("/", 1)[-1]
    assert body["link"].startswith("http") and invites.check_invite(key).id == body["user"]["id"]
    with read_session() as s:
        membership = s.exec(select(Membership).where(Membership.project_id == project.id,
                                                     Membership.user_id == body["user"]["id"])).one()
    assert membership.role == "reviewer"

    # a lead: annotators only, and only into a project they manage
    assert client.post("/api/invites", headers=lead.headers,
                       json={"email": "x@example.com", "role": "admin", "project": project.id}).status_code == 403
    assert client.post("/api/invites", headers=lead.headers, json={"email": "y@example.com"}).status_code == 403
    other = make_user("other-lead@example.com", Role.lead)
    assert client.post("/api/invites", headers=other.headers,
                       json={"email": "z@example.com", "project": project.id}).status_code in (403, 404)
    assert client.post("/api/invites", headers=lead.headers,
                       json={"email": "rest.person@example.com", "project": project.id, "bcc": 1}).status_code == 422
    assert client.post("/api/invites", headers=lead.headers,
                       json={"email": lead.email, "project": project.id}).status_code == 409

    listed = client.get(f"/api/invites?project={project.id}", headers=lead.headers).get_json()
    assert [(i["id"], i["email"], i["state"]) for i in listed] == [(body["id"], "rest.person@example.com", "live")]
    assert "key" not in listed[0] and "token_hash" not in listed[0]
    assert client.get("/api/invites", headers=lead.headers).status_code == 403  # leads name their project
    assert client.get(f"/api/invites?project={project.id}", headers=other.headers).status_code in (403, 404)

    # an admin invites anyone, with any role, and sees every live link
    boss = client.post("/api/invites", headers=admin.headers, json={"email": "boss@example.com", "role": "lead"})
    assert boss.status_code == 201 and boss.get_json()["user"]["role"] == "lead"
    assert {i["email"] for i in client.get("/api/invites", headers=admin.headers).get_json()} == {
        "rest.person@example.com", "boss@example.com"}
    # the other lead cannot revoke the lead's invite; the lead can, once: the link is dead
    assert client.delete(f"/api/invites/{body['id']}", headers=other.headers).status_code == 404
    assert client.delete(f"/api/invites/{boss.get_json()['id']}", headers=lead.headers).status_code == 404
    assert client.delete(f"/api/invites/{body['id']}", headers=lead.headers).status_code == 204
    assert client.delete(f"/api/invites/{body['id']}", headers=lead.headers).status_code == 404
    with pytest.raises(NotFound):
        invites.check_invite(key)
    assert client.get(f"/api/invites?project={project.id}", headers=lead.headers).get_json() == []
