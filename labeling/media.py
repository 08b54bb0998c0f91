"""Safe images and content-addressed media storage (pure: no database, no Flask).

Uploaded images are untrusted. :func:`load_image` opens them with only the Pillow plugins
of the accepted formats (PNG, JPEG, WebP, GIF, TIFF, BMP), refuses images over a pixel limit
*before* decoding them (decompression bombs), verifies and fully decodes them (truncated or
corrupt files) and applies the EXIF orientation. :func:`store_media` writes the bytes to
``media_root/ab/cd/<sha256>.<ext>`` atomically; :func:`make_thumbnail` writes a small JPEG or
WebP preview; :func:`safe_zip_members` decides which members of an uploaded zip may be read.
The URLs at which the app serves stored images and their thumbnails (``/media/P/<sha>.<ext>``,
``/media/P/thumbs/<sha>.jpg``) are made and read here too (:func:`media_url`,
:func:`thumbnail_url`, :func:`parse_media_url`, :func:`thumbnail_for`, :func:`public_url`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import (
    BmpImagePlugin,  # noqa: F401  (registers the plugin in Image.OPEN)
    GifImagePlugin,  # noqa: F401
    Image,
    ImageFile,
    ImageOps,
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    TiffImagePlugin,  # noqa: F401
    WebPImagePlugin,  # noqa: F401
)

from labeling.errors import Invalid

__all__ = [
    "ACCEPTED_FORMATS",
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "MediaError",
    "ZipSafetyError",
    "load_image",
    "make_thumbnail",
    "media_path",
    "media_url",
    "parse_media_url",
    "public_url",
    "safe_zip_members",
    "sniff_image_format",
    "looks_like_svg",
    "store_image",
    "store_media",
    "thumbnail_for",
    "thumbnail_path",
    "thumbnail_url",
]


class MediaError(Invalid, ValueError):
    """An image or archive that is refused; the message names the file and the reason."""


class ZipSafetyError(MediaError):
    """A zip archive that is refused as unsafe.

    ``reason`` is one of ``"path"``, ``"symlink"``, ``"encrypted"``, ``"size"``, ``"ratio"``,
    ``"count"``; ``"size"`` is answered with HTTP 413.
    """

    def __init__(self, detail: str, *, reason: str, member: str | None = None):
        super().__init__(detail, [{"row": None, "file": member, "field": None, "detail": detail}])
        self.reason = reason
        self.member = member
        if reason == "size":
            self.status = 413


# Pillow format -> (normalized format, MIME type, stored extension).
_FORMATS: dict[str, tuple[str, str, str]] = {
    "PNG": ("PNG", "image/png", "png"),
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "MPO": ("JPEG", "image/jpeg", "jpg"),  # multi-picture JPEG from phone cameras
    "WEBP": ("WEBP", "image/webp", "webp"),
    "GIF": ("GIF", "image/gif", "gif"),
    "TIFF": ("TIFF", "image/tiff", "tiff"),
    "BMP": ("BMP", "image/bmp", "bmp"),
}
#: Formats accepted for upload (as Pillow names them).
ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP")
_ACCEPTED_TEXT = "PNG, JPEG, WebP, GIF, TIFF, BMP"
#: File-name extensions taken to be images (lower case, with the dot).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".tif", ".tiff", ".bmp"}
)
_STORED_EXTENSIONS = frozenset(ext for _, _, ext in _FORMATS.values()) | {"pdf"}  # PDFs: labeling.pdfs
_SHA256 = re.compile(r"[0-9a-f]{64}")

# Magic numbers of formats people upload that are not accepted, for a precise message.
_OTHER_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF", 0, "PDF"),
    (b"8BPS", 0, "PSD"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What is known about an accepted image.

    ``width`` and ``height`` are after the EXIF orientation is applied; ``size`` is the number
    of bytes of the file; ``format`` is one of :data:`ACCEPTED_FORMATS`.
    """

    sha256: str
    format: str
    mime: str
    width: int
    height: int
    size: int

    @property
    def ext(self) -> str:
        """Extension (no dot) under which the file is stored: ``png``, ``jpg``, ..."""
        return _FORMATS[self.format][2]


