"""Read-only queries for the desktop: the lots registry at scale, one lot's record, the dashboard figures and
the simple lists (products, suppliers, administrations, audit trail). No Qt here.

The lots list is paged by keyset: each page is `ORDER BY <column>, id LIMIT n` after the previous page's last
(value, id), so the first page of any search, filter or sort is one indexed query however many lots match, and
scrolling on costs the same per page (OFFSET would re-read every earlier row). Text search resolves names
against the small tables (products, manufacturers, suppliers) first and matches lot numbers by prefix through
their index, so a keystroke never scans a million lot rows for a substring.

Flag severity and completeness per row come from the flag engine for the rows of the page only (rules accept
subject_ids); a million lots cannot be evaluated per keystroke. The severity filter needs every lot's worst
flag: it is evaluated once per registry version (the audit chain's head changes with every change) and kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, and_, false, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry_app.domain import Lot, Manufacturer, Product, Setting, Supplier
from registry_app.domain.exact import ZERO, Exact, exact_sql
from registry_app.domain.vocab import EXPIRED, SEVERITY_RANK, LotStatus
from registry_app.services import site_scope
from registry_app.services.clock import site_today
from registry_app.services.context import READERS, ServiceContext, jurisdiction

PAGE_SIZE = 200
EXPIRING_DAYS = 30
# Lots that still count as stock: the states whose date can make them "expired".
_LIVE = (LotStatus.QUARANTINE.value, LotStatus.RELEASED.value)


@dataclass(frozen=True)
class LotQuery:
    """What the lots table shows: search text, filters and the sort. Every field narrows the list."""

    text: str = ""
    statuses: tuple[str, ...] = ()  # stored statuses and/or "expired" (derived)
    product_type: str | None = None
    min_severity: str | None = None  # lots whose worst open flag is at least this severe
    expiring: bool = False  # stock left and expiry within EXPIRING_DAYS
    expired_stock: bool = False  # stock left after expiry: ALERT-EXPIRED-STOCK
    product_id: int | None = None
    supplier_id: int | None = None
    sort: str = "received"
    descending: bool = True

    def with_sort(self, sort: str, descending: bool) -> LotQuery:
        return replace(self, sort=sort, descending=descending)


@dataclass(frozen=True)
class LotsPageRow:
    id: int
    product: str
    product_type: str
    lot_number: str
    manufacturer: str | None
    supplier: str | None
    status: str
    expiry_date: date | None
    received_date: date
    on_hand: Decimal
    unit: str | None
    worst_severity: str | None = None
    open_flags: int = 0
    completeness: int | None = None


@dataclass(frozen=True)
class LotPage:
    rows: list[LotsPageRow]
    has_more: bool
    cursor: tuple[Any, int] | None  # (sort value, id) of the last row: where the next page starts


def _on_hand() -> ColumnElement[Decimal]:
    return Lot.quantity_received - Lot.quantity_administered - Lot.quantity_destroyed


def expired_stock_condition(today: date) -> ColumnElement[bool]:
    """Lots with stock left after their expiry, as ALERT-EXPIRED-STOCK (rules/lot_rules.py) finds them: not
    destroyed or depleted, whatever else their status (a recalled lot's stock still has to go)."""
    return and_(
        exact_sql(_on_hand()) > 0,
        Lot.status.not_in((LotStatus.DESTROYED.value, LotStatus.DEPLETED.value)),
        Lot.expiry_date < today,
    )


def sort_columns() -> dict[str, Any]:
    """Sortable columns by key; every one sorts in SQL."""
    return {
        "product": Product.name,
        "type": Product.product_type,
        "lot_number": Lot.lot_number,
        "manufacturer": Manufacturer.name,
        "supplier": Supplier.name,
        "status": Lot.status,
        "expiry": Lot.expiry_date,
        "received": Lot.received_date,
        "on_hand": _on_hand(),
    }


SORT_KEYS: tuple[str, ...] = tuple(sort_columns())


def today_for(ctx: ServiceContext) -> date:
    return site_today(ctx)


def display_status(status: str, expiry: date | None, today: date) -> str:
    if status in _LIVE and expiry is not None and expiry < today:
        return EXPIRED
    return status


def _status_condition(statuses: Sequence[str], today: date) -> ColumnElement[bool]:
    expired = and_(Lot.status.in_(_LIVE), Lot.expiry_date < today)
    parts: list[ColumnElement[bool]] = []
    stored = [s for s in statuses if s != EXPIRED]
    if EXPIRED in statuses:
        parts.append(expired)
    live = [s for s in stored if s in _LIVE]
    other = [s for s in stored if s not in _LIVE]
    if live:
        parts.append(and_(Lot.status.in_(live), or_(Lot.expiry_date.is_(None), Lot.expiry_date >= today)))
    if other:
        parts.append(Lot.status.in_(other))
    return or_(*parts) if parts else false()


def _like_words(text: str) -> list[str]:
    return [word for word in text.split() if word]


def _prefix_upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _word_condition(session: Session, word: str, sqlite: bool, use_index: bool = True) -> ColumnElement[bool]:
    """One search word: a product, manufacturer or supplier name containing it, or a lot number starting with it."""
    needle = word.casefold()
    product_ids = (
        session.execute(
            select(Product.id)
            .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
            .where(
                or_(
                    func.lower(Product.name).contains(needle, autoescape=True),
                    func.lower(Manufacturer.name).contains(needle, autoescape=True),
                )
            )
        )
        .scalars()
        .all()
    )
    supplier_ids = (
        session.execute(select(Supplier.id).where(func.lower(Supplier.name).contains(needle, autoescape=True)))
        .scalars()
        .all()
    )
    parts: list[ColumnElement[bool]] = []
    if product_ids:
        parts.append(Lot.product_id.in_(product_ids))
    if supplier_ids:
        parts.append(Lot.supplier_id.in_(supplier_ids))
    if sqlite:
        # Index range scans for the word as typed, upper- and lower-cased (lot numbers are mostly upper case).
        # Without `use_index` the same test is checked row by row while SQLite walks the sort column's index.
        number = Lot.lot_number if use_index else _unindexed(Lot.lot_number)
        for variant in dict.fromkeys((word, word.upper(), word.lower())):
            parts.append(and_(number >= variant, number < _prefix_upper_bound(variant)))
    else:
        parts.append(Lot.lot_number.istartswith(word, autoescape=True))
    return or_(*parts)


SPARSE_LIMIT = 50_000


def _filtered(
    session: Session, ctx: ServiceContext, query: LotQuery, today: date
) -> tuple[list[ColumnElement[bool]], bool]:
    """The WHERE conditions, and whether the search text matches few lots (then sorting the matches beats
    walking the sort column's index looking for them; the count stops at SPARSE_LIMIT, so it stays cheap)."""
    conditions: list[ColumnElement[bool]] = []
    sqlite = ctx.db.is_sqlite
    for word in _like_words(query.text):
        conditions.append(_word_condition(session, word, sqlite))
    sparse = False
    site = site_scope.lot_conditions(ctx)  # a user of one site lists that site's lots
    if conditions and sqlite:
        matches = select(Lot.id).where(*conditions).limit(SPARSE_LIMIT + 1).subquery()
        sparse = session.execute(select(func.count()).select_from(matches)).scalar_one() <= SPARSE_LIMIT
        if not sparse:
            conditions = [_word_condition(session, word, sqlite, use_index=False) for word in _like_words(query.text)]
    if query.statuses:
        conditions.append(_status_condition(query.statuses, today))
    if query.product_type:
        type_ids = session.execute(select(Product.id).where(Product.product_type == query.product_type)).scalars()
        conditions.append(Lot.product_id.in_(list(type_ids)))
    if query.expiring:
        conditions.append(
            and_(
                Lot.status.in_(_LIVE),
                Lot.expiry_date >= today,
                Lot.expiry_date <= today + timedelta(days=EXPIRING_DAYS),
                exact_sql(_on_hand()) > 0,
            )
        )
    if query.expired_stock:
        conditions.append(expired_stock_condition(today))
    if query.product_id is not None:
        conditions.append(Lot.product_id == query.product_id)
    if query.supplier_id is not None:
        conditions.append(Lot.supplier_id == query.supplier_id)
    return [*conditions, *site], sparse


def _rows_select() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Lot.id,
            Product.name,
            Product.product_type,
            Lot.lot_number,
            Manufacturer.name,
            Supplier.name,
            Lot.status,
            Lot.expiry_date,
            Lot.received_date,
            type_coerce(exact_sql(_on_hand()), Exact),
            Product.unit,
        )
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
    )


