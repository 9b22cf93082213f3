"""Issue 17: every CSV the application writes neutralises cells a spreadsheet would run as a formula (a leading
=, +, -, @, tab or CR gets a single quote in front), and CSV files carry a UTF-8 BOM so Excel reads Korean."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from registry_app.cli import main
from registry_app.reports.exports import Column, Table, write_csv
from registry_app.services import ServiceContext, reports
from registry_app.services.imports import import_lots

from ..conftest import PASSWORDS

DANGEROUS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tTAB=1", "\rCR=1"]


def _read(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_cells_get_a_leading_quote(tmp_path: Path, text: str) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, Table("t", (Column("note"), Column("quantity", "number")), [(text, -20), ("plain", 3.5)]))
    rows = _read(path)
    assert rows[1] == ["'" + text, "-20"], "text is neutralised; a negative number stays a number"
    assert rows[2] == ["plain", "3.5"]


def test_csv_files_have_a_bom_and_read_korean(tmp_path: Path) -> None:
    path = tmp_path / "korean.csv"
    write_csv(path, Table("t", (Column("product"),), [("엑소좀 앰플",)]))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw[3:].decode("utf-8").splitlines()[1] == "엑소좀 앰플"


def _import_dangerous_lot(director: ServiceContext, tmp_path: Path) -> None:
    path = tmp_path / "import.csv"
    path.write_text(
        "product_name,product_type,lot_number,received_date,quantity_received,unit,supplier\n"
        "=cmd|' /C calc'!A0,polynucleotide,@SUM(1+1),2026-03-01,5,vial,+Supplier\n",
        encoding="utf-8",
    )
    result = import_lots(director, path)
    assert result.ok, result.error_lines()


def test_an_export_of_imported_text_is_neutralised(director: ServiceContext, tmp_path: Path) -> None:
    _import_dangerous_lot(director, tmp_path)
    done = reports.export(director, "lots", "csv", tmp_path / "lots.csv")
    assert done.path.read_bytes().startswith(b"\xef\xbb\xbf")
    cells = [cell for row in _read(done.path)[1:] for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1+1)" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")]


def test_flags_csv_on_stdout_is_neutralised(
    database_url: str,
    director: ServiceContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _import_dangerous_lot(director, tmp_path)
    monkeypatch.setenv("REGISTRY_USER", "director")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["director"])
    assert main(["--database", database_url, "flags", "--format", "json"]) == 0
    flagged = json.loads(capsys.readouterr().out)
    assert any(f["product_name"].startswith("=") for f in flagged), "the dangerous product raises flags"
    assert main(["--database", database_url, "flags", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    names = {row["product_name"] for row in rows}
    assert "'=cmd|' /C calc'!A0" in names and not any(name.startswith("=") for name in names)
