"""The labeling page in Chromium: how fast an annotator moves through a classification queue.

A fresh DATA_DIR (SQLite, stub broker), a ``labelfab serve``, a project of N short texts, and
Debian's /usr/bin/chromium driven by Playwright pressing a digit and Enter per item, as a
keyboard-only annotator does. Reports keypresses per item, the time from Enter to the next item
on screen (measured in the page), and items per minute.

Usage::

    python bench/annotate_browser.py [--items 100]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import Server, logged_in_page

PASSWORD = "bench password 1"
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="positive"/><Choice value="negative"/><Choice value="neutral"/></Choices></View>')


def setup(items: int) -> int:
    """Schema, an annotator, a lead and a project of ``items`` texts; returns the project id."""
    from labeling import imports, migrate, projects, users
    from labeling.models import Role

    migrate.upgrade()
    lead = users.create_user("lead@bench.local", role=Role.lead, password=PASSWORD)
    users.create_user("ann@bench.local", role=Role.annotator, password=PASSWORD)
    project = projects.create_project(lead, title="bench", label_config=CONFIG)
    body = [{"text": f"Item {i}: the delivery was {('fast', 'late', 'on time')[i % 3]}."} for i in range(items)]
    imports.import_data(lead, project.id, body=body, background=False)
    return project.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="labelfab-bench-ui-")
    os.environ.update(LABELFAB_DATA_DIR=data_dir, LABELFAB_BROKER_URL="stub://", LABELFAB_DATABASE_URL="")
    project_id = setup(args.items)
    server = Server(os.environ.copy(), log_path=Path(data_dir) / "server.log")
    url = server.url
    try:
        with logged_in_page(url, "ann@bench.local", PASSWORD) as page:
            page.goto(f"/annotate/{project_id}")
            ready = """(prev) => {
                const root = document.querySelector('[data-anno-config]');
                const t = document.querySelector('[data-anno="task-id"]').textContent;
                return root && !root.classList.contains('is-loading') && t.startsWith('Task ') && t !== prev;
            }"""
            page.wait_for_function(ready, arg="")
            presses, started = 0, time.perf_counter()
            for n in range(args.items):
                shown = page.locator('[data-anno="task-id"]').text_content()
                index = int(page.locator(".anno-text-body").text_content().split(":")[0].split()[1])
                page.keyboard.press(str(index % 3 + 1))
                page.keyboard.press("Enter")
                presses += 2
                if n < args.items - 1:
                    page.wait_for_function(ready, arg=shown)
            page.locator('[data-anno="empty"]').wait_for(state="visible")
            elapsed = time.perf_counter() - started
            switch = page.evaluate("window.labelfabAnnotate.workspace.switchTimes")
    finally:
        server.stop()
    switch.sort()
    print(json.dumps({
        "items": args.items,
        "keypresses_per_item": presses / args.items,
        "submit_to_next_ms_p50": statistics.median(switch),
        "submit_to_next_ms_p95": switch[int(0.95 * (len(switch) - 1))],
        "items_per_minute": round(args.items / elapsed * 60, 1),
    }))


if __name__ == "__main__":
    main()
