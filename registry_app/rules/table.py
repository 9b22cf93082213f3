"""The persisted flags (domain.FlagRecord), kept equal to an evaluation of the rules inside every transaction.

How the table stays current:

- every ORM flush records the subjects it wrote and those whose rules read what it wrote (`_DEPENDENCIES`,
  derived from the families: a product's status and routes are read by its lots' and administrations' rules, a
  lot's dates and status by its administrations', an administration by its lot's recall lookback and quantities,
  results, documents and excursions by their lot); bulk writers that bypass the ORM call `touch` /
  `touch_range`, and `touch_all` for a rebuild;
- just before the transaction commits (`before_commit`), the touched subjects' rules are evaluated (the same
  `evaluate_flags` every reader used to run) and compared with their open rows: a flag no longer raised is
  closed, one raised on other facts is closed and raised anew, a new one raised, a rewording or a waiver
  updated in place. A `full` sync (a rebuild) does the same over every subject, a chunk of ids at a time.

Rules that depend on the day: AE-UNREPORTED is stored for every unreported event with `due_on`, the first day
it holds, which readers compare with the site's today; the alerts (ALERT-*) are not stored (readers run their
one date-bounded query). So nothing needs re-evaluating when the day changes.

The table is valid for one jurisdiction, kept in the `flag_table` setting: a change of the current site's
jurisdiction (or a registry whose table was never built, after the migration) rebuilds it at the next commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import String, bindparam, event, func, inspect, select, type_coerce, update
from sqlalchemy.orm import Session

from ..domain import (
    Administration,
    AdverseEvent,
    CharacterizationResult,
    Document,
    FlagRecord,
    Lot,
    LotResultFacts,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    ProductRoute,
    Setting,
    Site,
    TemperatureExcursion,
    Waiver,
    utcnow,
)
from ..domain.base import table_of
from ..domain.vocab import SEVERITY_RANK
from .catalogue import COMPLIANCE_CODES, RULES, Flag
from .common import MAX_SQL_IDS, local_day, plain_rows
from .evaluate import evaluate_flags
from .lot_rules import AE_REPORT_DAYS

TABLE_KEY = "flag_table"  # setting: the jurisdiction the table was built for (absent: never built)
CURRENT_SITE_KEY = "current_site"  # as services.context reads it
SUBJECT_TYPES = ("product", "lot", "administration", "adverse_event")
SUBJECT_MODELS: dict[str, Any] = {
    "product": Product,
    "lot": Lot,
    "administration": Administration,
    "adverse_event": AdverseEvent,
}
# A day past any registry's today: AE-UNREPORTED is evaluated as if every event were overdue, and `due_on`
# says from when it is.
FAR_DAY = date(9000, 1, 1)
# Subjects evaluated per query by a rebuild: bounds memory to one chunk's flags (see services.flags.iter_flags).
REBUILD_CHUNK = 50_000
# Lot columns read by its administrations' rules (and the words of their flags): a change to one re-evaluates
# the lot's administrations too; other lot columns (quantities, notes) only the lot.
LOT_COLUMNS_READ_BY_USES = frozenset(
    {"lot_number", "product_id", "expiry_date", "status", "released_on", "rejected_on", "recall_date", "recall_at"}
)

_TOUCHED = "registry_flag_table_touched"
# The action of the changing service running (services.context sets it): recorded as what closed a flag.
current_action: ContextVar[str] = ContextVar("registry_flag_action", default="change")


@dataclass
class Touched:
    """What a transaction changed, as subjects whose flags must be evaluated again before it commits."""

    own: dict[str, set[int]] = field(default_factory=lambda: {t: set() for t in SUBJECT_TYPES})
    # Products, lots and administrations whose dependents (lots, administrations, adverse events) are
    # re-evaluated with them.
    cascade: dict[str, set[int]] = field(
        default_factory=lambda: {"product": set(), "lot": set(), "administration": set()}
    )
    manufacturers: set[int] = field(default_factory=set)
    ranges: list[tuple[str, int, int]] = field(default_factory=list)
    site_changed: bool = False
    everything: bool = False


def _touched(session: Session) -> Touched:
    found = session.info.get(_TOUCHED)
    if found is None:
        found = session.info[_TOUCHED] = Touched()
    return found


def touch(session: Session, subject_type: str, ids: Iterable[int | None], *, dependents: bool = False) -> None:
    """Mark subjects written without the ORM (the ORM's writes are seen by themselves): their flags, and with
    `dependents` those of a product's or lot's lots, administrations and adverse events, are evaluated again
    before this transaction commits."""
    found = _touched(session)
    kept = {int(i) for i in ids if i is not None}
    (found.cascade if dependents and subject_type in found.cascade else found.own)[subject_type].update(kept)


def touch_range(session: Session, subject_type: str, low: int, high: int) -> None:
    """Mark the subjects low..high (a bulk writer's new rows, consecutive ids): evaluated in one range query."""
    if low <= high:
        _touched(session).ranges.append((subject_type, low, high))


def touch_all(session: Session) -> None:
    """Rebuild the whole table before this transaction commits."""
    _touched(session).everything = True


@contextmanager
def acting(action: str) -> Iterator[None]:
    token = current_action.set(action)
    try:
        yield
    finally:
        current_action.reset(token)


def _values(item: Any, name: str) -> set[Any]:
    """An attribute's values before and after this flush (a row moved to another lot touches both lots)."""
    history = inspect(item).attrs[name].history
    return {v for v in chain(history.added, history.unchanged, history.deleted) if v is not None}


def _changed(item: Any, names: Collection[str]) -> bool:
    state = inspect(item)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _record_flushed(session: Session, _flush_context: Any) -> None:
    found: Touched | None = None
    for item in chain(session.new, session.dirty, session.deleted):
        kind = type(item)
        if kind not in _WATCHED or (item in session.dirty and not session.is_modified(item)):
            continue
        if kind is Setting and item.key != CURRENT_SITE_KEY:
            continue
        found = found or _touched(session)
        if kind is Product:
            found.cascade["product"].add(item.id)
        elif kind in (ProductRoute, ProductRegulatoryStatus):
            found.cascade["product"].update(_values(item, "product_id"))
        elif kind is Manufacturer:
            found.manufacturers.add(item.id)
        elif kind is Lot:
            cascades = item not in session.new and _changed(item, LOT_COLUMNS_READ_BY_USES)
            (found.cascade if cascades else found.own)["lot"].add(item.id)
        elif kind is Administration:
            # Its lot reads it (recall lookback, quantities), its adverse events carry its lot and product.
            found.cascade["administration"].add(item.id)
            found.own["lot"].update(_values(item, "lot_id"))
        elif kind is AdverseEvent:
            found.own["adverse_event"].add(item.id)
        elif kind is Waiver:
            if item.subject_type in found.own:
                found.own[item.subject_type].add(item.subject_id)
        elif kind in (Site, Setting):
            found.site_changed = True
        else:  # results, their facts, documents and excursions: read by their lot's rules alone
            found.own["lot"].update(_values(item, "lot_id"))


_WATCHED = frozenset(
    {
        Product,
        ProductRoute,
        ProductRegulatoryStatus,
        Manufacturer,
        Lot,
        Administration,
        AdverseEvent,
        Waiver,
        Site,
        Setting,
        CharacterizationResult,
        LotResultFacts,
        Document,
        TemperatureExcursion,
    }
)


@event.listens_for(Session, "before_commit")
def _sync_before_commit(session: Session) -> None:
    if session.info.get(_TOUCHED) is None and not (session.new or session.dirty or session.deleted):
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    found = session.info.pop(_TOUCHED, None)
    if found is None:
        return
    sync_touched(session, found)


def site_jurisdiction(session: Session) -> str | None:
    """The current site's jurisdiction (services.context.current_site without a site code), None with no site."""
    code = session.execute(select(Setting.value).where(Setting.key == CURRENT_SITE_KEY)).scalar()
    query = select(Site.jurisdiction)
    found = session.execute(query.where(Site.code == code)).scalar() if code is not None else None
    return found or session.execute(query.order_by(Site.id).limit(1)).scalar()


def built_for(session: Session) -> str | None:
    """The jurisdiction the table holds the flags of, None when it was never built."""
    return session.execute(select(Setting.value).where(Setting.key == TABLE_KEY)).scalar()


def sync_touched(session: Session, found: Touched) -> None:
    jurisdiction = site_jurisdiction(session)
    if jurisdiction is None:
        return
    jurisdiction = jurisdiction.upper()
    if found.everything or built_for(session) != jurisdiction:
        rebuild(session, jurisdiction)
        return
    subjects = _expand(session, found)
    for subject_type in SUBJECT_TYPES:
        if subjects[subject_type]:
            sync(session, jurisdiction, subject_type, subjects[subject_type])
    for subject_type, low, high in found.ranges:
        sync(session, jurisdiction, subject_type, None, (low, high))


def _ids(session: Session, query: Any, column: Any, keys: set[int]) -> set[int]:
    found: set[int] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), MAX_SQL_IDS):
        found.update(session.execute(query.where(column.in_(ordered[start : start + MAX_SQL_IDS]))).scalars())
    return found


