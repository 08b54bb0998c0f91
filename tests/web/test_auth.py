"""Log-in, sessions with CSRF, API tokens, roles, errors and security headers."""

import re

import sqlalchemy as sa

from labeling import users
from labeling.db import utcnow, write_session
from labeling.models import ApiToken, Role, TokenScope
from tests.conftest import PASSWORD, login


def test_login_page_and_successful_login(client, annotator):
    page = client.get("/login")
    assert page.status_code == 200
    assert b'name="csrf_token"' in page.data
    response = login(client, annotator.email)
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_wrong_password_and_unknown_user_get_the_same_message(client, annotator):
    wrong_pw = login(client, annotator.email, "not the password")
    unknown = login(client, "nobody@example.com", "whatever123")
    assert wrong_pw.status_code == unknown.status_code == 401
    assert b"Wrong email or password." in wrong_pw.data
    assert b"Wrong email or password." in unknown.data


def test_repeated_failures_are_slowed_down(client, annotator):
    for _ in range(5):
        login(client, annotator.email, "bad password")
    blocked = login(client, annotator.email, PASSWORD)  # right password, but too soon
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.data


def test_login_form_without_csrf_token_is_refused(client, annotator):
    response = client.post("/login", data={"email": annotator.email, "password": PASSWORD})
    assert response.status_code == 400


def test_logout(client, annotator):
    login(client, annotator.email)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_log_in(client, make_user):
    actor = make_user("gone@example.com")
    users.update_user(actor.id, is_active=False)
    assert login(client, actor.email).status_code == 401


def test_api_token_auth(client, annotator):
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me").get_json()["detail"].startswith("authentication required")
    assert client.get("/api/me", headers={"Authorization": "Token nope"}).status_code == 401
    ok = client.get("/api/me", headers=annotator.headers)
    assert ok.status_code == 200 and ok.get_json()["email"] == annotator.email
    bearer = client.get("/api/me/", headers={"Authorization": f"Bearer {annotator.token}"})
    assert bearer.status_code == 200


def test_tokens_are_stored_hashed_and_can_be_revoked(client, annotator):
    [token] = users.list_tokens(annotator.id)
    assert token.token_hash != annotator.token and len(token.token_hash) == 64
    users.revoke_token(token.id)
    assert client.get("/api/me", headers=annotator.headers).status_code == 401


def test_token_lookups_are_remembered_briefly_and_forgotten_on_change(client, annotator):
    [token] = users.list_tokens(annotator.id)
    assert client.get("/api/me", headers=annotator.headers).status_code == 200
    # another server process revokes the token: this one goes on remembering it for a moment
    with write_session() as s:
        s.execute(sa.update(ApiToken).where(ApiToken.id == token.id).values(revoked_at=utcnow()))
    assert client.get("/api/me", headers=annotator.headers).status_code == 200
    cache = users._token_cache  # ... and TOKEN_CACHE_SECONDS later no longer
    cache.expire(cache.timer() + users.TOKEN_CACHE_SECONDS)
    assert client.get("/api/me", headers=annotator.headers).status_code == 401


def test_a_deactivated_user_is_refused_at_once(client, annotator, make_user):
    admin = make_user("root@example.com", Role.admin)
    assert client.get("/api/me", headers=annotator.headers).get_json()["role"] == Role.annotator
    users.update_user(annotator.id, role=Role.reviewer)
    assert client.get("/api/me", headers=annotator.headers).get_json()["role"] == Role.reviewer
    client.patch(f"/api/users/{annotator.id}", headers=admin.headers, json={"is_active": False})
    assert client.get("/api/me", headers=annotator.headers).status_code == 401


def test_read_only_token_cannot_write(client, lead):
    key = users.create_token(lead.id, scope=TokenScope.read)
    response = client.post("/api/tokens", json={}, headers={"Authorization": f"Token {key}"})
    assert response.status_code == 403
    assert response.get_json()["detail"] == "this token is read-only"


def test_session_api_writes_need_the_csrf_header(client, annotator):
    login(client, annotator.email)
    assert client.get("/api/me").status_code == 200
    response = client.post("/api/tokens", json={})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["detail"]


def test_unknown_api_path_is_json_404(client, annotator):
    response = client.get("/api/nothing-here", headers=annotator.headers)
    assert response.status_code == 404
    assert set(response.get_json()) == {"detail", "errors"}


def test_html_error_page_elsewhere(client, annotator):
    login(client, annotator.email)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"<html" in response.data


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_health_reports_database_and_broker(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]


def test_roles_are_checked(client, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    assert users.get_user(reviewer.id).role == "reviewer"
    response = client.post("/api/users", json={"email": "x@example.com"}, headers=reviewer.headers)
    assert response.status_code == 403
