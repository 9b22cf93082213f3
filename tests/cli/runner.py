"""Running the command line in-process as one of the template registry's users, and reading what it audited."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import AuditEntry

from ..conftest import PASSWORDS


def run(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    user: str | None = "pharmacist",
    password: str | None = None,
) -> int:
    """`registry-app --database URL ARGV...` signed in headless as `user` (REGISTRY_USER/REGISTRY_PASSWORD), with
    no terminal on stdin (a prompt would be refused, not waited for)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for key in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    if user is not None:
        monkeypatch.setenv("REGISTRY_USER", user)
        monkeypatch.setenv("REGISTRY_PASSWORD", password or PASSWORDS[user])
    return main(["--database", database_url, *argv])


def last_audit(db: Database) -> dict[str, Any]:
    """The newest audit entry (each changing command writes one; a sign-in writes its own before)."""
    with db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        return {
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "username": entry.username,
            "after": json.loads(entry.after) if entry.after else {},
            "reason": entry.reason,
        }
