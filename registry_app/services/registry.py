"""Opening a registry, for the desktop and the command line: where it is, whether it exists, its schema.

The desktop and the CLI reach the database only through services (an import-linter contract); this is
their door to the db package's opening and migration functions.
"""

from __future__ import annotations

from registry_app.db import Database, DatabaseTooNew, default_database_path, open_database, resolve_database_url
from registry_app.db.engine import BUSY_TIMEOUT_MS, ENV_DATABASE_URL, is_sqlite, sqlite_url_for
from registry_app.db.migrate import HEAD_REVISION, current_revision

__all__ = [
    "BUSY_TIMEOUT_MS",
    "ENV_DATABASE_URL",
    "HEAD_REVISION",
    "Database",
    "DatabaseTooNew",
    "current_revision",
    "default_database_path",
    "is_sqlite",
    "open_database",
    "resolve_database_url",
    "sqlite_url_for",
]
