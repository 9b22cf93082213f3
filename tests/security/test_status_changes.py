"""Issue 17: a lot's status changes only through the lifecycle services (release, reject, recall, destroy).

An import gives new lots the status they arrive with (a pharmacist: quarantine only) and never changes the
status of a lot already in the registry; the demo fills only an empty registry, and only an admin runs it on a
registry that has users."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from registry_app.domain import Lot
from registry_app.services import ConflictError, PermissionDenied, ServiceContext
from registry_app.services.demo import generate as demo
from registry_app.services.imports import import_lots

from ..helpers import audit_count, row_counts

HEADER = "product_name,product_type,lot_number,received_date,quantity_received,unit,status\n"


def _lots(tmp_path: Path, *rows: str, name: str = "lots.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def _status(ctx: ServiceContext, number: str) -> str:
    with ctx.db.read() as session:
        return session.execute(select(Lot.status).where(Lot.lot_number == number)).scalar_one()


def test_update_row_may_not_change_an_existing_lots_status(director: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(director, _lots(tmp_path, "Alpha PN,polynucleotide,A-1,2026-03-01,5,vial,")).ok
    assert _status(director, "A-1") == "quarantine"
    before, entries = row_counts(director.db), audit_count(director.db)
    changed = _lots(
        tmp_path,
        "Alpha PN,polynucleotide,A-1,2026-03-01,6,vial,released",
        "Alpha PN,polynucleotide,A-2,2026-03-01,5,vial,",
        name="update.csv",
    )
    result = import_lots(director, changed, update=True)
    assert not result.ok
    [error] = result.errors
    assert (error.row, error.column) == (2, "status")
    assert "quarantine" in error.message and "released" in error.message and "release" in error.message
    assert row_counts(director.db) == before and audit_count(director.db) == entries, "nothing written"
    assert _status(director, "A-1") == "quarantine"


def test_update_row_repeating_the_current_status_is_accepted(director: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(director, _lots(tmp_path, "Alpha PN,polynucleotide,A-1,2026-03-01,5,vial,")).ok
    same = _lots(tmp_path, "Alpha PN,polynucleotide,A-1,2026-03-01,6,vial,quarantine", name="same.csv")
    result = import_lots(director, same, update=True)
    assert result.ok and result.updated == 1


def test_pharmacist_imports_new_lots_in_quarantine_only(
    pharmacist: ServiceContext, director: ServiceContext, tmp_path: Path
) -> None:
    path = _lots(
        tmp_path,
        "Alpha PN,polynucleotide,A-1,2026-03-01,5,vial,quarantine",
        "Alpha PN,polynucleotide,A-2,2026-03-01,5,vial,released",
        "Alpha PN,polynucleotide,A-3,2026-03-01,5,vial,",
    )
    before = row_counts(pharmacist.db)
    result = import_lots(pharmacist, path)
    assert [(e.row, e.column) for e in result.errors] == [(3, "status")]
    assert "pharmacist" in result.errors[0].message
    assert row_counts(pharmacist.db) == before
    # A medical director may bring historical lots in with the status they had.
    assert import_lots(director, path).ok
    assert _status(director, "A-2") == "released"


def test_demo_needs_an_admin_on_a_registry_with_users(
    pharmacist: ServiceContext, director: ServiceContext, admin: ServiceContext
) -> None:
    for ctx in (pharmacist, director):
        before = row_counts(ctx.db)
        with pytest.raises(PermissionDenied):
            demo.generate_demo(ctx, lots=40, seed=1, today=date(2026, 1, 15))
        assert row_counts(ctx.db) == before
    assert demo.generate_demo(admin, lots=40, seed=1, today=date(2026, 1, 15)).counts["lots"] == 40


def test_demo_only_into_an_empty_registry(admin: ServiceContext, director: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(director, _lots(tmp_path, "Own PN,polynucleotide,O-1,2026-03-01,5,vial,")).ok
    before = row_counts(admin.db)
    with pytest.raises(ConflictError, match="empty"):
        demo.generate_demo(admin, lots=40, seed=1, today=date(2026, 1, 15))
    assert row_counts(admin.db) == before
