"""Domain errors. The web layer maps each to an HTTP status and a JSON body
``{"detail": ..., "errors": [...]}``; the CLI prints the message."""

from __future__ import annotations


class DomainError(Exception):
    """Base of expected errors: ``detail`` is for people, ``errors`` lists row/field/reason items."""

    status = 400

    def __init__(self, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Invalid(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class TooLarge(DomainError):
    status = 413
