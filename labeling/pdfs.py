"""PDF documents as media: read (page count and first page size) and stored by content.

A PDF is stored like an image (:mod:`labeling.media`): content-addressed as
``ab/cd/<sha256>.pdf`` in the media store, one ``Media`` row (``mime`` ``application/pdf``,
``width``/``height`` the first page in PDF points, ``pages``), served by the access-checked
``/media/`` route with its content type. It is bounded (``LABELFAB_MAX_PDF_MB``,
``LABELFAB_MAX_PDF_PAGES``) and only parsed, by ``pypdf``: nothing in it (JavaScript, forms,
embedded files) is run by the server, and the labeling page draws it with PDF.js without
scripting.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from labeling.media import MediaError

__all__ = ["PDF_MIME", "PdfInfo", "is_pdf", "read_pdf", "store_pdf"]

PDF_MIME = "application/pdf"
_MAGIC = b"%PDF-"


def is_pdf(head: bytes) -> bool:
    """Whether a file's first bytes are a PDF's (``%PDF-``, maybe after a few junk bytes, as
    readers accept them)."""
    return _MAGIC in head[:1024]


@dataclass(frozen=True, slots=True)
class PdfInfo:
    """What is known about an accepted PDF: its digest, page count, first page size (points)."""

    sha256: str
    pages: int
    width: int
    height: int
    size: int
    ext: str = "pdf"
    mime: str = PDF_MIME


def read_pdf(data: bytes, *, name: str, max_bytes: int, max_pages: int) -> PdfInfo:
    """Check a PDF and read its page count and first page size.

    Parameters
    ----------
    data : bytes
        The file.
    name : str
        Its name, for messages.
    max_bytes, max_pages : int
        Bounds; a larger document is refused.

    Returns
    -------
    PdfInfo

    Raises
    ------
    MediaError
        Not a PDF, unreadable, encrypted, without pages, or over a bound.

    Examples
    --------
    >>> read_pdf(b"not a pdf", name="x.pdf", max_bytes=10, max_pages=1)
    Traceback (most recent call last):
    ...
    labeling.media.MediaError: x.pdf: not a PDF document
    """
    if len(data) > max_bytes:
        raise MediaError(f"{name}: {len(data)} bytes exceeds the limit of {max_bytes} bytes for a PDF "
                         "(LABELFAB_MAX_PDF_MB)")
    if not is_pdf(data[:1024]):
        raise MediaError(f"{name}: not a PDF document")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on damaged files are not ours
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise MediaError(f"{name}: the PDF is encrypted; import it without a password")
        pages = len(reader.pages)
        if pages > max_pages:
            raise MediaError(f"{name}: the PDF has {pages} pages; the limit is {max_pages} "
                             "(LABELFAB_MAX_PDF_PAGES)")
        if pages == 0:
            raise MediaError(f"{name}: the PDF has no pages")
        box = reader.pages[0].mediabox
        width, height = abs(float(box.width)), abs(float(box.height))
    except MediaError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError,
            OSError) as exc:
        raise MediaError(f"{name}: not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})") from None
    return PdfInfo(sha256=hashlib.sha256(data).hexdigest(), pages=pages, width=round(width),
                   height=round(height), size=len(data))


def store_pdf(data: bytes, *, store: Any, name: str, max_bytes: int, max_pages: int) -> tuple[PdfInfo, bool]:
    """Check a PDF (:func:`read_pdf`) and store it by content in ``store`` (a
    :class:`labeling.mediastore.MediaStore`); also says whether the bytes were new to it.
    Nothing is written for a refused document."""
    from labeling.mediastore import put_by_content

    info = read_pdf(data, name=name, max_bytes=max_bytes, max_pages=max_pages)
    return info, put_by_content(data, info.sha256, info.ext, store=store)
