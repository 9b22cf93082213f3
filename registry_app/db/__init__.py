"""Engine, sessions and schema migration. No Qt here."""

from .engine import Database, create_registry_engine, default_database_path, is_sqlite, resolve_database_url
from .migrate import DatabaseTooNew, open_database, upgrade

__all__ = [
    "Database",
    "DatabaseTooNew",
    "create_registry_engine",
    "default_database_path",
    "is_sqlite",
    "open_database",
    "resolve_database_url",
    "upgrade",
]
