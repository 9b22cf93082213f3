"""Products: details as labelled, labelled routes, the product's own specification, and its regulatory status
per jurisdiction with the evidence that it was verified."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import Document, Manufacturer, Product, ProductRegulatoryStatus, ProductRoute, name_key, utcnow
from registry_app.domain.vocab import (
    BiologicalSource,
    DocumentKind,
    DonorUse,
    IsolationMethod,
    PnSpecies,
    Presentation,
    ProductType,
    RegulatoryStatus,
    Route,
    StorageForm,
    Unit,
)
from registry_app.importers import cells
from registry_app.services.audit import AuditRecord, changes, snapshot
from registry_app.services.clock import site_today
from registry_app.services.context import READERS, STAFF, ServiceContext, changing, current_site
from registry_app.services.errors import ConflictError, FieldError, NotFound, ValidationError
from registry_app.services.lots.documents import NewDocument, check_document, store_document

_DETAIL_PARSERS: dict[str, Any] = {
    "name": cells.text(200),
    "product_type": cells.vocabulary(ProductType, "product type"),
    "gtin": cells.parse_gtin,
    "presentation": cells.vocabulary(Presentation, "presentation"),
    "storage_form": cells.vocabulary(StorageForm, "storage form"),
    "unit": cells.vocabulary(Unit, "unit"),
    "source": cells.vocabulary(BiologicalSource, "biological source"),
    "source_description": cells.text(2000),
    "donor_use": cells.vocabulary(DonorUse, "donor use"),
    "isolation_method": cells.vocabulary(IsolationMethod, "isolation method"),
    "pn_species": cells.vocabulary(PnSpecies, "source species"),
    "manufacturer": cells.text(200),
    "manufacturer_country": cells.parse_country,
}
_SPEC_FIELDS = ("spec_endotoxin_max", "spec_size_min_nm", "spec_size_max_nm", "spec_concentration_tolerance_pct")
_ROUTE = cells.vocabulary(Route, "route")
_STATUS = cells.vocabulary(RegulatoryStatus, "regulatory status")


@dataclass(frozen=True)
class ProductInfo:
    id: int
    name: str
    product_type: str
    gtin: str | None
    manufacturer: str | None
    details: dict[str, Any]
    labelled_routes: tuple[str, ...]
    regulatory: tuple[dict[str, Any], ...]


def _parse_details(values: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """Form values (text or already typed) to column values; one FieldError per bad field. An empty value
    clears the field (recorded as not known), except the name and type which a product always has."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in _DETAIL_PARSERS:
            errors.append(FieldError(key, "is not a product detail that can be set here"))
            continue
        text = cells.cell_text(raw)
        if not text:
            if key in ("name", "product_type"):
                errors.append(FieldError(key, "is required"))
            else:
                out[key] = None
            continue
        try:
            out[key] = _DETAIL_PARSERS[key](text)
        except cells.CellError as error:
            errors.append(FieldError(key, str(error)))
    if creating:
        for key in ("name", "product_type"):
            if key not in values:
                errors.append(FieldError(key, "is required"))
    if errors:
        raise ValidationError(errors)
    return out


def _manufacturer_id(session: Session, name: str | None, country: str | None) -> int | None:
    if not name:
        return None
    key = name_key(name)
    manufacturer = session.execute(select(Manufacturer).where(Manufacturer.name_key == key)).scalar_one_or_none()
    if manufacturer is None:
        manufacturer = Manufacturer(name=" ".join(name.split()), name_key=key, country=country)
        session.add(manufacturer)
        session.flush()
    elif country and not manufacturer.country:
        manufacturer.country = country
    return manufacturer.id


def _apply(session: Session, product: Product, details: dict[str, Any]) -> None:
    if "manufacturer" in details or "manufacturer_country" in details:
        product.manufacturer_id = _manufacturer_id(
            session, details.pop("manufacturer", None), details.pop("manufacturer_country", None)
        )
    if "name" in details:
        name = " ".join(details.pop("name").split())
        clash = session.execute(
            select(Product.id).where(Product.name_key == name_key(name), Product.id != (product.id or 0))
        ).scalar()
        if clash is not None:
            raise ConflictError(f"a product named {name!r} exists already")
        product.name, product.name_key = name, name_key(name)
    for key, value in details.items():
        setattr(product, key, value)


