"""Read-only views for the desktop beyond the lots list: one lot's record (every tab), the dashboard figures,
and the lists of products, suppliers, administrations and the audit trail. No Qt here."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from registry_app.domain import (
    Administration,
    AdverseEvent,
    AuditEntry,
    CharacterizationResult,
    Document,
    Lot,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    Supplier,
)
from registry_app.domain.exact import ZERO, exact_sql
from registry_app.domain.vocab import LotStatus, is_human_derived
from registry_app.services import site_scope
from registry_app.services.context import READERS, ServiceContext, jurisdiction
from registry_app.services.errors import NotFound
from registry_app.services.privacy import patient_view
from registry_app.services.queries.lots_page import EXPIRING_DAYS, display_status, expired_stock_condition, today_for

# The default limits of rules.md, used where the product carries no specification of its own.
DEFAULT_ENDOTOXIN_MAX = Decimal("0.5")
DEFAULT_SIZE_RANGE = (Decimal("30"), Decimal("150"))
DEFAULT_CONCENTRATION_TOLERANCE_PCT = Decimal("20")


@dataclass(frozen=True)
class ResultView:
    parameter: str
    marker: str | None
    method: str | None
    value: Decimal | None
    unit: str | None
    result: str | None
    measured_by: str | None
    specification: str
    in_spec: bool | None  # None: no specification applies
    laboratory: str | None = None
    tested_on: date | None = None


@dataclass(frozen=True)
class LotDetail:
    id: int
    product_id: int
    product: str
    product_type: str
    status: str
    stored_status: str
    fields: dict[str, Any]  # the lot's own editable columns, by name
    source: dict[str, Any]
    results: list[ResultView]
    regulatory: list[dict[str, Any]]
    jurisdiction: str
    documents: list[dict[str, Any]]
    administrations: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    history: list[dict[str, Any]]
    on_hand: Decimal = ZERO
    extra: dict[str, Any] = field(default_factory=dict)


EDITABLE_LOT_FIELDS = (
    "lot_number",
    "serial",
    "expiry_date",
    "manufacture_date",
    "received_date",
    "received_by",
    "quantity_received",
    "receipt_temperature_c",
    "package_intact",
    "donor_eligibility_ref",
    "coa_ref",
    "labelled_particles_per_ml",
)


def _assess(result: CharacterizationResult, product: Product, lot: Lot) -> tuple[str, bool | None]:
    """The specification this result is read against, and whether it meets it (characterization.assess, the
    same reading the characterization grid shows as a value is typed)."""
    from registry_app.services.lots.characterization import Specification, assess

    spec = Specification(
        product.product_type,
        product.spec_endotoxin_max if product.spec_endotoxin_max is not None else DEFAULT_ENDOTOXIN_MAX,
        product.spec_size_min_nm if product.spec_size_min_nm is not None else DEFAULT_SIZE_RANGE[0],
        product.spec_size_max_nm if product.spec_size_max_nm is not None else DEFAULT_SIZE_RANGE[1],
        lot.labelled_particles_per_ml,
        product.spec_concentration_tolerance_pct
        if product.spec_concentration_tolerance_pct is not None
        else DEFAULT_CONCENTRATION_TOLERANCE_PCT,
    )
    text, ok = assess(spec, result.parameter, value=result.value, result=result.result, marker=result.marker)
    # The record's table has always read a qualitative result that is missing as not meeting its specification.
    if ok is None and text and result.parameter in ("sterility", "mycoplasma", "marker"):
        ok = False
    return text, ok


def lot_detail(ctx: ServiceContext, lot_id: int) -> LotDetail:
    """Everything the lot record shows, read in one transaction. The history is field-level, its times in
    the site's zone (audit_view)."""
    ctx.require(READERS, "view lots")
    from registry_app.services.clock import site_clock
    from registry_app.services.queries.audit_trail import field_rows, inspector_view

    clock = site_clock(ctx)
    patient = patient_view(ctx)  # an inspector sees pseudonyms
    trail_view = inspector_view(ctx)
    with ctx.db.read() as session:
        lot = site_scope.visible_lot(session, ctx, lot_id)
        product = lot.product
        today = today_for(ctx)
        where = jurisdiction(session, ctx)
        manufacturer = session.get(Manufacturer, product.manufacturer_id) if product.manufacturer_id else None
        supplier = session.get(Supplier, lot.supplier_id) if lot.supplier_id else None
        fields = {name: getattr(lot, name) for name in EDITABLE_LOT_FIELDS}
        fields["supplier"] = supplier.name if supplier else None
        source = {
            "manufacturer": manufacturer.name if manufacturer else None,
            "manufacturer_country": manufacturer.country if manufacturer else None,
            "supplier": supplier.name if supplier else None,
            "product_type": product.product_type,
            "biological_source": product.source,
            "human_derived": is_human_derived(product.source, product.source_description),
            "source_description": product.source_description,
            "donor_use": product.donor_use,
            "isolation_method": product.isolation_method,
            "pn_species": product.pn_species,
            "donor_eligibility_ref": lot.donor_eligibility_ref,
        }
        results = []
        for result in session.execute(
            select(CharacterizationResult)
            .where(CharacterizationResult.lot_id == lot_id, CharacterizationResult.voided_at.is_(None))
            .order_by(CharacterizationResult.parameter, CharacterizationResult.marker, CharacterizationResult.id)
        ).scalars():
            spec, ok = _assess(result, product, lot)
            results.append(
                ResultView(
                    result.parameter,
                    result.marker,
                    result.method,
                    result.value,
                    result.unit,
                    result.result,
                    result.measured_by,
                    spec,
                    ok,
                    result.laboratory,
                    result.tested_on,
                )
            )
        regulatory = [
            {
                "jurisdiction": s.jurisdiction,
                "status": s.status,
                "reference": s.reference,
                "verified_on": s.verified_on,
                "verified_by": s.verified_by,
                "current": s.jurisdiction == where,
            }
            for s in session.execute(
                select(ProductRegulatoryStatus)
                .where(ProductRegulatoryStatus.product_id == product.id)
                .order_by(ProductRegulatoryStatus.jurisdiction)
            ).scalars()
        ]
        documents = [
            {
                "id": d.id,
                "kind": d.kind,
                "file_name": d.file_name,
                "reference": d.reference,
                "size_bytes": d.size_bytes,
                "sha256": d.sha256,
                "uploaded_at": d.uploaded_at,
                "has_content": d.sha256 is not None,
                "for": "lot" if d.lot_id == lot_id else "product",
            }
            for d in session.execute(
                select(Document)
                .where((Document.lot_id == lot_id) | ((Document.product_id == product.id) & Document.lot_id.is_(None)))
                .order_by(Document.uploaded_at.desc(), Document.id.desc())
            ).scalars()
        ]
        administrations: list[dict[str, Any]] = [
            {
                "id": a.id,
                "administered_at": a.administered_at,
                "patient_ref": patient(a.patient_ref),
                "route": a.route,
                "body_areas": a.body_areas,
                "quantity": a.quantity,
                "practitioner": a.practitioner,
                "patient_notified_on": a.patient_notified_on,
            }
            for a in session.execute(
                select(Administration)
                .where(
                    Administration.lot_id == lot_id,
                    Administration.superseded.is_(False),
                    Administration.voided_at.is_(None),
                )
                .order_by(Administration.administered_at.desc())
            ).scalars()
        ]
        flags = _lot_flags(session, ctx, today, lot_id, product.id, [a["id"] for a in administrations])
        history = [
            asdict(row)
            for e in session.execute(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "lot", AuditEntry.entity_id == str(lot_id))
                .order_by(AuditEntry.seq.desc())
            ).scalars()
            for row in field_rows(e, clock, "", trail_view)
        ]
        return LotDetail(
            lot.id,
            product.id,
            product.name,
            product.product_type,
            display_status(lot.status, lot.expiry_date, today),
            lot.status,
            fields,
            source,
            results,
            regulatory,
            where,
            documents,
            administrations,
            flags,
            history,
            on_hand=lot.quantity_on_hand,
            extra={
                "flag_history": _flag_history(session, lot_id),
                "unit": product.unit,
                "released_on": lot.released_on,
                "rejected_on": lot.rejected_on,
                "recall_date": lot.recall_date,
                "recall_reason": lot.recall_reason,
                "status_note": lot.status_note,
            },
        )


