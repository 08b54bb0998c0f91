"""Flask extensions, created once and initialised in ``create_app``."""

from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from labeling import limits

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.session_protection = "strong"

csrf = CSRFProtect()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per app and keys.

    Flask builds it on every request (and itsdangerous probes it with a test dump): a tenth of
    an API request's time, where API requests with a token use no session at all.
    """

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = app.extensions.get("labelfab.session_serializer")
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            app.extensions["labelfab.session_serializer"] = cached
        return cached[1]


class IdConverter(IntegerConverter):
    """``<int:...>`` of every route, bounded by what an id column holds: a larger number in a
    path matches no route (404) instead of reaching the database."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", limits.MAX_ID)
        super().__init__(map, *args, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies strictly (:func:`labeling.limits.loads`): nesting
    bounded, no NaN or Infinity, no lone surrogates. Every ``request.get_json()`` of the API
    and the pages parses through here, so each gets a 422 naming the place, never a 500."""

    sort_keys = False  # answers keep the order they are built in (and sorting costs time)

    def loads(self, s, **kwargs):
        return limits.loads(s)
