"""The exceptions of labelfab-client."""

from __future__ import annotations


class ClientError(Exception):
    """The server refused (``status`` and its ``detail``), or a download went wrong."""

    def __init__(self, message: str, *, status: int | None = None, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class HashMismatch(ClientError):
    """A downloaded file's sha256 differs from the manifest's; the file was deleted."""
