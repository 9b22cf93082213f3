"""What the lot and administration imports share: their result (its errors shown up to a cap), the file read
once within the registry's limits with its digest, progress over validation and writing, and the audit entry's
compact id ranges."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry_app.db.bulk import WRITE_CHUNK, bulk_insert_dicts
from registry_app.domain import Setting
from registry_app.importers.lot_rows import ValidatedLots
from registry_app.importers.tabular import MAX_IMPORT_BYTES, RowError, Table, TableError, read_table
from registry_app.services.context import ServiceContext
from registry_app.services.errors import FieldError, ValidationError
from registry_app.services.lots.receipt_checks import expiry_warning

Progress = Callable[[int, int], bool | None]
IMPORT_MAX_BYTES_KEY = "import_max_bytes"
# An import with 200,000 bad rows still counts them all; a person reads the first ones.
ERROR_LINES_SHOWN = 50


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do). `errors` non-empty means nothing was written."""

    kind: str
    file_name: str
    sha256: str
    rows: int
    accepted: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    cancelled: bool = False
    batch: str | None = None
    products_created: int = 0
    products_updated: int = 0
    manufacturers_created: int = 0
    suppliers_created: int = 0
    results_created: int = 0
    # Receipt temperatures outside the product's storage range: each opened an excursion (rules.md, ruling 2).
    excursions_opened: int = 0
    # Not errors (the rows are written): e.g. lots expired before they were received. Listed by dry runs too.
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cancelled

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def error_lines(self, limit: int | None = ERROR_LINES_SHOWN) -> list[str]:
        """The errors as lines, the first `limit` of them and then "... and N more" (None: every one)."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [str(e) for e in shown]
        if len(shown) < len(self.errors):
            lines.append(f"... and {len(self.errors) - len(shown):,} more")
        return lines


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """An import builds millions of small objects (cells, rows, columns) that all live until it ends. The
    cyclic collector would traverse them again and again while finding no cycle (a third of the import's time
    at 100,000 rows); it is paused for the import. Reference counting still frees memory as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Cancelled(Exception):
    """Raised inside the write transaction so that it rolls back."""


def id_ranges(ids: Iterable[int]) -> list[str]:
    """Ids as compact ranges for the audit entry: [1, 2, 3, 7] -> ["1-3", "7"]."""
    ranges: list[str] = []
    ordered = sorted(set(ids))
    start: int | None = None
    prev = 0  # the range's last id, once start is set
    for value in ordered:
        if start is None:
            start = prev = value
        elif value == prev + 1:
            prev = value
        else:
            ranges.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = value
    if start is not None:
        ranges.append(f"{start}-{prev}" if start != prev else str(start))
    return ranges


def import_size_limit(session: Session) -> int:
    """The largest import file the registry reads (setting `import_max_bytes`, else MAX_IMPORT_BYTES)."""
    setting = session.get(Setting, IMPORT_MAX_BYTES_KEY)
    try:
        return int(setting.value) if setting is not None else MAX_IMPORT_BYTES
    except ValueError:  # a damaged setting must not lift the limit
        return MAX_IMPORT_BYTES


def registry_size_limit(ctx: ServiceContext) -> int:
    """import_size_limit read in a transaction of its own (before an import's, or before signing in: the
    command line checks a file against it before it starts validating the file)."""
    with ctx.db.read() as session:
        return import_size_limit(session)


def refusal(path: Path, error: TableError | OSError) -> ValidationError:
    """A file refused before its rows are looked at, in one line."""
    if isinstance(error, TableError):
        return ValidationError([FieldError("file", f"{path.name}: {error}")])
    return ValidationError([FieldError("file", f"{path}: {error.strerror or error}")])


def read_import_file(ctx: ServiceContext, path: str | Path) -> tuple[Path, str, Table]:
    """The file read once (limits checked first, importers/tabular.py), with its SHA-256."""
    path = Path(path)
    max_bytes = registry_size_limit(ctx)
    try:
        table = read_table(path, max_bytes)
    except (TableError, OSError) as error:
        raise refusal(path, error) from None
    return path, table.sha256, table


def chunks_of(items: list[Any], size: int = WRITE_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert_rows(
    session: Session, table: Any, rows: list[dict[str, Any]], after_chunk: Callable[[int], None] | None = None
) -> None:
    bulk_insert_dicts(session.connection(), table, rows, after_chunk)


class Reporter:
    """Progress over validation (first half) and writing (second half); False from the callback cancels."""

    def __init__(self, progress: Progress | None, rows: int) -> None:
        self.progress = progress
        self.total = max(2 * rows, 1)
        self.rows = rows

    def validating(self, done: int, _total: int) -> bool | None:
        return self.progress(done, self.total) if self.progress else None

    def writing(self, done: int) -> None:
        if self.progress is not None and self.progress(self.rows + done, self.total) is False:
            raise Cancelled

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def expiry_warnings(lots: ValidatedLots) -> list[str]:
    """Lots expired before they were received, listed before anything is written (a warning, not an error:
    a clinic's history may hold such a receipt, and the record is what happened)."""
    warnings = []
    for number, lot_number, expiry, received in zip(
        lots.numbers, lots.column("lot_number"), lots.column("expiry_date"), lots.column("received_date"), strict=True
    ):
        warning = expiry_warning(lot_number, expiry, received)
        if warning:
            warnings.append(f"row {number}: {warning}")
    return warnings
