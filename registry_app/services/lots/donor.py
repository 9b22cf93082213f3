"""A lot's source and donor eligibility (UNDOC-DONOR): whether its donor cells are the patient's own
(donor use, 21 CFR 1271.90(a)(1)) and the donor-eligibility record (a reference; a document is attached with
documents.attach_document, kind donor_eligibility).

Donor use is stored on the product (every lot of it shares its origin) and the reference on the lot; the
desktop edits both from the lot, in one transaction with one audit entry and a reason.
"""

from __future__ import annotations

from typing import Any

from registry_app.domain.vocab import DonorUse, values
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord
from registry_app.services.context import STAFF, ServiceContext, changing
from registry_app.services.errors import FieldError, ValidationError

_UNCHANGED: Any = object()


@changing("record donor eligibility", STAFF)
def record_donor_eligibility(
    ctx: ServiceContext,
    lot_id: int,
    *,
    donor_use: str | None = _UNCHANGED,
    reference: str | None = _UNCHANGED,
    reason: str = "",
) -> dict[str, Any]:
    """Set the product's donor use and/or the lot's donor-eligibility reference (None clears it), with a
    reason. Returns what changed (empty when nothing did: nothing is written then)."""
    problems: list[FieldError] = []
    if donor_use is not _UNCHANGED and donor_use is not None and donor_use not in values(DonorUse):
        problems.append(
            FieldError("donor_use", f"{donor_use!r} is not a donor use; use one of {', '.join(values(DonorUse))}")
        )
    if reference is not _UNCHANGED and reference is not None:
        reference = reference.strip() or None
        if reference is not None and len(reference) > 200:
            problems.append(FieldError("reference", "at most 200 characters fit"))
    if not reason or not reason.strip():
        problems.append(FieldError("reason", "give the reason for the change"))
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        lot = site_scope.visible_lot(session, ctx, lot_id)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if donor_use is not _UNCHANGED and donor_use != lot.product.donor_use:
            before["product_donor_use"], after["product_donor_use"] = lot.product.donor_use, donor_use
            after["product_id"] = lot.product_id
            lot.product.donor_use = donor_use
        if reference is not _UNCHANGED and reference != lot.donor_eligibility_ref:
            before["donor_eligibility_ref"], after["donor_eligibility_ref"] = lot.donor_eligibility_ref, reference
            lot.donor_eligibility_ref = reference
        if not after:
            return {}
        ctx.audit(
            session,
            AuditRecord("record donor eligibility", "lot", lot.id, before=before, after=after, reason=reason.strip()),
        )
        return after
