"""The hash-chained audit trail: entries link up, the database refuses UPDATE and DELETE, and `verify`
finds every direct alteration (value changed, entry deleted, inserted or moved) and names where."""

from __future__ import annotations

import itertools
import json
import os
import random

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from registry_app.db import Database
from registry_app.domain import AuditEntry, Setting
from registry_app.services import ServiceContext
from registry_app.services.audit import (
    GENESIS_HASH,
    HEAD_KEY,
    AuditRecord,
    append_many,
    changes,
    entry_hash,
    verify,
    verify_trail,
)
from registry_app.services.auth import create_user

from ..reliability.tamper import KINDS, populate_trail, run_trial, trail_rows, user_ids

TRIALS_PER_KIND = int(os.environ.get("REGISTRY_TAMPER_TRIALS", "60"))


def test_entries_link_into_a_chain_with_a_head(admin: ServiceContext, db: Database) -> None:
    create_user(admin, "newcomer", "pharmacist", "newcomer-password", "New Comer")
    with db.write() as session:
        last = append_many(session, None, "system", [AuditRecord("a", "lot", 1), AuditRecord("b", "lot", 2)])
    with db.read() as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        head = session.get(Setting, HEAD_KEY)
    assert [e.seq for e in entries] == list(range(1, last + 1))
    assert entries[0].prev_hash == GENESIS_HASH
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.entry_hash
    assert head is not None and head.value == f"{last}:{entries[-1].entry_hash}"
    created = next(
        e for e in entries if e.action == "create user" and e.entity_id is not None and "newcomer" in (e.after or "")
    )
    after = json.loads(created.after or "{}")
    assert json.loads(created.before or "null") == {}
    assert after["username"] == "newcomer" and "password_hash" not in after
    assert created.username == "admin"
    assert verify(db).ok


def test_entry_hash_covers_every_field() -> None:
    fields = {
        "seq": 3,
        "occurred_at": "2026-01-01T00:00:00",
        "user_id": 1,
        "username": "u",
        "action": "a",
        "entity_type": "lot",
        "entity_id": "7",
        "before": "{}",
        "after": '{"x": 1}',
        "reason": None,
        "prev_hash": GENESIS_HASH,
    }
    digest = entry_hash(fields)
    for key in fields:
        altered = dict(fields, **{key: f"{fields[key]}!"})
        assert entry_hash(altered) != digest, key


def test_changes_keeps_only_changed_fields() -> None:
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == ({"b": 2}, {"b": 3})


def test_database_refuses_update_and_delete(db: Database) -> None:
    with db.write() as session:
        append_many(session, None, "system", [AuditRecord("probe", "lot", 1, {}, {"x": 1})])
    statements = [
        update(AuditEntry).values(action="rewritten"),
        delete(AuditEntry),
        update(AuditEntry).where(AuditEntry.seq == 1).values(reason="quietly"),
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(statement)
    if not db.is_sqlite:
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_entry"))
    assert verify(db).ok


def test_untouched_trail_verifies(admin: ServiceContext, db: Database) -> None:
    last = populate_trail(db, random.Random(1))
    result = verify(db)
    assert result.ok and result.entries_checked == last
    assert f"{last} entries" in result.describe()


@pytest.mark.parametrize("kind", KINDS)
def test_every_tampering_is_detected_at_the_right_entry(kind: str, admin: ServiceContext, db: Database) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    populate_trail(db, rng)
    rows, users = trail_rows(db.engine), user_ids(db.engine)
    missed = []
    for _ in range(TRIALS_PER_KIND):
        trial = run_trial(db.engine, kind, rng, rows, users)
        if trial.result.ok or trial.result.first_broken_seq != trial.expected_seq:
            missed.append((trial.expected_seq, trial.result))
    print(f"tamper trials ({kind}, seed {seed}): {TRIALS_PER_KIND - len(missed)}/{TRIALS_PER_KIND} detected")
    assert not missed, f"seed {seed}: {missed[:3]}"
    assert verify(db).ok, "every trial was rolled back and the trail is intact"


def test_missing_head_is_reported_not_a_crash(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(Setting).where(Setting.key == HEAD_KEY))
    result = verify(db)
    assert not result.ok and "audit_head" in (result.problem or "")


def test_every_role_may_verify_but_not_anonymously(
    pharmacist: ServiceContext, inspector: ServiceContext, registry: ServiceContext
) -> None:
    assert verify_trail(pharmacist).ok and verify_trail(inspector).ok
    from registry_app.services import PermissionDenied

    with pytest.raises(PermissionDenied):
        verify_trail(registry)
