"""Receiving lots: receive (quarantine), receive from a GS1 scan, amend with a reason, and read one lot back.
The lifecycle after receipt is in lifecycle.py, characterization results in results.py.

Stock on hand is received - administered - destroyed; destroying a lot destroys what is on hand (the
administrations service keeps the administered total in step with each administration, and imports add
theirs in bulk).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import (
    CharacterizationResult,
    Lot,
    Product,
    Supplier,
    TemperatureExcursion,
    name_key,
    utcnow,
)
from registry_app.domain.exact import ZERO
from registry_app.domain.vocab import (
    LotStatus,
)
from registry_app.importers import cells
from registry_app.importers.gs1 import ScanError, ScanResult, parse_scan
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.audit import changes as changed_fields
from registry_app.services.clock import site_today
from registry_app.services.context import READERS, STAFF, ServiceContext, changing, current_site
from registry_app.services.errors import ConflictError, FieldError, NotFound, ValidationError
from registry_app.services.lots.receipt_checks import (
    ReceiptExcursion,
    excursion_values,
    expiry_warning,
    outside_storage_range,
    temperature_warning,
)

_LOT_FIELD_PARSERS: dict[str, Any] = {
    "lot_number": cells.text(80),
    "serial": cells.text(80),
    "expiry_date": cells.parse_date,
    "manufacture_date": cells.parse_date,
    "received_date": cells.parse_date,
    "received_by": cells.text(200),
    "quantity_received": cells.parse_positive,
    "receipt_temperature_c": cells.parse_number,
    "package_intact": cells.parse_yes_no,
    "donor_eligibility_ref": cells.text(200),
    "coa_ref": cells.text(200),
    "labelled_particles_per_ml": cells.parse_positive,
    "supplier": cells.text(200),
}
_REQUIRED_LOT_FIELDS = ("lot_number", "quantity_received", "received_date")
AMENDABLE_FIELDS = tuple(_LOT_FIELD_PARSERS)


@dataclass(frozen=True)
class ReceiptResult:
    lot_id: int
    product_id: int
    product_name: str
    lot_number: str
    expiry_date: date | None
    serial: str | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ScanMatch:
    """What a scan identifies: the parsed barcode, the product whose GTIN it carries, a lot already received."""

    scan: ScanResult
    product_id: int | None
    product_name: str | None
    existing_lot_id: int | None


def parse_lot_fields(
    values: Mapping[str, Any], required: tuple[str, ...] = (), today: date | None = None
) -> dict[str, Any]:
    """Form values (text, or already typed dates/numbers/booleans) to lot columns; one FieldError per bad
    field. An empty value means "not recorded" (None), except for the fields a lot always has."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key, raw in values.items():
        parse = _LOT_FIELD_PARSERS.get(key)
        if parse is None:
            errors.append(FieldError(key, "is not a lot field that can be changed here"))
            continue
        text = cells.cell_text(raw)
        if not text:
            if key in _REQUIRED_LOT_FIELDS:
                errors.append(FieldError(key, "is required"))
            else:
                out[key] = None
            continue
        try:
            out[key] = parse(text)
        except cells.CellError as error:
            errors.append(FieldError(key, str(error)))
    for key in required:
        if key not in values:
            errors.append(FieldError(key, "is required"))
    received = out.get("received_date")
    if received is not None and received > (today or date.today()):  # the site's today, when the caller knows it
        errors.append(FieldError("received_date", f"{received.isoformat()} is in the future"))
    if errors:
        raise ValidationError(errors)
    return out


