"""Log-in, sessions with CSRF, API tokens, roles, errors and security headers."""

import re

import pytest
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


def test_roles_are_checked(client, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    assert users.get_user(reviewer.id).role == "reviewer"
    response = client.post("/api/users", json={"email": "x@example.com"}, headers=reviewer.headers)
    assert response.status_code == 403


# --------------------------------------------------------------------------- sessions end


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def _copy_session(app, client):
    """A second browser holding a copy of ``client``'s session cookie (as a thief would)."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie("session", cookie.value)
    return other


def test_logout_ends_a_copied_session_too(app, client, annotator):
    login(client, annotator.email)
    thief = _copy_session(app, client)
    assert thief.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 302
    assert thief.get("/").status_code == 302
    assert thief.get("/api/me").status_code == 401


def test_a_password_change_ends_every_session(app, client, annotator):
    login(client, annotator.email)
    other = _copy_session(app, client)
    users.set_password(annotator.id, "a brand new passphrase")
    assert client.get("/").status_code == 302 and other.get("/").status_code == 302
    assert login(client, annotator.email, "a brand new passphrase").status_code == 302
    assert client.get("/").status_code == 200


def test_an_admin_signs_a_user_out_everywhere_from_the_api_and_the_cli(app, client, runner, annotator, admin):
    login(client, annotator.email)
    assert client.post(f"/api/users/{annotator.id}/sign-out", headers=annotator.headers).status_code == 403
    assert client.get("/").status_code == 200
    assert client.post(f"/api/users/{annotator.id}/sign-out", headers=admin.headers).status_code == 204
    assert client.get("/").status_code == 302
    assert client.get("/api/me", headers=annotator.headers).status_code == 200  # tokens are revoked one by one
    assert client.post("/api/users/999999/sign-out", headers=admin.headers).status_code == 404
    login(client, annotator.email)
    assert client.get("/").status_code == 200
    result = runner.invoke(args=["user", "signout", annotator.email])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302
    assert runner.invoke(args=["user", "signout", "ghost@example.com"]).exit_code == 1


def test_a_session_without_a_generation_is_refused(app, annotator):
    from flask_login.utils import _create_identifier

    from web.auth import SESSION_VERSION_KEY

    client = app.test_client()
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with client.session_transaction() as sess:  # signed by the app, as Flask-Login signs in
        sess["_user_id"] = str(annotator.id)
        sess["_fresh"] = True
        sess["_id"] = identifier
        sess[SESSION_VERSION_KEY] = 0
    assert client.get("/").status_code == 200
    with client.session_transaction() as sess:  # from before session generations
        del sess[SESSION_VERSION_KEY]
    assert client.get("/").status_code == 302


# --------------------------------------------------------------------------- log-in slow-downs


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _message(response) -> str:
    return re.sub(r"\d+ s\.", "N s.", re.search(r'role="alert">([^<]+)<', response.get_data(as_text=True)).group(1))


def test_an_unknown_account_is_slowed_down_and_answered_as_a_known_one(app, annotator):
    answers = {}
    for address, email in (("10.0.0.1", annotator.email), ("10.0.0.2", "nobody@example.com")):
        browser = _from(app, address)
        tries = [login(browser, email, "bad password") for _ in range(6)]  # the sixth comes too soon
        answers[email] = [(r.status_code, _message(r)) for r in tries]
    assert answers[annotator.email] == answers["nobody@example.com"]
    assert answers[annotator.email] == [(401, "Wrong email or password.")] * 5 + [
        (429, "Too many failed attempts. Try again in N s.")]


def test_the_owner_is_never_locked_out_from_another_address(app, annotator):
    attacker = _from(app, "203.0.113.9")
    for _ in range(8):
        login(attacker, annotator.email, "bad password")
    assert login(attacker, annotator.email, PASSWORD).status_code == 429  # the attacker waits
    owner = _from(app, "198.51.100.7")
    assert login(owner, annotator.email, PASSWORD).status_code == 302
    assert owner.get("/").status_code == 200


def test_one_address_trying_many_accounts_is_slowed_down(app, annotator, monkeypatch):
    from labeling.settings import get_settings

    monkeypatch.setenv("LABELFAB_LOGIN_MAX_FAILURES_PER_ADDRESS", "4")
    get_settings.cache_clear()
    try:
        sprayer = _from(app, "192.0.2.50")
        for k in range(4):
            assert login(sprayer, f"user{k}@example.com", "Summer2026!").status_code == 401
        assert login(sprayer, annotator.email, PASSWORD).status_code == 429  # one failure per account, many accounts
        assert login(_from(app, "192.0.2.51"), annotator.email, PASSWORD).status_code == 302
    finally:
        monkeypatch.delenv("LABELFAB_LOGIN_MAX_FAILURES_PER_ADDRESS")
        get_settings.cache_clear()


def test_a_successful_login_takes_its_attempt_back(app, annotator):
    browser = _from(app, "10.1.1.1")
    for _ in range(4):
        login(browser, annotator.email, "bad password")
    assert login(browser, annotator.email, PASSWORD).status_code == 302
    browser.post("/logout", data={"csrf_token": _csrf(browser)})
    for _ in range(4):  # the count started again
        assert login(browser, annotator.email, "bad password").status_code == 401
    assert login(browser, annotator.email, PASSWORD).status_code == 302


def test_failures_are_counted_without_keeping_the_emails(app, annotator):
    from labeling.db import read_session
    from labeling.models import LoginThrottle

    login(_from(app, "10.2.2.2"), "secret-person@example.com", "bad password")
    with read_session() as s:
        rows = s.exec(sa.select(LoginThrottle.key, LoginThrottle.failures)).all()
    assert sorted(f for _, f in rows) == [1, 1]  # the (address, account) pair and the address
    assert all("example.com" not in k and "10.2.2.2" not in k for k, _ in rows)


# --------------------------------------------------------------------------- password policy


@pytest.mark.parametrize("password", ["password1", "12345678", "iloveyou", "Qwertyuiop", "short", "EMAIL"])
def test_the_commonest_short_and_email_passwords_are_refused(client, admin, annotator, password):
    email = "new@example.com"
    made = client.post("/api/users", json={"email": email, "password": email if password == "EMAIL" else password},
                       headers=admin.headers)
    assert made.status_code == 422, made.get_json()
    assert users.get_user_by_email(email) is None
    with pytest.raises(users.UserError):
        users.set_password(annotator.id, annotator.email if password == "EMAIL" else password)
    assert login(client, annotator.email).status_code == 302  # the old password still works


def test_the_bundled_list_is_the_commonest_thousand():
    common = users.common_passwords()
    assert len(common) == 1000
    assert all(len(p) >= 8 and p == p.lower() for p in common)
    assert "correct horse battery" not in common
    users.check_password_policy("correct horse battery")  # a passphrase passes
