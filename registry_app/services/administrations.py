"""Giving a lot to a patient: recording an administration behind guard rails, amending and voiding it.

Guard rails: the new administration is inserted and flushed inside the write transaction, then the flag
engine evaluates it (and its lot and product) exactly as the flag list will later. A `critical` finding, or
a use of a lot that is now in quarantine or rejected (USE-NOT-RELEASED: high in rules.md, which rates the
recorded fact; blocking here, because a pharmacist must not give an unreleased lot on a mere confirmation),
raises `GuardRailBlocked` and the transaction rolls back, unless a medical director overrides it with a
reason and a signature; a `high` finding raises `ConfirmationRequired` unless the caller confirmed. So a
refused attempt writes nothing at all, and an accepted one shows the same findings the dashboard will.

Corrections never edit a row: an amendment adds a new row (`amends_id`) and marks the old one superseded;
a void marks the row voided. The lot's `quantity_administered` counts only current rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry_app.domain import Administration, Lot, Product, User, utcnow
from registry_app.domain.base import table_of
from registry_app.domain.exact import ZERO, exact_sql, to_decimal
from registry_app.domain.vocab import (
    SEVERITY_RANK,
    BodyArea,
    Contraindication,
    LotStatus,
    Role,
    Route,
    SignatureMeaning,
    values,
)
from registry_app.rules.catalogue import RULES, Flag
from registry_app.services import audit_records, site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.auth import add_signature, reauthenticate
from registry_app.services.clock import site_clock, site_today
from registry_app.services.context import READERS, STAFF, Actor, ServiceContext, changing, jurisdiction
from registry_app.services.errors import (
    ConfirmationRequired,
    ConflictError,
    FieldError,
    GuardRailBlocked,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from registry_app.services.privacy import get_patient_ref_pattern, patient_ref_pattern, patient_ref_problem

# Clocks differ a little between the workstation and the practitioner's watch.
FUTURE_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class AdministrationInput:
    """What the practitioner records. Lists hold vocabulary values (vocabulary.md)."""

    lot_id: int
    administered_at: datetime
    route: str
    patient_ref: str | None = None
    body_areas: Sequence[str] = ()
    quantity: Decimal | float | None = None
    volume_ml: Decimal | float | None = None
    practitioner: str | None = None
    device_procedure: str | None = None
    ind_reference: str | None = None
    screening_done: bool | None = None
    contraindications: Sequence[str] = ()
    notes: str | None = None


@dataclass(frozen=True)
class Override:
    """A medical director's decision to go ahead despite critical findings.

    `username` is the director who signs; leave it empty when the signed-in user is the director. When a
    pharmacist is recording, the director types their own name and password at the same workstation.
    """

    reason: str
    password: str
    username: str | None = None


@dataclass(frozen=True)
class AdministrationResult:
    """The saved administration and every finding on it (its lot and product included), highest first."""

    administration_id: int
    findings: list[Flag] = field(default_factory=list)
    overridden: bool = False
    override_signature_id: int | None = None
    lot_quantity_on_hand: Decimal = Decimal(0)


# ---------------------------------------------------------------------------------------------- validation


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def _vocab_list(name: str, items: Iterable[str], vocab: tuple[str, ...], problems: list[FieldError]) -> str | None:
    """Vocabulary values `;`-joined in vocabulary order (how list cells are stored), or None when empty."""
    chosen = {item.strip() for item in items if item and item.strip()}
    unknown = sorted(chosen - set(vocab))
    if unknown:
        problems.append(FieldError(name, f"{', '.join(map(repr, unknown))} not in the list; use {', '.join(vocab)}"))
    ordered = [v for v in vocab if v in chosen]
    return ";".join(ordered) or None


def _validated_row(entry: AdministrationInput, now: datetime, ref_pattern: str | None) -> dict[str, Any]:
    """The administration's column values, or ValidationError naming every wrong field. `now` is the site's
    wall-clock time: administration times are the site's local times, whatever zone the machine runs in.
    `ref_pattern` is the registry's patient-reference pattern (None: the reference was recorded before and
    is kept as it is, since existing records are never rewritten to a newer pattern)."""
    problems: list[FieldError] = []
    if not isinstance(entry.administered_at, datetime):
        problems.append(FieldError("administered_at", "give the date and time of the administration"))
    elif entry.administered_at.replace(tzinfo=None) > now + FUTURE_TOLERANCE:
        problems.append(FieldError("administered_at", f"{entry.administered_at:%Y-%m-%d %H:%M} is in the future"))
    if entry.route not in values(Route):
        problems.append(FieldError("route", f"{entry.route!r} is not a route; use one of {', '.join(values(Route))}"))
    patient_ref = _clean(entry.patient_ref)
    ref_problem = patient_ref_problem(patient_ref, ref_pattern) if patient_ref and ref_pattern else None
    if ref_problem:
        problems.append(FieldError("patient_ref", ref_problem))
    for name in ("quantity", "volume_ml"):
        amount = getattr(entry, name)
        if amount is not None and not _positive_number(amount):
            problems.append(FieldError(name, f"{amount!r} is not a positive number"))
    body_areas = _vocab_list("body_areas", entry.body_areas, values(BodyArea), problems)
    contraindications = _vocab_list("contraindications", entry.contraindications, values(Contraindication), problems)
    screening_done = entry.screening_done
    if contraindications and screening_done is False:
        problems.append(FieldError("contraindications", "contraindications are recorded, so screening was done"))
    elif contraindications:
        screening_done = True
    if problems:
        raise ValidationError(problems)
    administered_at = entry.administered_at.replace(tzinfo=None, microsecond=0)
    return {
        "lot_id": entry.lot_id,
        "administered_at": administered_at,
        "patient_ref": patient_ref,
        "route": entry.route,
        "body_areas": body_areas,
        # Exact (rules.md): a float typed as 0.1 is the decimal 0.1, not the double nearest it.
        "quantity": to_decimal(entry.quantity),
        "volume_ml": to_decimal(entry.volume_ml),
        "practitioner": _clean(entry.practitioner),
        "device_procedure": _clean(entry.device_procedure),
        "ind_reference": _clean(entry.ind_reference),
        "screening_done": screening_done,
        "contraindications": contraindications,
        "notes": entry.notes.strip() if entry.notes and entry.notes.strip() else None,
    }


def _positive_number(amount: object) -> bool:
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        return False
    return to_decimal(amount).is_finite() and amount > 0


def _lot_for(
    session: Session, ctx: ServiceContext, lot_id: int, administered_at: datetime, *, for_update: bool = True
) -> Lot:
    query = select(Lot).where(Lot.id == lot_id)
    lot = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if lot is None or not site_scope.lot_visible(ctx, lot):
        raise ValidationError(f"no lot with id {lot_id}", field="lot_id")
    if administered_at.date() < lot.received_date:
        raise ValidationError(
            f"{administered_at:%Y-%m-%d} is before lot {lot.lot_number} was received ({lot.received_date})",
            field="administered_at",
        )
    return lot


def lock_current_administration(session: Session, administration_id: int, ctx: ServiceContext) -> Administration:
    row = session.execute(
        select(Administration).where(Administration.id == administration_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no administration with id {administration_id}")
    site_scope.check_lot_id(session, ctx, row.lot_id, f"no administration with id {administration_id}")
    if row.superseded:
        raise ConflictError(f"administration {administration_id} was amended; correct its newest version")
    if row.voided_at is not None:
        raise ConflictError(f"administration {administration_id} was voided on {row.voided_at:%Y-%m-%d}")
    return row


def _reason(reason: str | None, name: str = "reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError("give a reason: it is kept in the record's history", field=name)
    return text


# ------------------------------------------------------------------------------------------------- stock


def _adjust_stock(session: Session, lot_id: int, delta: Decimal) -> None:
    """Add to the lot's administered quantity in SQL (no lost update), then keep released/depleted in step
    with what is on hand."""
    if delta:
        audit_records.note_rows(session, table_of(Lot), [lot_id])
        session.execute(
            update(Lot)
            .where(Lot.id == lot_id)
            .values(quantity_administered=exact_sql(Lot.quantity_administered + delta))
            .execution_options(synchronize_session="fetch")
        )
    lot = session.get(Lot, lot_id)
    assert lot is not None
    session.refresh(lot)
    if lot.status == LotStatus.RELEASED and lot.quantity_on_hand <= 0:
        lot.status = LotStatus.DEPLETED.value
    elif lot.status == LotStatus.DEPLETED and lot.quantity_on_hand > 0:
        lot.status = LotStatus.RELEASED.value


# ------------------------------------------------------------------------------------------- guard rails


def findings_for(
    session: Session, ctx: ServiceContext, administration: Administration, lot: Lot, today: date | None = None
) -> list[Flag]:
    """Open (unwaived) compliance findings on the administration, its lot and its product, highest first."""
    from registry_app.rules import evaluate_flags

    juris, today = jurisdiction(session, ctx), today or site_today(ctx)
    found: list[Flag] = []
    for subject_type, subject_id in (
        ("administration", administration.id),
        ("lot", lot.id),
        ("product", lot.product_id),
    ):
        found += evaluate_flags(session, juris, today, subject_type=subject_type, subject_ids=[subject_id])
    relevant = [f for f in found if not f.waived and not RULES[f.code].is_alert]
    return sorted(relevant, key=lambda f: (-SEVERITY_RANK[f.severity], f.code))


# Lot states from which nothing may be given without a director's override (issue 20.5).
NOT_USABLE_STATUSES = frozenset({LotStatus.QUARANTINE.value, LotStatus.REJECTED.value})


def blocking_findings(findings: Sequence[Flag], lot_status: str) -> list[Flag]:
    """The findings that stop a save unless a medical director overrides: every critical one, and
    USE-NOT-RELEASED while the lot is still quarantined or rejected (a backdated use of a lot released since
    is only confirmed)."""
    return [
        f
        for f in findings
        if f.severity == "critical" or (f.code == "USE-NOT-RELEASED" and lot_status in NOT_USABLE_STATUSES)
    ]


def _override_signer(ctx: ServiceContext, override: Override) -> Actor:
    """Check the director's password before the transaction (a wrong one is recorded on its own)."""
    _reason(override.reason, "override_reason")
    actor = ctx.actor
    assert actor is not None
    username = (override.username or actor.username).strip()
    if username == actor.username:
        signer_ctx = ctx
    else:
        with ctx.db.read() as session:
            user_id = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
        # An unknown name fails like a wrong password, in reauthenticate.
        signer_ctx = ServiceContext(ctx.db, Actor(user_id or 0, username, ""), ctx.site_code)
    signer = reauthenticate(signer_ctx, override.password)
    if signer.role != Role.MEDICAL_DIRECTOR:
        raise PermissionDenied(
            f"{signer.username} ({signer.role.replace('_', ' ')}) may not override a guard rail; "
            "a medical director must sign the override"
        )
    return signer


