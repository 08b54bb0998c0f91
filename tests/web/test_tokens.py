"""API tokens: listed, revoked and expiring from the API, the CLI and the Tokens page;
``last_used_at`` kept without a write per request."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from labeling import users
from labeling.db import get_engine, read_session, utcnow, write_session
from labeling.models import ApiToken, Role
from tests.conftest import login


def _token(token_id: int) -> ApiToken:
    with read_session() as s:
        return s.get(ApiToken, token_id)


def _auth(key: str) -> dict:
    return {"Authorization": f"Token {key}"}


def test_the_api_lists_revokes_and_expires_tokens(client, lead):
    made = client.post("/api/tokens", json={"name": "pipeline", "scope": "read", "expires_in_days": 30},
                       headers=lead.headers)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert len(body["token"]) == 40 and body["prefix"] == body["token"][:8] and body["scope"] == "read"
    expires = users.token_expiry(expires_in_days=30)
    assert abs((_token(body["id"]).expires_at - expires).total_seconds()) < 60
    listed = client.get("/api/tokens", headers=lead.headers).get_json()
    assert [t["name"] for t in listed] == ["", "pipeline"]  # the fixture's token, then the new one
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert listed[1]["expires_at"] is not None and listed[1]["expired"] is False
    assert client.get("/api/me", headers=_auth(body["token"])).status_code == 200
    assert client.delete(f"/api/tokens/{body['id']}", headers=lead.headers).status_code == 204
    assert client.get("/api/me", headers=_auth(body["token"])).status_code == 401
    assert [t["id"] for t in client.get("/api/tokens", headers=lead.headers).get_json()] == [listed[0]["id"]]
    assert client.delete(f"/api/tokens/{body['id']}", headers=lead.headers).status_code == 204  # again: no change


def test_a_token_with_an_expiry_moment(client, annotator):
    when = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    made = client.post("/api/tokens", json={"expires_at": when.isoformat()}, headers=annotator.headers)
    assert made.status_code == 201, made.get_json()
    assert _token(made.get_json()["id"]).expires_at == when


@pytest.mark.parametrize("body", [
    {"expires_in_days": 0}, {"expires_in_days": 3651}, {"expires_in_days": "7"}, {"expires_in_days": 1.5},
    {"expires_in_days": True}, {"expires_in_days": 2 ** 70}, {"expires_at": "tomorrow"},
    {"expires_at": "2020-01-01T00:00:00+00:00"}, {"expires_at": "2099-01-01T00:00:00"},
    {"expires_at": "9999-01-01T00:00:00+00:00"}, {"expires_at": 5},
    {"expires_in_days": 7, "expires_at": "2099-01-01T00:00:00+00:00"}, {"name": "x" * 256}, {"name": 5}, {"name": "\ud800"},
])
def test_a_bad_expiry_or_name_is_refused_with_422(client, annotator, body):
    response = client.post("/api/tokens", json=body, headers=annotator.headers)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()) == {"detail", "errors"}
    assert len(users.list_tokens(annotator.id)) == 1


def test_an_expired_token_answers_401_even_when_remembered(client, annotator):
    key = users.create_token(annotator.id, expires_at=utcnow() + timedelta(seconds=1.5))
    assert client.get("/api/me", headers=_auth(key)).status_code == 200  # remembered for 5 s from now
    time.sleep(1.6)
    refused = client.get("/api/me", headers=_auth(key))
    assert refused.status_code == 401
    users.forget_tokens()
    assert client.get("/api/me", headers=_auth(key)).status_code == 401
    listed = client.get("/api/tokens", headers=annotator.headers).get_json()
    assert [t["expired"] for t in listed] == [False, True]


def test_leads_and_admins_see_only_their_own_tokens_and_admins_revoke_anyones(client, lead, admin, annotator):
    [ann_token] = users.list_tokens(annotator.id)
    for actor in (lead, admin):
        ids = {t["id"] for t in client.get("/api/tokens", headers=actor.headers).get_json()}
        assert ids == {t.id for t in users.list_tokens(actor.id)}
    refused = client.delete(f"/api/tokens/{ann_token.id}", headers=lead.headers)
    assert refused.status_code == 404  # as if there were no such token
    assert client.get("/api/me", headers=annotator.headers).status_code == 200
    assert client.delete(f"/api/tokens/{ann_token.id}", headers=admin.headers).status_code == 204
    assert client.get("/api/me", headers=annotator.headers).status_code == 401
    assert client.delete("/api/tokens/999999", headers=admin.headers).status_code == 404


def test_last_used_is_kept_with_at_most_one_write_in_five_minutes(client, annotator, app):
    [token] = users.list_tokens(annotator.id)
    assert token.last_used_at is None
    assert client.get("/api/me", headers=annotator.headers).status_code == 200
    first = _token(token.id).last_used_at
    assert first is not None and (utcnow() - first).total_seconds() < 60
    writes = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
            writes.append(statement)

    sa.event.listen(get_engine(), "before_cursor_execute", count)
    try:
        for _ in range(3):
            users.forget_tokens()  # each lookup misses the cache, as in a fresh process
            assert client.get("/api/me", headers=annotator.headers).status_code == 200
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", count)
    assert writes == [] and _token(token.id).last_used_at == first
    with write_session() as s:  # five minutes and more later
        s.execute(sa.update(ApiToken).where(ApiToken.id == token.id)
                  .values(last_used_at=first - timedelta(seconds=users.TOKEN_USE_WRITE_SECONDS + 1)))
    users.forget_tokens()
    assert client.get("/api/me", headers=annotator.headers).status_code == 200
    assert _token(token.id).last_used_at > first


def test_the_cli_lists_revokes_and_expires_tokens(runner, client, annotator):
    made = runner.invoke(args=["token", "create", annotator.email, "--name", "ci", "--expires", "7"])
    assert made.exit_code == 0, made.output
    assert "expires " in made.output
    key = made.output.strip().splitlines()[-1]
    token = next(t for t in users.list_tokens(annotator.id) if t.name == "ci")
    assert abs((token.expires_at - (utcnow() + timedelta(days=7))).total_seconds()) < 60
    listed = runner.invoke(args=["token", "list", "--user", annotator.email])
    assert listed.exit_code == 0, listed.output
    row = next(line.split("\t") for line in listed.output.splitlines() if line.startswith(f"{token.id}\t"))
    assert row[1:5] == [annotator.email, key[:8], "full", "ci"] and row[-1] == "active"
    assert key not in listed.output
    revoked = runner.invoke(args=["token", "revoke", str(token.id)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get("/api/me", headers=_auth(key)).status_code == 401
    live = runner.invoke(args=["token", "list"]).output.splitlines()
    assert [line for line in live if line.startswith(f"{token.id}\t")] == []
    assert runner.invoke(args=["token", "list", "--all"]).output.count("\trevoked") == 1
    assert runner.invoke(args=["token", "revoke", "999999"]).exit_code == 1
    bad = runner.invoke(args=["token", "create", annotator.email, "--expires", "0"])
    assert bad.exit_code == 1 and "expires_in_days" in bad.output


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_the_tokens_page_lists_creates_once_and_revokes(client, lead, annotator):
    login(client, annotator.email)
    page = client.get("/tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    [token] = users.list_tokens(annotator.id)
    assert f"{token.prefix}…" in html and "never" in html
    assert '<option value="read"' not in html  # read tokens are for leads
    assert 'href="/tokens"' in client.get("/").get_data(as_text=True)  # in the user menu
    made = client.post("/tokens", data={"name": "notebook", "scope": "full", "expires": "30",
                                        "csrf_token": _csrf(html)})
    assert made.status_code == 201
    key = re.search(r'id="new-token-key">([0-9a-f]{40})<', made.get_data(as_text=True)).group(1)
    assert client.get("/api/me", headers=_auth(key)).status_code == 200
    again = client.get("/tokens").get_data(as_text=True)
    assert key not in again and key[:8] in again and "notebook" in again  # the key was shown once
    new = next(t for t in users.list_tokens(annotator.id) if t.name == "notebook")
    assert new.expires_at is not None
    revoked = client.post(f"/tokens/{new.id}/revoke", data={"csrf_token": _csrf(again)})
    assert revoked.status_code == 302
    assert client.get("/api/me", headers=_auth(key)).status_code == 401
    [other] = users.list_tokens(lead.id)
    assert client.post(f"/tokens/{other.id}/revoke", data={"csrf_token": _csrf(again)}).status_code == 404
    assert client.get("/api/me", headers=lead.headers).status_code == 200


def test_a_lead_may_make_a_read_token_on_the_page(client, make_user):
    lead = make_user("lead2@example.com", Role.lead)
    login(client, lead.email)
    html = client.get("/tokens").get_data(as_text=True)
    assert '<option value="read"' in html
    made = client.post("/tokens", data={"name": "train", "scope": "read", "expires": "", "csrf_token": _csrf(html)})
    assert made.status_code == 201
    assert next(t for t in users.list_tokens(lead.id) if t.name == "train").scope == "read"
