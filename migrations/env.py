"""Alembic environment: the database comes from labelfab's settings, the models from labeling.models."""

from alembic import context
from sqlmodel import SQLModel

import labeling.models  # noqa: F401  (registers every table on SQLModel.metadata)
from labeling.db import get_engine

config = context.config
target_metadata = SQLModel.metadata

# Indexes only PostgreSQL has, made by hand in their migrations and not in the models (an
# expression GIN index has no portable declaration): autogenerate and `alembic check` leave them be.
POSTGRESQL_ONLY_INDEXES = {
    "ix_task_data_gin",  # 0009: labeling.dm.filters.data_may_equal
    "ix_task_project_key",  # 0023, dropped by 0031 (an older database may still have it)
}
# Indexes the models declare for SQLite only (``Index.ddl_if``); PostgreSQL has its own instead.
SQLITE_ONLY_INDEXES = {"ix_task_project_hash"}
# Foreign keys the models declare for SQLite only (``ForeignKeyConstraint.ddl_if``).
SQLITE_ONLY_FOREIGN_KEYS = {"fk_task_project_id_project"}  # 0025: labeling.imports.bulk.write


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "foreign_key_constraint" and name in SQLITE_ONLY_FOREIGN_KEYS:
        return context.get_context().dialect.name == "sqlite"
    if type_ != "index":
        return True
    if name in SQLITE_ONLY_INDEXES:
        return context.get_context().dialect.name == "sqlite"
    return name not in POSTGRESQL_ONLY_INDEXES


def run_migrations_offline() -> None:
    context.configure(
        url=str(get_engine().url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        user_module_prefix="labeling.models.",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection") or get_engine()
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
            user_module_prefix="labeling.models.",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
