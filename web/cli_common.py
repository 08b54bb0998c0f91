"""What every ``labelfab`` command module shares: failing with one line, and the user a
command acts as."""

from __future__ import annotations

import click

from labeling import users
from labeling.errors import DomainError
from labeling.models import Role


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def acting_user(email: str | None):
    """The user a command acts as: ``--as EMAIL``, else the first active admin."""
    if email:
        user = users.get_user_by_email(email)
        if user is None or not user.is_active:
            fail(f"no active user {email}")
        return user
    admin = next((u for u in users.list_users() if u.role == Role.admin and u.is_active), None)
    if admin is None:
        fail("there is no admin yet; run 'labelfab init' first (or pass --as EMAIL)")
    return admin


def domain_fail(exc: DomainError) -> None:
    """The refusal's message, then its error rows (at most 10) unless the message already says
    every one of them: a refusal about one thing stays one line."""
    rows = [str(e.get("detail", e)) if isinstance(e, dict) else str(e) for e in exc.errors[:10]]
    if all(row in exc.detail for row in rows):
        rows = []
    fail("\n".join([exc.detail] + [f"  {row}" for row in rows]))
