"""What an import reads: uploads, paths on disk, zip archives, folders, and staged uploads.

:func:`parse_upload` (one uploaded file) and :func:`parse_path` (a file or folder on disk, the
CLI) dispatch on the extension (or the content) to :mod:`labeling.imports.formats`; a ``.zip``
(checked with :func:`labeling.media.safe_zip_members`) and a folder are read file by file,
where the ImageFolder layout ``cat/1.png`` gives the image the existing label ``"cat"`` (also
for uploaded images sent with their relative paths: a dropped folder). Uploads of a background
import wait in ``DATA_DIR/imports/`` (:func:`stage_body`, :func:`stage_files`) until its job runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from labeling.errors import Invalid
from labeling.imports.formats import (
    ImportFile,
    ImportFormatError,
    RawItem,
    RowErrors,
    TooLargeError,
    check_image_head,
    error_entry,
    file_error,
    file_kind,
    is_pdf_file,
    parse_text,
    too_large,
    unsupported,
)
from labeling.imports.stream import StreamedFile, stream_kind
from labeling.media import (
    IMAGE_EXTENSIONS,
    ZipSafetyError,
    looks_like_svg,
    safe_zip_members,
    sniff_image_format,
)
from labeling.media_info import is_av_name
from labeling.settings import get_settings

__all__ = [
    "chain",
    "is_image_name",
    "is_zip",
    "open_paths",
    "parse_files",
    "parse_import_file",
    "parse_path",
    "parse_upload",
    "stage_body",
    "stage_files",
    "staged_files",
    "staging_root",
    "upload_limits",
    "with_folder_labels",
]


# --------------------------------------------------------------------------- one upload


def _not_an_image(head: bytes, name: str) -> str | None:
    """Why a file named as an image is refused (its first bytes), or None when it is one (or a
    PDF document, which becomes a task as an uploaded one does)."""
    if sniff_image_format(head) is not None or is_pdf_file(name, head):
        return None
    return "SVG is not accepted" if looks_like_svg(head, name) else "not an image"

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
        raise too_large(name, len(data), max_bytes)
    if not data:
        raise file_error(name, "is empty", f"{name} is empty")
    kind = file_kind(name, data[:1024])
    if kind == "zip":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise file_error(name, f"not a valid zip archive ({exc})") from exc
        limit = max_unpacked_bytes if max_unpacked_bytes is not None else 10 * max_bytes
        return _parse_zip(
            zf, name, max_unpacked_bytes=limit, max_files=max_files, max_ratio=max_ratio
        )
    if kind == "image":
        check_image_head(name, data[:64])
        return iter([RawItem(1, name, {}, [], [], {}, name, image_bytes=data)])
    if kind == "media":  # audio or video: probed and stored by the bulk writer
        return iter([RawItem(1, name, {}, [], [], {}, name, image_bytes=data)])
    if kind in ("svg", "unknown"):
        raise file_error(name, unsupported(name, kind))
    return iter(parse_text(name, kind, data, name))


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
        errors = RowErrors()
        plan: list[tuple[zipfile.ZipInfo, str, str, list[RawItem] | None]] = []
        for info in members:
            member = "/".join(p for p in re.split(r"[/\\]", info.filename) if p not in ("", "."))
            shown = f"{name}/{member}"
            with zf.open(info) as fh:
                head = fh.read(1024)
            kind = file_kind(member, head)
            if kind == "image":
                refused = _not_an_image(head, member)
                if refused:
                    errors.add(None, shown, None, refused)
                    continue
                plan.append((info, member, shown, None))
            elif kind == "media":
                plan.append((info, member, shown, None))
            elif kind in ("json", "jsonl", "csv", "tsv", "txt"):
                try:
                    items = parse_text(shown, kind, zf.read(info), member)
                except ImportFormatError as exc:
                    errors.extend(exc)
                    continue
                plan.append((info, member, shown, items))
            elif kind == "zip":
                errors.add(None, shown, None, "archives inside archives are not accepted")
            else:
                errors.add(None, shown, None, unsupported(member, kind))
        errors.raise_if_any()
        if not plan:
            raise file_error(
                name, "contains no files to import", f"{name} contains no files to import"
            )
    except ZipSafetyError as exc:
        zf.close()
        cls = TooLargeError if exc.reason == "size" else ImportFormatError
        raise cls(str(exc), [error_entry(None, name, None, str(exc))]) from exc
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        zf.close()
        raise file_error(name, f"unreadable zip archive ({exc})") from exc
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
                raise file_error(shown, f"unreadable zip member ({exc})") from exc
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


def read_head(path: Path, n: int = 1024) -> bytes:
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
        raise file_error(str(path), "no such file or folder")
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise file_error(name, "is empty", f"{name} is empty")
    head = read_head(path)
    kind = file_kind(name, head)
    if kind == "zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            raise file_error(name, f"not a valid zip archive ({exc})") from exc
        return _parse_zip(
            zf, name, max_unpacked_bytes=unpacked, max_files=max_files, max_ratio=max_ratio
        )
    if kind == "image":
        check_image_head(name, head)
        return iter([RawItem(1, name, {}, [], [], {}, name, image_path=path)])
    if kind == "media":
        if size > max_bytes:
            raise too_large(name, size, max_bytes)
        return iter([RawItem(1, name, {}, [], [], {}, name, image_path=path)])
    if kind in ("svg", "unknown"):
        raise file_error(name, unsupported(name, kind))
    if size > max_bytes:
        raise too_large(name, size, max_bytes)
    return iter(parse_text(name, kind, path.read_bytes(), name))


def _parse_folder(root: Path, *, max_bytes: int, max_files: int) -> Iterator[RawItem]:
    rels = _walk_files(root)
    if len(rels) > max_files:
        raise file_error(root.name, f"more than {max_files} files (the limit)")
    if not rels:
        raise file_error(
            root.name, "contains no files to import", f"{root.name} contains no files to import"
        )
    errors = RowErrors()
    plan: list[tuple[str, Path, list[RawItem] | None]] = []
    for rel in rels:
        full = root / rel
        shown = f"{root.name}/{rel}"
        head = read_head(full)
        kind = file_kind(rel, head)
        if kind == "image":
            refused = _not_an_image(head, rel)
            if refused:
                errors.add(None, shown, None, refused)
                continue
            plan.append((rel, full, None))
        elif kind == "media":
            plan.append((rel, full, None))
        elif kind in ("json", "jsonl", "csv", "tsv", "txt"):
            size = full.stat().st_size
            if size > max_bytes:
                raise too_large(shown, size, max_bytes)
            try:
                plan.append((rel, full, parse_text(shown, kind, full.read_bytes(), rel)))
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
            errors.add(None, shown, None, unsupported(rel, kind))
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


# --------------------------------------------------------------------------- uploads, paths and staging


def upload_limits() -> dict:
    st = get_settings()
    return {"max_bytes": st.max_upload_bytes, "max_unpacked_bytes": st.zip_max_total_mb * 1024 * 1024,
            "max_ratio": st.zip_max_ratio}


def is_zip(name: str, head: bytes) -> bool:
    return name.lower().endswith(".zip") or head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def chain(sources: Iterable[Iterable[RawItem]]) -> Iterator[RawItem]:
    for source in sources:
        yield from source


def open_paths(paths: list[Path]) -> tuple[list, int | None]:
    if not paths:
        raise Invalid("no files or folders to import", [{"row": None, "file": None, "field": "path", "detail": "none given"}])
    limits = upload_limits()
    sources: list = []
    total: int | None = 0
    for p in paths:
        kind = stream_kind(p.name, read_head(p, 8)) if p.is_file() else None
        if kind is not None:  # read as a stream while it is imported, whatever its size
            streamed = StreamedFile(p.name, kind, path=p)
            sources.append(streamed)
            if total is not None:
                total += streamed.total
            continue
        items_it = parse_path(p, **limits)
        if p.is_dir() or not is_zip(p.name, read_head(p, 8)):
            items_list = list(items_it)  # folder and text items hold paths or small dicts, not bytes
            sources.append(items_list)
            if total is not None:
                total += len(items_list)
        else:
            sources.append(items_it)
            total = None
    return sources, total


def staging_root() -> Path:
    return get_settings().shared_root / "imports"


def _new_staging_dir() -> Path:
    root = staging_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / secrets.token_hex(12)
    path.mkdir()
    return path


def stage_body(body: Any, raw: bytes | None) -> Path:
    folder = _new_staging_dir()
    if raw is not None:  # the bytes as received: no need to encode them again
        (folder / "body.json").write_bytes(raw)
    else:
        with open(folder / "body.json", "w", encoding="utf-8") as fh:
            json.dump(body, fh, ensure_ascii=False, separators=(",", ":"))
    return folder


def stage_files(files: list[ImportFile]) -> Path:
    """Keep uploaded files for the job: ``NNNNN.bin`` each, and their names in ``files.json``."""
    folder = _new_staging_dir()
    manifest = []
    for i, f in enumerate(files):
        target = folder / f"{i:05d}.bin"
        if f.path is not None:
            shutil.copyfile(f.path, target)
        else:
            target.write_bytes(f.data)
        manifest.append({"name": f.name, "file": target.name})
    (folder / "files.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@contextlib.contextmanager
def received_files(uploads: Iterable[tuple[str, BinaryIO]]) -> Iterator[list[ImportFile]]:
    """Uploaded files (name, readable stream) as ImportFiles: JSON Lines and Parquet are copied
    to a private folder a block at a time (they are read as streams: :mod:`labeling.imports.stream`),
    others read into memory; the copies are removed when the block ends."""
    folder: Path | None = None
    files: list[ImportFile] = []
    try:
        for i, (name, fh) in enumerate(uploads):
            head = fh.read(8)
            if stream_kind(name, head) is None:
                files.append(ImportFile(name=name, data=head + fh.read()))
                continue
            if folder is None:
                folder = _new_staging_dir()
            target = folder / f"{i:05d}.bin"
            with open(target, "wb") as out:
                out.write(head)
                shutil.copyfileobj(fh, out, 1 << 20)
            files.append(ImportFile(name=name, path=target))
        yield files
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def staged_files(folder: Path) -> list[ImportFile]:
    manifest = json.loads((folder / "files.json").read_text(encoding="utf-8"))
    return [ImportFile(name=m["name"], path=folder / m["file"]) for m in manifest]


def parse_files(files: list[ImportFile]) -> tuple[list, int | None, int, bool]:
    """Parse uploads (every format check runs here); returns (sources, total, images, has_zip).

    Files held on disk (a staged upload) are read one at a time as the sources are consumed.
    """
    limits = upload_limits()
    parsed: list = []
    total: int | None = 0
    n_images, has_zip = 0, False
    for f in files:
        kind = stream_kind(f.name, f.data[:8] if f.data is not None else read_head(f.path, 8))
        if kind == "parquet" or (kind == "jsonl" and f.path is not None):  # read as a stream
            if f.data is not None and len(f.data) > limits["max_bytes"]:
                raise too_large(f.name, len(f.data), limits["max_bytes"])
            streamed = StreamedFile(f.name, kind, path=f.path, data=f.data)
            parsed.append(streamed)
            total = None if total is None else total + streamed.total
            continue
        if f.path is not None and (is_image_name(f.name) or is_av_name(f.name)):
            parse_upload(f.name, read_head(f.path, 4096), **limits)  # checks the header; read later
            parsed.append(_lazy_upload(f, limits))
            n_images += 1
            total = None if total is None else total + 1
            continue
        data = f.read()
        if is_zip(f.name, data[:8]):
            has_zip, total = True, None
            parsed.append(parse_upload(f.name, data, **limits))
        else:
            items = list(parse_upload(f.name, data, **limits))
            n_images += sum(1 for it in items if it.is_image)
            total = None if total is None else total + len(items)
            parsed.append(items)
    return parsed, total, n_images, has_zip


def _lazy_upload(f: ImportFile, limits: dict) -> Iterator[RawItem]:
    yield from parse_upload(f.name, f.read(), **limits)


def _folder_labels(names: list[str]) -> dict[str, str]:
    """ImageFolder labels of uploaded image files sent with their relative paths (a dropped folder).

    The folders common to all paths are the root; an image in a sub-folder of the root gets
    that sub-folder's name (``photos/cat/1.png`` and ``cat/1.png`` both give ``cat``).
    """
    split = [n.replace("\\", "/").strip("/").split("/") for n in names if is_image_name(n)]
    split = [p for p in split if len(p) > 1]
    if not split:
        return {}
    common = 0
    shortest = min(len(p) - 1 for p in split)
    while common < shortest and len({p[common] for p in split}) == 1:
        common += 1
    return {"/".join(p): p[common] for p in split if len(p) - 1 > common}


def with_folder_labels(items: Iterator[RawItem], names: list[str]) -> Iterator[RawItem]:
    labels = _folder_labels(names)
    for item in items:
        if labels and item.is_image and item.label is None and item.file_name:
            item.label = labels.get(item.file_name.replace("\\", "/").strip("/"))
        yield item
