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

A JSON Lines file of at least :data:`ENCODE_MIN_BYTES` on disk can be read by worker processes
(:meth:`StreamedFile.encode_plain`, which the importer calls on PostgreSQL when every row it
could take plainly is text data): the file is cut into blocks of whole lines
(:data:`BLOCK_BYTES`), a few blocks ahead of the importer are read by the workers
(:func:`labeling.copyrows.encode_block`), and a block whose every line is a plain row comes out
as one :class:`EncodedRows`, its rows as COPY text, in the file's order among the other rows;
any other block is read here as above, line by line, and its rows come out as items (``RawItem``).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from labeling.copyrows import BOM, PlainRows, encode_block, ignore_interrupts
from labeling.imports.formats import (
    RawItem,
    RowErrors,
    _items_from_objects,
    file_error,
    gc_paused,
)

__all__ = ["BLOCK_BYTES", "CHUNK_ROWS", "ENCODE_AHEAD", "ENCODE_MIN_BYTES", "EncodedRows", "StreamedFile",
           "encoder_pool", "stream_kind"]

#: Rows read (and handed to the importer) per chunk.
CHUNK_ROWS = 10_000
#: A JSON Lines file at least this large is read by worker processes when the import allows it.
ENCODE_MIN_BYTES = 8 << 20
#: Bytes of whole lines per block a worker reads (the last line of a block runs past it).
BLOCK_BYTES = 4 << 20
#: Rows per COPY statement of an encoded block.
COPY_PIECE_ROWS = 10_000
#: Worker processes that read a file's blocks: one core of the machine is the database's (an
#: import is one transaction, so one backend), and one worker encodes several times faster
#: than that backend writes; the importer's own process mostly waits for the database.
ENCODE_WORKERS = max(1, min(2, (os.cpu_count() or 2) - 1))
#: Blocks read ahead of the importer (each a few MB of lines and their COPY text in memory).
ENCODE_AHEAD = ENCODE_WORKERS + 2
_BOM = BOM
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


@dataclass(slots=True)
class EncodedRows:
    """Plain rows of a streamed file that a worker encoded: ``n`` rows as COPY text of the
    columns ``data`` and ``content_hash`` (:func:`labeling.copyrows.encode_block`), in
    ``pieces`` of at most :data:`COPY_PIECE_ROWS` rows. It passes the steps of the importer
    that look at files and images untouched (it holds none)."""

    n: int
    pieces: list[bytes]
    file_name: str
    image_bytes = None
    image_path = None
    label = None
    is_image = False


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

    @property
    def encodable(self) -> bool:
        """Whether worker processes may read the file (:meth:`encode_plain`): a JSON Lines file
        on disk of at least :data:`ENCODE_MIN_BYTES`."""
        return self.kind == "jsonl" and self.path is not None and self.path.stat().st_size >= ENCODE_MIN_BYTES

    def encode_plain(self, rules: PlainRows, workers: Executor, ahead: int) -> None:
        """Have ``workers`` (processes) read the file, ``ahead`` blocks ahead of the importer:
        its plain rows (``rules``) then come out as :class:`EncodedRows` (see the module's
        docstring). Only for an :attr:`encodable` file."""
        if not self.encodable:
            raise ValueError(f"{self.name} is not read by workers")
        self._encoder = (rules, workers, max(ahead, 1))

    _encoder: tuple[PlainRows, Executor, int] | None = None

    def __iter__(self) -> Iterator[RawItem | EncodedRows]:
        if self._encoder is not None:
            yield from self._blocks_encoded(*self._encoder)
            return
        chunks = self._parquet_chunks() if self.kind == "parquet" else self._jsonl_chunks()
        seen = False
        for items in self._items(chunks):
            seen = seen or bool(items)
            yield from items
        if not seen:
            raise file_error(self.name, "contains no tasks", f"{self.name} contains no tasks")

    def _items(self, chunks: Iterable[list[tuple[int, Any]]]) -> Iterator[list[RawItem]]:
        for objs in chunks:
            errors = RowErrors()
            with gc_paused():
                items = _items_from_objects(objs, self.name, self.name, errors)
            errors.raise_if_any()
            yield items

    def _blocks_encoded(self, rules: PlainRows, workers: Executor, ahead: int) -> Iterator[RawItem | EncodedRows]:
        """The rows, a block of whole lines at a time, the blocks read by ``workers``."""
        path = str(self.path.resolve())  # type: ignore[union-attr]
        blocks = _blocks(self.path)  # type: ignore[arg-type]
        running: deque = deque()

        def submit() -> None:
            block = next(blocks, None)
            if block is not None:
                running.append((block, workers.submit(encode_block, rules, path, *block, COPY_PIECE_ROWS)))

        for _ in range(ahead):
            submit()
        line = 1  # the first line of the next block
        seen = False
        while running:
            (offset, length), future = running.popleft()
            submit()
            newlines, n, pieces = future.result()
            if pieces is not None:
                if n:
                    seen = True
                    yield EncodedRows(n, pieces, self.name)
            else:  # a line that is not a plain row: the block's lines as any other
                with self._open() as fh:
                    fh.seek(offset)
                    lines = enumerate(io.BytesIO(fh.read(length)), line)
                for items in self._items(self._jsonl_chunks(lines)):
                    seen = seen or bool(items)
                    yield from items
            line += newlines
        if not seen:
            raise file_error(self.name, "contains no tasks", f"{self.name} contains no tasks")

    def _jsonl_chunks(self, lines: Iterable[tuple[int, bytes]] | None = None) -> Iterator[list[tuple[int, Any]]]:
        """Decoded lines, ``(line number, value)``, :data:`CHUNK_ROWS` at a time: of the whole
        file, or of ``lines`` (numbered lines of one block)."""
        if lines is None:
            with self._open() as fh:
                yield from self._jsonl_chunks(enumerate(fh, 1))
            return
        errors = RowErrors()
        objs: list[tuple[int, Any]] = []
        loads = _DECODER.decode  # one decoder: json.loads with an option makes one per call
        for lineno, raw in lines:
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


@contextlib.contextmanager
def encoder_pool() -> Iterator[Executor]:
    """Worker processes for :meth:`StreamedFile.encode_plain`, stopped when the block ends
    (blocks not yet begun are cancelled). They are forked from multiprocessing's fork server,
    a fresh process that has imported only :mod:`labeling.copyrows`: none of the importer's
    threads, connections or modules are copied into them."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["labeling.copyrows"])
    pool = ProcessPoolExecutor(max_workers=ENCODE_WORKERS, mp_context=ctx, initializer=ignore_interrupts)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _blocks(path: Path) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of the blocks of whole lines of a file, :data:`BLOCK_BYTES` each but
    the line that runs past that (found by reading to the next newline, not the whole block)."""
    size = path.stat().st_size
    start = 0
    with open(path, "rb") as fh:
        while start < size:
            end = start + BLOCK_BYTES
            if end < size:
                fh.seek(end - 1)
                fh.readline()
                end = fh.tell()
            end = min(end, size)
            yield start, end - start
            start = end


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
