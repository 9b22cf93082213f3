"""Adverse events after an administration, and where each was reported (manufacturer, or a regulator such
as FDA MedWatch). An event left `not_reported` for more than 15 days is flagged (AE-UNREPORTED)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from registry_app.domain import Administration, AdverseEvent, Lot, Product, utcnow
from registry_app.domain.vocab import AdverseEventSeverity, AdverseEventType, ReportStatus, values
from registry_app.services import site_scope
from registry_app.services.administrations import version_ids
from registry_app.services.audit import AuditRecord, changes, snapshot
from registry_app.services.clock import site_today
from registry_app.services.context import READERS, STAFF, ServiceContext, changing
from registry_app.services.errors import FieldError, NotFound, ValidationError
from registry_app.services.privacy import PSEUDONYM_PATTERN, for_inspector, patient_view, sees_pseudonyms


@dataclass(frozen=True)
class AdverseEventView:
    id: int
    administration_id: int
    patient_ref: str | None
    product_name: str
    lot_number: str
    administered_at: datetime
    event_type: str
    onset_date: date | None
    severity: str | None
    description: str | None
    report_status: str
    report_reference: str | None
    not_reportable_reason: str | None
    reported_on: date | None
    recorded_at: datetime


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _report_fields(
    status: str,
    reference: str | None,
    reason: str | None,
    reported_on: date | None,
    problems: list[FieldError],
    today: date,
) -> dict[str, Any]:
    """The report columns for a status: a reason only (and required) for not_reportable, a reference and
    date only once reported."""
    if status not in values(ReportStatus):
        problems.append(
            FieldError(
                "report_status", f"{status!r} is not a report status; use one of {', '.join(values(ReportStatus))}"
            )
        )
        return {}
    reference, reason = _text(reference), _text(reason)
    if status == ReportStatus.NOT_REPORTABLE and not reason:
        problems.append(FieldError("not_reportable_reason", "say why the event is not reportable"))
    if reported_on is not None and not _is_date(reported_on):
        problems.append(FieldError("reported_on", "give the date of the report"))
    elif reported_on is not None and reported_on > today:
        problems.append(FieldError("reported_on", f"{reported_on} is in the future"))
    reported = status in (ReportStatus.REPORTED_MANUFACTURER, ReportStatus.REPORTED_REGULATOR)
    return {
        "report_status": status,
        "report_reference": reference if reported else None,
        "not_reportable_reason": reason if status == ReportStatus.NOT_REPORTABLE else None,
        "reported_on": (reported_on or today) if reported else None,
    }


@changing("record adverse events", STAFF)
def record_adverse_event(
    ctx: ServiceContext,
    administration_id: int,
    event_type: str,
    *,
    onset_date: date | None = None,
    severity: str | None = None,
    description: str | None = None,
    report_status: str = ReportStatus.NOT_REPORTED.value,
    report_reference: str | None = None,
    not_reportable_reason: str | None = None,
    reported_on: date | None = None,
) -> int:
    """Record an adverse event after an administration; returns its id."""
    problems: list[FieldError] = []
    today = site_today(ctx)
    if event_type not in values(AdverseEventType):
        problems.append(
            FieldError(
                "event_type",
                f"{event_type!r} is not an adverse event type; use one of {', '.join(values(AdverseEventType))}",
            )
        )
    if severity is not None and severity not in values(AdverseEventSeverity):
        problems.append(
            FieldError(
                "severity", f"{severity!r} is not a severity; use one of {', '.join(values(AdverseEventSeverity))}"
            )
        )
    if onset_date is not None and not _is_date(onset_date):
        problems.append(FieldError("onset_date", "give the date the event began"))
    elif onset_date is not None and onset_date > today:
        problems.append(FieldError("onset_date", f"{onset_date} is in the future"))
    report = _report_fields(report_status, report_reference, not_reportable_reason, reported_on, problems, today)
    if problems:
        raise ValidationError(problems)
    actor = ctx.actor
    assert actor is not None
    with ctx.db.write() as session:
        administration = site_scope.visible_administration(session, ctx, administration_id)
        if onset_date is not None and onset_date < administration.administered_at.date():
            raise ValidationError(
                f"{onset_date} is before the administration ({administration.administered_at:%Y-%m-%d})",
                field="onset_date",
            )
        event = AdverseEvent(
            administration_id=administration_id,
            event_type=event_type,
            onset_date=onset_date,
            severity=severity,
            description=_text(description),
            recorded_by_id=actor.user_id,
            recorded_at=utcnow(),
            **report,
        )
        session.add(event)
        session.flush()
        after = snapshot(event)
        after["patient_ref"] = administration.patient_ref
        ctx.audit(session, AuditRecord("record adverse event", "adverse_event", event.id, before={}, after=after))
        return event.id


@changing("update adverse event reports", STAFF)
def update_adverse_event_report(
    ctx: ServiceContext,
    adverse_event_id: int,
    report_status: str,
    *,
    report_reference: str | None = None,
    not_reportable_reason: str | None = None,
    reported_on: date | None = None,
) -> None:
    """Record where the event was reported (status, reference such as a MedWatch number, date), or why it is
    not reportable."""
    problems: list[FieldError] = []
    today = site_today(ctx)
    report = _report_fields(report_status, report_reference, not_reportable_reason, reported_on, problems, today)
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        event = session.execute(
            select(AdverseEvent).where(AdverseEvent.id == adverse_event_id).with_for_update()
        ).scalar_one_or_none()
        site_scope.check_adverse_event(session, ctx, event, adverse_event_id)
        assert event is not None
        old = {key: getattr(event, key) for key in report}
        before, after = changes(old, report)
        if not after:
            raise ValidationError("the report status and reference are unchanged", field="report_status")
        for key, value in report.items():
            setattr(event, key, value)
        ctx.audit(
            session,
            AuditRecord(
                "update adverse event report",
                "adverse_event",
                event.id,
                before=before,
                after=after,
                reason=report["not_reportable_reason"],
            ),
        )


def list_adverse_events(
    ctx: ServiceContext,
    *,
    administration_id: int | None = None,
    lot_id: int | None = None,
    patient_ref: str | None = None,
    adverse_event_id: int | None = None,
) -> list[AdverseEventView]:
    """Adverse events, newest first, optionally of one administration (any of its versions), lot or patient,
    or the one event `adverse_event_id`. An inspector sees patients as pseudonyms and no free text, and gives
    a patient as the pseudonym (a lookup by reference would confirm a guessed name)."""
    ctx.require(READERS, "read adverse events")
    inspector_view = patient_view(ctx) if sees_pseudonyms(ctx) else None
    wanted_pseudonym: str | None = None
    if patient_ref is not None and inspector_view is not None:
        wanted_pseudonym = patient_ref.strip()
        if not PSEUDONYM_PATTERN.fullmatch(wanted_pseudonym):
            raise ValidationError(
                "an inspector gives a patient as the pseudonym shown in the outputs (P- and 10 letters or digits)",
                field="patient_ref",
            )
        wanted_pseudonym = "P-" + wanted_pseudonym[2:].lower()
        patient_ref = None  # matched below, on the pseudonym
    query = (
        select(
            AdverseEvent.id,
            AdverseEvent.administration_id,
            Administration.patient_ref,
            Product.name.label("product_name"),
            Lot.lot_number,
            Administration.administered_at,
            AdverseEvent.event_type,
            AdverseEvent.onset_date,
            AdverseEvent.severity,
            AdverseEvent.description,
            AdverseEvent.report_status,
            AdverseEvent.report_reference,
            AdverseEvent.not_reportable_reason,
            AdverseEvent.reported_on,
            AdverseEvent.recorded_at,
        )
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(*site_scope.lot_conditions(ctx))
    )
    if lot_id is not None:
        query = query.where(Lot.id == lot_id)
    if patient_ref is not None:
        query = query.where(Administration.patient_ref == patient_ref.strip())
    if adverse_event_id is not None:
        query = query.where(AdverseEvent.id == adverse_event_id)
    with ctx.db.read() as session:
        if administration_id is not None:
            query = query.where(AdverseEvent.administration_id.in_(version_ids(session, administration_id)))
        rows = session.execute(query.order_by(AdverseEvent.recorded_at.desc(), AdverseEvent.id.desc())).all()
    views = [AdverseEventView(**dict(r._mapping)) for r in rows]
    if inspector_view is None:
        return views
    shown = [for_inspector(view, inspector_view) for view in views]
    return shown if wanted_pseudonym is None else [view for view in shown if view.patient_ref == wanted_pseudonym]


def get_adverse_event(ctx: ServiceContext, adverse_event_id: int) -> AdverseEventView:
    """One adverse event with its administration, product and lot (the report editor's heading)."""
    found = list_adverse_events(ctx, adverse_event_id=adverse_event_id)
    if not found:
        raise NotFound(f"no adverse event with id {adverse_event_id}")
    return found[0]
