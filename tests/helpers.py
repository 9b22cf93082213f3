"""Small helpers the tests share (row counts, running the CLI in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry_app.db import Database
from registry_app.domain import AuditEntry, Base


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table; the record hashes that go with audit entries are part of the trail, counted by it."""
    with db.read() as session:
        return {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in Base.metadata.tables.items()
            if name != "audit_row_hashes"
        }


def audit_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count(AuditEntry.id))).scalar_one()


def sqlite_only(reason: str = "SQLite-specific; the SQLite run covers it") -> pytest.MarkDecorator:
    """For tests of SQLite-only behaviour (file copies, PRAGMAs, the backup API): never marked `db`, so the
    PostgreSQL run (`-m db`) leaves them out rather than skipping them. `reason` says why, for the reader."""
    return pytest.mark.sqlite_only(reason)


# The spec's example import files (shared/formats), copied so the tests run anywhere;
# tests/test_spec_examples.py keeps the copies equal to ../shared when it is beside the repository.
FORMAT_EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "formats"
