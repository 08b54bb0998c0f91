"""Local-files storages: Label Studio's ``localfiles`` import storage, reading a folder of the
server under the root an administrator allowed (``LABELFAB_LOCAL_FILES_DOCUMENT_ROOT``, Label
Studio's LOCAL_FILES_DOCUMENT_ROOT; empty refuses them all).

The folder must be a child of the root (symbolic links resolved: nothing outside it is read).
Keys are the files' paths, found recursively; ``regex_filter`` is matched against the file name,
as Label Studio does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from labeling.models import Storage
from labeling.settings import get_settings
from labeling.storages.common import bad


def document_root() -> Path:
    root = get_settings().local_files_document_root
    if not root:
        raise bad("path", "local-files storages are disabled on this server: an administrator allows a folder "
                          "with LABELFAB_LOCAL_FILES_DOCUMENT_ROOT")
    return Path(root).resolve()


def folder(path: str | None) -> Path:
    """The storage's folder, checked to exist under the document root."""
    root = document_root()
    if not path:
        raise bad("path", "give the path of a folder")
    resolved = Path(path).resolve()
    if not resolved.is_dir():
        raise bad("path", f"Path {path} does not exist")
    if root not in resolved.parents:
        raise bad("path", f"Path {path} must start with LOCAL_FILES_DOCUMENT_ROOT={root} and must be a child, "
                          f"e.g.: {root / 'abc'}")
    return resolved


def check_fields(fields: dict) -> None:
    if "path" in fields:
        folder(fields["path"])


def validate_connection(storage: Storage) -> None:
    folder(storage.path)


def iter_keys(storage: Storage) -> Iterator[str]:
    root = folder(storage.path)
    regex = re.compile(storage.regex_filter) if storage.regex_filter else None
    for file in sorted(root.rglob("*")):
        if not file.is_file() or (regex is not None and not regex.match(file.name)):
            continue
        if root not in file.resolve().parents:  # a link leading out of the folder
            continue
        yield str(file)


def read(storage: Storage, key: str, *, limit: int) -> bytes:
    path = Path(key)
    if path.stat().st_size > limit:
        raise bad(None, f"{key} is larger than {limit // (1024 * 1024)} MiB")
    return path.read_bytes()