def _lot_flags(
    session: Any, ctx: ServiceContext, today: date, lot_id: int, product_id: int, administration_ids: list[int]
) -> list[dict[str, Any]]:
    from registry_app.services.flag_table import current_flags

    found = current_flags(session, ctx, today, subject_type="lot", subject_ids=[lot_id])
    found += current_flags(session, ctx, today, subject_type="product", subject_ids=[product_id])
    if administration_ids:
        found += current_flags(session, ctx, today, subject_type="administration", subject_ids=administration_ids)
        # Adverse events after this lot's administrations (AE-UNREPORTED): the record is where they are followed up.
        events = list(
            session.execute(
                select(AdverseEvent.id).where(AdverseEvent.administration_id.in_(administration_ids))
            ).scalars()
        )
        if events:
            found += current_flags(session, ctx, today, subject_type="adverse_event", subject_ids=events)
    return [
        {
            "code": f.code,
            "severity": f.severity,
            "subject_type": f.subject_type,
            "subject_id": f.subject_id,
            "message": f.message,
            "waived": f.waived,
        }
        for f in found
    ]


def _flag_history(session: Any, lot_id: int) -> list[dict[str, Any]]:
    """When each flag of the lot (and of its uses and their events) was raised and closed, newest first."""
    from registry_app.rules.table_read import lot_history

    return [asdict(event) for event in lot_history(session, lot_id)]