# --------------------------------------------------------------------------- sniffing


def sniff_image_format(head: bytes) -> str | None:
    """Accepted image format of a file from its first bytes (16 are enough), else ``None``.

    A cheap magic-number check used to sort files before anything is decoded; it does not
    prove the file is a valid image (:func:`load_image` does).
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith(b"BM") and len(head) >= 14:
        return "BMP"
    return None


def looks_like_svg(head: bytes, name: str = "") -> bool:
    """True when the name ends in ``.svg``/``.svgz`` or the first bytes are SVG markup."""
    if name.lower().endswith((".svg", ".svgz")):
        return True
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg"):
        return True
    return text.startswith((b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in text


def _other_format(head: bytes) -> str | None:
    for magic, offset, fmt in _OTHER_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    return None


# --------------------------------------------------------------------------- opening


def _pixel_limit(max_pixels: int) -> int:
    """The stricter of ``max_pixels`` and Pillow's own ``Image.MAX_IMAGE_PIXELS``."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is None:
        return max_pixels
    return min(max_pixels, int(pillow_limit))


def _open_restricted(fp: IO[bytes], *, name: str, max_pixels: int) -> ImageFile.ImageFile:
    """Open (read the header of) an image with the accepted plugins only.

    Pillow's ``Image.open`` compares the size with the global ``Image.MAX_IMAGE_PIXELS`` and
    only *warns* below twice that limit; warnings filters are process-global, so they cannot
    be changed safely per call in a threaded server. Calling the plugin factories ourselves
    lets us refuse over-limit images with one clear error, before any pixel is decoded.
    """
    fp.seek(0)
    head = fp.read(16)
    for fmt in ACCEPTED_FORMATS:
        factory, accept = Image.OPEN[fmt]
        accepted = accept(head) if accept is not None else True
        if not accepted or isinstance(accepted, str):  # a str: plugin present but unusable
            continue
        fp.seek(0)
        try:
            im = factory(fp, name)
        except Image.DecompressionBombError as exc:
            raise MediaError(f"{name}: {exc}") from exc
        except (SyntaxError, IndexError, TypeError, ValueError, EOFError, OSError) as exc:
            raise MediaError(f"{name}: not a valid {_FORMATS[fmt][0]} image ({exc})") from exc
        width, height = im.size
        limit = _pixel_limit(max_pixels)
        if width * height > limit:
            im.close()
            raise MediaError(
                f"{name}: image of {width}x{height} pixels exceeds the limit of {limit} pixels"
            )
        if width <= 0 or height <= 0:
            im.close()
            raise MediaError(f"{name}: image has no pixels ({width}x{height})")
        return im
    fp.seek(0)
    head = fp.read(1024)
    if looks_like_svg(head, name):
        raise MediaError(f"{name}: SVG is not accepted (accepted formats: {_ACCEPTED_TEXT})")
    other = _other_format(head)
    if other is not None:
        raise MediaError(f"{name}: {other} is not accepted (accepted formats: {_ACCEPTED_TEXT})")
    raise MediaError(f"{name}: not an image (accepted formats: {_ACCEPTED_TEXT})")


def _decode(im: ImageFile.ImageFile, *, name: str, step: Callable[[], Any]) -> Any:
    """Run a decoding step, turning the many exceptions of Pillow's decoders into MediaError."""
    try:
        return step()
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{name}: {exc}") from exc
    except MemoryError as exc:
        raise MediaError(f"{name}: image too large to decode") from exc
    # Decoders of untrusted data raise a wide range of exception types on malformed input.
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
        ZeroDivisionError,
        AttributeError,
    ) as exc:
        raise MediaError(f"{name}: truncated or corrupt image ({exc})") from exc


