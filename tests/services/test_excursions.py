"""Temperature excursions: recording, and each resolution's effect on the lot."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from registry_app.domain import AuditEntry, Lot
from registry_app.services import ConflictError, NotFound, PermissionDenied, ServiceContext, ValidationError
from registry_app.services.lots.excursions import list_excursions, record_excursion, resolve_excursion

from ..helpers import audit_count, row_counts
from .use_data import lot_row, make_lot, make_product

WHEN = datetime.now().replace(microsecond=0) - timedelta(hours=5)


@pytest.fixture
def lot_id(db) -> int:  # type: ignore[no-untyped-def]
    return make_lot(db, make_product(db), quantity=10)


def test_record_and_list_an_excursion(pharmacist: ServiceContext, inspector: ServiceContext, lot_id: int) -> None:
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 12.5, 90, "fridge door left open")
    [seen] = list_excursions(inspector, lot_id)
    assert (seen.id, seen.occurred_at, seen.reading_c, seen.duration_minutes) == (excursion_id, WHEN, 12.5, 90)
    assert seen.notes == "fridge door left open" and seen.is_open


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reading_c": 451.0}, "reading_c"),
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"occurred_at": datetime.now() + timedelta(days=2)}, "occurred_at"),
    ],
)
def test_wrong_input_names_the_field_and_writes_nothing(
    pharmacist: ServiceContext,
    db,
    lot_id: int,
    kwargs: dict,
    field: str,  # type: ignore[no-untyped-def, type-arg]
) -> None:
    values = {"occurred_at": WHEN, "reading_c": 12.0, "duration_minutes": 30} | kwargs
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        record_excursion(pharmacist, lot_id, **values)
    assert error.value.for_field(field)
    assert row_counts(db) == before


def test_unknown_lot_is_not_found(pharmacist: ServiceContext, db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        record_excursion(pharmacist, 999_999, WHEN, 12.0)


def test_resolve_use_needs_a_justification_and_keeps_the_lot(pharmacist: ServiceContext, db, lot_id: int) -> None:  # type: ignore[no-untyped-def]
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 9.0, 20)
    with pytest.raises(ValidationError) as error:
        resolve_excursion(pharmacist, excursion_id, "use")
    assert error.value.for_field("note")
    resolve_excursion(pharmacist, excursion_id, "use", "stability data allow 24 h at up to 25 °C")
    [seen] = list_excursions(pharmacist, lot_id)
    assert seen.resolution == "use" and seen.resolved_at is not None and not seen.is_open
    assert lot_row(db, lot_id).status == "released"


def test_resolve_quarantine_puts_the_lot_back_in_quarantine(pharmacist: ServiceContext, db, lot_id: int) -> None:  # type: ignore[no-untyped-def]
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 15.0, 240)
    resolve_excursion(pharmacist, excursion_id, "quarantine", "await the manufacturer's opinion")
    assert lot_row(db, lot_id).status == "quarantine"
    with db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
    assert entry.action == "resolve temperature excursion"
    assert json.loads(entry.before)["lot_status"] == "released"
    assert json.loads(entry.after)["lot_status"] == "quarantine"


def test_resolve_destroy_destroys_the_stock_on_hand(pharmacist: ServiceContext, db, lot_id: int) -> None:  # type: ignore[no-untyped-def]
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 30.0, 600)
    resolve_excursion(pharmacist, excursion_id, "destroy")
    lot = lot_row(db, lot_id)
    assert (lot.status, lot.destroyed_reason) == ("destroyed", "temperature_excursion")
    assert lot.quantity_on_hand == 0 and lot.quantity_destroyed == 10


def test_an_excursion_is_resolved_once(pharmacist: ServiceContext, db, lot_id: int) -> None:  # type: ignore[no-untyped-def]
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 15.0)
    resolve_excursion(pharmacist, excursion_id, "quarantine")
    before = audit_count(db)
    with pytest.raises(ConflictError):
        resolve_excursion(pharmacist, excursion_id, "destroy")
    assert audit_count(db) == before and lot_row(db, lot_id).status == "quarantine"


def test_quarantine_leaves_a_recalled_lot_recalled(pharmacist: ServiceContext, db) -> None:  # type: ignore[no-untyped-def]
    lot_id = make_lot(db, make_product(db), status="released")
    with db.write() as session:
        lot = session.get(Lot, lot_id)
        assert lot is not None
        lot.status, lot.recall_date = "recalled", datetime.now().date()
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 15.0)
    resolve_excursion(pharmacist, excursion_id, "quarantine")
    assert lot_row(db, lot_id).status == "recalled"


def test_wrong_resolution_and_inspector_refused(
    pharmacist: ServiceContext, inspector: ServiceContext, lot_id: int
) -> None:
    excursion_id = record_excursion(pharmacist, lot_id, WHEN, 15.0)
    with pytest.raises(ValidationError):
        resolve_excursion(pharmacist, excursion_id, "ignore")
    with pytest.raises(PermissionDenied):
        resolve_excursion(inspector, excursion_id, "destroy")


def test_a_logger_span_records_the_worst_reading_and_the_duration(pharmacist: ServiceContext) -> None:
    """From/to and the lowest/highest reading: the reading kept is the one outside the storage range."""
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db))  # refrigerated, 2-8 °C
    start = datetime.now().replace(microsecond=0) - timedelta(hours=3)
    record_excursion(pharmacist, lot_id, start, ended_at=start + timedelta(minutes=95), min_c=4.0, max_c=14.5)
    [view] = list_excursions(pharmacist, lot_id)
    assert (view.reading_c, view.duration_minutes) == (14.5, 95)
    assert (view.ended_at, view.min_c, view.max_c) == (start + timedelta(minutes=95), 4.0, 14.5)


def test_a_span_that_ends_before_it_begins_is_refused(pharmacist: ServiceContext) -> None:
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db))
    start = datetime.now().replace(microsecond=0) - timedelta(hours=3)
    with pytest.raises(ValidationError) as caught:
        record_excursion(pharmacist, lot_id, start, ended_at=start - timedelta(minutes=5), max_c=12.0)
    assert caught.value.for_field("ended_at")
    assert list_excursions(pharmacist, lot_id) == []


def test_a_signed_resolution_needs_the_password_and_records_the_signature(pharmacist: ServiceContext) -> None:
    from registry_app.domain import Signature
    from registry_app.services import SignInFailed
    from registry_app.services.lots.excursions import sign_excursion_resolution

    from ..conftest import PASSWORDS

    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db))
    excursion_id = record_excursion(
        pharmacist, lot_id, datetime.now().replace(microsecond=0) - timedelta(hours=2), 11.0, 30
    )
    with pytest.raises(SignInFailed):
        sign_excursion_resolution(pharmacist, excursion_id, "use", "stable per the manufacturer", "wrong")
    assert list_excursions(pharmacist, lot_id)[0].is_open
    signature_id = sign_excursion_resolution(
        pharmacist, excursion_id, "use", "stable per the manufacturer", PASSWORDS["pharmacist"]
    )
    assert not list_excursions(pharmacist, lot_id)[0].is_open
    with pharmacist.db.read() as session:
        signature = session.get(Signature, signature_id)
        assert signature is not None and signature.subject_id == str(excursion_id)


def test_the_reading_kept_is_the_one_outside_the_storage_range(pharmacist: ServiceContext) -> None:
    """Refrigerated (2-8 °C): a span from -3 to 7 °C froze the lot; -3 °C is the reading that decides."""
    from ..rules import builders

    with pharmacist.db.write() as session:
        lot_id = builders.lot(session, builders.product(session, storage_form="refrigerated")).id
    start = datetime.now().replace(microsecond=0) - timedelta(hours=3)
    record_excursion(pharmacist, lot_id, start, ended_at=start + timedelta(minutes=40), min_c=-3.0, max_c=7.0)
    [view] = list_excursions(pharmacist, lot_id)
    assert (view.reading_c, view.min_c, view.max_c, view.duration_minutes) == (-3.0, -3.0, 7.0, 40)
