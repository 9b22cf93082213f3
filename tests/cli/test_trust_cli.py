"""`audit verify` and `backup --out FILE`: exit codes, messages, and what the backup holds."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from registry_app.cli import main
from registry_app.db import Database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import AuditEntry, Setting

from ..conftest import PASSWORDS
from ..helpers import sqlite_only
from ..reliability.tamper import drop_guards


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, user: str | None = None, password: str | None = None) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for key in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    if user:
        monkeypatch.setenv("REGISTRY_USER", user)
        monkeypatch.setenv("REGISTRY_PASSWORD", password if password is not None else PASSWORDS[user])
    return main(argv)


def _entries(db: Database) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_audit_verify_intact_then_tampered(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", database_url, "audit", "verify"], monkeypatch, "inspector") == 0
    out = capsys.readouterr().out
    count = len(_entries(db))
    assert f"audit trail intact: {count} entries" in out
    victim = _entries(db)[2]
    with db.engine.begin() as conn:
        drop_guards(conn)
        conn.execute(
            AuditEntry.__table__.update().where(AuditEntry.__table__.c.id == victim.id).values(reason="nothing to see")
        )
    assert run(["--database", database_url, "audit", "verify"], monkeypatch, "inspector") == 1
    captured = capsys.readouterr()
    assert f"broken at entry {victim.seq}" in captured.err and "altered" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_audit_verify_needs_a_signed_in_user(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", database_url, "audit", "verify"], monkeypatch) == 3
    assert run(["--database", database_url, "audit", "verify"], monkeypatch, "inspector", "wrong-password") == 3
    assert "user name or password is wrong" in capsys.readouterr().err


def test_audit_verify_on_a_registry_without_users(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", empty_database_url, "db", "upgrade"], monkeypatch) == 0
    capsys.readouterr()
    assert run(["--database", empty_database_url, "audit", "verify"], monkeypatch) == 0
    assert "1 entries" in capsys.readouterr().out  # the baseline entry that records the first site


def test_backup_writes_a_checked_copy_and_is_audited(
    database_url: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy.backup"
    assert run(["--database", database_url, "backup", "--out", str(out)], monkeypatch, "admin") == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size > 0 and f"backup written to {out}" in printed
    last = _entries(db)[-1]
    assert last.action == "back up registry" and str(out) in (last.after or "")
    if db.is_sqlite:
        from registry_app.services.backup import check_sqlite_file

        check = check_sqlite_file(out)
        assert check.ok and check.audit_entries == last.seq - 1, "the copy is the registry before this entry"
        assert "integrity ok" in printed
    else:
        listing = subprocess.run(
            [shutil.which("pg_restore") or "pg_restore", "--list", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert listing.returncode == 0 and "audit_entry" in listing.stdout


def test_backup_refusals_are_messages(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy.backup"
    assert run(["--database", database_url, "backup", "--out", str(out)], monkeypatch, "pharmacist") == 3
    assert "may not back up the registry" in capsys.readouterr().err and not out.exists()
    missing = tmp_path / "no-such-folder" / "copy.backup"
    assert run(["--database", database_url, "backup", "--out", str(missing)], monkeypatch, "admin") == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert run(["--database", database_url, "backup"], monkeypatch, "admin") == 2


def test_audit_head_and_anchor(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", database_url, "audit", "head"], monkeypatch, "inspector") == 0
    anchor = capsys.readouterr().out.strip()
    last = _entries(db)[-1]
    assert anchor == f"{last.seq}:{last.entry_hash}"  # the inspector's own sign-in is the newest entry
    assert run(["--database", database_url, "audit", "verify", "--anchor", anchor], monkeypatch, "inspector") == 0
    assert "intact" in capsys.readouterr().out
    assert run(["--database", database_url, "audit", "verify", "--anchor", "12:abc"], monkeypatch, "inspector") == 2
    assert "is not an anchor" in capsys.readouterr().err
    seq = int(anchor.split(":")[0])
    assert (
        run(["--database", database_url, "audit", "verify", "--anchor", f"{seq}:{'0' * 64}"], monkeypatch, "inspector")
        == 1
    )
    assert "differs from the anchor" in capsys.readouterr().err
    # An attacker cuts the trail short before the anchor and rewrites the head: the chain alone still holds,
    # the anchor kept elsewhere does not.
    entries = _entries(db)
    keep = entries[seq - 2]
    with db.engine.begin() as conn:
        drop_guards(conn)
        conn.execute(AuditEntry.__table__.delete().where(AuditEntry.__table__.c.seq >= seq))
        conn.execute(
            Setting.__table__.update()
            .where(Setting.__table__.c.key == "audit_head")
            .values(value=f"{keep.seq}:{keep.entry_hash}")
        )
    assert run(["--database", database_url, "audit", "verify", "--anchor", anchor], monkeypatch, "inspector") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: audit trail broken at entry {seq}:") and "anchor" in err


@sqlite_only("restore writes a new SQLite registry; a PostgreSQL archive goes through pg_restore")
def test_restore_checks_the_backup_and_never_overwrites(
    database_url: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file, restored = tmp_path / "copy.backup", tmp_path / "restored.sqlite3"
    assert run(["--database", database_url, "backup", "--out", str(backup_file)], monkeypatch, "admin") == 0
    capsys.readouterr()
    assert run(["restore", "--from", str(backup_file)], monkeypatch) == 2
    assert run(["restore", "--from", str(backup_file), "--to", "postgresql://pg/registry"], monkeypatch) == 1
    assert "pg_restore" in capsys.readouterr().err
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello")
    assert run(["restore", "--from", str(not_sqlite), "--to", str(restored)], monkeypatch) == 1
    assert "not an SQLite backup" in capsys.readouterr().err
    # Never over an existing registry (the one in use included).
    registry_file = make_url(database_url).database
    assert run(["restore", "--from", str(backup_file), "--to", str(registry_file)], monkeypatch) == 1
    assert "exists already" in capsys.readouterr().err
    assert run(["restore", "--from", str(backup_file), "--to", f"sqlite:///{restored}"], monkeypatch) == 0
    assert f"restored into {restored}" in capsys.readouterr().out
    restored_db = Database(sqlite_url_for(restored))
    try:
        entries = _entries(restored_db)
        assert entries[-1].action == "restore registry" and entries[-1].username == "system"
        assert [e.entry_hash for e in entries[:-1]] == [e.entry_hash for e in _entries(db)][: len(entries) - 1]
    finally:
        restored_db.dispose()
    assert run(["--database", sqlite_url_for(restored), "audit", "verify"], monkeypatch, "inspector") == 0
    # A backup whose trail was altered is refused, and nothing is written.
    victim = next(iter(_entries(db)))
    tampered = Database(sqlite_url_for(backup_file))
    with tampered.engine.begin() as conn:
        drop_guards(conn)
        conn.execute(
            AuditEntry.__table__.update().where(AuditEntry.__table__.c.id == victim.id).values(reason="rewritten")
        )
    tampered.dispose()
    again = tmp_path / "again.sqlite3"
    assert run(["restore", "--from", str(backup_file), "--to", str(again)], monkeypatch) == 1
    assert "audit trail broken at entry 1" in capsys.readouterr().err
    assert not again.exists() and not list(tmp_path.glob(".again.sqlite3.*"))
