"""Import use cases against a real registry: all-or-nothing, one audit entry, --update, dry run, cancel."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from registry_app.db import bulk
from registry_app.domain import AuditEntry, CharacterizationResult, Lot, Product, ProductRegulatoryStatus, Supplier
from registry_app.domain.result_facts import stale_lot_result_facts
from registry_app.importers.lot_rows import validate_lots
from registry_app.importers.tabular import read_table
from registry_app.services import ServiceContext, import_writer
from registry_app.services.imports import id_ranges, import_administrations, import_lots
from tests.helpers import audit_count, row_counts
from tests.importers.generator import write_lots_csv

from ..helpers import FORMAT_EXAMPLES

RESULT_KEYS = ("parameter", "method", "marker", "value", "unit", "result", "measured_by", "source_ref")

EXAMPLES = FORMAT_EXAMPLES


def test_example_files_import(pharmacist: ServiceContext) -> None:
    lots = import_lots(pharmacist, EXAMPLES / "lots-example.csv")
    assert lots.ok and (lots.created, lots.products_created, lots.manufacturers_created) == (4, 4, 4)
    administrations = import_administrations(pharmacist, EXAMPLES / "administrations-example.csv")
    assert administrations.ok and administrations.created == 4
    with pharmacist.db.read() as session:
        cordexa = session.execute(select(Lot).where(Lot.lot_number == "CX-2406-118")).scalar_one()
        assert cordexa.status == "quarantine" and cordexa.quantity_administered == 1
        assert cordexa.product.gtin == "08801234567893" and cordexa.supplier.name == "MedSource Distribution"
        markers = session.execute(
            select(func.count()).where(
                CharacterizationResult.lot_id == cordexa.id, CharacterizationResult.parameter == "marker"
            )
        ).scalar()
        assert markers == 7
        status = session.execute(
            select(ProductRegulatoryStatus).where(ProductRegulatoryStatus.product_id == cordexa.product_id)
        ).scalar_one()
        assert (status.jurisdiction, status.status, status.reference) == ("US", "investigational", "IND 031245")
        routes = {r.route for r in cordexa.product.labelled_routes}
        assert routes == {"topical_post_microneedling", "topical_post_fractional_laser"}
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "import lots")).scalar_one()
        after = json.loads(entry.after)
        assert after["file_name"] == "lots-example.csv" and after["sha256"] == lots.sha256 and after["rows"] == 4
        assert after["lots_created_count"] == 4


def test_one_bad_row_writes_nothing(pharmacist: ServiceContext, tmp_path: Path) -> None:
    text = (EXAMPLES / "lots-example.csv").read_text()
    bad = text.replace("2027-01-31", "31/01/2027").replace(",20,vial,", ",-20,vial,")
    path = tmp_path / "bad.csv"
    path.write_text(bad)
    before, entries = row_counts(pharmacist.db), audit_count(pharmacist.db)
    result = import_lots(pharmacist, path)
    assert result.error_lines() == [
        "row 2, column quantity_received: -20 must be greater than 0",
        "row 3, column expiry_date: '31/01/2027' is not a date: use YYYY-MM-DD, e.g. 2026-03-02",
    ]
    assert row_counts(pharmacist.db) == before and audit_count(pharmacist.db) == entries


def test_duplicates_against_the_registry_and_update(pharmacist: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(pharmacist, EXAMPLES / "lots-example.csv").ok
    again = import_lots(pharmacist, EXAMPLES / "lots-example.csv")
    assert [(e.row, e.column) for e in again.errors] == [
        (2, "lot_number"),
        (3, "lot_number"),
        (4, "lot_number"),
        (5, "lot_number"),
    ]
    changed = tmp_path / "changed.csv"
    changed.write_text((EXAMPLES / "lots-example.csv").read_text().replace(",0.12,negative", ",0.4,negative"))
    entries = audit_count(pharmacist.db)
    update = import_lots(pharmacist, changed, update=True)
    assert update.ok and update.updated == 4 and update.created == 0
    assert audit_count(pharmacist.db) == entries + 1
    with pharmacist.db.read() as session:
        endotoxin = (
            session.execute(
                select(CharacterizationResult)
                .where(CharacterizationResult.parameter == "endotoxin")
                .order_by(CharacterizationResult.id)
            )
            .scalars()
            .all()
        )
        # Exact decimals (rules.md): the values as recorded, not the doubles nearest them.
        cordexa = [r for r in endotoxin if r.value in (Decimal("0.12"), Decimal("0.4"))]
        assert [(r.value, r.voided_at is not None) for r in cordexa] == [
            (Decimal("0.12"), True),
            (Decimal("0.4"), False),
        ]
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert "0.12" in entry.before and "0.4" in entry.after


def test_product_type_conflict_with_registry(pharmacist: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(pharmacist, EXAMPLES / "lots-example.csv").ok
    path = tmp_path / "conflict.csv"
    path.write_text(
        "product_name,product_type,lot_number,received_date,quantity_received,unit\n"
        "nucleo-pn 20 ,exosome,NEW-1,2026-03-01,5,vial\n"
    )
    result = import_lots(pharmacist, path)
    assert result.error_lines() == [
        "row 2, column product_type: nucleo-pn 20 is registered as polynucleotide, not exosome"
    ]


def test_administration_for_unknown_lot(pharmacist: ServiceContext, tmp_path: Path) -> None:
    result = import_administrations(pharmacist, EXAMPLES / "administrations-example.csv")
    assert [(e.row, e.column) for e in result.errors] == [
        (2, "product_name"),
        (3, "product_name"),
        (4, "product_name"),
        (5, "product_name"),
    ]
    assert import_lots(pharmacist, EXAMPLES / "lots-example.csv").ok
    moved = tmp_path / "administrations.csv"
    moved.write_text((EXAMPLES / "administrations-example.csv").read_text().replace("PN20-7781", "PN20-0000"))
    result = import_administrations(pharmacist, moved)
    assert result.error_lines() == ["row 3, column lot_number: PN20-0000 is not a lot of Nucleo-PN 20 in the registry"]


def test_every_rejected_row_is_listed_at_once(pharmacist: ServiceContext, tmp_path: Path) -> None:
    """A malformed cell does not hide the rows the registry rejects: both kinds are listed in one answer."""
    assert import_lots(pharmacist, EXAMPLES / "lots-example.csv").ok
    again = tmp_path / "again.csv"
    again.write_text((EXAMPLES / "lots-example.csv").read_text().replace("2027-01-31", "31/01/2027"))
    before, entries = row_counts(pharmacist.db), audit_count(pharmacist.db)
    lots = import_lots(pharmacist, again)
    assert [(e.row, e.column) for e in lots.errors] == [
        (2, "lot_number"),
        (3, "expiry_date"),
        (4, "lot_number"),
        (5, "lot_number"),
    ]
    administrations = tmp_path / "administrations.csv"
    administrations.write_text(
        (EXAMPLES / "administrations-example.csv")
        .read_text()
        .replace("PN20-7781", "PN20-0000")
        .replace("2026-03-14T09:15", "14/03/2026")
    )
    given = import_administrations(pharmacist, administrations)
    assert [(e.row, e.column) for e in given.errors] == [(3, "lot_number"), (4, "administered_at")]
    assert row_counts(pharmacist.db) == before and audit_count(pharmacist.db) == entries


def test_dry_run_and_cancel_write_nothing(director: ServiceContext, tmp_path: Path) -> None:
    path = write_lots_csv(tmp_path / "lots.csv", 3000, seed=3)
    before, entries = row_counts(director.db), audit_count(director.db)
    dry = import_lots(director, path, dry_run=True)
    assert dry.ok and dry.created == 3000 and dry.dry_run
    assert row_counts(director.db) == before
    calls: list[tuple[int, int]] = []

    def cancel_while_writing(done: int, total: int) -> bool:
        calls.append((done, total))
        return done <= total // 2 + 10  # cancel once writing has begun

    cancelled = import_lots(director, path, progress=cancel_while_writing)
    assert cancelled.cancelled and not cancelled.ok
    assert calls and calls[-1][0] > 3000 and calls[0][1] == 6000
    assert row_counts(director.db) == before and audit_count(director.db) == entries
    done = import_lots(director, path, progress=lambda d, t: True)
    assert done.ok and done.created == 3000
    with director.db.read() as session:
        assert session.execute(select(func.count(Lot.id))).scalar() == 3000
        assert session.execute(select(func.count(Product.id))).scalar() == 200
    assert audit_count(director.db) == entries + 1


def test_id_ranges() -> None:
    assert id_ranges([5, 1, 2, 3, 7, 8]) == ["1-3", "5", "7-8"]
    assert id_ranges([]) == []


def test_bulk_written_rows_equal_the_rows_read_one_by_one(director: ServiceContext, tmp_path: Path) -> None:
    """The column-by-column writer stores exactly what each row's LotImportRow says, and the lots' results facts
    (refreshed over the range of new ids when more than one chunk of lots is written) match their results."""
    path = write_lots_csv(tmp_path / "lots.csv", 700, seed=5)
    expected_lots, expected_results = set(), set()
    for row in validate_lots(read_table(path), date.today()).rows:
        fields = row.lot_fields()
        expected_lots.add(
            (
                row.lot_number,
                fields.get("expiry_date"),
                fields.get("status", "quarantine"),
                fields.get("package_intact"),
                fields.get("quantity_received"),
                row.values.get("supplier"),
            )
        )
        expected_results.update((row.lot_number, *(item[k] for k in RESULT_KEYS)) for item in row.results())
    done = import_lots(director, path)
    assert done.ok and done.created == 700 and done.results_created == len(expected_results)
    with director.db.read() as session:
        lots = {
            tuple(row)
            for row in session.execute(
                select(
                    Lot.lot_number,
                    Lot.expiry_date,
                    Lot.status,
                    Lot.package_intact,
                    Lot.quantity_received,
                    Supplier.name,
                ).outerjoin(Supplier)
            )
        }
        results = {
            (number, *rest)
            for number, *rest in session.execute(
                select(Lot.lot_number, *(getattr(CharacterizationResult, k) for k in RESULT_KEYS)).join(Lot)
            )
        }
        assert stale_lot_result_facts(session.connection()) == []
    assert lots == expected_lots
    assert results == expected_results


INDEXES_SQL = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
}


def test_big_import_into_a_small_registry_rebuilds_the_plain_indexes(
    director: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write of more lots (results) than the table holds drops the tables' plain indexes and builds them
    again in the same transaction (on SQLite; PostgreSQL keeps them throughout): afterwards they are all
    there, as the schema defines them, and a cancelled import leaves them as they were; a later import into
    the fuller tables keeps them throughout."""
    monkeypatch.setattr(bulk, "DEFER_INDEXES_FROM", 100)
    dialect = director.db.engine.dialect.name
    on_sqlite = dialect == "sqlite"

    def indexes(connection: Connection | None = None) -> list[tuple[str, str]]:
        if connection is not None:
            return sorted(tuple(row) for row in connection.exec_driver_sql(INDEXES_SQL[dialect]))
        with director.db.read() as session:
            return indexes(session.connection())

    before = indexes()
    assert any(name == "ix_lot_status" for name, _ in before)
    dropped: list[str] = []
    real_bulk_insert = import_writer.bulk_insert

    def watching(connection, table, *args, **kwargs):  # type: ignore[no-untyped-def]
        if table.name in ("lot", "characterization_result"):
            present = {name for name, _ in indexes(connection)}
            dropped.extend(name for name, _ in before if name not in present)
        return real_bulk_insert(connection, table, *args, **kwargs)

    monkeypatch.setattr(import_writer, "bulk_insert", watching)
    path = write_lots_csv(tmp_path / "lots.csv", 600, seed=4)
    cancelled = import_lots(director, path, progress=lambda done, total: done <= total // 2 + 10)
    assert cancelled.cancelled and indexes() == before
    assert ("ix_lot_status" in dropped) == on_sqlite
    dropped.clear()
    done = import_lots(director, path)
    assert done.ok and done.created == 600
    if on_sqlite:
        assert "ix_lot_status" in dropped and "ix_characterization_result_lot_parameter" in dropped
    else:
        assert dropped == []
    assert indexes() == before
    with director.db.read() as session:
        if on_sqlite:
            assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert stale_lot_result_facts(session.connection()) == []
    dropped.clear()
    more = tmp_path / "more.csv"
    more.write_text(path.read_text().replace(",L2", ",M2"))  # the same products, other lot numbers
    assert import_lots(director, more).ok
    assert dropped == [] and indexes() == before
