"""Administration rules: each raised by one case and not by its near miss."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.rules import evaluate_flags

from . import builders as b


def codes(session: Session, subject_type: str, subject_id: int, jurisdiction: str = "US") -> set[str]:
    flags = evaluate_flags(session, jurisdiction, b.TODAY, subject_type=subject_type, subject_ids=[subject_id])
    assert all(f.subject_id == subject_id and f.subject_type == subject_type for f in flags)
    return {f.code for f in flags}


def admin_codes(session: Session, **admin_values: object) -> set[str]:
    return _admin_codes(session, {}, {}, admin_values)


def _admin_codes(session: Session, product_values: dict, lot_values: dict, admin_values: dict) -> set[str]:  # type: ignore[type-arg]
    product = b.product(session, **product_values)
    lot = b.lot(session, product, **lot_values)
    admin = b.administration(session, lot, **admin_values)
    return codes(session, "administration", admin.id)


def test_compliant_administration_raises_nothing(db: Database) -> None:
    with db.write() as session:
        assert admin_codes(session) == set()


def test_injected_cosmetic_versus_topical(db: Database) -> None:
    with db.write() as session:
        injected = _admin_codes(session, {"routes": ("intradermal",)}, {}, {"route": "intradermal"})
        topical = _admin_codes(session, {"routes": ("topical_intact",)}, {}, {"route": "topical_intact"})
    assert "REG-COSMETIC-INJECTED" in injected
    assert "REG-COSMETIC-INJECTED" not in topical


def test_research_use_only_administered(db: Database) -> None:
    with db.write() as session:
        ruo = _admin_codes(session, {"status": "research_use_only", "reference": None}, {}, {})
        cosmetic = _admin_codes(session, {"status": "cosmetic"}, {}, {})
    assert "REG-RUO-ADMINISTERED" in ruo
    assert "REG-RUO-ADMINISTERED" not in cosmetic


@pytest.mark.parametrize("status", ["not_authorized", "unknown", "hctp_361_claim", None])
def test_unauthorized_injection(db: Database, status: str | None) -> None:
    with db.write() as session:
        found = _admin_codes(session, {"status": status, "routes": ("intradermal",)}, {}, {"route": "intradermal"})
    assert "REG-UNAUTHORIZED-INJECTED" in found


def test_investigational_needs_an_ind_reference_on_the_administration(db: Database) -> None:
    with db.write() as session:
        product = {"status": "investigational", "reference": "IND 12345", "routes": ("intradermal",)}
        without = _admin_codes(session, product, {}, {"route": "intradermal"})
        with_ref = _admin_codes(session, product, {}, {"route": "intradermal", "ind_reference": "IND 12345"})
        approved = _admin_codes(
            session,
            {"status": "approved_biologic", "reference": "BLA 1", "routes": ("intradermal",)},
            {},
            {"route": "intradermal"},
        )
    assert "REG-UNAUTHORIZED-INJECTED" in without
    assert "REG-UNAUTHORIZED-INJECTED" not in with_ref
    assert "REG-UNAUTHORIZED-INJECTED" not in approved


def test_status_of_another_jurisdiction_does_not_count(db: Database) -> None:
    with db.write() as session:
        product = b.product(
            session,
            status="approved_biologic",
            reference="MFDS-1",
            jurisdiction="KR",
            routes=("intradermal",),
            source="plant",
        )
        admin = b.administration(session, b.lot(session, product), route="intradermal")
        assert "REG-UNAUTHORIZED-INJECTED" in codes(session, "administration", admin.id, "US")
        assert "REG-UNAUTHORIZED-INJECTED" not in codes(session, "administration", admin.id, "KR")


def test_cosmetic_after_device(db: Database) -> None:
    with db.write() as session:
        device = _admin_codes(
            session, {"routes": ("topical_post_microneedling",)}, {}, {"route": "topical_post_microneedling"}
        )
        intact = _admin_codes(session, {}, {}, {"route": "topical_intact"})
    assert "REG-COSMETIC-DEVICE-ASSISTED" in device
    assert "REG-COSMETIC-DEVICE-ASSISTED" not in intact


def test_off_label_route(db: Database) -> None:
    with db.write() as session:
        off = _admin_codes(session, {"routes": ("topical_intact",)}, {}, {"route": "topical_post_microneedling"})
        unlabelled = _admin_codes(session, {"routes": ()}, {}, {"route": "topical_post_microneedling"})
        on = _admin_codes(
            session,
            {"routes": ("topical_intact", "topical_post_microneedling")},
            {},
            {"route": "topical_post_microneedling"},
        )
    assert "REG-OFF-LABEL-ROUTE" in off
    assert "REG-OFF-LABEL-ROUTE" not in unlabelled
    assert "REG-OFF-LABEL-ROUTE" not in on


def test_expired_on_the_day_after_not_on_the_expiry_date(db: Database) -> None:
    with db.write() as session:
        lot = {"expiry_date": date(2025, 6, 1)}
        on_day = _admin_codes(session, {}, lot, {"administered_at": datetime(2025, 6, 1, 23, 59)})
        after = _admin_codes(session, {}, lot, {"administered_at": datetime(2025, 6, 2, 0, 1)})
    assert "USE-EXPIRED" not in on_day
    assert "USE-EXPIRED" in after


def test_recalled_from_the_recall_date(db: Database) -> None:
    with db.write() as session:
        lot = {"status": "recalled", "recall_date": date(2025, 6, 1)}
        before = _admin_codes(session, {}, lot, {"administered_at": datetime(2025, 5, 31, 18, 0)})
        on_day = _admin_codes(session, {}, lot, {"administered_at": datetime(2025, 6, 1, 8, 0)})
    assert "USE-RECALLED" not in before
    assert "USE-RECALLED" in on_day


def test_not_released(db: Database) -> None:
    with db.write() as session:
        quarantine = _admin_codes(session, {}, {"status": "quarantine"}, {})
        rejected = _admin_codes(session, {}, {"status": "rejected"}, {})
        before_release = _admin_codes(
            session, {}, {"released_on": date(2025, 6, 2)}, {"administered_at": datetime(2025, 6, 1, 10, 0)}
        )
        after_release = _admin_codes(
            session, {}, {"released_on": date(2025, 6, 1)}, {"administered_at": datetime(2025, 6, 1, 10, 0)}
        )
    assert "USE-NOT-RELEASED" in quarantine
    assert "USE-NOT-RELEASED" in rejected
    assert "USE-NOT-RELEASED" in before_release
    assert "USE-NOT-RELEASED" not in after_release


def test_rejected_after_release_from_the_day_of_the_rejection(db: Database) -> None:
    """A released lot rejected later was usable until then: only the administrations from that day on count,
    also once the rejected lot has been destroyed."""
    with db.write() as session:
        lot = {"released_on": date(2025, 5, 1), "rejected_on": date(2025, 6, 1)}
        before = _admin_codes(
            session, {}, {**lot, "status": "rejected"}, {"administered_at": datetime(2025, 5, 31, 10, 0)}
        )
        on_day = _admin_codes(
            session, {}, {**lot, "status": "rejected"}, {"administered_at": datetime(2025, 6, 1, 16, 0)}
        )
        product = b.product(session)
        destroyed = b.lot(session, product, **lot, status="destroyed", destroyed_reason="recalled")
        after = b.administration(session, destroyed, administered_at=datetime(2025, 6, 3, 10, 0))
        flags = [
            f
            for f in evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[after.id])
            if f.code == "USE-NOT-RELEASED"
        ]
    assert "USE-NOT-RELEASED" not in before
    assert "USE-NOT-RELEASED" in on_day
    assert len(flags) == 1 and "was rejected" in flags[0].message


@pytest.mark.parametrize("missing", [{"patient_ref": None}, {"practitioner": "  "}, {"quantity": None}])
def test_trace_incomplete(db: Database, missing: dict) -> None:  # type: ignore[type-arg]
    with db.write() as session:
        product = b.product(session)
        admin = b.administration(session, b.lot(session, product), **missing)
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id])
    trace = [f for f in flags if f.code == "TRACE-INCOMPLETE"]
    assert len(trace) == 1
    named = {"patient_ref": "patient reference", "practitioner": "practitioner", "quantity": "quantity"}
    assert named[next(iter(missing))] in trace[0].message


def test_screening_missing(db: Database) -> None:
    with db.write() as session:
        missing = admin_codes(session, screening_done=None)
        recorded_none = admin_codes(session, screening_done=True)
        implied = admin_codes(session, screening_done=None, contraindications="pregnancy")
    assert "CONTRA-SCREENING-MISSING" in missing
    assert "CONTRA-SCREENING-MISSING" not in recorded_none
    assert "CONTRA-SCREENING-MISSING" not in implied


def test_fish_allergy_with_polynucleotide(db: Database) -> None:
    with db.write() as session:
        pn = _admin_codes(session, {"product_type": "polynucleotide"}, {}, {"contraindications": "fish_allergy"})
        pn_other = _admin_codes(session, {"product_type": "polynucleotide"}, {}, {"contraindications": "pregnancy"})
        exo = _admin_codes(session, {}, {}, {"contraindications": "fish_allergy"})
        pn_repeated = _admin_codes(
            session, {"product_type": "polynucleotide"}, {}, {"contraindications": "fish_allergy; fish_allergy"}
        )
        pn_both = _admin_codes(
            session, {"product_type": "polynucleotide"}, {}, {"contraindications": "fish_allergy;pregnancy"}
        )
    assert "CONTRA-PN-FISH-ALLERGY" in pn and "CONTRA-RECORDED" not in pn
    assert "CONTRA-PN-FISH-ALLERGY" in pn_repeated and "CONTRA-RECORDED" not in pn_repeated
    assert {"CONTRA-PN-FISH-ALLERGY", "CONTRA-RECORDED"} <= pn_both
    assert "CONTRA-PN-FISH-ALLERGY" not in pn_other and "CONTRA-RECORDED" in pn_other
    assert "CONTRA-PN-FISH-ALLERGY" not in exo and "CONTRA-RECORDED" in exo


def test_contraindication_recorded_names_it(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        admin = b.administration(session, b.lot(session, product), contraindications="anticoagulant_therapy;pregnancy")
        none = b.administration(session, b.lot(session, product), contraindications=None)
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id, none.id])
    recorded = [f for f in flags if f.code == "CONTRA-RECORDED"]
    assert [f.subject_id for f in recorded] == [admin.id]
    assert "anticoagulant therapy" in recorded[0].message and "pregnancy" in recorded[0].message


def test_superseded_and_voided_administrations_are_not_evaluated(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        lot = b.lot(session, product)
        old = b.administration(session, lot, patient_ref=None, superseded=True)
        voided = b.administration(session, lot, patient_ref=None, voided_at=datetime(2025, 6, 2), void_reason="x")
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[old.id, voided.id])
    assert flags == []


def test_flags_carry_product_and_lot(db: Database) -> None:
    with db.write() as session:
        product = b.product(session, name="Rose Exosome Serum")
        lot = b.lot(session, product, lot_number="RS-2401")
        admin = b.administration(session, lot, patient_ref=None)
        (found,) = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id])
    assert (found.product_name, found.lot_number, found.lot_id, found.product_id) == (
        "Rose Exosome Serum",
        "RS-2401",
        lot.id,
        product.id,
    )
    assert found.severity == "high"
