"""Signing in: hashed passwords, the same answer (and about the same cost) for an unknown user and a wrong
password, lockout after five failures until an admin unlocks, deactivation instead of deletion, resets."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import AuditEntry, User
from registry_app.services import (
    ConflictError,
    NotFound,
    PermissionDenied,
    ServiceContext,
    SignInFailed,
    ValidationError,
)
from registry_app.services.auth import (
    MAX_FAILED_ATTEMPTS,
    WRONG_CREDENTIALS,
    create_first_user,
    create_user,
    disable_user,
    has_users,
    list_users,
    reactivate_user,
    reauthenticate,
    reset_password,
    sign_in,
    unlock_user,
)
from registry_app.services.passwords import current_cost, hash_password, verify_password

from ..conftest import PASSWORDS


def _entries(db: Database, after_seq: int = 0) -> list[AuditEntry]:
    with db.read() as session:
        return list(
            session.execute(select(AuditEntry).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq)).scalars()
        )


def _last_seq(db: Database) -> int:
    entries = _entries(db)
    return entries[-1].seq if entries else 0


def _user(db: Database, name: str) -> User:
    with db.read() as session:
        return session.execute(select(User).where(User.username == name)).scalar_one()


def _fail(registry: ServiceContext, name: str, password: str = "wrong-password") -> str:
    with pytest.raises(SignInFailed) as failure:
        sign_in(registry, name, password)
    return str(failure.value)


def test_password_hash_is_salted_scrypt_with_its_parameters() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second, "each hash has its own salt"
    scheme, n, r, p, salt, digest = first.split("$")
    cost = current_cost()  # the tests' lowered cost (tests/conftest.py); tests/security checks the real one
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", cost.n, 8, 1)
    assert salt and digest and "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first)
    assert not verify_password("correct horse", first.replace("scrypt", "md5"))
    assert not verify_password("correct horse", "garbage")


def test_sign_in_acts_as_the_user_and_is_audited(registry: ServiceContext, db: Database) -> None:
    seq = _last_seq(db)
    actor = sign_in(registry, "pharmacist", PASSWORDS["pharmacist"])
    assert registry.actor == actor and actor.role == "pharmacist" and actor.display_name == "Lee Pharmacist"
    [entry] = _entries(db, seq)
    assert (entry.action, entry.username, entry.user_id) == ("sign-in", "pharmacist", actor.user_id)
    with db.read() as session:
        stored = session.execute(select(User.password_hash).where(User.username == "pharmacist")).scalar_one()
    assert PASSWORDS["pharmacist"] not in stored


def test_unknown_user_and_wrong_password_get_the_same_answer_and_both_are_audited(
    registry: ServiceContext, db: Database
) -> None:
    seq = _last_seq(db)
    unknown = _fail(registry, "nobody-here")
    wrong = _fail(registry, "pharmacist")
    assert unknown == wrong == WRONG_CREDENTIALS
    assert registry.actor is None
    first, second = _entries(db, seq)
    assert (first.action, first.user_id, first.username) == ("sign-in failed", None, "nobody-here")
    assert (second.action, second.username) == ("sign-in failed", "pharmacist")
    assert json.loads(second.after or "{}")["failed_attempts"] == 1


def test_unknown_user_costs_about_as_much_as_a_wrong_password(registry: ServiceContext) -> None:
    # CPU time of this process, interleaved, so other work on the machine does not skew the comparison.
    unknown, wrong = [], []
    for _ in range(7):
        for name, samples in (("nobody-here", unknown), ("director", wrong)):
            start = time.process_time()
            _fail(registry, name)
            samples.append(time.process_time() - start)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    print(f"unknown user / wrong password CPU time: {ratio:.2f}")
    assert 0.5 < ratio < 2.0, ratio


def test_five_failures_lock_until_an_admin_unlocks(
    registry: ServiceContext, admin: ServiceContext, db: Database
) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        _fail(registry, "pharmacist")
    assert not _user(db, "pharmacist").locked
    _fail(registry, "pharmacist")
    assert _user(db, "pharmacist").locked
    locked = _fail(registry, "pharmacist", PASSWORDS["pharmacist"])
    assert locked == WRONG_CREDENTIALS and registry.actor is None, "the right password says nothing either"
    assert _fail(registry, "pharmacist") == WRONG_CREDENTIALS, "a wrong password says nothing about the lock"
    unlock_user(admin, "pharmacist", reason="verified by phone")
    assert sign_in(registry, "pharmacist", PASSWORDS["pharmacist"]).username == "pharmacist"
    user = _user(db, "pharmacist")
    assert not user.locked and user.failed_attempts == 0
    actions = [e.action for e in _entries(db)]
    assert actions.count("sign-in failed") == MAX_FAILED_ATTEMPTS + 1
    assert "sign-in refused" in actions and "unlock user" in actions


def test_a_success_resets_the_count(registry: ServiceContext, db: Database) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        _fail(registry, "director")
    sign_in(registry, "director", PASSWORDS["director"])
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        _fail(registry, "director")
    assert not _user(db, "director").locked
    assert _user(db, "director").failed_attempts == MAX_FAILED_ATTEMPTS - 1


def test_deactivated_users_cannot_sign_in_and_are_kept(
    registry: ServiceContext, admin: ServiceContext, db: Database
) -> None:
    disable_user(admin, "inspector", reason="audit finished")
    assert _fail(registry, "inspector", PASSWORDS["inspector"]) == WRONG_CREDENTIALS
    assert _fail(registry, "inspector") == WRONG_CREDENTIALS
    names = {u["username"]: u for u in list_users(admin)}
    assert names["inspector"]["active"] is False, "deactivated, never deleted"
    reactivate_user(admin, "inspector", reason="next audit")
    assert sign_in(registry, "inspector", PASSWORDS["inspector"]).role == "inspector"
    with pytest.raises(ConflictError):
        disable_user(admin, "admin")
    with pytest.raises(NotFound):
        disable_user(admin, "nobody-here")


def test_reset_password_replaces_the_old_one_and_unlocks(
    registry: ServiceContext, admin: ServiceContext, db: Database
) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS):
        _fail(registry, "pharmacist")
    with pytest.raises(ValidationError) as short:
        reset_password(admin, "pharmacist", "short")
    assert short.value.for_field("password")
    seq = _last_seq(db)
    reset_password(admin, "pharmacist", "a-brand-new-password", reason="forgotten")
    [entry] = _entries(db, seq)
    assert "a-brand-new-password" not in (entry.after or "") + (entry.before or "")
    assert _fail(registry, "pharmacist", PASSWORDS["pharmacist"]) == WRONG_CREDENTIALS
    assert sign_in(registry, "pharmacist", "a-brand-new-password").username == "pharmacist"


def test_create_user_names_each_bad_field(admin: ServiceContext) -> None:
    with pytest.raises(ValidationError) as bad:
        create_user(admin, "two words", "surgeon", "short")
    assert {e.field for e in bad.value.errors} == {"username", "role", "password"}
    with pytest.raises(ConflictError):
        create_user(admin, "pharmacist", "pharmacist", "long-enough-password")


def test_only_admins_see_users_and_reauthentication_needs_a_user(
    pharmacist: ServiceContext, registry: ServiceContext
) -> None:
    with pytest.raises(PermissionDenied):
        list_users(pharmacist)
    with pytest.raises(PermissionDenied):
        reauthenticate(registry, "anything")


def test_wrong_password_at_signing_counts_towards_the_lock(director: ServiceContext, db: Database) -> None:
    seq = _last_seq(db)
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(SignInFailed):
            reauthenticate(director, "not-my-password")
    assert _user(db, "director").locked
    assert {e.action for e in _entries(db, seq)} == {"signature failed"}
    with pytest.raises(SignInFailed, match=WRONG_CREDENTIALS):
        reauthenticate(director, PASSWORDS["director"])


def test_first_user_only_on_an_empty_registry_and_must_be_admin(tmp_path: Path) -> None:
    database = open_database(sqlite_url_for(tmp_path / "empty.sqlite3"))
    try:
        ctx = ServiceContext(database)
        assert not has_users(ctx)
        with pytest.raises(ValidationError) as not_admin:
            create_first_user(ctx, "first", "pharmacist", "first-password")
        assert not_admin.value.for_field("role")
        actor = create_first_user(ctx, "first", "admin", "first-password", "First Admin")
        assert actor.role == "admin" and has_users(ctx)
        with pytest.raises(PermissionDenied):
            create_first_user(ctx, "second", "admin", "second-password")
    finally:
        database.dispose()
