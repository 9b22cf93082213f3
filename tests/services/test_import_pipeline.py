"""The pipelined lot import (services/import_pipeline.py): a second process validates a large CSV chunk by chunk
while the service writes. It must write exactly what the one-piece import writes, and nothing at all when the
file has a problem in any chunk or the import is cancelled."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, select

from registry_app.db import Database
from registry_app.domain import AuditEntry, AuditRowHashes, Base, Setting
from registry_app.importers.lot_chunks import validate_lots_in_chunks
from registry_app.importers.lot_rows import validate_lots
from registry_app.importers.tabular import read_table
from registry_app.services import ServiceContext, ValidationError, audit, audit_records, import_pipeline
from registry_app.services.context import Actor
from registry_app.services.imports import IMPORT_MAX_BYTES_KEY, import_lots
from tests.helpers import audit_count, row_counts, sqlite_only
from tests.importers.generator import LOT_HEADER, lot_rows

CHUNK = 97  # rows per chunk: products (200 in the generator's catalogue) recur across chunks


def chunk_sizes(rows: int) -> list[int]:
    """The chunks a file of `rows` rows is written in: a quarter chunk first, so that writing starts sooner."""
    sizes = [min(rows, CHUNK // 4)]
    while sum(sizes) < rows:
        sizes.append(min(CHUNK, rows - sum(sizes)))
    return sizes


TABLES = (
    "manufacturer",
    "supplier",
    "product",
    "product_route",
    "product_regulatory_status",
    "lot",
    "characterization_result",
    "lot_result_facts",
    "temperature_excursion",
)


@pytest.fixture
def chunks_written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every file takes the pipeline, in chunks of CHUNK rows; returns the rows written per chunk."""
    monkeypatch.setattr(import_pipeline, "PIPELINE_FROM_BYTES", 1)
    monkeypatch.setattr(import_pipeline, "ROWS_PER_CHUNK", CHUNK)
    written: list[int] = []
    real = import_pipeline.write_new_lots

    def counting(connection: Any, new: Any, *args: Any, **kwargs: Any) -> Any:
        written.append(len(new))
        return real(connection, new, *args, **kwargs)

    monkeypatch.setattr(import_pipeline, "write_new_lots", counting)
    return written


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOT_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def details_given_late(count: int, seed: int) -> list[dict[str, str]]:
    """Lots whose product details, manufacturer, routes and regulatory status are left out of a product's
    first rows and given only in a later one (often a later chunk): the products must end up as the one-piece
    import makes them, and the receipt checks must see the storage form given late."""
    rows = list(lot_rows(count, seed=seed))
    late = ("gtin", "storage_form", "presentation", "manufacturer", "manufacturer_country", "labelled_routes")
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if index % 13 == 0:
            row["receipt_temperature_c"] = "31.5"  # outside every storage range: an excursion opens
        if index % 17 == 0:
            row["expiry_date"] = (date.fromisoformat(row["received_date"]) - timedelta(days=3)).isoformat()
        times = seen[row["product_name"]] = seen.get(row["product_name"], 0) + 1
        if times == 1:
            row.update(dict.fromkeys(late, ""), regulatory_status="", regulatory_reference="")
        elif times == 2 and row["regulatory_status"]:
            row["regulatory_jurisdiction"] = "EU"
    return rows


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, without the columns that differ between two imports of one
    file (the time written, the batch). Results are numbered kind by kind in each chunk rather than over the
    whole file: they are compared by what they say, not by id."""
    found = {}
    with db.read() as session:
        for name in TABLES:
            table = Base.metadata.tables[name]
            columns = [c for c in table.c if not isinstance(c.type, DateTime) and c.name != "import_batch"]
            if name == "characterization_result":
                columns = [c for c in columns if c.name != "id"]
            rows = [tuple(row) for row in session.execute(select(*columns).order_by(*table.primary_key.columns))]
            found[name] = sorted(rows, key=repr) if name == "characterization_result" else rows
    return found


def last_import_entry(db: Database) -> dict[str, Any]:
    with db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        after = json.loads(entry.after)
    assert entry.action == "import lots"
    after.pop("batch")
    return after


@sqlite_only("two registries from one template file")
def test_the_pipeline_writes_what_the_one_piece_import_writes(
    director: ServiceContext,
    chunks_written: list[int],
    tmp_path: Path,
    _template: tuple[str, dict[str, Actor]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_csv(tmp_path / "lots.csv", details_given_late(700, seed=5))
    piped = import_lots(director, path)
    assert piped.ok and piped.created == 700 and chunks_written == chunk_sizes(700)
    assert piped.excursions_opened > 0 and piped.products_created == 200 and piped.warnings

    shutil.copyfile(_template[0], tmp_path / "second.sqlite3")
    second = Database(f"sqlite:///{tmp_path / 'second.sqlite3'}")
    try:
        monkeypatch.setattr(import_pipeline, "PIPELINE_FROM_BYTES", 10**12)
        whole = import_lots(ServiceContext(second, _template[1]["director"]), path)
        assert whole.ok and chunks_written == chunk_sizes(700)  # the one-piece path wrote no chunk
        for name in ("created", "results_created", "products_created", "manufacturers_created"):
            assert getattr(piped, name) == getattr(whole, name), name
        assert (piped.suppliers_created, piped.excursions_opened, piped.rows) == (
            whole.suppliers_created,
            whole.excursions_opened,
            whole.rows,
        )
        assert piped.warnings == whole.warnings
        assert dump(director.db) == dump(second)
        assert last_import_entry(director.db) == last_import_entry(second)
    finally:
        second.dispose()


def test_a_problem_in_a_late_chunk_writes_nothing_and_is_listed_as_in_one_piece(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path
) -> None:
    rows = list(lot_rows(600, seed=6))
    rows[450]["received_date"] = "31/12/2025"  # a malformed cell in the fifth chunk
    rows[520]["lot_number"] = rows[10]["lot_number"]  # a lot given twice, in two chunks
    rows[520]["product_name"] = rows[10]["product_name"]
    path = write_csv(tmp_path / "bad.csv", rows)
    before, entries = row_counts(director.db), audit_count(director.db)
    result = import_lots(director, path)
    assert not result.ok and chunks_written  # the pipeline wrote chunks before it met the problem
    assert row_counts(director.db) == before and audit_count(director.db) == entries
    expected = validate_lots(read_table(path), date.today()).errors
    assert result.errors == expected and {e.row for e in expected} == {452, 522}


def test_a_lot_already_registered_in_a_late_chunk_writes_nothing(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path
) -> None:
    rows = list(lot_rows(400, seed=7))
    assert import_lots(director, write_csv(tmp_path / "first.csv", rows[390:])).ok
    before, entries = row_counts(director.db), audit_count(director.db)
    chunks_written.clear()
    result = import_lots(director, write_csv(tmp_path / "again.csv", rows))
    assert [(e.row, e.column) for e in result.errors] == [(row, "lot_number") for row in range(392, 402)]
    assert len(chunks_written) == 4 and row_counts(director.db) == before and audit_count(director.db) == entries


def test_a_pharmacist_giving_released_lots_writes_nothing(
    pharmacist: ServiceContext, chunks_written: list[int], tmp_path: Path
) -> None:
    rows = list(lot_rows(300, seed=8))
    for row in rows:
        row["status"] = "quarantine"
    rows[250]["status"] = "released"
    before = row_counts(pharmacist.db)
    result = import_lots(pharmacist, write_csv(tmp_path / "lots.csv", rows))
    assert [(e.row, e.column) for e in result.errors] == [(252, "status")]
    assert len(chunks_written) == 3 and row_counts(pharmacist.db) == before


def test_cancel_during_the_pipeline_writes_nothing(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "lots.csv", list(lot_rows(500, seed=9)))
    before, entries = row_counts(director.db), audit_count(director.db)
    calls: list[tuple[int, int]] = []

    def cancel_after_three_chunks(done: int, total: int) -> bool:
        calls.append((done, total))
        return len(chunks_written) < 3

    result = import_lots(director, path, progress=cancel_after_three_chunks)
    assert result.cancelled and not result.ok and len(chunks_written) == 3
    assert row_counts(director.db) == before and audit_count(director.db) == entries
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and calls[0][1] == 1000
    done = import_lots(director, path)
    assert done.ok and done.created == 500


@pytest.mark.parametrize("cut", [1, 3, 250])
def test_chunks_hold_the_rows_of_the_whole_file(tmp_path: Path, cut: int) -> None:
    """Validated in chunks of any size, with blank rows and padded cells, a file gives the rows (and their
    spreadsheet numbers) that validating it in one piece gives."""
    rows = list(lot_rows(40, seed=10))
    rows[5]["supplier"] = "  Padded Supplier "
    path = write_csv(tmp_path / "lots.csv", rows)
    text = path.read_text().splitlines()
    path.write_text("\n".join([*text[:8], ",,,", "", *text[8:], ""]))
    whole = validate_lots(read_table(path), date.today())
    parts = list(validate_lots_in_chunks(path.read_bytes(), date.today(), cut))
    assert not whole.errors and all(not part.errors for part in parts)
    assert [n for part in parts for n in part.numbers] == whole.numbers
    join: Callable[[str], list[Any]] = lambda name: [v for part in parts for v in part.columns[name]]  # noqa: E731
    assert all(join(name) == values for name, values in whole.columns.items())


def test_without_a_second_process_the_import_runs_in_one_piece(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start() -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(import_pipeline, "ValidatingProcess", cannot_start)
    with import_pipeline.validating_ahead(write_csv(tmp_path / "lots.csv", list(lot_rows(120, seed=11)))) as ahead:
        assert ahead is None
        result = import_lots(director, tmp_path / "lots.csv", ahead=ahead)
    assert result.ok and result.created == 120 and chunks_written == []


def test_the_pipeline_records_its_rows_in_the_audit_entry(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows the chunks write below the ORM (products, names, lots, results, excursions) are hashed into the
    import's entry, as the one-piece import's are: the records verify against the trail. The new lots and
    results are hashed from the values the chunks wrote (on SQLite nothing of them is read back)."""
    read_back: list[str] = []
    original = audit_records.current_hashes

    def counting(connection: Any, table: Any, ids: Any = None, after_id: Any = None, present: Any = None) -> Any:
        if after_id is not None:
            read_back.append(table.name)
        return original(connection, table, ids=ids, after_id=after_id, present=present)

    monkeypatch.setattr(audit_records, "current_hashes", counting)
    result = import_lots(director, write_csv(tmp_path / "lots.csv", details_given_late(300, seed=12)))
    assert result.ok and len(chunks_written) > 1 and result.excursions_opened > 0
    if director.db.is_sqlite:  # PostgreSQL numbers the rows itself: they are read back there
        assert not {"lot", "characterization_result"} & set(read_back), read_back
    monkeypatch.setattr(audit_records, "current_hashes", original)
    with director.db.read() as session:
        seq = session.execute(select(AuditEntry.seq).where(AuditEntry.action == "import lots")).scalar_one()
        recorded = json.loads(session.execute(select(AuditEntry.records).where(AuditEntry.seq == seq)).scalar_one())
        assert session.execute(select(AuditRowHashes.table_name).where(AuditRowHashes.seq == seq)).first()
    assert recorded["lot"]["rows"] == 300 and recorded["product"]["rows"] == result.products_created
    assert recorded["characterization_result"]["rows"] == result.results_created
    assert recorded["temperature_excursion"]["rows"] == result.excursions_opened
    verified = audit.verify(director.db)
    assert verified.ok and verified.records_checked, verified


