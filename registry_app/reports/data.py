"""The queries behind the compliance report and the exports: plain rows, never live ORM objects.

Everything here reads inside the caller's session. Patient references go through the `Pseudonym` callable the
caller hands in (a keyed hash by default; the identity only when a medical director asked for real ones), so
no function here can leak a patient reference by forgetting to pseudonymize it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, and_, case, distinct, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..domain import (
    Administration,
    AdverseEvent,
    AuditEntry,
    Document,
    Lot,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    ProductRoute,
    Supplier,
    TemperatureExcursion,
    Waiver,
)
from ..domain.vocab import EXPIRED, SEVERITY_RANK, DocumentKind, LotStatus, is_human_derived
from .exports import Column, Table

Pseudonym = Callable[[str | None], str | None]

WITHHELD = "[free text withheld]"
# Keys whose values people type freely, so may name or describe a patient: left out of an inspector's output
# unless a medical director includes them (services/privacy.py).
FREE_TEXT_KEYS = frozenset(
    {"notes", "description", "amendment_reason", "void_reason", "override_reason", "not_reportable_reason"}
)
# Audit entries about these carry free-text reasons (amending, voiding) in their `reason` column.
FREE_TEXT_REASON_ENTITIES = frozenset({"administration", "adverse_event"})


def _withheld(value: Any) -> Any:
    return WITHHELD if isinstance(value, str) and value else value


EXPORT_KINDS: tuple[str, ...] = ("lots", "products", "administrations", "flags", "audit")


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates; None on either side means unbounded (a full export)."""

    start: date | None = None
    end: date | None = None
    # The one site whose records are in scope (a user of that site); None: every site of the registry.
    site_id: int | None = None

    @property
    def start_at(self) -> datetime | None:
        return datetime.combine(self.start, time.min) if self.start else None

    @property
    def end_before(self) -> datetime | None:
        # The last day of the calendar has no day after it: such a period is open-ended.
        return datetime.combine(self.end + timedelta(days=1), time.min) if self.end and self.end < date.max else None

    def includes(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        if self.start is None and self.end is None:
            return "all records"
        return f"{self.start.isoformat() if self.start else 'the beginning'} to {self.end or 'today'}"

    def as_json(self) -> dict[str, str | None]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }


@dataclass(frozen=True)
class FlagRow:
    """A flag as reports show it: the rule's finding plus its waiver, if any (who, when, why)."""

    code: str
    severity: str
    title: str
    subject_type: str
    subject_id: int
    product_name: str | None
    lot_number: str | None
    message: str
    waived: bool = False
    waived_by: str | None = None
    waived_at: datetime | None = None
    waiver_reason: str | None = None
    lot_id: int | None = None
    product_id: int | None = None
    since: str | None = None  # "open since 12 March 2026" (from the persisted flags; None when not kept)

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, -1)


@dataclass(frozen=True)
class ClosedFlagRow:
    """A flag that stopped holding in the period: what it said and its life ("raised ..., closed ... by ...")."""

    code: str
    severity: str
    subject_type: str
    subject_id: int
    lot_number: str | None
    message: str
    life: str


def _between(column: Any, period: Period) -> list[Any]:
    """Conditions for a DATETIME column falling inside the period's local dates."""
    conditions = []
    if period.start_at is not None:
        conditions.append(column >= period.start_at)
    if period.end_before is not None:
        conditions.append(column < period.end_before)
    return conditions


def _date_between(column: Any, period: Period) -> list[Any]:
    conditions = []
    if period.start is not None:
        conditions.append(column >= period.start)
    if period.end is not None:
        conditions.append(column <= period.end)
    return conditions


CURRENT_ADMINISTRATION = and_(Administration.superseded.is_(False), Administration.voided_at.is_(None))


def _at_site(period: Period) -> list[Any]:
    """The condition on Lot (joined) for the period's site."""
    return [] if period.site_id is None else [Lot.site_id == period.site_id]


def _used_at_site(period: Period) -> list[Any]:
    """The condition on Administration (its lot not joined) for the period's site."""
    if period.site_id is None:
        return []
    return [Administration.lot_id.in_(select(Lot.id).where(Lot.site_id == period.site_id).correlate(None))]


