"""The hash-chained audit trail: append inside the caller's transaction, verify from the first entry.

Each entry's hash covers its content and the previous entry's hash. The chain's head (last seq and hash)
is also kept in the `setting` row `audit_head`, which is what makes a deleted *last* entry detectable, and
whose row lock serialises appends on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, event, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from registry_app.domain import AuditEntry, Setting, utcnow
from registry_app.domain.vocab import Role
from registry_app.services import audit_records

GENESIS_HASH = "0" * 64
HEAD_KEY = "audit_head"


@dataclass(frozen=True)
class AuditRecord:
    """What one audit entry says: who did what to which record, with before/after values and why."""

    action: str
    entity_type: str
    entity_id: str | int | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, Decimal):
        # A JSON number, as quantities were before they were exact: the float of a recorded decimal prints
        # as that decimal (0.1, 2.5), so the entry reads as what was recorded.
        return float(value)
    return str(value)


def dump(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, default=_json_default, ensure_ascii=False)


def snapshot(record: object, exclude: Iterable[str] = ("content",)) -> dict[str, Any]:
    """The record's column values, for an entry's before/after."""
    skip = set(exclude)
    mapper = sa_inspect(record).mapper
    return {c.key: getattr(record, c.key) for c in mapper.column_attrs if c.key not in skip}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entry_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_entry(fields).encode()).hexdigest()


def canonical_entry(fields: Mapping[str, Any]) -> str:
    """The exact text `entry_hash` hashes (exported with each entry so anyone can recompute it)."""
    return json.dumps(
        {
            "seq": fields["seq"],
            "occurred_at": _json_default(fields["occurred_at"]),
            "user_id": fields["user_id"],
            "username": fields["username"],
            "action": fields["action"],
            "entity_type": fields["entity_type"],
            "entity_id": fields["entity_id"],
            "before": fields["before"],
            "after": fields["after"],
            "reason": fields["reason"],
            "prev_hash": fields["prev_hash"],
            **({"records": fields["records"]} if fields.get("records") is not None else {}),
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def _read_head(session: Session) -> tuple[int, str]:
    value = session.execute(select(Setting.value).where(Setting.key == HEAD_KEY).with_for_update()).scalar_one()
    seq, digest = value.split(":")
    return int(seq), digest


def append_many(session: Session, user_id: int | None, username: str, records: Iterable[AuditRecord]) -> int:
    """Append entries in order, in the caller's transaction, with one bulk insert. Returns the last seq."""
    session.flush()
    seq, prev = _read_head(session)
    now = utcnow()
    records = list(records)
    found = audit_records.take_records(session)
    if found and not records:
        records = [AuditRecord("record changes", "registry", None, reason="rows changed after the last entry")]
    session.info[_LAST_ACTOR] = (user_id, username)
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        seq += 1
        row = {
            "seq": seq,
            "occurred_at": now,
            "user_id": user_id,
            "username": username,
            "action": record.action,
            "entity_type": record.entity_type,
            "entity_id": None if record.entity_id is None else str(record.entity_id),
            "before": dump(record.before),
            "after": dump(record.after),
            "reason": record.reason,
            "prev_hash": prev,
            # The rows the transaction wrote go with its last entry (one digest per table).
            "records": audit_records.store_records(session, seq, found) if index == len(records) - 1 else None,
        }
        row["entry_hash"] = prev = entry_hash(row)
        rows.append(row)
    if rows:
        session.execute(insert(AuditEntry), rows)
        session.execute(update(Setting).where(Setting.key == HEAD_KEY).values(value=f"{seq}:{prev}"))
    return seq


def append(session: Session, user_id: int | None, username: str, record: AuditRecord) -> int:
    return append_many(session, user_id, username, [record])


_LAST_ACTOR = "audit_last_actor"


@event.listens_for(Session, "before_commit")
def _record_leftovers(session: Session) -> None:
    """Rows changed after the transaction's last entry (or in one that wrote none, such as a failed sign-in's
    counter) are recorded by one more entry, so no committed change escapes the chain."""
    session.flush()
    if audit_records.has_pending(session):
        user_id, username = session.info.get(_LAST_ACTOR, (None, "system"))
        append_many(session, user_id, username, [])
    session.info.pop(_LAST_ACTOR, None)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None
    records_checked: bool = False
    # A record that no longer matches the trail (the trail itself is intact): "lot 812 (L-2291) differs ..."
    record_problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            covered = ", every audited record matches it" if self.records_checked else ""
            return f"audit trail intact: {self.entries_checked} entries, hash chain verified{covered}"
        if self.record_problem is not None:
            return f"records altered outside the registry: {self.record_problem}"
        return f"audit trail broken at entry {self.first_broken_seq}: {self.problem}"


def _occurred_at_text(value: Any) -> str:
    """The entry's time as the hash saw it. Read as text so that a value an attacker made unparseable is
    reported as a broken entry rather than crashing the check."""
    text = str(value)
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return f"unreadable:{text}"


def _head(session: Session) -> tuple[int, str] | None:
    value = session.execute(select(Setting.value).where(Setting.key == HEAD_KEY)).scalar_one_or_none()
    try:
        seq, digest = str(value).split(":")
        return int(seq), digest
    except ValueError:
        return None


