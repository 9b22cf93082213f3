"""Reading a CSV or XLSX file as a header plus rows of text cells, numbered as a spreadsheet numbers them
(the header is row 1), and the row error every import reports: `row N, column NAME: what is wrong`."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from .cells import cell_text

CSV_SUFFIXES = frozenset({".csv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"row {self.row}, column {self.column}: {self.message}"
        return f"row {self.row}: {self.message}"


class TableError(ValueError):
    """The file cannot be read as a table at all (not CSV/XLSX, not UTF-8, empty)."""


@dataclass
class Table:
    """Header names (trimmed, lower-cased) and the record rows as (row number, cells) with text cells."""

    columns: list[str]
    rows: list[tuple[int, list[str]]]


def normalise_header(name: str) -> str:
    return " ".join(name.split()).casefold().replace(" ", "_")


def _is_blank(cells: Iterable[str]) -> bool:
    return not any(cells)


_ASCII_BLANKS = " \t\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip removes, line breaks aside
# Every cell edge (comma, quote, line break) to "\n" and every blank to " ": a cell is padded only where the
# translated text holds "\n " or " \n".
_EDGES_AND_BLANKS = bytes.maketrans(b',"\r' + _ASCII_BLANKS.encode(), b"\n\n\n" + b" " * len(_ASCII_BLANKS))


def _has_padded_cells(text: str) -> bool:
    """Whether any cell may start or end with whitespace: whitespace next to a comma, a quote or a line end.
    One byte translation and two substring scans, several times quicker than a regular expression (or a scan
    per pair of characters) over a 30 MB file; text with non-ASCII characters (which include more kinds of
    whitespace) is always trimmed."""
    if not text.isascii():
        return True
    marked = b"\n" + text.encode("ascii").translate(_EDGES_AND_BLANKS) + b"\n"
    return b"\n " in marked or b" \n" in marked


def _csv_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TableError(
            f"line {line} is not UTF-8 text: save the file as CSV UTF-8 (in Excel: Save As, CSV UTF-8)"
        ) from None


def _csv_rows(data: bytes) -> list[list[str]]:
    """Every row of the CSV, its cells trimmed."""
    text = _csv_text(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise TableError(f"the CSV is malformed: {error}") from None
    if _has_padded_cells(text):
        rows = [list(map(str.strip, row)) for row in rows]
    return rows


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and its own errors for a damaged file
        raise TableError(f"the file is not a readable XLSX workbook: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [cell_text(v) for v in values]
    finally:
        workbook.close()


def read_table(path: str | Path) -> Table:
    """Read the first sheet of an XLSX file or a UTF-8 CSV (with or without BOM). Entirely blank rows are
    skipped, as a spreadsheet's trailing empty rows are."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        rows: Iterable[list[str]] = _xlsx_rows(path)
    elif suffix in CSV_SUFFIXES or not suffix:
        rows = _csv_rows(path.read_bytes())
    else:
        raise TableError(f"{path.name}: import a .csv or .xlsx file")
    numbered = enumerate(rows, start=1)
    first = next(numbered, None)
    if first is None:
        raise TableError("the file is empty: the first row must hold the column names")
    if _is_blank(first[1]):
        raise TableError("row 1 is empty: the first row must hold the column names")
    header = [normalise_header(c) for c in first[1]]
    while header and not header[-1]:
        header.pop()
    if isinstance(rows, list) and all(map(any, rows)):
        return Table(header, list(numbered))  # no blank row (the usual case): numbered at C speed
    return Table(header, [(number, cells) for number, cells in numbered if any(cells)])


def read_csv_in_chunks(data: bytes, rows_per_chunk: int) -> Iterator[Table]:
    """A CSV's bytes read as read_table reads the file, handed out `rows_per_chunk` record rows at a time (each
    chunk with the header; the first chunk smaller), so that validating the first rows need not wait for the
    whole file to be split into cells."""
    text = _csv_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    # The first chunk's cells are trimmed whatever the file holds (trimming is a no-op on cells that need none),
    # so that the scan of the whole file for padded cells waits until that chunk is handed out.
    padded: bool | None = None
    try:
        numbered = enumerate((_stripped(row) if padded is not False else row for row in reader), start=1)
        first = next(numbered, None)
        if first is None:
            raise TableError("the file is empty: the first row must hold the column names")
        if _is_blank(first[1]):
            raise TableError("row 1 is empty: the first row must hold the column names")
        header = [normalise_header(c) for c in first[1]]
        while header and not header[-1]:
            header.pop()
        # The first chunk is a quarter of the others: whoever waits for it (the import's writer) starts sooner.
        size = max(1, rows_per_chunk // 4)
        while chunk := list(islice(numbered, size)):
            size = rows_per_chunk
            yield Table(header, chunk if all(any(cells) for _, cells in chunk) else [r for r in chunk if any(r[1])])
            if padded is None:
                padded = _has_padded_cells(text)
                del text
    except csv.Error as error:
        raise TableError(f"the CSV is malformed: {error}") from None


def _stripped(row: list[str]) -> list[str]:
    return list(map(str.strip, row))


def check_header(columns: list[str], known: Iterable[str], required: Iterable[str]) -> list[RowError]:
    """Row-1 problems: unknown, repeated or missing columns."""
    known_list = list(known)
    known_set = set(known_list)
    errors: list[RowError] = []
    seen: set[str] = set()
    for index, name in enumerate(columns, start=1):
        if not name:
            errors.append(RowError(1, f"#{index}", "the column has no name"))
        elif name not in known_set:
            close = difflib.get_close_matches(name, known_list, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors.append(RowError(1, name, f"is not a column of this import format{hint}"))
        elif name in seen:
            errors.append(RowError(1, name, "appears twice in the header"))
        seen.add(name)
    for name in required:
        if name not in seen:
            errors.append(RowError(1, name, "required column is missing"))
    return errors
