"""The ``labelfab`` command line. Each command calls the same domain function as the web."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from labeling import users
from labeling.errors import DomainError
from labeling.models import Role, TokenScope
from labeling.settings import SettingsError


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


@click.command("init")
def init_command():
    """Create or upgrade the database, and create the first admin if there is none."""
    from labeling import migrate

    migrate.upgrade()
    click.echo("database is up to date")
    if not any(u.role == Role.admin for u in users.list_users()):
        email = os.environ.get("LABELFAB_ADMIN_EMAIL", "admin@labelfab.local")
        password = users.generate_password()
        users.create_user(email, role=Role.admin, password=password, name="Admin")
        click.echo(f"created admin {email} with password {password} (shown once; change it with "
                   f"'labelfab user password {email}')")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="server processes")
@click.option("--threads", default=16, show_default=True, type=int, help="threads per process")
def serve_command(host: str, port: int, workers: int, threads: int):
    """Serve the app with gunicorn (threaded); with the stub broker, jobs run in-process."""
    from web.server import serve

    admin = next((u for u in users.list_users() if u.role == Role.admin), None)
    click.echo(f"labelfab is serving on http://{host}:{port}")
    if admin is not None:
        click.echo(f"log in as {admin.email} (password printed by 'labelfab init'; "
                   f"reset it with 'labelfab user password {admin.email}')")
    serve(host=host, port=port, workers=workers, threads=threads)


@click.command("worker")
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=2, show_default=True, type=int)
def worker_command(processes: int, threads: int):
    """Run dramatiq worker processes (Redis or RabbitMQ broker) for the default and quality queues."""
    from labeling import broker, jobs

    if broker.is_stub():
        fail("the stub broker runs jobs inside 'labelfab serve'; set LABELFAB_BROKER_URL to redis:// or amqp://")
    click.echo(f"re-sent {jobs.recover()} unfinished job(s)")
    args = [sys.executable, "-m", "dramatiq", "quality.worker", "--processes", str(processes),
            "--threads", str(threads), "--queues", "default", "quality"]
    sys.stdout.flush()
    os.execv(sys.executable, args)


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
def token_create(email: str, scope: str, name: str):
    """Create an API token for EMAIL; the key is printed alone on the last line."""
    user = users.get_user_by_email(email)
    if user is None:
        fail(f"no user {email}")
    key = users.create_token(user.id, name=name, scope=scope)
    click.echo(f"token for {user.email} ({scope}); it is shown once:")
    click.echo(key)


COMMANDS = [init_command, serve_command, worker_command, user_group, token_group]


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from web import create_app

    return create_app()


def main() -> None:
    """Console-script entry point."""
    group = FlaskGroup(create_app=_create_app, add_default_commands=False, add_version_option=False,
                       load_dotenv=False, set_debug_flag=False,
                       help="labelfab: data labeling with quality control built in.")
    try:
        group.main(prog_name="labelfab")
    except SettingsError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
