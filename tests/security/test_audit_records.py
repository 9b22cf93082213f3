"""Issue 17: an attacker with the sqlite3 shell on the registry file. Each attack changes the file behind the
registry's back (raw sqlite3, the app's guards dropped where they are in the way); `audit verify` must fail
and name what was changed, and a trail cut short is caught against the head kept outside the registry."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import AuditEntry
from registry_app.services import ServiceContext, anchors, audit, products
from registry_app.services.lots import lifecycle, receiving

from ..conftest import PASSWORDS
from ..helpers import sqlite_only

pytestmark = sqlite_only("the attacks are raw sqlite3 on the registry file")


def _verify(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("REGISTRY_USER", "inspector")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["inspector"])
    capsys.readouterr()
    code = main(["--database", database_url, "audit", "verify"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _verify_backup(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    capsys.readouterr()
    code = main(["audit", "verify", "--backup", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _shell(database_url: str, *statements: str) -> None:
    """What the attacker types into `sqlite3 registry.sqlite3`."""
    path = make_url(database_url).database
    assert path is not None
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


@pytest.fixture
def released(director: ServiceContext) -> int:
    """A product, a lot received and released (a signature row), as a medical director works."""
    product_id = products.create_product(
        director, {"name": "Rosa Vesicle Serum", "product_type": "exosome", "unit": "ampoule"}
    )
    lot_id = receiving.receive_lot(director, product_id, {"lot_number": "L-2291", "quantity_received": 5}).lot_id
    lifecycle.release_lot(
        director,
        lot_id,
        PASSWORDS["director"],
        acknowledged=[f.code for f in lifecycle.findings_to_acknowledge(director, lot_id)],
    )
    return lot_id


def _seq_of(db: Database, action: str) -> int:
    with db.read() as session:
        return int(
            session.execute(
                select(AuditEntry.seq).where(AuditEntry.action == action).order_by(AuditEntry.seq.desc())
            ).scalar_one()
        )


def test_an_intact_registry_verifies_with_its_records(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 0, text
    assert "every audited record matches it" in text
    assert "audit head: " in text


def test_a_lot_column_edited_in_the_shell_is_named(
    database_url: str, db: Database, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(database_url, f"UPDATE lot SET status = 'quarantine', released_at = NULL WHERE id = {released}")
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    seq = _seq_of(db, "release lot")
    assert f"lot {released} (L-2291) differs from what audit entry {seq} recorded: " in text
    assert "status" in text.split("recorded: ")[1]


def test_a_role_raised_in_the_shell_is_named(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(database_url, "UPDATE app_user SET role = 'medical_director' WHERE username = 'pharmacist'")
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "user " in text and "(pharmacist) differs from what audit entry" in text


def test_a_signature_altered_in_the_shell_is_named(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(database_url, "UPDATE signature SET signer_name = 'Someone Else'")
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "signature 1 differs from what audit entry" in text


def test_a_row_added_in_the_shell_is_named(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(
        database_url,
        "INSERT INTO signature (user_id, signer_name, meaning, subject_type, subject_id, content_hash, signed_at) "
        "SELECT user_id, signer_name, meaning, subject_type, subject_id, content_hash, signed_at FROM signature",
    )
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "signature 2 was added behind the registry's back" in text


def test_the_recorded_hash_rewritten_to_match_is_caught_by_the_chain(
    database_url: str, db: Database, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker edits the lot and also rewrites the hash stored for it: the entry's digest no longer fits."""
    _shell(database_url, f"UPDATE lot SET quantity_received = 500 WHERE id = {released}")
    with db.read() as session:
        [([record_id], digest)] = audit.audit_records.current_hashes(
            session.connection(), audit.audit_records.audited_table("lot"), ids=[released]
        )
    path = make_url(database_url).database
    connection = sqlite3.connect(str(path))
    for row_id, ids, hashes in connection.execute(
        "SELECT id, record_ids, row_hashes FROM audit_row_hashes WHERE table_name = 'lot'"
    ).fetchall():
        found = audit.audit_records._unpack(ids)
        if record_id in found:
            at = found.index(record_id) * 32
            patched = hashes[:at] + digest + hashes[at + 32 :]
            connection.execute("UPDATE audit_row_hashes SET row_hashes = ? WHERE id = ?", (patched, row_id))
    connection.commit()
    connection.close()
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "record hashes stored for entry" in text and "were altered" in text


