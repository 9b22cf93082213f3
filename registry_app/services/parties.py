"""Manufacturers and suppliers: created and amended by name (and a manufacturer's country). A party is never
deleted: lots and products point at it, and a correction is an amendment with a reason in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_app.domain import Manufacturer, Supplier, name_key, utcnow
from registry_app.importers import cells
from registry_app.services.audit import AuditRecord, changes, snapshot
from registry_app.services.context import READERS, STAFF, ServiceContext, changing
from registry_app.services.errors import FieldError, NotFound, ValidationError

_NAME = cells.text(200)


@dataclass(frozen=True)
class PartyInfo:
    id: int
    kind: str  # "manufacturer" or "supplier"
    name: str
    country: str | None = None


def _name(name: str | None, errors: list[FieldError]) -> str | None:
    text = " ".join((name or "").split())
    if not text:
        errors.append(FieldError("name", "is required"))
        return None
    try:
        return str(_NAME(text))
    except cells.CellError as error:
        errors.append(FieldError("name", str(error)))
        return None


def _country(country: str | None, errors: list[FieldError]) -> str | None:
    text = (country or "").strip()
    if not text:
        return None  # not known: the label does not say
    try:
        return cells.parse_country(text)
    except cells.CellError as error:
        errors.append(FieldError("country", str(error)))
        return None


def _reason(reason: str | None, errors: list[FieldError]) -> str:
    if not reason or not reason.strip():
        errors.append(FieldError("reason", "give the reason for the amendment (it is kept in the audit trail)"))
        return ""
    return reason.strip()


def _unique(session: Session, model: type[Manufacturer] | type[Supplier], name: str, own_id: int | None) -> None:
    clash = session.execute(
        select(model.id).where(model.name_key == name_key(name), model.id != (own_id or 0))
    ).scalar()
    if clash is not None:
        what = "manufacturer" if model is Manufacturer else "supplier"
        raise ValidationError([FieldError("name", f"a {what} named {name!r} exists already")])


@changing("add manufacturers", STAFF)
def create_manufacturer(ctx: ServiceContext, name: str, country: str | None = None) -> int:
    errors: list[FieldError] = []
    clean, code = _name(name, errors), _country(country, errors)
    if errors or clean is None:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        _unique(session, Manufacturer, clean, None)
        row = Manufacturer(name=clean, name_key=name_key(clean), country=code, created_at=utcnow())
        session.add(row)
        session.flush()
        ctx.audit(session, AuditRecord("create manufacturer", "manufacturer", row.id, before={}, after=snapshot(row)))
        return row.id


@changing("change manufacturers", STAFF)
def update_manufacturer(ctx: ServiceContext, manufacturer_id: int, name: str, country: str | None, reason: str) -> None:
    """Correct a manufacturer's name or country; every product made by it follows."""
    errors: list[FieldError] = []
    clean, code, why = _name(name, errors), _country(country, errors), _reason(reason, errors)
    if errors or clean is None:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        row = session.get(Manufacturer, manufacturer_id)
        if row is None:
            raise NotFound(f"no manufacturer with id {manufacturer_id}")
        _unique(session, Manufacturer, clean, row.id)
        before = snapshot(row)
        row.name, row.name_key, row.country = clean, name_key(clean), code
        session.flush()
        old, new = changes(before, snapshot(row))
        ctx.audit(
            session,
            AuditRecord(
                "update manufacturer", "manufacturer", row.id, before=old, after=new or {"unchanged": True}, reason=why
            ),
        )


@changing("add suppliers", STAFF)
def create_supplier(ctx: ServiceContext, name: str) -> int:
    errors: list[FieldError] = []
    clean = _name(name, errors)
    if errors or clean is None:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        _unique(session, Supplier, clean, None)
        row = Supplier(name=clean, name_key=name_key(clean), created_at=utcnow())
        session.add(row)
        session.flush()
        ctx.audit(session, AuditRecord("create supplier", "supplier", row.id, before={}, after=snapshot(row)))
        return row.id


@changing("change suppliers", STAFF)
def update_supplier(ctx: ServiceContext, supplier_id: int, name: str, reason: str) -> None:
    errors: list[FieldError] = []
    clean, why = _name(name, errors), _reason(reason, errors)
    if errors or clean is None:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        row = session.get(Supplier, supplier_id)
        if row is None:
            raise NotFound(f"no supplier with id {supplier_id}")
        _unique(session, Supplier, clean, row.id)
        before = snapshot(row)
        row.name, row.name_key = clean, name_key(clean)
        session.flush()
        old, new = changes(before, snapshot(row))
        ctx.audit(
            session,
            AuditRecord(
                "update supplier", "supplier", row.id, before=old, after=new or {"unchanged": True}, reason=why
            ),
        )


def list_manufacturers(ctx: ServiceContext) -> list[PartyInfo]:
    ctx.require(READERS, "view manufacturers")
    with ctx.db.read() as session:
        rows = session.execute(select(Manufacturer).order_by(func.lower(Manufacturer.name))).scalars()
        return [PartyInfo(m.id, "manufacturer", m.name, m.country) for m in rows]


def list_suppliers(ctx: ServiceContext) -> list[PartyInfo]:
    ctx.require(READERS, "view suppliers")
    with ctx.db.read() as session:
        rows = session.execute(select(Supplier).order_by(func.lower(Supplier.name))).scalars()
        return [PartyInfo(s.id, "supplier", s.name) for s in rows]


def get_party(ctx: ServiceContext, kind: str, party_id: int) -> PartyInfo:
    ctx.require(READERS, f"view {kind}s")
    with ctx.db.read() as session:
        row = session.get(Manufacturer, party_id) if kind == "manufacturer" else session.get(Supplier, party_id)
        if row is None:
            raise NotFound(f"no {kind} with id {party_id}")
        return PartyInfo(row.id, kind, row.name, getattr(row, "country", None))
