"""Validation of the lot and administration formats: every malformed-cell case named in the format document
is rejected with its row and column; the example files are valid."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from registry_app.importers.administration_rows import validate_administrations
from registry_app.importers.lot_rows import validate_lots
from registry_app.importers.tabular import Table, TableError, read_table

from ..helpers import FORMAT_EXAMPLES

EXAMPLES = FORMAT_EXAMPLES
TODAY = date(2026, 4, 1)
HEADER = [
    "product_name",
    "product_type",
    "lot_number",
    "received_date",
    "quantity_received",
    "unit",
    "gtin",
    "expiry_date",
    "package_intact",
    "source",
    "endotoxin_eu_per_ml",
]
GOOD = [
    "Cordexa UC-EV 10B",
    "exosome",
    "CX-1",
    "2026-03-02",
    "20",
    "vial",
    "08801234567893",
    "2027-06-30",
    "yes",
    "msc_umbilical_cord",
    "0.12",
]


def table(*rows: list[str], header: list[str] = HEADER) -> Table:
    return Table([h.lower() for h in header], [(n, list(r)) for n, r in enumerate(rows, start=2)])


def with_cell(column: str, value: str, lot: str = "CX-2") -> list[str]:
    row = list(GOOD)
    row[HEADER.index("lot_number")] = lot
    row[HEADER.index(column)] = value
    return row


def test_example_files_are_valid() -> None:
    lots = validate_lots(read_table(EXAMPLES / "lots-example.csv"), TODAY)
    assert lots.errors == [] and len(lots.rows) == 4
    cordexa = lots.rows[0]
    kinds = {(r["parameter"], r["marker"]) for r in cordexa.results()}
    assert ("marker", "cd63") in kinds and ("imaging", None) in kinds and ("endotoxin", None) in kinds
    assert lots.rows[2].values["unit"] == "syringe"  # `prefilled_syringe` names the unit syringe
    administrations = validate_administrations(
        read_table(EXAMPLES / "administrations-example.csv"), datetime(2026, 4, 1)
    )
    assert administrations.errors == [] and len(administrations.rows) == 4
    assert administrations.rows[1].fields()["body_areas"] == "periorbital;neck"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("expiry_date", "31/12/2027", "not a date"),
        ("source", "stem cells", "not a biological source"),
        ("quantity_received", "-5", "greater than 0"),
        ("quantity_received", "0", "greater than 0"),
        ("quantity_received", "twenty", "not a number"),
        ("endotoxin_eu_per_ml", "low", "not a number"),
        ("gtin", "08801234567894", "wrong check digit"),
        ("package_intact", "ok", "not yes or no"),
        ("received_date", "2026-04-02", "in the future"),
        ("received_date", "", "required but the cell is empty"),
        ("unit", "box", "not a unit"),
        ("product_type", "peptide", "not a product type"),
    ],
)
def test_each_malformed_cell_is_named(column: str, value: str, message: str) -> None:
    result = validate_lots(table(GOOD, with_cell(column, value)), TODAY)
    assert [(e.row, e.column) for e in result.errors] == [(3, column)]
    assert message in result.errors[0].message
    assert str(result.errors[0]).startswith(f"row 3, column {column}: ")
    assert [r.row for r in result.rows] == [2]


def test_missing_required_column_and_unknown_column() -> None:
    header = [h for h in HEADER if h != "lot_number"] + ["expiry"]
    row = [v for h, v in zip(HEADER, GOOD, strict=True) if h != "lot_number"] + ["2027-01-01"]
    result = validate_lots(table(row, header=header), TODAY)
    assert {(e.row, e.column) for e in result.errors} == {(1, "lot_number"), (1, "expiry")}
    assert "did you mean expiry_date" in str(next(e for e in result.errors if e.column == "expiry"))


def test_duplicates_in_the_file() -> None:
    result = validate_lots(table(GOOD, GOOD), TODAY)
    assert [(e.row, e.column) for e in result.errors] == [(3, "lot_number")]
    assert "already in row 2" in result.errors[0].message
    assert validate_lots(table(GOOD, GOOD), TODAY, update=True).errors == []


def test_every_rejected_row_is_listed() -> None:
    rows = [
        GOOD,
        with_cell("expiry_date", "soon", "A"),
        with_cell("unit", "crate", "B"),
        with_cell("quantity_received", "-1", "C"),
    ]
    result = validate_lots(table(*rows), TODAY)
    assert [e.row for e in result.errors] == [3, 4, 5]


def test_recalled_and_expired_statuses_explain_what_to_do() -> None:
    header = [*HEADER, "status"]
    for status, hint in (("recalled", "record the recall"), ("expired", "worked out from expiry_date")):
        result = validate_lots(table([*GOOD, status], header=header), TODAY)
        assert hint in result.errors[0].message


def test_administration_future_and_bad_route() -> None:
    header = ["administered_at", "product_name", "lot_number", "route", "screening_done"]
    rows = [
        ["2026-03-10T10:30", "P", "L", "intradermal", "yes"],
        ["2026-05-10", "P", "L", "intradermal", "yes"],
        ["2026-03-10", "P", "L", "injected", "perhaps"],
    ]
    result = validate_administrations(table(*rows, header=header), datetime(2026, 4, 1))
    assert [(e.row, e.column) for e in result.errors] == [(3, "administered_at"), (4, "route"), (4, "screening_done")]


def test_csv_with_bom_quotes_and_blank_rows(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"  {h.upper()} " for h in HEADER])
    writer.writerow([*GOOD[:1], "exosome", *GOOD[2:]])
    writer.writerow([""] * len(HEADER))
    path = tmp_path / "lots.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    loaded = read_table(path)
    assert loaded.columns == HEADER and len(loaded.rows) == 1
    assert validate_lots(loaded, TODAY).errors == []


def test_xlsx_first_sheet_with_typed_cells(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(
        [
            "Cordexa",
            "exosome",
            "CX-1",
            datetime(2026, 3, 2),
            20,
            "vial",
            "08801234567893",
            datetime(2027, 6, 30),
            True,
            "plant",
            0.12,
        ]
    )
    path = tmp_path / "lots.xlsx"
    workbook.save(path)
    result = validate_lots(read_table(path), TODAY)
    assert result.errors == []
    values = result.rows[0].values
    assert values["received_date"] == date(2026, 3, 2) and values["quantity_received"] == 20
    assert values["package_intact"] is True


def test_unreadable_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("product_name\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(TableError, match="line 2 is not UTF-8"):
        read_table(latin)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TableError, match="empty"):
        read_table(empty)
    with pytest.raises(TableError, match=r"\.csv or \.xlsx"):
        read_table(tmp_path / "lots.pdf")