def test_entries_cut_from_the_end_with_the_head_repointed_are_caught_against_the_kept_head(
    database_url: str, db: Database, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(database_url, monkeypatch, capsys)[0] == 0  # keeps the head on this computer
    kept = anchors.kept_anchor(database_url)
    assert kept is not None
    with db.read() as session:
        last_seq = session.execute(select(func.max(AuditEntry.seq))).scalar_one()
    cut = 2
    _shell(
        database_url,
        "DROP TRIGGER audit_entry_no_update",
        "DROP TRIGGER audit_entry_no_delete",
        f"DELETE FROM audit_row_hashes WHERE seq > {last_seq - cut}",
        f"DELETE FROM audit_entry WHERE seq > {last_seq - cut}",
        "UPDATE setting SET value = (SELECT seq || ':' || entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1) "
        "WHERE key = 'audit_head'",
    )
    # The truncated trail is consistent by itself (the records of the cut entries aside) ...
    assert anchors.check_kept(db) is not None  # ... the desktop's sign-in check warns ...
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1  # ... and so does `audit verify`.
    assert f"no longer holds entry {last_seq}" in text or "differs from what" in text or "added behind" in text


def test_the_kept_head_alone_catches_a_cut_that_leaves_the_records_consistent(
    database_url: str, db: Database, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A verify appends nothing, so the last entries of an inspector's sign-in carry no records: cutting them
    leaves every record as recorded; only the kept head shows the trail was cut."""
    assert _verify(database_url, monkeypatch, capsys)[0] == 0
    kept = anchors.kept_anchor(database_url)
    assert kept is not None
    _shell(
        database_url,
        "DROP TRIGGER audit_entry_no_delete",
        f"DELETE FROM audit_entry WHERE seq = {kept[0]} AND records IS NULL",
        "UPDATE setting SET value = (SELECT seq || ':' || entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1) "
        "WHERE key = 'audit_head'",
    )
    with db.read() as session:
        assert audit.verify_registry(session).ok  # the chain and the records alone cannot tell
    warning = anchors.check_kept(db)
    assert warning is not None and f"no longer holds entry {kept[0]}" in warning
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    # The verifier's own sign-in has meanwhile written a new entry under that number: not the one kept.
    assert f"audit entry {kept[0]} is not the one verified earlier on this computer" in text


def test_a_wiped_trail_is_caught(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(
        database_url,
        "DROP TRIGGER audit_entry_no_delete",
        "DELETE FROM audit_entry",
        "DELETE FROM audit_row_hashes",
        "UPDATE setting SET value = '0:" + "0" * 64 + "' WHERE key = 'audit_head'",
    )
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "added behind the registry's back" in text


def test_triggers_dropped_and_an_entry_edited_is_caught(
    database_url: str, released: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _shell(
        database_url,
        "DROP TRIGGER audit_entry_no_update",
        "UPDATE audit_entry SET records = NULL WHERE action = 'release lot'",
    )
    code, text = _verify(database_url, monkeypatch, capsys)
    assert code == 1
    assert "broken at entry" in text


def test_verify_of_a_backup_changes_no_byte_of_it(
    database_url: str,
    released: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup = tmp_path / "registry.backup"
    monkeypatch.setenv("REGISTRY_USER", "admin")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["admin"])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--database", database_url, "backup", "--out", str(backup)]) == 0
    assert "audit head: " in capsys.readouterr().err
    before = hashlib.sha256(backup.read_bytes()).hexdigest()
    listing = sorted(p.name for p in tmp_path.iterdir())
    code, text = _verify_backup(backup, monkeypatch, capsys)
    assert code == 0, text
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal or -shm left beside it
