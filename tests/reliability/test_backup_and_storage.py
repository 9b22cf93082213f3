"""Online backup while another process writes, and storage that cannot be written (issue 10, items 5, 6)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from registry_app.cli import main
from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import Administration, User
from registry_app.services import ServiceContext, StorageError
from registry_app.services.administrations import record_administration
from registry_app.services.audit import verify
from registry_app.services.auth import create_user, sign_in
from registry_app.services.backup import backup_registry, check_sqlite_file

from ..conftest import PASSWORDS
from ..helpers import row_counts, sqlite_only
from ..services.use_data import entry, make_lot, make_product
from .harness import integrity, parse_saved, start_worker, wait_started


def _administrations(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count(Administration.id))).scalar_one()


def _restore_pg(url: str, archive: Path) -> str:
    server = make_url(url)
    name = f"registry_restored_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    query = server.query
    args = [
        shutil.which("pg_restore") or "pg_restore",
        "--no-owner",
        f"--dbname={name}",
        f"--host={query.get('host') or server.host}",
        f"--port={query.get('port') or server.port}",
        f"--username={server.username}",
        str(archive),
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.mark.slow
def test_backup_while_another_process_writes_restores_intact(
    database_url: str, db: Database, admin: ServiceContext, tmp_path: Path
) -> None:
    lot_id = make_lot(db, make_product(db, routes=("topical_post_microneedling",)), quantity=1_000_000)
    writer = start_worker(
        "administrations", database_url, str(lot_id), "100000", "bk", password=PASSWORDS["pharmacist"]
    )
    wait_started(writer)
    assert writer.stdout is not None
    saved_before = [writer.stdout.readline() for _ in range(5)]
    result = backup_registry(admin, tmp_path / "registry.backup")
    more = [writer.stdout.readline() for _ in range(3)]
    writer.kill()
    writer.communicate()
    assert len(parse_saved(saved_before)) == 5 and len(parse_saved(more)) == 3
    if db.is_sqlite:
        restored_path = tmp_path / "restored.sqlite3"
        shutil.copyfile(result.path, restored_path)  # restoring is putting the file in place
        assert result.check is not None and result.check.ok
        restored_url = sqlite_url_for(restored_path)
    else:
        restored_url = _restore_pg(database_url, result.path)
    restored = open_database(restored_url)
    try:
        if restored.is_sqlite:
            assert integrity(restored_path) == "ok"
        assert verify(restored).ok
        copied = _administrations(restored)
        assert 5 <= copied <= _administrations(db), "a consistent moment between the first and last write"
    finally:
        restored.dispose()
    print(f"backup while writing: {copied} administrations in the copy, {_administrations(db)} in the registry")


@sqlite_only()
def test_read_only_registry_gives_a_clear_message_and_loses_nothing(
    database_url: str,
    template_users: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = make_url(database_url).database
    read_only_url = f"sqlite:///file:{path}?mode=ro&uri=true"
    writable = Database(database_url)
    counts = row_counts(writable)
    database = Database(read_only_url)
    try:
        ctx = ServiceContext(database, template_users["admin"])
        with pytest.raises(StorageError, match="read-only") as refused:
            create_user(ctx, "newcomer", "pharmacist", "long-enough-password")
        assert "nothing of this action was saved" in str(refused.value)
        with pytest.raises(StorageError, match="read-only"):
            sign_in(ServiceContext(database), "admin", PASSWORDS["admin"])
    finally:
        database.dispose()
    monkeypatch.setenv("REGISTRY_USER", "admin")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["admin"])
    assert main(["--database", read_only_url, "site", "set", "--jurisdiction", "KR"]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err
    assert row_counts(writable) == counts and verify(writable).ok
    writable.dispose()


@sqlite_only()
def test_full_disk_gives_a_clear_message_and_keeps_what_was_saved(
    database_url: str, template_users: dict[str, Any]
) -> None:
    setup = Database(database_url)
    lot_id = make_lot(setup, make_product(setup, routes=("topical_intact",)), quantity=1_000_000)
    setup.dispose()
    database = Database(database_url)

    @event.listens_for(database.engine, "connect")
    def _small_disk(dbapi_connection: Any, _record: Any) -> None:
        # The database may grow by a few pages only: the disk is "full" after that.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 4}")

    ctx = ServiceContext(database, template_users["pharmacist"])
    saved: list[int] = []
    with pytest.raises(StorageError, match="full") as full:
        for i in range(2000):
            saved.append(
                record_administration(
                    ctx, entry(lot_id, patient_ref=f"PT-{i:05d}", notes="x" * 400), confirm=True
                ).administration_id
            )
    database.dispose()
    assert saved, "some administrations fit before the disk filled"
    assert "what was saved before is intact" in str(full.value)
    reopened = Database(database_url)
    try:
        assert integrity(make_url(database_url).database or "") == "ok"
        with reopened.read() as session:
            present = set(session.execute(select(Administration.id)).scalars())
        assert set(saved) == present, "everything reported saved is there, and nothing half-saved"
        assert verify(reopened).ok
        create_user(
            ServiceContext(reopened, template_users["admin"]), "after-cleanup", "pharmacist", "long-enough-password"
        )
        with reopened.read() as session:
            assert session.execute(select(User).where(User.username == "after-cleanup")).scalar_one()
    finally:
        reopened.dispose()
    print(f"full disk: {len(saved)} administrations saved before the disk filled, all present")


@sqlite_only()
def test_backup_file_check_reports_a_damaged_copy(database_url: str, admin: ServiceContext, tmp_path: Path) -> None:
    result = backup_registry(admin, tmp_path / "good.backup")
    damaged = tmp_path / "damaged.backup"
    data = bytearray(result.path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096
    damaged.write_bytes(bytes(data))
    check = check_sqlite_file(damaged)
    assert not check.ok and check_sqlite_file(result.path).ok
