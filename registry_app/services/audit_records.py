"""The records under the audit trail: each entry commits the content hash of every row it created or changed.

A row's hash is SHA-256 over its canonical form (`canonical_row`): the JSON object of its non-null columns in
name order, numbers as exact decimals, times with microseconds, so SQLite and PostgreSQL, an ORM flush and a
bulk insert give the same text for the same record, and a column added later (empty on old rows) does not
change old hashes. The hashes an entry records are stored in `audit_row_hashes` (packed, one row per table
and chunk) and the entry's own hash covers their digest (the entry's `records`), so neither can be altered
without breaking the chain. `verify_records` recomputes every audited row's hash and compares it with the
latest hash the trail recorded for it.

Which rows a transaction changed is collected as it works: ORM flushes are seen by a session event; bulk and
Core writes say so with `note_rows` / `note_new_rows` (one call after the insert, rows read back in bulk).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry_app.domain import AuditEntry, Base
from registry_app.domain.exact import fact_text
from registry_app.domain.trust import AuditRowHashes

# The tables whose rows the trail covers, with the columns left out of a row's hash and why.
# Not covered, by design: setting (holds the trail's own head and the pseudonymisation key, not records),
# lot_result_facts and flag tables (derived from the records and rebuilt from them), product_route (no id
# of its own; a product's routes are written in the product's audit entries), audit tables themselves.
AUDITED: dict[str, frozenset[str]] = {
    "site": frozenset(),
    "manufacturer": frozenset(),
    "supplier": frozenset(),
    "product": frozenset(),
    "product_regulatory_status": frozenset(),
    "lot": frozenset(),
    "characterization_result": frozenset(),
    # The file's bytes are covered by its sha256 column, which is hashed; hashing megabytes again adds nothing.
    "document": frozenset({"content"}),
    "temperature_excursion": frozenset(),
    "app_user": frozenset(),
    "signature": frozenset(),
    "waiver": frozenset(),
    "administration": frozenset(),
    "adverse_event": frozenset(),
}
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
_TOUCHED = "audit_touched"  # session.info: {table: set of ids}
_NEW_FROM = "audit_new_from"  # session.info: {table: rows with a larger id were inserted in bulk}


def _number(value: Any) -> str:
    return fact_text(value)


def _when(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def _day(value: date) -> str:
    return value.isoformat()


def _canon_value(value: Any) -> Any:
    """One column value in the form hashed: strings and integers as they are, the rest as text."""
    if isinstance(value, str) or type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, date):
        return _day(value)
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return str(value)


def hashed_columns(table: Table, present: Iterable[str] | None = None) -> list[str]:
    skip = AUDITED[table.name]
    names = sorted(c.name for c in table.columns if c.name not in skip)
    if present is not None:
        have = set(present)
        names = [n for n in names if n in have]
    return names


def canonical_row(names: list[str], values: Iterable[Any]) -> str:
    """The exact text hashed for a row (the bundle carries it for re-verification)."""
    return json.dumps(
        {name: _canon_value(value) for name, value in zip(names, values, strict=True) if value is not None},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def row_hash(names: list[str], values: Iterable[Any]) -> bytes:
    return hashlib.sha256(canonical_row(names, values).encode()).digest()


def audited_table(name: str) -> Table:
    return Base.metadata.tables[name]


def current_hashes(
    connection: Connection,
    table: Table,
    ids: Iterable[int] | None = None,
    after_id: int | None = None,
    names: Any = None,
) -> Iterator[tuple[int, bytes]]:
    """(id, hash) of the table's rows in id order: all of them, those with `ids`, or those after `after_id`."""
    names = names or hashed_columns(table)
    id_at = names.index("id")
    columns = [table.c[n] for n in names]
    if ids is not None:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            query = select(*columns).where(table.c.id.in_(part)).order_by(table.c.id)
            for row in connection.execute(query):
                yield row[id_at], row_hash(names, row)
        return
    query = select(*columns).order_by(table.c.id)
    if after_id is not None:
        query = query.where(table.c.id > after_id)
    # Options on the statement, not the connection: Connection.execution_options changes the connection in place,
    # and on PostgreSQL every later statement of the transaction (an INSERT too) would run in a named cursor.
    for row in connection.execute(query.execution_options(yield_per=5000)):
        yield row[id_at], row_hash(names, row)


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


