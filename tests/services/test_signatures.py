"""Electronic signatures (21 CFR 11.50, 11.200): the signer re-enters the password; the signature stores
name, time, meaning and a hash of what was signed, linked to the record; a wrong password records only the
failed attempt."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import AuditEntry, Signature, User
from registry_app.services import PermissionDenied, ServiceContext, SignInFailed, ValidationError
from registry_app.services.audit import AuditRecord, verify
from registry_app.services.auth import add_signature, content_hash, reauthenticate
from registry_app.services.signoff import report_signoffs, sign_off_report, signature_matches, signed_content

from ..conftest import PASSWORDS
from ..helpers import row_counts

REPORT = "0123456789abcdef" * 4
Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def _new_entries(db: Database, after: int) -> list[AuditEntry]:
    with db.read() as session:
        return list(
            session.execute(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)).scalars()
        )


def _last_seq(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar() or 0


def test_director_signs_off_a_report(director: ServiceContext, db: Database) -> None:
    seq = _last_seq(db)
    signoff = sign_off_report(director, PASSWORDS["director"], REPORT.upper(), *Q1, title="Q1 compliance report")
    assert (signoff.signer_name, signoff.meaning, signoff.report_sha256) == ("Dana Director", "approved", REPORT)
    with db.read() as session:
        stored = session.get(Signature, signoff.signature_id)
    assert stored is not None and stored.subject_type == "report" and stored.subject_id == REPORT
    assert stored.user_id == director.actor.user_id if director.actor else False
    [entry] = _new_entries(db, seq)
    after = json.loads(entry.after or "{}")
    assert (entry.action, after["signature_id"], after["meaning"]) == ("sign off report", stored.id, "approved")
    # The signature binds the report, its period and the trail as it stood before the signing.
    content = signed_content(REPORT, *Q1, "Q1 compliance report", after["audit_head"])
    assert int(after["audit_head"].split(":")[0]) == seq
    assert signature_matches(signoff, content) and stored.content_hash == content_hash(content)
    assert not signature_matches(signoff, dict(content, period_to="2026-04-30"))
    assert report_signoffs(director, REPORT) == [signoff]
    assert verify(db).ok


def test_wrong_password_records_only_the_failed_attempt(director: ServiceContext, db: Database) -> None:
    counts, seq = row_counts(db), _last_seq(db)
    with pytest.raises(SignInFailed):
        sign_off_report(director, "not-the-password", REPORT, *Q1)
    [entry] = _new_entries(db, seq)
    assert (entry.action, entry.username) == ("signature failed", "director")
    assert row_counts(db) == dict(counts, audit_entry=counts["audit_entry"] + 1)
    with db.read() as session:
        assert session.execute(select(User.failed_attempts).where(User.username == "director")).scalar_one() == 1
    assert report_signoffs(director, REPORT) == []


def test_only_a_director_signs_off(pharmacist: ServiceContext, inspector: ServiceContext, db: Database) -> None:
    counts = row_counts(db)
    for ctx, key in ((pharmacist, "pharmacist"), (inspector, "inspector")):
        with pytest.raises(PermissionDenied, match="sign off reports"):
            sign_off_report(ctx, PASSWORDS[key], REPORT, *Q1)
    assert row_counts(db) == counts


def test_bad_sign_off_input_names_the_field_and_writes_nothing(director: ServiceContext, db: Database) -> None:
    counts = row_counts(db)
    with pytest.raises(ValidationError) as bad:
        sign_off_report(director, PASSWORDS["director"], "not-a-hash", date(2026, 4, 1), date(2026, 3, 1), title=" ")
    assert {e.field for e in bad.value.errors} == {"report_sha256", "period", "title"}
    assert row_counts(db) == counts, "invalid input is refused before the password is even checked"


def test_reauthenticate_then_sign_in_one_transaction(director: ServiceContext, db: Database) -> None:
    signer = reauthenticate(director, PASSWORDS["director"])
    assert signer.user_id == (director.actor.user_id if director.actor else None)
    with db.write() as session:
        signature = add_signature(session, signer, "waived", "lot", 42, {"code": "LOT-EXPIRED", "lot": 42})
        director.audit(
            session,
            AuditRecord("waive flag", "lot", 42, {}, {"signature_id": signature.id, "meaning": signature.meaning}),
        )
    with db.read() as session:
        stored = session.execute(select(Signature).where(Signature.subject_id == "42")).scalar_one()
    assert (stored.signer_name, stored.meaning, stored.subject_type) == ("Dana Director", "waived", "lot")
    assert stored.content_hash == content_hash({"lot": 42, "code": "LOT-EXPIRED"}), "key order does not matter"
    assert stored.signed_at is not None


def test_signing_without_a_signed_in_user_is_refused(registry: ServiceContext, db: Database) -> None:
    with pytest.raises(PermissionDenied):
        reauthenticate(registry, PASSWORDS["director"])
    from registry_app.services import Actor

    with pytest.raises(PermissionDenied), db.write() as session:
        add_signature(session, Actor(None, "ghost", ""), "approved", "report", REPORT, {})
    with db.read() as session:
        assert session.execute(select(Signature)).first() is None
