"""The records under the audit trail: each entry commits the content hash of every row it created or changed.

A row's hash is SHA-256 over its canonical text (domain/row_hash.py: a compact JSON array of its values in a
fixed column order, numbers as exact decimals, times with microseconds), the same on SQLite and PostgreSQL,
for an ORM flush and a bulk insert. The hashes an entry records are stored in `audit_row_hashes` (packed, one
row per table and chunk) and the entry's own hash covers their digest (the entry's `records`), so neither can
be altered without breaking the chain. `verify_records` recomputes every audited row's hash and compares it
with the latest hash the trail recorded for it.

Which rows a transaction changed is collected as it works: ORM flushes are seen by a session event; bulk and
Core writes say so with `note_rows` / `note_new_rows` (read back in bulk when the entry is written), and bulk
writers that hash the rows they write hand the hashes over with `note_hashed_rows` so that nothing is read
back: the demo, and the lot import, one-piece or pipelined (services/import_writer.write_new_lots gives
db/bulk.bulk_insert a `RowHashes` collector, called with the rows as stored; db/ itself hashes nothing).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry_app.db.bulk import WrittenRows
from registry_app.domain import AuditEntry, Base
from registry_app.domain.exact import fact_text
from registry_app.domain.row_hash import HASHED_COLUMNS, SKIPPED, RowHasher
from registry_app.domain.trust import AuditRowHashes

# The tables whose rows the trail covers, with the columns left out of a row's hash (domain/row_hash.py).
# Not covered, by design: setting (holds the trail's own head and the pseudonymisation key, not records),
# lot_result_facts and flag tables (derived from the records and rebuilt from them), product_route (no id
# of its own; a product's routes are written in the product's audit entries), audit tables themselves.
AUDITED: dict[str, frozenset[str]] = {name: SKIPPED.get(name, frozenset()) for name in HASHED_COLUMNS}
# How a record is named in a finding, besides its id.
LABELS = {
    "lot": "lot_number",
    "app_user": "username",
    "product": "name",
    "manufacturer": "name",
    "supplier": "name",
    "site": "code",
}
NAMES = {"app_user": "user"}

DELETED = bytes(32)  # the hash recorded for a row the ORM deleted (records are never deleted: it is a finding)
CHUNK = 20_000  # rows per audit_row_hashes row
FETCH = 10_000  # rows read per round trip when hashing a table
_TOUCHED = "audit_touched"  # session.info: {table: set of ids}
_NEW_FROM = "audit_new_from"  # session.info: {table: rows with a larger id were inserted in bulk}
_HASHED = "audit_hashed"  # session.info: {table: (ids, digests)} hashed by the bulk writer that wrote them

Hashes = tuple[list[int], bytes]  # ids in increasing order, and the 32-byte hash of each, end to end


def hashed_columns(table: Table, present: Iterable[str] | None = None) -> list[str]:
    """The table's hashed columns in hashing order (all of them: `present` is accepted for the migration,
    whose missing columns are read as null)."""
    return list(HASHED_COLUMNS[table.name])


def audited_table(name: str) -> Table:
    return Base.metadata.tables[name]


def _raw_batches(connection: Connection, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a plain SELECT as the driver returns them (no ORM conversion), in batches."""
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        assert driver is not None  # the connection is open: the caller's transaction holds it
        cursor = driver.cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(FETCH):
                yield batch
        finally:
            cursor.close()
        return
    # Per statement: Connection.execution_options() would set them for every later statement of the connection.
    result = connection.exec_driver_sql(sql, execution_options={"stream_results": True, "max_row_buffer": FETCH})
    for partition in result.partitions(FETCH):
        yield [tuple(row) for row in partition]


def _select_sql(table: Table, present: Iterable[str] | None) -> str:
    have = None if present is None else set(present)
    columns = ", ".join(f'"{name}"' if have is None or name in have else "NULL" for name in HASHED_COLUMNS[table.name])
    return f'SELECT {columns} FROM "{table.name}"'


def current_hashes(
    connection: Connection,
    table: Table,
    ids: Iterable[int] | None = None,
    after_id: int | None = None,
    present: Iterable[str] | None = None,
) -> Iterator[Hashes]:
    """The table's rows in id order as batches of (ids, hashes): all of them, those with `ids`, or those after
    `after_id`. `present`: the columns the table has (a migration's older schema); the others read as null."""
    hasher = RowHasher(table, connection.dialect.name)
    id_at = HASHED_COLUMNS[table.name].index("id")
    base = _select_sql(table, present)
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        queries = [
            f"{base} WHERE id IN ({', '.join(map(str, wanted[start : start + 500]))}) ORDER BY id"
            for start in range(0, len(wanted), 500)
        ]
    else:
        queries = [f"{base} WHERE id > {int(after_id)} ORDER BY id" if after_id is not None else f"{base} ORDER BY id"]
    for sql in queries:
        for batch in _raw_batches(connection, sql):
            yield [row[id_at] for row in batch], hasher.digests(batch)


