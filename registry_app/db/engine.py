"""Engine and sessions for the registry: SQLite by default (one file, WAL), any SQLAlchemy URL otherwise.

SQLite transactions that write start with BEGIN IMMEDIATE: the write lock is taken up front, so two
processes never both read and then fail to upgrade to a write (SQLITE_BUSY that no timeout can cure).
Read transactions stay deferred so a long import never blocks the window's reads (WAL).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .network import RECONNECT_DELAYS, committed, is_connection_lost, reads_wait_for_server, transaction_id

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
        """One read-write transaction: committed when the block ends, rolled back if it raises.

        On a server, a COMMIT whose acknowledgement was lost with the connection is checked (db/network.py):
        if the server committed it, the block ends normally, so a retry never saves it a second time."""
        with self._sessions() as session:
            session.begin()
            xid: int | None = None
            try:
                session.connection(execution_options={_WRITE: True})
                yield session
                if not self.is_sqlite:
                    xid = transaction_id(session)
            except BaseException:
                session.rollback()
                raise
            try:
                session.commit()
            except DBAPIError as error:
                if xid is None or not is_connection_lost(error) or not committed(self.engine, xid):
                    raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction. On a server that is out of reach (restarting), the connection is
        retried for a few seconds before the block runs; a drop inside the block raises."""
        with self._sessions() as session:
            session.begin()
            try:
                if not self.is_sqlite and reads_wait_for_server():
                    self._connect_waiting(session)
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    def _connect_waiting(self, session: Session) -> None:
        for delay in (*RECONNECT_DELAYS, None):
            try:
                session.connection()
                return
            except DBAPIError as error:
                if delay is None or not is_connection_lost(error):
                    raise
                session.rollback()
                session.begin()
                time.sleep(delay)

    def dispose(self) -> None:
        self.engine.dispose()
