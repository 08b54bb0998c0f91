"""Where stored media live: a local folder (``SHARED_DIR/media``, by default ``DATA_DIR/media``)
or an S3-compatible bucket (``LABELFAB_MEDIA_URL=s3://bucket/prefix``), so that several servers
share media without a shared disk.

Media are content-addressed (``ab/cd/<sha256>.<ext>``, thumbnails ``thumbs/ab/<sha256>.jpg``:
:func:`media_key`, :func:`thumbnail_key`), so an object never changes once written. Code that
needs a file on disk (Pillow, the exports' zips, the converter, QC's features, the media route)
asks :meth:`MediaStore.local_file`: the file itself for a local store; for S3 a copy fetched once
into ``DATA_DIR/media-cache`` (safe to keep: the bytes of a key never change, and safe to delete).
Images served to the browser from an S3 store go through the same access-checked route as local
ones (``/media/P/<sha>.<ext>``), streamed from that copy: the bucket stays private and no
pre-signed URL of a project's media leaves the server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

from labeling.settings import get_settings

__all__ = ["LocalStore", "MediaStore", "S3Store", "get_store", "local_path", "media_key", "put_by_content", "s3_client",
           "thumbnail_key"]


def media_key(sha256: str, ext: str) -> str:
    """The key of a stored file, its digest and extension checked (:func:`labeling.media.media_path`)."""
    from labeling.media import media_path

    return media_path(Path(), sha256, ext).as_posix()


def thumbnail_key(sha256: str) -> str:
    """The key of an image's thumbnail."""
    from labeling.media import thumbnail_path

    return thumbnail_path(Path(), sha256).as_posix()


def _atomic_write(path: Path, data: bytes) -> None:
    from labeling.media import atomic_write  # media imports this module

    atomic_write(path, lambda fh: fh.write(data))


class MediaStore(Protocol):
    """What the media code needs of a store. ``local_root``: the folder :meth:`local_file`
    answers under (the converter recognises the project's own images by it)."""

    local_root: Path

    def exists(self, key: str, size: int | None = None) -> bool:
        """Whether the key is stored (with ``size`` bytes: a damaged copy is not)."""

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def delete(self, key: str) -> None: ...

    def local_file(self, key: str) -> Path: ...


class LocalStore:
    """Files under one folder (``DATA_DIR/media``), written atomically."""

    def __init__(self, root: Path):
        self.local_root = Path(root)

    def path(self, key: str) -> Path:
        return self.local_root / key

    def exists(self, key: str, size: int | None = None) -> bool:
        try:
            st = self.path(key).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def put(self, key: str, data: bytes) -> None:
        _atomic_write(self.path(key), data)

    def put_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        if Path(path) != target:
            _atomic_write(target, Path(path).read_bytes())

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def local_file(self, key: str) -> Path:
        """The file; ``FileNotFoundError`` when it is missing."""
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(str(path))
        return path


def s3_client(*, endpoint: str | None = None, region: str | None = None, access_key_id: str | None = None,
              secret_access_key: str | None = None, session_token: str | None = None, anonymous: bool = False):
    """A boto3 S3 client (path-style addressing with a custom endpoint, as MinIO and Ceph want;
    bounded time and retries). Without keys boto3's own chain applies (environment, profile, the
    machine's role) unless ``anonymous``: then requests are unsigned (public buckets)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    timeout = get_settings().outbound_timeout
    config = Config(signature_version=UNSIGNED if anonymous else "s3v4", connect_timeout=timeout,
                    read_timeout=timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"} if endpoint else None)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region or None, aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None, aws_session_token=session_token or None, config=config)


class S3Store:
    """Objects under ``s3://bucket/prefix``; :meth:`local_file` keeps a copy in ``cache_root``."""

    def __init__(self, bucket: str, prefix: str, client, cache_root: Path):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.local_root = Path(cache_root)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str, size: int | None = None) -> bool:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            return size is None or head.get("ContentLength") == size
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self.object_key(key))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        (self.local_root / key).unlink(missing_ok=True)

    def local_file(self, key: str) -> Path:
        """A local copy of the object (fetched once); ``FileNotFoundError`` when it is missing."""
        from botocore.exceptions import ClientError

        path = self.local_root / key
        if path.is_file():
            return path
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"s3://{self.bucket}/{self.object_key(key)}") from None
            raise
        _atomic_write(path, body)
        return path


@lru_cache(maxsize=4)
def _store(media_url: str, media_root: str, data_dir: str, endpoint: str, region: str, key_id: str,
           secret: str) -> MediaStore:
    if not media_url:
        return LocalStore(Path(media_root))
    bucket, _, prefix = media_url.removeprefix("s3://").partition("/")
    client = s3_client(endpoint=endpoint, region=region, access_key_id=key_id, secret_access_key=secret)
    return S3Store(bucket, prefix, client, Path(data_dir) / "media-cache")


def get_store() -> MediaStore:
    """The media store the settings name (``LABELFAB_MEDIA_URL``)."""
    st = get_settings()
    return _store(st.media_url, str(st.media_root), str(st.data_dir), st.media_s3_endpoint, st.media_s3_region,
                  st.media_s3_access_key_id, st.media_s3_secret_access_key)


def put_by_content(data: bytes, sha256: str, ext: str, *, store: MediaStore | None = None,
                   media_root: Path | None = None) -> bool:
    """Store a checked file's bytes under its content key (:func:`media_key`) in ``store``, by
    default the local folder ``media_root``; True when the bytes were new to the store (storing
    the same bytes again writes nothing). Images, audio, video and PDFs are all stored this way."""
    if store is None:
        if media_root is None:
            raise ValueError("give the media store or the media_root folder")
        store = LocalStore(Path(media_root))
    key = media_key(sha256, ext)
    if store.exists(key, len(data)):
        return False
    store.put(key, data)
    return True


def local_path(sha256: str, ext: str) -> Path:
    """A stored image as a file on this machine (fetched from S3 once), or where it would be
    when the store does not have it (callers check ``is_file()``)."""
    store = get_store()
    key = media_key(sha256, ext)
    try:
        return store.local_file(key)
    except FileNotFoundError:
        return store.local_root / key
