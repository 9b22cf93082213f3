"""Matrix calls for the use of lots: administrations, recalls, adverse events, temperature excursions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from registry_app.services import administrations, adverse_events, recalls
from registry_app.services.lots import excursions

from ..use_data import entry, make_lot, make_product
from . import MatrixSetup, Prepare


def _lot(setup: MatrixSetup) -> int:
    return make_lot(setup.db, make_product(setup.db))


def _administration(setup: MatrixSetup) -> int:
    result = administrations.record_administration(setup.pharmacist, entry(_lot(setup)))
    return result.administration_id


def _record(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: administrations.record_administration(ctx, entry(lot_id))


def _amend(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    administration_id = _administration(setup)
    return lambda ctx: administrations.amend_administration(
        ctx, administration_id, {"patient_ref": "PT-00413"}, "wrong patient reference typed"
    )


def _void(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    administration_id = _administration(setup)
    return lambda ctx: administrations.void_administration(ctx, administration_id, "recorded twice")


def _recall(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: recalls.recall_lot(ctx, lot_id, "manufacturer notice", setup.password_for(ctx))


def _notify(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    administration_id = _administration(setup)
    return lambda ctx: recalls.mark_patient_notified(ctx, administration_id, date.today(), "phone call")


def _record_event(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    administration_id = _administration(setup)
    return lambda ctx: adverse_events.record_adverse_event(ctx, administration_id, "erythema", severity="mild")


def _update_event(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    event_id = adverse_events.record_adverse_event(setup.pharmacist, _administration(setup), "swelling")
    return lambda ctx: adverse_events.update_adverse_event_report(
        ctx, event_id, "reported_regulator", report_reference="MW-5012345"
    )


def _record_excursion(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    when = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    return lambda ctx: excursions.record_excursion(ctx, lot_id, when, 11.0, 45)


def _resolve_excursion(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    when = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    excursion_id = excursions.record_excursion(setup.pharmacist, _lot(setup), when, 11.0, 45)
    return lambda ctx: excursions.resolve_excursion(ctx, excursion_id, "quarantine", "await manufacturer")


def _sign_resolution(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    when = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    excursion_id = excursions.record_excursion(setup.pharmacist, _lot(setup), when, 11.0, 45)
    return lambda ctx: excursions.sign_excursion_resolution(
        ctx, excursion_id, "use", "stability data on file", setup.password_for(ctx)
    )


CALLS: dict[str, Prepare] = {
    "administrations.record_administration": _record,
    "administrations.amend_administration": _amend,
    "administrations.void_administration": _void,
    "recalls.recall_lot": _recall,
    "recalls.mark_patient_notified": _notify,
    "adverse_events.record_adverse_event": _record_event,
    "adverse_events.update_adverse_event_report": _update_event,
    "excursions.record_excursion": _record_excursion,
    "excursions.resolve_excursion": _resolve_excursion,
    "excursions.sign_excursion_resolution": _sign_resolution,
}
