"""insights.csv: a panel as CSV."""

from __future__ import annotations

from insights.csv import panel_csv


def test_panel_csv_quotes_formulas():
    panel = {"columns": ["email", "items", "note"],
             "rows": [{"email": "=HYPERLINK(1)", "items": 3, "note": None}, {"email": "a@b", "items": 0, "note": "x,y"}]}
    assert panel_csv(panel) == "email,items,note\n'=HYPERLINK(1),3,\na@b,0,\"x,y\"\n"


def test_panel_csv_quotes_a_carriage_return_so_that_no_row_starts_a_formula():
    panel = {"columns": ["email", "note"], "rows": [{"email": "\r=1+1", "note": "a\rb"}]}
    assert panel_csv(panel) == "email,note\n\"'\r=1+1\",\"a\rb\"\n"