def _supplier_id(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    key = name_key(name)
    supplier = session.execute(select(Supplier).where(Supplier.name_key == key)).scalar_one_or_none()
    if supplier is None:
        supplier = Supplier(name=" ".join(name.split()), name_key=key)
        session.add(supplier)
        session.flush()
    return supplier.id


def find_lot(session: Session, ctx: ServiceContext, lot_id: int) -> Lot:
    """The lot, if the user may see it (services/site_scope.py): another site's is "no lot" too."""
    return site_scope.visible_lot(session, ctx, lot_id)


def _receipt_warnings(product_name: str, storage_form: str | None, fields: Mapping[str, Any]) -> tuple[str, ...]:
    """What a receipt with these lot fields should warn about (the same before saving and after)."""
    warnings = [
        expiry_warning(fields.get("lot_number"), fields.get("expiry_date"), fields.get("received_date")),
        temperature_warning(product_name, storage_form, fields.get("receipt_temperature_c")),
        "the package was not intact: inspect before release, or reject the lot"
        if fields.get("package_intact") is False
        else None,
    ]
    return tuple(w for w in warnings if w)


def receipt_warnings(
    ctx: ServiceContext,
    details: Mapping[str, Any],
    product_id: int | None = None,
    storage_form: str | None = None,
    product_name: str | None = None,
) -> tuple[str, ...]:
    """The warnings a receipt of these lot details would give (expired on arrival, temperature outside the
    storage range, package not intact), without saving anything: the desktop shows them and asks before it
    receives. The product is a registered one (`product_id`) or a new one described by `storage_form`."""
    ctx.require(STAFF, "receive lots")
    today = site_today(ctx)
    fields = parse_lot_fields({"received_date": today, **details}, today=today)
    if product_id is not None:
        with ctx.db.read() as session:
            product = session.get(Product, product_id)
            if product is None:
                raise NotFound(f"no product with id {product_id}")
            storage_form, product_name = product.storage_form, product.name
    return _receipt_warnings(product_name or "the product", storage_form, fields)


def _checked_fields(lot: Lot) -> dict[str, Any]:
    return {
        name: getattr(lot, name)
        for name in ("lot_number", "expiry_date", "received_date", "receipt_temperature_c", "package_intact")
    }


def _record_receipt_excursion(ctx: ServiceContext, session: Session, product: Product, lot: Lot) -> None:
    """Ruling 2: a receipt outside the storage range is an excursion, open (USE-TEMPERATURE) until resolved."""
    if lot.received_date is None or not outside_storage_range(product.storage_form, lot.receipt_temperature_c):
        return
    assert product.storage_form is not None and lot.receipt_temperature_c is not None
    excursion = TemperatureExcursion(
        **excursion_values(
            ReceiptExcursion(lot.id, lot.received_date, lot.receipt_temperature_c, product.storage_form), utcnow()
        )
    )
    session.add(excursion)
    session.flush()
    ctx.audit(
        session,
        AuditRecord(
            "record temperature excursion", "temperature_excursion", excursion.id, before={}, after=snapshot(excursion)
        ),
    )


def _receive(
    ctx: ServiceContext,
    session: Session,
    product: Product,
    fields: dict[str, Any],
    action: str,
    extra_after: dict[str, Any] | None = None,
) -> ReceiptResult:

    site_id = current_site(session, ctx.site_code).id
    # Per site: another clinic of the group may hold the same manufacturer's lot (migration 0011).
    clash = session.execute(
        select(Lot.id).where(
            Lot.product_id == product.id, Lot.lot_number == fields["lot_number"], *site_scope.held_at(site_id)
        )
    ).scalar()
    if clash is not None:
        raise ConflictError(
            f"lot {fields['lot_number']} of {product.name} is already in the registry "
            f"(lot id {clash}): amend that record instead"
        )
    supplier = fields.pop("supplier", None)
    lot = Lot(
        product_id=product.id,
        site_id=site_id,
        supplier_id=_supplier_id(session, supplier),
        status=LotStatus.QUARANTINE.value,
        quantity_administered=ZERO,
        quantity_destroyed=ZERO,
        created_at=utcnow(),
        **fields,
    )
    if not lot.received_by and ctx.actor is not None:
        lot.received_by = ctx.actor.display_name
    session.add(lot)
    session.flush()
    ctx.audit(session, AuditRecord(action, "lot", lot.id, before={}, after={**snapshot(lot), **(extra_after or {})}))
    _record_receipt_excursion(ctx, session, product, lot)
    return ReceiptResult(
        lot.id,
        product.id,
        product.name,
        lot.lot_number,
        lot.expiry_date,
        lot.serial,
        _receipt_warnings(product.name, product.storage_form, _checked_fields(lot)),
    )


@changing("receive lots", STAFF)
def receive_lot(ctx: ServiceContext, product_id: int, details: Mapping[str, Any]) -> ReceiptResult:
    """Receive a lot of a known product into quarantine. `details`: lot_number, quantity_received,
    received_date (default today), expiry_date, supplier (name), receipt_temperature_c, package_intact, ..."""
    today = site_today(ctx)
    values = {"received_date": today, **details}
    fields = parse_lot_fields(values, required=("lot_number", "quantity_received"), today=site_today(ctx))
    if product_id is None:
        raise ValidationError("choose the product this lot is of", "product")
    with ctx.db.write() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound(f"no product with id {product_id}")
        return _receive(ctx, session, product, fields, "receive lot")


def _product_for_gtin(session: Session, gtin: str) -> Product | None:
    forms = [gtin[i:] for i in (0, 1, 2, 6) if gtin[:i] == "0" * i]
    return session.execute(select(Product).where(Product.gtin.in_(forms)).order_by(Product.id)).scalars().first()


def _scan(text: str, fnc1_stand_in: str | None) -> ScanResult:
    try:
        return parse_scan(text, fnc1_stand_in)
    except ScanError as error:
        raise ValidationError([FieldError("scan", str(error))]) from None


def identify_scan(ctx: ServiceContext, text: str, fnc1_stand_in: str | None = None) -> ScanMatch:
    """Parse a scan and say which product (and lot, if already received) it is, without changing anything."""
    ctx.require(READERS, "look up scans")
    scan = _scan(text, fnc1_stand_in)
    with ctx.db.read() as session:
        product = _product_for_gtin(session, scan.gtin) if scan.gtin else None
        lot_id = None
        if product is not None and scan.lot_number:
            lot_id = session.execute(
                select(Lot.id).where(
                    Lot.product_id == product.id,
                    Lot.lot_number == scan.lot_number,
                    *site_scope.held_at(current_site(session, ctx.site_code).id),
                )
            ).scalar()
        return ScanMatch(scan, product.id if product else None, product.name if product else None, lot_id)


@changing("receive lots", STAFF)
def receive_from_scan(
    ctx: ServiceContext, scan_text: str, details: Mapping[str, Any], fnc1_stand_in: str | None = None
) -> ReceiptResult:
    """Receive a lot from a GS1 scan (GTIN, lot, expiry, serial) plus the receipt check in `details`
    (quantity_received, receipt_temperature_c, package_intact, supplier, ...). The GTIN must be a known
    product's. A value typed in `details` wins over the scan's (a label may be misprinted)."""
    scan = _scan(scan_text, fnc1_stand_in)
    errors = []
    if not scan.gtin:
        errors.append(FieldError("scan", "the barcode has no GTIN (01): scan the product's GS1 DataMatrix"))
    if not scan.lot_number and not details.get("lot_number"):
        errors.append(FieldError("scan", "the barcode has no lot number (10): type the lot number"))
    if errors:
        raise ValidationError(errors)
    values: dict[str, Any] = {
        "received_date": site_today(ctx),
        "lot_number": scan.lot_number,
        "expiry_date": scan.expiry_date,
        "serial": scan.serial,
    }
    values.update({k: v for k, v in details.items() if v is not None and v != ""})
    fields = parse_lot_fields(values, required=("lot_number", "quantity_received"), today=site_today(ctx))
    with ctx.db.write() as session:
        product = _product_for_gtin(session, scan.gtin or "")
        if product is None:
            raise ValidationError(
                [
                    FieldError(
                        "scan",
                        f"GTIN {scan.gtin} is not the GTIN of any product in the "
                        "registry: add the GTIN to the product first",
                    )
                ]
            )
        return _receive(
            ctx, session, product, fields, "receive lot from scan", {"scan": scan_text.strip(), "gtin": scan.gtin}
        )


@changing("amend lots", STAFF)
def amend_lot(ctx: ServiceContext, lot_id: int, changes: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """Correct lot fields (field -> new value; `supplier` by name) with a reason. Returns the fields that
    changed with their new values."""
    errors: list[FieldError] = []
    if not reason or not reason.strip():
        errors.append(FieldError("reason", "give the reason for the correction"))
    try:
        fields = parse_lot_fields(changes, today=site_today(ctx))
    except ValidationError as error:
        errors = error.errors + errors
        fields = {}
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        lot = find_lot(session, ctx, lot_id)
        if "quantity_received" in fields and fields["quantity_received"] < lot.quantity_destroyed:
            raise ValidationError(
                [FieldError("quantity_received", f"is less than the {lot.quantity_destroyed:g} already destroyed")]
            )
        if "lot_number" in fields and fields["lot_number"] != lot.lot_number:
            clash = session.execute(
                select(Lot.id).where(
                    Lot.product_id == lot.product_id,
                    Lot.lot_number == fields["lot_number"],
                    *site_scope.held_at(lot.site_id),
                )
            ).scalar()
            if clash is not None:
                raise ValidationError(
                    [FieldError("lot_number", f"{fields['lot_number']} is already lot id {clash} of this product")]
                )
        before = snapshot(lot)
        if "supplier" in fields:
            lot.supplier_id = _supplier_id(session, fields.pop("supplier"))
        for key, value in fields.items():
            setattr(lot, key, value)
        session.flush()
        old, new = changed_fields(before, snapshot(lot))
        ctx.audit(
            session,
            AuditRecord(
                "amend lot", "lot", lot.id, before=old, after=new or {"unchanged": True}, reason=reason.strip()
            ),
        )
        if "receipt_temperature_c" in new:
            # The corrected receipt reading is the receipt's: outside the range, it is an excursion (ruling 2).
            product = session.get(Product, lot.product_id)
            assert product is not None
            _record_receipt_excursion(ctx, session, product, lot)
        return new


@dataclass(frozen=True)
class LotInfo:
    id: int
    product_id: int
    product_name: str
    lot_number: str
    status: str
    quantity_on_hand: Decimal
    fields: dict[str, Any]
    results: tuple[dict[str, Any], ...]


def get_lot(ctx: ServiceContext, lot_id: int, include_voided: bool = False) -> LotInfo:
    ctx.require(READERS, "view lots")
    with ctx.db.read() as session:
        lot = find_lot(session, ctx, lot_id)
        query = select(CharacterizationResult).where(CharacterizationResult.lot_id == lot.id)
        if not include_voided:
            query = query.where(CharacterizationResult.voided_at.is_(None))
        results = tuple(snapshot(r) for r in session.execute(query.order_by(CharacterizationResult.id)).scalars())
        return LotInfo(
            lot.id,
            lot.product_id,
            lot.product.name,
            lot.lot_number,
            lot.status,
            lot.quantity_on_hand,
            snapshot(lot),
            results,
        )
