"""Users, electronic signatures, flag waivers and the append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow, vocab_check
from .vocab import Role, SignatureMeaning, SubjectType


class User(Base):
    """A person who signs in. Deactivated, never deleted, so audit entries always name someone real."""

    __tablename__ = "app_user"
    __table_args__ = (
        vocab_check("role", Role),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SiteRole(Base):
    """A user's role at one site, or at every site of the group (`site_id` NULL: a group medical director, a
    group inspector). Signing in at a site takes the role there: the site's own membership, else the group one.
    Revoked (revoked_at), never deleted, so the trail can always say who could act where and when."""

    __tablename__ = "site_role"
    __table_args__ = (vocab_check("role", Role), Index("ix_site_role_user_site", "user_id", "site_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Signature(Base):
    """21 CFR 11.50: the signer's printed name, the time and the meaning, bound to a hash of what was signed."""

    __tablename__ = "signature"
    __table_args__ = (
        vocab_check("meaning", SignatureMeaning),
        Index("ix_signature_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(20))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Waiver(Base):
    """A medical director's signed decision that one flag on one subject is acceptable.

    `flag_message` is the message the flag had when waived: if the subject's data changes so the rule now
    says something different, the waiver no longer matches and the flag is open again.
    """

    __tablename__ = "waiver"
    __table_args__ = (
        vocab_check("subject_type", SubjectType),
        CheckConstraint("length(reason) > 0", name="reason_present"),
        Index("ix_waiver_subject", "code", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    flag_message: Mapped[str] = mapped_column(Text)
    # The facts the rule compared when the flag was waived (Flag.facts): the waiver covers them and ends when
    # one changes, whatever the wording. None for waivers given before facts were kept: they match the message.
    flag_facts: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signature.id"))
    waived_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    waived_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """One append-only entry of the audit trail (21 CFR 11.10(e)).

    `entry_hash` is SHA-256 over the entry's content and `prev_hash`, so changing, deleting, inserting or
    reordering any entry breaks the chain; the database also refuses UPDATE and DELETE (triggers).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Per audited table, the number of rows this entry created or changed and the SHA-256 of their stored
    # hashes (audit_row_hashes): part of the entry's hash, so the records are chained too. None before 0008.
    records: Mapped[str | None] = mapped_column(Text)


class AuditRowHashes(Base):
    """The content hashes of the rows one audit entry created or changed, packed: `record_ids` big-endian
    64-bit ids, `row_hashes` 32-byte SHA-256 digests in the same order (one row per table and chunk)."""

    __tablename__ = "audit_row_hashes"
    __table_args__ = (Index("ix_audit_row_hashes_table_seq", "table_name", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    table_name: Mapped[str] = mapped_column(String(40))
    first_id: Mapped[int] = mapped_column(Integer)
    record_ids: Mapped[bytes] = mapped_column(LargeBinary)
    row_hashes: Mapped[bytes] = mapped_column(LargeBinary)
