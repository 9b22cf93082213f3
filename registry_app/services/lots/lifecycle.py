"""A lot's lifecycle after receipt: release (medical director, signed, acknowledging open critical and high
findings), reject and destroy, each refused with a reason the dialogs show before anyone signs."""

from collections.abc import Collection
from decimal import Decimal

from sqlalchemy.orm import Session

from registry_app.domain import (
    Lot,
    utcnow,
)
from registry_app.domain.exact import ZERO
from registry_app.domain.vocab import (
    SEVERITY_RANK,
    DestroyReason,
    LotStatus,
    SignatureMeaning,
)
from registry_app.importers import cells
from registry_app.rules import Flag
from registry_app.services.audit import AuditRecord
from registry_app.services.auth import add_signature, reauthenticate
from registry_app.services.clock import site_today
from registry_app.services.context import DIRECTOR, READERS, STAFF, ServiceContext, changing, jurisdiction
from registry_app.services.errors import (
    AcknowledgementRequired,
    ConflictError,
    FieldError,
    ValidationError,
    required_reason,
)
from registry_app.services.lots.receiving import find_lot


def lifecycle_refusal(action: str, status: str, lot_number: str = "") -> str | None:
    """Why a lot in this status cannot be released, rejected or destroyed, or None when it can. The services
    refuse with this message and the dialogs disable their button with it, before anyone types a password."""
    lot = f"lot {lot_number}" if lot_number else "this lot"
    if action == "release" and status != LotStatus.QUARANTINE:
        return f"{lot} is {status}: only a lot in quarantine can be released"
    if action == "reject" and status in (LotStatus.REJECTED, LotStatus.DESTROYED):
        return f"{lot} is already {status}"
    if action == "destroy" and status == LotStatus.DESTROYED:
        return f"{lot} was already destroyed"
    if action == "recall" and status == LotStatus.RECALLED:
        return f"{lot} was recalled already: open its recall lookback instead"  # as recalls.recall_lot refuses
    return None


# Open findings of these severities must be acknowledged, one by one, in the release signature (issue 20.5).
ACKNOWLEDGE_ON_RELEASE = ("critical", "high")


def _release_findings(session: Session, ctx: ServiceContext, lot: Lot) -> list[Flag]:
    """Unwaived critical and high findings on the lot and its product, highest first."""
    from registry_app.rules import evaluate_flags

    juris, today = jurisdiction(session, ctx), site_today(ctx)
    found = evaluate_flags(session, juris, today, subject_type="lot", subject_ids=[lot.id]) + evaluate_flags(
        session, juris, today, subject_type="product", subject_ids=[lot.product_id]
    )
    return sorted(
        (f for f in found if not f.waived and f.severity in ACKNOWLEDGE_ON_RELEASE),
        key=lambda f: (-SEVERITY_RANK[f.severity], f.code),
    )


def findings_to_acknowledge(ctx: ServiceContext, lot_id: int) -> list[Flag]:
    """What a release of this lot must acknowledge: its open critical and high findings (and its product's)."""
    ctx.require(READERS, "see flags")
    with ctx.db.read() as session:
        return _release_findings(session, ctx, find_lot(session, ctx, lot_id))


@changing("release lots", DIRECTOR)
def release_lot(
    ctx: ServiceContext, lot_id: int, password: str, note: str | None = None, acknowledged: Collection[str] = ()
) -> int:
    """Release a quarantined lot for use: the medical director signs (meaning "released"). Returns the
    signature id.

    Open critical or high findings do not stop a release (a director may judge them acceptable), but each
    must be acknowledged by code in `acknowledged`; the acknowledged codes are part of the signed content
    and the audit entry. A finding that appeared since the dialog was opened refuses the release, so a
    signature never covers a finding its signer was not shown."""
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        lot = find_lot(session, ctx, lot_id)
        if refusal := lifecycle_refusal("release", lot.status, lot.lot_number):
            raise ConflictError(refusal)
        open_findings = _release_findings(session, ctx, lot)
        unacknowledged = [f for f in open_findings if f.code not in set(acknowledged)]
        if unacknowledged:
            raise AcknowledgementRequired(unacknowledged)
        acknowledged_codes = sorted({f.code for f in open_findings})
        before = {"status": lot.status, "released_at": None, "released_on": None, "release_signature_id": None}
        content = {
            "lot_id": lot.id,
            "product_id": lot.product_id,
            "lot_number": lot.lot_number,
            "expiry_date": lot.expiry_date,
            "quantity_received": lot.quantity_received,
            "acknowledged_findings": [
                {"code": f.code, "severity": f.severity, "message": f.message} for f in open_findings
            ],
        }
        signature = add_signature(session, signer, SignatureMeaning.RELEASED, "lot", lot.id, content)
        lot.status, lot.released_at, lot.release_signature_id = LotStatus.RELEASED.value, utcnow(), signature.id
        lot.released_on = site_today(ctx)  # the site's local date
        if note:
            lot.status_note = note.strip()
        ctx.audit(
            session,
            AuditRecord(
                "release lot",
                "lot",
                lot.id,
                before=before,
                after={
                    "status": lot.status,
                    "released_at": lot.released_at,
                    "released_on": lot.released_on,
                    "release_signature_id": signature.id,
                    "signature_meaning": signature.meaning,
                    "signed_by": signature.signer_name,
                    "acknowledged_findings": acknowledged_codes,
                },
                reason=note,
            ),
        )
        return signature.id


