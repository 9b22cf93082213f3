"""Migrations with data (issue 10, item 4): registries populated at each earlier schema revision, checked in
under tests/db/fixtures/, upgrade to head with every record intact; a newer database is refused."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from registry_app.cli import main
from registry_app.db import DatabaseTooNew, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.db.migrate import current_revision, head_revision
from registry_app.services import ServiceContext
from registry_app.services.audit import verify
from registry_app.services.auth import sign_in

from ..db.fixtures.make_registry_0001 import table_summary
from .harness import integrity

FIXTURES = Path(__file__).resolve().parents[1] / "db" / "fixtures"
POPULATED = sorted(FIXTURES.glob("registry-*.sqlite3"))


def _contents(path: Path) -> dict[str, object]:
    manifest = json.loads(POPULATED[0].with_suffix(".json").read_text())
    conn = sqlite3.connect(path)
    try:
        return {table: table_summary(conn, table, spec["columns"]) for table, spec in manifest["tables"].items()}
    finally:
        conn.close()


def _copy(fixture: Path, tmp_path: Path) -> Path:
    path = tmp_path / fixture.name
    shutil.copyfile(fixture, path)
    return path


@pytest.mark.parametrize("fixture", POPULATED, ids=lambda p: p.stem)
def test_populated_registry_upgrades_with_every_record_intact(fixture: Path, tmp_path: Path) -> None:
    manifest = json.loads(fixture.with_suffix(".json").read_text())
    path = _copy(fixture, tmp_path)
    database = open_database(sqlite_url_for(path))
    try:
        assert current_revision(database.engine) == head_revision()
        conn = sqlite3.connect(path)
        try:
            for table, expected in manifest["tables"].items():
                if table == "alembic_version":
                    continue
                if table in ("audit_entry", "setting"):
                    # 0008 appends one baseline entry and 0010 one for the users' group roles (each moves the
                    # head): the earlier entries are checked by the chain below, which links these to them.
                    now = table_summary(conn, table, expected["columns"])
                    assert now["count"] == expected["count"] + 2 * (table == "audit_entry")
                    continue
                now = table_summary(conn, table, expected["columns"])
                assert (table, now["count"], now["sha256"]) == (table, expected["count"], expected["sha256"])
        finally:
            conn.close()
        assert integrity(path) == "ok"
        assert verify(database).ok, "the audit trail made before the upgrade still verifies"
        actor = sign_in(ServiceContext(database), "admin", manifest["passwords"]["admin"])
        assert actor.role == "admin"
    finally:
        database.dispose()
    print(
        f"migrations tested: {fixture.stem} (revision {manifest['revision']}) -> {head_revision()}, "
        f"{sum(t['count'] for t in manifest['tables'].values())} rows checked"
    )


def test_a_registry_from_a_newer_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(POPULATED[0], tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = 'f00d_from_the_future'")
    conn.commit()
    conn.close()
    before = _contents(path)
    with pytest.raises(DatabaseTooNew, match="newer version"):
        open_database(sqlite_url_for(path))
    assert main(["--database", sqlite_url_for(path), "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "f00d_from_the_future" in err and "newer version" in err and "Traceback" not in err
    assert _contents(path) == before, "the newer registry's records are not touched"


def test_fixtures_exist() -> None:
    assert POPULATED, "tests/db/fixtures/ holds at least the registry made at revision 0001"
