"""S3 storages (any S3-compatible service through boto3; ``s3_endpoint`` for MinIO, Ceph, R2...):
the client of a storage, its connection check, its keys, its objects, pre-signed URLs and the
objects an export storage writes. Label Studio's ``io_storages/s3`` behaviour.

``s3_endpoint`` is a URL a lead typed: :func:`labeling.outbound.check_url` checks it when it is
saved and again before every call that reaches the service (a sync, a validation). A pre-signed
URL is computed locally and calls nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.handlers import validate_bucket_name

from labeling import outbound
from labeling.errors import DomainError, NotFound
from labeling.mediastore import s3_client
from labeling.models import Storage
from labeling.storages.common import bad, credentials

URL_SCHEME = "s3"
#: an s3:// URI inside a task data value (Label Studio's get_uri_via_regex)
URI = re.compile(r"s3://[^\s'\"<>()]+")


def check_fields(fields: dict) -> None:
    """Bucket name and endpoint, as Label Studio's serializer checks them."""
    bucket = fields.get("bucket")
    if bucket:
        try:
            validate_bucket_name({"Bucket": bucket})
        except ParamValidationError as exc:
            raise bad("bucket", str(exc.kwargs.get("report") or exc)) from None
    if fields.get("s3_endpoint"):
        try:
            outbound.check_url(fields["s3_endpoint"])
        except DomainError as exc:
            raise bad("s3_endpoint", exc.detail) from None


@lru_cache(maxsize=64)
def _client(endpoint: str, region: str, key_id: str, secret: str, token: str):
    # A storage without keys is anonymous: it never borrows the server's own credentials (its
    # environment or machine role), which a lead must not be able to point at a bucket.
    return s3_client(endpoint=endpoint, region=region or "us-east-1", access_key_id=key_id,
                     secret_access_key=secret, session_token=token, anonymous=not key_id)


def client(storage: Storage, *, check: bool = True):
    """The boto3 client of a storage; ``check``: its endpoint checked again now (before a call)."""
    if check and storage.s3_endpoint:
        outbound.check_url(storage.s3_endpoint)
    creds = credentials(storage)
    return _client(storage.s3_endpoint or "", storage.region_name or "", creds.get("aws_access_key_id", ""),
                   creds.get("aws_secret_access_key", ""), creds.get("aws_session_token", ""))


def _error_detail(storage: Storage, exc: Exception) -> str:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("SignatureDoesNotMatch", "403", "InvalidAccessKeyId", "AccessDenied") or status == 403:
            return f"Cannot connect to S3 {storage.bucket} with specified AWS credentials"
        if code in ("NoSuchBucket", "404") or status == 404:
            return f"Cannot find bucket {storage.bucket} in S3"
    if isinstance(exc, ParamValidationError):
        return f"Wrong credentials for S3 {storage.bucket}"
    return f"S3 {storage.bucket}: {type(exc).__name__}: {exc}"


def validate_connection(storage: Storage) -> None:
    """Label Studio's check: the prefix has an object, or the bucket exists; a 400 naming why not."""
    if not storage.bucket:
        raise bad("bucket", "give the bucket")
    try:
        c = client(storage)
        if storage.prefix:
            found = c.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix, MaxKeys=1)
            if not found.get("KeyCount") and storage.kind == "import":
                raise bad("prefix", f"s3://{storage.bucket}/{storage.prefix} not found.")
        else:
            c.head_bucket(Bucket=storage.bucket)
    except (BotoCoreError, ClientError) as exc:
        raise bad("bucket", _error_detail(storage, exc)) from None


def iter_keys(storage: Storage) -> Iterator[str]:
    """The keys a sync reads: under the prefix (one level unless ``recursive_scan``), folders
    left out, those the regex matches (``re.match``, as Label Studio) when one is given."""
    c = client(storage)
    kwargs = {"Bucket": storage.bucket}
    if storage.prefix:
        kwargs["Prefix"] = storage.prefix.rstrip("/") + "/"
        if not storage.recursive_scan:
            kwargs["Delimiter"] = "/"
    regex = re.compile(storage.regex_filter) if storage.regex_filter else None
    for page in c.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", ()):
            key = obj["Key"]
            if key.endswith("/") or (regex is not None and not regex.match(key)):
                continue
            yield key


def read(storage: Storage, key: str, *, limit: int) -> bytes:
    """An object's bytes (at most ``limit``: a larger one is refused)."""
    c = client(storage, check=False)
    head = c.head_object(Bucket=storage.bucket, Key=key)
    if head.get("ContentLength", 0) > limit:
        raise bad(None, f"s3://{storage.bucket}/{key} is larger than {limit // (1024 * 1024)} MiB")
    return c.get_object(Bucket=storage.bucket, Key=key)["Body"].read(limit + 1)


def uri(storage: Storage, key: str) -> str:
    return f"{URL_SCHEME}://{storage.bucket}/{key}"


def presigned_url(storage: Storage, key: str) -> str:
    """A GET URL of the object valid for ``presign_ttl`` minutes (computed here, no call made)."""
    return client(storage, check=False).generate_presigned_url(
        "get_object", Params={"Bucket": storage.bucket, "Key": key}, ExpiresIn=storage.presign_ttl * 60)


@dataclass(frozen=True)
class ObjectStream:
    """An object's bytes as the server relays them: ``chunks``, the HTTP status (206 for a
    range) and the headers that describe them."""

    chunks: Iterator[bytes]
    status: int
    headers: dict[str, str]


class RangeRefused(DomainError):
    status = 416


#: What a relayed object's chunks are read in.
_CHUNK = 256 * 1024


def open_object(storage: Storage, key: str, *, range_header: str | None = None) -> ObjectStream:
    """An object (or the ``Range`` of it a player asks for) streamed from the bucket: Label
    Studio's proxy of a storage with ``presign`` off. The endpoint is checked again first."""
    kwargs = {"Bucket": storage.bucket, "Key": key}
    if range_header:
        kwargs["Range"] = range_header
    try:
        found = client(storage).get_object(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise NotFound(f"{uri(storage, key)} not found") from None
        if code == "InvalidRange":
            raise RangeRefused(f"{uri(storage, key)}: the range is not satisfiable") from None
        raise
    meta = found["ResponseMetadata"]
    headers = {"Content-Type": found.get("ContentType") or "application/octet-stream", "Accept-Ranges": "bytes"}
    for name, value in (("Content-Length", found.get("ContentLength")), ("Content-Range", found.get("ContentRange")),
                        ("ETag", found.get("ETag"))):
        if value is not None:
            headers[name] = str(value)
    if found.get("LastModified") is not None:
        headers["Last-Modified"] = found["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT")
    return ObjectStream(found["Body"].iter_chunks(_CHUNK), int(meta.get("HTTPStatusCode", 200)), headers)


def object_key(storage: Storage, name: str) -> str:
    """Where an export storage writes ``name``: Label Studio's ``prefix + '/' + key``."""
    return f"{storage.prefix}/{name}" if storage.prefix else name


def put(storage: Storage, key: str, body: bytes, content_type: str = "application/json") -> None:
    client(storage, check=False).put_object(Bucket=storage.bucket, Key=key, Body=body, ContentType=content_type)


def delete(storage: Storage, key: str) -> None:
    client(storage, check=False).delete_object(Bucket=storage.bucket, Key=key)