def lots_in_scope(period: Period) -> Select[int]:
    """Lots received in the period, or used in it (an inspector follows both), at the period's site."""
    if period.start is None and period.end is None:
        return select(Lot.id).where(*_at_site(period))
    used = select(Administration.lot_id).where(
        CURRENT_ADMINISTRATION, *_between(Administration.administered_at, period)
    )
    return select(Lot.id).where(
        or_(and_(*_date_between(Lot.received_date, period)), Lot.id.in_(used)), *_at_site(period)
    )


def display_status(status: str, expiry: date | None, today: date) -> str:
    if status in (LotStatus.QUARANTINE, LotStatus.RELEASED) and expiry is not None and expiry < today:
        return EXPIRED
    return status


# ---- lots ------------------------------------------------------------------------------------------------

LOT_COLUMNS = (
    Column("lot_id", "number", 8),
    Column("lot_number", "text", 16),
    Column("product", "text", 26),
    Column("product_type", "text", 14),
    Column("manufacturer", "text", 22),
    Column("supplier", "text", 22),
    Column("source", "text", 18),
    Column("status", "text", 12),
    Column("received_date", "date", 12),
    Column("expiry_date", "date", 12),
    Column("manufacture_date", "date", 12),
    Column("quantity_received", "number", 10),
    Column("quantity_administered", "number", 10),
    Column("quantity_destroyed", "number", 10),
    Column("quantity_on_hand", "number", 10),
    Column("receipt_temperature_c", "number", 10),
    Column("package_intact", "bool", 9),
    Column("donor_eligibility_ref", "text", 18),
    Column("coa_present", "bool", 9),
    Column("coa_ref", "text", 18),
    Column("regulatory_status", "text", 18),
    Column("regulatory_reference", "text", 18),
    Column("recall_date", "date", 12),
    Column("recall_reason", "text", 24),
    Column("completeness_pct", "number", 10),
)


@dataclass(frozen=True)
class ReportLotRow:
    lot_id: int
    lot_number: str
    product: str
    product_type: str
    manufacturer: str | None
    supplier: str | None
    source: str | None
    status: str
    received_date: date
    expiry_date: date | None
    manufacture_date: date | None
    quantity_received: float
    quantity_administered: float
    quantity_destroyed: float
    quantity_on_hand: float
    receipt_temperature_c: float | None
    package_intact: bool | None
    donor_eligibility_ref: str | None
    coa_present: bool
    coa_ref: str | None
    regulatory_status: str | None
    regulatory_reference: str | None
    recall_date: date | None
    recall_reason: str | None
    completeness_pct: float | None


def lot_rows(
    session: Session,
    jurisdiction: str,
    period: Period,
    today: date,
    completeness: Mapping[int, float | None],
    received_only: bool = False,
) -> list[ReportLotRow]:
    """Lots in scope with origin, legal status and documents. `received_only`: received in the period."""
    status = aliased(ProductRegulatoryStatus)
    has_coa = exists().where(Document.lot_id == Lot.id, Document.kind == DocumentKind.COA.value)
    query = (
        select(
            Lot.id,
            Lot.lot_number,
            Product.name,
            Product.product_type,
            Manufacturer.name,
            Supplier.name,
            Product.source,
            Product.pn_species,
            Lot.status,
            Lot.received_date,
            Lot.expiry_date,
            Lot.manufacture_date,
            Lot.quantity_received,
            Lot.quantity_administered,
            Lot.quantity_destroyed,
            Lot.receipt_temperature_c,
            Lot.package_intact,
            Lot.donor_eligibility_ref,
            has_coa,
            Lot.coa_ref,
            status.status,
            status.reference,
            Lot.recall_date,
            Lot.recall_reason,
        )
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
        .outerjoin(status, and_(status.product_id == Product.id, status.jurisdiction == jurisdiction))
        .order_by(Lot.received_date, Product.name, Lot.lot_number)
    )
    if received_only:
        query = query.where(*_date_between(Lot.received_date, period))
    else:
        query = query.where(Lot.id.in_(lots_in_scope(period)))
    rows = []
    for r in session.execute(query):
        on_hand = r.quantity_received - r.quantity_administered - r.quantity_destroyed
        rows.append(
            ReportLotRow(
                r.id,
                r.lot_number,
                r[2],
                r.product_type,
                r[4],
                r[5],
                r.source or r.pn_species,
                display_status(r.status, r.expiry_date, today),
                r.received_date,
                r.expiry_date,
                r.manufacture_date,
                r.quantity_received,
                r.quantity_administered,
                r.quantity_destroyed,
                on_hand,
                r.receipt_temperature_c,
                r.package_intact,
                r.donor_eligibility_ref,
                bool(r[18]) or bool(r.coa_ref),
                r.coa_ref,
                r[20],
                r[21],
                r.recall_date,
                r.recall_reason,
                completeness.get(r.id),
            )
        )
    return rows


