"""Small builders that insert rule-test records directly with the session: explicit and fast.

`compliant_*` build records that raise no flag; tests then change one thing to raise exactly one rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry_app.domain import (
    Administration,
    AdverseEvent,
    CharacterizationResult,
    Document,
    Lot,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    ProductRoute,
    Supplier,
    TemperatureExcursion,
    name_key,
)

TODAY = date(2025, 6, 15)
_counter = {"n": 0}


def _next(prefix: str) -> str:
    _counter["n"] += 1
    return f"{prefix} {_counter['n']}"


def manufacturer(session: Session, name: str | None = None, country: str = "KR") -> Manufacturer:
    name = name or _next("Maker")
    row = Manufacturer(name=name, name_key=name_key(name), country=country)
    session.add(row)
    session.flush()
    return row


def supplier(session: Session, name: str | None = None) -> Supplier:
    name = name or _next("Supplier")
    row = Supplier(name=name, name_key=name_key(name))
    session.add(row)
    session.flush()
    return row


def product(
    session: Session,
    product_type: str = "exosome",
    *,
    routes: tuple[str, ...] = ("topical_intact",),
    status: str | None = "cosmetic",
    reference: str | None = "COS-1",
    jurisdiction: str = "US",
    with_manufacturer: bool = True,
    **values: Any,
) -> Product:
    """A documented product: manufacturer, source, status in the jurisdiction, labelled routes."""
    name = values.pop("name", None) or _next("Product")
    defaults: dict[str, Any] = (
        {"source": "plant", "source_description": "Rosa damascena callus"}
        if product_type == "exosome"
        else {"pn_species": "oncorhynchus_keta"}
    )
    defaults.update(values)
    row = Product(
        name=name,
        name_key=name_key(name),
        product_type=product_type,
        manufacturer_id=manufacturer(session).id if with_manufacturer else None,
        **defaults,
    )
    session.add(row)
    session.flush()
    for route in routes:
        session.add(ProductRoute(product_id=row.id, route=route))
    if status is not None:
        session.add(
            ProductRegulatoryStatus(product_id=row.id, jurisdiction=jurisdiction, status=status, reference=reference)
        )
    session.flush()
    return row


def result(
    session: Session,
    lot: Lot,
    parameter: str,
    *,
    value: float | None = None,
    result: str | None = None,
    method: str | None = None,
    marker: str | None = None,
    voided: bool = False,
) -> CharacterizationResult:
    row = CharacterizationResult(
        lot_id=lot.id,
        parameter=parameter,
        value=value,
        result=result,
        method=method,
        marker=marker,
        measured_by="manufacturer",
        voided_at=datetime(2025, 1, 2) if voided else None,
        void_reason="typo" if voided else None,
    )
    session.add(row)
    session.flush()
    return row


EV_RESULTS: list[dict[str, Any]] = [
    {"parameter": "particle_concentration", "value": 1.0e10, "method": "nta"},
    {"parameter": "size_mode", "value": 110.0, "method": "nta"},
    {"parameter": "protein_concentration", "value": 50.0, "method": "bca"},
    {"parameter": "marker", "marker": "cd63", "result": "detected", "method": "western_blot"},
    {"parameter": "marker", "marker": "tsg101", "result": "detected", "method": "western_blot"},
    {"parameter": "marker", "marker": "calnexin", "result": "not_detected", "method": "western_blot"},
    {"parameter": "imaging", "result": "performed", "method": "tem"},
]
SAFETY_RESULTS: list[dict[str, Any]] = [
    {"parameter": "sterility", "result": "pass", "method": "usp71"},
    {"parameter": "endotoxin", "value": 0.1, "method": "lal"},
    {"parameter": "mycoplasma", "result": "negative", "method": "qpcr"},
]
PN_RESULTS: list[dict[str, Any]] = [
    {"parameter": "dna_concentration", "value": 20.0, "method": "uv"},
    {"parameter": "molecular_weight", "value": 1500.0, "method": "gel"},
]


def lot(session: Session, prod: Product, *, results: bool = True, skip: tuple[str, ...] = (), **values: Any) -> Lot:
    """A documented, released lot with the characterization its product needs (minus `skip`ped parameters
    or markers)."""
    defaults: dict[str, Any] = {
        "lot_number": _next("L").replace(" ", "-"),
        "supplier_id": supplier(session).id,
        "expiry_date": date(2026, 12, 31),
        "received_date": date(2025, 1, 10),
        "quantity_received": 10.0,
        "status": "released",
        "receipt_temperature_c": 4.0,
        "package_intact": True,
        "coa_ref": "COA-1",
        "donor_eligibility_ref": "DE-1" if prod.source in {"msc_umbilical_cord", "msc_adipose", "platelet"} else None,
        "labelled_particles_per_ml": 1.0e10 if prod.product_type == "exosome" else None,
    }
    defaults.update(values)
    row = Lot(product_id=prod.id, **defaults)
    session.add(row)
    session.flush()
    if results:
        wanted = (EV_RESULTS + SAFETY_RESULTS) if prod.product_type == "exosome" else (PN_RESULTS + SAFETY_RESULTS)
        for spec in wanted:
            if spec["parameter"] in skip or spec.get("marker") in skip:
                continue
            result(session, row, **spec)
    return row


def document(session: Session, lot_row: Lot, kind: str, reference: str = "DOC-1") -> Document:
    row = Document(kind=kind, lot_id=lot_row.id, reference=reference)
    session.add(row)
    session.flush()
    return row


def administration(session: Session, lot_row: Lot, **values: Any) -> Administration:
    defaults: dict[str, Any] = {
        "administered_at": datetime(2025, 6, 1, 10, 30),
        "patient_ref": "PT-00001",
        "route": "topical_intact",
        "body_areas": "face",
        "quantity": 1.0,
        "practitioner": "Dr Kim",
        "screening_done": True,
    }
    defaults.update(values)
    row = Administration(lot_id=lot_row.id, **defaults)
    session.add(row)
    session.flush()
    return row


def excursion(session: Session, lot_row: Lot, resolved: bool = False) -> TemperatureExcursion:
    row = TemperatureExcursion(
        lot_id=lot_row.id,
        occurred_at=datetime(2025, 3, 1, 2, 0),
        reading_c=12.0,
        duration_minutes=90,
        resolution="use" if resolved else None,
        resolved_at=datetime(2025, 3, 2) if resolved else None,
    )
    session.add(row)
    session.flush()
    return row


def adverse_event(session: Session, admin: Administration, **values: Any) -> AdverseEvent:
    defaults: dict[str, Any] = {
        "event_type": "erythema",
        "report_status": "not_reported",
        "recorded_at": datetime(2025, 5, 1, 9, 0),
    }
    defaults.update(values)
    row = AdverseEvent(administration_id=admin.id, **defaults)
    session.add(row)
    session.flush()
    return row
