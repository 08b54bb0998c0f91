"""Stored images for the pages: the ``thumbnails`` job and the files the app serves.

The ``thumbnails`` job makes previews of imported images in the background; its kind is listed
in :mod:`labeling.jobs.registry`, :func:`run_thumbnails` is its handler. :func:`media_file`
finds the file of an image (or of its thumbnail) for a user of a project that uses it;
:func:`project_media` is that rule (a task of the project was made from the image), which
exports and dataset versions follow too before they pack an image.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import select

from labeling import jobs
from labeling.access import require_project
from labeling.db import read_session, write_session
from labeling.errors import NotFound
from labeling.media import make_thumbnail
from labeling.mediastore import LocalStore, get_store, media_key, thumbnail_key
from labeling.models import Media, Task, User
from labeling.settings import get_settings

THUMB_SIZE = 256
THREADS = 4
_IN_CHUNK = 500  # hashes per IN (...) list

_M = Media.__table__
_T = Task.__table__


def project_media(conn: Session | Connection, project_id: int, sha256s: Iterable[str]) -> set[str]:
    """Of the stored images ``sha256s``, those that belong to the project: a task of the project
    was made from the image (``Task.media_id``).

    Images are stored once by content for every project, so a hash says nothing about who may
    have the bytes: task data can name any ``/media/P/<sha>.<ext>``. Only an image that belongs
    to the project is served to its users (:func:`media_file`) and packed in its exports and
    dataset versions.

    Parameters
    ----------
    conn : Session or Connection
        Read in the caller's transaction (an export's snapshot).
    project_id : int
    sha256s : iterable of str

    Returns
    -------
    set of str
    """
    shas = sorted(set(sha256s))
    out: set[str] = set()
    for i in range(0, len(shas), _IN_CHUNK):
        chunk = shas[i:i + _IN_CHUNK]
        out.update(conn.execute(sa.select(_M.c.sha256).where(
            _M.c.sha256.in_(chunk),
            sa.exists().where(_T.c.media_id == _M.c.id, _T.c.project_id == project_id))).scalars())
    return out


def enqueue_thumbnails(*, project_id: int | None = None, created_by: int | None = None,
                       session: Session | None = None) -> int:
    """Start a job that makes every missing thumbnail; returns the job id.

    With ``session`` the job joins that transaction (and is sent after it commits).
    """
    return jobs.enqueue("thumbnails", project_id=project_id, created_by=created_by, session=session)


def run_thumbnails(ctx: jobs.JobContext) -> dict:
    """Make the thumbnails of all media that have none, in batches, reporting progress.

    Each batch marks its media ``thumbnail_ready`` in one transaction after the files are
    written (atomically), so a re-run after a crash redoes at most one batch.
    """
    settings = get_settings()
    store = get_store()
    with read_session() as s:
        todo = list(s.exec(select(Media.id, Media.sha256, Media.ext).where(Media.thumbnail_ready.is_(False))
                           .order_by(Media.id)))
    made, failed = 0, []
    batch = 200

    def one(row) -> tuple[int, str | None]:
        media_id, sha, ext = row
        try:
            key = thumbnail_key(sha)
            if isinstance(store, LocalStore):
                make_thumbnail(store.local_file(media_key(sha, ext)), store.path(key), size=THUMB_SIZE,
                               max_pixels=settings.max_image_pixels)
            else:  # made in the local copy, then put in the shared store
                made = store.local_root / key
                make_thumbnail(store.local_file(media_key(sha, ext)), made, size=THUMB_SIZE,
                               max_pixels=settings.max_image_pixels)
                store.put_file(key, made)
            return media_id, None
        except (OSError, ValueError, BotoCoreError, ClientError) as exc:
            return media_id, str(exc)

    # Pillow and the file writes (fsync) let go of the GIL: a few threads use every core.
    pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="thumbnails")
    try:
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            done_ids = []
            for media_id, error in pool.map(one, chunk):
                if error is None:
                    done_ids.append(media_id)
                else:
                    failed.append({"media": media_id, "detail": error})
            _mark_ready(done_ids)
            made += len(done_ids)
            ctx.progress((start + len(chunk)) / len(todo), f"{made} of {len(todo)} thumbnails")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {"thumbnails": made, "failed": failed[:100], "n_failed": len(failed)}


def _mark_ready(done_ids: list[int]) -> None:
    if done_ids:
        with write_session() as s:
            s.execute(sa.update(Media).where(Media.id.in_(done_ids)).values(thumbnail_ready=True))


def media_file(user: User, project_id: int, sha256: str, ext: str, *, thumbnail: bool = False) -> tuple[Path, str, bool]:
    """The file of a stored image (or its thumbnail) for a user of a project that uses it.

    Returns ``(path, mime type, final)``: ``final`` is False when the thumbnail is not made yet
    and the original is served in its place (not to be cached for good).
    """
    with read_session() as s:
        require_project(s, user, project_id, "view")
        media = s.exec(select(Media).where(Media.sha256 == sha256)).first()
        if media is None or (not thumbnail and media.ext != ext) or not project_media(s, project_id, [sha256]):
            raise NotFound("no such image")
    store = get_store()
    if thumbnail:
        try:
            return store.local_file(thumbnail_key(media.sha256)), "image/jpeg", True
        except FileNotFoundError:
            pass
    try:
        original = store.local_file(media_key(media.sha256, media.ext))
    except FileNotFoundError:
        raise NotFound("no such image" if thumbnail else "the image file is missing from the media store") from None
    return original, media.mime, not thumbnail
