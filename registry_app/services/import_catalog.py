"""The catalogue side of a lot import: the product details a file gives (first row wins, or with --update the
last), and the products, manufacturers and suppliers it names, created or completed in the import's
transaction before its lots are written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry_app.domain import Manufacturer, Product, ProductRegulatoryStatus, ProductRoute, Supplier, name_key
from registry_app.importers.lot_rows import PRODUCT_FIELDS, ValidatedLots


@dataclass
class ProductPlan:
    """What the file says of one product: its first row, and the details, routes and statuses it gives."""

    key: str
    name: str
    row: int
    product_type: str
    fields: dict[str, Any] = field(default_factory=dict)
    manufacturer: str | None = None
    manufacturer_country: str | None = None
    routes: set[str] = field(default_factory=set)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # jurisdiction -> status, reference


def plan_products(lots: ValidatedLots, jurisdiction: str, update_: bool) -> dict[str, ProductPlan]:
    """The product details the file gives, per product: the first row's value wins, or the last with
    --update (a later row is a later correction). Worked out a column at a time."""
    keys, numbers = lots.product_keys, lots.numbers
    names, types = lots.columns["product_name"], lots.columns["product_type"]
    first: dict[str, int] = {}
    for position, key in enumerate(keys):
        first.setdefault(key, position)
    plans = {key: ProductPlan(key, " ".join(names[p].split()), numbers[p], types[p]) for key, p in first.items()}

    def chosen(*per_row: list[Any]) -> Iterator[tuple[Any, ...]]:
        """The distinct (product key, values...) of these columns in the order that decides: first seen first,
        or with --update last seen first. Products repeat over thousands of rows: the rows are deduplicated
        at C speed and only the few distinct combinations visited."""
        rows = zip(keys, *per_row, strict=True)
        return iter(dict.fromkeys(rows if not update_ else reversed(list(rows))))

    for name in PRODUCT_FIELDS:
        column = lots.columns.get(name)
        if column is not None:
            for key, value in chosen(column):
                if value is not None:
                    plans[key].fields.setdefault(name, value)
    if "manufacturer" in lots.columns:
        decided: set[str] = set()
        for key, manufacturer, country in chosen(lots.columns["manufacturer"], lots.column("manufacturer_country")):
            if manufacturer is not None and key not in decided:
                decided.add(key)
                plans[key].manufacturer, plans[key].manufacturer_country = manufacturer, country
    if "labelled_routes" in lots.columns:
        for key, routes in chosen(lots.columns["labelled_routes"]):
            if routes:
                plans[key].routes.update(routes)
    if "regulatory_status" in lots.columns:
        statuses_given = zip(
            keys,
            lots.columns["regulatory_status"],
            lots.column("regulatory_jurisdiction"),
            lots.column("regulatory_reference"),
            strict=True,
        )
        # Every row in file order with --update (a later row overrides, and the order of jurisdictions is the
        # order first given); otherwise the first of each repeated combination decides, as it would row by row.
        for key, status, where_given, reference in statuses_given if update_ else dict.fromkeys(statuses_given):
            if status is not None:
                statuses = plans[key].statuses
                where = where_given or jurisdiction
                if update_ or where not in statuses:
                    statuses[where] = {"status": status, "reference": reference}
    return plans


def name_ids(session: Session, model: type[Manufacturer] | type[Supplier]) -> dict[str, int]:
    return dict(session.execute(select(model.name_key, model.id)).all())


def ensure_names(
    session: Session,
    model: type[Manufacturer] | type[Supplier],
    wanted: dict[str, dict[str, Any]],
    known: dict[str, int],
    now: datetime,
) -> list[int]:
    """Create the manufacturers or suppliers not yet known; returns the new ids."""
    new = [
        {"name": v["name"], "name_key": k, "created_at": now, **v.get("extra", {})}
        for k, v in wanted.items()
        if k not in known
    ]
    if not new:
        return []
    session.execute(insert(model), new)
    created = session.execute(
        select(model.name_key, model.id).where(model.name_key.in_([n["name_key"] for n in new]))
    ).all()
    known.update(created)
    return [i for _, i in created]


def write_products(
    session: Session,
    plans: dict[str, ProductPlan],
    products: dict[str, tuple[int, str]],
    manufacturers: dict[str, int],
    now: datetime,
    update_: bool,
) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Create new products; fill in (or with --update, change) details of known ones. Returns the changed
    fields of known products (before, after by product id) and the keys of products that existed."""
    existing_keys = {key for key in plans if key in products}
    new = [
        {
            **{name: p.fields.get(name) for name in PRODUCT_FIELDS},
            "name": p.name,
            "name_key": p.key,
            "manufacturer_id": manufacturers[name_key(p.manufacturer)] if p.manufacturer else None,
            "created_at": now,
        }
        for key, p in plans.items()
        if key not in products
    ]
    if new:
        session.execute(insert(Product), new)
        products.update(
            {
                key: (pid, ptype)
                for key, pid, ptype in session.execute(
                    select(Product.name_key, Product.id, Product.product_type).where(
                        Product.name_key.in_([n["name_key"] for n in new])
                    )
                )
            }
        )
    changed_before: dict[str, Any] = {}
    changed_after: dict[str, Any] = {}
    for key in existing_keys:
        plan = plans[key]
        product = session.get(Product, products[key][0])
        assert product is not None
        wanted = dict(plan.fields)
        if plan.manufacturer:
            wanted["manufacturer_id"] = manufacturers[name_key(plan.manufacturer)]
        diff_before, diff_after = {}, {}
        for name, value in wanted.items():
            current = getattr(product, name)
            if current != value and (update_ or current is None):
                diff_before[name], diff_after[name] = current, value
                setattr(product, name, value)
        if diff_after:
            changed_before[str(product.id)], changed_after[str(product.id)] = diff_before, diff_after
    session.flush()
    ids = {key: products[key][0] for key in plans}
    current_routes = set(
        session.execute(
            select(ProductRoute.product_id, ProductRoute.route).where(ProductRoute.product_id.in_(list(ids.values())))
        )
    )
    new_routes = [
        {"product_id": ids[key], "route": route}
        for key, plan in plans.items()
        for route in sorted(plan.routes)
        if (ids[key], route) not in current_routes
    ]
    if new_routes:
        session.execute(insert(ProductRoute), new_routes)
    statuses = {
        (s.product_id, s.jurisdiction): s
        for s in session.execute(
            select(ProductRegulatoryStatus).where(ProductRegulatoryStatus.product_id.in_(list(ids.values())))
        ).scalars()
    }
    for key, plan in plans.items():
        for where, wanted_status in plan.statuses.items():
            current = statuses.get((ids[key], where))
            if current is None:
                session.add(
                    ProductRegulatoryStatus(product_id=ids[key], jurisdiction=where, updated_at=now, **wanted_status)
                )
            elif update_ and (current.status, current.reference) != (
                wanted_status["status"],
                wanted_status["reference"],
            ):
                entry = changed_before.setdefault(str(ids[key]), {})
                entry[f"regulatory_status_{where}"] = {"status": current.status, "reference": current.reference}
                changed_after.setdefault(str(ids[key]), {})[f"regulatory_status_{where}"] = wanted_status
                current.status, current.reference, current.updated_at = (
                    wanted_status["status"],
                    wanted_status["reference"],
                    now,
                )
    session.flush()
    return changed_before, changed_after, existing_keys
