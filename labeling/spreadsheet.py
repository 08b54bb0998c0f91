"""CSV and TSV cells that a spreadsheet would run as formulas (CSV injection).

Spreadsheet programs (Excel, LibreOffice Calc, Google Sheets) take a cell that begins with
``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``), and a
leading tab or carriage return can hide such a start. OWASP's rule
(https://owasp.org/www-community/attacks/CSV_Injection): prefix such a cell with a single quote,
which spreadsheets show as text. Every CSV and TSV labelfab writes passes its text cells
through :func:`csv_cell`: the exports and dataset versions (``labeling.exports.writers``), a
diff's ids (``labeling.datasets``) and the dashboard's tables (``insights.csv``). An export may
ask for the cells as they are (``csv_raw``) for a pipeline that reads them; JSON, JSON Lines and
Parquet are always written as they are.

:func:`csv_text` writes the rows: ``\\n`` line ends, as Label Studio's CSV has, and a cell that
holds a carriage return quoted. Python's ``csv`` module quotes only the characters of its line
terminator, and a bare carriage return ends a row in spreadsheets and in CSV readers: the rest
of the cell would start a line of its own, where a neutralised ``'\\r=...`` is ``=...`` again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMULA_STARTS", "csv_cell", "csv_text"]

#: The first characters of a cell that a spreadsheet would run (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV or TSV cell that no spreadsheet runs.

    Parameters
    ----------
    value : Any
        A cell as the ``csv`` module takes it.

    Returns
    -------
    Any
        Text beginning with one of :data:`FORMULA_STARTS` with a single quote in front
        (``"-3.5"`` too: text is text, whatever it looks like); anything else, numbers
        included (``-3.5`` stays a number), unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Sequence[Sequence[Any]], *, delimiter: str = ",") -> str:
    """CSV (or, with ``delimiter="\\t"``, TSV) text of ``rows``, one ``\\n``-ended line each.

    The cells are written as given (neutralise them first with :func:`csv_cell`); a cell that
    holds a carriage return is quoted, as one holding a line feed is.
    """
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    text = out.getvalue()
    if "\r" not in text:
        return text
    # rare: write again, with CR LF as the terminator (which quotes every cell holding a CR),
    # then end each row with LF again
    lines = []
    for row in rows:
        one = io.StringIO()
        csv.writer(one, delimiter=delimiter, lineterminator="\r\n").writerow(row)
        lines.append(one.getvalue()[:-2] + "\n")
    return "".join(lines)