def lots_table(rows: Sequence[ReportLotRow]) -> Table:
    return Table("lots", LOT_COLUMNS, [tuple(vars(r).values()) for r in rows])


# ---- products --------------------------------------------------------------------------------------------

PRODUCT_COLUMNS = (
    Column("product_id", "number", 8),
    Column("name", "text", 26),
    Column("product_type", "text", 14),
    Column("manufacturer", "text", 22),
    Column("manufacturer_country", "text", 8),
    Column("gtin", "text", 16),
    Column("presentation", "text", 16),
    Column("storage_form", "text", 12),
    Column("unit", "text", 8),
    Column("source", "text", 18),
    Column("source_description", "text", 24),
    Column("human_derived", "bool", 9),
    Column("donor_use", "text", 12),
    Column("isolation_method", "text", 18),
    Column("pn_species", "text", 18),
    Column("labelled_routes", "text", 30),
    Column("jurisdiction", "text", 8),
    Column("regulatory_status", "text", 18),
    Column("regulatory_reference", "text", 18),
    Column("status_verified_on", "date", 12),
    Column("status_verified_by", "text", 16),
    Column("spec_endotoxin_max", "number", 10),
    Column("spec_size_min_nm", "number", 10),
    Column("spec_size_max_nm", "number", 10),
    Column("spec_concentration_tolerance_pct", "number", 10),
    Column("lots", "number", 8),
)


def products_table(session: Session, jurisdiction: str, period: Period) -> Table:
    """Products with their regulatory status in every jurisdiction recorded: one row per product and
    jurisdiction, the site's (`jurisdiction`) first."""
    status = aliased(ProductRegulatoryStatus)
    routes = {
        product_id: ";".join(sorted(r for _, r in group))
        for product_id, group in _grouped(session.execute(select(ProductRoute.product_id, ProductRoute.route)))
    }
    lot_counts = dict(
        session.execute(
            select(Lot.product_id, func.count(Lot.id)).where(Lot.id.in_(lots_in_scope(period))).group_by(Lot.product_id)
        ).all()
    )
    query = (
        select(
            Product,
            Manufacturer.name,
            Manufacturer.country,
            status.jurisdiction,
            status.status,
            status.reference,
            status.verified_on,
            status.verified_by,
        )
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        # One row per product and jurisdiction with a status (a product with none: one row, no jurisdiction), the
        # site's first: an inspector checks each market's status and reference, not only the site's.
        .outerjoin(status, status.product_id == Product.id)
        .order_by(Product.name, Product.id, status.jurisdiction != jurisdiction, status.jurisdiction)
    )
    if period.start is not None or period.end is not None:
        query = query.where(Product.id.in_(select(Lot.product_id).where(Lot.id.in_(lots_in_scope(period)))))
    rows = []
    for p, maker, country, where, reg, reference, verified_on, verified_by in session.execute(query):
        rows.append(
            (
                p.id,
                p.name,
                p.product_type,
                maker,
                country,
                p.gtin,
                p.presentation,
                p.storage_form,
                p.unit,
                p.source,
                p.source_description,
                is_human_derived(p.source, p.source_description),
                p.donor_use,
                p.isolation_method,
                p.pn_species,
                routes.get(p.id),
                where,
                reg,
                reference,
                verified_on,
                verified_by,
                p.spec_endotoxin_max,
                p.spec_size_min_nm,
                p.spec_size_max_nm,
                p.spec_concentration_tolerance_pct,
                lot_counts.get(p.id, 0),
            )
        )
    return Table("products", PRODUCT_COLUMNS, rows)


def _grouped(rows: Iterable[Any]) -> Iterable[tuple[Any, list[Any]]]:
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(tuple(row))
    return groups.items()


# ---- administrations -------------------------------------------------------------------------------------

