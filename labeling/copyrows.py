"""PostgreSQL's COPY text format, and the plain task rows of a JSON Lines file encoded in it by
worker processes.

:func:`copy_text` writes one value in COPY's text format (:class:`labeling.bulkwrite.BulkWriter`
joins a row's values with it). :func:`encode_block` is what a streamed import of a large JSON
Lines file on PostgreSQL hands to worker processes (:mod:`labeling.imports.stream`;
ARCHITECTURE.md, "Imports at scale"): a block of the file's lines, read from disk by the
worker, comes back as COPY text of the tasks' data (canonical JSON) and content hashes when
every line of it is a *plain* row (:class:`PlainRows` says what that is for one import), or as
``None`` when one line is anything else. The importer then reads that block itself through its
usual checks, which name each problem by line: a worker never decides that a row is wrong,
only that the usual checks would find nothing to say about it and what they would store.

So the JSON decoding, the checks, the canonical JSON, the hashes and the COPY text of most rows
run outside the importer's process, while its one connection keeps the database busy. The
module imports little, so that a worker starts in a fraction of a second.
"""

from __future__ import annotations

import json
import re
import signal
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labeling.canonical import dumps, sha256_text

__all__ = ["BOM", "PlainRows", "copy_text", "encode_block", "ignore_interrupts"]

BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SCALARS = (int, float, bool, type(None))


def copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (``\\N`` for NULL; backslash, tab, newline and
    carriage return escaped). Built here rather than by the driver's per-row adaptation: a
    row is one join of strings, which makes COPY's client side several times cheaper."""
    t = type(value)
    if t is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return value
    if value is None:
        return "\\N"
    if t is bool:
        return "t" if value else "f"
    if t is int or t is float:
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"no COPY text for {t.__name__}")


@dataclass(frozen=True)
class PlainRows:
    """What a plain row is for one import: a task the importer's checks pass without a word and
    stores as a row of text data with nothing else (``imports.bulk``'s plain rows).

    Such a line is a JSON object, either flat (every key task data) or a Label Studio task
    whose ``data`` is an object and which has no annotations, predictions, ``meta``, gold flag
    or gold answer; its data is one level of keys whose values are text (no NUL character, no
    lone surrogate) or JSON scalars, within ``max_fields`` fields and ``max_chars`` characters
    counted as :func:`labeling.limits.json_problem` counts them; every one of ``text_keys``
    holds text; no ``embedding``. Anything else is left to the importer.

    Attributes
    ----------
    text_keys : tuple of str
        The data keys of the label config's ``<Text>`` objects (a config with other objects
        has no plain rows: the importer checks those itself).
    max_fields, max_chars : int
        The settings ``max_task_fields`` and ``max_task_data_kb`` (in characters).
    """

    text_keys: tuple[str, ...]
    max_fields: int
    max_chars: int

    def data_of(self, obj: Any) -> dict | None:
        """The task data of a plain row decoded from one line, or None if it is not one."""
        if type(obj) is not dict:
            return None
        if "data" in obj:
            data = obj["data"]
            for key in ("annotations", "predictions"):
                value = obj.get(key)
                if value is not None and not (type(value) is list and not value):
                    return None
            meta = obj.get("meta")
            if meta is not None and not (type(meta) is dict and not meta):
                return None
            gold = obj.get("is_gold")
            if (gold is not None and gold is not False) or obj.get("gold_answer") is not None:
                return None
        else:
            data = obj
        if type(data) is not dict or not data or len(data) > self.max_fields or "embedding" in data:
            return None
        size = 0
        for key, value in data.items():
            if not _text_ok(key):
                return None
            if type(value) is str:
                if not _text_ok(value):
                    return None
                size += len(key) + len(value)
            elif isinstance(value, _SCALARS):
                size += len(key) + 8
            else:
                return None
        if size > self.max_chars:
            return None
        for key in self.text_keys:
            if type(data.get(key)) is not str:
                return None
        return data


def _text_ok(text: Any) -> bool:
    return (
        type(text) is str
        and "\x00" not in text
        and (text.isascii() or _SURROGATE.search(text) is None)
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # as the importer reads a line


def encode_block(
    rules: PlainRows, path: str, offset: int, length: int, rows_per_piece: int
) -> tuple[int, int, list[bytes] | None]:
    """Encode one block of a JSON Lines file (run in a worker process).

    Parameters
    ----------
    rules : PlainRows
        What a plain row is for this import.
    path : str
        The file (absolute path).
    offset, length : int
        The block: whole lines (``offset`` is 0 or just after a newline).
    rows_per_piece : int
        Rows per piece of COPY text (each piece is one COPY statement).

    Returns
    -------
    tuple
        ``(newlines, rows, pieces)``: the newlines in the block (its lines but a last one
        without a newline: the next block's first line number follows from it), the rows (lines
        that are not blank) and the pieces of COPY text, each row ``data<TAB>content_hash``
        and a newline, or None when a line is not a plain row.
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        buf = fh.read(length)
    newlines = buf.count(b"\n")
    if offset == 0 and buf.startswith(BOM):
        buf = buf[3:]
    decode, data_of, escape, digest = _DECODER.decode, rules.data_of, copy_text, sha256_text
    pieces: list[bytes] = []
    out: list[str] = []
    rows = 0
    for raw in buf.split(b"\n"):
        if not raw or raw.isspace():
            continue
        # not UTF-8 or not JSON (UnicodeDecodeError is a ValueError), or too deep
        try:
            data = data_of(decode(raw.decode("utf-8")))
        except (ValueError, RecursionError):
            return newlines, 0, None
        if data is None:
            return newlines, 0, None
        try:
            text = dumps(data)
        except (ValueError, TypeError):  # a float out of range ("1e999")
            return newlines, 0, None
        out.append(f"{escape(text)}\t{digest(text)}\n")
        rows += 1
        if len(out) >= rows_per_piece:
            pieces.append("".join(out).encode("utf-8"))
            out = []
    if out:
        pieces.append("".join(out).encode("utf-8"))
    return newlines, rows, pieces


def ignore_interrupts() -> None:
    """A worker's initializer: Ctrl-C is the importer's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
