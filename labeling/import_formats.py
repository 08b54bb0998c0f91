"""Turn uploaded files into raw task rows (pure: no database, no Flask).

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
- ``.zip`` archives of any of the above (checked with :func:`labeling.media.safe_zip_members`)
  and folders (:func:`parse_path`), where the ImageFolder layout ``cat/1.png`` gives the image
  the existing label ``"cat"``.

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
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeling.errors import Invalid, TooLarge
from labeling.media import (
    IMAGE_EXTENSIONS,
    ZipSafetyError,
    looks_like_svg,
    safe_zip_members,
    sniff_image_format,
)

__all__ = [
    "ImportFile",
    "ImportFormatError",
    "RawItem",
    "TEXT_EXTENSIONS",
    "TooLargeError",
    "format_error",
    "parse_import_file",
    "parse_json_tasks",
    "parse_path",
    "parse_upload",
]

#: At most this many errors are listed; the message gives the total.
MAX_ERRORS = 100
#: Extensions parsed as text formats (lower case, with the dot).
TEXT_EXTENSIONS = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".txt"})
_ACCEPTED_TEXT = (
    ".json, .jsonl, .csv, .tsv, .txt, .zip, or an image (png, jpg, webp, gif, tiff, bmp)"
)
_UTF8_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- errors


def _err(row: int | None, file: str | None, fld: str | None, detail: str) -> dict[str, Any]:
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


class _Errors:
    """Collects row errors, keeping the first :data:`MAX_ERRORS`."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, row: int | None, file: str | None, fld: str | None, detail: str) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(_err(row, file, fld, detail))

    def extend(self, exc: ImportFormatError) -> None:
        self.total += exc.total
        room = MAX_ERRORS - len(self.items)
        self.items.extend(exc.errors[: max(room, 0)])

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportFormatError(errors=self.items, total=self.total)


def _file_error(file: str, detail: str, message: str | None = None) -> ImportFormatError:
    return ImportFormatError(message or f"{file}: {detail}", [_err(None, file, None, detail)])


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
def _gc_paused() -> Iterator[None]:
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
        The image of an image item (one of them), else ``None``.
    label : str or None
        Existing label from an ImageFolder layout (the class folder's name).
    is_gold, gold_answer
        A Label Studio task's ``"is_gold"`` and ``"gold_answer"`` keys, as given (``None`` when
        absent); the importer checks them (a gold task and its answer, issue 8).
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

    @property
    def is_image(self) -> bool:
        return self.image_bytes is not None or self.image_path is not None

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
    task: dict[str, Any], key: str, row: int, file: str, errors: _Errors
) -> list[Any] | None:
    value = task.get(key)
    if value is None:
        return []
    if type(value) is not list:
        errors.add(row, file, key, f"expected a list, got {_jtype(value)}")
        return None
    for i, entry in enumerate(value):
        if type(entry) is not dict:
            errors.add(row, file, f"{key}[{i}]", f"expected an object, got {_jtype(entry)}")
            return None
    return value