def verify_chain(session: Session, batch: int = 5000) -> VerifyResult:
    """Recompute the chain from the first entry (in storage order); name the first entry that does not fit.

    Catches an altered value (the entry's hash no longer matches), a removed, inserted or moved entry (the
    sequence number or the link to the previous hash), and a removed or added last entry (the head kept in
    `setting`). It cannot catch an attacker who recomputes every hash and the head: that needs a copy of the
    head kept elsewhere (a signed report or bundle records it)."""
    expected_seq, prev = 0, GENESIS_HASH
    columns = [c for c in AuditEntry.__table__.columns if c.key not in ("id", "occurred_at")]
    occurred_at = cast(AuditEntry.__table__.c.occurred_at, String).label("occurred_at")
    last_id: Any = None
    while True:
        query = select(AuditEntry.__table__.c.id, occurred_at, *columns).order_by(AuditEntry.__table__.c.id)
        if last_id is not None:
            query = query.where(AuditEntry.__table__.c.id > last_id)
        rows = session.execute(query.limit(batch)).all()
        if not rows:
            break
        for row in rows:
            fields = dict(row._mapping)
            last_id = fields["id"]
            expected_seq += 1
            checked = expected_seq - 1
            if fields["seq"] != expected_seq:
                return VerifyResult(
                    False,
                    checked,
                    expected_seq,
                    f"expected entry {expected_seq} here, found entry {fields['seq']} "
                    "(an entry was removed, inserted or moved)",
                )
            if fields["prev_hash"] != prev:
                return VerifyResult(
                    False,
                    checked,
                    expected_seq,
                    "its link to the previous entry does not match (entries removed or reordered)",
                )
            fields["occurred_at"] = _occurred_at_text(fields["occurred_at"])
            if entry_hash(fields) != fields["entry_hash"]:
                return VerifyResult(
                    False, checked, expected_seq, "its content does not match its hash (the entry was altered)"
                )
            prev = fields["entry_hash"]
    head = _head(session)
    if head is None:
        return VerifyResult(
            False,
            expected_seq,
            expected_seq + 1,
            "the record of the trail's last entry (setting audit_head) is missing or altered",
        )
    head_seq, head_hash = head
    if head_seq == expected_seq and head_hash != prev:
        return VerifyResult(
            False,
            expected_seq - 1,
            expected_seq,
            "it is not the entry the registry recorded as the last one (the entry was replaced)",
        )
    if head_seq != expected_seq:
        return VerifyResult(
            False,
            expected_seq,
            min(head_seq, expected_seq) + 1,
            f"the chain ends at entry {expected_seq} but the registry recorded {head_seq} entries "
            "(entries were removed from the end, or added outside the registry)",
        )
    return VerifyResult(True, expected_seq)


def verify_registry(session: Session) -> VerifyResult:
    """The chain, then every audited record against the latest hash the chain recorded for it."""
    result = verify_chain(session)
    if not result.ok:
        return result
    finding = audit_records.verify_records(session.connection())
    if finding is not None:
        return VerifyResult(False, result.entries_checked, finding.seq, record_problem=finding.text)
    return VerifyResult(True, result.entries_checked, records_checked=True)


def verify(db: Any) -> VerifyResult:
    """Verify the registry's whole trail and its records in one read transaction (a consistent snapshot)."""
    with db.read() as session:
        return verify_registry(session)


def verify_trail(ctx: Any, anchor: tuple[int, str] | None = None) -> VerifyResult:
    """The read-only service behind `registry-app audit verify`: any signed-in role may check the trail.

    With an `anchor` (SEQ, HASH: a head printed earlier on a report, bundle or backup, kept outside the registry)
    the trail must also still hold entry SEQ with that hash: this catches a trail cut short before SEQ, or
    rewritten from there with every hash and the head recomputed, which the chain alone cannot."""
    ctx.require(tuple(Role), "verify the audit trail")
    with ctx.db.read() as session:
        result = verify_registry(session)
        if not result.ok or anchor is None:
            return result
        seq, digest = anchor
        stored = session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq)).scalar_one_or_none()
    if stored is None:
        return VerifyResult(
            False,
            result.entries_checked,
            seq,
            f"the anchor's entry is gone: the trail has "
            f"{result.entries_checked} entries (it was cut short or replaced)",
        )
    if stored != digest.lower():
        return VerifyResult(
            False,
            result.entries_checked,
            seq,
            "its hash differs from the anchor's (the trail was rewritten from there on)",
        )
    return result


def trail_head(ctx: Any) -> tuple[int, str]:
    """The trail's current head (last entry's sequence number and hash), to keep elsewhere as an anchor
    (`registry-app audit head`); (0, GENESIS_HASH) for an empty trail."""
    ctx.require(tuple(Role), "read the audit trail's head")
    with ctx.db.read() as session:
        head = _head(session)
        if head is None:
            last = session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar()
            if last is not None:  # entries without a readable head: verify names the problem
                raise ValueError(
                    "the record of the trail's last entry (setting audit_head) is missing or altered; "
                    "run `registry-app audit verify`"
                )
            return 0, GENESIS_HASH
        return head


def head_text(session: Session) -> str:
    """The head as SEQ:HASH in the caller's read (what an output made in it reflects); "0:000..." when none."""
    seq, digest = _head(session) or (0, GENESIS_HASH)
    return f"{seq}:{digest}"


def current_head(db: Any) -> tuple[int, str]:
    """The head as the registry records it ((0, GENESIS_HASH) when unreadable: verify reports that)."""
    with db.read() as session:
        return _head(session) or (0, GENESIS_HASH)
