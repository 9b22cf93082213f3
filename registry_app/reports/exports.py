"""Tables written as CSV (UTF-8 with BOM, RFC 4180) or XLSX (typed cells, frozen header, filters on).

A table is a list of `Column`s and an iterable of row tuples in the same order. Values keep their Python
types up to here: the CSV writer renders them as text a spreadsheet reads back unambiguously (ISO dates,
plain numbers, true/false), the XLSX writer (xlsx.py) stores dates as dates and numbers as numbers.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS: tuple[str, ...] = ("csv", "xlsx")


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


# Excel and LibreOffice read a cell starting with one of these as a formula (tab and CR as well, after which
# they trim): an imported lot number like `=HYPERLINK("http://evil", "click")` or `@SUM(...)` would run when an
# inspector opens the export (OWASP "CSV injection"). A leading single quote makes the spreadsheet show text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# The byte order mark makes Excel read the file as UTF-8: without it, Korean product names and patient notes
# open as mojibake in the clinics' Excel (which guesses the ANSI code page).
CSV_ENCODING = "utf-8-sig"


def csv_safe(text: str) -> str:
    """Text for a CSV cell that a spreadsheet will never evaluate as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


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
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number (e.g. -20 °C) stays a number: only text can smuggle in a formula
    return csv_safe(str(value))


def csv_cells(values: Sequence[Any]) -> list[str]:
    """One CSV record's cells as text, for every CSV writer of the application (exports, flags, lookback)."""
    return [_csv_text(v) for v in values]


def write_csv(path: str | Path, table: Table) -> int:
    """RFC 4180: comma-separated, CRLF line ends, fields with commas, quotes or line breaks quoted; UTF-8 with
    a BOM, text cells that would start a formula neutralised (`csv_safe`)."""
    with open(path, "w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([csv_safe(c.name) for c in table.columns])
        count = 0
        for row in table.rows:
            writer.writerow(csv_cells(row))
            count += 1
    return count


def write_xlsx(path: str | Path, tables: Sequence[Table]) -> int:
    """One sheet per table, streamed so 100k rows stay in bounded memory. Returns the rows."""
    from .xlsx import write_workbook

    return write_workbook(path, tables)


def write_table(path: str | Path, fmt: str, table: Table) -> int:
    """Write one table in the format asked for; returns the number of data rows."""
    if fmt == "csv":
        return write_csv(path, table)
    if fmt == "xlsx":
        return write_xlsx(path, [table])
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