def _product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product with id {product_id}")
    return product


@changing("add products", STAFF)
def create_product(ctx: ServiceContext, details: Mapping[str, Any]) -> int:
    """Create a product from details (name and product_type required; manufacturer by name)."""
    parsed = _parse_details(details, creating=True)
    with ctx.db.write() as session:
        product = Product(created_at=utcnow())
        _apply(session, product, parsed)
        session.add(product)
        session.flush()
        ctx.audit(session, AuditRecord("create product", "product", product.id, before={}, after=snapshot(product)))
        return product.id


@changing("change products", STAFF)
def update_product(ctx: ServiceContext, product_id: int, details: Mapping[str, Any], reason: str) -> None:
    """Correct product details (a dict of field -> new value) with a reason."""
    parsed = _parse_details(details, creating=False)
    if not reason or not reason.strip():
        raise ValidationError([FieldError("reason", "give the reason for the change")])
    with ctx.db.write() as session:
        product = _product(session, product_id)
        before = snapshot(product)
        _apply(session, product, parsed)
        session.flush()
        old, new = changes(before, snapshot(product))
        ctx.audit(
            session,
            AuditRecord(
                "update product",
                "product",
                product.id,
                before=old,
                after=new or {"unchanged": True},
                reason=reason.strip(),
            ),
        )


def _parse_routes(routes: Iterable[str]) -> tuple[set[str], list[FieldError]]:
    errors: list[FieldError] = []
    wanted: set[str] = set()
    for route in routes:
        try:
            wanted.add(_ROUTE(str(route).strip()))
        except cells.CellError as error:
            errors.append(FieldError("labelled_routes", str(error)))
    return wanted, errors


def _parse_spec(spec: Mapping[str, Any]) -> tuple[dict[str, Decimal | None], list[FieldError]]:
    errors: list[FieldError] = []
    parsed: dict[str, Decimal | None] = {}
    for key, raw in spec.items():
        if key not in _SPEC_FIELDS:
            errors.append(FieldError(key, f"is not a specification field; use {', '.join(_SPEC_FIELDS)}"))
            continue
        text = cells.cell_text(raw)
        try:
            parsed[key] = cells.parse_non_negative(text) if text else None
        except cells.CellError as error:
            errors.append(FieldError(key, str(error)))
    low, high = parsed.get("spec_size_min_nm"), parsed.get("spec_size_max_nm")
    if low is not None and high is not None and low > high:
        errors.append(FieldError("spec_size_max_nm", f"{high:g} is below the minimum {low:g}"))
    return parsed, errors


def _product_state(product: Product) -> dict[str, Any]:
    return {**snapshot(product), "labelled_routes": sorted(r.route for r in product.labelled_routes)}


@changing("save products", STAFF)
def save_product(
    ctx: ServiceContext,
    product_id: int | None,
    details: Mapping[str, Any],
    routes: Iterable[str],
    spec: Mapping[str, Any],
    reason: str | None = None,
) -> int:
    """The desktop product editor's save: details, labelled routes and specification of a new product
    (`product_id` None) or an amendment (a reason is required) as ONE transaction with one audit entry, so a
    refused field leaves nothing half-saved. Every field's problem is reported at once."""
    creating = product_id is None
    errors: list[FieldError] = []
    try:
        parsed = _parse_details(details, creating=creating)
    except ValidationError as error:
        parsed, errors = {}, list(error.errors)
    wanted, route_errors = _parse_routes(routes)
    limits, spec_errors = _parse_spec(spec)
    errors += route_errors + spec_errors
    if not creating and (not reason or not reason.strip()):
        errors.append(FieldError("reason", "give the reason for the amendment (it is kept in the audit trail)"))
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        product = Product(created_at=utcnow()) if creating else _product(session, product_id)  # type: ignore[arg-type]  # set when amending
        before = {} if creating else _product_state(product)
        _apply(session, product, parsed)
        for key, value in limits.items():
            setattr(product, key, value)
        if creating:
            session.add(product)
            session.flush()
        product.labelled_routes = [ProductRoute(route=r) for r in sorted(wanted)]
        session.flush()
        after = _product_state(product)
        if creating:
            record = AuditRecord("create product", "product", product.id, before={}, after=after)
        else:
            old, new = changes(before, after)
            record = AuditRecord(
                "update product",
                "product",
                product.id,
                before=old,
                after=new or {"unchanged": True},
                reason=reason.strip() if reason else None,
            )
        ctx.audit(session, record)
        return product.id


