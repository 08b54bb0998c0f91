"""The export page in a real browser: a CSV download neutralises cells a spreadsheet would run as
formulas, and the "cells as they are" checkbox gives them raw."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser.conftest import login, save_shot
from tests.labeling.test_exports import accept, make_project

pytestmark = pytest.mark.browser

TEXTS = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "plain"]


def downloaded(page) -> list[str]:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    body = open(info.value.path(), encoding="utf-8", newline="").read()
    return [row["text"] for row in csv.DictReader(io.StringIO(body, newline=""))]


def test_the_export_page_neutralises_csv_formulas_unless_asked_raw(page, lead):
    choice = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
    pid = make_project(lead.user, [{"data": {"text": t}, "annotations": [{"result": choice}]} for t in TEXTS])
    accept(pid)
    login(page, lead.email)
    page.goto(f"/projects/{pid}/export")
    page.get_by_label("Format").select_option("CSV")
    raw_box = page.get_by_label("CSV/TSV cells as they are")
    assert not raw_box.is_checked()
    save_shot(page, "export-page-csv-raw")
    assert downloaded(page) == ["'" + t for t in TEXTS[:-1]] + ["plain"]
    page.goto(f"/projects/{pid}/export")
    page.get_by_label("Format").select_option("CSV")
    page.get_by_label("CSV/TSV cells as they are").check()
    assert downloaded(page) == TEXTS