def _apply_guard_rails(
    session: Session,
    ctx: ServiceContext,
    row: Administration,
    lot: Lot,
    confirm: bool,
    signer: Actor | None,
    override: Override | None,
) -> tuple[list[Flag], int | None]:
    findings = findings_for(session, ctx, row, lot)
    blocking = blocking_findings(findings, lot.status)
    high = [f for f in findings if f.severity == "high"]
    if blocking and (signer is None or override is None):
        raise GuardRailBlocked(findings, blocking)
    if high and not confirm and not blocking:
        raise ConfirmationRequired(findings)
    if not blocking:
        return findings, None
    assert signer is not None and override is not None
    signed = [{"code": f.code, "message": f.message} for f in blocking]
    signature = add_signature(
        session,
        signer,
        SignatureMeaning.OVERRIDDEN,
        "administration",
        row.id,
        {"administration": snapshot(row), "findings": signed, "reason": override.reason},
    )
    row.override_signature_id = signature.id
    row.override_reason = override.reason.strip()
    session.flush()
    return findings, signature.id


# ------------------------------------------------------------------------------------------------ services


@changing("record administrations", STAFF)
def record_administration(
    ctx: ServiceContext, entry: AdministrationInput, *, confirm: bool = False, override: Override | None = None
) -> AdministrationResult:
    """Record that a lot was given to a patient, behind the guard rails (module docstring).

    `confirm=True` accepts high findings. `override` (a medical director's reason and password) accepts
    critical findings, and the high ones shown with them. Stock on hand decreases by the quantity.
    """
    row_values = _validated_row(entry, site_clock(ctx).now(), get_patient_ref_pattern(ctx))
    signer = _override_signer(ctx, override) if override is not None else None
    actor = ctx.actor
    assert actor is not None
    with ctx.db.write() as session:
        lot = _lot_for(session, ctx, entry.lot_id, row_values["administered_at"])
        row = Administration(**row_values, recorded_by_id=actor.user_id, recorded_at=utcnow(), superseded=False)
        session.add(row)
        session.flush()
        findings, signature_id = _apply_guard_rails(session, ctx, row, lot, confirm, signer, override)
        _adjust_stock(session, lot.id, row.quantity or ZERO)
        after = snapshot(row)
        after["lot_quantity_administered"] = lot.quantity_administered
        if signature_id is not None:
            assert signer is not None
            after.update(
                signature_id=signature_id,
                signature_meaning=SignatureMeaning.OVERRIDDEN.value,
                overridden_by=signer.username,
                overridden_codes=[f.code for f in blocking_findings(findings, lot.status)],
            )
        ctx.audit(
            session,
            AuditRecord(
                "record administration", "administration", row.id, before={}, after=after, reason=row.override_reason
            ),
        )
        return AdministrationResult(row.id, findings, signature_id is not None, signature_id, lot.quantity_on_hand)


