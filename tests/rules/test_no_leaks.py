"""Conditions that must read their own record only, and halves of conditions never tested alone.

Found by mutation testing (tests/rules/MUTANTS.md): each test here builds a second, near-identical record that
holds what the first lacks (another product's status, another jurisdiction's, another lot's document or
document kind, another lot's unnotified patient), evaluates both, and expects the flag on the first alone. A
condition that joined or looked up the wrong record would flag both, or neither.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.domain import ProductRegulatoryStatus
from registry_app.rules import evaluate_alerts, evaluate_flags

from . import builders as b

INJECTED = {"routes": ("intradermal",)}


def flagged(session: Session, subject_type: str, ids: list[int], code: str, jurisdiction: str = "US") -> list[int]:
    """The subjects among `ids` that `code` flags (the others are evaluated too, and must not be)."""
    flags = evaluate_flags(session, jurisdiction, b.TODAY, subject_type=subject_type, subject_ids=ids)
    return sorted(f.subject_id for f in flags if f.code == code)


def injected_admin(session: Session, **product_values: Any) -> int:
    lot = b.lot(session, b.product(session, **{**INJECTED, **product_values}))
    return b.administration(session, lot, route="intradermal").id


# ---- products ------------------------------------------------------------------------------------------------


def test_regulatory_status_is_the_products_own(db: Database) -> None:
    with db.write() as session:
        missing = b.product(session, status=None)
        recorded = b.product(session, status="cosmetic")
        unreferenced = b.product(session, status="device_registered", reference=None)
        referenced = b.product(session, status="device_registered", reference="K1")
        ids = [missing.id, recorded.id, unreferenced.id, referenced.id]
        assert flagged(session, "product", ids, "UNDOC-REGULATORY") == [missing.id]
        assert flagged(session, "product", ids, "UNDOC-REG-EVIDENCE") == [unreferenced.id]


@pytest.mark.parametrize(
    ("status", "jurisdiction", "site", "code", "expected"),
    [
        # FDA's statement concerns the US: a US approval is implausible whatever the site's jurisdiction ...
        ("approved_biologic", "US", "KR", "REG-IMPLAUSIBLE-APPROVAL", True),
        # ... and an approval elsewhere is not.
        ("approved_biologic", "KR", "KR", "REG-IMPLAUSIBLE-APPROVAL", False),
        ("device_registered", "US", "US", "REG-IMPLAUSIBLE-APPROVAL", False),
        # A 361 claim is flagged in any jurisdiction.
        ("hctp_361_claim", "KR", "US", "REG-361-CLAIM", True),
        ("cosmetic", "EU", "US", "REG-HUMAN-COSMETIC-EU", True),
        ("cosmetic", "KR", "KR", "REG-HUMAN-COSMETIC-EU", False),
        ("device_registered", "EU", "EU", "REG-HUMAN-COSMETIC-EU", False),
    ],
)
def test_product_rules_read_the_jurisdiction_they_name(
    db: Database, status: str, jurisdiction: str, site: str, code: str, expected: bool
) -> None:
    with db.write() as session:
        product = b.product(session, source="msc_adipose", status=status, reference="REF-1", jurisdiction=jurisdiction)
        # The same product with a status that raises nothing: a rule reading another product's row would flag it.
        twin = b.product(session, source="msc_adipose", status="cosmetic", reference="REF-1", jurisdiction="US")
        found = flagged(session, "product", [product.id, twin.id], code, site)
    assert found == ([product.id] if expected else [])


def test_another_products_exosome_status_does_not_count(db: Database) -> None:
    with db.write() as session:
        pn = b.product(session, product_type="polynucleotide", status="approved_biologic", reference="BLA 1")
        exosome = b.product(session, status="cosmetic")
        ids = [pn.id, exosome.id]
        assert flagged(session, "product", ids, "REG-IMPLAUSIBLE-APPROVAL") == []
        pn_claim = b.product(session, product_type="polynucleotide", status="hctp_361_claim")
        assert flagged(session, "product", [pn_claim.id, exosome.id], "REG-361-CLAIM") == []


# ---- lots ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "product_values", "lot_values"),
    [
        ("UNDOC-COA", "coa", {}, {"coa_ref": None}),
        (
            "UNDOC-DONOR",
            "donor_eligibility",
            {"source": "msc_umbilical_cord"},
            {"donor_eligibility_ref": None},
        ),
    ],
)
def test_a_document_counts_for_its_own_lot_and_kind(
    db: Database, code: str, kind: str, product_values: dict[str, Any], lot_values: dict[str, Any]
) -> None:
    other_kind = {"coa": "donor_eligibility", "donor_eligibility": "coa"}[kind]
    with db.write() as session:
        product = b.product(session, **product_values)
        documented = b.lot(session, product, **lot_values)
        b.document(session, documented, kind)
        undocumented = b.lot(session, product, **lot_values)  # its sibling's document is not its own
        wrong_kind = b.lot(session, product, **lot_values)
        b.document(session, wrong_kind, other_kind)
        ids = [documented.id, undocumented.id, wrong_kind.id]
        assert flagged(session, "lot", ids, code) == [undocumented.id, wrong_kind.id]


def test_a_reference_alone_documents_the_donor(db: Database) -> None:
    with db.write() as session:
        product = b.product(session, source="msc_umbilical_cord")
        referenced = b.lot(session, product, donor_eligibility_ref="DE-7")
        blank = b.lot(session, product, donor_eligibility_ref="  ")
        assert flagged(session, "lot", [referenced.id, blank.id], "UNDOC-DONOR") == [blank.id]


def test_recall_lookback_reads_the_lots_own_patients(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        notified = b.lot(session, product, status="recalled", recall_date=date(2025, 6, 10))
        b.administration(session, notified, patient_notified_on=date(2025, 6, 11))
        # Another lot, recalled or not, whose patient is not notified: not the first lot's lookback.
        for status, recalled_on in (("recalled", date(2025, 6, 10)), ("released", None)):
            other = b.lot(session, product, status=status, recall_date=recalled_on)
            b.administration(session, other, patient_ref="PT-OTHER")
        assert notified.id not in flagged(session, "lot", [notified.id], "RECALL-LOOKBACK-OPEN")


@pytest.mark.parametrize(
    ("lot_values", "expected"),
    [
        ({"status": "recalled", "recall_date": date(2025, 6, 10)}, True),
        # Destroyed since the recall: the recall date still opens the lookback.
        ({"status": "destroyed", "destroyed_reason": "recalled", "recall_date": date(2025, 6, 10)}, True),
        ({"status": "released", "recall_date": None}, False),
    ],
)
def test_recall_lookback_recalled_or_destroyed_since(db: Database, lot_values: dict[str, Any], expected: bool) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), **lot_values)
        b.administration(session, lot)
        assert flagged(session, "lot", [lot.id], "RECALL-LOOKBACK-OPEN") == ([lot.id] if expected else [])


def test_a_voided_or_superseded_administration_opens_no_lookback(db: Database) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), status="recalled", recall_date=date(2025, 6, 10))
        b.administration(session, lot, superseded=True)
        b.administration(session, lot, voided_at=datetime(2025, 6, 2), void_reason="entered twice")
        b.administration(session, lot, patient_notified_on=date(2025, 6, 11))
        assert flagged(session, "lot", [lot.id], "RECALL-LOOKBACK-OPEN") == []


def test_a_lot_with_no_results_at_all(db: Database) -> None:
    """No facts row: every characterization and safety item is missing, and nothing is out of specification."""
    with db.write() as session:
        exosome = b.lot(session, b.product(session, **INJECTED, status="device_registered"), results=False)
        pn = b.lot(session, b.product(session, product_type="polynucleotide", **INJECTED), results=False)
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[exosome.id, pn.id])
    found = {(f.code, f.subject_id) for f in flags}
    assert found == {
        ("UNDOC-EV-CHARACTERIZATION", exosome.id),
        ("UNDOC-SAFETY-TESTS", exosome.id),
        ("UNDOC-PN-CHARACTERIZATION", pn.id),
        ("UNDOC-SAFETY-TESTS", pn.id),
    }
    messages = {(f.code, f.subject_id): f.message for f in flags}
    assert "no sterility, no endotoxin, no mycoplasma result" in messages[("UNDOC-SAFETY-TESTS", exosome.id)]
    assert "no sterility, no endotoxin result" in messages[("UNDOC-SAFETY-TESTS", pn.id)]


@pytest.mark.parametrize(
    ("product_type", "skip", "code"),
    [
        ("exosome", "endotoxin", "UNDOC-SAFETY-TESTS"),
        ("exosome", "sterility", "UNDOC-SAFETY-TESTS"),
        ("polynucleotide", "endotoxin", "UNDOC-SAFETY-TESTS"),
        ("polynucleotide", "dna_concentration", "UNDOC-PN-CHARACTERIZATION"),
        ("polynucleotide", "molecular_weight", "UNDOC-PN-CHARACTERIZATION"),
    ],
)
def test_each_missing_item_alone(db: Database, product_type: str, skip: str, code: str) -> None:
    with db.write() as session:
        product = b.product(session, product_type=product_type, **INJECTED, status="device_registered")
        lacking, complete = b.lot(session, product, skip=(skip,)), b.lot(session, product)
        assert flagged(session, "lot", [lacking.id, complete.id], code) == [lacking.id]


def test_expiring_today_is_not_yet_expired_and_a_closed_lot_raises_no_alert(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        today = b.lot(session, product, expiry_date=b.TODAY)
        destroyed = b.lot(
            session, product, expiry_date=b.TODAY - timedelta(days=1), status="destroyed", destroyed_reason="expired"
        )
        depleted = b.lot(session, product, expiry_date=b.TODAY, status="depleted")
        alerts = evaluate_alerts(session, b.TODAY, subject_ids=[today.id, destroyed.id, depleted.id])
    assert [(a.code, a.subject_id) for a in alerts] == [("ALERT-EXPIRING", today.id)]


@pytest.mark.parametrize(
    ("administered", "destroyed", "remains"),
    [
        (4.0, 6.0, False),  # the rest destroyed: nothing remains of a lot still released
        (4.0, 5.5, True),  # half a unit remains, and half a unit is stock
        (9.5, 0.0, True),
    ],
)
def test_stock_is_received_less_administered_less_destroyed(
    db: Database, administered: float, destroyed: float, remains: bool
) -> None:
    with db.write() as session:
        product, expired = b.product(session), b.TODAY - timedelta(days=1)
        lot = b.lot(
            session,
            product,
            expiry_date=expired,
            quantity_administered=administered,
            quantity_destroyed=destroyed,
        )
        # The same lot with nothing destroyed: its stock is not the first lot's.
        twin = b.lot(session, product, expiry_date=expired, quantity_administered=administered)
        alerts = evaluate_alerts(session, b.TODAY, subject_ids=[lot.id, twin.id])
    found = sorted(a.subject_id for a in alerts if a.code == "ALERT-EXPIRED-STOCK")
    assert found == sorted([lot.id, twin.id] if remains else [twin.id])


def test_vesicle_size_is_read_for_exosome_lots_only(db: Database) -> None:
    with db.write() as session:
        lots = []
        for product_type in ("exosome", "polynucleotide"):
            lot = b.lot(session, b.product(session, product_type=product_type))
            b.result(session, lot, "size_mode", value=200.0, method="nta")
            lots.append(lot.id)
        assert flagged(session, "lot", lots, "OOS-SIZE") == [lots[0]]


@pytest.mark.parametrize(
    ("product_type", "source", "expected"),
    [
        ("exosome", "other", True),  # the description names a human origin ...
        ("exosome", "plant", False),  # ... and only source `other` is read from its description
        ("exosome", "msc_umbilical_cord", True),
        # The biological source is recorded for exosome products (vocabulary.md): a PN product's is not read.
        ("polynucleotide", "msc_umbilical_cord", False),
    ],
)
def test_donor_eligibility_reads_the_description_for_source_other_only(
    db: Database, product_type: str, source: str, expected: bool
) -> None:
    with db.write() as session:
        product = b.product(
            session, product_type=product_type, source=source, source_description="Callus culture for human skin"
        )
        lot = b.lot(session, product, donor_eligibility_ref=None)
        assert flagged(session, "lot", [lot.id], "UNDOC-DONOR") == ([lot.id] if expected else [])


# ---- administrations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("cosmetic", "REG-COSMETIC-INJECTED"),
        ("research_use_only", "REG-RUO-ADMINISTERED"),
        ("not_authorized", "REG-UNAUTHORIZED-INJECTED"),
        (None, "REG-UNAUTHORIZED-INJECTED"),
    ],
)
def test_an_administration_reads_its_own_products_status_in_the_jurisdiction(
    db: Database, status: str | None, code: str
) -> None:
    with db.write() as session:
        flagged_admin = injected_admin(session, status=status)
        # A near-identical product approved here and recorded elsewhere with the flagged status: neither another
        # product's row nor another jurisdiction's may stand for its own.
        approved = b.product(session, **INJECTED, status="approved_biologic", reference="BLA 1")
        session.add(
            ProductRegulatoryStatus(
                product_id=approved.id, jurisdiction="KR", status=status or "unknown", reference=None
            )
        )
        approved_admin = b.administration(session, b.lot(session, approved), route="intradermal").id
        ids = [flagged_admin, approved_admin]
        assert flagged(session, "administration", ids, code) == [flagged_admin]


@pytest.mark.parametrize(
    ("status", "route", "code", "expected"),
    [
        # The status half of REG-COSMETIC-INJECTED and REG-COSMETIC-DEVICE-ASSISTED: injected or after a
        # device, another status raises neither.
        ("cosmetic", "intradermal", "REG-COSMETIC-INJECTED", True),
        ("device_registered", "intradermal", "REG-COSMETIC-INJECTED", False),
        ("cosmetic", "topical_post_microneedling", "REG-COSMETIC-DEVICE-ASSISTED", True),
        ("device_registered", "topical_post_microneedling", "REG-COSMETIC-DEVICE-ASSISTED", False),
        ("cosmetic", "intradermal", "REG-COSMETIC-DEVICE-ASSISTED", False),
        # The route half of REG-UNAUTHORIZED-INJECTED: not injected, none of these statuses is flagged.
        ("not_authorized", "topical_post_microneedling", "REG-UNAUTHORIZED-INJECTED", False),
        ("unknown", "topical_intact", "REG-UNAUTHORIZED-INJECTED", False),
        ("hctp_361_claim", "topical_intact", "REG-UNAUTHORIZED-INJECTED", False),
        (None, "topical_intact", "REG-UNAUTHORIZED-INJECTED", False),
        (None, "scalp_injection", "REG-UNAUTHORIZED-INJECTED", True),
        ("research_use_only", "topical_intact", "REG-RUO-ADMINISTERED", True),
        ("cosmetic", "topical_intact", "REG-RUO-ADMINISTERED", False),
    ],
)
def test_each_half_of_the_regulatory_conditions(
    db: Database, status: str | None, route: str, code: str, expected: bool
) -> None:
    with db.write() as session:
        product = b.product(session, routes=(route,), status=status, reference="REF-1")
        admin = b.administration(session, b.lot(session, product), route=route)
        assert flagged(session, "administration", [admin.id], code) == ([admin.id] if expected else [])


def test_off_label_reads_the_products_own_routes(db: Database) -> None:
    with db.write() as session:
        topical = b.product(session, routes=("topical_intact",))
        # Another product labelled for the route used: its label is not the first product's.
        b.product(session, routes=("intradermal",))
        unlabelled = b.product(session, routes=())
        off = b.administration(session, b.lot(session, topical), route="intradermal")
        on = b.administration(session, b.lot(session, topical), route="topical_intact")
        free = b.administration(session, b.lot(session, unlabelled), route="intradermal")
        assert flagged(session, "administration", [off.id, on.id, free.id], "REG-OFF-LABEL-ROUTE") == [off.id]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"screening_done": False}, True),
        ({"screening_done": False, "contraindications": "  "}, True),
        ({"screening_done": False, "contraindications": "pregnancy"}, False),
        ({"screening_done": True}, False),
    ],
)
def test_screening_not_done(db: Database, values: dict[str, Any], expected: bool) -> None:
    with db.write() as session:
        admin = b.administration(session, b.lot(session, b.product(session)), **values)
        assert flagged(session, "administration", [admin.id], "CONTRA-SCREENING-MISSING") == (
            [admin.id] if expected else []
        )


def test_lot_conditions_read_the_administrations_own_lot(db: Database) -> None:
    with db.write() as session:
        product = b.product(session)
        expired = b.lot(session, product, expiry_date=date(2025, 5, 1))
        quarantined = b.lot(session, product, status="quarantine")
        recalled = b.lot(session, product, status="recalled", recall_date=date(2025, 5, 1))
        good = b.lot(session, product)
        given = datetime(2025, 6, 1, 10, 0)
        admins = {
            lot.id: b.administration(session, lot, administered_at=given).id
            for lot in (expired, quarantined, recalled, good)
        }
        ids = list(admins.values())
        assert flagged(session, "administration", ids, "USE-EXPIRED") == [admins[expired.id]]
        assert flagged(session, "administration", ids, "USE-NOT-RELEASED") == [admins[quarantined.id]]
        assert flagged(session, "administration", ids, "USE-RECALLED") == [admins[recalled.id]]
