"""Bulk inserts for imports and the demo: rows given column by column, written with one executemany per table
and chunk, in the caller's transaction.

On SQLite the rows go straight to the driver's executemany as tuples (SQLAlchemy's per-row parameter
processing cost more than the insert itself), with values stored as SQLAlchemy's SQLite dialect stores them,
and values shared by every row (the batch, the time of the import) written once into the statement instead of
bound on each row. Elsewhere the rows go through SQLAlchemy's executemany. The database's CHECK and foreign
key constraints stay on either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True)
class WrittenRows:
    """Rows a bulk insert just wrote on SQLite, numbered `ids` (checked after the insert): the bound columns'
    values as SQLite stores them (None kept), and the values every row shares, as stored."""

    table: Table
    names: list[str]
    columns: list[Sequence[Any]]
    constants: dict[str, Any]
    ids: range


WRITE_CHUNK = 5000
# SQLite binds at most 999 values per statement in older builds (32766 since 3.32): rows per INSERT are capped
# by that, and by a count past which longer statements gain nothing.
MAX_BOUND = 999
ROWS_PER_STATEMENT = 100
# Below this many rows, index upkeep during an insert costs too little to be worth a rebuild.
DEFER_INDEXES_FROM = 20_000


def chunks(items: Sequence[Any], size: int = WRITE_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sqlite_storage(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How SQLAlchemy stores a value of this type on this dialect (its bind processor; None: as it is)."""
    text = column_type.dialect_impl(dialect).bind_processor(dialect)
    if text is None:
        return None
    # Imports repeat the same few dates thousands of times: each is converted once, and a column is mapped
    # through the memo's __getitem__ at C speed.
    return _StoredValues(text).__getitem__


class _StoredValues(dict[Any, Any]):
    def __init__(self, text: Callable[[Any], Any]) -> None:
        super().__init__({None: None})
        self.text = text

    def __missing__(self, value: Any) -> Any:
        stored = self[value] = self.text(value)
        return stored


