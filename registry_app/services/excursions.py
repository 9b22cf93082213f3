"""Cold chain: temperature excursions on a lot and how each was resolved.

An excursion stays open (USE-TEMPERATURE) until someone judges it: `use` (the lot stays as it is, with the
justification, e.g. the manufacturer's stability data), `quarantine` (the lot goes back to quarantine and
needs a new release) or `destroy` (the stock on hand is destroyed, reason temperature_excursion).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..domain import Lot, TemperatureExcursion, utcnow
from ..domain.exact import ZERO
from ..domain.vocab import DestroyReason, ExcursionResolution, LotStatus, values
from .audit import AuditRecord, snapshot
from .context import READERS, STAFF, ServiceContext, changing
from .errors import ConflictError, FieldError, NotFound, ValidationError

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

    @property
    def is_open(self) -> bool:
        return self.resolution is None


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@changing("record temperature excursions", STAFF)
def record_excursion(ctx: ServiceContext, lot_id: int, occurred_at: datetime, reading_c: float,
                     duration_minutes: int | None = None, notes: str | None = None) -> int:
    """Record that a lot's storage went out of range: when, the reading, for how long. Returns its id."""
    problems: list[FieldError] = []
    if not isinstance(occurred_at, datetime):
        problems.append(FieldError("occurred_at", "give the date and time the excursion began"))
    elif occurred_at.replace(tzinfo=None) > datetime.now() + timedelta(minutes=15):
        problems.append(FieldError("occurred_at", f"{occurred_at:%Y-%m-%d %H:%M} is in the future"))
    if not isinstance(reading_c, int | float) or not _READING_RANGE[0] <= reading_c <= _READING_RANGE[1]:
        problems.append(FieldError("reading_c", f"{reading_c!r} is not a temperature in °C"))
    if duration_minutes is not None and (not isinstance(duration_minutes, int) or duration_minutes < 0):
        problems.append(FieldError("duration_minutes", f"{duration_minutes!r} is not a number of minutes"))
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        if session.get(Lot, lot_id) is None:
            raise NotFound(f"no lot with id {lot_id}")
        excursion = TemperatureExcursion(lot_id=lot_id, occurred_at=occurred_at.replace(tzinfo=None, microsecond=0),
                                         reading_c=float(reading_c), duration_minutes=duration_minutes,
                                         notes=_text(notes), recorded_at=utcnow())
        session.add(excursion)
        session.flush()
        ctx.audit(session, AuditRecord("record temperature excursion", "temperature_excursion", excursion.id,
                                       before={}, after=snapshot(excursion)))
        return excursion.id


@changing("resolve temperature excursions", STAFF)
def resolve_excursion(ctx: ServiceContext, excursion_id: int, resolution: str, note: str | None = None) -> None:
    """Close an excursion with a judgement: use (needs a justification), quarantine or destroy."""
    if resolution not in values(ExcursionResolution):
        raise ValidationError(f"{resolution!r} is not a resolution; use one of "
                              f"{', '.join(values(ExcursionResolution))}", field="resolution")
    note = _text(note)
    if resolution == ExcursionResolution.USE and not note:
        raise ValidationError("say why the lot may still be used (e.g. the manufacturer's stability data)",
                              field="note")
    actor = ctx.actor
    assert actor is not None
    with ctx.db.write() as session:
        excursion = session.execute(select(TemperatureExcursion).where(TemperatureExcursion.id == excursion_id)
                                    .with_for_update()).scalar_one_or_none()
        if excursion is None:
            raise NotFound(f"no temperature excursion with id {excursion_id}")
        if excursion.resolution is not None:
            raise ConflictError(f"the excursion was resolved already ({excursion.resolution}) on "
                                f"{excursion.resolved_at:%Y-%m-%d}")
        lot = session.execute(select(Lot).where(Lot.id == excursion.lot_id).with_for_update()).scalar_one()
        lot_before = {"status": lot.status, "quantity_destroyed": lot.quantity_destroyed,
                      "destroyed_reason": lot.destroyed_reason}
        if resolution == ExcursionResolution.DESTROY:
            if lot.status == LotStatus.DESTROYED:
                raise ConflictError(f"lot {lot.lot_number} is destroyed already")
            lot.quantity_destroyed += max(ZERO, lot.quantity_on_hand)
            lot.status, lot.destroyed_reason = LotStatus.DESTROYED.value, DestroyReason.TEMPERATURE_EXCURSION.value
        elif resolution == ExcursionResolution.QUARANTINE and lot.status not in _OUT_OF_USE:
            lot.status = LotStatus.QUARANTINE.value
        excursion.resolution, excursion.resolution_note = resolution, note
        excursion.resolved_at, excursion.resolved_by_id = utcnow(), actor.user_id
        before = {"resolution": None, "resolution_note": None, "resolved_at": None,
                  **{f"lot_{k}": v for k, v in lot_before.items()}}
        after = {"resolution": resolution, "resolution_note": note, "resolved_at": excursion.resolved_at,
                 "lot_id": lot.id, "lot_status": lot.status, "lot_quantity_destroyed": lot.quantity_destroyed,
                 "lot_destroyed_reason": lot.destroyed_reason}
        ctx.audit(session, AuditRecord("resolve temperature excursion", "temperature_excursion", excursion.id,
                                       before=before, after=after, reason=note))


def list_excursions(ctx: ServiceContext, lot_id: int) -> list[ExcursionView]:
    """A lot's excursions, newest first."""
    ctx.require(READERS, "read temperature excursions")
    with ctx.db.read() as session:
        rows = session.execute(select(TemperatureExcursion).where(TemperatureExcursion.lot_id == lot_id)
                               .order_by(TemperatureExcursion.occurred_at.desc(),
                                         TemperatureExcursion.id.desc())).scalars().all()
        return [ExcursionView(r.id, r.lot_id, r.occurred_at, r.reading_c, r.duration_minutes, r.notes, r.resolution,
                              r.resolution_note, r.resolved_at, r.recorded_at) for r in rows]
