"""The Tokens page, reached from the user menu: list, create (the key shown once), revoke."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_tokens_page_creates_shows_the_key_once_and_revokes(page, shot, lead):
    login(page, lead.email)
    page.get_by_role("link", name="Tokens").click()
    page.wait_for_load_state()
    assert page.url.endswith("/tokens")
    assert page.get_by_role("cell", name=f"{lead.token[:8]}…").is_visible()
    page.get_by_label("Name").fill("training pipeline")
    page.get_by_label("Scope").select_option("read")
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create").click()
    page.wait_for_load_state()
    key = page.locator("#new-token-key").inner_text().strip()
    assert page.get_by_label("Name").input_value() == ""  # the form is ready for another
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    shot(page, "tokens-created")
    me = requests.get(f"{page.base}/api/me", headers={"Authorization": f"Token {key}"}, timeout=10)
    assert me.status_code == 200 and me.json()["token_scope"] == "read"
    page.goto("/tokens")
    assert page.locator("#new-token-key").count() == 0  # shown once
    row = page.get_by_role("row").filter(has_text="training pipeline")
    assert row.get_by_text(key[:8]).is_visible() and row.get_by_text("read").is_visible()
    shot(page, "tokens-list")
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").filter(has_text="revoked").is_visible()
    assert page.get_by_role("row").filter(has_text="training pipeline").count() == 0
    gone = requests.get(f"{page.base}/api/me", headers={"Authorization": f"Token {key}"}, timeout=10)
    assert gone.status_code == 401
