"""An attacker with write access to the database file or server: drops the append-only guards and alters
the audit trail directly (change a value, delete, insert, reorder). Each trial runs in a transaction that
is rolled back, so one populated trail serves hundreds of trials on SQLite and PostgreSQL alike.

Shared by tests/services/test_audit.py and bench/bench_reliability.py.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from registry_app.domain import AuditEntry, User
from registry_app.services.audit import AuditRecord, VerifyResult, append_many, entry_hash, verify_chain

TABLE = AuditEntry.__table__
CONTENT_COLUMNS = (
    "seq",
    "occurred_at",
    "user_id",
    "username",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "prev_hash",
    "entry_hash",
)
KINDS = ("change", "delete", "insert", "reorder")
_OFFSET = 1_000_000


def populate_trail(db: Any, rng: random.Random, transactions: int = 12) -> int:
    """Add varied entries (unicode, empty and absent values, nested JSON) in several transactions."""
    words = [
        "receive lot",
        "release lot",
        "waive flag",
        "record administration",
        "recall",
        "ré-étiqueter",
        "検査",
        "note",
        "",
    ]
    with db.read() as session:
        users = [(u.id, u.username) for u in session.execute(select(User)).scalars()]
    last = 0
    for _ in range(transactions):
        user_id, username = rng.choice([*users, (None, "system")])
        records = []
        for _ in range(rng.randint(1, 6)):
            before = None if rng.random() < 0.3 else {"status": rng.choice(words), "n": rng.randint(0, 99)}
            after = {"status": rng.choice(words), "items": [rng.random(), None, {"ok": True}]}
            records.append(
                AuditRecord(
                    rng.choice(words) or "edit",
                    rng.choice(["lot", "product", "user"]),
                    rng.choice([None, rng.randint(1, 500), "L-2026-ü"]),
                    before,
                    after,
                    rng.choice([None, "", "typo in the lot number", "patient asked"]),
                )
            )
        with db.write() as session:
            last = append_many(session, user_id, username, records)
    return last


def trail_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(TABLE).order_by(TABLE.c.id))]


def user_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(User.id)).scalars())


def drop_guards(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_entry_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_entry_no_delete")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_entry_append_only ON audit_entry")


def _hex() -> str:
    return secrets.token_hex(32)


def _mutated_text(rng: random.Random, value: str | None, limit: int) -> str:
    if not value:
        return "x"
    choice = rng.randrange(3)
    if choice == 0:
        return (value + "!")[:limit] if len(value) < limit else value[:-1]
    if choice == 1:
        i = rng.randrange(len(value))
        return value[:i] + ("Z" if value[i] != "Z" else "Y") + value[i + 1 :]
    return value[:-1] if len(value) > 1 else value + "y"


def _mutated_json(rng: random.Random, value: str | None) -> str | None:
    if value is None:
        return json.dumps({"status": "released"})
    data = json.loads(value)
    if isinstance(data, dict) and data and rng.random() < 0.7:
        key = rng.choice(sorted(data))
        data[key] = f"{data[key]}-altered"
        return json.dumps(data, sort_keys=True, ensure_ascii=False)
    return rng.choice([None, value + " ", value.replace("{", "{ ", 1)])


def _shift_ids_after(conn: Connection, position_id: int, by: int = 1) -> None:
    conn.execute(update(TABLE).where(TABLE.c.id > position_id).values(id=TABLE.c.id + _OFFSET))
    conn.execute(update(TABLE).where(TABLE.c.id > _OFFSET).values(id=TABLE.c.id - _OFFSET + by))


def _change(conn: Connection, rng: random.Random, rows: list[dict[str, Any]], users: list[int]) -> int:
    row = rng.choice(rows)
    column = rng.choice(CONTENT_COLUMNS)
    value: Any
    if column == "seq":
        value = len(rows) + rng.randint(1, 1000) if rng.random() < 0.5 else -row["seq"]
    elif column == "occurred_at":
        if conn.dialect.name == "sqlite" and rng.random() < 0.15:
            conn.exec_driver_sql("UPDATE audit_entry SET occurred_at = 'not a date' WHERE id = ?", (row["id"],))
            return row["seq"]
        step = rng.choice([timedelta(microseconds=1), timedelta(seconds=1), timedelta(days=-3)])
        value = row["occurred_at"] + step
    elif column == "user_id":
        value = rng.choice([u for u in [*users, None] if u != row["user_id"]])
    elif column in ("before", "after"):
        value = _mutated_json(rng, row[column])
        if value == row[column]:
            value = (value or "") + " "
    elif column in ("prev_hash", "entry_hash"):
        value = _hex() if rng.random() < 0.5 else row[column][:-1] + ("0" if row[column][-1] != "0" else "1")
    else:
        limits = {"username": 80, "action": 60, "entity_type": 40, "entity_id": 80, "reason": 500}
        value = _mutated_text(rng, row[column], limits[column])
    assert value != row[column]
    conn.execute(update(TABLE).where(TABLE.c.id == row["id"]).values({column: value}))
    return row["seq"]


def _delete(conn: Connection, rng: random.Random, rows: list[dict[str, Any]], users: list[int]) -> int:
    row = rows[-1] if rng.random() < 0.25 else rng.choice(rows)
    conn.execute(delete(TABLE).where(TABLE.c.id == row["id"]))
    return row["seq"]


def _forged(rows: list[dict[str, Any]], seq: int, prev: str) -> dict[str, Any]:
    template = rows[seq % len(rows)]
    row = {key: template[key] for key in CONTENT_COLUMNS}
    row.update(
        seq=seq,
        prev_hash=prev,
        occurred_at=datetime(2026, 1, 2, 3, 4, 5),
        action="release lot",
        reason="inserted afterwards",
    )
    row["entry_hash"] = entry_hash(row)
    return row


def _insert(conn: Connection, rng: random.Random, rows: list[dict[str, Any]], users: list[int]) -> int:
    n = len(rows)
    variant = rng.randrange(3)
    if variant == 0:  # a well-formed entry after the last one, linked to it
        forged = _forged(rows, n + 1, rows[-1]["entry_hash"])
        conn.execute(insert(TABLE).values(id=rows[-1]["id"] + 1, **forged))
        return n + 1
    k = rng.randrange(n + 1) if variant == 1 else rng.randrange(n)  # insert after position k
    after_id = rows[k - 1]["id"] if k else 0
    _shift_ids_after(conn, after_id)
    if variant == 1:  # junk with a fresh sequence number anywhere, even first or last
        forged = _forged(rows, n + 100 + k, _hex())
        conn.execute(insert(TABLE).values(id=after_id + 1, **forged))
        return k + 1
    # a well-formed entry in the middle: later entries renumbered and the next one relinked to it
    prev = rows[k - 1]["entry_hash"] if k else "0" * 64
    forged = _forged(rows, k + 1, prev)
    conn.execute(update(TABLE).where(TABLE.c.seq > k).values(seq=TABLE.c.seq + _OFFSET))
    conn.execute(update(TABLE).where(TABLE.c.seq > _OFFSET).values(seq=TABLE.c.seq - _OFFSET + 1))
    conn.execute(update(TABLE).where(TABLE.c.id == rows[k]["id"] + 1).values(prev_hash=forged["entry_hash"]))
    conn.execute(insert(TABLE).values(id=after_id + 1, **forged))
    return k + 2


def _reorder(conn: Connection, rng: random.Random, rows: list[dict[str, Any]], users: list[int]) -> int:
    i, j = sorted(rng.sample(range(len(rows)), 2))
    if rng.random() < 0.5:  # swap two entries
        a, b = rows[i]["id"], rows[j]["id"]
        conn.execute(update(TABLE).where(TABLE.c.id == a).values(id=-1))
        conn.execute(update(TABLE).where(TABLE.c.id == b).values(id=a))
        conn.execute(update(TABLE).where(TABLE.c.id == -1).values(id=b))
    else:  # move one entry to the end
        conn.execute(update(TABLE).where(TABLE.c.id == rows[i]["id"]).values(id=rows[-1]["id"] + 1))
    return i + 1


TAMPERS: dict[str, Callable[[Connection, random.Random, list[dict[str, Any]], list[int]], int]] = {
    "change": _change,
    "delete": _delete,
    "insert": _insert,
    "reorder": _reorder,
}


@dataclass(frozen=True)
class Trial:
    kind: str
    expected_seq: int
    result: VerifyResult


def run_trial(engine: Engine, kind: str, rng: random.Random, rows: list[dict[str, Any]], users: list[int]) -> Trial:
    """Tamper as an attacker would, verify on the same connection, then roll everything back."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            drop_guards(conn)
            expected = TAMPERS[kind](conn, rng, rows, users)
            with Session(bind=conn) as session:
                result = verify_chain(session, batch=rng.choice([7, 5000]))
        finally:
            transaction.rollback()
    return Trial(kind, expected, result)