def _after(key: Any, cursor: tuple[Any, int], descending: bool) -> ColumnElement[bool]:
    """Rows after the cursor in the order (key NULLS FIRST, id) ascending, or its exact reverse descending."""
    value, last_id = cursor
    if not descending:
        if value is None:
            return or_(and_(key.is_(None), Lot.id > last_id), key.is_not(None))
        return or_(key > value, and_(key == value, Lot.id > last_id))
    if value is None:
        return and_(key.is_(None), Lot.id < last_id)
    return or_(key < value, and_(key == value, Lot.id < last_id), key.is_(None))


# Sorts by a column of a small table run group by group: the groups (products or suppliers) are ordered in
# Python and each group's lots come through the lot table's own index, so no million-row sort ever runs.
_DIRECT = {"lot_number": Lot.lot_number, "status": Lot.status, "expiry": Lot.expiry_date, "received": Lot.received_date}


def _groups(session: Session, sort: str) -> tuple[Any, Any, list[int | None]]:
    """(group column, order within a group, group ids in ascending order) for a grouped sort."""
    if sort == "supplier":
        ids = session.execute(select(Supplier.id).order_by(func.lower(Supplier.name), Supplier.id)).scalars()
        return Lot.supplier_id, Lot.id, [None, *ids]
    order = {
        "product": (func.lower(Product.name),),
        "type": (Product.product_type, func.lower(Product.name)),
        "manufacturer": (func.lower(func.coalesce(Manufacturer.name, "")), func.lower(Product.name)),
    }[sort]
    ids = session.execute(
        select(Product.id)
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        .order_by(*order, Product.id)
    ).scalars()
    return Lot.product_id, Lot.lot_number, list(ids)


