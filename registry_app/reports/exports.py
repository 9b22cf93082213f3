"""Tables written as CSV (UTF-8, RFC 4180) or XLSX (openpyxl, typed cells, frozen header, filters on).

A table is a list of `Column`s and an iterable of row tuples in the same order. Values keep their Python
types up to here: the CSV writer renders them as text a spreadsheet reads back unambiguously (ISO dates,
plain numbers, true/false), the XLSX writer stores dates as dates and numbers as numbers.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

FORMATS: tuple[str, ...] = ("csv", "xlsx")

# Excel's own limits: a cell holds at most 32,767 characters, a sheet 1,048,576 rows.
XLSX_MAX_CELL = 32_767
XLSX_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class Column:
    """One column: its header and the kind of value it holds (text, number, date, datetime, bool)."""

    name: str
    kind: str = "text"
    width: int = 14


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[Column]
    rows: Sequence[tuple[Any, ...]]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_csv(path: str | Path, table: Table) -> int:
    """RFC 4180: comma-separated, CRLF line ends, fields with commas, quotes or line breaks quoted."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([c.name for c in table.columns])
        count = 0
        for row in table.rows:
            writer.writerow([_csv_text(v) for v in row])
            count += 1
    return count


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        # A text cell starting with "=" would be read as a formula by Excel: keep what was recorded.
        text = value if len(value) <= XLSX_MAX_CELL else value[: XLSX_MAX_CELL - 1] + "…"
        return "'" + text if text.startswith("=") else text
    return value


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def write_xlsx(path: str | Path, tables: Sequence[Table]) -> int:
    """One sheet per table, streamed (write-only) so 100k rows stay in bounded memory. Returns the rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    total = 0
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(table.title[:31])
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[_column_letter(index)].width = column.width
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        kinds = [c.kind for c in table.columns]
        rows = 0
        for row in table.rows:
            if rows + 1 >= XLSX_MAX_ROWS:
                raise ValueError(f"{table.title}: more than {XLSX_MAX_ROWS - 1} rows do not fit in one sheet; "
                                 "export as CSV instead")
            sheet.append([_xlsx_value(v, k) for v, k in zip(row, kinds, strict=True)])
            rows += 1
        last = _column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A1:{last}{rows + 1}"
        total += rows
    workbook.save(path)
    return total


def write_table(path: str | Path, fmt: str, table: Table) -> int:
    """Write one table in the format asked for; returns the number of data rows."""
    if fmt == "csv":
        return write_csv(path, table)
    if fmt == "xlsx":
        return write_xlsx(path, [table])
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def atomic_output(out: str | Path) -> tuple[Path, Path]:
    """A temporary file beside `out` to write to, so a failed export never leaves a half-written file there.

    Returns (temporary path, final path); move with `os.replace` when complete.
    """
    final = Path(out).expanduser().resolve()
    if final.is_dir():
        raise IsADirectoryError(21, "the output is a folder: give a file name", str(final))
    if not final.parent.is_dir():
        raise FileNotFoundError(2, "the folder does not exist", str(final.parent))
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(handle)
    return Path(name), final

