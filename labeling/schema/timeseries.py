"""Time series: the ``<TimeSeries>`` object with its ``<Channel>``\\ s, ``<TimeSeriesLabels>``
ranges and instant events on it, and the reading of its data (pure functions).

A ``<TimeSeries name="ts" value="$csv" valueType="url" timeColumn="time" timeFormat="%Y-%m-%d"
sep=",">`` shows one plot per ``<Channel column="velocity"/>``, all on the time column's x axis.
Its data is, as in Label Studio's editor (``web/libs/editor/src/tags/object/TimeSeries.jsx``):

- ``valueType="url"`` (the default): the task field holds the URL of a CSV file (``sep``
  separates its fields; with a header row, or without one: its columns are then named by
  index, ``timeColumn="0"``, ``<Channel column="1"/>``) or of a JSON object of columns;
- ``valueType="json"``: the task field holds the columns inline, ``{"time": [...], "velocity":
  [...]}`` (or that object as a JSON string).

Column names match case-insensitively (Label Studio lower-cases them). Without ``timeColumn``
the x axis is the row index 0, 1, 2...; the time column must be sorted. A ``<MultiChannel>``
inside the TimeSeries holds channels drawn together in one plot; its regions are the
TimeSeries' as for any channel.

A TimeSeriesLabels result item is what Label Studio's editor stores for a region
(``web/libs/editor/src/regions/TimeSeriesRegion.js``, ``serialize``): ``{"type":
"timeserieslabels", "value": {"start": s, "end": e, "instant": false, "timeserieslabels":
["Run"]}}`` where ``start``/``end`` are numbers in the time column's units (or row indices)
when the object has no ``timeFormat``, and strings written with ``timeFormat`` (d3's
``utcFormat``, UTC, millisecond precision) when it has one. An instant event has ``start ==
end`` and ``"instant": true``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, ObjectTag, attr, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, SeriesSpec

__all__ = ["CONTROL_TAGS", "MAX_SERIES_BYTES", "MAX_SERIES_ROWS", "OBJECT_TAGS", "SeriesError", "TIMESERIES",
           "TIMESERIESLABELS", "format_time", "parse_time", "read_series", "sample_series", "time_of"]

#: The largest CSV or JSON file a TimeSeries reads (bytes), and the most rows it plots.
MAX_SERIES_BYTES = 32 * 1024 * 1024
MAX_SERIES_ROWS = 1_000_000
#: Label Studio's separator aliases (``TimeSeries.jsx``, ``preloadValue``).
_SEP_ALIASES = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "dot": "."}
_CHILD, _MULTI = "channel", "multichannel"
_JS_DECIMAL = re.compile(r"[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)")
_JS_RADIX = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SeriesError(ValueError):
    """Time-series data that cannot be read as the object's attributes say (the reason)."""


# --------------------------------------------------------------------------- times

def _python_format(fmt: str) -> str:
    """d3's ``%L`` (milliseconds) read by Python's ``strptime`` as a fraction (``%f``)."""
    return fmt.replace("%L", "%f")


def parse_time(text: str, fmt: str) -> float:
    """Milliseconds since 1970 (UTC) of ``text`` written in the d3/strftime pattern ``fmt``,
    as Label Studio's editor reads the time column (fractions of a second to milliseconds).

    Raises
    ------
    ValueError
        ``text`` does not match ``fmt``.

    Examples
    --------
    >>> parse_time("2019-01-01 00:00:01.500000", "%Y-%m-%d %H:%M:%S.%f")
    1546300801500.0
    """
    dt = datetime.strptime(text.strip(), _python_format(fmt))
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    ms = (dt - _EPOCH) // timedelta(milliseconds=1)
    return float(ms)


def format_time(ms: float, fmt: str) -> str:
    """``ms`` (milliseconds since 1970, UTC) written with ``fmt`` as d3's ``utcFormat`` writes
    it: ``%f`` is the microseconds of a millisecond-precise time (``.500000``), ``%L`` the
    milliseconds (``.500``).

    Examples
    --------
    >>> format_time(1546300801500.0, "%Y-%m-%d %H:%M:%S.%f")
    '2019-01-01 00:00:01.500000'
    """
    dt = _EPOCH + timedelta(milliseconds=int(round(ms)))
    millis = f"{dt.microsecond // 1000:03d}"
    return dt.strftime(fmt.replace("%L", millis.replace("%", "%%")))


