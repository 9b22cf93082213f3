"""Product, lot and adverse-event rules, alerts and the completeness score: a case and a near miss each."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.rules import evaluate_alerts, evaluate_flags
from registry_app.rules.common import utc_start_of_local_day
from registry_app.rules.score import lot_scores, score_buckets

from . import builders as b


def lot_codes(session: Session, product_values: dict[str, Any] | None = None, **lot_values: Any) -> set[str]:
    product = b.product(session, **(product_values or {}))
    lot = b.lot(session, product, **lot_values)
    return {f.code for f in evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])}


def product_codes(session: Session, site_jurisdiction: str = "US", **values: Any) -> set[str]:
    product = b.product(session, **values)
    flags = evaluate_flags(session, site_jurisdiction, b.TODAY, subject_type="product", subject_ids=[product.id])
    return {f.code for f in flags}


INVASIVE = {"routes": ("intradermal",), "status": "device_registered", "reference": "K1"}


def test_documented_product_and_lot_raise_nothing(db: Database) -> None:
    with db.write() as session:
        assert product_codes(session) == set()
        assert lot_codes(session, INVASIVE) == set()
        assert lot_codes(session, {"product_type": "polynucleotide", **INVASIVE}) == set()


def test_manufacturer(db: Database) -> None:
    with db.write() as session:
        assert "UNDOC-MANUFACTURER" in product_codes(session, with_manufacturer=False)
        unknown = b.manufacturer(session, name="unknown")
        product = b.product(session)
        product.manufacturer_id = unknown.id
        session.flush()
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="product", subject_ids=[product.id])
        assert [f.code for f in flags] == ["UNDOC-MANUFACTURER"]


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ({"source": "unknown"}, True),
        ({"source": None}, True),
        ({"source": "plant"}, False),
        ({"source": "other", "source_description": None}, True),
        ({"source": "other", "source_description": "yeast"}, False),
        ({"product_type": "polynucleotide", "pn_species": "unknown"}, True),
        ({"product_type": "polynucleotide", "pn_species": None}, True),  # product_flags mutants 65, 67
        ({"product_type": "polynucleotide", "pn_species": "oncorhynchus_keta"}, False),
    ],
)
def test_source(db: Database, values: dict[str, Any], flagged: bool) -> None:
    with db.write() as session:
        assert ("UNDOC-SOURCE" in product_codes(session, **values)) is flagged


def test_regulatory_status_and_evidence(db: Database) -> None:
    with db.write() as session:
        assert "UNDOC-REGULATORY" in product_codes(session, status=None)
        assert "UNDOC-REGULATORY" in product_codes(session, status="unknown")
        assert "UNDOC-REGULATORY" in product_codes(session, jurisdiction="KR")
        assert "UNDOC-REG-EVIDENCE" in product_codes(session, status="device_registered", reference=None)
        assert "UNDOC-REG-EVIDENCE" not in product_codes(session, status="device_registered", reference="K1")
        assert "UNDOC-REG-EVIDENCE" not in product_codes(session, status="cosmetic", reference=None)


def test_regulatory_plausibility(db: Database) -> None:
    with db.write() as session:
        assert "REG-IMPLAUSIBLE-APPROVAL" in product_codes(session, status="approved_biologic", reference="BLA1")
        assert "REG-IMPLAUSIBLE-APPROVAL" not in product_codes(
            session, product_type="polynucleotide", status="approved_biologic", reference="BLA1"
        )
        assert "REG-361-CLAIM" in product_codes(session, status="hctp_361_claim")
        assert "REG-361-CLAIM" not in product_codes(session, status="cosmetic")
        human_eu = product_codes(session, "EU", jurisdiction="EU", source="msc_adipose", status="cosmetic")
        plant_eu = product_codes(session, "EU", jurisdiction="EU", source="plant", status="cosmetic")
        assert "REG-HUMAN-COSMETIC-EU" in human_eu and "REG-HUMAN-COSMETIC-EU" not in plant_eu
        # The rule is about exosome products (product_flags mutant 105): a PN product whose source cell was
        # recorded as human is not "a human-derived exosome product sold as a cosmetic".
        pn_eu = product_codes(
            session,
            "EU",
            jurisdiction="EU",
            product_type="polynucleotide",
            pn_species="oncorhynchus_keta",
            source="msc_adipose",
            status="cosmetic",
        )
        assert "REG-HUMAN-COSMETIC-EU" not in pn_eu


def test_donor_eligibility(db: Database) -> None:
    with db.write() as session:
        human = {"source": "msc_umbilical_cord"}
        assert "UNDOC-DONOR" in lot_codes(session, human, donor_eligibility_ref=None)
        assert "UNDOC-DONOR" not in lot_codes(session, human, donor_eligibility_ref="DE-9")
        assert "UNDOC-DONOR" not in lot_codes(session, {"source": "plant"}, donor_eligibility_ref=None)
        # Ruling 7: an autologous product's lots need no donor eligibility.
        assert "UNDOC-DONOR" not in lot_codes(session, {**human, "donor_use": "autologous"}, donor_eligibility_ref=None)
        assert "UNDOC-DONOR" in lot_codes(session, {**human, "donor_use": "allogeneic"}, donor_eligibility_ref=None)
        # Source `other` is human-derived "per description" (vocabulary.md).
        described_human = {"source": "other", "source_description": "Human dermal fibroblast conditioned medium"}
        described_bovine = {"source": "other", "source_description": "Bovine colostrum vesicles"}
        assert "UNDOC-DONOR" in lot_codes(session, described_human, donor_eligibility_ref=None)
        assert "UNDOC-DONOR" not in lot_codes(session, described_bovine, donor_eligibility_ref=None)
        assert "REG-HUMAN-COSMETIC-EU" in product_codes(
            session, "EU", jurisdiction="EU", status="cosmetic", **described_human
        )
        product = b.product(session, **human)
        lot = b.lot(session, product, donor_eligibility_ref=None)
        b.document(session, lot, "donor_eligibility")
        assert not evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])


def test_lot_documents_and_receipt(db: Database) -> None:
    with db.write() as session:
        assert "UNDOC-COA" in lot_codes(session, coa_ref=None)
        product = b.product(session)
        lot = b.lot(session, product, coa_ref=None)
        b.document(session, lot, "coa")
        assert not evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])
        assert "UNDOC-EXPIRY" in lot_codes(session, expiry_date=None)
        assert "UNDOC-SUPPLIER" in lot_codes(session, supplier_id=None)
        assert "UNDOC-RECEIPT" in lot_codes(session, receipt_temperature_c=None)
        assert "UNDOC-RECEIPT" in lot_codes(session, package_intact=None)
        assert "UNDOC-RECEIPT" not in lot_codes(session, package_intact=False)


@pytest.mark.parametrize(
    "skip", ["particle_concentration", "protein_concentration", "cd63", "tsg101", "calnexin", "imaging"]
)
def test_each_misev_item(db: Database, skip: str) -> None:
    with db.write() as session:
        product = b.product(session)
        lot = b.lot(session, product, skip=(skip,))
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])
    assert [f.code for f in flags] == ["UNDOC-EV-CHARACTERIZATION"]
    assert flags[0].message.count(";") == 0  # exactly one item named


def test_voided_result_does_not_count_and_dls_particles_do_not_either(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        lot = b.lot(session, product, skip=("imaging",))
        b.result(session, lot, "imaging", result="performed", method="tem", voided=True)
        assert "UNDOC-EV-CHARACTERIZATION" in lot_codes(session, skip=("imaging",))
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])
        assert "single-vesicle imaging" in flags[0].message
        counted_by_dls = b.lot(session, product, skip=("particle_concentration",))
        b.result(session, counted_by_dls, "particle_concentration", value=1.0e10, method="dls")
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[counted_by_dls.id])
        assert [f.code for f in flags] == ["UNDOC-EV-CHARACTERIZATION"]
        assert "single-particle method" in flags[0].message


def test_pn_characterization(db: Database) -> None:
    with db.write() as session:
        pn = {"product_type": "polynucleotide"}
        assert "UNDOC-PN-CHARACTERIZATION" in lot_codes(session, pn, skip=("molecular_weight",))
        assert "UNDOC-PN-CHARACTERIZATION" not in lot_codes(session, pn)


def test_safety_tests_only_for_invasive_routes(db: Database) -> None:
    with db.write() as session:
        assert "UNDOC-SAFETY-TESTS" in lot_codes(session, INVASIVE, skip=("mycoplasma",))
        assert "UNDOC-SAFETY-TESTS" not in lot_codes(
            session, {"product_type": "polynucleotide", **INVASIVE}, skip=("mycoplasma",)
        )
        assert "UNDOC-SAFETY-TESTS" not in lot_codes(session, {"routes": ("topical_intact",)}, skip=("sterility",))
        assert "UNDOC-SAFETY-TESTS" in lot_codes(
            session, {"routes": ("topical_post_microneedling",)}, skip=("sterility",)
        )


def _with_result(session: Session, product_values: dict[str, Any], **result: Any) -> set[str]:
    product = b.product(session, **product_values)
    lot = b.lot(session, product, skip=(result["parameter"],))
    b.result(session, lot, **result)
    return {f.code for f in evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])}


def test_out_of_specification(db: Database) -> None:
    with db.write() as session:
        assert "OOS-STERILITY" in _with_result(session, {}, parameter="sterility", result="fail")
        assert "OOS-MYCOPLASMA" in _with_result(session, {}, parameter="mycoplasma", result="positive")
        assert "OOS-ENDOTOXIN" not in _with_result(session, {}, parameter="endotoxin", value=0.5)
        assert "OOS-ENDOTOXIN" in _with_result(session, {}, parameter="endotoxin", value=0.51)
        assert "OOS-ENDOTOXIN" in _with_result(session, {"spec_endotoxin_max": 0.2}, parameter="endotoxin", value=0.3)
        assert "OOS-SIZE" not in _with_result(session, {}, parameter="size_mode", value=150.0)
        assert "OOS-SIZE" in _with_result(session, {}, parameter="size_mode", value=151.0)
        assert "OOS-SIZE" in _with_result(session, {"spec_size_max_nm": 120.0}, parameter="size_mode", value=130.0)
        assert "OOS-CONCENTRATION" not in _with_result(
            session, {}, parameter="particle_concentration", value=1.2e10, method="nta"
        )
        assert "OOS-CONCENTRATION" in _with_result(
            session, {}, parameter="particle_concentration", value=1.21e10, method="nta"
        )
        assert "OOS-CONCENTRATION" in _with_result(
            session,
            {"spec_concentration_tolerance_pct": 10.0},
            parameter="particle_concentration",
            value=1.15e10,
            method="nta",
        )
        assert "OOS-SIZE" not in _with_result(session, {}, parameter="size_mode", value=30.0)
        assert "OOS-SIZE" in _with_result(session, {}, parameter="size_mode", value=29.0)
        assert "OOS-SIZE" in _with_result(session, {"spec_size_min_nm": 60.0}, parameter="size_mode", value=55.0)
        assert "OOS-CONCENTRATION" not in _with_result(
            session, {}, parameter="particle_concentration", value=0.8e10, method="nta"
        )
        assert "OOS-CONCENTRATION" in _with_result(
            session, {}, parameter="particle_concentration", value=0.79e10, method="nta"
        )
        product = b.product(session)
        lot = b.lot(session, product, skip=("calnexin",))
        b.result(session, lot, "marker", marker="apoa1", result="detected", method="elisa")
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])
        assert [f.code for f in flags] == ["OOS-CONTAMINANT"] and "apoa1" in flags[0].message


def test_use_of_lots(db: Database) -> None:
    with db.write() as session:
        assert "USE-OVERDRAWN" in lot_codes(session, quantity_received=2.0, quantity_administered=3.0)
        assert "USE-OVERDRAWN" not in lot_codes(session, quantity_received=3.0, quantity_administered=3.0)
        product = b.product(session)
        open_lot, closed_lot = b.lot(session, product), b.lot(session, product)
        b.excursion(session, open_lot)
        b.excursion(session, closed_lot, resolved=True)
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[open_lot.id, closed_lot.id])
        assert [(f.code, f.subject_id) for f in flags] == [("USE-TEMPERATURE", open_lot.id)]


def test_recall_lookback(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        lot = b.lot(session, product, status="recalled", recall_date=date(2025, 6, 10))
        b.administration(session, lot, patient_notified_on=date(2025, 6, 11))
        ids = {"subject_type": "lot", "subject_ids": [lot.id]}
        assert not evaluate_flags(session, "US", b.TODAY, **ids)
        b.administration(session, lot, patient_ref="PT-00002")
        assert [f.code for f in evaluate_flags(session, "US", b.TODAY, **ids)] == ["RECALL-LOOKBACK-OPEN"]


def test_adverse_event_unreported_after_fifteen_days(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        admin = b.administration(session, b.lot(session, product))
        day15 = b.adverse_event(session, admin, recorded_at=utc_start_of_local_day(b.TODAY - timedelta(days=15)))
        day16 = b.adverse_event(session, admin, recorded_at=utc_start_of_local_day(b.TODAY - timedelta(days=16)))
        reported = b.adverse_event(session, admin, report_status="reported_regulator", recorded_at=datetime(2025, 1, 1))
        flags = evaluate_flags(
            session, "US", b.TODAY, subject_type="adverse_event", subject_ids=[day15.id, day16.id, reported.id]
        )
    assert [(f.code, f.subject_id) for f in flags] == [("AE-UNREPORTED", day16.id)]


def test_adverse_event_days_are_the_sites_local_days(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """recorded_at is a UTC instant; the fifteen days are counted in the site's days (rules.md)."""
    cutoff_day = b.TODAY - timedelta(days=15)
    with monkeypatch.context() as clock:
        clock.setenv("TZ", "EST5")  # POSIX: five hours behind UTC, no time zone database needed
        time.tzset()
        with db.write() as session:
            admin = b.administration(session, b.lot(session, b.product(session)))
            # 03:00 UTC is still the evening before on the site's clock; 06:00 UTC is already that day.
            evening_before = b.adverse_event(session, admin, recorded_at=datetime.combine(cutoff_day, dt_time(3)))
            that_morning = b.adverse_event(session, admin, recorded_at=datetime.combine(cutoff_day, dt_time(6)))
            flags = evaluate_flags(
                session, "US", b.TODAY, subject_type="adverse_event", subject_ids=[evening_before.id, that_morning.id]
            )
    time.tzset()
    assert [(f.code, f.subject_id) for f in flags] == [("AE-UNREPORTED", evening_before.id)]
    assert f"recorded on {(cutoff_day - timedelta(days=1)).isoformat()} is not reported" in flags[0].message


