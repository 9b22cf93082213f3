"""Schema migration with Alembic: opening a database brings it to head; a newer database is refused.

Alembic is imported only when there is migrating to do: a registry already at HEAD_REVISION opens with one
query, which keeps the desktop's start-up short (Alembic's import alone takes about 0.3-0.5 s here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ..packaged import migrations_dir
from .engine import Database

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = migrations_dir()

# The newest revision in migrations/versions; a test keeps it equal to Alembic's head.
HEAD_REVISION = "0010"


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


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    check_not_newer(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
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
