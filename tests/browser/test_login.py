"""Logging in through the real page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_login_page_logs_in(page, shot, annotator):
    page.goto("/")
    assert "/login" in page.url  # the front page asks who you are
    page.get_by_label("Email").fill(annotator.email)
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    page.allow_console(r"status of 401")  # the refused form answers 401, which Chromium logs
    assert page.get_by_role("alert").is_visible()
    shot(page, "login")
    login(page, annotator.email)
    assert page.url.rstrip("/") == page.base
    assert page.get_by_text(annotator.email).first.is_visible()
    shot(page, "home-logged-in")
