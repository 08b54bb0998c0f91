"""Database migrations with Alembic (``labelfab init``, tests, and ``alembic`` from the repo root)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at ``migrations/``; the database URL comes from the settings."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def upgrade(revision: str = "head") -> None:
    """Bring the configured database to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)


def initialised() -> bool:
    """Whether the configured database has been set up by ``labelfab init`` (Alembic's version
    table is there)."""
    import sqlalchemy as sa

    from labeling.db import get_engine

    return sa.inspect(get_engine()).has_table("alembic_version")


def check() -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config())
