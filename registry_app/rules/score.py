"""The documentation completeness score of rules.md: per lot, the share of the documentation items that apply
to it, computed in SQL over the same lot facts the rules read; averaged per product and per supplier."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..domain import Lot, Supplier
from ..domain.vocab import STATUSES_NEEDING_REFERENCE
from .common import MAX_SQL_IDS, Request, present
from .lot_rules import EV_ITEMS, PN_ITEMS, lot_facts


@dataclass(frozen=True)
class Average:
    id: int | None
    name: str
    lots: int
    score: float


def _bit(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _score_columns(f: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    exosome = f.c.product_type == "exosome"
    human = f.c.donor_applies == 1  # donor eligibility applies: human-derived exosome, not autologous
    invasive = f.c.invasive == 1
    applicable = (
        literal(7)  # manufacturer, source, regulatory status, CoA, supplier, receipt check, expiry
        + _bit(human)
        + case((exosome, len(EV_ITEMS)), else_=len(PN_ITEMS))
        + case((and_(invasive, exosome), 3), (invasive, 2), else_=0)
    )
    status_ok = and_(
        f.c.reg_status.is_not(None),
        f.c.reg_status != "unknown",
        or_(f.c.reg_status.not_in(sorted(STATUSES_NEEDING_REFERENCE)), present(f.c.reg_reference)),
    )
    done = (
        _bit(and_(f.c.manufacturer_id.is_not(None), func.lower(func.coalesce(f.c.manufacturer_name, "")) != "unknown"))
        + _bit(
            or_(
                and_(exosome, f.c.source.is_not(None), f.c.source != "unknown"),
                and_(~exosome, f.c.pn_species.is_not(None), f.c.pn_species != "unknown"),
            )
        )
        + _bit(status_ok)
        + _bit(or_(present(f.c.coa_ref), f.c.coa_doc == 1))
        + _bit(f.c.supplier_id.is_not(None))
        + _bit(and_(f.c.receipt_temperature_c.is_not(None), f.c.package_intact.is_not(None)))
        + _bit(f.c.expiry_date.is_not(None))
        + _bit(and_(human, or_(present(f.c.donor_eligibility_ref), f.c.donor_doc == 1)))
        + case(
            (exosome, sum((f.c[item] for item in EV_ITEMS), start=literal(0))),
            else_=sum((f.c[item] for item in PN_ITEMS), start=literal(0)),
        )
        + case(
            (invasive, f.c.has_sterility + f.c.has_endotoxin + _bit(and_(exosome, f.c.has_mycoplasma == 1))), else_=0
        )
    )
    return applicable, done


def _facts(session: Session, jurisdiction: str, site_id: int | None) -> Any:
    """The lots' facts; with `site_id`, that site's lots only (a user of one site scores their own)."""
    facts = lot_facts(Request(session, jurisdiction.upper(), date.today(), frozenset())).subquery("facts")
    if site_id is None:
        return facts
    site_lots = select(Lot.id).where(Lot.site_id == site_id)
    return select(facts).where(facts.c.lot_id.in_(site_lots)).subquery("site_facts")


def _scored(session: Session, jurisdiction: str, site_id: int | None) -> Any:
    facts = _facts(session, jurisdiction, site_id)
    applicable, done = _score_columns(facts)
    return select(
        facts.c.lot_id,
        facts.c.product_id,
        facts.c.product_name,
        facts.c.supplier_id,
        (100.0 * done / applicable).label("score"),
    ).subquery("scored")


def score_buckets(session: Session, jurisdiction: str, site_id: int | None = None) -> list[int]:
    """How many lots score 0-19, 20-39, 40-59, 60-79 and 80-100 (the dashboard's chart), counted in SQL by
    (items done, items applicable): a few hundred pairs at most, where a million lots' scores fetched into
    Python took 6 s. The shown score rounds to 0.1, which moves no lot across a bound (k/n with n <= 25 is
    never within 0.05 of a multiple of 20 without being one), so the pairs are bucketed exactly, in integers."""
    facts = _facts(session, jurisdiction, site_id)
    applicable, done = _score_columns(facts)
    pairs = select(done.label("done"), applicable.label("applicable"), func.count()).group_by(
        literal_column("done"), literal_column("applicable")
    )
    buckets = [0] * 5
    for items_done, items_applicable, lots in session.execute(pairs):
        buckets[min(5 * int(items_done) // int(items_applicable), 4)] += int(lots)
    return buckets


def lot_scores(
    session: Session, jurisdiction: str, lot_ids: Collection[int] | None = None, site_id: int | None = None
) -> dict[int, float]:
    """Lot id -> completeness score (0-100), for the given lots or all (of the site `site_id`, when given)."""
    scored = _scored(session, jurisdiction, site_id)
    query = select(scored.c.lot_id, scored.c.score)
    wanted = None if lot_ids is None else set(lot_ids)
    if wanted is not None and len(wanted) <= MAX_SQL_IDS:
        query = query.where(scored.c.lot_id.in_(sorted(wanted)))
    return {
        row.lot_id: round(float(row.score), 1)
        for row in session.execute(query)
        if wanted is None or row.lot_id in wanted
    }


def product_averages(session: Session, jurisdiction: str, site_id: int | None = None) -> list[Average]:
    scored = _scored(session, jurisdiction, site_id)
    query = (
        select(scored.c.product_id, scored.c.product_name, func.count(), func.avg(scored.c.score))
        .group_by(scored.c.product_id, scored.c.product_name)
        .order_by(scored.c.product_name)
    )
    return [Average(pid, name, n, round(float(avg), 1)) for pid, name, n, avg in session.execute(query)]


def supplier_averages(session: Session, jurisdiction: str, site_id: int | None = None) -> list[Average]:
    scored = _scored(session, jurisdiction, site_id)
    query = (
        select(scored.c.supplier_id, Supplier.name, func.count(), func.avg(scored.c.score))
        .select_from(scored)
        .outerjoin(Supplier, Supplier.id == scored.c.supplier_id)
        .group_by(scored.c.supplier_id, Supplier.name)
        .order_by(Supplier.name)
    )
    return [
        Average(sid, name or "(no supplier)", n, round(float(avg), 1)) for sid, name, n, avg in session.execute(query)
    ]
