"""Writing a lot import's new lots and their characterization results, column by column.

The columns come from `validate_lots` (picked and merged by the service); products and suppliers are already
in the registry. Lots go in with one executemany per chunk, results with one per kind of result, in the
caller's transaction. Rows are written below the ORM, so the lots' results facts are written here too: worked
out from the columns in hand (the lots are new, their results are exactly these), not aggregated again in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from operator import is_not
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from registry_app.db.bulk import WrittenRows, bulk_insert, sqlite_indexes_deferred
from registry_app.domain import CharacterizationResult, Lot, LotResultFacts, name_key
from registry_app.domain.base import table_of
from registry_app.domain.result_facts import FACT_COLUMNS, SINGLE_PARTICLE_METHODS
from registry_app.domain.vocab import CONTAMINANT_MARKERS, CYTOSOLIC_MARKERS, TRANSMEMBRANE_MARKERS, LotStatus
from registry_app.importers.lot_rows import (
    LOT_FIELDS,
    NUMERIC_RESULTS,
    QUALITATIVE_RESULTS,
    LotImportRow,
    ValidatedLots,
)

LOT_TABLE = table_of(Lot)
RESULT_TABLE = table_of(CharacterizationResult)
FACTS_TABLE = table_of(LotResultFacts)


@dataclass
class NewLots:
    """The lots the file adds, column by column (the file's columns picked at these positions, with lots
    given twice under --update merged into their first row)."""

    columns: dict[str, list[Any]]
    product_keys: list[str]

    def __len__(self) -> int:
        return len(self.product_keys)


def new_lots(lots: ValidatedLots, positions: list[int] | None, merged: dict[int, LotImportRow]) -> NewLots:
    """The rows at `positions` (None: every row), each replaced by its merged LotImportRow where there is one."""
    if positions is None:
        return NewLots(lots.columns, lots.product_keys)
    columns = {name: [values[p] for p in positions] for name, values in lots.columns.items()}
    for index, position in enumerate(positions):
        row = merged.get(position)
        if row is not None:
            for name, values in columns.items():
                values[index] = row.values.get(name)
    return NewLots(columns, [lots.product_keys[p] for p in positions])


def write_new_lots(
    connection: Connection,
    new: NewLots,
    products: dict[str, tuple[int, str]],
    suppliers: dict[str, int],
    site_id: int,
    batch: str,
    now: datetime,
    after_chunk: Callable[[int], None] | None = None,
    written: Callable[[WrittenRows], None] | None = None,
) -> tuple[Sequence[int], int]:
    """The one place where an import's new rows go in: the lots, their characterization results and their
    results facts. Returns the lots' ids (in the order of `new`) and the number of results written.
    `written` (audit_records.RowHashes): given the new lots and results as stored, see bulk_insert."""
    lot_ids = insert_lots(connection, new, products, suppliers, site_id, batch, now, after_chunk, written)
    results = insert_results(connection, new, lot_ids, now, written)
    insert_new_lot_facts(connection, new, lot_ids)
    return lot_ids, results


def insert_lots(
    connection: Connection,
    new: NewLots,
    products: dict[str, tuple[int, str]],
    suppliers: dict[str, int],
    site_id: int,
    batch: str,
    now: datetime,
    after_chunk: Callable[[int], None] | None = None,
    written: Callable[[WrittenRows], None] | None = None,
) -> Sequence[int]:
    """Write the new lots; returns their ids in the order of `new`. `written`: see bulk_insert."""
    if not len(new):
        return []
    columns = new.columns
    product_id_of = {key: products[key][0] for key in set(new.product_keys)}
    lot_columns: dict[str, list[Any]] = {name: columns[name] for name in LOT_FIELDS if name in columns}
    lot_columns["product_id"] = list(map(product_id_of.__getitem__, new.product_keys))
    if "supplier" in columns:
        supplier_id_of: dict[str | None, int | None] = {None: None}
        supplier_id_of.update((name, suppliers[name_key(name)]) for name in set(columns["supplier"]) if name)
        lot_columns["supplier_id"] = list(map(supplier_id_of.__getitem__, columns["supplier"]))
    default_status = LotStatus.QUARANTINE.value
    if "status" in lot_columns:
        lot_columns["status"] = [status or default_status for status in lot_columns["status"]]
    constants = {
        "site_id": site_id,
        "import_batch": batch,
        "created_at": now,
        "quantity_administered": 0.0,
        "quantity_destroyed": 0.0,
    }
    if "status" not in lot_columns:
        constants["status"] = default_status
    first_id = connection.execute(select(func.max(Lot.id))).scalar() or 0
    with sqlite_indexes_deferred(connection, LOT_TABLE, len(new)):
        count = bulk_insert(connection, LOT_TABLE, lot_columns, constants, after_chunk, written)
    # SQLite numbers rows inserted under its write lock consecutively after the largest id; checked, not assumed.
    low, high, rows = connection.execute(
        select(func.min(Lot.id), func.max(Lot.id), func.count()).where(Lot.id > first_id, Lot.import_batch == batch)
    ).one()
    if connection.dialect.name == "sqlite" and rows == count and high - low + 1 == count:
        return range(low, high + 1)
    ids = {
        (pid, number): lot_id
        for lot_id, pid, number in connection.execute(
            select(Lot.id, Lot.product_id, Lot.lot_number).where(Lot.id > first_id, Lot.import_batch == batch)
        )
    }
    return [ids[key] for key in zip(lot_columns["product_id"], columns["lot_number"], strict=True)]


def insert_results(
    connection: Connection,
    new: NewLots,
    lot_ids: Sequence[int],
    now: datetime,
    written: Callable[[WrittenRows], None] | None = None,
) -> int:
    """Write the new lots' characterization results, one executemany per kind of result (the parameter, unit
    and kind are written into the statement once rather than bound on each of some 400,000 rows)."""
    columns = new.columns
    none = [None] * len(new)
    measured_by, source_ref = columns.get("result_source", none), columns.get("coa_ref", none)
    kinds: list[tuple[dict[str, Any], dict[str, list[Any]]]] = []  # (values in the statement, bound columns)

    def rows_with(values: Sequence[Any], *others: tuple[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """The columns at the rows where `values` is given (picked at C speed)."""
        if None not in values:
            return {name: list(column) for name, column in others}
        given = list(map(is_not, values, repeat(None)))
        return {name: list(compress(column, given)) for name, column in others}

    common = (("lot_id", lot_ids), ("measured_by", measured_by), ("source_ref", source_ref))
    for column, (parameter, unit, method_column) in NUMERIC_RESULTS.items():
        values = columns.get(column)
        if values is None:
            continue
        method = (("method", columns.get(method_column, none)),) if method_column else ()
        kinds.append(({"parameter": parameter, "unit": unit}, rows_with(values, ("value", values), *method, *common)))
    for column, kind in (("markers_detected", "detected"), ("markers_not_detected", "not_detected")):
        listed = columns.get(column)
        if listed is None:
            continue
        rows = [
            (lot_id, marker, by, ref)
            for lot_id, markers, by, ref in zip(lot_ids, listed, measured_by, source_ref, strict=True)
            if markers
            for marker in markers
        ]
        if rows:
            lot_col, marker_col, by_col, ref_col = (list(c) for c in zip(*rows, strict=True))
            kinds.append(
                (
                    {"parameter": "marker", "result": kind},
                    {"lot_id": lot_col, "marker": marker_col, "measured_by": by_col, "source_ref": ref_col},
                )
            )
    if "imaging_method" in columns:
        methods = columns["imaging_method"]
        kinds.append(
            ({"parameter": "imaging", "result": "performed"}, rows_with(methods, ("method", methods), *common))
        )
    for column, parameter in QUALITATIVE_RESULTS.items():
        outcomes = columns.get(column)
        if outcomes is not None:
            kinds.append(({"parameter": parameter}, rows_with(outcomes, ("result", outcomes), *common)))
    total = sum(len(picked["lot_id"]) for _, picked in kinds)
    count = 0
    with sqlite_indexes_deferred(connection, RESULT_TABLE, total):
        for shared, picked in kinds:
            count += bulk_insert(connection, RESULT_TABLE, picked, {**shared, "recorded_at": now}, written=written)
    return count


_TRANSMEMBRANE, _CYTOSOLIC = frozenset(TRANSMEMBRANE_MARKERS), frozenset(CYTOSOLIC_MARKERS)
_CONTAMINANT_BIT = {marker: 1 << i for i, marker in enumerate(CONTAMINANT_MARKERS)}


def _marker_facts(detected: tuple[str, ...] | None, absent: tuple[str, ...] | None) -> tuple[int, int, int, int]:
    """(ev_transmembrane, ev_cytosolic, ev_contaminant_tested, contaminants_detected) of a lot's markers."""
    detected, absent = detected or (), absent or ()
    bits = 0
    for marker in detected:
        bits |= _CONTAMINANT_BIT.get(marker, 0)
    return (
        int(not _TRANSMEMBRANE.isdisjoint(detected)),
        int(not _CYTOSOLIC.isdisjoint(detected)),
        int(any(m in _CONTAMINANT_BIT for m in (*detected, *absent))),
        bits,
    )


