"""Reading a CSV or XLSX file as a header plus rows of text cells, numbered as a spreadsheet numbers them
(the header is row 1), and the row error every import reports: `row N, column NAME: what is wrong`.

Limits are checked before the work they bound, so a hostile or mistaken file is refused at once with one line
naming the limit: only a regular file is opened (a FIFO, a device or /dev/zero would block or never end), its
size is read from os.stat before any byte, an XLSX archive's uncompressed size from its zip directory before
openpyxl inflates anything, and a sheet's declared dimension (`A1:XFD1048576`) before a row is read.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from .cells import cell_text

CSV_SUFFIXES = frozenset({".csv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})

MAX_IMPORT_BYTES = 200 * 1024 * 1024  # the default; a registry may set another (services/import_common.py)
# The lot format has 44 columns: room for notes columns a clinic keeps, not for a runaway header.
MAX_COLUMNS = 200
MAX_ROWS = 1_048_576  # a spreadsheet's own limit
# What the members of an XLSX archive may inflate to: a zip bomb of a few KB declares gigabytes.
MAX_XLSX_UNCOMPRESSED = 1024 * 1024 * 1024
MAX_XLSX_MEMBERS = 10_000


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
    sha256: str = ""  # of the file as read


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


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):,.1f} MB" if count >= 1024 * 1024 else f"{count:,} bytes"


def _refuse_unless_regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise TableError(f"it is {kind}, not a regular file: import a .csv or .xlsx file")


def check_regular_file(path: str | Path, max_bytes: int, what: str = "an import file") -> int:
    """The size of a regular file of at most `max_bytes`, from os.stat alone (nothing is opened); TableError
    otherwise (OSError when there is no such file). The import pipeline checks this before it starts its second
    process, which reads the file with read_regular_file again."""
    path = Path(path)
    info = os.stat(path)
    _refuse_unless_regular(path, info.st_mode)
    if info.st_size > max_bytes:
        raise TableError(f"the file is {_size(info.st_size)}, over the limit of {_size(max_bytes)} for {what}")
    return info.st_size


def read_regular_file(path: str | Path, max_bytes: int, what: str = "an import file") -> bytes:
    """The bytes of a regular file of at most `max_bytes`; TableError before reading anything otherwise.
    O_NONBLOCK: should the path become a FIFO between the stat and the open, opening it does not wait for a
    writer, and the second check (on the open file) refuses it."""
    path = Path(path)
    check_regular_file(path, max_bytes, what)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as file:
        _refuse_unless_regular(path, os.fstat(file.fileno()).st_mode)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the stat
        raise TableError(f"the file is over the limit of {_size(max_bytes)} for {what}")
    return data


def _too_wide(count: int, where: str) -> TableError:
    return TableError(f"{where} has {count:,} columns, over the limit of {MAX_COLUMNS:,} columns")


def _check_shape(rows: list[list[str]]) -> None:
    if len(rows) > MAX_ROWS:
        raise TableError(f"the file has {len(rows):,} rows, over the limit of {MAX_ROWS:,} rows")
    widest = max(map(len, rows), default=0)
    if widest > MAX_COLUMNS:
        row = next(number for number, cells in enumerate(rows, start=1) if len(cells) == widest)
        raise _too_wide(widest, f"row {row}")


def _check_zip(data: bytes) -> None:
    """The archive's directory, read before anything is inflated: at most MAX_XLSX_MEMBERS members that
    inflate to at most MAX_XLSX_UNCOMPRESSED in all (zipfile never inflates a member past its declared size)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise TableError(f"the file is not a readable XLSX workbook: {error}") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise TableError(f"the workbook holds {len(members):,} parts, over the limit of {MAX_XLSX_MEMBERS:,}")
    inflated = sum(member.file_size for member in members)
    if inflated > MAX_XLSX_UNCOMPRESSED:
        raise TableError(
            f"the workbook inflates to {_size(inflated)}, over the limit of {_size(MAX_XLSX_UNCOMPRESSED)} "
            "for an XLSX import (a damaged or hostile file)"
        )


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
    _check_shape(rows)
    if _has_padded_cells(text):
        rows = [list(map(str.strip, row)) for row in rows]
    return rows


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    _check_zip(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and its own errors for a damaged file
        raise TableError(f"the file is not a readable XLSX workbook: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        # read_only mode pads every row to the declared dimension: A1:XFD1048576 in a 5 KB file would mean
        # 17 billion cells. The declaration is checked before the first row is read.
        declared = sheet.calculate_dimension() if sheet.max_column is not None else "?"
        if (sheet.max_column or 0) > MAX_COLUMNS:
            raise _too_wide(sheet.max_column, f"the sheet (declared as {declared})")
        if (sheet.max_row or 0) > MAX_ROWS:
            raise TableError(
                f"the sheet (declared as {declared}) has {sheet.max_row:,} rows, over the limit of {MAX_ROWS:,} rows"
            )
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS:
                raise TableError(f"the sheet has more than {MAX_ROWS:,} rows, the limit")
            if len(values) > MAX_COLUMNS:  # no dimension declared: each row is as wide as its last cell
                raise _too_wide(len(values), f"row {number}")
            if values.count(None) == len(values):  # a gap between rows (cheap: openpyxl repeats one tuple)
                yield []
                continue
            yield [cell_text(v) for v in values]
    finally:
        workbook.close()


def read_table(path: str | Path, max_bytes: int = MAX_IMPORT_BYTES) -> Table:
    """Read the first sheet of an XLSX file or a UTF-8 CSV (with or without BOM). Entirely blank rows are
    skipped, as a spreadsheet's trailing empty rows are. Only a regular file of at most `max_bytes` is read
    (OSError when it cannot be opened at all)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in XLSX_SUFFIXES and suffix not in CSV_SUFFIXES and suffix:
        raise TableError(f"{path.name}: import a .csv or .xlsx file")
    data = read_regular_file(path, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    rows: Iterable[list[str]] = _xlsx_rows(data) if suffix in XLSX_SUFFIXES else _csv_rows(data)
    del data  # the CSV's rows (or the workbook) hold what is needed
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
        return Table(header, list(numbered), digest)  # no blank row (the usual case): numbered at C speed
    return Table(header, [(number, cells) for number, cells in numbered if any(cells)], digest)


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
        if len(first[1]) > MAX_COLUMNS:
            raise _too_wide(len(first[1]), "row 1")
        header = [normalise_header(c) for c in first[1]]
        while header and not header[-1]:
            header.pop()
        # The first chunk is a quarter of the others: whoever waits for it (the import's writer) starts sooner.
        size = max(1, rows_per_chunk // 4)
        while chunk := list(islice(numbered, size)):
            size = rows_per_chunk
            _check_chunk_shape(chunk)
            yield Table(header, chunk if all(any(cells) for _, cells in chunk) else [r for r in chunk if any(r[1])])
            if padded is None:
                padded = _has_padded_cells(text)
                del text
    except csv.Error as error:
        raise TableError(f"the CSV is malformed: {error}") from None


def _check_chunk_shape(chunk: list[tuple[int, list[str]]]) -> None:
    """The limits read_table checks over the whole file (_check_shape), checked chunk by chunk."""
    if chunk[-1][0] > MAX_ROWS:
        raise TableError(f"the file has more than {MAX_ROWS:,} rows, over the limit of {MAX_ROWS:,} rows")
    widest = max(len(cells) for _, cells in chunk)
    if widest > MAX_COLUMNS:
        row = next(number for number, cells in chunk if len(cells) == widest)
        raise _too_wide(widest, f"row {row}")


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
