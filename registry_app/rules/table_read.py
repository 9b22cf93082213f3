"""Reading the persisted flags (rules/table.py) with SQL: open flags as Flag records, a page at a time by key,
counts by GROUP BY, and the history of a lot's flags. Nothing here evaluates a rule.

A row is a current flag when it is open (closed_at NULL) and due (due_on NULL or on or before the site's
today: AE-UNREPORTED holds from the 16th day after the event was recorded)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..domain import FlagRecord, Lot, Product, User, Waiver
from ..domain.vocab import SEVERITY_RANK
from .catalogue import COMPLIANCE_CODES, RULES, Flag, new_flag
from .common import MAX_SQL_IDS

F = FlagRecord


def current(today: date) -> ColumnElement[bool]:
    return and_(F.closed_at.is_(None), or_(F.due_on.is_(None), F.due_on <= today))


@dataclass(frozen=True)
class PageKey:
    """Where a page ended, in the order of the flags (severity highest first, code, subject): the next page
    starts after it, an index seek rather than an OFFSET that reads every row before it."""

    severity_order: int
    code: str
    subject_id: int
    row_id: int


def _flag_query() -> Any:
    return (
        select(
            F.id,
            F.code,
            F.severity,
            F.severity_order,
            F.subject_type,
            F.subject_id,
            F.product_id,
            Product.name.label("product_name"),
            F.lot_id,
            Lot.lot_number,
            F.message,
            F.facts,
            F.waiver_id,
            Waiver.reason,
            Waiver.waived_at,
            Waiver.signature_id,
            func.coalesce(User.full_name, User.username).label("waived_by"),
        )
        .select_from(F)
        .outerjoin(Product, Product.id == F.product_id)
        .outerjoin(Lot, Lot.id == F.lot_id)
        .outerjoin(Waiver, Waiver.id == F.waiver_id)
        .outerjoin(User, User.id == Waiver.waived_by_id)
    )


def _flag(row: Any) -> Flag:
    item = new_flag(
        row.code,
        row.severity,
        row.subject_type,
        row.subject_id,
        row.product_id,
        row.product_name,
        row.lot_id,
        row.lot_number,
        row.message,
        row.facts,
    )
    if row.waiver_id is not None:
        item.__dict__.update(
            waived=True,
            waiver={
                "id": row.waiver_id,
                "reason": row.reason,
                "waived_by": row.waived_by,
                "waived_at": row.waived_at,
                "signature_id": row.signature_id,
            },
        )
    return item


def flag_filters(
    today: date,
    *,
    subject_type: str | None = None,
    subject_ids: Collection[int] | None = None,
    codes: Collection[str] | None = None,
    min_rank: int | None = None,
    include_waived: bool = True,
    lot_id: int | None = None,
    product_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE of current flags under these filters. A code has one severity and one subject type, so those
    filters become a list of codes: the counts' index (code, waiver_id, due_on) answers them alone."""
    where = [current(today)]
    if subject_type is not None or min_rank is not None or codes:
        wanted = [
            code
            for code in COMPLIANCE_CODES
            if (not codes or code in codes)
            and (subject_type is None or RULES[code].subject_type == subject_type)
            and (min_rank is None or SEVERITY_RANK[RULES[code].severity] >= min_rank)
        ]
        where.append(F.code.in_(wanted))
    if subject_type is not None and subject_ids is not None:
        where.append(F.subject_type == subject_type)
    if subject_ids is not None:
        where.append(F.subject_id.in_(sorted(subject_ids)))
    if not include_waived:
        where.append(F.waiver_id.is_(None))
    if lot_id is not None:
        where.append(F.lot_id == lot_id)
    if product_id is not None:
        where.append(F.product_id == product_id)
    return where


def stored_flags(session: Session, today: date, **filters: Any) -> list[Flag]:
    """The current flags (filters as `_filters`), in evaluate_flags' order."""
    ids = filters.pop("subject_ids", None)
    found: list[Flag] = []
    chunks = [None] if ids is None else [sorted(ids)[i : i + MAX_SQL_IDS] for i in range(0, len(ids), MAX_SQL_IDS)]
    for chunk in chunks:
        query = _flag_query().where(*flag_filters(today, subject_ids=chunk, **filters))
        found += [_flag(row) for row in session.execute(query)]
    found.sort(key=lambda f: (-f.rank, f.code, f.subject_id))
    return found


