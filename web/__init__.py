"""labelfab's Flask front end: ``create_app`` builds the app from the settings."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from labeling.settings import Settings, get_settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

HSTS = "max-age=31536000; includeSubDomains"


def create_app(settings: Settings | None = None) -> Flask:
    """The application factory (flaskr style): config from the environment, blueprints, errors."""
    settings = settings or get_settings()
    settings.ensure_data_dir()  # the database, secret key, media and datasets: this user's alone
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,  # a form field (a label config, instructions)
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        WTF_CSRF_TIME_LIMIT=None,
        LABELFAB=settings,
    )
    app.url_map.strict_slashes = False
    if settings.trusted_proxies:
        # X-Forwarded-For, -Proto and -Host as set by that many proxies (each appends its
        # client); without proxies anyone could send them: the address of log-in throttling
        # and the scheme stay the connection's own
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from web.extensions import IdConverter, JSONProvider, SessionInterface, csrf, login_manager

    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.json = JSONProvider(app)
    app.session_interface = SessionInterface()

    @app.before_request
    def bound_request_body():
        """Every route but an upload takes a body of at most LABELFAB_MAX_REQUEST_MB (before
        anything reads it: registered ahead of the CSRF check, which reads forms)."""
        view = app.view_functions.get(request.endpoint)
        if not getattr(view, "accepts_uploads", False):
            limit = app.config["MAX_CONTENT_LENGTH"]
            request.max_content_length = settings.max_request_bytes if limit is None else \
                min(settings.max_request_bytes, limit)

    login_manager.init_app(app)
    csrf.init_app(app)

    from web import auth, errors
    from web.api import bp as api_bp
    from web.views import annotate, data_manager, main, projects  # noqa: F401 (data_manager: routes on projects.bp)
    from web.views import can as views_can
    from web.views import dashboard as dashboard_views
    from web.views import datasets as datasets_views
    from web.views import people as people_views
    from web.views import quality as quality_views
    from web.views import review as review_views
    from web.views import tokens as tokens_views

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(annotate.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(review_views.bp)
    app.register_blueprint(quality_views.bp)
    app.register_blueprint(datasets_views.bp)
    app.register_blueprint(tokens_views.bp)
    app.register_blueprint(people_views.bp)
    app.register_blueprint(api_bp)
    app.add_template_global(views_can, "can")
    csrf.exempt(api_bp)  # the API checks CSRF itself for cookie sessions (see web.api)
    errors.register(app)

    from web.cli import register_commands

    register_commands(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if settings.session_cookie_secure:  # served over HTTPS: browsers must not fall back to HTTP
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return app