AMENDABLE = tuple(f.name for f in fields(AdministrationInput))


@changing("amend administrations", STAFF)
def amend_administration(
    ctx: ServiceContext, administration_id: int, changes: Mapping[str, Any], reason: str
) -> AdministrationResult:
    """Correct a recorded administration: a new row carries the corrected values and points at the old one,
    which stays in the history marked superseded. Guard rails do not block a correction (it records what
    did happen); the result lists the findings the corrected record now has."""
    reason = _reason(reason)
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise ValidationError([FieldError(name, "this field cannot be amended") for name in unknown])
    actor = ctx.actor
    assert actor is not None
    now = site_clock(ctx).now()  # read before the write transaction opens
    with ctx.db.write() as session:
        old = lock_current_administration(session, administration_id, ctx)
        current = AdministrationInput(
            lot_id=old.lot_id,
            administered_at=old.administered_at,
            route=old.route,
            patient_ref=old.patient_ref,
            body_areas=tuple((old.body_areas or "").split(";")),
            quantity=old.quantity,
            volume_ml=old.volume_ml,
            practitioner=old.practitioner,
            device_procedure=old.device_procedure,
            ind_reference=old.ind_reference,
            screening_done=old.screening_done,
            contraindications=tuple((old.contraindications or "").split(";")),
            notes=old.notes,
        )
        new_ref = "patient_ref" in changes and _clean(changes["patient_ref"]) != old.patient_ref
        corrected = _validated_row(
            replace(current, **dict(changes)), now, patient_ref_pattern(session) if new_ref else None
        )
        if all(corrected[k] == getattr(old, k) for k in corrected):
            raise ValidationError("the amendment changes nothing", field="changes")
        lot = _lot_for(session, ctx, corrected["lot_id"], corrected["administered_at"])
        new = Administration(
            **corrected,
            override_signature_id=old.override_signature_id,
            override_reason=old.override_reason,
            patient_notified_on=old.patient_notified_on,
            notified_how=old.notified_how,
            amends_id=old.id,
            amendment_reason=reason,
            superseded=False,
            recorded_by_id=actor.user_id,
            recorded_at=utcnow(),
            import_batch=old.import_batch,
        )
        old.superseded = True
        session.add(new)
        session.flush()
        if old.lot_id != new.lot_id:
            _adjust_stock(session, old.lot_id, -(old.quantity or ZERO))
            _adjust_stock(session, new.lot_id, new.quantity or ZERO)
        else:
            _adjust_stock(session, new.lot_id, (new.quantity or ZERO) - (old.quantity or ZERO))
        before = {k: getattr(old, k) for k in corrected if corrected[k] != getattr(old, k)}
        after = {k: corrected[k] for k in before}
        before.update(id=old.id)
        after.update(id=new.id, amends_id=old.id)
        ctx.audit(
            session,
            AuditRecord("amend administration", "administration", new.id, before=before, after=after, reason=reason),
        )
        findings = findings_for(session, ctx, new, lot)
        return AdministrationResult(new.id, findings, False, None, lot.quantity_on_hand)