# ---- collecting what a transaction changed ----------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _context: Any) -> None:
    touched = None
    for item in chain(session.new, session.dirty, session.deleted):
        table = sa_inspect(item).mapper.local_table
        if table.name in AUDITED:
            touched = touched if touched is not None else session.info.setdefault(_TOUCHED, {})
            touched.setdefault(table.name, set()).add(item.id)


def note_rows(session: Session, table: Table | str, ids: Iterable[int]) -> None:
    """Rows of `table` this transaction changed below the ORM (a Core UPDATE): the next entry records them."""
    name = table if isinstance(table, str) else table.name
    if name in AUDITED:
        session.info.setdefault(_TOUCHED, {}).setdefault(name, set()).update(ids)


def note_new_rows(session: Session, table: Table | str, after_id: int) -> None:
    """This transaction inserted rows of `table` in bulk, all with ids above `after_id` (the largest id before
    the insert; inserts hold the write lock): the next entry records them, read back in one pass."""
    name = table if isinstance(table, str) else table.name
    if name in AUDITED:
        marks = session.info.setdefault(_NEW_FROM, {})
        marks[name] = min(after_id, marks.get(name, after_id))


def note_inserts_from_here(session: Session) -> None:
    """Before a bulk write: every row of an audited table inserted from here on in this transaction is recorded
    by the next entry (read back in one pass per table; SQLite and PostgreSQL both hand out larger ids)."""
    for name in AUDITED:
        table = audited_table(name)
        note_new_rows(session, name, session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())


def note_hashed_rows(session: Session, table: Table | str, ids: Sequence[int], digests: bytes) -> None:
    """Rows of `table` a bulk writer inserted in this transaction, with the hashes it computed from the values
    it wrote (domain/row_hash.RowHasher), ids increasing: the next entry records them without reading them
    back. Trusted only when they account for every row inserted since `note_inserts_from_here`."""
    name = table if isinstance(table, str) else table.name
    if name in AUDITED and ids:
        have_ids, have_digests = session.info.setdefault(_HASHED, {}).setdefault(name, ([], []))
        if have_ids and ids[0] <= have_ids[-1]:
            raise ValueError(f"hashed {name} rows given out of id order")
        have_ids.extend(ids)
        have_digests.append(digests)