def load_image(
    data: bytes, *, name: str, max_pixels: int = 50_000_000
) -> tuple[Image.Image, ImageInfo]:
    """Open, verify and decode an uploaded image.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    name : str
        The file's name, used in error messages (and to recognise ``.svg``).
    max_pixels : int, optional
        Largest accepted ``width * height``; Pillow's ``Image.MAX_IMAGE_PIXELS`` applies too
        when it is smaller. The limit is checked from the header, before decoding.

    Returns
    -------
    image : PIL.Image.Image
        The decoded first frame, with the EXIF orientation applied. The caller closes it.
    info : ImageInfo
        sha256 of ``data``, format, MIME type, width and height (after orientation), size.

    Raises
    ------
    MediaError
        Empty file, not an image, a refused format (SVG, PDF, HEIC, ...), over the pixel
        limit, or a truncated or corrupt file.
    """
    if not data:
        raise MediaError(f"{name}: file is empty")
    # First pass: header only, then verify() (checks PNG chunk CRCs and the like).
    probe = _open_restricted(io.BytesIO(data), name=name, max_pixels=max_pixels)
    fmt = probe.format or ""
    try:
        _decode(probe, name=name, step=probe.verify)
    finally:
        probe.close()
    # Second pass: a fresh image (verify() leaves the first unusable), fully decoded.
    im = _open_restricted(io.BytesIO(data), name=name, max_pixels=max_pixels)
    try:
        _decode(im, name=name, step=im.load)
        _decode(im, name=name, step=lambda: ImageOps.exif_transpose(im, in_place=True))
    except MediaError:
        im.close()
        raise
    norm, mime, _ = _FORMATS[fmt]
    info = ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        format=norm,
        mime=mime,
        width=im.width,
        height=im.height,
        size=len(data),
    )
    return im, info


# --------------------------------------------------------------------------- storage


def media_path(media_root: Path, sha256: str, ext: str) -> Path:
    """Path of a stored file: ``media_root/ab/cd/<sha256>.<ext>``.

    Both parts are checked (64 lower-case hex digits, a known extension) so that a value
    coming from a request can never point outside ``media_root``.
    """
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise MediaError(f"not a sha256 digest: {sha256!r}")
    if ext not in _STORED_EXTENSIONS and ext not in _av_stored():
        raise MediaError(f"unknown media extension: {ext!r}")
    return Path(media_root) / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"


def _av_stored():
    """Extensions of stored audio and video files (media_info imports this module)."""
    from labeling.media_info import STORED_MIME

    return STORED_MIME


def thumbnail_path(media_root: Path, sha256: str) -> Path:
    """Where the preview of a stored image lives: ``media_root/thumbs/ab/<sha256>.jpg``."""
    media_path(media_root, sha256, "jpg")  # validates the digest
    return Path(media_root) / "thumbs" / sha256[:2] / f"{sha256}.jpg"


# --------------------------------------------------------------------------- URLs

# An image URL this app serves: /media/<project>/<sha256>.<ext>
_MEDIA_URL = re.compile(r"^/media/(\d+)/([0-9a-f]{64})\.([a-z0-9]{2,5})$")


def media_url(project_id: int, sha256: str, ext: str) -> str:
    """URL at which the app serves a stored image to the users of ``project_id``."""
    return f"/media/{project_id}/{sha256}.{ext}"


def thumbnail_url(project_id: int, sha256: str) -> str:
    """URL of an image's thumbnail (made by the ``thumbnails`` job)."""
    return f"/media/{project_id}/thumbs/{sha256}.jpg"


def public_url(project_id: int, name: str, base_url: str = "") -> str:
    """The URL of a stored image named ``<sha256>.<ext>`` (absolute with ``base_url``)."""
    url = f"/media/{project_id}/{name}"
    return f"{base_url.rstrip('/')}{url}" if base_url else url