@changing("reject lots", STAFF)
def reject_lot(ctx: ServiceContext, lot_id: int, reason: str, *, password: str) -> int:
    """Reject a lot (e.g. damaged on arrival, wrong product, documentation refused); it stays on record.
    The user signs (meaning "rejected"), since a rejection takes stock out of use for good. Returns the
    signature id."""
    why = required_reason(reason)
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        lot = find_lot(session, ctx, lot_id)
        if refusal := lifecycle_refusal("reject", lot.status, lot.lot_number):
            raise ConflictError(refusal)
        before = {"status": lot.status, "status_note": lot.status_note, "rejected_on": lot.rejected_on}
        content = {"lot_id": lot.id, "lot_number": lot.lot_number, "status_before": lot.status, "reason": why}
        signature = add_signature(session, signer, SignatureMeaning.REJECTED, "lot", lot.id, content)
        lot.status, lot.status_note, lot.rejected_on = LotStatus.REJECTED.value, why, site_today(ctx)
        ctx.audit(
            session,
            AuditRecord(
                "reject lot",
                "lot",
                lot.id,
                before=before,
                after={
                    "status": lot.status,
                    "status_note": why,
                    "rejected_on": lot.rejected_on,
                    "signature_id": signature.id,
                    "signature_meaning": signature.meaning,
                    "signed_by": signature.signer_name,
                },
                reason=why,
            ),
        )
        return signature.id


@changing("destroy lots", STAFF)
def destroy_lot(ctx: ServiceContext, lot_id: int, reason: str, note: str | None = None, *, password: str) -> Decimal:
    """Destroy what is on hand of a lot, with a reason (DestroyReason); the user signs (meaning "destroyed")
    for the quantity destroyed. Returns the quantity destroyed."""
    try:
        why = cells.vocabulary(DestroyReason, "destruction reason")(str(reason).strip())
    except cells.CellError as error:
        raise ValidationError([FieldError("reason", str(error))]) from None
    if why == DestroyReason.OTHER and not (note and note.strip()):
        raise ValidationError([FieldError("note", "say what the other reason is")])
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        lot = find_lot(session, ctx, lot_id)
        if refusal := lifecycle_refusal("destroy", lot.status, lot.lot_number):
            raise ConflictError(refusal)
        before = {
            "status": lot.status,
            "quantity_destroyed": lot.quantity_destroyed,
            "destroyed_reason": lot.destroyed_reason,
            "status_note": lot.status_note,
        }
        amount = max(lot.quantity_on_hand, ZERO)
        content = {
            "lot_id": lot.id,
            "lot_number": lot.lot_number,
            "status_before": lot.status,
            "quantity_destroyed": amount,
            "reason": why,
            "note": note.strip() if note else None,
        }
        signature = add_signature(session, signer, SignatureMeaning.DESTROYED, "lot", lot.id, content)
        lot.quantity_destroyed += amount
        lot.status, lot.destroyed_reason = LotStatus.DESTROYED.value, why
        if note:
            lot.status_note = note.strip()
        ctx.audit(
            session,
            AuditRecord(
                "destroy lot",
                "lot",
                lot.id,
                before=before,
                after={
                    "status": lot.status,
                    "quantity_destroyed": lot.quantity_destroyed,
                    "destroyed_reason": why,
                    "status_note": lot.status_note,
                    "destroyed_now": amount,
                    "signature_id": signature.id,
                    "signature_meaning": signature.meaning,
                    "signed_by": signature.signer_name,
                },
                reason=note or why,
            ),
        )
        return amount
