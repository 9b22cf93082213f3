"""The persisted flags' upkeep: a full rebuild (`registry-app flags --rebuild`), and whether the table can
answer a reader (it holds the flags of the jurisdiction the reader asks about)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_app.domain import FlagRecord
from registry_app.domain.vocab import Role
from registry_app.rules import Flag, evaluate_flags, table
from registry_app.rules.common import local_day
from registry_app.rules.table_read import current, stored_flags
from registry_app.services.audit import AuditRecord
from registry_app.services.clock import SiteClock
from registry_app.services.context import ServiceContext, changing, jurisdiction

REBUILDERS: tuple[str, ...] = (Role.ADMIN, Role.MEDICAL_DIRECTOR)


@dataclass(frozen=True)
class RebuildResult:
    raised: int
    closed: int
    open: int
    seconds: float


def table_answers(session: Session, ctx: ServiceContext) -> bool:
    """The table holds the flags of the context's jurisdiction (it was built, for that site's jurisdiction)."""
    return table.built_for(session) == jurisdiction(session, ctx).upper()


@changing("rebuild flags", REBUILDERS)
def rebuild_flags(ctx: ServiceContext) -> RebuildResult:
    """Evaluate every rule on every subject and bring the persisted flags to that, closing what no longer holds
    and raising what is missing: on a table kept current by the changes, nothing changes (raised = closed = 0)."""
    started = time.perf_counter()
    with ctx.db.write() as session:
        where = table.site_jurisdiction(session)
        if where is None:
            return RebuildResult(0, 0, 0, 0.0)
        raised, closed = table.rebuild(session, where.upper())
        still_open = session.execute(
            select(func.count()).select_from(FlagRecord).where(FlagRecord.closed_at.is_(None))
        ).scalar_one()
        seconds = time.perf_counter() - started
        ctx.audit(
            session,
            AuditRecord(
                "rebuild flags",
                "flag_record",
                None,
                before={},
                after={"jurisdiction": where.upper(), "raised": raised, "closed": closed, "open": still_open},
            ),
        )
        return RebuildResult(raised, closed, still_open, seconds)


def current_flags(
    session: Session,
    ctx: ServiceContext,
    today: date,
    *,
    subject_type: str | None = None,
    subject_ids: Collection[int] | None = None,
) -> list[Flag]:
    """evaluate_flags(session, jurisdiction, today, ...) answered from the persisted flags when they hold this
    jurisdiction's (the same flags, in the same order), else evaluated."""
    if table_answers(session, ctx):
        return stored_flags(session, today, subject_type=subject_type, subject_ids=subject_ids)
    return evaluate_flags(
        session, jurisdiction(session, ctx), today, subject_type=subject_type, subject_ids=subject_ids
    )


def worst_rank_by_subject(session: Session, today: date, subject_type: str) -> dict[int, int]:
    """Subject id -> the rank of its worst open (unwaived) flag: one GROUP BY over the persisted flags."""
    query = (
        select(FlagRecord.subject_id, -func.min(FlagRecord.severity_order))
        .where(current(today), FlagRecord.subject_type == subject_type, FlagRecord.waiver_id.is_(None))
        .group_by(FlagRecord.subject_id)
    )
    return {subject_id: rank for subject_id, rank in session.execute(query)}


def _day(moment: datetime, clock: SiteClock | None) -> str:
    """The local day of a stored UTC moment, in the site's zone (this machine's without a clock)."""
    local = clock.local(moment).date() if clock is not None else local_day(moment)
    return f"{local.day} {local:%B %Y}"


def life_phrase(
    raised_at: datetime,
    closed_at: datetime | None,
    closed_by: str | None,
    clock: SiteClock | None = None,
    due_on: date | None = None,
) -> str:
    """A flag's life in words, dates in the site's zone: "open since 12 March 2026", "raised 12 March 2026,
    closed 2 April 2026 by amend administrations"."""
    raised = _day(raised_at, clock)
    if due_on is not None and due_on > (clock.local(raised_at).date() if clock else local_day(raised_at)):
        raised = f"{due_on.day} {due_on:%B %Y}"  # AE-UNREPORTED holds from its 16th day, not from the event
    if closed_at is None:
        return f"open since {raised}"
    return f"raised {raised}, closed {_day(closed_at, clock)} by {closed_by or 'a change'}"
