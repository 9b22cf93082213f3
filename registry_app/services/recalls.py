"""Recalls and bidirectional tracing: from a lot to every patient who received it, and from a patient to
every lot they received (The Joint Commission's tissue traceability), with recipient notification.

Both lookbacks read only current administrations (neither amended-away nor voided) through the indexes
on administration(lot_id, administered_at) and administration(patient_ref).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import Administration, Lot, Product, Site, name_key
from registry_app.domain.vocab import EXPIRED, LotStatus
from registry_app.services import group_recall, site_scope
from registry_app.services.administrations import (
    AdministrationView,
    current_only,
    lock_current_administration,
    to_view,
    view_query,
)
from registry_app.services.audit import AuditRecord
from registry_app.services.auth import reauthenticate
from registry_app.services.clock import site_today
from registry_app.services.context import DIRECTOR, READERS, STAFF, ServiceContext, changing, current_site
from registry_app.services.errors import ConflictError, FieldError, NotFound, RegistryError, ValidationError
from registry_app.services.privacy import (
    PSEUDONYM_PATTERN,
    for_inspector,
    make_pseudonymizer,
    registry_key,
    sees_pseudonyms,
)


class AmbiguousLot(RegistryError):
    """A lot number that several products use: `product_names` lists them so the user can choose one."""

    def __init__(self, lot_number: str, product_names: list[str]) -> None:
        self.lot_number, self.product_names = lot_number, product_names
        super().__init__(
            f"lot {lot_number} exists for {len(product_names)} products; name the product "
            f"(--product): {', '.join(product_names)}"
        )


@dataclass(frozen=True)
class LotRef:
    lot_id: int
    lot_number: str
    product_id: int
    product_name: str
    status: str
    recall_date: date | None


def display_status(status: str, expiry_date: date | None, today: date | None = None) -> str:
    """The stored status, or `expired` (derived, never stored) for a usable lot past its expiry date."""
    today = today or date.today()
    if status in (LotStatus.RELEASED, LotStatus.QUARANTINE) and expiry_date is not None and expiry_date < today:
        return EXPIRED
    return status


def _lot_ref(session: Session, ctx: ServiceContext, lot_number: str, product_name: str | None) -> LotRef:
    number = lot_number.strip()
    if not number:
        raise ValidationError("give a lot number", field="lot_number")
    query = (
        select(
            Lot.id,
            Lot.lot_number,
            Lot.product_id,
            Product.name,
            Lot.status,
            Lot.recall_date,
            Lot.expiry_date,
            Lot.site_id,
        )
        .join(Product, Product.id == Lot.product_id)
        .where(Lot.lot_number == number, *site_scope.lot_conditions(ctx))
    )
    if product_name is not None and product_name.strip():
        query = query.where(Product.name_key == name_key(product_name))
    rows = session.execute(query.order_by(Product.name)).all()
    if not rows:
        where = f" of product {product_name.strip()!r}" if product_name and product_name.strip() else ""
        raise NotFound(f"no lot {number}{where}")
    if len(rows) > 1:
        # A group role sees every site's lots: the number at the site the command acts at is the one meant.
        acting = current_site(session, ctx.site_code).id
        rows = [r for r in rows if r.site_id == acting] or rows
    if len(rows) > 1:
        raise AmbiguousLot(number, [r.name for r in rows])
    r = rows[0]
    shown = display_status(r.status, r.expiry_date, site_today(ctx))
    return LotRef(r.id, r.lot_number, r.product_id, r.name, shown, r.recall_date)


def find_lot(ctx: ServiceContext, lot_number: str, product_name: str | None = None) -> LotRef:
    """The lot with this number (of this product, when several products use the number)."""
    ctx.require(READERS, "look up lots")
    with ctx.db.read() as session:
        return _lot_ref(session, ctx, lot_number, product_name)


# ------------------------------------------------------------------------------------------------- recall


@dataclass(frozen=True)
class RecallResult:
    lot_id: int
    recall_date: date
    signature_id: int
    recipients: int  # current administrations to notify
    recall_at: datetime | None = None  # the moment, when a time was given
    # The other sites whose lot of the same GTIN and lot number was recalled with this one, by site code.
    also_recalled: tuple[str, ...] = ()

    @property
    def recalled_from(self) -> str:
        return recall_moment_text(self.recall_date, self.recall_at) or self.recall_date.isoformat()


def recall_moment_text(recall_date: date | None, recall_at: datetime | None) -> str | None:
    """`2026-03-10 14:30` for a recall from a moment, `2026-03-10` for one from the start of a day."""
    if recall_at is not None:
        return recall_at.isoformat(sep=" ", timespec="minutes")
    return None if recall_date is None else recall_date.isoformat()


def _recall_moment(recall_from: date | datetime | None, today: date) -> tuple[date, datetime | None]:
    """(recall_date, recall_at) of what was given: a date alone starts at the beginning of that local day
    (rules.md, USE-RECALLED) and keeps no time; a date-time is a moment on the clinic's clock."""
    if recall_from is None:
        return today, None
    if isinstance(recall_from, datetime):
        moment = recall_from.replace(tzinfo=None, microsecond=0)  # local wall-clock, as administered_at
        if moment > datetime.now() + timedelta(minutes=15):
            raise ValidationError(
                f"{moment:%Y-%m-%d %H:%M} is in the future: a recall starts when it is made or earlier",
                field="recall_date",
            )
        return moment.date(), moment
    if isinstance(recall_from, date):
        return recall_from, None
    raise ValidationError("give the recall date as a date or a date and time", field="recall_date")


