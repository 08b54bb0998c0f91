"""Bounds on what people send: JSON depth, text that cannot be stored, sizes, whole numbers.

Every input has a bound (size, depth, count, number range) and gets a clear 4xx, never a 500
(ARCHITECTURE.md, "labeling/ — the domain": ``limits``). The checks the REST API, the pages
and the importer share live here; the bounds themselves are settings (``labeling.settings``).

A *lone surrogate* (``"\\ud800"`` in JSON) is a str Python holds but neither UTF-8, SQLite nor
PostgreSQL can store: text that holds one is refused wherever it comes in.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from labeling.errors import Invalid
from labeling.settings import get_settings

__all__ = [
    "MAX_ID",
    "MAX_INT",
    "bounded_int",
    "check_import_row",
    "check_text",
    "has_lone_surrogate",
    "is_id",
    "json_problem",
    "loads",
    "task_data_problem",
]

#: The largest whole number SQL stores (BIGINT): offsets of pages stay below it.
MAX_INT = 2**63 - 1
#: The largest id (and version number): the columns are SQL INTEGER, 32 bits on PostgreSQL.
MAX_ID = 2**31 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_SCALARS = (int, float, bool, type(None))
_NUL_PROBLEM = "holds a NUL character (\\u0000), which task data cannot hold (PostgreSQL's jsonb, which indexes it, refuses it)"


def _err(field: str | None, detail: str) -> list[dict[str, Any]]:
    return [{"row": None, "field": field, "detail": detail}]


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a surrogate code point (which no UTF-8 text can)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _number_problem(value: Any) -> str | None:
    """Why a JSON number cannot be taken: a whole number past BIGINT (no field takes one, and
    it would fail later, made a float or bound to a column), or a float that overflowed."""
    if type(value) is int and not -MAX_INT <= value <= MAX_INT:
        return f"is out of range (whole numbers go up to {MAX_INT})"
    if type(value) is float and not math.isfinite(value):
        return "is out of range (too large for a number)"
    return None


def _path(parts: tuple) -> str:
    """``((None, "data"), "text")`` (a linked list of keys) -> ``"data.text"``."""
    keys = []
    while parts:
        parts, key = parts
        keys.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "".join(reversed(keys)).lstrip(".") or "(top level)"


def json_problem(value: Any, *, max_depth: int | None = None, max_chars: int | None = None,
                 numbers: bool = True, nul: bool = False) -> str | None:
    """The first reason parsed JSON cannot be taken, or None.

    Parameters
    ----------
    value : Any
        Parsed JSON (dicts, lists, str, numbers, bool, None).
    max_depth : int, optional
        Most nesting of objects and lists (default: the ``max_json_depth`` setting).
    max_chars : int, optional
        Most characters of text (keys and strings; a number or constant counts as 8).
    numbers : bool
        Check numbers too (whole numbers within BIGINT, floats finite); the importer checks
        its numbers itself, with messages of its own.
    nul : bool
        Refuse text (keys and strings) holding a NUL character, U+0000: task data, which
        PostgreSQL indexes as ``jsonb`` (``ix_task_data_gin``), whose text cannot hold one.

    Returns
    -------
    str or None
        A sentence naming the place (``data.text``): too deep, too large, a lone surrogate, a
        number out of range.
    """
    if max_depth is None:
        max_depth = get_settings().max_json_depth
    size = 0
    # (container, its depth, its path as a linked list of keys): no recursion at any depth
    stack: list[tuple[Any, int, tuple]] = [(value, 0, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            size += len(node)
            if has_lone_surrogate(node):
                return f"{_path(path)} holds a lone surrogate (like \\ud800), which is not text"
            if nul and "\x00" in node:
                return f"{_path(path)} {_NUL_PROBLEM}"
            continue
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            size += 8
            if numbers and (problem := _number_problem(node)) is not None:
                return f"{_path(path)} {problem}"
            continue
        depth += 1
        if depth > max_depth:
            return f"{_path(path)} is nested more than {max_depth} levels deep"
        for key, child in items:
            if isinstance(key, str):
                size += len(key)
                if has_lone_surrogate(key):
                    return f"a key of {_path(path)} holds a lone surrogate (like \\ud800), which is not text"
                if nul and "\x00" in key:
                    return f"a key of {_path(path)} {_NUL_PROBLEM}"
            if isinstance(child, str):
                size += len(child)
                if not child.isascii() and _SURROGATE.search(child):
                    return f"{_path((path, key))} holds a lone surrogate (like \\ud800), which is not text"
                if nul and "\x00" in child:
                    return f"{_path((path, key))} {_NUL_PROBLEM}"
            elif isinstance(child, _SCALARS):
                size += 8
                if numbers and (problem := _number_problem(child)) is not None:
                    return f"{_path((path, key))} {problem}"
            else:
                stack.append((child, depth, (path, key)))
        if max_chars is not None and size > max_chars:
            break
    if max_chars is not None and size > max_chars:
        return f"is larger than the limit of {max_chars:,} characters"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def is_id(text: str) -> bool:
    """``text`` is an id: ASCII digits, at most :data:`MAX_ID` (``"²".isdigit()`` is true)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_ID