ADMINISTRATION_COLUMNS = (
    Column("administration_id", "number", 10),
    Column("administered_at", "datetime", 18),
    Column("patient", "text", 14),
    Column("product", "text", 26),
    Column("lot_number", "text", 16),
    Column("route", "text", 22),
    Column("body_areas", "text", 18),
    Column("quantity", "number", 9),
    Column("volume_ml", "number", 9),
    Column("practitioner", "text", 18),
    Column("device_procedure", "text", 18),
    Column("ind_reference", "text", 14),
    Column("screening_done", "bool", 9),
    Column("contraindications", "text", 20),
    Column("patient_notified_on", "date", 12),
    Column("notified_how", "text", 14),
    Column("record_state", "text", 11),
    Column("amends_id", "number", 10),
    Column("amendment_reason", "text", 20),
    Column("void_reason", "text", 20),
    Column("recorded_at", "datetime", 18),
)


def administrations_table(session: Session, period: Period, pseudonym: Pseudonym, free_text: bool = True) -> Table:
    """Every administration in the period, corrections included (marked superseded or voided); without
    `free_text`, the amendment and void reasons are withheld."""
    state = case(
        (Administration.voided_at.is_not(None), "voided"),
        (Administration.superseded.is_(True), "superseded"),
        else_="current",
    )
    query = (
        select(
            Administration.id,
            Administration.administered_at,
            Administration.patient_ref,
            Product.name,
            Lot.lot_number,
            Administration.route,
            Administration.body_areas,
            Administration.quantity,
            Administration.volume_ml,
            Administration.practitioner,
            Administration.device_procedure,
            Administration.ind_reference,
            Administration.screening_done,
            Administration.contraindications,
            Administration.patient_notified_on,
            Administration.notified_how,
            state,
            Administration.amends_id,
            Administration.amendment_reason,
            Administration.void_reason,
            Administration.recorded_at,
        )
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(*_between(Administration.administered_at, period), *_at_site(period))
        .order_by(Administration.administered_at, Administration.id)
    )
    rows = [(r[0], r[1], pseudonym(r[2]), *r[3:]) for r in session.execute(query)]
    if not free_text:
        rows = [(*r[:18], _withheld(r[18]), _withheld(r[19]), *r[20:]) for r in rows]
    return Table("administrations", ADMINISTRATION_COLUMNS, rows)


# ---- flags -----------------------------------------------------------------------------------------------

FLAG_COLUMNS = (
    Column("code", "text", 26),
    Column("severity", "text", 10),
    Column("title", "text", 30),
    Column("subject_type", "text", 14),
    Column("subject_id", "number", 10),
    Column("product_name", "text", 26),
    Column("lot_number", "text", 16),
    Column("message", "text", 60),
    Column("waived", "bool", 8),
    Column("waived_by", "text", 16),
    Column("waived_at", "datetime", 18),
    Column("waiver_reason", "text", 30),
)


def sorted_flags(flags: Iterable[FlagRow]) -> list[FlagRow]:
    return sorted(
        flags, key=lambda f: (-f.rank, f.code, f.waived, f.product_name or "", f.lot_number or "", f.subject_id)
    )


def flags_table(flags: Iterable[FlagRow]) -> Table:
    rows = [
        (
            f.code,
            f.severity,
            f.title,
            f.subject_type,
            f.subject_id,
            f.product_name,
            f.lot_number,
            f.message,
            f.waived,
            f.waived_by,
            f.waived_at,
            f.waiver_reason,
        )
        for f in sorted_flags(flags)
    ]
    return Table("flags", FLAG_COLUMNS, rows)


def flags_in_scope(session: Session, flags: Iterable[FlagRow], period: Period) -> list[FlagRow]:
    """Flags whose subject the period concerns: lots in scope, their products, administrations in the period
    and adverse events recorded in it or following one of them."""
    flags = list(flags)
    if period.site_id is not None:
        # A product's flags concern every site (the shared catalogue); the others, the lot's site only.
        site_lots = set(session.execute(select(Lot.id).where(*_at_site(period))).scalars())
        flags = [f for f in flags if f.lot_id is None or f.lot_id in site_lots]
    if period.start is None and period.end is None:
        return flags
    lots = set(session.execute(lots_in_scope(period)).scalars())
    products = set(session.execute(select(Lot.product_id).where(Lot.id.in_(lots_in_scope(period)))).scalars())
    administrations = set(
        session.execute(select(Administration.id).where(*_between(Administration.administered_at, period))).scalars()
    )
    events = set(session.execute(select(AdverseEvent.id).where(_adverse_event_in(period))).scalars())
    wanted = {"lot": lots, "product": products, "administration": administrations, "adverse_event": events}
    return [f for f in flags if f.subject_id in wanted.get(f.subject_type, set())]


