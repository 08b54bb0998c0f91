"""The ``thumbnails`` job: previews for imported images, made in the background.

Its kind is listed in :mod:`labeling.jobs.registry`; :func:`run_thumbnails` is its handler.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import select

from labeling import jobs
from labeling.db import read_session, write_session
from labeling.media import make_thumbnail, media_path
from labeling.models import Media
from labeling.settings import get_settings

THUMB_SIZE = 256
THREADS = 4


def thumbnail_path(media_root: Path, sha256: str) -> Path:
    """Where the preview of a stored image lives: ``media_root/thumbs/ab/<sha256>.jpg``."""
    media_path(media_root, sha256, "jpg")  # validates the digest
    return Path(media_root) / "thumbs" / sha256[:2] / f"{sha256}.jpg"


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
    root = settings.media_root
    with read_session() as s:
        todo = list(s.exec(select(Media.id, Media.sha256, Media.ext).where(Media.thumbnail_ready.is_(False))
                           .order_by(Media.id)))
    made, failed = 0, []
    batch = 200

    def one(row) -> tuple[int, str | None]:
        media_id, sha, ext = row
        try:
            make_thumbnail(media_path(root, sha, ext), thumbnail_path(root, sha), size=THUMB_SIZE,
                           max_pixels=settings.max_image_pixels)
            return media_id, None
        except (OSError, ValueError) as exc:
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