@changing("void administrations", STAFF)
def void_administration(ctx: ServiceContext, administration_id: int, reason: str) -> None:
    """Mark an administration recorded in error as void: it stays in the history, leaves stock and rules."""
    reason = _reason(reason)
    with ctx.db.write() as session:
        row = lock_current_administration(session, administration_id, ctx)
        row.voided_at, row.void_reason = utcnow(), reason
        session.flush()
        _adjust_stock(session, row.lot_id, -(row.quantity or ZERO))
        ctx.audit(
            session,
            AuditRecord(
                "void administration",
                "administration",
                row.id,
                before={"voided_at": None, "void_reason": None},
                after={"voided_at": row.voided_at, "void_reason": reason},
                reason=reason,
            ),
        )


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AdministrationView:
    """One version of an administration as the history and the lookback show it."""

    id: int
    lot_id: int
    product_name: str
    lot_number: str
    administered_at: datetime
    patient_ref: str | None
    route: str
    body_areas: str | None
    quantity: Decimal | None
    volume_ml: Decimal | None
    practitioner: str | None
    device_procedure: str | None
    ind_reference: str | None
    screening_done: bool | None
    contraindications: str | None
    notes: str | None
    override_reason: str | None
    patient_notified_on: date | None
    notified_how: str | None
    amends_id: int | None
    amendment_reason: str | None
    superseded: bool
    voided_at: datetime | None
    void_reason: str | None
    recorded_at: datetime
    time_recorded: bool  # False: only the date was recorded (administered_at holds midnight, not a time)
    lot_status: str  # as stored (the patient lookup shows which lots were recalled)
    lot_recall_date: date | None

    @property
    def is_current(self) -> bool:
        return not self.superseded and self.voided_at is None

    def when(self, sep: str = "T") -> str:
        """When it was given, as recorded: the date alone when no time was recorded (never a made-up 00:00)."""
        if not self.time_recorded:
            return self.administered_at.date().isoformat()
        return self.administered_at.isoformat(sep=sep, timespec="minutes")


