"""The demo's bulk writer: rows already in the driver's form, stored in the service's one transaction.

SQLite gets many rows per INSERT statement, its plain indexes built once after the rows and its CHECK
constraints (vocabulary IN-lists, re-evaluated per row) skipped for the demo's own rows; PostgreSQL gets COPY.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from itertools import chain
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry_app.db.bulk import sql_literal, sqlite_indexes_deferred
from registry_app.domain import Base

DEMO_CACHE_KIB = 512 * 1024  # SQLite page cache while the demo writes (a ceiling: pages are taken as needed)

STATEMENT_VALUES = 32_766  # values bound per INSERT statement, where the SQLite build allows that many


class DemoWriter:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._tables_with_ids: set[str] = set()

    def next_id(self, table: str) -> int:
        return int(self.session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()) + 1

    @contextmanager
    def writing(self, expected_rows: Mapping[str, int]) -> Iterator[None]:
        """The block's inserts are bulk inserts; `expected_rows` (a lower bound per table) lets SQLite build the
        plain indexes of a table that is small beside what is coming once, after the rows, instead of row by
        row. Everything is undone with the transaction if the block fails."""
        connection = self.session.connection()
        driver = connection.connection.driver_connection
        assert driver is not None  # None only once the connection is closed, and the session holds it open
        with ExitStack() as stack:
            if self.sqlite:
                # With the default 2 MB cache the random-order index inserts of a large demo evicted and re-read
                # pages all the time. Only memory use changes: durability and integrity checks are as always.
                (previous,) = driver.execute("PRAGMA cache_size").fetchone()
                driver.execute(f"PRAGMA cache_size = {-DEMO_CACHE_KIB}")
                stack.callback(driver.execute, f"PRAGMA cache_size = {int(previous)}")
                for table, rows in expected_rows.items():
                    stack.enter_context(sqlite_indexes_deferred(connection, Base.metadata.tables[table], rows))
                # SQLite re-evaluates every CHECK's IN-list per inserted row, which made the bulk insert 4-6x
                # slower; the rows come from our own vocabularies, so the checks are skipped while the writer
                # runs (foreign keys, NOT NULL and uniqueness still apply) and switched back on straight after.
                driver.execute("PRAGMA ignore_check_constraints = ON")
                stack.callback(driver.execute, "PRAGMA ignore_check_constraints = OFF")
            yield
            if not self.sqlite:
                for table in sorted(self._tables_with_ids):
                    # Ids were given explicitly: move the sequence past them for rows added later.
                    self.session.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                    )

    def insert(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], shared: Mapping[str, Any]
    ) -> None:
        """Store rows (tuples in the order of `columns`, plus the `shared` column values every row has) inside
        `writing`; parents before children."""
        if not rows:
            return
        if "id" in columns:
            self._tables_with_ids.add(table)
        driver = self.session.connection().connection.driver_connection
        assert driver is not None  # None only once the connection is closed, and the session holds it open
        names = ", ".join([*columns, *shared])
        if self.sqlite:
            literals = [sql_literal(int(v) if isinstance(v, bool) else v) for v in shared.values()]
            _insert_many_rows(driver, f"INSERT INTO {table} ({names}) VALUES ", rows, literals)
            return
        tail = tuple(shared.values())
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + tail)


def _insert_many_rows(driver: Any, head: str, rows: list[tuple[Any, ...]], literals: list[str]) -> None:
    """Many rows per INSERT statement, as many as the SQLite build binds (up to STATEMENT_VALUES values): the
    driver's cost per executed statement is then paid once per thousand rows instead of once per row (a tenth
    of the demo's SQLite time). Binding None as '' behind NULLIF, which helps the importer, was slower here."""
    width = len(rows[0])
    per = max(1, min(STATEMENT_VALUES, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) // width)
    row_marks = f"({', '.join(['?'] * width + literals)})"
    flat = list(chain.from_iterable(rows))
    step = per * width
    whole = len(rows) // per * step
    if whole:
        driver.executemany(head + ", ".join([row_marks] * per), [flat[i : i + step] for i in range(0, whole, step)])
    if whole < len(flat):
        driver.execute(head + ", ".join([row_marks] * ((len(flat) - whole) // width)), flat[whole:])