# ---- audit trail -----------------------------------------------------------------------------------------

# Every field an entry's hash covers, in the form it was hashed (occurred_at as ISO text with its microseconds,
# before/after/records as the JSON text stored), then its hashes and whether the fields shown are all as hashed
# ("full") or some were pseudonymised or withheld (the entry's hash then still links the chain, but cannot be
# recomputed from what is shown). services/audit.py canonical_entry, README "How the audit trail can be checked".
AUDIT_COLUMNS = (
    Column("seq", "number", 8),
    Column("occurred_at", "text", 26),
    Column("user_id", "number", 8),
    Column("username", "text", 14),
    Column("action", "text", 22),
    Column("entity_type", "text", 14),
    Column("entity_id", "text", 10),
    Column("before", "text", 40),
    Column("after", "text", 40),
    Column("reason", "text", 24),
    Column("records", "text", 30),
    Column("prev_hash", "text", 20),
    Column("entry_hash", "text", 20),
    Column("content", "text", 12),
)
FULL_CONTENT = "full"
PARTIAL_CONTENT = "withheld"  # pseudonymised or withheld in part: the hash links the chain but cannot be recomputed
OTHER_SITE_CONTENT = "other site"  # another site's record: only the hashes, which link the chain, are shown


def other_site_record_ids(site_id: int) -> dict[str, Select[Any]]:
    """The ids of the records of the sites other than `site_id`, as selects by the entity type their audit entries
    name: lots (and lots of no site) and what belongs to them through their lot; the shared catalogue, users and
    sites are the group's. One definition for the exported trail (other_site_records) and the trail on screen
    (services/site_scope.py, audit_conditions)."""
    other_lots = select(Lot.id).where(Lot.site_id.is_(None) | (Lot.site_id != site_id))
    uses = select(Administration.id).where(Administration.lot_id.in_(other_lots))
    events = select(AdverseEvent.id).where(AdverseEvent.administration_id.in_(uses))
    return {
        "lot": other_lots,
        "administration": uses,
        "adverse_event": events,
        "temperature_excursion": select(TemperatureExcursion.id).where(TemperatureExcursion.lot_id.in_(other_lots)),
        "document": select(Document.id).where(Document.lot_id.in_(other_lots)),
        # A waiver's entry quotes the flag it waives (product name, lot number): another site's lot's, use's or
        # event's is that site's. A product's waiver is the group's.
        "waiver": select(Waiver.id).where(
            or_(
                and_(Waiver.subject_type == "lot", Waiver.subject_id.in_(other_lots)),
                and_(Waiver.subject_type == "administration", Waiver.subject_id.in_(uses)),
                and_(Waiver.subject_type == "adverse_event", Waiver.subject_id.in_(events)),
            )
        ),
    }


def other_site_records(session: Session, site_id: int | None) -> dict[str, set[str]]:
    """The records of the other sites, by entity type and id as their audit entries name them: for a user of one
    site (`site_id`) these entries are shown by their hashes only (None: every site, nothing hidden)."""
    if site_id is None:
        return {}
    queries = other_site_record_ids(site_id)
    return {kind: {str(i) for i in session.execute(query).scalars()} for kind, query in queries.items()}