Walk = list[tuple[int, Any]]  # lot ids in order, each with the cursor that resumes after it


def _direct_ids(
    session: Session,
    conditions: list[ColumnElement[bool]],
    key: Any,
    descending: bool,
    cursor: tuple[Any, Any] | None,
    limit: int,
) -> Walk:
    order = [key.desc().nulls_last(), Lot.id.desc()] if descending else [key.asc().nulls_first(), Lot.id.asc()]
    statement = select(Lot.id, key).where(*conditions).order_by(*order).limit(limit)
    if cursor is not None:
        statement = statement.where(_after(key, cursor, descending))
    return [(r[0], (r[1], r[0])) for r in session.execute(statement)]


def _grouped_ids(
    session: Session,
    conditions: list[ColumnElement[bool]],
    sort: str,
    descending: bool,
    cursor: tuple[Any, Any] | None,
    limit: int,
) -> Walk:
    """Cursor: (group position, cursor within the group)."""
    column, within, groups = _groups(session, sort)
    if descending:
        groups.reverse()
    position, inner = (0, None) if cursor is None else cursor
    walk: Walk = []
    while position < len(groups) and len(walk) < limit:
        group = groups[position]
        group_condition = column.is_(None) if group is None else column == group
        found = _direct_ids(session, [*conditions, group_condition], within, descending, inner, limit - len(walk))
        walk.extend((lot_id, (position, resume)) for lot_id, resume in found)
        position, inner = position + 1, None
    return walk


def _unindexed(key: Any) -> Any:
    """The same order without the column's index: for a few matches, sorting them beats walking the index."""
    return key.op("||")(literal("", String))


def _ordered_ids(
    session: Session,
    conditions: list[ColumnElement[bool]],
    query: LotQuery,
    sparse: bool,
    cursor: tuple[Any, Any] | None,
    limit: int,
) -> Walk:
    if query.sort in _DIRECT or query.sort == "on_hand":
        key = _DIRECT.get(query.sort, _on_hand())
        if sparse and query.sort in _DIRECT:
            key = _unindexed(key)
        return _direct_ids(session, conditions, key, query.descending, cursor, limit)
    return _grouped_ids(session, conditions, query.sort, query.descending, cursor, limit)


