"""The audit trail as people read it (issue 20.3): one row per changed field, with the time in the site's
zone, who, the action, the record it concerns by name (lot number, product name), the field, its value
before and after, and the reason. The stored entries (services/audit.py) keep their JSON; only the view is
field-level. Checking the hash chain is `audit.verify_trail`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import AuditEntry, Lot, Product, User
from registry_app.reports.data import WITHHELD, Pseudonym, pseudonymize_json
from registry_app.services import site_scope
from registry_app.services.clock import SiteClock, site_clock
from registry_app.services.context import READERS, ServiceContext
from registry_app.services.privacy import patient_view, sees_pseudonyms

# Internal bookkeeping that says nothing a reader needs in a field-level view.
HIDDEN_FIELDS = frozenset({"id", "created_at", "updated_at", "name_key"})


@dataclass(frozen=True)
class AuditRow:
    seq: int
    when: str  # site-local, with zone and seconds (the audit trail is where seconds matter)
    who: str
    action: str
    subject: str
    field: str
    before: str
    after: str
    reason: str


def _load(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"(unreadable)": text}
    return value if isinstance(value, dict) else {"value": value}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return ", ".join(map(_cell, value)) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
    return str(value)


def _subjects(session: Session, entries: Iterable[AuditEntry]) -> dict[tuple[str, str], str]:
    """Readable names of the lots and products the entries concern, in two queries."""
    ids: dict[str, set[int]] = {"lot": set(), "product": set(), "user": set()}
    for entry in entries:
        if entry.entity_type in ids and entry.entity_id and entry.entity_id.isdigit():
            ids[entry.entity_type].add(int(entry.entity_id))
    names: dict[tuple[str, str], str] = {}
    if ids["lot"]:
        for lot_id, number, product in session.execute(
            select(Lot.id, Lot.lot_number, Product.name)
            .join(Product, Product.id == Lot.product_id)
            .where(Lot.id.in_(ids["lot"]))
        ):
            names[("lot", str(lot_id))] = f"lot {number} ({product})"
    if ids["product"]:
        for product_id, name in session.execute(select(Product.id, Product.name).where(Product.id.in_(ids["product"]))):
            names[("product", str(product_id))] = f"product {name}"
    if ids["user"]:
        for user_id, username in session.execute(select(User.id, User.username).where(User.id.in_(ids["user"]))):
            names[("user", str(user_id))] = f"user {username}"
    return names


def field_rows(
    entry: AuditEntry, clock: SiteClock, subject: str, inspector_view: Pseudonym | None = None
) -> list[AuditRow]:
    """One row per field whose value differs between before and after; one row when no field changed.

    With `inspector_view` (an inspector reads), patient references show as their pseudonyms and free text
    (notes, reasons, narratives) is withheld, as in the inspector's exports."""
    before_text, after_text, reason = entry.before, entry.after, entry.reason or ""
    if inspector_view is not None:
        before_text = pseudonymize_json(before_text, inspector_view, free_text=False)
        after_text = pseudonymize_json(after_text, inspector_view, free_text=False)
        reason = WITHHELD if reason else ""
    before, after = _load(before_text), _load(after_text)
    fields = [k for k in dict.fromkeys([*before, *after]) if k not in HIDDEN_FIELDS and before.get(k) != after.get(k)]
    when = clock.show_utc(entry.occurred_at, seconds=True)
    common = (entry.seq, when, entry.username, entry.action, subject)
    if not fields:
        return [AuditRow(*common, "", "", "", reason)]
    return [AuditRow(*common, name, _cell(before.get(name)), _cell(after.get(name)), reason) for name in fields]


def inspector_view(ctx: ServiceContext) -> Pseudonym | None:
    """The pseudonyms `ctx`'s user sees the trail with (an inspector), or None (the trail as recorded).
    Called before the read transaction opens: the registry's key may be created on first use."""
    return patient_view(ctx) if sees_pseudonyms(ctx) else None


def audit_history(ctx: ServiceContext, limit: int = 1000) -> list[AuditRow]:
    """The newest `limit` entries of the trail, newest first, one row per changed field."""
    ctx.require(READERS, "view the audit trail")
    clock = site_clock(ctx)
    view = inspector_view(ctx)
    with ctx.db.read() as session:
        query = select(AuditEntry).where(*site_scope.audit_conditions(ctx))
        entries = list(session.execute(query.order_by(AuditEntry.seq.desc()).limit(limit)).scalars())
        names = _subjects(session, entries)
        rows: list[AuditRow] = []
        for entry in entries:
            key = (entry.entity_type, entry.entity_id or "")
            subject = names.get(key) or " ".join(p for p in (entry.entity_type.replace("_", " "), entry.entity_id) if p)
            rows += field_rows(entry, clock, subject, view)
        return rows