_JOINED = ("product_name", "lot_number", "lot_status", "lot_recall_date")
VIEW_COLUMNS = tuple(f.name for f in fields(AdministrationView) if f.name not in _JOINED)


def view_query() -> Any:
    """SELECT of AdministrationView's columns, joined to the lot and product."""
    columns = [getattr(Administration, name) for name in VIEW_COLUMNS]
    return (
        select(
            *columns,
            Product.name.label("product_name"),
            Lot.lot_number,
            Lot.status.label("lot_status"),
            Lot.recall_date.label("lot_recall_date"),
        )
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
    )


def to_view(row: Any) -> AdministrationView:
    return AdministrationView(**dict(row._mapping))


def current_only(query: Any) -> Any:
    return query.where(Administration.superseded.is_(False), Administration.voided_at.is_(None))


def version_ids(session: Session, administration_id: int) -> list[int]:
    """Ids of every version of an administration (the original and each amendment), oldest first."""
    first = administration_id
    while (
        parent := session.execute(
            select(Administration.amends_id).where(Administration.id == first)
        ).scalar_one_or_none()
    ) is not None:
        first = parent
    ids, frontier = [first], [first]
    while frontier:
        frontier = list(
            session.execute(select(Administration.id).where(Administration.amends_id.in_(frontier))).scalars()
        )
        ids += frontier
    return sorted(ids)


def administration_history(ctx: ServiceContext, administration_id: int) -> list[AdministrationView]:
    """Every version of an administration, the original first and the current (or voided) one last."""
    ctx.require(READERS, "read administrations")
    with ctx.db.read() as session:
        site_scope.visible_administration(session, ctx, administration_id)
        ids = version_ids(session, administration_id)
        rows = session.execute(view_query().where(Administration.id.in_(ids)).order_by(Administration.id)).all()
        return [to_view(r) for r in rows]


def get_administration(ctx: ServiceContext, administration_id: int) -> AdministrationView:
    ctx.require(READERS, "read administrations")
    with ctx.db.read() as session:
        row = session.execute(
            view_query().where(Administration.id == administration_id, *site_scope.lot_conditions(ctx))
        ).one_or_none()
        if row is None:
            raise NotFound(f"no administration with id {administration_id}")
        return to_view(row)
