"""The per-lot results facts the lot rules read (domain/result_facts.py) equal a recomputation from the
results after every kind of write: ORM flushes, the receiving services (add, void), imports (new and
--update), the demo's bulk path; and the demo's Python computation equals the SQL definition."""

from __future__ import annotations

import csv
import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import CharacterizationResult, LotResultFacts
from registry_app.domain.result_facts import facts_of_results, lot_result_summary, stale_lot_result_facts
from registry_app.domain.vocab import MARKERS, METHODS, PARAMETER_SPEC, QUALITATIVE_RESULTS
from registry_app.services import ServiceContext
from registry_app.services.demo import generate as demo
from registry_app.services.imports import import_lots
from registry_app.services.lots import results

from ..helpers import FORMAT_EXAMPLES
from ..importers.generator import LOT_HEADER, lot_rows
from . import builders as b


def _stale(db: Database) -> list[int]:
    with db.read() as session:
        return stale_lot_result_facts(session.connection())


def _stored(db: Database, lot_id: int) -> dict[str, Any] | None:
    with db.read() as session:
        row = session.get(LotResultFacts, lot_id)
        return (
            None
            if row is None
            else {
                c: getattr(row, c)
                for c in ("has_endotoxin", "endotoxin_max", "sterility_fail", "contaminants_detected")
            }
        )


def _random_result(rng: random.Random) -> dict[str, Any]:
    parameter = rng.choice(sorted(PARAMETER_SPEC))
    unit, methods, results = PARAMETER_SPEC[parameter]
    row: dict[str, Any] = {"parameter": parameter, "method": rng.choice([None, "dls", *sorted(methods or METHODS)])}
    if parameter == "marker":
        row["marker"] = rng.choice(MARKERS)
    if unit is not None:
        row["value"] = round(rng.uniform(0, 200), 3)
    else:
        row["result"] = rng.choice(sorted(results or QUALITATIVE_RESULTS))
    return row


def test_orm_writes_keep_the_facts_and_python_equals_sql(db: Database) -> None:
    rng = random.Random(4)
    with db.write() as session:
        prod = b.product(session)
        lots = [b.lot(session, prod, results=False) for _ in range(40)]
        for lot in lots:
            for _ in range(rng.randint(0, 12)):
                b.result(session, lot, **_random_result(rng), voided=rng.random() < 0.15)
        # A correction voids a current result later in the same transaction: the flush refreshes again.
        first = session.execute(
            select(CharacterizationResult).where(CharacterizationResult.voided_at.is_(None)).limit(1)
        ).scalar_one()
        first.voided_at, first.void_reason = datetime(2025, 3, 1), "typed for the wrong lot"
        session.flush()
        fresh = {row[0]: tuple(row) for row in session.execute(lot_result_summary())}
        current = session.execute(
            select(
                CharacterizationResult.lot_id,
                CharacterizationResult.parameter,
                CharacterizationResult.method,
                CharacterizationResult.marker,
                CharacterizationResult.value,
                CharacterizationResult.result,
            ).where(CharacterizationResult.voided_at.is_(None))
        ).all()
    assert _stale(db) == []
    by_lot: dict[int, list[tuple[Any, ...]]] = {}
    for lot_id, *rest in current:
        by_lot.setdefault(lot_id, []).append(tuple(rest))
    assert len(fresh) > 30, "most lots have results"
    for lot in lots:
        python = facts_of_results(lot.id, by_lot.get(lot.id, []))
        assert python == fresh.get(lot.id), f"lot {lot.id}: {python} != {fresh.get(lot.id)}"


