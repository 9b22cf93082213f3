"""A medical director's signed approval of a report (21 CFR 11.50): the signature names the signer, the
time, the meaning "approved" and binds the SHA-256 of the report file, the period it covers and the audit
trail's head at signing, so a later alteration of the report or of the trail before it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from registry_app.domain import Setting, Signature
from registry_app.domain.vocab import SignatureMeaning
from registry_app.services.audit import HEAD_KEY, AuditRecord
from registry_app.services.auth import add_signature, content_hash, reauthenticate
from registry_app.services.context import DIRECTOR, READERS, ServiceContext, changing
from registry_app.services.errors import FieldError, ValidationError

REPORT_SUBJECT = "report"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ReportSignOff:
    """One signature on a report, as shown beside the report or printed in a bundle's manifest."""

    signature_id: int
    signer_name: str
    meaning: str
    signed_at: datetime
    report_sha256: str
    content_hash: str


def signed_content(
    report_sha256: str, period_from: date, period_to: date, title: str, audit_head: str
) -> dict[str, Any]:
    """Exactly what the signature's hash covers (recompute it to check a signature against a report)."""
    return {
        "report_sha256": report_sha256,
        "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(),
        "title": title,
        "audit_head": audit_head,
    }


def _validated(report_sha256: str, period_from: date, period_to: date, title: str) -> str:
    problems = []
    digest = report_sha256.strip().lower()
    if not _SHA256.match(digest):
        problems.append(FieldError("report_sha256", "give the report file's SHA-256 as 64 hexadecimal digits"))
    if not isinstance(period_from, date) or not isinstance(period_to, date):
        problems.append(FieldError("period", "give the period's first and last day as dates"))
    elif period_from > period_to:
        problems.append(FieldError("period", f"the period starts ({period_from}) after it ends ({period_to})"))
    if not title.strip():
        problems.append(FieldError("title", "name the report that is signed"))
    if problems:
        raise ValidationError(problems)
    return digest


@changing("sign off reports", DIRECTOR)
def sign_off_report(
    ctx: ServiceContext,
    password: str,
    report_sha256: str,
    period_from: date,
    period_to: date,
    title: str = "compliance report",
) -> ReportSignOff:
    """The director re-enters the password and approves the report whose file has this SHA-256.

    A wrong password raises SignInFailed and leaves only the failed attempt in the trail."""
    digest = _validated(report_sha256, period_from, period_to, title)
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        head = session.execute(select(Setting.value).where(Setting.key == HEAD_KEY)).scalar_one()
        content = signed_content(digest, period_from, period_to, title.strip(), head)
        signature = add_signature(session, signer, SignatureMeaning.APPROVED, REPORT_SUBJECT, digest, content)
        ctx.audit(
            session,
            AuditRecord(
                "sign off report",
                REPORT_SUBJECT,
                digest,
                before={},
                after={
                    "signature_id": signature.id,
                    "meaning": signature.meaning,
                    "signer": signature.signer_name,
                    **content,
                },
            ),
        )
        return ReportSignOff(
            signature.id, signature.signer_name, signature.meaning, signature.signed_at, digest, signature.content_hash
        )


def report_signoffs(ctx: ServiceContext, report_sha256: str) -> list[ReportSignOff]:
    """Every sign-off of the report with this SHA-256, oldest first."""
    ctx.require(READERS, "see report sign-offs")
    digest = report_sha256.strip().lower()
    with ctx.db.read() as session:
        rows = session.execute(
            select(Signature)
            .where(Signature.subject_type == REPORT_SUBJECT, Signature.subject_id == digest)
            .order_by(Signature.id)
        ).scalars()
        return [ReportSignOff(s.id, s.signer_name, s.meaning, s.signed_at, digest, s.content_hash) for s in rows]


def signature_matches(signoff: ReportSignOff, content: dict[str, Any]) -> bool:
    return content_hash(content) == signoff.content_hash
