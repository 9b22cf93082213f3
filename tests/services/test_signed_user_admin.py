"""User administration signed by the admin (the desktop's Users editor, issue 19 item 6): each change re-asks
the admin's password, records a signature (meaning "approved", subject the user) in the change's transaction
and names it in the change's one audit entry. A wrong password, bad input or a change to oneself writes
nothing of the change."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry_app.db import Database
from registry_app.domain import AuditEntry, Signature, User
from registry_app.services import (
    ConflictError,
    PermissionDenied,
    ServiceContext,
    SignInFailed,
    ValidationError,
    sites,
)
from registry_app.services.auth import (
    create_user,
    list_users,
    sign_in,
    signed_create_user,
    signed_disable_user,
    signed_reactivate_user,
    signed_reset_password,
    signed_set_role,
    signed_unlock_user,
)

from ..conftest import PASSWORDS

ADMIN_PASSWORD = PASSWORDS["admin"]


def _user(db: Database, name: str) -> User:
    with db.read() as session:
        user = session.execute(select(User).where(User.username == name)).scalar_one()
        session.expunge(user)
        return user


def _signatures(db: Database) -> list[Signature]:
    with db.read() as session:
        found = list(session.execute(select(Signature).order_by(Signature.id)).scalars())
        for signature in found:
            session.expunge(signature)
        return found


def _last_entry(db: Database) -> AuditEntry:
    with db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        session.expunge(entry)
        return entry


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count(AuditEntry.id))).scalar_one()


def test_each_change_is_signed_and_its_audit_entry_names_the_signature(
    admin: ServiceContext, db: Database, registry: ServiceContext
) -> None:
    steps = [
        (
            "create user",
            lambda: signed_create_user(
                admin,
                "nurse.kim",
                "pharmacist",
                "kim-first-password-9",
                "Kim Nurse",
                signer_password=ADMIN_PASSWORD,
                reason="hired",
            ),
        ),
        ("set role", lambda: signed_set_role(admin, "nurse.kim", "medical_director", signer_password=ADMIN_PASSWORD)),
        ("disable user", lambda: signed_disable_user(admin, "nurse.kim", signer_password=ADMIN_PASSWORD)),
        ("reactivate user", lambda: signed_reactivate_user(admin, "nurse.kim", signer_password=ADMIN_PASSWORD)),
        ("unlock user", lambda: signed_unlock_user(admin, "nurse.kim", signer_password=ADMIN_PASSWORD)),
        (
            "reset password",
            lambda: signed_reset_password(
                admin, "nurse.kim", "kim-second-password-9", signer_password=ADMIN_PASSWORD, reason="forgotten"
            ),
        ),
    ]
    for action, step in steps:
        before = _audit_count(db)
        step()
        assert _audit_count(db) == before + 1, f"{action}: one audit entry"
        entry = _last_entry(db)
        signature = _signatures(db)[-1]
        after = json.loads(entry.after or "{}")
        assert entry.action == action and entry.username == "admin"
        assert after["signature_id"] == signature.id and after["signature_meaning"] == "approved"
        assert after["signed_by"] == "Ada Admin"
        assert (signature.subject_type, signature.subject_id) == ("user", str(_user(db, "nurse.kim").id))
        assert "kim-first-password-9" not in (entry.after or "") and "kim-second-password-9" not in (entry.after or "")
    assert len(_signatures(db)) == len(steps)
    kim = sign_in(registry, "nurse.kim", "kim-second-password-9")
    assert (kim.role, kim.full_name) == ("medical_director", "Kim Nurse")


def test_a_wrong_admin_password_changes_nothing(admin: ServiceContext, db: Database) -> None:
    calls = [
        lambda: signed_create_user(
            admin, "nurse.kim", "pharmacist", "kim-first-password-9", signer_password="not-the-password"
        ),
        lambda: signed_set_role(admin, "pharmacist", "inspector", signer_password="not-the-password"),
        lambda: signed_disable_user(admin, "pharmacist", signer_password="not-the-password"),
        lambda: signed_reset_password(
            admin, "pharmacist", "a-new-password-for-lee", signer_password="not-the-password"
        ),
    ]
    before = _user(db, "pharmacist")
    for call in calls:
        with pytest.raises(SignInFailed):
            call()
    after = _user(db, "pharmacist")
    assert (after.role, after.active, after.password_hash) == (before.role, before.active, before.password_hash)
    assert not _signatures(db)
    with db.read() as session:
        assert session.execute(select(func.count(User.id)).where(User.username == "nurse.kim")).scalar_one() == 0
    assert _last_entry(db).action == "signature failed", "only the failed attempts are recorded"


def test_bad_input_is_refused_before_the_password_is_checked(admin: ServiceContext, db: Database) -> None:
    with pytest.raises(ValidationError) as bad:
        signed_create_user(admin, "two\nlines", "pharmacist", "password", signer_password="not-the-password")
    assert {e.field for e in bad.value.errors} == {"username", "password"}
    with pytest.raises(ValidationError) as common:
        signed_reset_password(admin, "pharmacist", "password1234", signer_password=ADMIN_PASSWORD)
    assert "common" in common.value.for_field("password")[0]
    with pytest.raises(ConflictError) as duplicate:
        signed_create_user(admin, "pharmacist", "pharmacist", "long-enough-password", signer_password=ADMIN_PASSWORD)
    assert duplicate.value.field == "username"
    assert _user(db, "admin").failed_attempts == 0, "a mistyped form costs no password attempt"
    assert not _signatures(db)


def test_an_admin_cannot_demote_or_disable_themself(admin: ServiceContext, db: Database) -> None:
    with pytest.raises(ConflictError, match="your own role") as role:
        signed_set_role(admin, "admin", "pharmacist", signer_password=ADMIN_PASSWORD)
    assert role.value.field == "role"
    with pytest.raises(ConflictError, match="your own account") as active:
        signed_disable_user(admin, "admin", signer_password=ADMIN_PASSWORD)
    assert active.value.field == "active"
    me = _user(db, "admin")
    assert (me.role, me.active) == ("admin", True) and not _signatures(db)


def test_an_admin_demoted_since_signing_in_cannot_sign(admin: ServiceContext, db: Database) -> None:
    create_user(admin, "second.admin", "admin", "second-admin-password")
    other = ServiceContext(db, sign_in(ServiceContext(db), "second.admin", "second-admin-password"))
    signed_set_role(other, "admin", "pharmacist", signer_password="second-admin-password")
    with pytest.raises(PermissionDenied, match="no longer an admin"):
        signed_unlock_user(admin, "pharmacist", signer_password=ADMIN_PASSWORD)  # `admin` still says "admin"
    assert len(_signatures(db)) == 1


def test_a_signed_new_user_gets_their_role_at_the_site_named(admin: ServiceContext, db: Database) -> None:
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    signed_create_user(
        admin, "kim", "pharmacist", "kim-first-password-9", signer_password=ADMIN_PASSWORD, site_code="BUSAN"
    )
    signed_create_user(admin, "lee2", "inspector", "lee2-first-password", signer_password=ADMIN_PASSWORD)
    listed = {u["username"]: u["sites"] for u in list_users(admin)}
    assert listed["kim"] == [{"site": "BUSAN", "role": "pharmacist"}]
    assert listed["lee2"] == [{"site": "all", "role": "inspector"}], "no site named: every site, as before"
    assert json.loads(_last_entry(db).after or "{}")["site"] == "all"