def test_receiving_add_and_void_keep_the_facts(pharmacist: ServiceContext) -> None:
    with pharmacist.db.write() as session:
        lot_id = b.lot(session, b.product(session), results=False).id
    assert _stored(pharmacist.db, lot_id) is None
    low = results.add_characterization_result(pharmacist, lot_id, "endotoxin", value="0.2", method="lal")
    high = results.add_characterization_result(pharmacist, lot_id, "endotoxin", value="0.9", method="lal")
    results.add_characterization_result(
        pharmacist, lot_id, "marker", marker="calnexin", result="detected", method="western_blot"
    )
    assert _stored(pharmacist.db, lot_id) == {
        "has_endotoxin": 1,
        "endotoxin_max": Decimal("0.9"),
        "sterility_fail": 0,
        "contaminants_detected": 1,
    }
    results.void_characterization_result(pharmacist, high, "wrong lot")
    assert _stored(pharmacist.db, lot_id)["endotoxin_max"] == Decimal("0.2")  # type: ignore[index]
    results.void_characterization_result(pharmacist, low, "wrong lot")
    assert _stored(pharmacist.db, lot_id)["has_endotoxin"] == 0  # type: ignore[index]
    assert _stale(pharmacist.db) == []


def test_imports_keep_the_facts(pharmacist: ServiceContext, tmp_path: Path) -> None:
    assert import_lots(pharmacist, FORMAT_EXAMPLES / "lots-example.csv").ok
    with pharmacist.db.read() as session:
        assert session.query(LotResultFacts).count() > 0
    assert _stale(pharmacist.db) == []
    changed = tmp_path / "changed.csv"
    changed.write_text((FORMAT_EXAMPLES / "lots-example.csv").read_text().replace(",0.12,negative", ",0.4,negative"))
    assert import_lots(pharmacist, changed, update=True).ok
    assert _stale(pharmacist.db) == []
    with pharmacist.db.read() as session:
        assert Decimal("0.4") in session.execute(select(LotResultFacts.endotoxin_max)).scalars().all()


def test_demo_bulk_path_keeps_the_facts(pharmacist: ServiceContext, admin: ServiceContext) -> None:
    summary = demo.generate_demo(admin, lots=60, seed=2, today=b.TODAY)
    with pharmacist.db.read() as session:
        assert session.query(LotResultFacts).count() == summary.counts["lots"]
    assert _stale(pharmacist.db) == []


def test_import_facts_worked_out_in_python_equal_sql(director: ServiceContext, tmp_path: Path) -> None:
    """A lot import writes its new lots' facts from the columns in hand (services/import_writer.py); they must
    equal the SQL definition over the results it wrote, for every mix of result cells (none at all, partial
    methods, contaminant markers detected or only tested, an empty marker list)."""
    rng = random.Random(9)
    rows = list(lot_rows(300, seed=3))
    for row in rows:
        for column in (
            "particle_concentration_per_ml",
            "particle_method",
            "size_mode_nm",
            "protein_ug_per_ml",
            "endotoxin_eu_per_ml",
            "dna_mg_per_ml",
            "molecular_weight_kda",
            "imaging_method",
            "sterility",
            "mycoplasma",
            "markers_detected",
            "markers_not_detected",
        ):
            row[column] = ""
        if rng.random() < 0.15:
            continue  # no results: no facts row
        if rng.random() < 0.5:
            row["particle_concentration_per_ml"] = f"{rng.uniform(1, 9):.2f}e9"
            row["particle_method"] = rng.choice(["", "nta", "trps", "nano_flow"])
        for column in (
            "size_mode_nm",
            "protein_ug_per_ml",
            "endotoxin_eu_per_ml",
            "dna_mg_per_ml",
            "molecular_weight_kda",
        ):
            if rng.random() < 0.4:
                row[column] = str(round(rng.uniform(0, 500), 3))
        row["imaging_method"] = rng.choice(["", "", "tem", "afm"])
        row["sterility"] = rng.choice(["", "pass", "fail"])
        row["mycoplasma"] = rng.choice(["", "negative", "positive"])
        markers = rng.sample(MARKERS, rng.randint(0, 6))
        split = rng.randint(0, len(markers))
        row["markers_detected"] = ";".join(markers[:split]) or rng.choice(["", ";"])
        row["markers_not_detected"] = ";".join(markers[split:])
    path = tmp_path / "mixed.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOT_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    done = import_lots(director, path)
    assert done.ok, done.error_lines()[:3]
    with director.db.read() as session:
        stored = {row[0]: tuple(row) for row in session.execute(select(LotResultFacts.__table__))}
        fresh = {row[0]: tuple(row) for row in session.execute(lot_result_summary())}
    assert 200 < len(stored) < 300
    assert stored == fresh
    assert _stale(director.db) == []
