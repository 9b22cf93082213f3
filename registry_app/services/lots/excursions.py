"""Cold chain: temperature excursions on a lot and how each was resolved.

An excursion stays open (USE-TEMPERATURE) until someone judges it: `use` (the lot stays as it is, with the
justification, e.g. the manufacturer's stability data), `quarantine` (the lot goes back to quarantine and
needs a new release) or `destroy` (the stock on hand is destroyed, reason temperature_excursion).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import Lot, TemperatureExcursion, utcnow
from registry_app.domain.exact import ZERO
from registry_app.domain.vocab import DestroyReason, ExcursionResolution, LotStatus, SignatureMeaning, values
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.auth import add_signature, reauthenticate
from registry_app.services.context import READERS, STAFF, Actor, ServiceContext, changing
from registry_app.services.errors import ConflictError, FieldError, NotFound, ValidationError

# Lots already out of use keep their status when an excursion on them is resolved by quarantine.
_OUT_OF_USE = (LotStatus.RECALLED, LotStatus.REJECTED, LotStatus.DESTROYED)
# A plausible storage reading in °C: anything outside is a typing error (e.g. Fahrenheit or a missing sign).
_READING_RANGE = (-273.0, 100.0)


@dataclass(frozen=True)
class ExcursionView:
    id: int
    lot_id: int
    occurred_at: datetime
    reading_c: float
    duration_minutes: int | None
    notes: str | None
    resolution: str | None
    resolution_note: str | None
    resolved_at: datetime | None
    recorded_at: datetime
    ended_at: datetime | None = None
    min_c: float | None = None
    max_c: float | None = None

    @property
    def is_open(self) -> bool:
        return self.resolution is None


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _distance_outside(reading: float, limits: tuple[float, float] | None) -> float:
    if limits is None:
        return 0.0
    return max(limits[0] - reading, reading - limits[1], 0.0)


@changing("record temperature excursions", STAFF)
def record_excursion(
    ctx: ServiceContext,
    lot_id: int,
    occurred_at: datetime,
    reading_c: float | None = None,
    duration_minutes: int | None = None,
    notes: str | None = None,
    *,
    ended_at: datetime | None = None,
    min_c: float | None = None,
    max_c: float | None = None,
) -> int:
    """Record that a lot's storage went out of range: when, the reading, for how long. Returns its id.

    A logger's view (from `occurred_at` to `ended_at`, lowest and highest reading) may be given instead of one
    reading and a duration: the duration is the span, and the reading kept is the one furthest outside the
    product's storage range (the one that decides the disposition); the span and both extremes are kept."""
    problems: list[FieldError] = []
    if not isinstance(occurred_at, datetime):
        problems.append(FieldError("occurred_at", "give the date and time the excursion began"))
    elif occurred_at.replace(tzinfo=None) > datetime.now() + timedelta(minutes=15):
        problems.append(FieldError("occurred_at", f"{occurred_at:%Y-%m-%d %H:%M} is in the future"))
    if ended_at is not None:
        if not isinstance(ended_at, datetime):
            problems.append(FieldError("ended_at", "give the date and time the excursion ended"))
        elif isinstance(occurred_at, datetime) and ended_at <= occurred_at:
            problems.append(FieldError("ended_at", "the excursion must end after it began"))
        elif ended_at.replace(tzinfo=None) > datetime.now() + timedelta(minutes=15):
            problems.append(FieldError("ended_at", f"{ended_at:%Y-%m-%d %H:%M} is in the future"))
        elif duration_minutes is None and isinstance(occurred_at, datetime):
            duration_minutes = int((ended_at - occurred_at).total_seconds() // 60)
    extremes = {"min_c": min_c, "max_c": max_c}
    for key, reading in extremes.items():
        if reading is not None and (
            not isinstance(reading, int | float) or not _READING_RANGE[0] <= reading <= _READING_RANGE[1]
        ):
            problems.append(FieldError(key, f"{reading!r} is not a temperature in °C"))
    if min_c is not None and max_c is not None and min_c > max_c:
        problems.append(FieldError("min_c", f"the lowest reading {min_c:g} °C is above the highest {max_c:g} °C"))
    if reading_c is None and min_c is None and max_c is None:
        problems.append(FieldError("reading_c", "give the temperature reading (or the lowest and highest)"))
    elif reading_c is not None and (
        not isinstance(reading_c, int | float) or not _READING_RANGE[0] <= reading_c <= _READING_RANGE[1]
    ):
        problems.append(FieldError("reading_c", f"{reading_c!r} is not a temperature in °C"))
    if duration_minutes is not None and (not isinstance(duration_minutes, int) or duration_minutes < 0):
        problems.append(FieldError("duration_minutes", f"{duration_minutes!r} is not a number of minutes"))
    if problems:
        raise ValidationError(problems)
    notes = _text(notes)
    with ctx.db.write() as session:
        lot = site_scope.visible_lot(session, ctx, lot_id)
        if reading_c is None:
            from registry_app.services.lots.receipt_checks import STORAGE_RANGES

            limits = STORAGE_RANGES.get(lot.product.storage_form or "")
            readings = [v for v in (max_c, min_c) if v is not None]
            reading_c = max(readings, key=lambda v: _distance_outside(v, limits))
        excursion = TemperatureExcursion(
            lot_id=lot_id,
            occurred_at=occurred_at.replace(tzinfo=None, microsecond=0),
            reading_c=float(reading_c),
            duration_minutes=duration_minutes,
            notes=notes,
            recorded_at=utcnow(),
            ended_at=ended_at.replace(tzinfo=None, microsecond=0) if ended_at else None,
            min_c=None if min_c is None else float(min_c),
            max_c=None if max_c is None else float(max_c),
        )
        session.add(excursion)
        session.flush()
        ctx.audit(
            session,
            AuditRecord(
                "record temperature excursion",
                "temperature_excursion",
                excursion.id,
                before={},
                after=snapshot(excursion),
            ),
        )
        return excursion.id


def _check_resolution(resolution: str, note: str | None) -> str | None:
    if resolution not in values(ExcursionResolution):
        raise ValidationError(
            f"{resolution!r} is not a resolution; use one of {', '.join(values(ExcursionResolution))}",
            field="resolution",
        )
    note = _text(note)
    if resolution == ExcursionResolution.USE and not note:
        raise ValidationError(
            "say why the lot may still be used (e.g. the manufacturer's stability data)", field="note"
        )
    return note


def _resolve(
    ctx: ServiceContext,
    session: Session,
    excursion_id: int,
    resolution: str,
    note: str | None,
    signer: Actor | None = None,
) -> int | None:
    """Close the excursion in the caller's transaction; with a signer, sign the disposition. Returns the
    signature id (None unsigned)."""
    actor = ctx.actor
    assert actor is not None
    excursion = session.execute(
        select(TemperatureExcursion).where(TemperatureExcursion.id == excursion_id).with_for_update()
    ).scalar_one_or_none()
    if excursion is None:
        raise NotFound(f"no temperature excursion with id {excursion_id}")
    site_scope.check_lot_id(session, ctx, excursion.lot_id, f"no temperature excursion with id {excursion_id}")
    if excursion.resolution is not None:
        raise ConflictError(
            f"the excursion was resolved already ({excursion.resolution}) on {excursion.resolved_at:%Y-%m-%d}"
        )
    lot = session.execute(select(Lot).where(Lot.id == excursion.lot_id).with_for_update()).scalar_one()
    lot_before = {
        "status": lot.status,
        "quantity_destroyed": lot.quantity_destroyed,
        "destroyed_reason": lot.destroyed_reason,
    }
    if resolution == ExcursionResolution.DESTROY:
        if lot.status == LotStatus.DESTROYED:
            raise ConflictError(f"lot {lot.lot_number} is destroyed already")
        lot.quantity_destroyed += max(ZERO, lot.quantity_on_hand)
        lot.status, lot.destroyed_reason = LotStatus.DESTROYED.value, DestroyReason.TEMPERATURE_EXCURSION.value
    elif resolution == ExcursionResolution.QUARANTINE and lot.status not in _OUT_OF_USE:
        lot.status = LotStatus.QUARANTINE.value
    excursion.resolution, excursion.resolution_note = resolution, note
    excursion.resolved_at, excursion.resolved_by_id = utcnow(), actor.user_id
    before = {
        "resolution": None,
        "resolution_note": None,
        "resolved_at": None,
        **{f"lot_{k}": v for k, v in lot_before.items()},
    }
    after = {
        "resolution": resolution,
        "resolution_note": note,
        "resolved_at": excursion.resolved_at,
        "lot_id": lot.id,
        "lot_status": lot.status,
        "lot_quantity_destroyed": lot.quantity_destroyed,
        "lot_destroyed_reason": lot.destroyed_reason,
    }
    signature_id = None
    if signer is not None:
        # Meaning "approved": the signer approves this disposition (what was signed is hashed in the signature).
        signature = add_signature(
            session,
            signer,
            SignatureMeaning.APPROVED,
            "temperature_excursion",
            excursion.id,
            {
                "excursion_id": excursion.id,
                "lot_id": lot.id,
                "reading_c": excursion.reading_c,
                "occurred_at": excursion.occurred_at,
                "resolution": resolution,
                "note": note,
            },
        )
        signature_id = signature.id
        after.update(signature_id=signature.id, signature_meaning=signature.meaning, signed_by=signature.signer_name)
    ctx.audit(
        session,
        AuditRecord(
            "resolve temperature excursion",
            "temperature_excursion",
            excursion.id,
            before=before,
            after=after,
            reason=note,
        ),
    )
    return signature_id


@changing("resolve temperature excursions", STAFF)
def resolve_excursion(ctx: ServiceContext, excursion_id: int, resolution: str, note: str | None = None) -> None:
    """Close an excursion with a judgement: use (needs a justification), quarantine or destroy."""
    note = _check_resolution(resolution, note)
    with ctx.db.write() as session:
        _resolve(ctx, session, excursion_id, resolution, note)


@changing("resolve temperature excursions", STAFF)
def sign_excursion_resolution(
    ctx: ServiceContext, excursion_id: int, resolution: str, note: str | None, password: str
) -> int:
    """Close an excursion with a judgement, electronically signed (the password typed again, as at release):
    the desktop's way, since the disposition decides whether patients receive the lot. Returns the signature
    id."""
    note = _check_resolution(resolution, note)
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        signature_id = _resolve(ctx, session, excursion_id, resolution, note, signer)
        assert signature_id is not None
        return signature_id


def list_excursions(ctx: ServiceContext, lot_id: int) -> list[ExcursionView]:
    """A lot's excursions, newest first."""
    ctx.require(READERS, "read temperature excursions")
    with ctx.db.read() as session:
        site_scope.visible_lot(session, ctx, lot_id)
        rows = (
            session.execute(
                select(TemperatureExcursion)
                .where(TemperatureExcursion.lot_id == lot_id)
                .order_by(TemperatureExcursion.occurred_at.desc(), TemperatureExcursion.id.desc())
            )
            .scalars()
            .all()
        )
        return [
            ExcursionView(
                r.id,
                r.lot_id,
                r.occurred_at,
                r.reading_c,
                r.duration_minutes,
                r.notes,
                r.resolution,
                r.resolution_note,
                r.resolved_at,
                r.recorded_at,
                r.ended_at,
                r.min_c,
                r.max_c,
            )
            for r in rows
        ]