def _audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at,
        "username": entry.username,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }


def document_content(ctx: ServiceContext, document_id: int) -> tuple[str, bytes | None, str | None]:
    """(file name, stored bytes or None, reference) of a document, for opening it."""
    ctx.require(READERS, "open documents")
    with ctx.db.read() as session:
        document = session.get(Document, document_id)
        if document is None:
            raise NotFound(f"no document with id {document_id}")
        site_scope.check_lot_id(session, ctx, document.lot_id, f"no document with id {document_id}")
        return document.file_name or f"document-{document_id}", document.content, document.reference


# --- dashboard --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigures:
    flags_by_severity: dict[str, int]
    flags_by_code: dict[str, int]
    expiring: int
    quarantine: int
    expired_stock: int  # lots with stock left after expiry (ALERT-EXPIRED-STOCK)
    products_by_status: dict[str, int]  # NO_STATUS for products with no status in the site's jurisdiction
    completeness: dict[str, int]  # score bucket in % ("0–19", ...) -> lots
    lots: int


# A product with no regulatory status recorded for the site's jurisdiction (shown "Not recorded").
NO_STATUS = "not_recorded"
COMPLETENESS_BUCKETS = ("0–19", "20–39", "40–59", "60–79", "80–100")


def dashboard_figures(ctx: ServiceContext) -> DashboardFigures:
    """The dashboard's figures. Evaluates every flag: run it off the GUI thread on a big registry."""
    ctx.require(READERS, "view the dashboard")
    from registry_app.rules.table_read import stored_counts
    from registry_app.services.flag_table import table_answers

    with ctx.db.read() as session:
        today = today_for(ctx)
        where = jurisdiction(session, ctx)
        by_severity: Counter[str] = Counter()
        by_code: Counter[str] = Counter()
        site = site_scope.lot_conditions(ctx)  # a user of one site: that site's lots and flags
        if table_answers(session, ctx) and not site:
            for severity, code, _waived, count in stored_counts(session, today, include_waived=False):
                by_severity[severity] += count
                by_code[code] += count
        else:
            from registry_app.rules import evaluate_flags

            for item in site_scope.flags_in_scope(session, ctx, evaluate_flags(session, where, today)):
                if not item.waived:
                    by_severity[item.severity] += 1
                    by_code[item.code] += 1
        live = (LotStatus.QUARANTINE.value, LotStatus.RELEASED.value)
        on_hand = Lot.quantity_received - Lot.quantity_administered - Lot.quantity_destroyed
        expiring = session.execute(
            select(func.count(Lot.id)).where(
                Lot.status.in_(live),
                Lot.expiry_date >= today,
                Lot.expiry_date <= today + timedelta(days=EXPIRING_DAYS),
                exact_sql(on_hand) > 0,
                *site,
            )
        ).scalar_one()
        quarantine = session.execute(
            select(func.count(Lot.id)).where(
                Lot.status == LotStatus.QUARANTINE.value,
                (Lot.expiry_date.is_(None)) | (Lot.expiry_date >= today),
                *site,
            )
        ).scalar_one()
        expired_stock = session.execute(
            select(func.count(Lot.id)).where(expired_stock_condition(today), *site)
        ).scalar_one()
        statuses = Counter(
            status or NO_STATUS
            for status in session.execute(
                select(ProductRegulatoryStatus.status)
                .select_from(Product)
                .outerjoin(
                    ProductRegulatoryStatus,
                    (ProductRegulatoryStatus.product_id == Product.id)
                    & (ProductRegulatoryStatus.jurisdiction == where),
                )
            ).scalars()
        )
        lots = session.execute(select(func.count(Lot.id)).where(*site)).scalar_one()
        completeness = _completeness_distribution(session, where, site_scope.scope_of(ctx))
        return DashboardFigures(
            {s: by_severity.get(s, 0) for s in ("critical", "high", "medium", "low", "info")},
            dict(by_code.most_common()),
            int(expiring),
            int(quarantine),
            int(expired_stock),
            {k: int(v) for k, v in statuses.items()},
            completeness,
            int(lots),
        )


