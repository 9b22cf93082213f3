"""A large lot file validated chunk by chunk, in file order, for the import pipeline (services/import_pipeline.py):
this runs in a second process while the first writes the chunks already checked. No database here.

Each chunk is checked as `validate_lots` checks a whole file, and the checks across rows are carried from
chunk to chunk (a product keeps one type, a lot is given once), so a file whose chunks all pass is a file
`validate_lots` passes. The first chunk with any problem ends the run: the service then validates the whole
file again in one piece, which lists every problem as it always has.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from multiprocessing.queues import Queue
from pathlib import Path

from .lot_rows import ValidatedLots, validate_lots
from .tabular import MAX_IMPORT_BYTES, RowError, read_csv_in_chunks, read_regular_file

ROWS_PER_CHUNK = 10_000


@dataclass(frozen=True)
class Job:
    """The validating process's file: read only if it is a regular file of at most `max_bytes` (the registry's
    limit, checked by the parent before it started the process and again here as the file is opened)."""

    path: Path
    today: date
    rows_per_chunk: int = ROWS_PER_CHUNK
    max_bytes: int = MAX_IMPORT_BYTES


@dataclass(frozen=True)
class FileRead:
    """What the validating process sends before the chunks: the SHA-256 of the very bytes it validates (for
    the audit entry) and their line count (a bound on the rows to come)."""

    sha256: str
    lines: int


def validate_lots_in_chunks(data: bytes, today: date, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[ValidatedLots]:
    """A CSV's valid rows a chunk at a time; a chunk with errors (its own, or a conflict with an earlier chunk)
    is the last one yielded."""
    product_types: dict[str, str] = {}
    lots_given: set[tuple[str, str]] = set()
    for table in read_csv_in_chunks(data, rows_per_chunk):
        chunk = validate_lots(table, today)
        if not chunk.errors:
            keys, lot_numbers = chunk.product_keys, chunk.columns["lot_number"]
            for key, product_type in dict(zip(keys, chunk.columns["product_type"], strict=True)).items():
                if product_types.setdefault(key, product_type) != product_type:
                    chunk.errors.append(RowError(chunk.numbers[keys.index(key)], "product_type", "differs"))
            given = len(lots_given)
            lots_given.update(zip(keys, lot_numbers, strict=True))
            if len(lots_given) != given + len(chunk):
                chunk.errors.append(RowError(chunk.numbers[0], "lot_number", "given in an earlier chunk"))
        yield chunk
        if chunk.errors:
            return


def produce_validated_chunks(jobs: Queue[Job | None], out: Queue[FileRead | ValidatedLots | str | None]) -> None:
    """The validating process: waits for its job (None: nothing to do), then puts into `out` the FileRead, each
    validated chunk and None; on failure (the file unreadable, malformed, over a limit) a message instead."""
    job = jobs.get()
    if job is None:
        return
    # Validation builds millions of small objects that live until their chunk is sent, and finds no cycles
    # among them: the cyclic collector is off in this process of its own, as it is during an import.
    gc.disable()
    try:
        data = read_regular_file(job.path, job.max_bytes)
        out.put(FileRead(hashlib.sha256(data).hexdigest(), data.count(b"\n")))
        for chunk in validate_lots_in_chunks(data, job.today, job.rows_per_chunk):
            out.put(chunk)
        out.put(None)
    except BaseException as error:  # reported to the parent, which rolls back and validates in one piece
        out.put(f"{type(error).__name__}: {error}")