def time_of(spec: SeriesSpec, value: Any) -> float | None:
    """A region boundary (``start``/``end`` as stored) on the x axis: milliseconds since 1970
    with a ``timeFormat``, else the number itself; None if it does not read so."""
    if spec.time_format:
        if not isinstance(value, str):
            return None
        try:
            return parse_time(value, spec.time_format)
        except ValueError:
            return None
    return float(value) if is_number(value) else None


# --------------------------------------------------------------------------- the object tag

def _channel_elements(el: Any) -> tuple[list[tuple[Any, int | None]], list[str]]:
    """The ``<Channel>`` tags of a ``<TimeSeries>`` in order, each with the index of the
    ``<MultiChannel>`` holding it (None: a channel of its own), and the problems found."""
    channels: list[tuple[Any, int | None]] = []
    problems = []
    groups = 0
    for child in el:
        if not isinstance(child.tag, str):
            continue  # a comment
        tag = child.tag.lower()
        if tag == _MULTI:
            inner = [c for c in child if isinstance(c.tag, str)]
            for c in inner:
                if c.tag.lower() != _CHILD:
                    problems.append(f"holds <{c.tag}> on line {c.sourceline} inside <MultiChannel>; only <Channel> "
                                    "tags are supported there")
                elif attr(c, "column") is None:
                    problems.append(f'holds a <Channel> on line {c.sourceline} without column="..."')
                else:
                    channels.append((c, groups))
            groups += 1
        elif tag != _CHILD:
            problems.append(f"holds <{child.tag}> on line {child.sourceline}; only <Channel> and <MultiChannel> "
                            "tags are supported inside <TimeSeries>")
        elif attr(child, "column") is None:
            problems.append(f'holds a <Channel> on line {child.sourceline} without column="..."')
        else:
            channels.append((child, None))
    return channels, problems


def _series_attrs(el: Any) -> list[str]:
    problems = []
    value_type = (attr(el, "valueType") or "url").lower()
    if value_type not in ("url", "json"):
        problems.append(f'has valueType="{value_type}"; use "url" (a CSV file) or "json" (columns in the task)')
    sep = attr(el, "sep") or ","
    if len(sep) > 1 and sep not in _SEP_ALIASES:
        problems.append(f'has sep="{sep}"; use one character or one of {", ".join(_SEP_ALIASES)}')
    channels, found = _channel_elements(el)
    problems += found
    if not channels:
        problems.append('has no <Channel column="..."/> inside it to plot')
    return problems


def _series_fields(el: Any) -> dict[str, Any]:
    """The :class:`~labeling.schema.model.SeriesSpec` of the element (validated by the model)."""
    sep = attr(el, "sep") or ","
    overview = attr(el, "overviewChannels") or ""
    time_column = attr(el, "timeColumn")
    return {"series": {
        "value_type": (attr(el, "valueType") or "url").lower(),
        "time_column": time_column.lower() if time_column else None,
        "time_format": attr(el, "timeFormat") if time_column else None,
        "sep": _SEP_ALIASES.get(sep, sep[0]),
        "time_display_format": attr(el, "timeDisplayFormat"),
        "overview_channels": [c.strip().lower() for c in overview.split(",") if c.strip()],
        "channels": [{"column": attr(c, "column").lower(), "legend": attr(c, "legend"), "units": attr(c, "units"),
                      "stroke_color": attr(c, "strokeColor"), "display_format": attr(c, "displayFormat"),
                      "group": group}
                     for c, group in _channel_elements(el)[0]],
    }}


def _columns_of(value: Any) -> dict | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _series_data(spec: Any, key: str, value: Any) -> str | None:
    series = spec.series
    if series.value_type == "url":
        if not isinstance(value, str) or not value.strip():
            return f"data field {key!r} must be the URL of a CSV file (valueType=\"url\"), got {value!r:.80}"
        return None
    columns = _columns_of(value)
    if columns is None:
        return (f"data field {key!r} must be an object of columns like {{\"time\": [...], \"value\": [...]}} "
                f"(valueType=\"json\"), got {type(value).__name__}")
    try:
        read_series(series, columns)
    except SeriesError as exc:
        return f"data field {key!r}: {exc}"
    return None