def pseudonymize_json(text: str | None, pseudonym: Pseudonym, free_text: bool = True) -> str | None:
    """Replace the values of `patient_ref` keys anywhere in an audit entry's JSON, and without `free_text` the
    values of FREE_TEXT_KEYS."""
    if text is None or (
        '"patient_ref"' not in text and (free_text or not any(f'"{k}"' in text for k in FREE_TEXT_KEYS))
    ):
        return text

    def value_for(key: str, value: Any) -> Any:
        if key == "patient_ref" and (value is None or isinstance(value, str)):
            return pseudonym(value)
        if not free_text and key in FREE_TEXT_KEYS:
            return _withheld(value)
        return walk(value)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: value_for(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    try:
        return json.dumps(walk(json.loads(text)), sort_keys=True, ensure_ascii=False)
    except ValueError:
        return text


def audit_table(
    session: Session, pseudonym: Pseudonym, batch: int = 5000, free_text: bool = True, site_id: int | None = None
) -> Table:
    """The whole audit trail in order, each entry with its hashes so an inspector can follow the chain. Without
    `free_text`, notes, narratives and the reasons given for changing administrations and adverse events are
    withheld. With `site_id` (a user of one site), the entries about another site's records keep their place,
    number and hashes, nothing else: leaving them out would break the chain verify_audit.py follows."""
    hidden = other_site_records(session, site_id)
    rows: list[tuple[Any, ...]] = []
    last = 0
    while True:
        chunk = session.execute(
            select(
                AuditEntry.seq,
                AuditEntry.occurred_at,
                AuditEntry.user_id,
                AuditEntry.username,
                AuditEntry.action,
                AuditEntry.entity_type,
                AuditEntry.entity_id,
                AuditEntry.before,
                AuditEntry.after,
                AuditEntry.reason,
                AuditEntry.records,
                AuditEntry.prev_hash,
                AuditEntry.entry_hash,
            )
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not chunk:
            break
        for r in chunk:
            if r[6] in hidden.get(r[5], ()):
                rows.append((r[0], *([None] * 10), r[11], r[12], OTHER_SITE_CONTENT))
                continue
            reason = r[9] if free_text or r[5] not in FREE_TEXT_REASON_ENTITIES else _withheld(r[9])
            before, after = pseudonymize_json(r[7], pseudonym, free_text), pseudonymize_json(r[8], pseudonym, free_text)
            full = before == r[7] and after == r[8] and reason == r[9]
            # The time as the entry's hash saw it (datetime.isoformat: microseconds when there are any).
            occurred_at = r[1].isoformat() if isinstance(r[1], datetime) else str(r[1])
            content = FULL_CONTENT if full else PARTIAL_CONTENT
            rows.append((r[0], occurred_at, *r[2:7], before, after, reason, *r[10:], content))
        last = chunk[-1][0]
    return Table("audit", AUDIT_COLUMNS, rows)


# ---- report sections ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdministrationSummary:
    product: str
    route: str
    administrations: int
    quantity: Decimal
    patients: int


def administration_summary(session: Session, period: Period) -> list[AdministrationSummary]:
    query = (
        select(
            Product.name,
            Administration.route,
            func.count(Administration.id),
            func.coalesce(func.sum(Administration.quantity), 0.0),
            func.count(distinct(Administration.patient_ref)),
        )
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(CURRENT_ADMINISTRATION, *_between(Administration.administered_at, period), *_at_site(period))
        .group_by(Product.name, Administration.route)
        .order_by(Product.name, Administration.route)
    )
    # The sum is coalesced to 0, never NULL, which the row's type cannot tell.
    return [AdministrationSummary(*cast(tuple[str, str, int, Decimal, int], r)) for r in session.execute(query)]


def administrations_per_month(session: Session, period: Period) -> list[tuple[str, int]]:
    """Counts per calendar month, computed in Python so SQLite and PostgreSQL agree on the month."""
    counts: dict[str, int] = {}
    query = select(Administration.administered_at).where(
        CURRENT_ADMINISTRATION, *_between(Administration.administered_at, period), *_used_at_site(period)
    )
    for (at,) in session.execute(query):
        key = f"{at.year:04d}-{at.month:02d}"
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items())


@dataclass(frozen=True)
class RecallRow:
    lot_id: int
    product: str
    lot_number: str
    recall_date: date
    reason: str | None
    administrations: int
    patients: int
    patients_notified: int

    @property
    def lookback(self) -> str:
        if self.patients == 0:
            return "complete: no patients received this lot"
        if self.patients_notified >= self.patients:
            return f"complete: all {self.patients} patients notified"
        return f"open: {self.patients - self.patients_notified} of {self.patients} patients not notified"


def recall_rows(session: Session, period: Period) -> list[RecallRow]:
    """Recalls during the period or affecting lots in scope, with their lookback across all time."""
    adm = (
        select(Administration.lot_id, Administration.patient_ref, Administration.patient_notified_on)
        .where(CURRENT_ADMINISTRATION)
        .subquery()
    )
    notified = func.count(distinct(case((adm.c.patient_notified_on.is_not(None), adm.c.patient_ref))))
    query = (
        select(
            Lot.id,
            Product.name,
            Lot.lot_number,
            Lot.recall_date,
            Lot.recall_reason,
            func.count(adm.c.lot_id),
            func.count(distinct(adm.c.patient_ref)),
            notified,
        )
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(adm, adm.c.lot_id == Lot.id)
        .where(Lot.recall_date.is_not(None), *_at_site(period))
        .group_by(Lot.id, Product.name, Lot.lot_number, Lot.recall_date, Lot.recall_reason)
        .order_by(Lot.recall_date, Product.name, Lot.lot_number)
    )
    if period.start is not None or period.end is not None:
        query = query.where(or_(and_(*_date_between(Lot.recall_date, period)), Lot.id.in_(lots_in_scope(period))))
    # recall_date is never NULL here (the query keeps recalled lots only), which the row's type cannot tell.
    return [RecallRow(*cast(tuple[int, str, str, date, str | None, int, int, int], r)) for r in session.execute(query)]


@dataclass(frozen=True)
class AdverseEventRow:
    event_id: int
    onset_date: date | None
    recorded_at: datetime
    event_type: str
    severity: str | None
    product: str
    lot_number: str
    patient: str | None
    report_status: str
    report_reference: str | None
    reported_on: date | None


def _adverse_event_in(period: Period) -> Any:
    recorded = and_(*_between(AdverseEvent.recorded_at, period))
    onset = and_(*_date_between(AdverseEvent.onset_date, period))
    return or_(recorded, and_(AdverseEvent.onset_date.is_not(None), onset))


def adverse_event_rows(
    session: Session, period: Period, pseudonym: Pseudonym, free_text: bool = True
) -> list[AdverseEventRow]:
    """Adverse events of the period; without `free_text`, a reason for not reporting is withheld (a reference
    given to a report is kept)."""
    query = (
        select(
            AdverseEvent.id,
            AdverseEvent.onset_date,
            AdverseEvent.recorded_at,
            AdverseEvent.event_type,
            AdverseEvent.severity,
            Product.name,
            Lot.lot_number,
            Administration.patient_ref,
            AdverseEvent.report_status,
            AdverseEvent.report_reference,
            AdverseEvent.not_reportable_reason,
            AdverseEvent.reported_on,
        )
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(_adverse_event_in(period), *_at_site(period))
        .order_by(AdverseEvent.recorded_at, AdverseEvent.id)
    )
    return [
        AdverseEventRow(*r[:7], pseudonym(r[7]), r[8], r[9] or (r[10] if free_text else _withheld(r[10])), r[11])
        for r in session.execute(query)
    ]


@dataclass
class ComplianceData:
    """Everything the compliance report shows, gathered in one read so the figures agree with each other."""

    clinic: str
    site_code: str
    jurisdiction: str
    period: Period
    generated_by: str
    generated_at: datetime
    registry_version: str
    audit_status: str
    audit_ok: bool
    patient_refs: str  # how patients are identified: "pseudonymized" or "clinic references"
    audit_head: str = ""  # the trail's head (SEQ:HASH) in the read the report was made from
    lots: list[ReportLotRow] = field(default_factory=list)
    flags: list[FlagRow] = field(default_factory=list)
    closed_flags: list[ClosedFlagRow] = field(default_factory=list)
    administrations: list[AdministrationSummary] = field(default_factory=list)
    per_month: list[tuple[str, int]] = field(default_factory=list)
    recalls: list[RecallRow] = field(default_factory=list)
    adverse_events: list[AdverseEventRow] = field(default_factory=list)
    products_in_scope: int = 0
    patients: int = 0

    @property
    def administration_count(self) -> int:
        return sum(a.administrations for a in self.administrations)

    @property
    def mean_completeness(self) -> float | None:
        scores = [lot.completeness_pct for lot in self.lots if lot.completeness_pct is not None]
        return sum(scores) / len(scores) if scores else None


def products_in_scope_count(session: Session, period: Period) -> int:
    return session.execute(
        select(func.count(distinct(Lot.product_id))).where(Lot.id.in_(lots_in_scope(period)))
    ).scalar_one()


def patient_count(session: Session, period: Period) -> int:
    return session.execute(
        select(func.count(distinct(Administration.patient_ref))).where(
            CURRENT_ADMINISTRATION, *_between(Administration.administered_at, period), *_used_at_site(period)
        )
    ).scalar_one()
