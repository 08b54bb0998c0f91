"""Reading what one file holds: JSON, JSON Lines, CSV, TSV, TXT, an image (pure: no database).

Accepted inputs
---------------
- Label Studio JSON task lists: ``[{"data": {...}, "annotations": [...], "predictions":
  [...], "meta": {...}}]`` (plus labelfab's ``"is_gold"`` and ``"gold_answer"``, which the
  importer checks: a gold task and its answer); a list of flat objects ``[{"text": "..."}]`` (each becomes the
  ``data`` of a task); a single object with a ``"data"`` key (one task).
- JSON Lines (``.jsonl``, ``.ndjson``, or a ``.json`` file holding one object per line) of
  flat objects or tasks.
- CSV / TSV with a header row, UTF-8 (a BOM is allowed); every value is a string.
- TXT: one text per non-blank line, as ``{"text": line}``.
- Single images (PNG, JPEG, WebP, GIF, TIFF, BMP): an item carrying the bytes.

Uploads, zip archives and folders are opened by :mod:`labeling.imports.sources`, which hands
each file to :func:`parse_text` (or makes an image item).

Everything is checked before the first item is produced: a malformed file raises
:class:`ImportFormatError` listing ``{"row", "file", "field", "detail"}`` entries, so a caller
can refuse the whole import without storing anything. Image items are produced lazily (a zip
member is read when its item is reached, a folder's image is only referenced by path), and
their pixels are validated later by :func:`labeling.media.load_image`.

Row numbers, 1-based: position in a JSON list; line number in JSON Lines, TXT and CSV/TSV
(the CSV header is line 1, as a spreadsheet shows it); position among the files of a zip or
folder for images.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeling.errors import DomainError, Invalid, TooLarge
from labeling.media import IMAGE_EXTENSIONS, looks_like_svg, sniff_image_format
from labeling.media_info import AV_EXTENSIONS, is_av_name, sniff_av_format

__all__ = [
    "MAX_ERRORS",
    "TEXT_EXTENSIONS",
    "ImportFile",
    "ImportFormatError",
    "RawItem",
    "RowErrors",
    "TooLargeError",
    "check_image_head",
    "error_entry",
    "file_error",
    "file_kind",
    "format_error",
    "gc_paused",
    "import_error_summary",
    "quick_thread_switches",
    "parse_body",
    "parse_json_tasks",
    "parse_text",
    "too_large",
    "unsupported",
]

#: At most this many errors are listed; the message gives the total.
MAX_ERRORS = 100
#: Extensions parsed as text formats (lower case, with the dot).
TEXT_EXTENSIONS = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".txt"})
_ACCEPTED_TEXT = (
    ".json, .jsonl, .csv, .tsv, .txt, .zip, an image (png, jpg, webp, gif, tiff, bmp) or a PDF"
)
_UTF8_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- errors


def error_entry(row: int | None, file: str | None, fld: str | None, detail: str) -> dict[str, Any]:
    return {"row": row, "file": file, "field": fld, "detail": detail}


def format_error(error: dict[str, Any]) -> str:
    """One error entry as a sentence: ``"tasks.json, row 3, field 'data': expected ..."``."""
    where = [str(error["file"])] if error.get("file") else []
    if error.get("row") is not None:
        where.append(f"row {error['row']}")
    if error.get("field"):
        where.append(f"field '{error['field']}'")
    return f"{', '.join(where)}: {error['detail']}" if where else str(error["detail"])


class ImportFormatError(Invalid, ValueError):
    """An uploaded file that cannot be turned into tasks.

    ``errors`` lists ``{"row", "file", "field", "detail"}`` entries (``row``/``field`` are
    ``None`` for file-level problems), at most :data:`MAX_ERRORS` of them; ``total`` is the
    number found.
    """

    def __init__(
        self,
        detail: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        *,
        total: int | None = None,
    ):
        errors = list(errors or [])
        self.total = total if total is not None else len(errors)
        if detail is None:
            detail = format_error(errors[0]) if errors else "invalid import file"
            if self.total > 1:
                detail += f" (and {self.total - 1} more errors)"
        super().__init__(detail, errors[:MAX_ERRORS])


class TooLargeError(ImportFormatError, TooLarge):
    """A file (or an archive's unpacked content) over the size limit: HTTP 413."""

    status = 413


class RowErrors:
    """Collects row errors, keeping the first :data:`MAX_ERRORS`."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, row: int | None, file: str | None, fld: str | None, detail: str) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(error_entry(row, file, fld, detail))

    def extend(self, exc: ImportFormatError) -> None:
        self.total += exc.total
        room = MAX_ERRORS - len(self.items)
        self.items.extend(exc.errors[: max(room, 0)])

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportFormatError(errors=self.items, total=self.total)


def file_error(file: str, detail: str, message: str | None = None) -> ImportFormatError:
    return ImportFormatError(message or f"{file}: {detail}", [error_entry(None, file, None, detail)])


def _jtype(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


# --------------------------------------------------------------------------- items


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small containers are built.

    Parsing creates no reference cycles, but allocating 100,000s of dicts and items triggers
    repeated full collections over a growing heap, which costs more than the parsing itself
    (measured: 100,000 tasks in 0.15 s instead of 0.5-0.9 s). The collector is re-enabled
    only if it was enabled on entry.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: How long a thread may hold the GIL while another waits for it, during an import (seconds).
_SWITCH_INTERVAL = 0.0005
_switches_lock = threading.Lock()
_switches_users = 0
_switches_before = 0.0


@contextlib.contextmanager
def quick_thread_switches() -> Iterator[None]:
    """Let Python's threads take turns every 0.5 ms instead of 5 while an import runs.

    A streamed import's writer thread talks to the database in many short turns (each COPY,
    the ids, the batch row) between which it must get the GIL back from the thread reading and
    checking rows; waiting up to 5 ms each time left PostgreSQL's backend idle. Measured with
    ``bench/scale_10m.py --import-only`` at 1M tasks, alternated: 42,373-46,189 tasks/s against
    34,928-40,883, the backend busy 79-80% of the time against 70-72%. Process-wide, like
    :func:`gc_paused`: the first import in sets it, the last one out puts the interval back.
    """
    global _switches_users, _switches_before
    with _switches_lock:
        if _switches_users == 0:
            _switches_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_SWITCH_INTERVAL, _switches_before))
        _switches_users += 1
    try:
        yield
    finally:
        with _switches_lock:
            _switches_users -= 1
            if _switches_users == 0:
                sys.setswitchinterval(_switches_before)


@dataclass(slots=True)
class RawItem:
    """One task as read from a file, before it is stored.

    Attributes
    ----------
    row : int
        1-based position, for messages (see the module docstring).
    file : str
        Name shown in messages: the upload's name, or ``"archive.zip/member"``.
    data : dict
        Task data (``{}`` for an image item: the importer adds the stored image's URL).
    annotations, predictions : list of dict
        Label Studio annotations / predictions, as given (checked to be objects only).
    meta : dict
        Label Studio ``meta``.
    file_name : str or None
        Original name of the file the task was made from: the upload's name, or the path of
        the member inside its archive or folder.
    image_bytes, image_path
        The file of an image, audio or video item (one of them), else ``None``
        (:attr:`is_av`: audio or video, stored by :func:`labeling.media_info.store_av`).
    label : str or None
        Existing label from an ImageFolder layout (the class folder's name).
    is_gold, gold_answer
        A Label Studio task's ``"is_gold"`` and ``"gold_answer"`` keys, as given (``None`` when
        absent); the importer checks them (a gold task and its answer: :meth:`labeling.imports.rows.Checker.gold`).
    prediction_ids : list of int or None
        Predictions given as ids (Label Studio 1.23's export writes ``"predictions": [5]``): ids
        of another instance, which the import skips and reports.
    """

    row: int
    file: str
    data: dict[str, Any] = field(default_factory=dict)
    annotations: list[Any] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    file_name: str | None = None
    image_bytes: bytes | None = None
    image_path: Path | None = None
    label: str | None = None
    is_gold: Any = None
    gold_answer: Any = None
    prediction_ids: list[int] | None = None

    @property
    def is_image(self) -> bool:
        return self.image_bytes is not None or self.image_path is not None

    @property
    def is_av(self) -> bool:
        """An audio or video file (by its name, else its first bytes)."""
        if not self.is_image:
            return False
        name = self.file_name or self.file
        if is_av_name(name):
            return True
        if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
            return False
        head = self.image_bytes[:16] if self.image_bytes is not None else Path(self.image_path).open("rb").read(16)
        return sniff_av_format(head) is not None

    def read_image(self) -> bytes:
        """The image's bytes (read from ``image_path`` when the item holds no bytes)."""
        if self.image_bytes is not None:
            return self.image_bytes
        if self.image_path is None:
            raise ValueError(f"{self.file}, row {self.row}: not an image item")
        return Path(self.image_path).read_bytes()


@dataclass(frozen=True, slots=True)
class ImportFile:
    """An uploaded file: its name and either its bytes or a path to it."""

    name: str
    data: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("ImportFile needs exactly one of data or path")

    def read(self) -> bytes:
        return self.data if self.data is not None else Path(self.path).read_bytes()  # type: ignore[arg-type]


# --------------------------------------------------------------------------- JSON


def _all_objects(values: list[Any]) -> bool:
    for value in values:
        if type(value) is not dict:
            return False
    return True


def _list_field(
    task: dict[str, Any], key: str, row: int, file: str, errors: RowErrors, *, ids: bool = False
) -> list[Any] | None:
    """``task[key]`` if it is a list of objects (``ids``: or of whole numbers), else None with
    the error recorded."""
    value = task.get(key)
    if value is None:
        return []
    if type(value) is not list:
        errors.add(row, file, key, f"expected a list, got {_jtype(value)}")
        return None
    for i, entry in enumerate(value):
        if type(entry) is not dict and not (ids and type(entry) is int):
            errors.add(row, file, f"{key}[{i}]", f"expected an object, got {_jtype(entry)}")
            return None
    return value


def _items_from_objects(
    objs: Iterable[tuple[int, Any]], file: str, file_name: str, errors: RowErrors
) -> list[RawItem]:
    """Tasks (``{"data": ...}``) or flat objects, each with its row number, to RawItems."""
    items: list[RawItem] = []
    append = items.append
    for row, obj in objs:
        if type(obj) is not dict:
            errors.add(row, file, None, f"expected an object, got {_jtype(obj)}")
            continue
        if "data" not in obj:
            if not obj:
                errors.add(row, file, None, "empty object")
                continue
            append(RawItem(row, file, obj, [], [], {}, file_name))
            continue
        data = obj["data"]
        if type(data) is not dict:
            errors.add(row, file, "data", f"expected an object, got {_jtype(data)}")
            continue
        if not data:
            errors.add(row, file, "data", "empty object")
            continue
        annotations = obj.get("annotations")
        if annotations is None:
            annotations = []
        elif type(annotations) is not list or (annotations and not _all_objects(annotations)):
            annotations = _list_field(obj, "annotations", row, file, errors)
        predictions = obj.get("predictions")
        prediction_ids: list[int] = []
        if predictions is None:
            predictions = []
        elif type(predictions) is not list or (predictions and not _all_objects(predictions)):
            predictions = _list_field(obj, "predictions", row, file, errors, ids=True)
            if predictions:  # Label Studio 1.23 exports predictions as their ids: skipped, reported
                prediction_ids = [p for p in predictions if type(p) is int]
                predictions = [p for p in predictions if type(p) is not int]
        meta = obj.get("meta")
        if meta is None:
            meta = {}
        elif type(meta) is not dict:
            errors.add(row, file, "meta", f"expected an object, got {_jtype(meta)}")
            continue
        if annotations is None or predictions is None:
            continue
        item = RawItem(row, file, data, annotations, predictions, meta, file_name,
                       is_gold=obj.get("is_gold"), gold_answer=obj.get("gold_answer"))
        if prediction_ids:
            item.prediction_ids = prediction_ids
        append(item)
    return items


def parse_json_tasks(
    obj: Any, *, file: str = "request body", file_name: str | None = None
) -> list[RawItem]:
    """Tasks from an already decoded JSON value (a REST import body or a ``.json`` file).

    Parameters
    ----------
    obj : Any
        A list of tasks (``{"data": {...}, "annotations": [...], "predictions": [...],
        "meta": {...}}``) or of flat objects (each becomes a task's ``data``), or one task
        object (with a ``"data"`` key).
    file : str, optional
        Name used in error messages.
    file_name : str, optional
        Original file name recorded on the items (default: ``file``).

    Returns
    -------
    list of RawItem

    Raises
    ------
    ImportFormatError
        Listing every bad row (not a list, an empty list, a row that is not an object,
        ``data`` not a non-empty object, ``annotations``/``predictions`` not lists of objects,
        ``meta`` not an object).
    """
    if type(obj) is dict:
        if "data" not in obj:
            keys = ", ".join(repr(k) for k in list(obj)[:5])
            raise file_error(
                file,
                'expected a list of tasks (or one task with a "data" object), got an '
                f"object with keys {keys}"
                if obj
                else "expected a list of tasks, got {}",
            )
        obj = [obj]
    elif type(obj) is not list:
        raise file_error(file, f"expected a list of tasks, got {_jtype(obj)}")
    if not obj:
        raise file_error(file, "contains no tasks", f"{file} contains no tasks")
    errors = RowErrors()
    with gc_paused():
        items = _items_from_objects(enumerate(obj, 1), file, file_name or file, errors)
    errors.raise_if_any()
    return items


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _json_error_detail(exc: json.JSONDecodeError, *, with_line: bool = True) -> str:
    where = f"line {exc.lineno}, column {exc.colno}" if with_line else f"column {exc.colno}"
    return f"invalid JSON at {where}: {exc.msg}"


def _parse_json(name: str, text: str, file_name: str) -> list[RawItem]:
    try:
        obj = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and _first_line_is_object(text):
            return _parse_jsonl(name, text, file_name)  # JSON Lines saved as .json
        raise file_error(name, _json_error_detail(exc)) from exc
    except ValueError as exc:  # NaN / Infinity
        raise file_error(name, f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise file_error(name, "invalid JSON: nested too deeply") from exc
    return parse_json_tasks(obj, file=name, file_name=file_name)


def _first_line_is_object(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(_loads(first), dict)
    except (ValueError, RecursionError):
        return False


def _parse_jsonl(name: str, text: str, file_name: str) -> list[RawItem]:
    errors = RowErrors()
    objs: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            objs.append((lineno, _loads(line)))
        except json.JSONDecodeError as exc:
            errors.add(lineno, name, None, _json_error_detail(exc, with_line=False))
        except ValueError as exc:
            errors.add(lineno, name, None, f"invalid JSON: {exc}")
        except RecursionError:
            errors.add(lineno, name, None, "invalid JSON: nested too deeply")
    items = _items_from_objects(objs, name, file_name, errors)
    errors.raise_if_any()
    if not items:
        raise file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


# --------------------------------------------------------------------------- text


def _decode_utf8(name: str, data: bytes, kind: str) -> str:
    """The text of a file, or a refusal saying once where the first byte that is not UTF-8 is:
    the row of a file whose lines are its rows (CSV, TSV, TXT, JSON Lines), the line of a JSON
    document (its rows are the items of its array)."""
    offset = 3 if data.startswith(_UTF8_BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start + offset
        line = data.count(b"\n", 0, pos) + 1
        detail = f"not UTF-8 text (byte 0x{data[pos]:02x} at position {pos})"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            detail += "; it looks like UTF-16, save it as UTF-8"
        entry = error_entry(None, name, None, f"{detail} on line {line}") if kind == "json" \
            else error_entry(line, name, None, detail)
        raise ImportFormatError(format_error(entry), [entry]) from exc


def _parse_txt(name: str, text: str, file_name: str) -> list[RawItem]:
    items = [
        RawItem(lineno, name, {"text": line.rstrip("\r")}, [], [], {}, file_name)
        for lineno, line in enumerate(text.split("\n"), 1)
        if line.strip()
    ]
    if not items:
        raise file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


def _parse_csv(name: str, text: str, file_name: str, *, delimiter: str) -> list[RawItem]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors = RowErrors()
    items: list[RawItem] = []
    try:
        header = next(reader, None)
        while header is not None and not header:  # blank lines before the header
            header = next(reader, None)
        if header is None:
            raise file_error(name, "contains no tasks", f"{name} contains no tasks")
        columns = [c.strip() for c in header]
        header_line = reader.line_num
        for i, col in enumerate(columns, 1):
            if not col:
                errors.add(header_line, name, None, f"column {i} of the header has no name")
        seen: set[str] = set()
        for col in columns:
            if col and col in seen:
                errors.add(header_line, name, col, "column name appears twice in the header")
            seen.add(col)
        if len(columns) == 1 and delimiter == "," and ("\t" in columns[0] or ";" in columns[0]):
            sep = "tab" if "\t" in columns[0] else "';'"
            errors.add(
                header_line,
                name,
                None,
                f"the header has one column; the file looks {sep}-separated "
                "(use .tsv for tab-separated files, or save it comma-separated)",
            )
        errors.raise_if_any()
        width = len(columns)
        line = reader.line_num + 1
        for row in reader:
            if row:
                if len(row) != width:
                    errors.add(line, name, None, f"has {len(row)} fields, the header has {width}")
                else:
                    items.append(
                        RawItem(
                            line, name, dict(zip(columns, row, strict=True)), [], [], {}, file_name
                        )
                    )
            line = reader.line_num + 1
    except csv.Error as exc:
        errors.add(reader.line_num, name, None, f"malformed CSV: {exc}")
    errors.raise_if_any()
    if not items:
        raise file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


# --------------------------------------------------------------------------- file kinds


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def file_kind(name: str, head: bytes) -> str:
    """``"json" | "jsonl" | "csv" | "tsv" | "txt" | "image" | "media" | "zip" | "svg" | "unknown"``
    (``media``: audio or video, :mod:`labeling.media_info`)."""
    ext = _ext(name)
    if ext in (".svg", ".svgz"):
        return "svg"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext in TEXT_EXTENSIONS:
        return ext[1:]
    if ext in IMAGE_EXTENSIONS or ext == ".pdf":
        return "image"  # a media file: one task each (PDFs: labeling.pdfs)
    if ext in AV_EXTENSIONS:
        return "media"
    if ext == ".zip":
        return "zip"
    # No or unknown extension: look at the content.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if sniff_image_format(head) is not None or head.startswith(b"%PDF-"):
        return "image"
    if sniff_av_format(head) is not None:
        return "media"
    if looks_like_svg(head):
        return "svg"
    if head.lstrip(_UTF8_BOM + b" \t\r\n")[:1] in (b"[", b"{"):
        return "json"
    return "unknown"


def unsupported(name: str, kind: str) -> str:
    if kind == "svg":
        return "SVG is not accepted"
    ext = _ext(name)
    what = f"file type '{ext}'" if ext else "file type (no extension)"
    return f"unsupported {what}; accepted: {_ACCEPTED_TEXT}"


def parse_text(name: str, kind: str, data: bytes, file_name: str) -> list[RawItem]:
    if not data or data.isspace():
        raise file_error(name, "is empty", f"{name} is empty")
    text = _decode_utf8(name, data, kind)
    with gc_paused():
        if kind == "json":
            return _parse_json(name, text, file_name)
        if kind == "jsonl":
            return _parse_jsonl(name, text, file_name)
        if kind == "csv":
            return _parse_csv(name, text, file_name, delimiter=",")
        if kind == "tsv":
            return _parse_csv(name, text, file_name, delimiter="\t")
        return _parse_txt(name, text, file_name)


def is_pdf_file(name: str, head: bytes) -> bool:
    """A ``.pdf`` file that starts as a PDF: a document read by :mod:`labeling.pdfs` when stored."""
    return _ext(name) == ".pdf" and b"%PDF-" in head[:1024]


def check_image_head(name: str, head: bytes) -> None:
    if is_pdf_file(name, head):
        return  # a PDF document: read by labeling.pdfs when stored
    if sniff_image_format(head) is None:
        detail = "SVG is not accepted" if looks_like_svg(head, name) else "not an image"
        raise file_error(name, detail)


def too_large(name: str, size: int, max_bytes: int) -> TooLargeError:
    detail = f"{size} bytes exceeds the limit of {max_bytes} bytes"
    return TooLargeError(f"{name}: {detail}", [error_entry(None, name, None, detail)])


# --------------------------------------------------------------------------- request bodies


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body strictly (no NaN/Infinity); DomainError (400) names the place."""
    if not raw or not raw.strip():
        raise DomainError("the request body is empty; send a JSON list of tasks",
                          [{"row": None, "file": "request body", "field": None, "detail": "empty body"}])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(f"the request body is not UTF-8 (byte at position {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        detail = f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise DomainError(detail, [{"row": None, "file": "request body", "field": None, "detail": detail}]) from None
    except (ValueError, RecursionError) as exc:
        detail = f"malformed JSON: {exc}"
        raise DomainError(detail, [{"row": None, "file": "request body", "field": None, "detail": detail}]) from None


def import_error_summary(exc: ImportFormatError | DomainError) -> str:
    """One line for the CLI: the detail, then up to five problems (none when the detail already
    says each of them: a file with one bad row, or an empty folder, is one line)."""
    if all(_says(exc.detail, e) for e in exc.errors[:5]):
        return exc.detail
    return "\n".join([exc.detail] + ["  " + format_error(e) for e in exc.errors[:5]])


def _says(message: str, error: dict) -> bool:
    """Whether ``message`` already says the error entry ``error``: its sentence (file, row, field,
    detail), or, for a problem of a whole file (no row, no field), its file and its detail in other
    words ("photos contains no files to import")."""
    if format_error(error) in message:
        return True
    whole_file = error.get("row") is None and not error.get("field")
    return whole_file and str(error.get("detail")) in message and str(error.get("file") or "") in message
