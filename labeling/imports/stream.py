"""Streamed files: JSON Lines read line by line and Parquet read by row groups (constant memory).

A streamed file is never held in memory: its rows come out a chunk at a time as the importer
consumes them, and the importer writes each chunk into the import's one transaction
(:func:`labeling.imports.service.import_data`; ARCHITECTURE.md, "Imports at scale").

- JSON Lines (``.jsonl``, ``.ndjson``): one task or flat object per line, as
  :mod:`labeling.imports.formats` reads it, a UTF-8 BOM allowed on the first line.
- Parquet (``.parquet``, or a file starting with ``PAR1``), read with pyarrow by record batches:
  a row with a struct column ``data`` is a Label Studio task (``data``, and ``annotations``,
  ``predictions``, ``meta`` when those columns exist); any other row is a flat object whose
  columns become the task's data (nulls left out).

A malformed line (or row) stops the import at the chunk that holds it, naming every problem of
that chunk by line; nothing is written (the transaction is rolled back). Because the rest of the
file is not read first, the count of problems is that of the rows read so far.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from labeling.imports.formats import (
    RawItem,
    RowErrors,
    _items_from_objects,
    file_error,
    gc_paused,
)

__all__ = ["CHUNK_ROWS", "StreamedFile", "stream_kind"]

#: Rows read (and handed to the importer) per chunk.
CHUNK_ROWS = 10_000
_BOM = b"\xef\xbb\xbf"
_PARQUET_MAGIC = b"PAR1"


def stream_kind(name: str, head: bytes) -> str | None:
    """``"jsonl"`` or ``"parquet"`` when the file is read as a stream, else None."""
    ext = os.path.splitext(name)[1].lower()
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".parquet" or head.startswith(_PARQUET_MAGIC):
        return "parquet"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StreamedFile:
    """The rows of one JSON Lines or Parquet file on disk, read a chunk at a time.

    Parameters
    ----------
    path : Path, optional
        The file on disk.
    data : bytes, optional
        Or its bytes (a small upload held in memory); exactly one of ``path`` and ``data``.
    name : str
        The name shown in messages and recorded as the tasks' ``file_name``.
    kind : str
        ``"jsonl"`` or ``"parquet"`` (:func:`stream_kind`).

    Attributes
    ----------
    total : int
        The number of rows: Parquet's metadata, or the lines of a JSON Lines file (blank lines
        included, so an upper bound there); used for the import's progress.
    """

    def __init__(self, name: str, kind: str, *, path: Path | None = None, data: bytes | None = None):
        if (path is None) == (data is None):
            raise ValueError("StreamedFile needs exactly one of path and data")
        self.path = Path(path) if path is not None else None
        self.data = data
        self.name = name
        self.kind = kind
        size = len(data) if data is not None else self.path.stat().st_size
        if size == 0:
            raise file_error(name, "is empty", f"{name} is empty")
        if kind == "parquet":
            pq = _parquet()
            try:
                with self._open() as fh:
                    meta = pq.ParquetFile(fh).metadata
            except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError kinds
                raise file_error(name, f"not a valid Parquet file ({exc})") from exc
            self.total = meta.num_rows
        else:
            with self._open() as fh:
                self.total = _count_lines(fh)
        if self.total == 0:
            raise file_error(name, "contains no tasks", f"{name} contains no tasks")

    def _open(self) -> BinaryIO:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[RawItem]:
        chunks = self._parquet_chunks() if self.kind == "parquet" else self._jsonl_chunks()
        seen = False
        for objs in chunks:
            errors = RowErrors()
            with gc_paused():
                items = _items_from_objects(objs, self.name, self.name, errors)
            errors.raise_if_any()
            seen = seen or bool(items)
            yield from items
        if not seen:
            raise file_error(self.name, "contains no tasks", f"{self.name} contains no tasks")

    def _jsonl_chunks(self) -> Iterator[list[tuple[int, Any]]]:
        errors = RowErrors()
        objs: list[tuple[int, Any]] = []
        loads = _DECODER.decode  # one decoder: json.loads with an option makes one per call
        with self._open() as fh:
            for lineno, raw in enumerate(fh, 1):
                if lineno == 1 and raw.startswith(_BOM):
                    raw = raw[3:]
                if raw.isspace() or not raw:
                    continue
                try:
                    objs.append((lineno, loads(raw.decode("utf-8"))))
                except UnicodeDecodeError as exc:
                    errors.add(lineno, self.name, None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
                except json.JSONDecodeError as exc:
                    errors.add(lineno, self.name, None, f"invalid JSON at column {exc.colno}: {exc.msg}")
                except ValueError as exc:
                    errors.add(lineno, self.name, None, f"invalid JSON: {exc}")
                except RecursionError:
                    errors.add(lineno, self.name, None, "invalid JSON: nested too deeply")
                if len(objs) >= CHUNK_ROWS or (errors.total and lineno % CHUNK_ROWS == 0):
                    errors.raise_if_any()
                    yield objs
                    objs = []
        errors.raise_if_any()
        if objs:
            yield objs

    def _parquet_chunks(self) -> Iterator[list[tuple[int, Any]]]:
        with self._open() as fh:
            yield from self._parquet_rows(fh)

    def _parquet_rows(self, fh: BinaryIO) -> Iterator[list[tuple[int, Any]]]:
        pq = _parquet()
        try:
            pf = pq.ParquetFile(fh)
        except Exception as exc:
            raise file_error(self.name, f"not a valid Parquet file ({exc})") from exc
        task_form = "data" in pf.schema_arrow.names
        row = 0
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
            objs: list[tuple[int, Any]] = []
            for rec in batch.to_pylist():
                row += 1
                if task_form:
                    obj = {k: v for k, v in rec.items() if v is not None}
                    if "data" in obj and type(obj["data"]) is dict:
                        obj["data"] = {k: v for k, v in obj["data"].items() if v is not None}
                else:
                    obj = {k: v for k, v in rec.items() if v is not None}
                objs.append((row, obj))
            yield objs


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _count_lines(fh: BinaryIO) -> int:
    n = 0
    last = b"\n"
    while block := fh.read(1 << 22):
        n += block.count(b"\n")
        last = block[-1:]
    return n + (last != b"\n")


def _parquet():
    import pyarrow.parquet as pq

    return pq
