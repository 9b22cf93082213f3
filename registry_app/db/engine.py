"""Engine and sessions for the registry: SQLite by default (one file, WAL), any SQLAlchemy URL otherwise.

SQLite transactions that write start with BEGIN IMMEDIATE: the write lock is taken up front, so two
processes never both read and then fail to upgrade to a write (SQLITE_BUSY that no timeout can cure).
Read transactions stay deferred so a long import never blocks the window's reads (WAL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_DATABASE_URL = "REGISTRY_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
_WRITE = "registry_write"


def default_database_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("registry-app", appauthor=False)) / "registry.sqlite3"


def resolve_database_url(explicit: str | None = None) -> str:
    """--database, else REGISTRY_DATABASE_URL, else the SQLite file in the user's data directory."""
    if explicit:
        return explicit
    if os.environ.get(ENV_DATABASE_URL):
        return os.environ[ENV_DATABASE_URL]
    return f"sqlite:///{default_database_path()}"


def sqlite_url_for(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def _normalise_postgres(url: str) -> str:
    """`postgresql://` means psycopg 3 here, the driver this project ships with."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def create_registry_engine(url: str) -> Engine:
    url = _normalise_postgres(url)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a database error's text (shown, logged) never carries a patient reference or a note.
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is switched off so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """The registry's database: an engine plus read and write sessions, each one transaction."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or create_registry_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @property
    def display_name(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One read-write transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={_WRITE: True})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
