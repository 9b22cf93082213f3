"""Each malformed-cell case of the format document, one column at a time: the import names exactly that row and
column, says what is wrong, and writes nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from registry_app.services import ServiceContext
from registry_app.services.imports import ImportResult, import_administrations, import_lots
from tests.helpers import FORMAT_EXAMPLES, audit_count, row_counts

LONG = "x" * 201

# (column, malformed cell) for row 2 of lots-example.csv, a fully documented exosome lot.
MALFORMED_LOT_CELLS = [
    ("product_name", ""),
    ("product_name", LONG),
    ("product_type", ""),
    ("product_type", "liposome"),
    ("manufacturer", LONG),
    ("manufacturer_country", "Korea"),
    ("manufacturer_country", "K1"),
    ("manufacturer_country", "ZZ"),
    ("supplier", LONG),
    ("gtin", "12345"),
    ("gtin", "08801234567894"),
    ("gtin", "0880123456789X"),
    ("lot_number", ""),
    ("lot_number", "L" * 81),
    ("expiry_date", "2027/06/30"),
    ("expiry_date", "30-06-2027"),
    ("expiry_date", "2027-02-30"),
    ("manufacture_date", "June 2024"),
    ("received_date", ""),
    ("received_date", "2026-13-02"),
    ("received_date", "2999-01-01"),
    ("received_by", LONG),
    ("quantity_received", ""),
    ("quantity_received", "0"),
    ("quantity_received", "-20"),
    ("quantity_received", "twenty"),
    ("quantity_received", "nan"),
    ("status", "pending"),
    ("status", "recalled"),
    ("status", "expired"),
    ("unit", ""),
    ("unit", "bottle"),
    ("presentation", "powder"),
    ("storage_form", "warm"),
    ("receipt_temperature_c", "cold"),
    ("receipt_temperature_c", "4,5"),
    ("package_intact", "maybe"),
    ("source", "unicorn"),
    ("donor_use", "both"),
    ("pn_species", "shark"),
    ("isolation_method", "magic"),
    ("labelled_routes", "topical_post_microneedling;by_mouth"),
    ("regulatory_jurisdiction", "USA"),
    ("regulatory_jurisdiction", "UK"),
    ("regulatory_status", "approved-ish"),
    ("regulatory_status", ""),  # while the row's regulatory_reference (IND 031245) documents a status
    ("labelled_particles_per_ml", "0"),
    ("labelled_particles_per_ml", "many"),
    ("particle_concentration_per_ml", "-9.2e9"),
    ("particle_concentration_per_ml", "inf"),
    ("particle_method", "dls"),
    ("size_mode_nm", "big"),
    ("size_mode_nm", "-1"),
    ("size_method", "tem"),
    ("protein_ug_per_ml", "n/a"),
    ("markers_detected", "cd9;cd999"),
    ("markers_not_detected", "calnexin;cd63"),
    ("imaging_method", "xray"),
    ("sterility", "ok"),
    ("endotoxin_eu_per_ml", "-0.12"),
    ("mycoplasma", "unknown"),
    ("dna_mg_per_ml", "lots"),
    ("molecular_weight_kda", "1_000"),
    ("result_source", "vendor"),
]

# (column, malformed cell) for row 2 of administrations-example.csv.
MALFORMED_ADMINISTRATION_CELLS = [
    ("administered_at", ""),
    ("administered_at", "10/03/2026"),
    ("administered_at", "2026-03-10T25:00"),
    ("administered_at", "2999-01-01"),
    ("product_name", ""),
    ("lot_number", ""),
    ("route", ""),
    ("route", "by_mouth"),
    ("body_area", "face;elbow"),
    ("quantity", "0"),
    ("quantity", "-1"),
    ("quantity", "one"),
    ("volume_ml", "five"),
    ("screening_done", "maybe"),
    ("contraindications", "bad_mood"),
]


def _with_cell(example: str, column: str, value: str, folder: Path) -> Path:
    """The example file with one cell of its first record row replaced (the column added, empty in the other
    rows, where the example has none)."""
    rows = list(csv.reader(io.StringIO((FORMAT_EXAMPLES / example).read_text(encoding="utf-8"))))
    if column not in rows[0]:
        rows = [[*row, column if number == 0 else ""] for number, row in enumerate(rows)]
    rows[1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = folder / example
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _rejected_cells(result: ImportResult) -> list[tuple[int, str]]:
    assert not result.ok and result.created == 0
    assert all(error.message.strip() for error in result.errors), result.error_lines()
    return [(error.row, error.column) for error in result.errors]


@pytest.mark.parametrize(("column", "value"), MALFORMED_LOT_CELLS)
def test_malformed_lot_cell_is_named_and_nothing_is_written(
    pharmacist: ServiceContext, tmp_path: Path, column: str, value: str
) -> None:
    before, entries = row_counts(pharmacist.db), audit_count(pharmacist.db)
    result = import_lots(pharmacist, _with_cell("lots-example.csv", column, value, tmp_path))
    assert _rejected_cells(result) == [(2, column)], result.error_lines()
    assert row_counts(pharmacist.db) == before and audit_count(pharmacist.db) == entries


@pytest.mark.parametrize(("column", "value"), MALFORMED_ADMINISTRATION_CELLS)
def test_malformed_administration_cell_is_named_and_nothing_is_written(
    pharmacist: ServiceContext, tmp_path: Path, column: str, value: str
) -> None:
    assert import_lots(pharmacist, FORMAT_EXAMPLES / "lots-example.csv").ok
    before, entries = row_counts(pharmacist.db), audit_count(pharmacist.db)
    result = import_administrations(pharmacist, _with_cell("administrations-example.csv", column, value, tmp_path))
    assert _rejected_cells(result) == [(2, column)], result.error_lines()
    assert row_counts(pharmacist.db) == before and audit_count(pharmacist.db) == entries
