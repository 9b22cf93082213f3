"""CSV and XLSX writers, read back with the csv module and openpyxl."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from registry_app.reports.exports import Column, Table, file_sha256, write_csv, write_table, write_xlsx

COLUMNS = (
    Column("lot_number"),
    Column("received", "date"),
    Column("at", "datetime"),
    Column("quantity", "number"),
    Column("intact", "bool"),
    Column("note"),
)
ROWS = [
    ("LOT-1", date(2024, 3, 1), datetime(2024, 3, 1, 9, 30), 10.0, True, 'says "hello", then\nleaves'),
    ("Lot-ü-2", date(2024, 3, 2), None, 2.5, False, '=HYPERLINK("http://x")'),
    ("LOT-3", None, datetime(2024, 3, 3, 23, 59, 1), None, None, None),
]


def test_csv_is_rfc4180_utf8_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    assert write_csv(path, Table("lots", COLUMNS, ROWS)) == 3
    raw = path.read_bytes()
    assert raw.count(b"\r\n") >= 4, "records end with CRLF"
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8 (tests/security checks more)"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [c.name for c in COLUMNS]
    assert rows[1] == ["LOT-1", "2024-03-01", "2024-03-01 09:30:00", "10", "true", 'says "hello", then\nleaves']
    assert rows[2][0] == "Lot-ü-2" and rows[2][3] == "2.5" and rows[2][4] == "false"
    assert rows[3] == ["LOT-3", "", "2024-03-03 23:59:01", "", "", ""]


def test_xlsx_cells_are_typed_with_frozen_header_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "lots.xlsx"
    assert write_table(path, "xlsx", Table("lots", COLUMNS, ROWS)) == 3
    sheet = openpyxl.load_workbook(path)["lots"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    assert [c.value for c in sheet[1]] == [c.name for c in COLUMNS]
    received, at, quantity, intact = sheet["B2"], sheet["C2"], sheet["D2"], sheet["E2"]
    assert received.is_date and received.value.date() == date(2024, 3, 1)
    assert at.is_date and at.value == datetime(2024, 3, 1, 9, 30)
    assert quantity.data_type == "n" and quantity.value == 10
    assert intact.data_type == "b" and intact.value is True
    assert sheet["D3"].value == 2.5
    # Text that looks like a formula stays text, as recorded.
    assert sheet["F3"].data_type == "s" and "HYPERLINK" in sheet["F3"].value
    assert sheet["B4"].value is None


def test_xlsx_one_sheet_per_table(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    write_xlsx(path, [Table("first", COLUMNS[:1], [("a",)]), Table("second", COLUMNS[:1], [("b",), ("c",)])])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["first", "second"]
    assert book["second"].max_row == 3


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        write_table(tmp_path / "x.ods", "ods", Table("x", COLUMNS, []))


def test_file_sha256_is_the_files_hash(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, Table("x", COLUMNS[:1], [("a",)]))
    import hashlib

    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_xlsx_keeps_text_as_recorded_drops_what_xml_cannot_hold_and_truncates_to_excels_limit(tmp_path: Path) -> None:
    path = tmp_path / "odd.xlsx"
    rows = [("=SUM(A1:A2)",), ("bell\x07 & <tag>",), ("x" * 40_000,)]
    assert write_xlsx(path, [Table("odd", (Column("note"),), rows)]) == 3
    sheet = openpyxl.load_workbook(path)["odd"]
    assert sheet["A2"].value == "=SUM(A1:A2)" and sheet["A2"].data_type == "s"
    assert sheet["A3"].value == "bell & <tag>"
    assert len(sheet["A4"].value) == 32_767 and sheet["A4"].value.endswith("…")