@changing("change labelled routes", STAFF)
def set_labelled_routes(
    ctx: ServiceContext, product_id: int, routes: Iterable[str], reason: str | None = None
) -> tuple[str, ...]:
    """Replace the routes the product's label permits."""
    wanted, errors = _parse_routes(routes)
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        product = _product(session, product_id)
        before = sorted(r.route for r in product.labelled_routes)
        product.labelled_routes = [ProductRoute(route=r) for r in sorted(wanted)]
        session.flush()
        ctx.audit(
            session,
            AuditRecord(
                "set labelled routes",
                "product",
                product.id,
                before={"labelled_routes": before},
                after={"labelled_routes": sorted(wanted)},
                reason=reason,
            ),
        )
        return tuple(sorted(wanted))


@changing("change product specifications", STAFF)
def set_specification(ctx: ServiceContext, product_id: int, spec: Mapping[str, Any], reason: str | None = None) -> None:
    """The product's own limits (endotoxin max EU/mL, size range nm, concentration tolerance %); None or an
    empty value falls back to the default limits of the flag rules."""
    parsed, errors = _parse_spec(spec)
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        product = _product(session, product_id)
        before = {k: getattr(product, k) for k in _SPEC_FIELDS}
        for key, value in parsed.items():
            setattr(product, key, value)
        after = {k: getattr(product, k) for k in _SPEC_FIELDS}
        if (
            after["spec_size_min_nm"] is not None
            and after["spec_size_max_nm"] is not None
            and after["spec_size_min_nm"] > after["spec_size_max_nm"]
        ):
            raise ValidationError([FieldError("spec_size_max_nm", "is below the minimum size")])
        ctx.audit(
            session, AuditRecord("set specification", "product", product.id, before=before, after=after, reason=reason)
        )