@changing("recall lots", DIRECTOR)
def recall_lot(
    ctx: ServiceContext, lot_id: int, reason: str, password: str, recall_date: date | datetime | None = None
) -> RecallResult:
    """Mark a lot recalled from `recall_date` (default today), signed with the meaning `recalled`. A date
    recalls from the start of that day; a date-time from that moment (an administration earlier that day
    was made before the recall).

    From then on the lot cannot be given (USE-RECALLED blocks it) and every patient who received it is
    listed for notification until marked notified (RECALL-LOOKBACK-OPEN).

    A recall is the manufacturer's, about the physical lot: the lots with the same lot number and product GTIN at
    the group's other sites are recalled in the same transaction, from the same moment, each with its own
    signature and audit entry (`recalled_with_lot`), whoever recalls (a site's director too: blocking a recalled
    lot elsewhere is the safe side, and their result names the sites, never the other sites' records). Each
    site's director then sees their own recipients to notify (notifications_to_make)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("give the reason for the recall", field="reason")
    recall_date, recall_at = _recall_moment(recall_date, site_today(ctx))
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        lot = session.execute(select(Lot).where(Lot.id == lot_id).with_for_update()).scalar_one_or_none()
        if lot is None or not site_scope.lot_visible(ctx, lot):
            raise NotFound(f"no lot with id {lot_id}")
        if lot.status == LotStatus.RECALLED:
            raise ConflictError(f"lot {lot.lot_number} was recalled already on {lot.recall_date}")
        signature_id, recipients = group_recall.mark_recalled(ctx, session, signer, lot, recall_date, recall_at, reason)
        elsewhere = group_recall.recall_same_lots(session, ctx, signer, lot, recall_date, recall_at)
        return RecallResult(lot.id, recall_date, signature_id, recipients, recall_at, elsewhere)


# ------------------------------------------------------------------------------------------------- lookback


@dataclass(frozen=True)
class Trace:
    """A lot and every current administration of it, oldest first."""

    lot_id: int
    product_name: str
    lot_number: str
    status: str
    recall_date: date | None
    administrations: list[AdministrationView] = field(default_factory=list)
    recall_at: datetime | None = None  # the moment the recall starts, when a time was given

    @property
    def recalled_from(self) -> str | None:
        return recall_moment_text(self.recall_date, self.recall_at)

    @property
    def not_notified(self) -> list[AdministrationView]:
        return [a for a in self.administrations if a.patient_notified_on is None]

    def as_json(self) -> dict[str, Any]:
        """`trace --format json` (shared/cli.md)."""
        return {
            "product_name": self.product_name,
            "lot_number": self.lot_number,
            "status": self.status,
            "administrations": [
                {
                    "administered_at": a.when(),
                    "patient_ref": a.patient_ref,
                    "route": a.route,
                    "body_area": a.body_areas,
                    "practitioner": a.practitioner,
                    # A JSON number as before (a recorded decimal's float prints as that decimal).
                    "quantity": None if a.quantity is None else float(a.quantity),
                }
                for a in self.administrations
            ],
        }


def trace_query(lot_id: int) -> Any:
    """The lookback query: served by the index on administration(lot_id, administered_at)."""
    return current_only(view_query().where(Administration.lot_id == lot_id)).order_by(
        Administration.administered_at, Administration.id
    )


def patient_query(patient_ref: str) -> Any:
    """The reverse lookup: served by the index on administration(patient_ref)."""
    return current_only(view_query().where(Administration.patient_ref == patient_ref)).order_by(
        Administration.administered_at, Administration.id
    )


def _as_seen_by(ctx: ServiceContext, rows: list[AdministrationView]) -> list[AdministrationView]:
    """An inspector sees each patient as the same pseudonym the outputs use, and no free text."""
    if not sees_pseudonyms(ctx) or not rows:
        return rows
    pseudonym = make_pseudonymizer(registry_key(ctx))
    return [for_inspector(row, pseudonym) for row in rows]


def trace_lot(ctx: ServiceContext, lot_id: int) -> Trace:
    """Every current administration of the lot (patients, dates, routes, practitioners), for notification.
    An inspector sees pseudonyms instead of the patients' references."""
    ctx.require(READERS, "trace lots")
    with ctx.db.read() as session:
        lot = session.execute(
            select(Lot.lot_number, Lot.status, Lot.expiry_date, Lot.recall_date, Lot.recall_at, Product.name)
            .join(Product, Product.id == Lot.product_id)
            .where(Lot.id == lot_id, *site_scope.lot_conditions(ctx))
        ).one_or_none()
        if lot is None:
            raise NotFound(f"no lot with id {lot_id}")
        rows = [to_view(r) for r in session.execute(trace_query(lot_id)).all()]
        trace = Trace(
            lot_id,
            lot.name,
            lot.lot_number,
            display_status(lot.status, lot.expiry_date, site_today(ctx)),
            lot.recall_date,
            rows,
            lot.recall_at,
        )
    return replace(trace, administrations=_as_seen_by(ctx, trace.administrations))