class RowHashes:
    """The row hashes of rows a bulk insert wrote, from the values it stored: passed to db/bulk.bulk_insert as
    its `written` callback, then handed to the session's next entry with `note` (after the writes succeeded)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, list[int], bytes]] = []

    def __call__(self, rows: WrittenRows) -> None:
        name = rows.table.name
        if name in AUDITED and rows.ids:
            ids = list(rows.ids)
            hasher = RowHasher(rows.table, "sqlite", ["id", *rows.names], rows.constants)
            self.rows.append((name, ids, hasher.digests(zip(ids, *rows.columns, strict=True))))

    def note(self, session: Session) -> None:
        for name, ids, digests in self.rows:
            note_hashed_rows(session, name, ids, digests)
        self.rows.clear()


def has_pending(session: Session) -> bool:
    return bool(session.info.get(_TOUCHED) or session.info.get(_NEW_FROM) or session.info.get(_HASHED))


def _pack(ids: Sequence[int]) -> bytes:
    return struct.pack(f">{len(ids)}q", *ids)


def _unpack(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(blob) // 8}q", blob)


def _new_rows(connection: Connection, table: Table, after_id: int, supplied: Hashes | None) -> Hashes:
    """The rows inserted after `after_id`: the bulk writer's own hashes when they cover exactly those rows
    (one count on the primary key), else read back."""
    if supplied is not None:
        ids, digests = supplied
        start = next((index for index, record_id in enumerate(ids) if record_id > after_id), len(ids))
        count, largest = connection.execute(
            select(func.count(), func.max(table.c.id)).where(table.c.id > after_id)
        ).one()
        if count == len(ids) - start and (count == 0 or largest == ids[-1]):
            return ids[start:], digests[start * 32 :]
    ids, parts = [], []
    for batch_ids, batch_digests in current_hashes(connection, table, after_id=after_id):
        ids.extend(batch_ids)
        parts.append(batch_digests)
    return ids, b"".join(parts)


def take_records(session: Session) -> dict[str, Hashes]:
    """The ids and hashes of every row this transaction changed since the last entry, per table (ids
    increasing), and forget them. Rows the ORM deleted are recorded as DELETED."""
    touched: dict[str, set[int]] = session.info.pop(_TOUCHED, {})
    new_from: dict[str, int] = session.info.pop(_NEW_FROM, {})
    hashed = {name: (ids, b"".join(parts)) for name, (ids, parts) in session.info.pop(_HASHED, {}).items()}
    connection = session.connection()
    found: dict[str, Hashes] = {}
    for name in sorted(set(touched) | set(new_from) | set(hashed)):
        table = audited_table(name)
        if name in new_from:
            ids, digests = _new_rows(connection, table, new_from[name], hashed.get(name))
        else:
            ids, digests = hashed.get(name, ([], b""))
        again = touched.get(name, set())
        if again:
            # Rows changed after the bulk write (or through the ORM): their state now is what the entry records.
            fresh = [i for i in again if not ids or i < ids[0] or i > ids[-1]] if name in new_from else list(again)
            pairs = dict(zip(ids, _slices(digests), strict=True))
            pairs.update(dict.fromkeys(fresh, DELETED))
            for batch_ids, batch_digests in current_hashes(connection, table, ids=fresh):
                pairs.update(zip(batch_ids, _slices(batch_digests), strict=True))
            ids = sorted(pairs)
            digests = b"".join(pairs[i] for i in ids)
        if ids:
            found[name] = (ids, digests)
    return found


def store_records(session: Session, seq: int, found: Mapping[str, Hashes]) -> str | None:
    """Write the hashes under entry `seq`; returns the entry's `records` text (per table: rows and the digest
    of the stored hashes), which the entry's own hash covers."""
    if not found:
        return None
    summary: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for name, (ids, digests) in found.items():
        digest = hashlib.sha256()
        for start in range(0, len(ids), CHUNK):
            packed_ids = _pack(ids[start : start + CHUNK])
            hashes = digests[start * 32 : (start + CHUNK) * 32]
            digest.update(packed_ids)
            digest.update(hashes)
            rows.append(
                {
                    "seq": seq,
                    "table_name": name,
                    "first_id": ids[start],
                    "record_ids": packed_ids,
                    "row_hashes": hashes,
                }
            )
        summary[name] = {"rows": len(ids), "sha256": digest.hexdigest()}
    session.execute(insert(AuditRowHashes), rows)
    return json.dumps(summary, sort_keys=True, separators=(",", ":"))


# ---- checking the records against the trail ---------------------------------------------------------------


@dataclass(frozen=True)
class RecordFinding:
    seq: int | None
    text: str


def _stored_chunks(connection: Connection, table_name: str | None = None) -> Iterator[Any]:
    query = select(
        AuditRowHashes.seq, AuditRowHashes.table_name, AuditRowHashes.record_ids, AuditRowHashes.row_hashes
    ).order_by(AuditRowHashes.seq, AuditRowHashes.table_name, AuditRowHashes.first_id)
    if table_name is not None:
        query = query.where(AuditRowHashes.table_name == table_name)
    yield from connection.execute(query.execution_options(yield_per=200))