@changing("set regulatory status", STAFF)
def set_regulatory_status(
    ctx: ServiceContext,
    product_id: int,
    status: str,
    jurisdiction: str | None = None,
    reference: str | None = None,
    evidence_document_id: int | None = None,
    verified_on: date | str | None = None,
    reason: str | None = None,
    evidence_path: str | Path | None = None,
) -> int:
    """Record the product's status in a jurisdiction (default: the site's), with its reference number,
    evidence document and the date it was verified; the verifier is the signed-in user. `evidence_path` is a
    file to attach as the product's regulatory certificate and use as the evidence, in the same transaction
    (a refused status leaves no stray document)."""
    errors: list[FieldError] = []
    evidence: NewDocument | None = None
    if evidence_path is not None:
        try:
            evidence = check_document(DocumentKind.REGULATORY_CERTIFICATE, product_id=product_id, path=evidence_path)
        except ValidationError as error:
            errors += [FieldError("evidence", e.message) for e in error.errors]
    parsed_status = parsed_jurisdiction = None
    try:
        parsed_status = _STATUS(str(status).strip())
    except cells.CellError as error:
        errors.append(FieldError("status", str(error)))
    if jurisdiction:
        try:
            parsed_jurisdiction = cells.parse_jurisdiction(jurisdiction.strip())
        except cells.CellError as error:
            errors.append(FieldError("jurisdiction", str(error)))
    verified: date | None = None
    if isinstance(verified_on, date):
        verified = verified_on
    elif verified_on:
        try:
            verified = cells.parse_date(verified_on.strip())
        except cells.CellError as error:
            errors.append(FieldError("verified_on", str(error)))
    if verified is not None and verified > site_today(ctx):
        errors.append(FieldError("verified_on", f"{verified.isoformat()} is in the future"))
    reference = reference.strip() if reference and reference.strip() else None
    if reference and len(reference) > 200:
        errors.append(FieldError("reference", "at most 200 characters fit"))
    if errors:
        raise ValidationError(errors)
    assert parsed_status is not None  # a status that did not parse is among the errors raised above
    with ctx.db.write() as session:
        product = _product(session, product_id)
        where = parsed_jurisdiction or current_site(session, ctx.site_code).jurisdiction
        if evidence is not None:
            evidence_document_id = store_document(ctx, session, evidence)
        elif evidence_document_id is not None:
            document = session.get(Document, evidence_document_id)
            if document is None:
                raise ValidationError([FieldError("evidence_document_id", f"no document {evidence_document_id}")])
        row = session.execute(
            select(ProductRegulatoryStatus).where(
                ProductRegulatoryStatus.product_id == product.id, ProductRegulatoryStatus.jurisdiction == where
            )
        ).scalar_one_or_none()
        before = snapshot(row) if row is not None else {}
        if row is None:
            row = ProductRegulatoryStatus(product_id=product.id, jurisdiction=where)
            session.add(row)
        row.status, row.reference, row.evidence_document_id = parsed_status, reference, evidence_document_id
        row.verified_on = verified
        row.verified_by = ctx.actor.display_name if ctx.actor else None
        row.updated_at = utcnow()
        session.flush()
        old, new = changes(before, snapshot(row)) if before else ({}, snapshot(row))
        ctx.audit(
            session,
            AuditRecord(
                "set regulatory status",
                "product",
                product.id,
                before=old,
                after={"jurisdiction": where, **new},
                reason=reason,
            ),
        )
        return row.id


def _info(product: Product) -> ProductInfo:
    return ProductInfo(
        id=product.id,
        name=product.name,
        product_type=product.product_type,
        gtin=product.gtin,
        manufacturer=product.manufacturer.name if product.manufacturer else None,
        details=snapshot(product),
        labelled_routes=tuple(r.route for r in product.labelled_routes),
        regulatory=tuple(snapshot(s) for s in product.regulatory_statuses),
    )


def get_product(ctx: ServiceContext, product_id: int) -> ProductInfo:
    ctx.require(READERS, "view products")
    with ctx.db.read() as session:
        return _info(_product(session, product_id))


def find_product_by_gtin(ctx: ServiceContext, gtin: str) -> ProductInfo | None:
    """The product whose GTIN matches (any GTIN length: compared as 14 digits)."""
    ctx.require(READERS, "view products")
    try:
        normalised = cells.parse_gtin(gtin.strip())
    except cells.CellError:
        return None
    with ctx.db.read() as session:
        # The same GTIN may have been stored in its short form (GTIN-8/12/13) by another path.
        forms = [normalised[i:] for i in (0, 1, 2, 6) if normalised[:i] == "0" * i]
        product = session.execute(select(Product).where(Product.gtin.in_(forms)).order_by(Product.id)).scalars().first()
        return _info(product) if product is not None else None


def list_products(ctx: ServiceContext) -> list[ProductInfo]:
    ctx.require(READERS, "view products")
    with ctx.db.read() as session:
        return [_info(p) for p in session.execute(select(Product).order_by(Product.name_key)).scalars()]


def find_product_by_name(ctx: ServiceContext, name: str) -> ProductInfo:
    """The product with this name (compared trimmed and case-insensitively, as names are kept unique)."""
    ctx.require(READERS, "view products")
    key = name_key(name or "")
    if not key:
        raise ValidationError("give a product name", field="product")
    with ctx.db.read() as session:
        product = session.execute(select(Product).where(Product.name_key == key)).scalars().first()
        if product is None:
            raise NotFound(f"no product named {name.strip()!r}")
        return _info(product)
