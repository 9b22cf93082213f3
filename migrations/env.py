"""Alembic environment: batch mode (SQLite cannot ALTER most things) and the models' naming convention."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from registry_app.db.engine import create_registry_engine, resolve_database_url
from registry_app.db.migrate import migrating
from registry_app.domain import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # Each revision runs in its own transaction so a failing step leaves the previous head, not half a step.
        transaction_per_migration=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or resolve_database_url()
    engine = create_registry_engine(url) if url else engine_from_config({}, poolclass=pool.NullPool)
    with migrating(engine) as connection:  # foreign keys off on SQLite, checked before the commit
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `registry-app db upgrade`")
run_migrations_online()