def _not_a_number(cell: str) -> bool:
    """JavaScript's ``isNaN(cell)`` for a CSV cell (blank is 0; decimal, exponent, hexadecimal,
    octal and binary numbers and ``Infinity`` are numbers), as Label Studio's editor tests it."""
    text = cell.strip()
    return bool(text) and not (_JS_DECIMAL.fullmatch(text) or _JS_RADIX.fullmatch(text))


def _read_csv(text: str, sep: str) -> tuple[dict[str, list[str]], list[str]]:
    """The columns of a CSV file and its column names. As Label Studio's editor
    (``utils/data.js``, ``parseCSV``) tells a header from data: the first row is a header when
    some column is a number in one of the first two rows and not in the other; otherwise every
    row is data and the columns are named by their index, ``"0"``, ``"1"``..."""
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    first = next(rows, None)
    if not first:
        raise SeriesError("the CSV file is empty")
    second = next(rows, None)
    headless = second is not None and len(second) == len(first) and all(
        _not_a_number(a) == _not_a_number(b) for a, b in zip(first, second, strict=True))
    names = [str(i) for i in range(len(first))] if headless else [h.strip().lower() for h in first]
    columns: dict[str, list[str]] = {n: [] for n in names}
    data = [first, second] if headless else [second]
    for n, row in enumerate(itertools.chain((r for r in data if r is not None), rows), start=1 if headless else 2):
        if not row:
            continue
        if len(row) != len(names):
            raise SeriesError(f"CSV row {n} has {len(row)} fields; "
                              f"{'the first row' if headless else 'the header'} has {len(names)}")
        if n > MAX_SERIES_ROWS + (0 if headless else 1):
            raise SeriesError(f"the CSV file has more than {MAX_SERIES_ROWS:,} rows")
        for name, cell in zip(names, row, strict=True):
            columns[name].append(cell)
    return columns, names


def _number(cell: Any) -> float | None:
    if is_number(cell):
        return float(cell)
    if isinstance(cell, str):
        try:
            x = float(cell)
        except ValueError:
            return None
        return x if math.isfinite(x) else None
    return None


def _stored(x: float) -> int | float:
    """A number as Label Studio's editor writes it in JSON (``3`` rather than ``3.0``)."""
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def read_series(spec: SeriesSpec, payload: Any) -> dict[str, Any]:
    """The series a ``<TimeSeries>`` plots, read from its data.

    Parameters
    ----------
    spec : SeriesSpec
        The object's attributes.
    payload : str, bytes or dict
        The CSV (or JSON) text of a file, or the columns of an inline ``valueType="json"``.

    Returns
    -------
    dict
        ``{"x": [...], "keys": [...], "channels": {column: [...]}}``: ``x`` the time axis as
        numbers (milliseconds since 1970 with a ``timeFormat``), ``keys`` the same points as a
        region's ``start``/``end`` stores them, each channel's values (None where a cell is no
        number).

    Raises
    ------
    SeriesError
        Too large, a channel or the time column missing, columns of unequal length, a time
        that does not match ``timeFormat``, a time column not sorted.
    """
    headers: list[str] = []  # a CSV file's column names
    if isinstance(payload, bytes):
        if len(payload) > MAX_SERIES_BYTES:
            raise SeriesError(f"the file holds more than {MAX_SERIES_BYTES // 1024 // 1024} MiB")
        payload = payload.decode("utf-8-sig", errors="replace")
    if isinstance(payload, str):
        if len(payload) > MAX_SERIES_BYTES:
            raise SeriesError(f"the file holds more than {MAX_SERIES_BYTES // 1024 // 1024} MiB")
        columns = _columns_of(payload) if payload.lstrip().startswith("{") else None
        if columns is None:
            columns, headers = _read_csv(payload, spec.sep)
    elif isinstance(payload, dict):
        columns = payload
    else:
        raise SeriesError(f"expected CSV text or an object of columns, got {type(payload).__name__}")
    columns = {str(k).lower(): v for k, v in columns.items()}
    # a channel's column given as an index names the CSV's column there (Label Studio's
    # Channel.columnName); the time column is matched by name only, as its editor does
    where = {c.column: headers[int(c.column)] if c.column.isdigit() and int(c.column) < len(headers) else c.column
             for c in spec.channels}
    needed = list(dict.fromkeys(where.values())) + ([spec.time_column] if spec.time_column else [])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise SeriesError(f"no column {', '.join(map(repr, missing))} (columns: {', '.join(map(repr, columns))})")
    lengths = {c: len(columns[c]) if isinstance(columns[c], list) else -1 for c in needed}
    if any(n < 0 for n in lengths.values()):
        raise SeriesError(f"column {next(c for c, n in lengths.items() if n < 0)!r} is not a list of values")
    if len(set(lengths.values())) > 1:
        raise SeriesError(f"columns differ in length: {lengths}")
    rows = next(iter(lengths.values()))
    if rows > MAX_SERIES_ROWS:
        raise SeriesError(f"{rows:,} rows; the limit is {MAX_SERIES_ROWS:,}")
    if spec.time_column is None:
        x = [float(i) for i in range(rows)]
        keys: list[Any] = list(range(rows))
    elif spec.time_format:
        x = []
        for n, cell in enumerate(columns[spec.time_column]):
            try:
                x.append(parse_time(str(cell), spec.time_format))
            except ValueError:
                raise SeriesError(f"time {cell!r} (row {n + 1}) does not match timeFormat {spec.time_format!r}") from None
        keys = [format_time(t, spec.time_format) for t in x]
    else:
        x = []
        for n, cell in enumerate(columns[spec.time_column]):
            t = _number(cell)
            if t is None:
                raise SeriesError(f"time {cell!r} (row {n + 1}) is not a number; a time column of dates "
                                  "needs timeFormat")
            x.append(t)
        keys = [_stored(t) for t in x]
    for n in range(1, len(x)):
        if x[n] < x[n - 1]:
            raise SeriesError(f"the time column {spec.time_column!r} is not sorted (row {n + 1})")
    return {"x": x, "keys": keys,
            "channels": {c.column: [_number(v) for v in columns[where[c.column]]] for c in spec.channels}}


