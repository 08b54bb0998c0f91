"""The pages, one blueprint per area (microblog style)."""

from __future__ import annotations

from functools import wraps

from flask import g
from flask_login import current_user

from labeling.access import ACTIONS, project_role, require_project
from labeling.db import read_session
from labeling.models import Project


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


def can(project_id: int, action: str) -> bool:
    """In templates: may the signed-in user ``action`` in the project? (Its role is read once
    per request and project.) Links to pages they may not open are not shown."""
    if not current_user.is_authenticated:
        return False
    roles = g.setdefault("project_roles", {})
    if project_id not in roles:
        with read_session() as s:
            project = s.get(Project, project_id)
            roles[project_id] = project_role(s, current_user.user, project) if project is not None else None
    return roles[project_id] in ACTIONS[action]