_EMPTY_FOR_NULL: dict[Any, Any] = {None: ""}  # get(value, value): '' for None, any other value as it is


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    after_chunk: Callable[[int], None] | None = None,
    written: Callable[[WrittenRows], None] | None = None,
) -> int:
    """Insert len(any column) rows: `columns` maps column names to equally long value lists (of hashable
    values: str, numbers, dates, None), `constants` the columns every row shares. `after_chunk(rows_done)` runs
    after each chunk (it may raise to cancel). Returns the number of rows written. `written`, on SQLite, is given
    the rows as stored with their ids when SQLite numbered them consecutively after the largest (the audit
    trail hashes them from there instead of reading them back); elsewhere, or numbered otherwise, not called."""
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    if count == 0:
        return 0
    constants = dict(constants or {})
    done = 0
    if connection.dialect.name != "sqlite":
        shared = list(constants.items())
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        for chunk in chunks(rows):
            for row in chunk:
                row.update(shared)
            connection.execute(table.insert(), list(chunk))
            done += len(chunk)
            if after_chunk:
                after_chunk(done)
        return done
    stored: list[Sequence[Any]] = []
    as_stored: list[Sequence[Any]] = []  # the values as SQLite stores them, None kept (for the row hashes)
    marks: list[str] = []
    for name in names:
        convert = sqlite_storage(table.c[name].type, connection.dialect)
        values = columns[name] if convert is None else list(map(convert, columns[name]))
        as_stored.append(values)
        # The driver binds None through its adaptation protocol (a failed lookup per value, five times the cost
        # of binding a string); a column with empty cells binds '' instead, turned back into NULL by SQLite.
        # Only where '' is not itself a value of the column, so no value can be mistaken for an empty cell.
        if None in values and "" not in values:
            values = list(map(_EMPTY_FOR_NULL.get, values, values))
            marks.append("NULLIF(?, '')")
        else:
            marks.append("?")
        stored.append(values)
    literals = []
    constants_stored: dict[str, Any] = {}
    for name, value in constants.items():
        convert = sqlite_storage(table.c[name].type, connection.dialect)
        constants_stored[name] = value if convert is None or value is None else convert(value)
        literals.append(sql_literal(constants_stored[name]))
    first_id = None
    if written is not None and "id" not in columns:
        # Rows inserted under the write lock take the ids after the largest: checked after the insert.
        first_id = (connection.exec_driver_sql(f'SELECT max(rowid) FROM "{table.name}"').scalar() or 0) + 1
    # Many rows per statement: the driver's cost per executed statement (reset, step, bookkeeping) is paid once
    # per MAX_BOUND values instead of once per row, a third of the time of inserting 400,000 short rows.
    head = f"INSERT INTO {table.name} ({', '.join([*names, *constants])}) VALUES "
    row_sql = f"({', '.join(marks + literals)})"
    width = len(names)
    per = max(1, min(ROWS_PER_STATEMENT, MAX_BOUND // width))
    many_sql = head + ", ".join([row_sql] * per)
    step = per * width
    # Row after row, as the statements bind them: each column written into every width-th slot (a strided
    # slice assignment, several times quicker than building a tuple per row and chaining them).
    interleaved: list[Any] = [None] * (count * width)
    for offset, values in enumerate(stored):
        if len(values) != count:
            raise ValueError(f"column {names[offset]} has {len(values)} values, not {count}")
        interleaved[offset::width] = values
    flat = tuple(interleaved)
    whole = count // per * step
    batches = [flat[start : start + step] for start in range(0, whole, step)]
    for batch in chunks(batches, max(1, WRITE_CHUNK // per)):
        connection.exec_driver_sql(many_sql, batch)
        done += len(batch) * per
        if after_chunk:
            after_chunk(done)
    if whole < len(flat):
        connection.exec_driver_sql(head + ", ".join([row_sql] * (count - done)), flat[whole:])
        done = count
        if after_chunk:
            after_chunk(done)
    if written is not None and first_id is not None:
        low, high, rows = connection.exec_driver_sql(
            f'SELECT min(rowid), max(rowid), count(*) FROM "{table.name}" WHERE rowid >= {int(first_id)}'
        ).one()
        if rows == count and low == first_id and high == first_id + count - 1:
            written(WrittenRows(table, names, as_stored, constants_stored, range(first_id, first_id + count)))
    return done


def bulk_insert_dicts(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    after_chunk: Callable[[int], None] | None = None,
) -> int:
    """Insert rows given as dicts with the same keys."""
    if not rows:
        return 0
    return bulk_insert(
        connection, table, {name: list(map(itemgetter(name), rows)) for name in rows[0]}, after_chunk=after_chunk
    )


def sqlite_page_cache(connection: Connection, kibibytes: int) -> Callable[[], object]:
    """Grow this SQLite connection's page cache for a large write (the indexes of a big insert are written
    all over: with the default 2 MB cache, pages are evicted and read back again); returns the undo."""
    if connection.dialect.name != "sqlite":
        return lambda: None
    current = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    if current is not None and (current < 0 and -current >= kibibytes):
        return lambda: None
    connection.exec_driver_sql(f"PRAGMA cache_size = {-int(kibibytes)}")
    return lambda: connection.exec_driver_sql(f"PRAGMA cache_size = {int(current or -2000)}")


@contextmanager
def sqlite_indexes_deferred(connection: Connection, table: Table, new_rows: int) -> Iterator[None]:
    """Around a bulk insert of `new_rows` rows into `table`: on SQLite, when the table holds fewer rows than
    that, its plain (non-unique, CREATE INDEX) indexes are dropped and built again afterwards, in the caller's
    transaction. Each row inserted otherwise updates every index at a random place (most of a 100,000-lot
    write); building an index sorts once. Unique and primary key indexes stay, so constraints are checked
    row by row as before; a failure or rollback undoes the drop with the rest of the transaction."""
    if connection.dialect.name != "sqlite" or new_rows < DEFER_INDEXES_FROM:
        yield
        return
    # max(id) >= the row count, and needs no scan.
    largest = connection.exec_driver_sql(f'SELECT max(rowid) FROM "{table.name}"').scalar() or 0
    if largest >= new_rows:
        yield
        return
    plain = [
        name
        for _, name, unique, origin, *_ in connection.exec_driver_sql(f'PRAGMA index_list("{table.name}")')
        if not unique and origin == "c"
    ]
    ddl = [
        connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).scalar_one()
        for name in plain
    ]
    for name in plain:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for sql in ddl:
        connection.exec_driver_sql(sql)
