"""Error pages: JSON ``{"detail": ..., "errors": [...]}`` under /api, HTML elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from labeling.errors import DomainError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api" or request.path == "/health"


def error_response(status: int, detail: str, errors: list | None = None, title: str | None = None):
    if wants_json():
        response = jsonify({"detail": detail, "errors": errors or []})
        response.status_code = status
        return response
    return render_template("error.html", status=status, title=title or "Error", detail=detail, errors=errors or []), status


def _too_large(app: Flask) -> str:
    """What a 413 says: the limit that applied to this request, and the setting that sets it."""
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "accepts_uploads", False):
        limit = app.config["MAX_CONTENT_LENGTH"] or 0
        return f"the upload is larger than the limit of {limit / (1024 * 1024):g} MiB (LABELFAB_MAX_UPLOAD_MB)"
    limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"] or 0
    return (f"the request body is larger than the limit of {limit / (1024 * 1024):g} MiB "
            "(LABELFAB_MAX_REQUEST_MB; imports take up to LABELFAB_MAX_UPLOAD_MB)")


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return error_response(exc.status, exc.detail, exc.errors)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, f"CSRF check failed: {exc.description} Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            return error_response(413, _too_large(app), title=exc.name)
        response = make_response(error_response(exc.code or 500, exc.description or exc.name, title=exc.name))
        # the exception's own headers (a 405's Allow, RFC 9110), not its HTML Content-Type
        response.headers.extend([(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"])
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; the server log has the details", title="Internal error")
