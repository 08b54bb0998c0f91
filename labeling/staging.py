"""Files published all at once: written into a staging folder, made durable, moved in place
(ARCHITECTURE.md, Datasets).

A staging folder is named after the process that writes it (:func:`labeling.processes.me`), so
that what a crash leaves behind can be told from a publish still running in another process:
:func:`clean` removes, at the start of a serving or worker process, every staging folder whose
process ran on this machine and is gone; one of another machine (a shared data directory), or
named before folders carried their process, only once nothing in it has changed for
``ORPHAN_SECONDS``. A live publish's folder is never removed.

Durability: every file is fsync'd before its folder is moved in place, and the folder and its
parents after the move (:func:`sync_dir`), all before the transaction that records what was
published commits; a power loss cannot leave a committed row whose files are missing or short.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from labeling import processes

log = logging.getLogger(__name__)

PREFIX = ".staging-"
#: A staging folder whose process cannot be checked is removed once nothing in it changed for
#: this long: far longer than any publish spends between two writes.
ORPHAN_SECONDS = 24 * 3600
_NAME = re.compile(r"\.staging-(?P<node>[0-9a-f]{16})-(?P<pid>\d{1,10})-(?P<started>\d+(?:\.\d+)?)-[0-9a-f]+")


def make(root: Path) -> Path:
    """A new staging folder under ``root`` (created, with ``root``, readable by this user only)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    me = processes.me()
    folder = root / f"{PREFIX}{me.node}-{me.pid}-{me.started:.2f}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    return folder


def sync_file(path: Path) -> None:
    """fsync a file written by someone else (a copy, a converter's output)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """fsync a folder: the names in it (a file created, a folder moved in) survive a power loss."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a folder; its rename is durable
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` and fsync it."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _abandoned(folder: Path, now: float) -> bool:
    m = _NAME.fullmatch(folder.name)
    if m is not None:
        verdict = processes.alive(processes.Owner(m["node"], int(m["pid"]), float(m["started"])))
        if verdict is not None:  # on this machine: dead or alive is known
            return not verdict
    try:
        newest = max(p.stat().st_mtime for p in [folder, *folder.iterdir()])
    except FileNotFoundError:  # moved in place or removed meanwhile
        return False
    return now - newest > ORPHAN_SECONDS


def clean(top: Path, *, now: float | None = None) -> list[Path]:
    """Remove the staging folders of publishes that did not finish, in ``top``'s sub-folders
    (``DATA_DIR/datasets/<project>/``); returns the folders removed."""
    now = time.time() if now is None else now
    removed = []
    for folder in sorted(top.glob(f"*/{PREFIX}*")):
        if folder.is_dir() and _abandoned(folder, now):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.warning("removed %d staging folder(s) left by publishes that did not finish: %s",
                    len(removed), ", ".join(str(p) for p in removed))
    return removed
