"""Playwright harness: Debian's /usr/bin/chromium driving a live ``labelfab serve``.

Fixtures
--------
browser
    One headless Chromium for the whole run (sync API).
browser_server
    One ``labelfab serve`` (tests/conftest.py's LiveServer) for the whole run: starting one
    takes seconds, and the database is emptied after every test anyway.
page
    A fresh 1280x800 browser context on that server, with ``page.base`` set to its URL. Every console error and uncaught page error fails the
    test, unless the test declared it expected with ``page.allow_console(pattern)``. On failure a
    screenshot is saved to ``test-artifacts/``.
shot
    ``shot(page, name)`` saves ``test-artifacts/<name>.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, PASSWORD, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="package")  # closed before the rest of the suite forks processes
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleWatch:
    """Console errors and page errors seen by one page, minus those a test said to expect."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[re.Pattern] = []

    def on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error) -> None:
        self.errors.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


def save_shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture
def shot():
    return save_shot


@pytest.fixture(scope="package")  # closed before the rest of the suite forks processes
def browser_server(database):
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def page(request, browser, browser_server):
    live_server = browser_server
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    watch = ConsoleWatch()
    pg.on("console", watch.on_console)
    pg.on("pageerror", watch.on_page_error)
    pg.base = live_server.url
    pg.server = live_server
    pg.console = watch
    pg.allow_console = lambda pattern: watch.allowed.append(re.compile(pattern))
    yield pg
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        try:
            save_shot(pg, f"FAILED-{request.node.name}")
        except Exception as exc:  # noqa: BLE001  (the page may be gone; the test failure is what matters)
            print(f"no failure screenshot: {exc}")
    context.close()
    errors = watch.unexpected()
    if errors and not failed:
        pytest.fail("errors in the browser console:\n" + "\n".join(errors))


def login(page, email: str, password: str = PASSWORD, next_path: str | None = None) -> None:
    """Log in through the real login form."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
