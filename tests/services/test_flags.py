"""The flags service: listing with filters, one subject, counts, scores, and signed waivers."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from registry_app.domain import AuditEntry, Product, Signature
from registry_app.services import ServiceContext, flags
from registry_app.services.errors import ConflictError, NotFound, PermissionDenied, SignInFailed, ValidationError

from ..conftest import PASSWORDS
from ..rules import builders as b

TODAY = b.TODAY


def _unknown_maker_product(ctx: ServiceContext) -> int:
    with ctx.db.write() as session:
        product = b.product(session, with_manufacturer=False)
        lot = b.lot(session, product, coa_ref=None)
        b.administration(session, lot, patient_ref=None)
        return product.id


def test_list_filters_and_counts(inspector: ServiceContext, pharmacist: ServiceContext) -> None:
    product_id = _unknown_maker_product(pharmacist)
    found = flags.list_flags(inspector, today=TODAY)
    assert {f.code for f in found} == {"UNDOC-MANUFACTURER", "UNDOC-COA", "TRACE-INCOMPLETE"}
    assert {f.product_id for f in found} == {product_id}
    assert [f.code for f in flags.list_flags(inspector, codes=["UNDOC-COA"], today=TODAY)] == ["UNDOC-COA"]
    assert all(f.severity == "high" for f in flags.list_flags(inspector, min_severity="high", today=TODAY))
    # Narrowing a list already evaluated gives what asking again would.
    assert flags.filter_flags(found, codes=["UNDOC-COA"]) == flags.list_flags(
        inspector, codes=["UNDOC-COA"], today=TODAY
    )
    assert flags.filter_flags(found, min_severity="critical") == []
    counts = flags.count_flags(inspector, today=TODAY)
    assert counts.total == 3 and counts.by_severity["high"] == 3 and counts.by_code["UNDOC-COA"] == 1
    assert [f.code for f in flags.flags_for_subject(inspector, "product", product_id, TODAY)] == ["UNDOC-MANUFACTURER"]
    assert len(flags.flags_for_product(inspector, product_id, TODAY)) == 3


def test_bad_filters_are_validation_errors(inspector: ServiceContext) -> None:
    with pytest.raises(ValidationError) as error:
        flags.list_flags(inspector, min_severity="urgent", codes=["NOPE"])
    assert error.value.for_field("min_severity") and error.value.for_field("code")
    with pytest.raises(ValidationError):
        flags.filter_flags([], codes=["NOPE"])


def test_reading_needs_a_signed_in_user(registry: ServiceContext) -> None:
    with pytest.raises(PermissionDenied):
        flags.list_flags(registry)


def test_waiver_is_signed_audited_and_reported_as_waived(director: ServiceContext) -> None:
    product_id = _unknown_maker_product(director)
    waiver_id = flags.waive_flag(
        director,
        "UNDOC-MANUFACTURER",
        "product",
        product_id,
        "compounded in-house by our pharmacy",
        PASSWORDS["director"],
        today=TODAY,
    )
    (waived,) = flags.flags_for_subject(director, "product", product_id, TODAY)
    assert waived.waived and waived.waiver is not None
    assert waived.waiver["reason"] == "compounded in-house by our pharmacy"
    assert waived.waiver["waived_by"] == "Dana Director"
    assert flags.count_flags(director, today=TODAY).waived == 1
    with director.db.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "waive flag")).scalar_one()
        signature = session.execute(select(Signature)).scalar_one()
    after = json.loads(entry.after)
    assert after["signature_id"] == signature.id and after["meaning"] == signature.meaning == "waived"
    assert entry.entity_id == str(waiver_id)
    with pytest.raises(ConflictError):
        flags.waive_flag(
            director, "UNDOC-MANUFACTURER", "product", product_id, "again", PASSWORDS["director"], today=TODAY
        )


def test_waiver_ends_when_the_message_changes(director: ServiceContext) -> None:
    with director.db.write() as session:
        product = b.product(session)
        lot = b.lot(session, product, receipt_temperature_c=None)
    flags.waive_flag(
        director, "UNDOC-RECEIPT", "lot", lot.id, "reading lost, logger fine", PASSWORDS["director"], today=TODAY
    )
    assert flags.flags_for_subject(director, "lot", lot.id, TODAY)[0].waived
    with director.db.write() as session:
        session.get(type(lot), lot.id).package_intact = None  # type: ignore[union-attr]
    (reopened,) = flags.flags_for_subject(director, "lot", lot.id, TODAY)
    assert reopened.code == "UNDOC-RECEIPT" and not reopened.waived


def test_revoked_waiver_reopens_the_flag(director: ServiceContext) -> None:
    product_id = _unknown_maker_product(director)
    waiver_id = flags.waive_flag(
        director, "UNDOC-MANUFACTURER", "product", product_id, "in-house", PASSWORDS["director"], today=TODAY
    )
    flags.revoke_waiver(director, waiver_id, "maker identified")
    assert not flags.flags_for_subject(director, "product", product_id, TODAY)[0].waived


def test_waiver_refusals_write_nothing(director: ServiceContext, pharmacist: ServiceContext) -> None:
    product_id = _unknown_maker_product(director)
    with pytest.raises(PermissionDenied):
        flags.waive_flag(pharmacist, "UNDOC-MANUFACTURER", "product", product_id, "x", PASSWORDS["pharmacist"])
    with pytest.raises(ValidationError):
        flags.waive_flag(director, "UNDOC-MANUFACTURER", "product", product_id, "  ", PASSWORDS["director"])
    with pytest.raises(ValidationError):
        flags.waive_flag(director, "UNDOC-MANUFACTURER", "lot", product_id, "x", PASSWORDS["director"])
    with pytest.raises(NotFound):
        flags.waive_flag(director, "UNDOC-SOURCE", "product", product_id, "x", PASSWORDS["director"], today=TODAY)
    with pytest.raises(SignInFailed):
        flags.waive_flag(director, "UNDOC-MANUFACTURER", "product", product_id, "x", "wrong-password")
    with director.db.read() as session:
        assert session.execute(select(Signature)).first() is None
        assert session.get(Product, product_id) is not None
    assert not flags.flags_for_subject(director, "product", product_id, TODAY)[0].waived


def test_scores_per_lot_product_and_supplier(pharmacist: ServiceContext) -> None:
    with pharmacist.db.write() as session:
        product = b.product(session, name="Scored Exosome")
        full = b.lot(session, product)
        partial = b.lot(session, product, coa_ref=None, skip=("imaging",))
    scores = flags.lot_scores(pharmacist, [full.id, partial.id])
    assert scores[full.id] == 100.0 and scores[partial.id] < 100.0
    (average,) = [a for a in flags.product_scores(pharmacist) if a.name == "Scored Exosome"]
    assert average.lots == 2 and average.score == round((scores[full.id] + scores[partial.id]) / 2, 1)
    assert sum(a.lots for a in flags.supplier_scores(pharmacist)) == 2


def test_an_autologous_lot_is_not_scored_on_donor_eligibility(pharmacist: ServiceContext) -> None:
    """Ruling 7: donor eligibility is not an item of an autologous lot, as UNDOC-DONOR does not ask for it."""
    with pharmacist.db.write() as session:
        own = b.lot(
            session, b.product(session, source="msc_adipose", donor_use="autologous"), donor_eligibility_ref=None
        )
        donated = b.lot(
            session, b.product(session, source="msc_adipose", donor_use="allogeneic"), donor_eligibility_ref=None
        )
    scores = flags.lot_scores(pharmacist, [own.id, donated.id])
    assert scores[own.id] == 100.0 and scores[donated.id] < 100.0


def test_alerts_listed_separately(pharmacist: ServiceContext) -> None:
    with pharmacist.db.write() as session:
        b.lot(session, b.product(session), expiry_date=date(2025, 6, 20))
    assert [a.code for a in flags.list_alerts(pharmacist, TODAY)] == ["ALERT-EXPIRING"]
    assert flags.list_flags(pharmacist, today=TODAY) == []
