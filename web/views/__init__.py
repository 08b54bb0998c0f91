"""The pages, one blueprint per area (microblog style)."""

from __future__ import annotations

from functools import wraps

from flask_login import current_user

from labeling.access import require_project
from labeling.db import read_session


def project_access(action: str):
    """Check the caller's right to ``action`` in the page's project before anything else (the
    form included), so a refused caller gets 403 or 404, never a form error or a redirect."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_user.is_authenticated:
                with read_session() as s:
                    require_project(s, current_user.user, kwargs["project_id"], action)
            return view(*args, **kwargs)
        return wrapper
    return decorate
