"""``labelfab user`` and ``labelfab token``: users, passwords, sessions and API tokens, through the
same domain functions (``labeling.users``) as the REST API and the pages."""

from __future__ import annotations

import click

from labeling import users
from labeling.db import utcnow
from labeling.errors import DomainError
from labeling.models import Role, TokenScope
from labeling.settings import get_settings
from web.cli_common import fail


@click.group("user")
def user_group():
    """Manage users."""


@user_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="annotator", show_default=True)
@click.option("--password", help="at least 8 characters; generated and printed when left out")
@click.option("--name", default="")
def user_create(email: str, role: str, password: str | None, name: str):
    """Create a user."""
    generated = password is None
    password = password or users.generate_password()
    try:
        user = users.create_user(email, role=role, password=password, name=name)
    except DomainError as exc:
        fail(exc.detail)
    except users.UserError as exc:
        fail(str(exc))
    click.echo(f"created {user.role} {user.email} (id {user.id})")
    if generated:
        click.echo(f"password: {password}")


@user_group.command("invite")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="annotator", show_default=True)
@click.option("--name", default="")
def user_invite(email: str, role: str, name: str):
    """Create a user without a password (or take one that has none, or has forgotten theirs) and
    print a one-time link that sets it (the pages' invites: labeling.invites)."""
    # imported here, not at the top: it reads the settings, after the CLI's own start-up check
    from labeling import invites

    try:
        done = invites.invite(None, email, role=role, name=name)
    except DomainError as exc:
        fail(exc.detail)
    except users.UserError as exc:
        fail(str(exc))
    # the command cannot know the address people open labelfab at: only LABELFAB_PUBLIC_URL says it
    base = get_settings().public_url.rstrip("/")
    click.echo(f"{'created' if done.created else 'new link for'} {done.user.role} {done.user.email} (id {done.user.id})")
    if not base:
        click.echo("LABELFAB_PUBLIC_URL is not set, so this is the link's path: put the address people open "
                   "labelfab at in front of it (https://labels.example.com/invite/...), or set "
                   "LABELFAB_PUBLIC_URL to have whole links printed")
    click.echo(f"link (once, until {done.expires_at:%Y-%m-%d %H:%M} UTC): {base}/invite/{done.key}")


@user_group.command("password")
@click.argument("email")
@click.option("--password", help="the new password; generated and printed when left out")
def user_password(email: str, password: str | None):
    """Set a user's password."""
    user = users.get_user_by_email(email)
    if user is None:
        fail(f"no user {email}")
    generated = password is None
    password = password or users.generate_password()
    try:
        users.set_password(user.id, password)
    except users.UserError as exc:
        fail(str(exc))
    click.echo(f"password of {user.email} changed" + (f": {password}" if generated else ""))


@user_group.command("signout")
@click.argument("email")
def user_signout(email: str):
    """Sign EMAIL out everywhere: end every browser session (their API tokens stay)."""
    user = users.get_user_by_email(email)
    if user is None:
        fail(f"no user {email}")
    users.end_sessions(user.id)
    click.echo(f"every session of {user.email} is ended")


@user_group.command("list")
def user_list():
    """List users."""
    for u in users.list_users():
        click.echo(f"{u.id}\t{u.email}\t{u.role}\t{'active' if u.is_active else 'inactive'}")


@click.group("token")
def token_group():
    """Manage API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--scope", type=click.Choice([s.value for s in TokenScope]), default="full", show_default=True,
              help="read: read-only, for training pipelines")
@click.option("--name", default="")
@click.option("--expires", "expires_in_days", type=int, default=None,
              help=f"days until the token expires (1 to {users.MAX_TOKEN_DAYS}; default: never)")
def token_create(email: str, scope: str, name: str, expires_in_days: int | None):
    """Create an API token for EMAIL; the key is printed alone on the last line."""
    user = users.get_user_by_email(email)
    if user is None:
        fail(f"no user {email}")
    try:
        expires_at = users.token_expiry(expires_in_days=expires_in_days)
        key = users.create_token(user.id, name=name, scope=scope, expires_at=expires_at)
    except DomainError as exc:
        fail(exc.detail)
    except users.UserError as exc:
        fail(str(exc))
    until = f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    click.echo(f"token for {user.email} ({scope}{until}); it is shown once:")
    click.echo(key)


@token_group.command("list")
@click.option("--user", "email", default=None, help="only this user's tokens")
@click.option("--all", "show_all", is_flag=True, help="revoked tokens too")
def token_list(email: str | None, show_all: bool):
    """List API tokens: id, user, prefix, scope, name, created, last used, expiry, state."""
    user_id = None
    if email:
        user = users.get_user_by_email(email)
        if user is None:
            fail(f"no user {email}")
        user_id = user.id
    emails = {u.id: u.email for u in users.list_users()}
    now = utcnow()

    def when(t):
        return f"{t:%Y-%m-%d %H:%M}" if t else "-"

    for t in users.list_tokens(user_id, live=not show_all):
        state = ("revoked" if t.revoked_at else "expired" if t.expires_at and t.expires_at <= now else "active")
        click.echo("\t".join([str(t.id), emails.get(t.user_id, "?"), t.prefix, t.scope, t.name or "-",
                              when(t.created_at), when(t.last_used_at), when(t.expires_at), state]))


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int):
    """Revoke the API token TOKEN_ID (see 'labelfab token list')."""
    try:
        token = users.revoke_token(token_id)
    except DomainError as exc:
        fail(exc.detail)
    click.echo(f"token {token.id} ({token.prefix}...) revoked")
