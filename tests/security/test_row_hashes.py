"""Issue 17: how a record's row is hashed (domain/row_hash.py), reproducibly and fast: the documented canonical
text, the same hash from the values a bulk writer wrote and from the row read back, and no read-back in bulk."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from registry_app.domain import Base
from registry_app.domain.row_hash import HASHED_COLUMNS, SKIPPED, number_text
from registry_app.services import ServiceContext, audit, audit_records
from registry_app.services.demo import generate as demo

from ..helpers import sqlite_only


def test_every_column_of_an_audited_table_is_hashed_or_left_out_on_purpose() -> None:
    for name, columns in HASHED_COLUMNS.items():
        table = Base.metadata.tables[name]
        assert set(columns) | SKIPPED.get(name, frozenset()) == {c.name for c in table.columns}, name
        assert len(set(columns)) == len(columns) and "id" in columns, name
        # Name order for the columns there at form 2; a later column is appended (never inserted), see the module.
        assert list(columns) == sorted(columns), name


@pytest.mark.parametrize("seed", range(5))
def test_a_double_and_the_decimal_it_names_hash_alike(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        value = round(rng.uniform(-1e7, 1e7), rng.randint(0, 9)) * rng.choice((1, 1e-9, 1e12, 1e20))
        exact = Decimal(repr(value))
        assert number_text(value) == number_text(exact), value
        assert "e" not in number_text(value).lower() and not number_text(value).endswith(".0")
    assert number_text(0.0) == number_text(-0.0) == number_text(Decimal("0E-9")) == "0"
    assert number_text(20.0) == number_text(Decimal("20.000")) == number_text(20) == "20"


def _stdlib_hash(values: list[Any]) -> bytes:
    """The README's rule, written without the registry: numbers of REAL columns as exact decimals in text."""
    while values and values[-1] is None:
        values.pop()
    return hashlib.sha256(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()).digest()


@sqlite_only
def test_a_row_hash_is_reproduced_from_the_documented_rule(admin: ServiceContext, database_url: str) -> None:
    demo.generate_demo(admin, lots=40, seed=3)
    connection = sqlite3.connect(str(make_url(database_url).database))
    columns = HASHED_COLUMNS["lot"]
    table = Base.metadata.tables["lot"]
    numeric = {c.name for c in table.columns if c.type.python_type in (float, Decimal)}
    row = connection.execute(f"SELECT {', '.join(columns)} FROM lot WHERE id = 7").fetchone()
    ids, hashes = connection.execute(
        "SELECT record_ids, row_hashes FROM audit_row_hashes WHERE table_name = 'lot' ORDER BY seq DESC"
    ).fetchone()
    connection.close()
    values = [
        (str(Decimal(repr(v)).normalize().__format__("f")) if v else "0") if n in numeric and v is not None else v
        for n, v in zip(columns, row, strict=True)
    ]
    at = audit_records._unpack(ids).index(7)
    assert _stdlib_hash(values) == hashes[at * 32 : at * 32 + 32]


def test_the_demo_hands_its_own_hashes_to_the_entry_and_they_verify(
    admin: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[str] = []
    original = audit_records.current_hashes

    def counting(connection: Any, table: Any, ids: Any = None, after_id: Any = None, present: Any = None) -> Any:
        if after_id is not None:
            read_back.append(table.name)
        return original(connection, table, ids=ids, after_id=after_id, present=present)

    monkeypatch.setattr(audit_records, "current_hashes", counting)
    summary = demo.generate_demo(admin, lots=60, seed=9)
    assert summary.counts["characterization_results"] > 0
    assert not {"lot", "characterization_result", "administration"} & set(read_back), read_back
    monkeypatch.undo()
    result = audit.verify(admin.db)
    assert result.ok and result.records_checked, result.describe()


def test_a_bulk_writer_whose_hashes_do_not_cover_every_new_row_is_read_back(
    admin: ServiceContext, tmp_path: Path
) -> None:
    """Hashes handed over for fewer rows than were inserted are not trusted: the rows are read back instead."""
    from sqlalchemy import insert

    from registry_app.domain import Supplier, utcnow

    with admin.db.write() as session:
        audit_records.note_inserts_from_here(session)
        session.execute(
            insert(Supplier), [{"name": f"S{i}", "name_key": f"s{i}", "created_at": utcnow()} for i in range(3)]
        )
        first = session.execute(Supplier.__table__.select().order_by(Supplier.id)).first()
        audit_records.note_hashed_rows(session, "supplier", [first.id], b"\x01" * 32)  # one of three, and wrong
        admin.audit(session, audit.AuditRecord("add suppliers", "supplier", None, after={"count": 3}))
    result = audit.verify(admin.db)
    assert result.ok and result.records_checked, result.describe()


def test_a_lot_import_hands_its_own_hashes_to_the_entry_and_they_verify(
    director: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_app.services.imports import import_lots
    from tests.importers.generator import write_lots_csv

    read_back: list[str] = []
    original = audit_records.current_hashes

    def counting(connection: Any, table: Any, ids: Any = None, after_id: Any = None, present: Any = None) -> Any:
        if after_id is not None:
            read_back.append(table.name)
        return original(connection, table, ids=ids, after_id=after_id, present=present)

    monkeypatch.setattr(audit_records, "current_hashes", counting)
    result = import_lots(director, write_lots_csv(tmp_path / "lots.csv", 300, 4))
    assert result.ok and result.created == 300 and result.results_created > 300
    if director.db.is_sqlite:  # PostgreSQL numbers the rows itself: they are read back there
        assert not {"lot", "characterization_result"} & set(read_back), read_back
    monkeypatch.undo()
    verified = audit.verify(director.db)
    assert verified.ok and verified.records_checked, verified.describe()
