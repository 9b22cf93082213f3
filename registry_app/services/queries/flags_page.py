"""The Flags page's query: one page of the current flags under the page's filters, read from the persisted flags
by key (issue 22), with the readable names of their subjects and how many flags the filters match.

Every filter (severity, rule, subject type, waived, words of the text) is SQL over the open rows, so the first
page of a million flags is one index walk, and each further page continues after the last one's key."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import String, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry_app.domain import FlagRecord, Lot, Product
from registry_app.domain.vocab import SEVERITY_RANK
from registry_app.reports.data import Pseudonym
from registry_app.rules import Flag
from registry_app.rules.table_read import PageKey, flag_filters, flag_page
from registry_app.services import site_scope
from registry_app.services.clock import SiteClock, site_clock, site_today
from registry_app.services.context import READERS, ServiceContext
from registry_app.services.flag_table import table_answers
from registry_app.services.flags import filter_flags, list_flags, subject_names, validate_filters
from registry_app.services.privacy import patient_view

PAGE_SIZE = 500


@dataclass(frozen=True)
class FlagFilters:
    min_severity: str | None = None
    codes: Collection[str] | None = None
    subject_type: str | None = None
    include_waived: bool = True
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlagPage:
    """One page: its flags, their subjects' names, the site's clock, the key to continue from (None: the last
    page), and how many flags (and of them waived) the filters match."""

    flags: list[Flag]
    subjects: dict[tuple[str, int], str]
    clock: SiteClock
    next_key: PageKey | None
    total: int
    waived: int
    filters: FlagFilters = field(default_factory=FlagFilters)


def _text_matches(words: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """Each word somewhere in the code, product, lot number or message (case-insensitive), as the page's
    search box did over the rows in memory."""
    haystack = func.lower(
        FlagRecord.code
        + literal(" ", String)
        + func.coalesce(Product.name, "")
        + literal(" ", String)
        + func.coalesce(Lot.lot_number, "")
        + literal(" ", String)
        + FlagRecord.message
    )
    matches: list[ColumnElement[bool]] = []
    for word in words:
        escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches.append(haystack.like(f"%{escaped}%", escape="\\"))
    return matches


def _sql_filters(filters: FlagFilters) -> dict[str, Any]:
    return {
        "codes": filters.codes,
        "min_rank": SEVERITY_RANK[filters.min_severity] if filters.min_severity else None,
        "subject_type": filters.subject_type,
        "include_waived": filters.include_waived,
    }


def _counts(session: Session, ctx: ServiceContext, today: date, filters: FlagFilters) -> tuple[int, int]:
    waived = func.count(FlagRecord.waiver_id)
    site = site_scope.flag_record_conditions(ctx)
    query = select(func.count(), waived).select_from(FlagRecord).where(*flag_filters(today, **_sql_filters(filters)))
    if filters.words or site:
        query = query.outerjoin(Lot, Lot.id == FlagRecord.lot_id).where(*site)
    if filters.words:
        query = query.outerjoin(Product, Product.id == FlagRecord.product_id).where(*_text_matches(filters.words))
    total, waived_count = session.execute(query).one()
    return int(total), int(waived_count)


def flags_page(
    ctx: ServiceContext,
    filters: FlagFilters = FlagFilters(),
    after: PageKey | None = None,
    size: int | None = None,
    today: date | None = None,
    counted: bool = True,
) -> FlagPage:
    """The page of flags after `after` (the first page without it). Counts are given with the first page only
    (a further page, or `counted=False`, gives them as 0: the desktop shows the page first and asks
    `count_flags_matching` next, a scan of the counts' index that takes longer than the page on a big registry)."""
    ctx.require(READERS, "see flags")
    validate_filters(filters.min_severity, filters.codes)
    day = today or site_today(ctx)
    clock = site_clock(ctx)
    shown = patient_view(ctx)  # an inspector reads patients as pseudonyms
    with ctx.db.read() as session:
        if not table_answers(session, ctx):
            return _evaluated_page(ctx, session, filters, day, clock, shown)
        extra = [*(_text_matches(filters.words) if filters.words else ()), *site_scope.flag_record_conditions(ctx)]
        found, next_key = flag_page(session, day, size or PAGE_SIZE, after, extra=extra, **_sql_filters(filters))
        total, waived = _counts(session, ctx, day, filters) if after is None and counted else (0, 0)
        return FlagPage(found, subject_names(session, found, clock, shown), clock, next_key, total, waived, filters)


def count_flags_matching(ctx: ServiceContext, filters: FlagFilters, today: date | None = None) -> tuple[int, int]:
    """(flags, of them waived) under the page's filters."""
    ctx.require(READERS, "see flags")
    validate_filters(filters.min_severity, filters.codes)
    clock, shown = site_clock(ctx), patient_view(ctx)
    with ctx.db.read() as session:
        if not table_answers(session, ctx):
            page = _evaluated_page(ctx, session, filters, today or site_today(ctx), clock, shown)
            return page.total, page.waived
        return _counts(session, ctx, today or site_today(ctx), filters)


def _evaluated_page(
    ctx: ServiceContext, session: Session, filters: FlagFilters, today: date, clock: SiteClock, shown: Pseudonym
) -> FlagPage:
    """A registry whose flags are not persisted yet: every flag evaluated and filtered here, as one page."""
    found = filter_flags(
        list_flags(ctx, today=today),
        min_severity=filters.min_severity,
        codes=filters.codes,
        include_waived=filters.include_waived,
    )
    words = [w.casefold() for w in filters.words]
    found = [
        f
        for f in found
        if (filters.subject_type is None or f.subject_type == filters.subject_type)
        and all(w in f"{f.code} {f.product_name or ''} {f.lot_number or ''} {f.message}".casefold() for w in words)
    ]
    waived = sum(1 for f in found if f.waived)
    return FlagPage(found, subject_names(session, found, clock, shown), clock, None, len(found), waived, filters)
