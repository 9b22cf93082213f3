"""A recall across the group (issue 23): the same manufacturer's lot recalled at every site that received it, and
each site's list of the patients still to notify.

Two clinics register the same manufacturer's lot under products of their own names; the GTIN on the box and the
lot number are what they share. A recall is about that physical lot, so it is recalled wherever it is: the lots
of the other sites are recalled in the transaction of the recall itself (recalls.recall_lot), never left "to
recall" by someone who may not read the notice in time. Telling the patients stays each site's work: a site's
director sees and marks their own site's recipients only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import Administration, Lot, Product, Setting, Site
from registry_app.domain.vocab import LotStatus, SignatureMeaning
from registry_app.services import site_scope
from registry_app.services.administrations import AdministrationView, current_only, view_query
from registry_app.services.audit import AuditRecord
from registry_app.services.auth import add_signature
from registry_app.services.context import STAFF, Actor, ServiceContext

# services/sites.py keeps each site's time zone in the settings table under this key.
_TIME_ZONE_KEY = "site_time_zone:{code}"


def _zone(session: Session, site_id: int | None) -> str | None:
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None:
        return None
    setting = session.get(Setting, _TIME_ZONE_KEY.format(code=site.code))
    return setting.value if setting is not None else None


def moment_at(session: Session, from_site: int | None, to_site: int | None, moment: datetime) -> datetime:
    """The recall moment `moment` (wall-clock at `from_site`) on `to_site`'s clock: the same instant. Unchanged
    when either site has no time zone set (the group then works on one clock)."""
    source, target = _zone(session, from_site), _zone(session, to_site)
    if not source or not target or source == target:
        return moment
    return moment.replace(tzinfo=ZoneInfo(source)).astimezone(ZoneInfo(target)).replace(tzinfo=None)


def same_lot_elsewhere(session: Session, lot: Lot, *, lock: bool = False) -> list[Lot]:
    """The other lots with this lot's number and its product's GTIN, at any site (`lock`: locked for a change).
    None without a GTIN: the lot number is unique per product, so there is no other."""
    gtin = lot.product.gtin
    if not gtin:
        return []
    query = (
        select(Lot)
        .join(Product, Product.id == Lot.product_id)
        .where(Lot.lot_number == lot.lot_number, Product.gtin == gtin, Lot.id != lot.id)
        .order_by(Lot.id)
    )
    return list(session.execute(query.with_for_update(of=Lot) if lock else query).scalars())


def mark_recalled(
    ctx: ServiceContext,
    session: Session,
    signer: Actor,
    lot: Lot,
    recall_date: date,
    recall_at: datetime | None,
    reason: str,
    carried_by: int | None = None,
) -> tuple[int, int]:
    """Recall one lot in the caller's transaction: signed (meaning `recalled`), its status and moment set, one
    audit entry; `carried_by` names the lot whose recall carried this one to another site. Returns the signature's
    id and the number of current administrations to notify."""
    before = {
        "status": lot.status,
        "recall_date": lot.recall_date,
        "recall_at": lot.recall_at,
        "recall_reason": lot.recall_reason,
    }
    carried = {} if carried_by is None else {"recalled_with_lot": carried_by}
    signed: dict[str, Any] = {
        "lot_id": lot.id,
        "lot_number": lot.lot_number,
        "recall_date": recall_date,
        "reason": reason,
        **carried,
    }
    if recall_at is not None:
        signed["recall_at"] = recall_at
    signature = add_signature(session, signer, SignatureMeaning.RECALLED, "lot", lot.id, signed)
    lot.status, lot.recall_date, lot.recall_reason = LotStatus.RECALLED.value, recall_date, reason
    lot.recall_at = recall_at
    recipients = len(
        session.execute(current_only(select(Administration.id).where(Administration.lot_id == lot.id))).all()
    )
    after = {
        "status": lot.status,
        "recall_date": recall_date,
        "recall_at": recall_at,
        "recall_reason": reason,
        "signature_id": signature.id,
        "signature_meaning": SignatureMeaning.RECALLED.value,
        "recipients": recipients,
        **carried,
    }
    ctx.audit(session, AuditRecord("recall lot", "lot", lot.id, before=before, after=after, reason=reason))
    return signature.id, recipients


def recall_same_lots(
    session: Session,
    ctx: ServiceContext,
    signer: Actor,
    lot: Lot,
    recall_date: date,
    recall_at: datetime | None,
) -> tuple[str, ...]:
    """Recall the same lot at the group's other sites, in the caller's transaction (the recall of `lot`), from the
    same moment (a date alone: from the start of that day at each site). One signature and one audit entry per
    lot, naming the lot whose recall carried it. Returns the codes of the sites whose lot was recalled."""
    codes: list[str] = []
    for other in same_lot_elsewhere(session, lot, lock=True):
        if other.status == LotStatus.RECALLED:
            continue  # recalled before (its own notice, its own moment): kept as it was
        other_at = None if recall_at is None else moment_at(session, lot.site_id, other.site_id, recall_at)
        other_date = recall_date if other_at is None else other_at.date()
        mark_recalled(ctx, session, signer, other, other_date, other_at, lot.recall_reason or "", carried_by=lot.id)
        site = session.get(Site, other.site_id) if other.site_id is not None else None
        codes.append(site.code if site is not None else "-")
    return tuple(sorted(set(codes)))


@dataclass(frozen=True)
class NotificationToMake:
    """A patient still to tell of a recall: the administration, its lot's site and when the recall starts."""

    site_code: str
    recall_date: date | None
    recall_at: datetime | None
    administration: AdministrationView

    @property
    def recalled_from(self) -> str:
        moment = self.recall_at or self.recall_date
        if isinstance(moment, datetime):
            return moment.isoformat(sep=" ", timespec="minutes")
        return "" if moment is None else moment.isoformat()

    def as_json(self) -> dict[str, object]:
        a = self.administration
        return {
            "site": self.site_code,
            "product_name": a.product_name,
            "lot_number": a.lot_number,
            "recalled_from": self.recalled_from,
            "administration_id": a.id,
            "administered_at": a.when(),
            "patient_ref": a.patient_ref,
            "practitioner": a.practitioner,
        }


def notifications_to_make(ctx: ServiceContext, lot_id: int | None = None) -> list[NotificationToMake]:
    """The recipients of recalled lots not marked notified yet, by site, lot and time given: a user of one site
    sees their site's, a group role every site's. `lot_id`: one lot's (and the same lot at the other sites the
    user may see). Staff only: it is the list of patients to call, by their references."""
    ctx.require(STAFF, "see the patients to notify of a recall")
    with ctx.db.read() as session:
        query = current_only(
            view_query()
            .add_columns(Site.code.label("site_code"), Lot.recall_at.label("lot_recall_at"))
            .outerjoin(Site, Site.id == Lot.site_id)
            .where(
                Lot.status == LotStatus.RECALLED.value,
                Administration.patient_notified_on.is_(None),
                *site_scope.lot_conditions(ctx),
            )
        )
        if lot_id is not None:
            lot = site_scope.visible_lot(session, ctx, lot_id)
            same = [lot.id, *(other.id for other in same_lot_elsewhere(session, lot))]
            query = query.where(Lot.id.in_(same))
        rows = session.execute(
            query.order_by(Site.code, Product.name, Lot.lot_number, Administration.administered_at, Administration.id)
        ).all()
    found = []
    for row in rows:
        values = dict(row._mapping)
        site_code, recall_at = values.pop("site_code"), values.pop("lot_recall_at")
        view = AdministrationView(**values)
        found.append(NotificationToMake(site_code or "-", view.lot_recall_date, recall_at, view))
    return found