def _expand(session: Session, found: Touched) -> dict[str, set[int]]:
    """The subjects to evaluate: those touched, and the dependents of the products and lots that cascade."""
    subjects = {t: set(ids) for t, ids in found.own.items()}
    products = found.cascade["product"]
    if found.manufacturers:
        subjects["product"] |= _ids(session, select(Product.id), Product.manufacturer_id, found.manufacturers)
    subjects["product"] |= products
    lots = found.cascade["lot"] | (_ids(session, select(Lot.id), Lot.product_id, products) if products else set())
    subjects["lot"] |= lots
    uses = found.cascade["administration"]
    if lots:
        uses = uses | _ids(session, select(Administration.id), Administration.lot_id, lots)
    if uses:
        subjects["administration"] |= uses
        subjects["adverse_event"] |= _ids(session, select(AdverseEvent.id), AdverseEvent.administration_id, uses)
    return subjects


def rebuild(session: Session, jurisdiction: str) -> tuple[int, int]:
    """Make the whole table equal to an evaluation of every rule on every subject, a chunk of ids at a time,
    and record the jurisdiction it holds: (flags raised, flags closed). On a table already current, (0, 0)."""
    raised = closed = 0
    for subject_type, model in SUBJECT_MODELS.items():
        last = max(
            session.execute(select(func.max(model.id))).scalar() or 0,
            session.execute(
                select(func.max(FlagRecord.subject_id)).where(
                    FlagRecord.subject_type == subject_type, FlagRecord.closed_at.is_(None)
                )
            ).scalar()
            or 0,
        )
        low = 0
        while low <= last:
            high = min(low + REBUILD_CHUNK - 1, last)
            counts = sync(session, jurisdiction, subject_type, None, (low, high))
            raised, closed = raised + counts[0], closed + counts[1]
            low = high + 1
    # Subjects of no family (never expected; a code removed from the catalogue) have nothing to stand on.
    table = table_of(FlagRecord)
    closed += (
        session.connection()
        .execute(
            update(table)
            .where(table.c.closed_at.is_(None), table.c.code.not_in(sorted(COMPLIANCE_CODES)))
            .values(closed_at=utcnow(), closed_by=current_action.get())
        )
        .rowcount
    )
    setting = session.get(Setting, TABLE_KEY)
    if setting is None:
        session.add(Setting(key=TABLE_KEY, value=jurisdiction))
    else:
        setting.value = jurisdiction
    session.flush()
    session.info.pop(_TOUCHED, None)  # the setting just written is no change of the site
    return raised, closed


