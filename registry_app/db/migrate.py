"""Schema migration with Alembic: opening a database brings it to head; a newer database is refused.

Alembic is imported only when there is migrating to do: a registry already at HEAD_REVISION opens with one
query, which keeps the desktop's start-up short (Alembic's import alone takes about 0.3-0.5 s here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from ..packaged import migrations_dir
from .engine import Database

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = migrations_dir()

# The newest revision in migrations/versions; a test keeps it equal to Alembic's head.
HEAD_REVISION = "0011"


class DatabaseTooNew(RuntimeError):
    """The database was migrated by a newer version of the registry than this one."""


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # configparser treats % as interpolation; URLs escape paths with %.
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for a database never migrated)."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None  # no alembic_version table: an empty database


def check_not_newer(engine: Engine) -> None:
    current = current_revision(engine)
    if current is None or current == HEAD_REVISION:
        return
    if not any(script.revision == current for script in _scripts().walk_revisions()):
        raise DatabaseTooNew(
            f"the database is at schema revision {current}, which this version of the registry does not know: "
            "it was written by a newer version. Open it with that version or newer."
        )


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for migrating. On SQLite, with foreign keys off until it ends: a revision
    that rebuilds a table (0011) drops it while other tables point at it, and SQLite applies the pragma only
    outside a transaction, so it is set before BEGIN. Every foreign key is checked before the commit instead."""
    with engine.connect() as connection:
        driver = connection.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                yield connection
                if driver is not None:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration broke {len(broken)} foreign keys, e.g. {tuple(broken[0])}")
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys = ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    check_not_newer(engine)
    config = alembic_config(engine)
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def open_database(url: str, migrate: bool = True) -> Database:
    """Open (and by default create or migrate to head) the registry at `url`."""
    database = Database(url)
    try:
        at_head = current_revision(database.engine) == HEAD_REVISION
        if migrate and not at_head:
            upgrade(database.engine)
        elif not at_head:
            check_not_newer(database.engine)
    except BaseException:
        database.dispose()
        raise
    return database