def check_digests(connection: Connection) -> RecordFinding | None:
    """Every entry's stored row hashes still match the digest its (chained) `records` text holds."""
    claimed: dict[int, dict[str, Any]] = {
        seq: json.loads(text or "{}")
        for seq, text in connection.execute(
            select(AuditEntry.seq, AuditEntry.records).where(AuditEntry.records.is_not(None))
        )
    }
    seen: dict[tuple[int, str], tuple[Any, int]] = {}
    for seq, name, ids, hashes in _stored_chunks(connection):
        digest, rows = seen.get((seq, name)) or (hashlib.sha256(), 0)
        digest.update(ids)
        digest.update(hashes)
        seen[(seq, name)] = (digest, rows + len(ids) // 8)
    for (seq, name), (digest, rows) in seen.items():
        expected = claimed.get(seq, {}).get(name)
        if expected is None:
            return RecordFinding(seq, f"record hashes of {name} stored under entry {seq}, which recorded none")
        if expected["sha256"] != digest.hexdigest() or expected["rows"] != rows:
            return RecordFinding(seq, f"the record hashes stored for entry {seq} ({name}) were altered")
    for seq, tables in claimed.items():
        for name in tables:
            if (seq, name) not in seen:
                return RecordFinding(seq, f"the record hashes of entry {seq} ({name}) were removed")
    return None


def _label(connection: Connection, table: Table, record_id: int) -> str:
    noun = NAMES.get(table.name, table.name.replace("_", " "))
    column = LABELS.get(table.name)
    if column is None:
        return f"{noun} {record_id}"
    label = connection.execute(select(table.c[column]).where(table.c.id == record_id)).scalar()
    return f"{noun} {record_id} ({label})" if label is not None else f"{noun} {record_id}"


def _changed_columns(connection: Connection, table: Table, record_id: int, seq: int) -> list[str]:
    """The columns that differ from the values the recording entry wrote down (its `after`), where it did."""
    after_text = connection.execute(select(AuditEntry.after).where(AuditEntry.seq == seq)).scalar()
    try:
        after = json.loads(after_text) if after_text else {}
    except ValueError:
        return []
    if not isinstance(after, dict):
        return []
    row = connection.execute(select(table).where(table.c.id == record_id)).mappings().first()
    if row is None:
        return []
    changed = []
    for name, value in after.items():
        if name in row and name not in AUDITED[table.name] and _loose(row[name]) != _loose(value):
            changed.append(name)
    return changed


def _loose(value: Any) -> str:
    """A value as the entry's JSON and the row both render it (numbers exact, times as ISO text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float | Decimal):
        return fact_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    try:
        return datetime.fromisoformat(text).isoformat() if len(text) > 10 and text[4] == "-" else text
    except ValueError:
        return text


def _recorded_by(connection: Connection, table: Table, record_id: int) -> int | None:
    """The last entry that recorded the row (read again only to word a finding)."""
    found = None
    for seq, _name, ids, _hashes in _stored_chunks(connection, table.name):
        if record_id in _unpack(ids):
            found = seq
    return found


def _slices(hashes: bytes) -> list[bytes]:
    return [hashes[start : start + 32] for start in range(0, len(hashes), 32)]


def check_table(connection: Connection, table: Table) -> RecordFinding | None:
    """The table's rows against the latest hash the trail recorded for each. Streams the table in batches and
    compares each batch's hashes at once; only a batch that differs is looked at row by row."""
    latest: dict[int, bytes] = {}
    for _seq, _name, ids, hashes in _stored_chunks(connection, table.name):
        latest.update(zip(_unpack(ids), _slices(hashes), strict=True))
    try:
        for ids, digests in current_hashes(connection, table):
            expected = [latest.pop(record_id, None) for record_id in ids]
            if None not in expected and b"".join(cast(list[bytes], expected)) == digests:
                continue
            for record_id, recorded, digest in zip(ids, expected, _slices(digests), strict=True):
                if recorded is None:
                    return RecordFinding(
                        None,
                        f"{_label(connection, table, record_id)} was added behind the registry's back "
                        "(no audit entry recorded it)",
                    )
                if recorded != digest:
                    seq = _recorded_by(connection, table, record_id)
                    columns = _changed_columns(connection, table, record_id, seq) if seq is not None else []
                    what = ", ".join(columns) if columns else "its content (the entry recorded its hash only)"
                    return RecordFinding(
                        seq,
                        f"{_label(connection, table, record_id)} differs from what audit entry {seq} recorded: {what}",
                    )
    except (ValueError, TypeError, ArithmeticError) as error:
        return RecordFinding(None, f"a {table.name} row holds a value the registry cannot read ({error})")
    for record_id, expected_hash in sorted(latest.items()):
        if expected_hash != DELETED:
            seq = _recorded_by(connection, table, record_id)
            noun = NAMES.get(table.name, table.name.replace("_", " "))
            return RecordFinding(seq, f"{noun} {record_id}, recorded by audit entry {seq}, was deleted")
    return None


def verify_records(connection: Connection) -> RecordFinding | None:
    """The first record that differs from the trail, or None when every audited row is as recorded."""
    finding = check_digests(connection)
    if finding is not None:
        return finding
    for name in AUDITED:
        finding = check_table(connection, audited_table(name))
        if finding is not None:
            return finding
    return None


def note_everything(session: Session) -> None:
    """Mark every audited row as changed (the baseline entry of a registry whose records were not yet covered)."""
    for name in AUDITED:
        note_new_rows(session, name, 0)