def lot_page(
    ctx: ServiceContext,
    query: LotQuery,
    after: tuple[Any, Any] | None = None,
    limit: int = PAGE_SIZE,
    badges: bool = True,
) -> LotPage:
    """One page of the lots list in the query's order, starting after `after` (a previous page's cursor).

    `badges=False` leaves severity and completeness empty, for the desktop to fill them with `lot_badges` off
    the GUI thread: the list then follows each keystroke without waiting for the flag engine."""
    ctx.require(READERS, "browse lots")
    if query.sort not in SORT_KEYS:
        raise ValueError(f"unknown sort column {query.sort!r}")
    with ctx.db.read() as session:
        today = today_for(ctx)
        conditions, sparse = _filtered(session, ctx, query, today)
        wanted = _severity_set(session, ctx, query.min_severity, today) if query.min_severity else None
        walk: Walk = []
        cursor = after
        # With a severity filter the page is filled from the ordered stream, a larger chunk at a time.
        chunk = limit + 1 if wanted is None else max(limit * 10, 2000)
        while len(walk) <= limit:
            found = _ordered_ids(session, conditions, query, sparse, cursor, chunk)
            walk.extend(step for step in found if wanted is None or step[0] in wanted)
            if len(found) < chunk:
                break
            cursor = found[-1][1]
        has_more = len(walk) > limit
        walk = walk[:limit]
        next_cursor = walk[-1][1] if walk else after
        return LotPage(_page_rows(session, ctx, [lot_id for lot_id, _ in walk], today, badges), has_more, next_cursor)


def _page_rows(
    session: Session, ctx: ServiceContext, ids: list[int], today: date, badges: bool = True
) -> list[LotsPageRow]:
    if not ids:
        return []
    rows_of = _rows_select().where(Lot.id.in_(ids), *site_scope.lot_conditions(ctx))
    found = {r[0]: _lot_row(r, today) for r in session.execute(rows_of)}
    rows = [found[i] for i in ids if i in found]
    return _with_badges(session, ctx, rows, today) if badges else rows


@dataclass(frozen=True)
class Badges:
    worst_severity: str | None
    open_flags: int
    completeness: int | None


def lot_badges(ctx: ServiceContext, ids: Sequence[int]) -> dict[int, Badges]:
    """Worst open flag, open flag count and completeness score of these lots (the rows on screen)."""
    ctx.require(READERS, "browse lots")
    with ctx.db.read() as session:
        today = today_for(ctx)
        if (visible := site_scope.lot_ids(ctx)) is not None:
            ids = session.execute(visible.where(Lot.id.in_(list(ids)))).scalars().all()
        rows = [LotsPageRow(i, "", "", "", None, None, "", None, today, ZERO, None) for i in ids]
        return {
            r.id: Badges(r.worst_severity, r.open_flags, r.completeness)
            for r in _with_badges(session, ctx, rows, today)
        }


def count_lots(ctx: ServiceContext, query: LotQuery) -> int:
    """How many lots the query selects (a full count: run it off the GUI thread on big registries)."""
    ctx.require(READERS, "browse lots")
    with ctx.db.read() as session:
        today = today_for(ctx)
        conditions, _ = _filtered(session, ctx, query, today)
        if query.min_severity:
            wanted = _severity_set(session, ctx, query.min_severity, today)
            ids = session.execute(select(Lot.id).where(*conditions)).scalars()
            return sum(1 for lot_id in ids if lot_id in wanted)
        return int(session.execute(select(func.count(Lot.id)).where(*conditions)).scalar_one())


def lot_rows(ctx: ServiceContext, ids: Sequence[int]) -> list[LotsPageRow]:
    """The rows of these lots (in the order given), with their badges: for refreshing rows after a change."""
    ctx.require(READERS, "browse lots")
    with ctx.db.read() as session:
        return _page_rows(session, ctx, list(ids), today_for(ctx))


def _lot_row(r: Any, today: date) -> LotsPageRow:
    return LotsPageRow(r[0], r[1], r[2], r[3], r[4], r[5], display_status(r[6], r[7], today), r[7], r[8], r[9], r[10])


# --- flag badges ------------------------------------------------------------------------------------------------