def parse_media_url(url: Any) -> tuple[int, str, str] | None:
    """``(project_id, sha256, ext)`` of an image URL this app serves (:func:`media_url`), else None."""
    if not isinstance(url, str):
        return None
    m = _MEDIA_URL.match(url)
    return (int(m.group(1)), m.group(2), m.group(3)) if m else None


def thumbnail_for(url: Any) -> str | None:
    """The thumbnail URL of an image URL this app serves (``/media/P/<sha>.png``), else None
    (a PDF document has none)."""
    parsed = parse_media_url(url)
    return thumbnail_url(parsed[0], parsed[1]) if parsed and parsed[2] != "pdf" else None


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file through a temporary file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def store_media(
    data: bytes, *, media_root: Path | None = None, store: Any = None, name: str,
    max_pixels: int = 50_000_000
) -> ImageInfo:
    """Validate an image (:func:`load_image`) and store its bytes by content.

    The file goes to the media store (``store``, a :class:`labeling.mediastore.MediaStore`;
    by default the local folder ``media_root``) under ``ab/cd/<sha256>.<ext>``, written
    atomically; storing the same bytes again does nothing. Nothing is written for a refused image.

    Returns
    -------
    ImageInfo
        As returned by :func:`load_image`.
    """
    return store_image(data, media_root=media_root, store=store, name=name, max_pixels=max_pixels)[0]


def store_image(
    data: bytes, *, media_root: Path | None = None, store: Any = None, name: str,
    max_pixels: int = 50_000_000
) -> tuple[ImageInfo, bool]:
    """:func:`store_media`, also saying whether the bytes were new to the store."""
    from labeling.mediastore import put_by_content

    im, info = load_image(data, name=name, max_pixels=max_pixels)
    im.close()
    return info, put_by_content(data, info.sha256, info.ext, store=store, media_root=media_root)