def _completeness_distribution(session: Any, where: str, site_id: int | None) -> dict[str, int]:
    from registry_app.rules.score import score_buckets

    return dict(zip(COMPLETENESS_BUCKETS, score_buckets(session, where, site_id), strict=True))


# --- simple lists -----------------------------------------------------------------------------------------------


def products_list(ctx: ServiceContext) -> list[dict[str, Any]]:
    ctx.require(READERS, "view products")
    with ctx.db.read() as session:
        where = jurisdiction(session, ctx)
        lots = dict(session.execute(select(Lot.product_id, func.count(Lot.id)).group_by(Lot.product_id)).all())
        rows = session.execute(
            select(Product, Manufacturer.name, ProductRegulatoryStatus.status, ProductRegulatoryStatus.reference)
            .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
            .outerjoin(
                ProductRegulatoryStatus,
                (ProductRegulatoryStatus.product_id == Product.id) & (ProductRegulatoryStatus.jurisdiction == where),
            )
            .order_by(func.lower(Product.name))
        ).all()
        return [
            {
                "id": p.id,
                "name": p.name,
                "product_type": p.product_type,
                "manufacturer": maker,
                "source": p.source or p.pn_species,
                "presentation": p.presentation,
                "regulatory_status": status or NO_STATUS,
                "reference": ref,
                "lots": int(lots.get(p.id, 0)),
            }
            for p, maker, status, ref in rows
        ]


def suppliers_list(ctx: ServiceContext) -> list[dict[str, Any]]:
    ctx.require(READERS, "view suppliers")
    with ctx.db.read() as session:
        lots = dict(session.execute(select(Lot.supplier_id, func.count(Lot.id)).group_by(Lot.supplier_id)).all())
        return [
            {"id": s.id, "name": s.name, "lots": int(lots.get(s.id, 0))}
            for s in session.execute(select(Supplier).order_by(func.lower(Supplier.name))).scalars()
        ]


def administrations_list(ctx: ServiceContext, text: str = "", limit: int = 500) -> list[dict[str, Any]]:
    """The latest current administrations, optionally by patient reference or lot number prefix. `when` is
    the administration's time with the site's zone (issue 20.2)."""
    ctx.require(READERS, "view administrations")
    from registry_app.services.clock import site_clock

    clock = site_clock(ctx)
    patient = patient_view(ctx)  # an inspector sees pseudonyms (and finds a patient by reference only)
    with ctx.db.read() as session:
        statement = (
            select(Administration, Lot.lot_number, Product.name)
            .join(Lot, Lot.id == Administration.lot_id)
            .join(Product, Product.id == Lot.product_id)
            .where(Administration.superseded.is_(False), Administration.voided_at.is_(None))
            .where(*site_scope.lot_conditions(ctx))
            .order_by(Administration.administered_at.desc(), Administration.id.desc())
            .limit(limit)
        )
        if text.strip():
            word = text.strip()
            statement = statement.where(
                Administration.patient_ref.istartswith(word, autoescape=True)
                | Lot.lot_number.istartswith(word, autoescape=True)
            )
        return [
            {
                "id": a.id,
                "lot_id": a.lot_id,
                "administered_at": a.administered_at,
                "when": clock.show_local(a.administered_at),
                "patient_ref": patient(a.patient_ref),
                "product": product,
                "lot_number": number,
                "route": a.route,
                "quantity": a.quantity,
                "practitioner": a.practitioner,
            }
            for a, number, product in session.execute(statement)
        ]


def audit_list(ctx: ServiceContext, before_seq: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The audit trail, newest first, a page at a time (before_seq: the last seq of the previous page)."""
    ctx.require(READERS, "view the audit trail")
    with ctx.db.read() as session:
        statement = (
            select(AuditEntry).where(*site_scope.audit_conditions(ctx)).order_by(AuditEntry.seq.desc()).limit(limit)
        )
        if before_seq is not None:
            statement = statement.where(AuditEntry.seq < before_seq)
        return [_audit_dict(e) for e in session.execute(statement).scalars()]


def as_text(value: Any) -> str:
    """How a value reads in a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def open_flags_list(ctx: ServiceContext) -> list[dict[str, Any]]:
    """Every current flag (waived ones marked), most severe first."""
    ctx.require(READERS, "view flags")
    from registry_app.rules import evaluate_flags

    with ctx.db.read() as session:
        flags = evaluate_flags(session, jurisdiction(session, ctx), today_for(ctx))
        return [f.as_json() for f in site_scope.flags_in_scope(session, ctx, flags)]
