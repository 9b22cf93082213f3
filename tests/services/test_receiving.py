"""Receiving and the lot lifecycle: scan, quarantine, signed release, reject, destroy, amend, results."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from registry_app.domain import AuditEntry, Signature
from registry_app.services import (
    ConflictError,
    PermissionDenied,
    ServiceContext,
    SignInFailed,
    ValidationError,
    products,
)
from registry_app.services.errors import AcknowledgementRequired
from registry_app.services.lots import lifecycle, receiving, results
from tests.conftest import PASSWORDS
from tests.helpers import audit_count, row_counts

GTIN = "08801234567893"


def _product(ctx: ServiceContext) -> int:
    return products.create_product(
        ctx,
        {
            "name": "Cordexa UC-EV 10B",
            "product_type": "exosome",
            "gtin": GTIN,
            "storage_form": "refrigerated",
            "unit": "vial",
        },
    )


def _lot(ctx: ServiceContext, number: str, quantity: float) -> int:
    return receiving.receive_lot(ctx, _product(ctx), {"lot_number": number, "quantity_received": quantity}).lot_id


def test_receive_from_scan_matches_the_gtin(pharmacist: ServiceContext) -> None:
    product_id = _product(pharmacist)
    receipt = receiving.receive_from_scan(
        pharmacist,
        f"]d201{GTIN}17270630\x1d10CX-2406-118\x1d21SN9",
        {
            "quantity_received": "20",
            "receipt_temperature_c": 12,
            "package_intact": False,
            "supplier": "MedSource Distribution",
        },
    )
    assert (receipt.product_id, receipt.lot_number, receipt.serial) == (product_id, "CX-2406-118", "SN9")
    assert str(receipt.expiry_date) == "2027-06-30"
    assert any("outside the refrigerated range" in w for w in receipt.warnings)
    assert any("not intact" in w for w in receipt.warnings)
    lot = receiving.get_lot(pharmacist, receipt.lot_id)
    assert lot.status == "quarantine" and lot.quantity_on_hand == 20
    match = receiving.identify_scan(pharmacist, f"01{GTIN}10CX-2406-118")
    assert (match.product_id, match.existing_lot_id) == (product_id, receipt.lot_id)
    with pytest.raises(ConflictError, match="already in the registry"):
        receiving.receive_from_scan(pharmacist, f"01{GTIN}10CX-2406-118", {"quantity_received": 1})


def test_scan_of_unknown_product_or_bad_barcode(pharmacist: ServiceContext) -> None:
    before = row_counts(pharmacist.db)
    with pytest.raises(ValidationError) as error:
        receiving.receive_from_scan(pharmacist, f"01{GTIN}10X", {"quantity_received": 1})
    assert error.value.for_field("scan") and "not the GTIN of any product" in str(error.value)
    with pytest.raises(ValidationError, match="scan"):
        receiving.receive_from_scan(pharmacist, "not a barcode", {"quantity_received": 1})
    assert row_counts(pharmacist.db) == before


def test_release_is_signed_by_the_medical_director(pharmacist: ServiceContext, director: ServiceContext) -> None:
    lot_id = _lot(pharmacist, "L1", 5)
    with pytest.raises(PermissionDenied):
        lifecycle.release_lot(pharmacist, lot_id, PASSWORDS["pharmacist"])
    with pytest.raises(SignInFailed):
        lifecycle.release_lot(director, lot_id, "wrong-password")
    assert receiving.get_lot(director, lot_id).status == "quarantine"
    # The bare lot has open high findings (no CoA, no expiry...): each must be acknowledged (issue 20.5).
    open_codes = sorted({f.code for f in lifecycle.findings_to_acknowledge(director, lot_id)})
    assert "UNDOC-COA" in open_codes
    with pytest.raises(AcknowledgementRequired, match="UNDOC-COA") as refused:
        lifecycle.release_lot(director, lot_id, PASSWORDS["director"], acknowledged=open_codes[1:])
    assert {f.code for f in refused.value.findings} == {open_codes[0]}
    assert receiving.get_lot(director, lot_id).status == "quarantine"
    signature_id = lifecycle.release_lot(director, lot_id, PASSWORDS["director"], acknowledged=open_codes)
    with director.db.read() as session:
        signature = session.get(Signature, signature_id)
        assert signature is not None and signature.meaning == "released" and signature.subject_id == str(lot_id)
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "release lot")).scalar_one()
        assert json.loads(entry.after)["release_signature_id"] == signature_id
        assert json.loads(entry.after)["acknowledged_findings"] == open_codes
    assert receiving.get_lot(director, lot_id).status == "released"
    with pytest.raises(ConflictError, match="only a lot in quarantine"):
        lifecycle.release_lot(director, lot_id, PASSWORDS["director"])


def test_reject_destroy_and_stock(pharmacist: ServiceContext) -> None:
    product_id = _product(pharmacist)
    lot_id = receiving.receive_lot(pharmacist, product_id, {"lot_number": "L2", "quantity_received": 8}).lot_id
    with pytest.raises(ValidationError, match="reason"):
        lifecycle.reject_lot(pharmacist, lot_id, " ", password=PASSWORDS["pharmacist"])
    entries = audit_count(pharmacist.db)
    with pytest.raises(SignInFailed):
        lifecycle.reject_lot(pharmacist, lot_id, "arrived warm", password="not-my-password")
    with pytest.raises(SignInFailed):
        lifecycle.destroy_lot(pharmacist, lot_id, "damaged", password="")
    assert receiving.get_lot(pharmacist, lot_id).status == "quarantine"
    assert audit_count(pharmacist.db) == entries + 2  # the two failed signatures only
    rejection = lifecycle.reject_lot(pharmacist, lot_id, "arrived warm", password=PASSWORDS["pharmacist"])
    assert receiving.get_lot(pharmacist, lot_id).status == "rejected"
    with pytest.raises(ValidationError, match="not a destruction reason"):
        lifecycle.destroy_lot(pharmacist, lot_id, "broken", password=PASSWORDS["pharmacist"])
    destroyed = lifecycle.destroy_lot(pharmacist, lot_id, "temperature_excursion", password=PASSWORDS["pharmacist"])
    assert destroyed == 8
    with pharmacist.db.read() as session:
        signed = session.execute(select(Signature).order_by(Signature.id)).scalars().all()
        assert [(s.meaning, s.subject_id) for s in signed] == [("rejected", str(lot_id)), ("destroyed", str(lot_id))]
        assert signed[0].id == rejection
    lot = receiving.get_lot(pharmacist, lot_id)
    assert lot.status == "destroyed" and lot.quantity_on_hand == 0
    assert lot.fields["destroyed_reason"] == "temperature_excursion"
    with pytest.raises(ConflictError):
        lifecycle.destroy_lot(pharmacist, lot_id, "damaged", password=PASSWORDS["pharmacist"])


def test_amend_names_each_bad_field(pharmacist: ServiceContext) -> None:
    lot_id = _lot(pharmacist, "L3", 8)
    entries = audit_count(pharmacist.db)
    with pytest.raises(ValidationError) as error:
        receiving.amend_lot(
            pharmacist, lot_id, {"expiry_date": "30/06/2027", "quantity_received": "-2", "colour": "red"}, ""
        )
    assert {e.field for e in error.value.errors} == {"expiry_date", "quantity_received", "colour", "reason"}
    assert audit_count(pharmacist.db) == entries
    changed = receiving.amend_lot(
        pharmacist,
        lot_id,
        {"expiry_date": "2027-06-30", "supplier": "MedSource", "package_intact": "yes"},
        "read from the label",
    )
    assert str(changed["expiry_date"]) == "2027-06-30" and changed["package_intact"] is True
    assert changed["supplier_id"]


def test_characterization_results_add_and_void(pharmacist: ServiceContext) -> None:
    lot_id = _lot(pharmacist, "L4", 8)
    with pytest.raises(ValidationError) as error:
        results.add_characterization_result(pharmacist, lot_id, "marker", result="present", method="pcr")
    assert {e.field for e in error.value.errors} == {"result", "method", "marker"}
    marker = results.add_characterization_result(
        pharmacist,
        lot_id,
        "marker",
        marker="CD63",
        result="detected",
        method="western_blot",
        measured_by="independent_lab",
    )
    endotoxin = results.add_characterization_result(pharmacist, lot_id, "endotoxin", value="0.2", method="lal")
    results.void_characterization_result(pharmacist, endotoxin, "wrong lot")
    kept = receiving.get_lot(pharmacist, lot_id).results
    assert [r["id"] for r in kept] == [marker] and kept[0]["marker"] == "cd63"
    assert len(receiving.get_lot(pharmacist, lot_id, include_voided=True).results) == 2


def test_receiving_without_a_product_is_a_message_beside_the_product(pharmacist: ServiceContext) -> None:
    from registry_app.services import ValidationError

    with pytest.raises(ValidationError) as refused:
        receiving.receive_lot(pharmacist, None, {"lot_number": "L-1", "quantity_received": 1})  # type: ignore[arg-type]
    assert refused.value.for_field("product") == ["choose the product this lot is of"]
