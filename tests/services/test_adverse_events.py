"""Adverse events after an administration and their report status."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import AuditEntry
from registry_app.services import NotFound, PermissionDenied, ServiceContext, ValidationError
from registry_app.services.administrations import amend_administration, record_administration
from registry_app.services.adverse_events import list_adverse_events, record_adverse_event, update_adverse_event_report

from ..helpers import row_counts
from .use_data import TODAY, YESTERDAY_10AM, entry, make_lot, make_product


@pytest.fixture
def administration_id(pharmacist: ServiceContext, db: Database) -> int:
    lot_id = make_lot(db, make_product(db, "Nucleo-PN 20", product_type="polynucleotide"), "PN20-7781")
    return record_administration(
        pharmacist, entry(lot_id, route="intradermal", patient_ref="PT-00388")
    ).administration_id


def _last_audit(db: Database) -> AuditEntry:
    with db.read() as session:
        return session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()


def test_record_an_event_and_find_it_by_administration_lot_and_patient(
    pharmacist: ServiceContext, inspector: ServiceContext, db: Database, administration_id: int
) -> None:
    event_id = record_adverse_event(
        pharmacist,
        administration_id,
        "delayed_nodule_granuloma",
        onset_date=TODAY,
        severity="moderate",
        description="  firm nodule at the injection site ",
    )
    [event] = list_adverse_events(pharmacist, administration_id=administration_id)
    assert (event.id, event.event_type, event.severity, event.onset_date, event.report_status) == (
        event_id,
        "delayed_nodule_granuloma",
        "moderate",
        TODAY,
        "not_reported",
    )
    assert (event.patient_ref, event.product_name, event.lot_number) == ("PT-00388", "Nucleo-PN 20", "PN20-7781")
    assert event.description == "firm nodule at the injection site"
    assert [e.id for e in list_adverse_events(pharmacist, patient_ref="PT-00388")] == [event_id]
    assert list_adverse_events(pharmacist, patient_ref="PT-1") == []
    # An inspector reads the same event under the patient's pseudonym, without its narrative.
    [seen] = list_adverse_events(inspector, administration_id=administration_id)
    assert seen.id == event_id and seen.patient_ref.startswith("P-") and seen.description is None
    audit = _last_audit(db)
    assert audit.action == "record adverse event"
    assert json.loads(audit.after)["event_type"] == "delayed_nodule_granuloma"


def test_an_event_stays_with_an_amended_administration(
    pharmacist: ServiceContext, db: Database, administration_id: int
) -> None:
    event_id = record_adverse_event(pharmacist, administration_id, "bruising")
    amended = amend_administration(pharmacist, administration_id, {"practitioner": "dr.ahn"}, "other doctor")
    assert [e.id for e in list_adverse_events(pharmacist, administration_id=amended.administration_id)] == [event_id]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event_type": "headache"}, "event_type"),
        ({"severity": "catastrophic"}, "severity"),
        ({"onset_date": TODAY + timedelta(days=3)}, "onset_date"),
        ({"onset_date": YESTERDAY_10AM.date() - timedelta(days=1)}, "onset_date"),
        ({"report_status": "not_reportable"}, "not_reportable_reason"),
        ({"report_status": "sent"}, "report_status"),
    ],
)
def test_wrong_input_names_the_field_and_writes_nothing(
    pharmacist: ServiceContext,
    db: Database,
    administration_id: int,
    kwargs: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    values = {"event_type": "erythema"} | kwargs
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        record_adverse_event(pharmacist, administration_id, **values)
    assert error.value.for_field(field), error.value.errors
    assert row_counts(db) == before


def test_report_to_the_regulator_with_a_reference(
    pharmacist: ServiceContext, db: Database, administration_id: int
) -> None:
    event_id = record_adverse_event(pharmacist, administration_id, "necrosis", severity="serious")
    update_adverse_event_report(pharmacist, event_id, "reported_regulator", report_reference="MedWatch MW5012345")
    [event] = list_adverse_events(pharmacist, lot_id=None, administration_id=administration_id)
    assert (event.report_status, event.report_reference, event.reported_on) == (
        "reported_regulator",
        "MedWatch MW5012345",
        TODAY,
    )
    audit = _last_audit(db)
    assert json.loads(audit.before) == {"report_status": "not_reported", "report_reference": None, "reported_on": None}
    assert json.loads(audit.after)["report_reference"] == "MedWatch MW5012345"


def test_not_reportable_needs_a_reason(pharmacist: ServiceContext, db: Database, administration_id: int) -> None:
    event_id = record_adverse_event(pharmacist, administration_id, "erythema", severity="mild")
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        update_adverse_event_report(pharmacist, event_id, "not_reportable")
    assert error.value.for_field("not_reportable_reason") and row_counts(db) == before
    update_adverse_event_report(
        pharmacist, event_id, "not_reportable", not_reportable_reason="expected transient erythema listed in the IFU"
    )
    [event] = list_adverse_events(pharmacist, administration_id=administration_id)
    assert event.report_status == "not_reportable" and event.not_reportable_reason.startswith("expected")  # type: ignore[union-attr]
    assert _last_audit(db).reason == event.not_reportable_reason
    with pytest.raises(ValidationError):  # nothing changes
        update_adverse_event_report(
            pharmacist,
            event_id,
            "not_reportable",
            not_reportable_reason="expected transient erythema listed in the IFU",
        )


def test_refusals(inspector: ServiceContext, pharmacist: ServiceContext, administration_id: int) -> None:
    with pytest.raises(PermissionDenied):
        record_adverse_event(inspector, administration_id, "erythema")
    with pytest.raises(NotFound):
        record_adverse_event(pharmacist, 999_999, "erythema")
    with pytest.raises(NotFound):
        update_adverse_event_report(pharmacist, 999_999, "reported_manufacturer")