def has_pending(session: Session) -> bool:
    return bool(session.info.get(_TOUCHED) or session.info.get(_NEW_FROM))


def _pack(ids: list[int]) -> bytes:
    return struct.pack(f">{len(ids)}q", *ids)


def _unpack(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(blob) // 8}q", blob)


def take_records(session: Session) -> dict[str, list[tuple[int, bytes]]]:
    """The (id, hash) pairs of every row this transaction changed since the last entry, per table, and forget
    them. Rows the ORM deleted are recorded as DELETED."""
    touched: dict[str, set[int]] = session.info.pop(_TOUCHED, {})
    new_from: dict[str, int] = session.info.pop(_NEW_FROM, {})
    connection = session.connection()
    found: dict[str, list[tuple[int, bytes]]] = {}
    for name in sorted(set(touched) | set(new_from)):
        table = audited_table(name)
        pairs: dict[int, bytes] = {}
        if name in new_from:
            pairs.update(current_hashes(connection, table, after_id=new_from[name]))
        ids = touched.get(name, set()) - pairs.keys()
        if ids:
            pairs.update(current_hashes(connection, table, ids=ids))
            pairs.update((i, DELETED) for i in ids - pairs.keys())
        if pairs:
            found[name] = sorted(pairs.items())
    return found


def store_records(session: Session, seq: int, found: Mapping[str, list[tuple[int, bytes]]]) -> str | None:
    """Write the hashes under entry `seq`; returns the entry's `records` text (per table: rows and the digest
    of the stored hashes), which the entry's own hash covers."""
    if not found:
        return None
    summary: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for name, pairs in found.items():
        digest = hashlib.sha256()
        for start in range(0, len(pairs), CHUNK):
            part = pairs[start : start + CHUNK]
            ids = _pack([i for i, _ in part])
            hashes = b"".join(h for _, h in part)
            digest.update(ids)
            digest.update(hashes)
            rows.append(
                {"seq": seq, "table_name": name, "first_id": part[0][0], "record_ids": ids, "row_hashes": hashes}
            )
        summary[name] = {"rows": len(pairs), "sha256": digest.hexdigest()}
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


def check_table(connection: Connection, table: Table) -> RecordFinding | None:
    """The table's rows against the latest hash the trail recorded for each."""
    latest: dict[int, tuple[int, bytes]] = {}
    for seq, _name, ids, hashes in _stored_chunks(connection, table.name):
        for index, record_id in enumerate(_unpack(ids)):
            latest[record_id] = (seq, hashes[index * 32 : index * 32 + 32])
    try:
        for record_id, digest in current_hashes(connection, table):
            recorded = latest.pop(record_id, None)
            if recorded is None:
                return RecordFinding(
                    None,
                    f"{_label(connection, table, record_id)} was added behind the registry's back "
                    "(no audit entry recorded it)",
                )
            seq, expected = recorded
            if expected != digest:
                columns = _changed_columns(connection, table, record_id, seq)
                what = ", ".join(columns) if columns else "its content (the entry recorded its hash only)"
                return RecordFinding(
                    seq, f"{_label(connection, table, record_id)} differs from what audit entry {seq} recorded: {what}"
                )
    except (ValueError, TypeError, ArithmeticError) as error:
        return RecordFinding(None, f"a {table.name} row holds a value the registry cannot read ({error})")
    for record_id, (seq, expected) in sorted(latest.items()):
        if expected != DELETED:
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