def test_alerts_are_not_compliance_flags(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        soon = b.lot(session, product, expiry_date=b.TODAY + timedelta(days=30))
        later = b.lot(session, product, expiry_date=b.TODAY + timedelta(days=31))
        expired = b.lot(session, product, expiry_date=b.TODAY - timedelta(days=1))
        used_up = b.lot(session, product, expiry_date=b.TODAY - timedelta(days=1), quantity_administered=10.0)
        ids = [soon.id, later.id, expired.id, used_up.id]
        alerts = evaluate_alerts(session, b.TODAY, subject_ids=ids)
        assert not evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=ids)
    assert sorted((a.code, a.subject_id) for a in alerts) == [
        ("ALERT-EXPIRED-STOCK", expired.id),
        ("ALERT-EXPIRING", soon.id),
    ]


def test_score_buckets_count_what_the_scores_say(db: Database) -> None:
    """The dashboard's distribution, counted in SQL, against the per-lot scores bucketed in Python, over lots
    missing 0 to 6 items (scores from 100 down to a quarter, several at or next to a bound)."""
    with db.write() as session:
        product = b.product(session, **INVASIVE)
        pn = b.product(session, product_type="polynucleotide")
        missing = [{}, {"coa_ref": None}, {"coa_ref": None, "supplier_id": None}]
        for values in missing:
            for skip in ((), ("imaging",), ("imaging", "sterility"), ("imaging", "sterility", "endotoxin")):
                b.lot(session, product, skip=skip, **values)
                b.lot(session, pn, skip=skip, **values)
            b.lot(session, product, results=False, expiry_date=None, **values)
            b.lot(session, pn, results=False, expiry_date=None, receipt_temperature_c=None, **values)
        scores = lot_scores(session, "US")
        buckets = score_buckets(session, "US")
    expected = [0] * 5
    for score in scores.values():
        expected[min(int(score) // 20, 4)] += 1
    assert buckets == expected
    assert sum(1 for count in expected if count) >= 3  # the lots spread over several buckets


def test_completeness_score(db: Database) -> None:
    with db.write() as session:
        product = b.product(session, **INVASIVE)
        full = b.lot(session, product)
        partial = b.lot(session, product, coa_ref=None, supplier_id=None, skip=("imaging",))
        pn = b.lot(session, b.product(session, product_type="polynucleotide"))
        scores = lot_scores(session, "US", [full.id, partial.id, pn.id])
    assert scores[full.id] == 100.0 and scores[pn.id] == 100.0
    # invasive exosome, not human-derived: 7 common + 6 MISEV + 3 safety = 16 items, 3 missing
    assert scores[partial.id] == round(100 * 13 / 16, 1)