def sample_series(spec: SeriesSpec, *, rows: int = 60) -> dict[str, Any]:
    """A made-up series of ``rows`` points for a config's preview (no task yet): a wave per
    channel, times one second apart from 2024-01-01 (written with ``timeFormat``), read as a
    task's would be (:func:`read_series`), so that a preview's regions store what a task's do."""
    columns: dict[str, list[Any]] = {}
    if spec.time_column:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        columns[spec.time_column] = ([format_time((start - _EPOCH) / timedelta(milliseconds=1) + 1000 * i,
                                                  spec.time_format) for i in range(rows)]
                                     if spec.time_format else list(range(rows)))
    for n, channel in enumerate(spec.channels):
        columns[channel.column] = [round(math.sin(i / 6 + n) * 10, 3) for i in range(rows)]
    return read_series(spec, columns)


TIMESERIES = ObjectTag(name="TimeSeries", check_data=lambda key, value: None, check_attrs=_series_attrs,
                       check_spec_data=_series_data, spec_fields=_series_fields, children=(_CHILD, _MULTI))
OBJECT_TAGS = (TIMESERIES,)


# --------------------------------------------------------------------------- the control tag

def _check_range(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    spec = control.series
    start, end = value.get("start"), value.get("end")
    instant = value.get("instant", False)
    if not isinstance(instant, bool):
        return [f"{where}: value.instant must be true or false, got {instant!r}"]
    if spec is not None and spec.time_format:
        t0, t1 = time_of(spec, start), time_of(spec, end)
        if t0 is None or t1 is None:
            return [f"{where}: value.start and value.end must be times written as {spec.time_format!r}, "
                    f"got start={start!r}, end={end!r}"]
    else:
        if not (is_number(start) and is_number(end)):
            return [f"{where}: value.start and value.end must be numbers (the time column's units or row "
                    f"indices), got start={start!r}, end={end!r}"]
        t0, t1 = float(start), float(end)
    if t0 > t1:
        return [f"{where}: value.start {start!r} comes after value.end {end!r}"]
    if instant and t0 != t1:
        return [f"{where}: an instant event has start == end, got start={start!r}, end={end!r}"]
    return []


def _range_text(value: dict) -> str:
    labels = " ".join(map(str, value.get("timeserieslabels") or []))
    at = (f"@{value.get('start')}" if value.get("instant")
          else f"{value.get('start')}..{value.get('end')}")
    return f"{labels} {at}".strip()


TIMESERIESLABELS = ControlTag(name="TimeSeriesLabels", result_type="timeserieslabels", targets=("TimeSeries",),
                              label_tag="Label", check_item=_check_range, text=_range_text, region=True,
                              kind=lambda control: "timeseries")
CONTROL_TAGS = (TIMESERIESLABELS,)