def _for_display(im: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """Convert any decoded mode to RGB (or RGBA when ``keep_alpha``) for a preview."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        im = Image.fromarray(np.nan_to_num(scaled).astype(np.uint8), mode="L")
    has_alpha = im.mode in ("RGBA", "LA", "RGBa", "La", "PA") or (
        im.mode == "P" and "transparency" in im.info
    )
    if not has_alpha:
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    if keep_alpha:
        return rgba
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def make_thumbnail(
    src_path: Path, dst_path: Path, *, size: int = 256, max_pixels: int = 50_000_000
) -> tuple[int, int]:
    """Write a preview of an image that fits in ``size`` x ``size`` pixels.

    The format follows ``dst_path``'s suffix: ``.jpg``/``.jpeg`` (alpha flattened on white)
    or ``.webp`` (alpha kept). The EXIF orientation is applied; the write is atomic.

    Returns
    -------
    (width, height) : tuple of int
        Size of the thumbnail.
    """
    dst_path = Path(dst_path)
    suffix = dst_path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        out_format, keep_alpha, options = "JPEG", False, {"quality": 85, "optimize": True}
    elif suffix == ".webp":
        out_format, keep_alpha, options = "WEBP", True, {"quality": 80, "method": 4}
    else:
        raise MediaError(f"{dst_path.name}: thumbnails are written as .jpg or .webp")
    if size < 1:
        raise MediaError(f"thumbnail size must be at least 1, got {size}")
    name = Path(src_path).name
    with open(src_path, "rb") as fh:
        im = _open_restricted(fh, name=name, max_pixels=max_pixels)
        try:
            if im.format == "JPEG" or im.format == "MPO":
                im.draft("RGB", (size, size))  # decode at a reduced scale: much faster
            _decode(im, name=name, step=im.load)
            _decode(im, name=name, step=lambda: ImageOps.exif_transpose(im, in_place=True))
            thumb = _for_display(im, keep_alpha=keep_alpha)
            thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        finally:
            im.close()
    atomic_write(dst_path, lambda out: thumb.save(out, format=out_format, **options))
    return thumb.size


# --------------------------------------------------------------------------- zip archives

_DRIVE = re.compile(r"[A-Za-z]:")
_RATIO_MIN_BYTES = 1 << 20  # ratios of members smaller than this are harmless
_JUNK_FILES = frozenset({"thumbs.db", "desktop.ini"})


def _member_skipped(parts: list[str]) -> bool:
    if parts[0] == "__MACOSX":
        return True
    if any(p.startswith(".") for p in parts):
        return True
    return parts[-1].lower() in _JUNK_FILES


def safe_zip_members(
    zf: zipfile.ZipFile,
    *,
    max_total_bytes: int,
    max_ratio: float = 100,
    max_files: int,
    name: str | None = None,
) -> list[zipfile.ZipInfo]:
    """Members of an uploaded zip that may be extracted, or an error for an unsafe archive.

    Every member is checked, the skipped ones too: an absolute path, a ``..`` component, a
    drive letter, a symbolic link or an encrypted member refuses the whole archive.
    Directories, ``__MACOSX/``, dotfiles (and files in dot-directories), ``Thumbs.db`` and
    ``desktop.ini`` are skipped. Over the kept members, the total uncompressed size must not
    exceed ``max_total_bytes`` and their number ``max_files``; a member of at least 1 MiB
    whose uncompressed size is more than ``max_ratio`` times its compressed size is refused as
    a zip bomb. Sizes are those declared in the archive; :mod:`zipfile` never returns more
    bytes than declared and checks the CRC.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    max_total_bytes, max_ratio, max_files
        Limits, as above.
    name : str, optional
        Archive name for messages (default: ``zf.filename`` or ``"archive"``).

    Returns
    -------
    list of zipfile.ZipInfo
        Kept members, in archive order.

    Raises
    ------
    ZipSafetyError
        With ``reason`` set to the rule that refused it.
    """
    arc = name or (Path(zf.filename).name if zf.filename else "archive")
    kept: list[zipfile.ZipInfo] = []
    total = 0
    for info in zf.infolist():
        raw = info.filename
        if raw.startswith(("/", "\\")):
            raise ZipSafetyError(
                f"{arc}: member '{raw}' has an absolute path", reason="path", member=raw
            )
        parts = [p for p in re.split(r"[/\\]", raw) if p not in ("", ".")]
        if _DRIVE.match(raw) or any(":" in p for p in parts):
            raise ZipSafetyError(
                f"{arc}: member '{raw}' has a drive letter or ':' in its path",
                reason="path",
                member=raw,
            )
        if ".." in parts:
            raise ZipSafetyError(
                f"{arc}: member '{raw}' has an unsafe path ('..' component)",
                reason="path",
                member=raw,
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ZipSafetyError(
                f"{arc}: member '{raw}' is a symbolic link", reason="symlink", member=raw
            )
        if info.is_dir() or not parts:
            continue
        if info.flag_bits & 0x1:
            raise ZipSafetyError(
                f"{arc}: member '{raw}' is encrypted", reason="encrypted", member=raw
            )
        if _member_skipped(parts):
            continue
        if info.file_size >= _RATIO_MIN_BYTES and (
            info.file_size > max_ratio * max(info.compress_size, 1)
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ZipSafetyError(
                f"{arc}: member '{raw}' expands {ratio:.0f} times ({info.compress_size} to "
                f"{info.file_size} bytes), over the limit of {max_ratio:g}; refused as a "
                "likely zip bomb",
                reason="ratio",
                member=raw,
            )
        total += info.file_size
        if total > max_total_bytes:
            raise ZipSafetyError(
                f"{arc}: unpacked size exceeds the limit of {max_total_bytes} bytes",
                reason="size",
            )
        kept.append(info)
        if len(kept) > max_files:
            raise ZipSafetyError(f"{arc}: more than {max_files} files (the limit)", reason="count")
    return kept