@dataclass(frozen=True)
class SiteTrace:
    """One site's part of a group lookback: the site and the trace of its lot."""

    site_code: str
    site_name: str
    trace: Trace

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site_code, "site_name": self.site_name, **self.trace.as_json()}


def group_lookback(ctx: ServiceContext, lot_id: int) -> list[SiteTrace]:
    """The recall lookback across the group (issue 23): every lot with this lot's number and its product's GTIN
    (this very product when it has none), at whichever site received it, each with its recipients. Two clinics
    may register the same manufacturer's lot under products of their own names; the GTIN on the box is what
    they share. A group role sees every site's lots; a user of one site, their own site's only."""
    ctx.require(READERS, "trace lots")
    with ctx.db.read() as session:
        lot = site_scope.visible_lot(session, ctx, lot_id)
        gtin = lot.product.gtin
        same_product = Product.gtin == gtin if gtin else Product.id == lot.product_id
        found = session.execute(
            select(Lot.id, Site.code, Site.name)
            .join(Product, Product.id == Lot.product_id)
            .outerjoin(Site, Site.id == Lot.site_id)
            .where(Lot.lot_number == lot.lot_number, same_product, *site_scope.lot_conditions(ctx))
            .order_by(Site.code, Lot.id)
        ).all()
    return [SiteTrace(code or "-", name or "", trace_lot(ctx, found_id)) for found_id, code, name in found]


def lots_for_patient(ctx: ServiceContext, patient_ref: str) -> list[AdministrationView]:
    """Every current administration a patient received (each names its product and lot), oldest first."""
    ctx.require(READERS, "trace patients")
    ref = (patient_ref or "").strip()
    if not ref:
        raise ValidationError("give a patient reference", field="patient_ref")
    if sees_pseudonyms(ctx):
        return _lots_for_pseudonym(ctx, ref)
    with ctx.db.read() as session:
        found = [to_view(r) for r in session.execute(patient_query(ref).where(*site_scope.lot_conditions(ctx))).all()]
    return _as_seen_by(ctx, found)


def _lots_for_pseudonym(ctx: ServiceContext, shown: str) -> list[AdministrationView]:
    """An inspector looks a patient up by the pseudonym their outputs show, never by the reference: a lookup by
    reference would confirm a guessed name or birth date. The pseudonym is matched by recomputing it over the
    registry's distinct references (one pass; an HMAC cannot be searched backwards)."""
    if not PSEUDONYM_PATTERN.fullmatch(shown):
        raise ValidationError(
            "an inspector looks patients up by the pseudonym shown in the trace and the exports (P- and 10 "
            "letters or digits), not by the clinic's reference",
            field="patient_ref",
        )
    pseudonym = make_pseudonymizer(registry_key(ctx))
    with ctx.db.read() as session:
        refs = session.execute(select(Administration.patient_ref).distinct()).scalars()
        wanted = "P-" + shown[2:].lower()
        matching = next((ref for ref in refs if ref and pseudonym(ref) == wanted), None)
        found = []
        if matching is not None:
            query = patient_query(matching).where(*site_scope.lot_conditions(ctx))
            found = [to_view(r) for r in session.execute(query).all()]
    return _as_seen_by(ctx, found)


@changing("mark patients notified", STAFF)
def mark_patient_notified(ctx: ServiceContext, administration_id: int, notified_on: date, how: str) -> None:
    """Record that the patient of this administration was told (of a recall): when and how."""
    how = " ".join((how or "").split())
    problems: list[FieldError] = []
    if not how:
        problems.append(FieldError("how", "say how the patient was notified (phone, letter, visit ...)"))
    if not isinstance(notified_on, date) or isinstance(notified_on, datetime):
        problems.append(FieldError("notified_on", "give the date the patient was notified"))
    elif notified_on > site_today(ctx):
        problems.append(FieldError("notified_on", f"{notified_on} is in the future"))
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        row = lock_current_administration(session, administration_id, ctx)
        if notified_on < row.administered_at.date():
            raise ValidationError(
                f"{notified_on} is before the administration ({row.administered_at:%Y-%m-%d})", field="notified_on"
            )
        before = {"patient_notified_on": row.patient_notified_on, "notified_how": row.notified_how}
        row.patient_notified_on, row.notified_how = notified_on, how[:200]
        ctx.audit(
            session,
            AuditRecord(
                "mark patient notified",
                "administration",
                row.id,
                before=before,
                after={
                    "patient_notified_on": notified_on,
                    "notified_how": row.notified_how,
                    "patient_ref": row.patient_ref,
                },
            ),
        )
