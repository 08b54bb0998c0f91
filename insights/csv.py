"""A dashboard panel's table as CSV (the ``.csv`` downloads); cells a spreadsheet would run as
formulas are neutralised (:func:`labeling.spreadsheet.csv_cell`)."""

from __future__ import annotations

from labeling.spreadsheet import csv_cell, csv_text


def panel_csv(panel: dict) -> str:
    """A panel's table as CSV text (its ``columns``, then one line per row)."""
    return csv_text([[csv_cell(c) for c in panel["columns"]],
                     *[["" if row.get(c) is None else csv_cell(row.get(c)) for c in panel["columns"]]
                       for row in panel["rows"]]])