class _NoProcess:
    """Stands in for ValidatingProcess where none may start: the test fails if one is asked for."""

    def __init__(self) -> None:
        raise AssertionError("a validating process was started")


def test_a_file_over_the_registry_limit_starts_no_process(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_pipeline, "ValidatingProcess", _NoProcess)
    path = write_csv(tmp_path / "lots.csv", list(lot_rows(200, seed=13)))
    with director.db.write() as session:
        session.add(Setting(key=IMPORT_MAX_BYTES_KEY, value="1000"))
    before = row_counts(director.db)
    with pytest.raises(ValidationError, match="over the limit of 1,000 bytes"):
        import_lots(director, path)
    with import_pipeline.validating_ahead(path, max_bytes=1000) as ahead:
        assert ahead is None
    assert chunks_written == [] and row_counts(director.db) == before


def test_a_fifo_starts_no_process(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_pipeline, "ValidatingProcess", _NoProcess)
    monkeypatch.setattr(import_pipeline, "PIPELINE_FROM_BYTES", 0)  # even a FIFO's size (0) would suit
    fifo = tmp_path / "lots.csv"
    os.mkfifo(fifo)
    with import_pipeline.validating_ahead(fifo) as ahead:
        assert ahead is None
    with pytest.raises(ValidationError, match="FIFO"):
        import_lots(director, fifo)
    assert chunks_written == []


def test_a_too_wide_row_in_a_late_chunk_is_refused_as_in_one_piece(
    director: ServiceContext, chunks_written: list[int], tmp_path: Path
) -> None:
    """The second process's reader holds the column limit too: the pipeline stops at the chunk holding the row,
    and the file is refused with read_table's line, nothing written."""
    path = write_csv(tmp_path / "wide.csv", list(lot_rows(300, seed=14)))
    lines = path.read_text().splitlines()
    lines[250] += "," * 300
    path.write_text("\n".join(lines) + "\n")
    before, entries = row_counts(director.db), audit_count(director.db)
    with pytest.raises(ValidationError, match=r"row 251 has 3\d\d columns, over the limit of 200 columns"):
        import_lots(director, path)
    assert chunks_written == [24, 97, 97]  # written before the fourth chunk was read, then rolled back
    assert row_counts(director.db) == before and audit_count(director.db) == entries