_STORED = (
    FlagRecord.id,
    FlagRecord.code,
    FlagRecord.subject_id,
    FlagRecord.facts,
    FlagRecord.message,
    FlagRecord.waiver_id,
    FlagRecord.product_id,
    FlagRecord.lot_id,
    # As text on SQLite (no per-row conversion, so the driver's tuples are read directly); `sync` parses the few
    # AE-UNREPORTED dates. PostgreSQL's driver gives a date either way.
    type_coerce(FlagRecord.due_on, String).label("due_on"),
)


def _stored(session: Session, subject_type: str, ids: set[int] | None, id_range: tuple[int, int] | None) -> list[Any]:
    query = select(*_STORED).where(FlagRecord.subject_type == subject_type, FlagRecord.closed_at.is_(None))
    if id_range is not None:
        query = query.where(FlagRecord.subject_id.between(*id_range))
    # Core rows on the session's connection: the ORM's result machinery cost as much as the comparison.
    connection = session.connection()
    if ids is None:
        return plain_rows(connection.execute(query))
    if len(ids) > MAX_SQL_IDS:
        return [row for row in plain_rows(connection.execute(query)) if row[2] in ids]
    return plain_rows(connection.execute(query.where(FlagRecord.subject_id.in_(sorted(ids)))))


def _due_dates(session: Session, flags: list[Flag]) -> dict[int, date]:
    """Adverse event id -> the first local day its AE-UNREPORTED flag holds (recorded more than 15 days before)."""
    ids = {f.subject_id for f in flags if f.code == "AE-UNREPORTED"}
    recorded: dict[int, Any] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), MAX_SQL_IDS):
        query = select(AdverseEvent.id, AdverseEvent.recorded_at)
        for key, at in session.execute(query.where(AdverseEvent.id.in_(ordered[start : start + MAX_SQL_IDS]))):
            recorded[key] = at
    return {key: local_day(at) + timedelta(days=AE_REPORT_DAYS + 1) for key, at in recorded.items()}


