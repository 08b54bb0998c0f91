"""Label Studio's organisation endpoints with the real ``label-studio-sdk`` against a live labelfab:
a script finds its organisation from ``whoami().active_organization`` and pages through its members
(``organizations.list/get``, ``organizations.members.list/get/delete``); labelfab is one
organisation, the one every project and webhook names."""

from __future__ import annotations

import pytest
import requests
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling.models import Role

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
RESULT = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


@pytest.fixture
def people(live_server, make_user):
    admin = make_user("org-admin@example.com", Role.admin)
    lead = make_user("org-lead@example.com", Role.lead)
    ann = make_user("org-ann@example.com", Role.annotator)
    return admin, lead, ann


def _sdk(live_server, actor) -> LabelStudio:
    return LabelStudio(base_url=live_server.url, api_key=actor.token)


def test_a_script_finds_its_organization_and_pages_through_its_members(live_server, people):
    admin, lead, ann = people
    ls, as_lead, as_ann = _sdk(live_server, admin), _sdk(live_server, lead), _sdk(live_server, ann)
    project = as_lead.projects.create(title="org work", label_config=CONFIG)
    as_lead.projects.import_tasks(id=project.id, request=[{"text": "a"}, {"text": "b"}])
    for task in as_lead.tasks.list(project=project.id):
        as_ann.annotations.create(id=task.id, result=RESULT)

    org_id = as_lead.users.whoami().active_organization
    assert org_id == 1 == as_lead.projects.get(id=project.id).organization
    assert [(o.id, o.title) for o in as_ann.organizations.list()] == [(1, "labelfab")]
    assert ls.organizations.get(id=org_id).id == 1

    first = ls.organizations.members.list(id=org_id, page_size=2)  # one page, Label Studio's pagination
    assert (first.count, len(first.results), first.previous) == (3, 2, None)
    assert "page=2" in first.next and first.results[0].created_projects is None
    rest = ls.organizations.members.list(id=org_id, page_size=2, page=2)
    assert (len(rest.results), rest.next) == (1, None) and "page=1" in rest.previous
    followed = requests.get(first.next, headers=admin.headers, timeout=10).json()  # the link as given
    assert [m["user"]["email"] for m in followed["results"]] == [m.user.email for m in rest.results]
    members = first.results + rest.results
    assert [m.user.email for m in members] == sorted([admin.email, lead.email, ann.email])
    assert {m.organization for m in members} == {1} and {m.id for m in members} == {admin.id, lead.id, ann.id}
    assert len(ls.organizations.members.list(id=org_id, page_size=-1).results) == 3

    with_projects = {m.user.email: m
                     for m in ls.organizations.members.list(id=org_id, contributed_to_projects=True).results}
    assert [p.title for p in with_projects[lead.email].created_projects] == ["org work"]
    assert [p.title for p in with_projects[ann.email].contributed_to_projects] == ["org work"]
    assert with_projects[admin.email].contributed_to_projects == []

    member = ls.organizations.members.get(id=org_id, user_pk=ann.id)
    assert (member.user, member.organization, member.annotations_count, member.contributed_projects_count) == (
        ann.id, 1, 2, 1)

    # Label Studio's soft delete of a member: the user can no longer call the API, their work stays
    ls.organizations.members.delete(id=org_id, user_pk=ann.id)
    with pytest.raises(ApiError) as gone:
        as_ann.users.whoami()
    assert gone.value.status_code == 401
    assert len(as_lead.annotations.list(id=next(iter(as_lead.tasks.list(project=project.id))).id)) == 1
    with pytest.raises(ApiError) as self_delete:
        ls.organizations.members.delete(id=org_id, user_pk=admin.id)
    assert self_delete.value.status_code == 405


def test_members_are_for_admins_and_other_organizations_do_not_exist(live_server, people):
    admin, lead, ann = people
    for call in (lambda c: list(c.organizations.members.list(id=1)),
                 lambda c: c.organizations.members.get(id=1, user_pk=ann.id),
                 lambda c: c.organizations.members.delete(id=1, user_pk=ann.id)):
        with pytest.raises(ApiError) as refused:
            call(_sdk(live_server, lead))
        assert refused.value.status_code == 403
    with pytest.raises(ApiError) as missing:
        _sdk(live_server, admin).organizations.get(id=2)
    assert missing.value.status_code == 404
    r = requests.get(f"{live_server.url}/api/organizations/1/memberships?page=9", headers=admin.headers, timeout=10)
    assert (r.status_code, r.json()["detail"]) == (404, "Invalid page.")
    r = requests.get(f"{live_server.url}/api/organizations/1/memberships/999999", headers=admin.headers, timeout=10)
    assert r.status_code == 404


def test_webhooks_name_the_organization(client, lead):
    pid = client.post("/api/projects", json={"title": "hooks", "label_config": CONFIG},
                      headers=lead.headers).get_json()["id"]
    r = client.post("/api/webhooks", json={"url": "http://8.8.8.8/hook", "project": pid}, headers=lead.headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["organization"] == 1