def _items_from_objects(
    objs: Iterable[tuple[int, Any]], file: str, file_name: str, errors: _Errors
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
        if predictions is None:
            predictions = []
        elif type(predictions) is not list or (predictions and not _all_objects(predictions)):
            predictions = _list_field(obj, "predictions", row, file, errors)
        meta = obj.get("meta")
        if meta is None:
            meta = {}
        elif type(meta) is not dict:
            errors.add(row, file, "meta", f"expected an object, got {_jtype(meta)}")
            continue
        if annotations is None or predictions is None:
            continue
        append(RawItem(row, file, data, annotations, predictions, meta, file_name,
                       is_gold=obj.get("is_gold"), gold_answer=obj.get("gold_answer")))
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
            raise _file_error(
                file,
                'expected a list of tasks (or one task with a "data" object), got an '
                f"object with keys {keys}"
                if obj
                else "expected a list of tasks, got {}",
            )
        obj = [obj]
    elif type(obj) is not list:
        raise _file_error(file, f"expected a list of tasks, got {_jtype(obj)}")
    if not obj:
        raise _file_error(file, "contains no tasks", f"{file} contains no tasks")
    errors = _Errors()
    with _gc_paused():
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
        raise _file_error(name, _json_error_detail(exc)) from exc
    except ValueError as exc:  # NaN / Infinity
        raise _file_error(name, f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _file_error(name, "invalid JSON: nested too deeply") from exc
    return parse_json_tasks(obj, file=name, file_name=file_name)


def _first_line_is_object(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(_loads(first), dict)
    except (ValueError, RecursionError):
        return False


def _parse_jsonl(name: str, text: str, file_name: str) -> list[RawItem]:
    errors = _Errors()
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
        raise _file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


# --------------------------------------------------------------------------- text


def _decode_utf8(name: str, data: bytes) -> str:
    offset = 3 if data.startswith(_UTF8_BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start + offset
        line = data.count(b"\n", 0, pos) + 1
        detail = f"not UTF-8 text (byte 0x{data[pos]:02x} at position {pos})"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            detail += "; it looks like UTF-16, save it as UTF-8"
        raise ImportFormatError(
            f"{name}: {detail} on line {line}", [_err(line, name, None, detail)]
        ) from exc


def _parse_txt(name: str, text: str, file_name: str) -> list[RawItem]:
    items = [
        RawItem(lineno, name, {"text": line.rstrip("\r")}, [], [], {}, file_name)
        for lineno, line in enumerate(text.split("\n"), 1)
        if line.strip()
    ]
    if not items:
        raise _file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


def _parse_csv(name: str, text: str, file_name: str, *, delimiter: str) -> list[RawItem]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors = _Errors()
    items: list[RawItem] = []
    try:
        header = next(reader, None)
        while header is not None and not header:  # blank lines before the header
            header = next(reader, None)
        if header is None:
            raise _file_error(name, "contains no tasks", f"{name} contains no tasks")
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
        raise _file_error(name, "contains no tasks", f"{name} contains no tasks")
    return items


# --------------------------------------------------------------------------- dispatch


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _kind(name: str, head: bytes) -> str:
    """``"json" | "jsonl" | "csv" | "tsv" | "txt" | "image" | "zip" | "svg" | "unknown"``."""
    ext = _ext(name)
    if ext in (".svg", ".svgz"):
        return "svg"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext in TEXT_EXTENSIONS:
        return ext[1:]
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext == ".zip":
        return "zip"
    # No or unknown extension: look at the content.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if sniff_image_format(head) is not None:
        return "image"
    if looks_like_svg(head):
        return "svg"
    if head.lstrip(_UTF8_BOM + b" \t\r\n")[:1] in (b"[", b"{"):
        return "json"
    return "unknown"


def _unsupported(name: str, kind: str) -> str:
    if kind == "svg":
        return "SVG is not accepted"
    ext = _ext(name)
    what = f"file type '{ext}'" if ext else "file type (no extension)"
    return f"unsupported {what}; accepted: {_ACCEPTED_TEXT}"


def _parse_text_kind(name: str, kind: str, data: bytes, file_name: str) -> list[RawItem]:
    if not data or data.isspace():
        raise _file_error(name, "is empty", f"{name} is empty")
    text = _decode_utf8(name, data)
    with _gc_paused():
        if kind == "json":
            return _parse_json(name, text, file_name)
        if kind == "jsonl":
            return _parse_jsonl(name, text, file_name)
        if kind == "csv":
            return _parse_csv(name, text, file_name, delimiter=",")
        if kind == "tsv":
            return _parse_csv(name, text, file_name, delimiter="\t")
        return _parse_txt(name, text, file_name)


def _check_image_head(name: str, head: bytes) -> None:
    if sniff_image_format(head) is None:
        detail = "SVG is not accepted" if looks_like_svg(head, name) else "not an image"
        raise _file_error(name, detail)


def _too_large(name: str, size: int, max_bytes: int) -> TooLargeError:
    detail = f"{size} bytes exceeds the limit of {max_bytes} bytes"
    return TooLargeError(f"{name}: {detail}", [_err(None, name, None, detail)])


def parse_upload(
    name: str,
    data: bytes,
    *,
    max_bytes: int,
    max_unpacked_bytes: int | None = None,
    max_files: int = 100_000,
    max_ratio: float = 100,
) -> Iterator[RawItem]:
    """Raw tasks from one uploaded file, dispatched on its extension (or content).

    Parameters
    ----------
    name : str
        The upload's file name (its extension chooses the format; without a known extension
        the content is sniffed: zip, image, JSON).
    data : bytes
        The file's content.
    max_bytes : int
        Largest accepted upload; a larger one raises :class:`TooLargeError`.
    max_unpacked_bytes : int, optional
        Largest total uncompressed size of a zip's members (default ``10 * max_bytes``).
    max_files : int, optional
        Most files taken from a zip.
    max_ratio : float, optional
        Largest compression ratio of a zip member (zip bombs).

    Returns
    -------
    Iterator of RawItem
        Every check runs before this returns; images of a zip are read one at a time as the
        iterator advances.

    Raises
    ------
    TooLargeError
        The upload, or a zip's unpacked content, is over its limit (HTTP 413).
    ImportFormatError
        Empty file, unsupported type, not UTF-8, malformed JSON/CSV, bad rows (all listed),
        an unsafe zip, or an image file that is not an image.
    """
    if len(data) > max_bytes:
        raise _too_large(name, len(data), max_bytes)
    if not data:
        raise _file_error(name, "is empty", f"{name} is empty")
    kind = _kind(name, data[:1024])
    if kind == "zip":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise _file_error(name, f"not a valid zip archive ({exc})") from exc
        limit = max_unpacked_bytes if max_unpacked_bytes is not None else 10 * max_bytes
        return _parse_zip(
            zf, name, max_unpacked_bytes=limit, max_files=max_files, max_ratio=max_ratio
        )
    if kind == "image":
        _check_image_head(name, data[:64])
        return iter([RawItem(1, name, {}, [], [], {}, name, image_bytes=data)])
    if kind in ("svg", "unknown"):
        raise _file_error(name, _unsupported(name, kind))
    return iter(_parse_text_kind(name, kind, data, name))


def parse_import_file(f: ImportFile, **limits: Any) -> Iterator[RawItem]:
    """:func:`parse_upload` for an :class:`ImportFile` held in memory, else :func:`parse_path`."""
    if f.data is not None:
        return parse_upload(f.name, f.data, **limits)
    return parse_path(Path(f.path), **limits)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- archives


def _image_folder_labels(paths: list[str]) -> dict[str, str | None]:
    """ImageFolder labels of image paths inside an archive.

    The folder common to all images is the root (so ``dataset/cat/1.png`` and
    ``cat/1.png`` both give ``"cat"``); an image in a sub-folder of the root gets that
    sub-folder's name, one directly in the root gets none. A single class folder is
    therefore taken as the root, with no labels.
    """
    split = {p: p.split("/") for p in paths}
    dirs = [parts[:-1] for parts in split.values()]
    common = 0
    if dirs:
        shortest = min(len(d) for d in dirs)
        while common < shortest and len({d[common] for d in dirs}) == 1:
            common += 1
    return {p: (parts[common] if len(parts) - 1 > common else None) for p, parts in split.items()}


def _parse_zip(
    zf: zipfile.ZipFile, name: str, *, max_unpacked_bytes: int, max_files: int, max_ratio: float
) -> Iterator[RawItem]:
    try:
        members = safe_zip_members(
            zf,
            max_total_bytes=max_unpacked_bytes,
            max_ratio=max_ratio,
            max_files=max_files,
            name=name,
        )
        errors = _Errors()
        plan: list[tuple[zipfile.ZipInfo, str, str, list[RawItem] | None]] = []
        for info in members:
            member = "/".join(p for p in re.split(r"[/\\]", info.filename) if p not in ("", "."))
            shown = f"{name}/{member}"
            with zf.open(info) as fh:
                head = fh.read(1024)
            kind = _kind(member, head)
            if kind == "image":
                if sniff_image_format(head) is None:
                    errors.add(
                        None,
                        shown,
                        None,
                        "SVG is not accepted" if looks_like_svg(head, member) else "not an image",
                    )
                    continue
                plan.append((info, member, shown, None))
            elif kind in ("json", "jsonl", "csv", "tsv", "txt"):
                try:
                    items = _parse_text_kind(shown, kind, zf.read(info), member)
                except ImportFormatError as exc:
                    errors.extend(exc)
                    continue
                plan.append((info, member, shown, items))
            elif kind == "zip":
                errors.add(None, shown, None, "archives inside archives are not accepted")
            else:
                errors.add(None, shown, None, _unsupported(member, kind))
        errors.raise_if_any()
        if not plan:
            raise _file_error(
                name, "contains no files to import", f"{name} contains no files to import"
            )
    except ZipSafetyError as exc:
        zf.close()
        cls = TooLargeError if exc.reason == "size" else ImportFormatError
        raise cls(str(exc), [_err(None, name, None, str(exc))]) from exc
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        zf.close()
        raise _file_error(name, f"unreadable zip archive ({exc})") from exc
    except BaseException:
        zf.close()
        raise
    labels = _image_folder_labels([m for _, m, _, items in plan if items is None])
    return _iter_zip(zf, name, plan, labels)


def _iter_zip(
    zf: zipfile.ZipFile,
    name: str,
    plan: list[tuple[zipfile.ZipInfo, str, str, list[RawItem] | None]],
    labels: dict[str, str | None],
) -> Iterator[RawItem]:
    with zf:
        for position, (info, member, shown, items) in enumerate(plan, 1):
            if items is not None:
                yield from items
                continue
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _file_error(shown, f"unreadable zip member ({exc})") from exc
            yield RawItem(
                position, shown, {}, [], [], {}, member, image_bytes=data, label=labels[member]
            )


def _walk_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files under ``root``, sorted, skipping dotfiles."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        rel_dir = Path(dirpath).relative_to(root)
        for fname in sorted(filenames):
            if fname.startswith(".") or fname.lower() in ("thumbs.db", "desktop.ini"):
                continue
            found.append((rel_dir / fname).as_posix())
    return found


def _read_head(path: Path, n: int = 1024) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def parse_path(
    path: Path,
    *,
    max_bytes: int = 1 << 30,
    max_unpacked_bytes: int | None = None,
    max_files: int = 1_000_000,
    max_ratio: float = 100,
) -> Iterator[RawItem]:
    """Raw tasks from a file or a folder on disk (the CLI's ``labelfab import``).

    A folder is read recursively (sorted, dotfiles and ``__MACOSX`` skipped); an image in a
    sub-folder gets the name of the first sub-folder under ``path`` as its label (ImageFolder
    layout: ``path/cat/1.png`` -> ``"cat"``), one directly in ``path`` gets none. Images are
    not read: their items carry ``image_path``. Text files are parsed (and every file checked)
    before this returns, so a bad file refuses the whole import up front.

    Parameters
    ----------
    path : Path
        A file of any format :func:`parse_upload` accepts, or a folder of them.
    max_bytes : int, optional
        Largest text file read into memory (a zip is read from disk member by member).
    max_unpacked_bytes, max_files, max_ratio
        Zip limits, as in :func:`parse_upload`; ``max_files`` also bounds a folder.

    Returns
    -------
    Iterator of RawItem

    Raises
    ------
    TooLargeError, ImportFormatError
        As :func:`parse_upload`; also for a path that does not exist.
    """
    path = Path(path)
    unpacked = max_unpacked_bytes if max_unpacked_bytes is not None else 10 * max_bytes
    if path.is_dir():
        return _parse_folder(path, max_bytes=max_bytes, max_files=max_files)
    if not path.is_file():
        raise _file_error(str(path), "no such file or folder")
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise _file_error(name, "is empty", f"{name} is empty")
    head = _read_head(path)
    kind = _kind(name, head)
    if kind == "zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            raise _file_error(name, f"not a valid zip archive ({exc})") from exc
        return _parse_zip(
            zf, name, max_unpacked_bytes=unpacked, max_files=max_files, max_ratio=max_ratio
        )
    if kind == "image":
        _check_image_head(name, head)
        return iter([RawItem(1, name, {}, [], [], {}, name, image_path=path)])
    if kind in ("svg", "unknown"):
        raise _file_error(name, _unsupported(name, kind))
    if size > max_bytes:
        raise _too_large(name, size, max_bytes)
    return iter(_parse_text_kind(name, kind, path.read_bytes(), name))


def _parse_folder(root: Path, *, max_bytes: int, max_files: int) -> Iterator[RawItem]:
    rels = _walk_files(root)
    if len(rels) > max_files:
        raise _file_error(root.name, f"more than {max_files} files (the limit)")
    if not rels:
        raise _file_error(
            root.name, "contains no files to import", f"{root.name} contains no files to import"
        )
    errors = _Errors()
    plan: list[tuple[str, Path, list[RawItem] | None]] = []
    for rel in rels:
        full = root / rel
        shown = f"{root.name}/{rel}"
        head = _read_head(full)
        kind = _kind(rel, head)
        if kind == "image":
            if sniff_image_format(head) is None:
                errors.add(
                    None,
                    shown,
                    None,
                    "SVG is not accepted" if looks_like_svg(head, rel) else "not an image",
                )
                continue
            plan.append((rel, full, None))
        elif kind in ("json", "jsonl", "csv", "tsv", "txt"):
            size = full.stat().st_size
            if size > max_bytes:
                raise _too_large(shown, size, max_bytes)
            try:
                plan.append((rel, full, _parse_text_kind(shown, kind, full.read_bytes(), rel)))
            except ImportFormatError as exc:
                errors.extend(exc)
        elif kind == "zip":
            errors.add(
                None,
                shown,
                None,
                "archives inside folders are not accepted; import the archive on its own",
            )
        else:
            errors.add(None, shown, None, _unsupported(rel, kind))
    errors.raise_if_any()
    return _iter_folder(root, plan)


def _iter_folder(
    root: Path, plan: list[tuple[str, Path, list[RawItem] | None]]
) -> Iterator[RawItem]:
    for position, (rel, full, items) in enumerate(plan, 1):
        if items is not None:
            yield from items
            continue
        parts = rel.split("/")
        label = parts[0] if len(parts) > 1 else None
        yield RawItem(
            position, f"{root.name}/{rel}", {}, [], [], {}, rel, image_path=full, label=label
        )