def loads(text: str | bytes, *, what: str = "the request body", field: str | None = None) -> Any:
    """Parse JSON strictly: no NaN or Infinity, nesting bounded, no lone surrogates.

    Parameters
    ----------
    text : str or bytes
        The JSON text (bytes are UTF-8).
    what : str
        How messages name it ("the request body", "sample task data").
    field : str, optional
        The field the error rows name.

    Raises
    ------
    ValueError
        Not JSON at all (callers keep their own answer for that).
    Invalid
        JSON, but too deep, holding NaN/Infinity or a lone surrogate: 422 naming the place.
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        problem = f"is nested more than {get_settings().max_json_depth} levels deep"
    except ValueError as exc:
        if "is not valid JSON" not in str(exc):
            raise
        problem = f"holds {exc}"
    else:
        problem = json_problem(value)
        if problem is None:
            return value
    detail = f"{what} {problem}" if problem.startswith(("is ", "holds ")) else f"{what}: {problem}"
    raise Invalid(detail, _err(field, detail))


def check_text(value: str | None, field: str, *, max_chars: int | None = None) -> str | None:
    """``value`` unless it holds a lone surrogate or is longer than ``max_chars`` (422 naming
    ``field``); None passes."""
    if value is None:
        return None
    if has_lone_surrogate(value):
        raise Invalid(f"{field} holds a lone surrogate (like \\ud800), which is not text",
                      _err(field, "not valid Unicode text"))
    if max_chars is not None and len(value) > max_chars:
        raise Invalid(f"{field} is {len(value):,} characters long; the limit is {max_chars:,}",
                      _err(field, f"longer than {max_chars:,} characters"))
    return value


def bounded_int(raw: str, name: str, *, minimum: int = -MAX_ID, maximum: int = MAX_ID) -> int:
    """The whole number ``raw`` (ASCII digits, an optional sign), between ``minimum`` and
    ``maximum`` (by default what an id column holds); 422 naming ``name`` otherwise. The text
    is bounded before it is converted."""
    text = raw.strip()
    sign = "-" if text[:1] == "-" else ""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise Invalid(f"{name} must be a whole number, got {raw[:40]!r}", _err(name, "not a number"))
    digits = digits.lstrip("0") or "0"
    value = int(sign + digits) if len(digits) <= 19 else None
    if value is None or not minimum <= value <= maximum:
        shown = raw.strip() if len(raw.strip()) <= 40 else raw.strip()[:20] + "..."
        raise Invalid(f"{name}={shown} is out of range ({minimum} to {maximum})",
                      _err(name, f"must be between {minimum} and {maximum}"))
    return value


def task_data_problem(data: dict) -> str | None:
    """Why a task's data is refused (too many fields, too large, too deep, not text, a NUL
    character), or None."""
    st = get_settings()
    if len(data) > st.max_task_fields:
        return (f"has {len(data):,} fields; the limit is {st.max_task_fields:,} "
                "(LABELFAB_MAX_TASK_FIELDS)")
    limit = st.max_task_data_kb * 1024
    size = 0
    for key, value in data.items():  # the common row: text fields, checked without the walk
        if (type(value) is not str or type(key) is not str or not (value.isascii() and key.isascii())
                or "\x00" in value or "\x00" in key):
            break
        size += len(key) + len(value)
    else:
        if size <= limit:
            return None
    problem = json_problem(data, max_chars=limit, numbers=False, nul=True)
    if problem is not None and "larger than the limit" in problem:
        return (f"is larger than the limit of {st.max_task_data_kb:,} KiB of text per task "
                "(LABELFAB_MAX_TASK_DATA_KB)")
    return problem


def check_import_row(item: Any, fail: Any, index: int) -> dict:
    """Check one imported row's data, meta, annotations and predictions against the bounds.

    Parameters
    ----------
    item : labeling.imports.formats.RawItem
        The row. A part refused for its depth or a lone surrogate is replaced in place (data by
        a shallow copy with U+FFFD for surrogates, the others by an empty value), so that the
        row's other checks, which report its other problems, can run.
    fail : callable
        ``fail(index, item, field, detail)``, the importer's way to refuse a row.
    index : int
        The row's index, handed to ``fail``.

    Returns
    -------
    dict
        The row's data (``item.data``).
    """
    problem = task_data_problem(item.data) if item.data else None
    if problem is not None:
        fail(index, item, "data", f"task data {problem}" if problem.startswith(("has ", "is "))
             else f"task data: {problem}")
        if "surrogate" in problem or "nested" in problem:
            item.data = {_SURROGATE.sub("\ufffd", k): _shallow(v) for k, v in item.data.items()}
    for name in ("meta", "annotations", "predictions", "gold_answer"):
        value = getattr(item, name)
        other = json_problem(value, numbers=False) if value else None
        if other is not None:
            fail(index, item, name, f"{name}: {other}")
            setattr(item, name, type(value)() if isinstance(value, dict | list) else None)
    return item.data


def _shallow(value: Any) -> Any:
    """A value of task data that the importer's other checks can read without harm."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    return value if json_problem(value, numbers=False) is None else None
