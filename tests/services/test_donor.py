"""Donor eligibility from the lot: donor use (on the product) and the lot's reference, one audited change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry_app.domain import AuditEntry
from registry_app.services import ServiceContext, ValidationError
from registry_app.services.flags import flags_for_subject
from registry_app.services.lots.donor import record_donor_eligibility
from registry_app.services.queries.lot_record import lot_detail

from ..rules import builders


class _Lot:
    def __init__(self, lot_id: int) -> None:
        self.lot_id = lot_id


def make_lot(db, product_values: dict, **lot_values) -> _Lot:  # type: ignore[no-untyped-def,type-arg]
    """A lot of a human-derived exosome product (the rule tests' builders: no Qt needed here)."""
    with db.write() as session:
        return _Lot(builders.lot(session, builders.product(session, **product_values), **lot_values).id)


def _donor_flag(ctx: ServiceContext, lot_id: int) -> bool:
    return any(f.code == "UNDOC-DONOR" for f in flags_for_subject(ctx, "lot", lot_id))


def test_a_reference_closes_undoc_donor_with_one_audit_entry(pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_umbilical_cord"}, donor_eligibility_ref=None)
    assert _donor_flag(pharmacist, lot.lot_id)
    changed = record_donor_eligibility(pharmacist, lot.lot_id, reference="DE-2024-77", reason="file received")
    assert changed == {"donor_eligibility_ref": "DE-2024-77"}
    assert lot_detail(pharmacist, lot.lot_id).fields["donor_eligibility_ref"] == "DE-2024-77"
    assert not _donor_flag(pharmacist, lot.lot_id)
    with pharmacist.db.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "record donor eligibility")).scalar_one()
        assert entry.reason == "file received"


def test_autologous_donor_use_closes_undoc_donor(pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    record_donor_eligibility(pharmacist, lot.lot_id, donor_use="autologous", reason="patient's own cells")
    assert lot_detail(pharmacist, lot.lot_id).source["donor_use"] == "autologous"
    assert not _donor_flag(pharmacist, lot.lot_id)


def test_a_change_without_a_reason_or_with_a_bad_donor_use_writes_nothing(pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    with pytest.raises(ValidationError) as caught:
        record_donor_eligibility(pharmacist, lot.lot_id, donor_use="xenogeneic", reference="DE-1", reason=" ")
    assert caught.value.for_field("reason") and caught.value.for_field("donor_use")
    assert lot_detail(pharmacist, lot.lot_id).fields["donor_eligibility_ref"] is None
    assert record_donor_eligibility(pharmacist, lot.lot_id, reference=None, reason="no change") == {}