def _open_flags_of_lots(
    session: Session, ctx: ServiceContext, lot_ids: Iterable[int], product_ids: Iterable[int], today: date
) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    """Open (unwaived) flags per lot: the lot's own and its product's (a lot inherits its product's gaps)."""
    from registry_app.services.flag_table import current_flags

    lot_ids, product_ids = list(lot_ids), list(set(product_ids))
    lot_flags = current_flags(session, ctx, today, subject_type="lot", subject_ids=lot_ids)
    product_flags = current_flags(session, ctx, today, subject_type="product", subject_ids=product_ids)
    by_product: dict[int, list[Any]] = {}
    for item in product_flags:
        if not item.waived:
            by_product.setdefault(item.subject_id, []).append(item)
    result: dict[int, list[Any]] = {lot_id: [] for lot_id in lot_ids}
    for item in lot_flags:
        if not item.waived and item.subject_id in result:
            result[item.subject_id].append(item)
    return result, by_product


def _completeness(session: Session, ctx: ServiceContext, lot_ids: list[int], today: date) -> dict[int, int]:
    from registry_app.rules.score import lot_scores

    return {lot_id: round(score) for lot_id, score in lot_scores(session, jurisdiction(session, ctx), lot_ids).items()}


def _with_badges(session: Session, ctx: ServiceContext, rows: list[LotsPageRow], today: date) -> list[LotsPageRow]:
    if not rows:
        return rows
    ids = [r.id for r in rows]
    product_of = dict(session.execute(select(Lot.id, Lot.product_id).where(Lot.id.in_(ids))).all())
    rows = [row for row in rows if row.id in product_of]
    lot_flags, product_flags = _open_flags_of_lots(session, ctx, ids, product_of.values(), today)
    scores = _completeness(session, ctx, ids, today)
    result = []
    for row in rows:
        flags = lot_flags.get(row.id, []) + product_flags.get(product_of[row.id], [])
        worst = max(flags, key=lambda f: SEVERITY_RANK[f.severity]).severity if flags else None
        result.append(replace(row, worst_severity=worst, open_flags=len(flags), completeness=scores.get(row.id)))
    return result


@dataclass
class _SeverityCache:
    version: tuple[Any, ...] = ()
    worst: dict[int, int] = field(default_factory=dict)  # lot id -> rank of its worst open flag


_severity_cache: dict[str, _SeverityCache] = {}


def _registry_version(session: Session, ctx: ServiceContext, today: date) -> tuple[Any, ...]:
    head = session.get(Setting, "audit_head")
    return (head.value if head else None, today, jurisdiction(session, ctx))


def worst_severity_by_lot(session: Session, ctx: ServiceContext, today: date) -> dict[int, int]:
    """Every lot's worst open flag rank, evaluated once per registry version (audit head, date, jurisdiction)."""
    version = _registry_version(session, ctx, today)
    cache = _severity_cache.setdefault(ctx.db.url, _SeverityCache())
    if cache.version == version:
        return cache.worst
    from registry_app.services.flag_table import table_answers, worst_rank_by_subject

    worst: dict[int, int]
    if table_answers(session, ctx):
        worst = worst_rank_by_subject(session, today, "lot")
        product_worst = worst_rank_by_subject(session, today, "product")
        if product_worst:
            for lot_id, product_id in session.execute(
                select(Lot.id, Lot.product_id).where(Lot.product_id.in_(list(product_worst)))
            ):
                worst[lot_id] = max(worst.get(lot_id, -1), product_worst[product_id])
        cache.version, cache.worst = version, worst
        return worst
    from registry_app.rules import evaluate_flags

    where = jurisdiction(session, ctx)
    product_worst = {}
    for item in evaluate_flags(session, where, today, subject_type="product"):
        if not item.waived:
            product_worst[item.subject_id] = max(product_worst.get(item.subject_id, -1), item.rank)
    worst = {}
    if product_worst:
        for lot_id, product_id in session.execute(
            select(Lot.id, Lot.product_id).where(Lot.product_id.in_(list(product_worst)))
        ):
            worst[lot_id] = product_worst[product_id]
    for item in evaluate_flags(session, where, today, subject_type="lot"):
        if not item.waived:
            worst[item.subject_id] = max(worst.get(item.subject_id, -1), item.rank)
    cache.version, cache.worst = version, worst
    return worst


def _severity_set(session: Session, ctx: ServiceContext, min_severity: str, today: date) -> set[int]:
    if min_severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {min_severity!r}")
    floor = SEVERITY_RANK[min_severity]
    return {lot_id for lot_id, rank in worst_severity_by_lot(session, ctx, today).items() if rank >= floor}