def sync(
    session: Session,
    jurisdiction: str,
    subject_type: str,
    ids: set[int] | None,
    id_range: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Bring the open rows of these subjects (ids, or the id range) to what the rules raise on them now:
    (flags raised, flags closed)."""
    if ids is not None and len(ids) > MAX_SQL_IDS:
        id_range = (min(ids), max(ids))  # the families filter a long list in Python: bound their SQL too
    flags = evaluate_flags(
        session,
        jurisdiction,
        FAR_DAY,
        subject_type=subject_type,
        subject_ids=ids,
        id_range=id_range,
        codes=[code for code in COMPLIANCE_CODES if RULES[code].subject_type == subject_type],
    )
    due = _due_dates(session, flags) if subject_type == "adverse_event" else {}
    fresh = {(f.code, f.subject_id): f for f in flags}
    now, action = utcnow(), current_action.get()
    closing: list[int] = []
    changes: list[dict[str, Any]] = []
    for row_id, code, subject_id, facts, message, waiver_id, product_id, lot_id, due_on in _stored(
        session, subject_type, ids, id_range
    ):
        item = fresh.pop((code, subject_id), None)
        if item is None or item.facts != facts:
            closing.append(row_id)
            if item is not None:
                fresh[(code, subject_id)] = item  # raised again on the new facts, below
            continue
        waiver = item.waiver["id"] if item.waiver else None
        due_item = due.get(subject_id) if code == "AE-UNREPORTED" else None
        if isinstance(due_on, str):
            due_on = date.fromisoformat(due_on)
        if (message, waiver_id, product_id, lot_id, due_on) != (
            item.message,
            waiver,
            item.product_id,
            item.lot_id,
            due_item,
        ):
            values = _row_values(item, due)
            changes.append({"_id": row_id, **{f"_{k}": values[k] for k in _UPDATED}})
    connection = session.connection()
    table = table_of(FlagRecord)
    # Closed first: the new row of a flag raised on new facts takes the place of the open one in the unique index.
    for start in range(0, len(closing), MAX_SQL_IDS):
        connection.execute(
            update(table)
            .where(table.c.id.in_(closing[start : start + MAX_SQL_IDS]))
            .values(closed_at=now, closed_by=action)
        )
    if changes:
        connection.execute(
            update(table).where(table.c.id == bindparam("_id")).values({k: bindparam(f"_{k}") for k in _UPDATED}),
            changes,
        )
    if fresh:
        _insert_flags(connection, list(fresh.values()), due, now)
    return len(fresh), len(closing)


_UPDATED = ("message", "waiver_id", "product_id", "lot_id", "due_on")
_INSERTED = (
    "code",
    "severity",
    "severity_order",
    "subject_type",
    "subject_id",
    "product_id",
    "lot_id",
    "message",
    "facts",
    "due_on",
    "waiver_id",
    "raised_at",
)


def _insert_flags(connection: Any, flags: list[Flag], due: dict[int, date], now: datetime) -> None:
    """New open rows, as tuples straight to the driver's executemany: building a parameter dict per row through
    SQLAlchemy was half the time of a first build (a million flags at a million lots)."""
    sqlite = connection.dialect.name == "sqlite"
    # SQLite stores datetimes and dates as SQLAlchemy writes them (ISO text, microseconds always present).
    raised: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO flag_record ({', '.join(_INSERTED)}) VALUES ({', '.join([mark] * len(_INSERTED))})"
    rows = []
    for item in flags:
        due_on = due.get(item.subject_id) if item.code == "AE-UNREPORTED" else None
        rows.append(
            (
                item.code,
                item.severity,
                -SEVERITY_RANK[item.severity],
                item.subject_type,
                item.subject_id,
                item.product_id,
                item.lot_id,
                item.message,
                item.facts,
                due_on.isoformat() if sqlite and due_on is not None else due_on,
                item.waiver["id"] if item.waiver else None,
                raised,
            )
        )
    connection.exec_driver_sql(statement, rows)


def _row_values(item: Flag, due: dict[int, date]) -> dict[str, Any]:
    return {
        "message": item.message,
        "waiver_id": item.waiver["id"] if item.waiver else None,
        "product_id": item.product_id,
        "lot_id": item.lot_id,
        "due_on": due.get(item.subject_id) if item.code == "AE-UNREPORTED" else None,
    }
