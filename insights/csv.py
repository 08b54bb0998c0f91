"""A dashboard panel's table as CSV (the ``.csv`` downloads)."""

from __future__ import annotations

import csv
import io
from typing import Any


def panel_csv(panel: dict) -> str:
    """A panel's table as CSV text (its ``columns``, then one line per row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(panel["columns"])
    for row in panel["rows"]:
        writer.writerow(["" if row.get(c) is None else _csv_cell(row.get(c)) for c in panel["columns"]])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    # Spreadsheets run cells that start with = + - @ as formulas: quote them as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