def flag_page(
    session: Session,
    today: date,
    size: int,
    after: PageKey | None = None,
    extra: list[ColumnElement[bool]] | None = None,
    **filters: Any,
) -> tuple[list[Flag], PageKey | None]:
    """One page of the current flags after `after`, and the key of its last flag (None at the end). `extra`
    conditions may read the product's name and the lot's number (joined)."""
    query = _flag_query().where(*flag_filters(today, **filters), *(extra or ()))
    if after is not None:
        # One row-value comparison in the index's order: a seek, whatever page this is.
        query = query.where(
            tuple_(F.severity_order, F.code, F.subject_id, F.id)
            > tuple_(after.severity_order, after.code, after.subject_id, after.row_id)
        )
    rows = session.execute(query.order_by(F.severity_order, F.code, F.subject_id, F.id).limit(size)).all()
    if len(rows) < size:
        return [_flag(row) for row in rows], None
    last = rows[-1]
    return [_flag(row) for row in rows], PageKey(last.severity_order, last.code, last.subject_id, last.id)


def iter_stored_flags(session: Session, today: date, page_size: int = 5000, **filters: Any) -> Iterator[Flag]:
    """Every current flag, a keyset page at a time (constant memory)."""
    key: PageKey | None = None
    while True:
        page, key = flag_page(session, today, page_size, key, **filters)
        yield from page
        if key is None:
            return


def stored_counts(session: Session, today: date, **filters: Any) -> list[tuple[str, str, bool, int]]:
    """(severity, code, waived, count) of the current flags: one GROUP BY on the counts' index."""
    waived = F.waiver_id.is_not(None)
    query = (
        select(F.code, waived.label("waived"), func.count())
        .select_from(F)
        .where(*flag_filters(today, **filters))
        .group_by(F.code, waived)
    )
    return [(RULES[code].severity, code, bool(is_waived), count) for code, is_waived, count in session.execute(query)]


def lot_flag_counts(session: Session, today: date, lot_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Lot id -> open (unwaived) flag count by severity, of the lots' own flags and their uses' (the badges)."""
    counts: dict[int, dict[str, int]] = {}
    ordered = sorted(set(lot_ids))
    for start in range(0, len(ordered), MAX_SQL_IDS):
        query = (
            select(F.lot_id, F.severity, func.count())
            .where(*flag_filters(today, include_waived=False), F.lot_id.in_(ordered[start : start + MAX_SQL_IDS]))
            .group_by(F.lot_id, F.severity)
        )
        for lot_id, severity, count in session.execute(query):
            if lot_id is not None:  # the query asks for given lots, so always; the column is nullable
                counts.setdefault(lot_id, {})[severity] = count
    return counts


@dataclass(frozen=True)
class FlagEvent:
    """One flag's life on a lot (its own, or its administrations' and their events'): raised, maybe closed."""

    code: str
    severity: str
    subject_type: str
    subject_id: int
    message: str
    raised_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    waived: bool
    due_on: date | None


def lot_history(session: Session, lot_id: int) -> list[FlagEvent]:
    """Every flag ever raised on this lot or its uses, newest first."""
    query = (
        select(
            F.code,
            F.severity,
            F.subject_type,
            F.subject_id,
            F.message,
            F.raised_at,
            F.closed_at,
            F.closed_by,
            F.waiver_id.is_not(None),
            F.due_on,
        )
        .where(F.lot_id == lot_id)
        .order_by(F.raised_at.desc(), F.id.desc())
    )
    return [FlagEvent(*row[:8], bool(row[8]), row[9]) for row in session.execute(query)]


def open_since(session: Session, today: date) -> dict[tuple[str, str, int], tuple[datetime, date | None]]:
    """(code, subject type, subject id) -> (raised_at, due_on) of every current flag."""
    query = select(F.code, F.subject_type, F.subject_id, F.raised_at, F.due_on).where(current(today))
    return {(code, kind, subject): (raised, due) for code, kind, subject, raised, due in session.execute(query)}


def closed_between(session: Session, start: datetime | None, end: datetime | None) -> list[Any]:
    """Flags closed in [start, end) (naive UTC; None: unbounded), newest first, with their lot's number."""
    query = (
        select(
            F.code,
            F.severity,
            F.subject_type,
            F.subject_id,
            Lot.lot_number,
            F.message,
            F.raised_at,
            F.closed_at,
            F.closed_by,
            F.due_on,
        )
        .outerjoin(Lot, Lot.id == F.lot_id)
        .where(F.closed_at.is_not(None))
        .order_by(F.closed_at.desc(), F.id.desc())
    )
    if start is not None:
        query = query.where(F.closed_at >= start)
    if end is not None:
        query = query.where(F.closed_at < end)
    return list(session.execute(query))
