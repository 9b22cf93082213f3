"""Schema migration with Alembic: opening a database brings it to head; a newer database is refused."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .engine import Database

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DatabaseTooNew(RuntimeError):
    """The database was migrated by a newer version of the registry than this one."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # configparser treats % as interpolation; URLs escape paths with %.
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_not_newer(engine: Engine) -> None:
    current = current_revision(engine)
    if current is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    if not _known(scripts, current):
        raise DatabaseTooNew(
            f"the database is at schema revision {current}, which this version of the registry does not know: "
            "it was written by a newer version. Open it with that version or newer."
        )


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    return any(script.revision == revision for script in scripts.walk_revisions())


def upgrade(engine: Engine, revision: str = "head") -> None:
    check_not_newer(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def open_database(url: str, migrate: bool = True) -> Database:
    """Open (and by default create or migrate to head) the registry at `url`."""
    database = Database(url)
    try:
        if migrate:
            upgrade(database.engine)
        else:
            check_not_newer(database.engine)
    except BaseException:
        database.dispose()
        raise
    return database
