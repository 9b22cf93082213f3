"""Recall of a lot, the lookback to every recipient, the reverse lookup from a patient, and notification."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import AuditEntry, Signature
from registry_app.services import (
    ConflictError,
    NotFound,
    PermissionDenied,
    ServiceContext,
    SignInFailed,
    ValidationError,
)
from registry_app.services.administrations import amend_administration, record_administration, void_administration
from registry_app.services.recalls import (
    AmbiguousLot,
    find_lot,
    lots_for_patient,
    mark_patient_notified,
    recall_lot,
    trace_lot,
)

from ..conftest import PASSWORDS
from ..helpers import audit_count, row_counts
from .use_data import TODAY, YESTERDAY_10AM, entry, lot_row, make_lot, make_product

DIRECTOR_PASSWORD = PASSWORDS["director"]


@pytest.fixture
def given(pharmacist: ServiceContext, db: Database) -> dict[str, int]:
    """Two lots; three patients received lot A (one twice, one record amended, one voided), one received B."""
    product = make_product(db)
    lot_a, lot_b = make_lot(db, product, "CX-2406-118", quantity=20), make_lot(db, product, "CX-2406-119")
    at = YESTERDAY_10AM - timedelta(days=10)
    ids = {"lot_a": lot_a, "lot_b": lot_b}
    ids["first"] = record_administration(
        pharmacist, entry(lot_a, administered_at=at, patient_ref="PT-1")
    ).administration_id
    ids["second"] = record_administration(
        pharmacist,
        entry(
            lot_a,
            administered_at=at + timedelta(days=1),
            patient_ref="PT-2",
            route="intradermal",
            body_areas=("periorbital", "neck"),
            practitioner="dr.ahn",
            quantity=2,
        ),
    ).administration_id
    typo = record_administration(
        pharmacist, entry(lot_a, administered_at=at + timedelta(days=2), patient_ref="PT-99")
    ).administration_id
    ids["amended"] = amend_administration(
        pharmacist, typo, {"patient_ref": "PT-3"}, "mistyped patient reference"
    ).administration_id
    voided = record_administration(
        pharmacist, entry(lot_a, administered_at=at + timedelta(days=3), patient_ref="PT-4")
    ).administration_id
    void_administration(pharmacist, voided, "entered on the wrong patient file")
    ids["again"] = record_administration(
        pharmacist, entry(lot_a, administered_at=at + timedelta(days=4), patient_ref="PT-1")
    ).administration_id
    ids["other_lot"] = record_administration(
        pharmacist, entry(lot_b, administered_at=at + timedelta(days=5), patient_ref="PT-1")
    ).administration_id
    return ids


def test_trace_lists_every_current_recipient_oldest_first(director: ServiceContext, given: dict[str, int]) -> None:
    # Inspectors see pseudonyms instead (tests/security/test_privacy.py).
    trace = trace_lot(director, given["lot_a"])
    assert [a.id for a in trace.administrations] == [given["first"], given["second"], given["amended"], given["again"]]
    assert [a.patient_ref for a in trace.administrations] == ["PT-1", "PT-2", "PT-3", "PT-1"]
    assert (trace.product_name, trace.lot_number, trace.status) == ("Cordexa UC-EV 10B", "CX-2406-118", "released")


def test_trace_json_matches_the_cli_spec(director: ServiceContext, given: dict[str, int]) -> None:
    data = trace_lot(director, given["lot_a"]).as_json()
    assert set(data) == {"product_name", "lot_number", "status", "administrations"}
    second = data["administrations"][1]
    assert set(second) == {"administered_at", "patient_ref", "route", "body_area", "practitioner", "quantity"}
    at = (YESTERDAY_10AM - timedelta(days=9)).isoformat(timespec="minutes")
    assert second == {
        "administered_at": at,
        "patient_ref": "PT-2",
        "route": "intradermal",
        "body_area": "periorbital;neck",
        "practitioner": "dr.ahn",
        "quantity": 2.0,
    }
    assert json.loads(json.dumps(data)) == data


def test_a_patient_leads_to_every_lot_received(director: ServiceContext, given: dict[str, int]) -> None:
    rows = lots_for_patient(director, " PT-1 ")
    assert [(r.id, r.lot_number) for r in rows] == [
        (given["first"], "CX-2406-118"),
        (given["again"], "CX-2406-118"),
        (given["other_lot"], "CX-2406-119"),
    ]
    assert lots_for_patient(director, "PT-99") == []  # amended away
    assert lots_for_patient(director, "PT-4") == []  # voided
    with pytest.raises(ValidationError):
        lots_for_patient(director, "  ")


def test_a_director_recalls_with_a_signature(director: ServiceContext, db: Database, given: dict[str, int]) -> None:
    recall_day = TODAY - timedelta(days=2)
    result = recall_lot(
        director, given["lot_a"], "manufacturer's field safety notice FSN-7", DIRECTOR_PASSWORD, recall_day
    )
    assert (result.recall_date, result.recipients) == (recall_day, 4)
    lot = lot_row(db, given["lot_a"])
    assert (lot.status, lot.recall_date, lot.recall_reason) == (
        "recalled",
        recall_day,
        "manufacturer's field safety notice FSN-7",
    )
    with db.read() as session:
        signature = session.get(Signature, result.signature_id)
        entry_ = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
    assert signature is not None and (signature.meaning, signature.subject_type) == ("recalled", "lot")
    assert entry_.action == "recall lot" and json.loads(entry_.after)["signature_id"] == result.signature_id
    assert json.loads(entry_.before)["status"] == "released"
    assert trace_lot(director, given["lot_a"]).status == "recalled"
    assert {(r.lot_number, r.lot_status, r.lot_recall_date) for r in lots_for_patient(director, "PT-1")} == {
        ("CX-2406-118", "recalled", recall_day),
        ("CX-2406-119", "released", None),
    }


def test_recall_refusals_write_nothing(
    pharmacist: ServiceContext, director: ServiceContext, db: Database, given: dict[str, int]
) -> None:
    before, audit_before = row_counts(db), audit_count(db)
    with pytest.raises(PermissionDenied):
        recall_lot(pharmacist, given["lot_a"], "reason", PASSWORDS["pharmacist"])
    with pytest.raises(ValidationError):
        recall_lot(director, given["lot_a"], "  ", DIRECTOR_PASSWORD)
    with pytest.raises(NotFound):
        recall_lot(director, 999_999, "reason", DIRECTOR_PASSWORD)
    assert row_counts(db) == before and audit_count(db) == audit_before
    with pytest.raises(SignInFailed):
        recall_lot(director, given["lot_a"], "reason", "wrong password")
    assert lot_row(db, given["lot_a"]).status == "released"
    recall_lot(director, given["lot_a"], "reason", DIRECTOR_PASSWORD)
    with pytest.raises(ConflictError):
        recall_lot(director, given["lot_a"], "again", DIRECTOR_PASSWORD)


def test_each_recipient_is_marked_notified(
    pharmacist: ServiceContext, director: ServiceContext, db: Database, given: dict[str, int]
) -> None:
    recall_lot(director, given["lot_a"], "sterility failure", DIRECTOR_PASSWORD)
    assert len(trace_lot(pharmacist, given["lot_a"]).not_notified) == 4
    mark_patient_notified(pharmacist, given["second"], TODAY, "phone call, letter sent")
    trace = trace_lot(pharmacist, given["lot_a"])
    notified = next(a for a in trace.administrations if a.id == given["second"])
    assert (notified.patient_notified_on, notified.notified_how) == (TODAY, "phone call, letter sent")
    assert given["second"] not in {a.id for a in trace.not_notified} and len(trace.not_notified) == 3


def test_notification_needs_a_date_and_how(pharmacist: ServiceContext, db: Database, given: dict[str, int]) -> None:
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        mark_patient_notified(pharmacist, given["first"], TODAY + timedelta(days=1), " ")
    assert error.value.for_field("how") and error.value.for_field("notified_on")
    with pytest.raises(ValidationError):
        mark_patient_notified(pharmacist, given["first"], TODAY - timedelta(days=400), "letter")
    with pytest.raises(ConflictError):  # the superseded version of an amended record
        mark_patient_notified(pharmacist, given["amended"] - 1, TODAY, "letter")
    assert row_counts(db) == before


def test_find_lot_by_number_and_product(inspector: ServiceContext, db: Database) -> None:
    first, second = make_product(db, "Cordexa UC-EV 10B"), make_product(db, "Glow Exo Booster")
    lot_id = make_lot(db, first, "GX-01")
    make_lot(db, second, "GX-01")
    with pytest.raises(AmbiguousLot) as ambiguous:
        find_lot(inspector, "GX-01")
    assert ambiguous.value.product_names == ["Cordexa UC-EV 10B", "Glow Exo Booster"]
    assert find_lot(inspector, " GX-01 ", "cordexa uc-ev 10b").lot_id == lot_id
    with pytest.raises(NotFound):
        find_lot(inspector, "GX-02")
    expired = make_lot(db, first, "OLD-1", expiry=TODAY - timedelta(days=1), received=TODAY - timedelta(days=300))
    assert find_lot(inspector, "OLD-1").status == "expired" == trace_lot(inspector, expired).status


def test_administration_times_keep_the_minute(
    inspector: ServiceContext, pharmacist: ServiceContext, db: Database
) -> None:
    lot_id = make_lot(db, make_product(db))
    at = datetime.combine(TODAY - timedelta(days=2), datetime.min.time()).replace(hour=15, minute=7)
    record_administration(pharmacist, entry(lot_id, administered_at=at))
    assert trace_lot(inspector, lot_id).as_json()["administrations"][0]["administered_at"] == at.isoformat(
        timespec="minutes"
    )