# The 0/1 facts and contaminant bits of lot_result_facts (every column but the lot and the measurements).
_FLAG_COLUMNS = FACT_COLUMNS[1:15]


def new_lot_facts(new: NewLots, lot_ids: Sequence[int]) -> dict[tuple[int, ...], list[tuple[Any, ...]]]:
    """The lot_result_facts rows of the new lots, from the results `insert_results` writes for them: the same
    answers as `lot_result_summary` over those rows (a test compares them), without reading them back. The
    lots are new, so these results are all they have; a lot without results gets no row. Grouped by the
    flags (a few dozen combinations): flags -> (lot_id, endotoxin_max, size_min/max, particles_min/max)."""
    columns = new.columns
    none = [None] * len(new)

    def column(name: str) -> list[Any]:
        return columns.get(name, none)

    markers: dict[tuple[Any, Any], tuple[int, int, int, int]] = {}
    single_particle = frozenset(SINGLE_PARTICLE_METHODS)
    groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for (
        lot_id,
        particles,
        particle_method,
        size,
        protein,
        endotoxin,
        dna,
        weight,
        detected,
        absent,
        imaging,
        sterility,
        mycoplasma,
    ) in zip(
        lot_ids,
        column("particle_concentration_per_ml"),
        column("particle_method"),
        column("size_mode_nm"),
        column("protein_ug_per_ml"),
        column("endotoxin_eu_per_ml"),
        column("dna_mg_per_ml"),
        column("molecular_weight_kda"),
        column("markers_detected"),
        column("markers_not_detected"),
        column("imaging_method"),
        column("sterility"),
        column("mycoplasma"),
        strict=True,
    ):
        if (
            particles is None
            and size is None
            and protein is None
            and endotoxin is None
            and dna is None
            and weight is None
            and not detected
            and not absent
            and imaging is None
            and sterility is None
            and mycoplasma is None
        ):
            continue
        marker = markers.get((detected, absent))
        if marker is None:
            marker = markers[(detected, absent)] = _marker_facts(detected, absent)
        flags = (
            int(particles is not None and particle_method in single_particle),
            int(protein is not None),
            marker[0],
            marker[1],
            marker[2],
            int(imaging is not None),
            int(dna is not None),
            int(weight is not None),
            int(sterility is not None),
            int(endotoxin is not None),
            int(mycoplasma is not None),
            int(sterility == "fail"),
            int(mycoplasma == "positive"),
            marker[3],
        )
        group = groups.get(flags)
        if group is None:
            group = groups[flags] = []
        group.append((lot_id, endotoxin, size, particles))
    return groups


def insert_new_lot_facts(connection: Connection, new: NewLots, lot_ids: Sequence[int]) -> int:
    """Write the new lots' results facts (see `new_lot_facts`), one insert per combination of flags with the
    flags written into the statement; returns the number of rows."""
    written = 0
    for flags, rows in new_lot_facts(new, lot_ids).items():
        lot_col, endotoxin, size, particles = (list(c) for c in zip(*rows, strict=True))
        written += bulk_insert(
            connection,
            FACTS_TABLE,
            {
                "lot_id": lot_col,
                "endotoxin_max": endotoxin,
                "size_min": size,
                "size_max": size,
                "particles_min": particles,
                "particles_max": particles,
            },
            dict(zip(_FLAG_COLUMNS, flags, strict=True)),
        )
    return written
