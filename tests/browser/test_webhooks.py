"""The project's webhooks page in Chromium: reached from the settings page, it shows the last
deliveries of each webhook (event, status, attempts, answer code)."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import wait_for
from tests.labeling.test_review import CONFIG
from tests.labeling.test_webhooks import Receiver


def test_the_settings_page_links_to_the_deliveries_of_each_webhook(page, shot, lead):
    receiver = Receiver([500])  # the first attempt fails, the retry is delivered
    try:
        api = page.base + "/api"
        pid = requests.post(f"{api}/projects", json={"title": "Hooked", "label_config": CONFIG},
                            headers=lead.headers, timeout=10).json()["id"]
        r = requests.post(f"{api}/webhooks", json={"url": receiver.url, "project": pid, "send_for_all_actions": False,
                                                   "actions": ["PROJECT_UPDATED", "TASKS_CREATED"]},
                          headers=lead.headers, timeout=10)
        assert r.status_code == 201, r.text
        requests.post(f"{api}/projects/{pid}/import", json=[{"text": "a"}, {"text": "b"}], headers=lead.headers,
                      timeout=10)
        wait_for(lambda: len(receiver.received) >= 1, timeout=30)

        login(page, lead.email)
        page.goto(f"/projects/{pid}/settings")
        page.get_by_role("link", name="webhooks and their last deliveries").click()
        expect(page.get_by_role("heading", name="Hooked: webhooks")).to_be_visible()
        row = page.locator("table.deliveries tbody tr").first
        expect(row).to_contain_text("TASKS_CREATED")
        expect(row.locator(".badge")).to_have_text("retrying")
        expect(row).to_contain_text("500")
        wait_for(lambda: len(receiver.received) >= 2, timeout=60)  # LABELFAB_WEBHOOK_RETRY_SECONDS: 10 s
        page.reload()
        expect(row.locator(".badge")).to_have_text("delivered")
        expect(row.locator("td").nth(2)).to_have_text("2")
        expect(row.locator("td").nth(3)).to_have_text("200")
        shot(page, "webhooks-deliveries")
    finally:
        receiver.close()
