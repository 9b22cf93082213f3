"""What the rule families share: the evaluation request, SQL helpers that read the same on SQLite and
PostgreSQL, and the constructor of a Flag from a result row."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Date, String, and_, case, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .catalogue import RULES, Flag, new_flag

_new = object.__new__
_set = object.__setattr__

# Above this many ids a subject filter is applied in Python: SQLite limits the number of bound parameters.
MAX_SQL_IDS = 500


@dataclass(frozen=True)
class Request:
    """One evaluation: the jurisdiction whose regulatory status applies, the site's local date, and filters."""

    session: Session
    jurisdiction: str
    today: date
    codes: frozenset[str]
    subject_ids: frozenset[int] | None = None
    # Subjects with lo <= id <= hi: a filter of any width that SQL applies (a stream's chunk of subjects).
    id_range: tuple[int, int] | None = None

    def wants(self, *codes: str) -> bool:
        return any(code in self.codes for code in codes)

    def id_filter(self, column: Any) -> list[ColumnElement[bool]]:
        """A WHERE clause restricting to the requested subjects, when the list is short enough for SQL."""
        conditions = [column.between(*self.id_range)] if self.id_range is not None else []
        if self.subject_ids is None or len(self.subject_ids) > MAX_SQL_IDS:
            return conditions
        return [*conditions, column.in_(sorted(self.subject_ids))]

    def rows(self, query: Any) -> Any:
        """Run a family's select on the session's connection. Core rows, not the ORM's result machinery, which
        was a third of the Python time of an evaluation over a large registry; the session is flushed first
        (when autoflush is on, as session.execute would) so pending changes are seen."""
        if self.session.autoflush:
            self.session.flush()
        return self.session.connection().execute(query)

    def keep(self, subject_id: int) -> bool:
        if self.id_range is not None and not self.id_range[0] <= subject_id <= self.id_range[1]:
            return False
        return self.subject_ids is None or subject_id in self.subject_ids


class local_date(FunctionElement[date]):
    """The date part of a stored local wall-clock datetime (administered_at), comparable with a Date column."""

    type = Date()
    inherit_cache = True


@compiles(local_date)
def _local_date_default(element: local_date, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    # SQLite stores datetimes as ISO text ('YYYY-MM-DD HH:MM:SS.ffffff'), so the date part is its first ten
    # characters: substr is the same value as date() (CAST AS DATE would yield the year) without parsing the
    # text on each of the 200k administrations a large registry evaluates, several times per row.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


def utc_start_of_local_day(day: date) -> datetime:
    """The UTC instant (naive, as *_at columns store them) at which `day` begins on this machine's clock, the
    site's: a UTC column is before it exactly when its local date is before `day`, compared in SQL as stored."""
    return datetime.combine(day, time.min).astimezone(UTC).replace(tzinfo=None)


def local_day(instant: datetime) -> date:
    """The site's local date of a stored (naive UTC) instant."""
    return instant.replace(tzinfo=UTC).astimezone().date()


def blank(column: Any) -> ColumnElement[bool]:
    """NULL, empty or only spaces."""
    return or_(column.is_(None), func.trim(column) == "")


def present(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), func.trim(column) != "")


def list_contains(column: Any, value: str) -> ColumnElement[bool]:
    """A `;`-joined list cell holds the value (whole item, not a substring of another)."""
    return (literal(";", String) + func.coalesce(column, "") + literal(";", String)).like(f"%;{value};%")


def flag(code: str, subject_id: int, row: Any, message: str, facts: str = "") -> Flag:
    """A Flag for the rule `code` from a row carrying product_id, product_name, lot_id and lot_number."""
    rule = RULES[code]
    mapping = row._mapping
    return new_flag(
        code,
        rule.severity,
        rule.subject_type,
        int(subject_id),
        mapping.get("product_id"),
        mapping.get("product_name"),
        mapping.get("lot_id"),
        mapping.get("lot_number"),
        message,
        facts,
    )


def flag_mask(conditions: Mapping[str, ColumnElement[bool]]) -> ColumnElement[int]:
    """One integer column whose bit i is set when the i-th condition holds: a single column to fetch and test
    instead of one 0/1 column per rule (a large registry returns ~80k flagged administrations)."""
    terms = [case((condition, 1 << i), else_=0) for i, condition in enumerate(conditions.values())]
    total: ColumnElement[int] = terms[0]
    for term in terms[1:]:
        total = total + term
    return total.label("flags")


Message = Callable[[Any], str]


def named_rows(result: Any) -> list[Any]:
    """A result's rows as named tuples: an attribute of SQLAlchemy's Row costs ~1 us, ten times a named
    tuple's, and a large registry has ~80k flagged rows whose messages read a few columns each."""
    row_type = namedtuple("FlagRow", list(result.keys()))  # type: ignore[misc]  # fields known at run time only
    return list(map(row_type._make, plain_rows(result)))


def plain_rows(result: Any) -> list[tuple[Any, ...]]:
    """A result's rows as the driver's tuples when no column needs converting (ints, floats, text: date columns
    typed as text): SQLAlchemy's Row objects cost ~2 us each over 80k rows. The check reads a private
    attribute, so anything unexpected falls back to all() (one fetch; iterating calls fetchone)."""
    processors = getattr(getattr(result, "_metadata", None), "_processors", None)
    if isinstance(processors, list) and not any(processors) and getattr(result, "cursor", None) is not None:
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()
    return list(result.all())


def _no_facts(_row: Any) -> str:
    return ""


def flags_from_rows(
    req: Request,
    rows: Iterable[Any],
    codes: Sequence[str],
    messages: Mapping[str, Message],
    product_names: Mapping[int, str] | None = None,
    facts: Mapping[str, Message] | None = None,
) -> list[Flag]:
    """The flags of a family's query rows (`named_rows`): one per row and set bit of its `flags` column
    (`flag_mask` over `codes`), worded by `messages[code](row)`, with the compared values `facts[code](row)`
    (none for a code whose condition compares no value: its waiver lasts while the flag stands).

    Rows carry subject_id, flags, product_id, lot_id and lot_number, and product_name unless `product_names`
    maps product ids to names. The codes of each distinct mask are worked out once."""
    by_mask: dict[int, list[tuple[str, str, str, Message, Message]]] = {}
    facts = facts or {}
    keep = req.subject_ids if req.subject_ids is not None and len(req.subject_ids) > MAX_SQL_IDS else None
    flags: list[Flag] = []
    append = flags.append
    for row in rows:
        subject_id = row.subject_id
        if keep is not None and subject_id not in keep:
            continue
        mask = row.flags
        entries = by_mask.get(mask)
        if entries is None:
            entries = by_mask[mask] = [
                (code, RULES[code].severity, RULES[code].subject_type, messages[code], facts.get(code, _no_facts))
                for i, code in enumerate(codes)
                if mask >> i & 1
            ]
        product_id = row.product_id
        product_name = row.product_name if product_names is None else product_names.get(product_id)
        lot_id, lot_number = row.lot_id, row.lot_number
        for code, severity, subject_type, message, compared in entries:
            # new_flag inlined: a call less per flag.
            item = _new(Flag)
            _set(
                item,
                "__dict__",
                {
                    "code": code,
                    "severity": severity,
                    "subject_type": subject_type,
                    "subject_id": subject_id,
                    "product_id": product_id,
                    "product_name": product_name,
                    "lot_id": lot_id,
                    "lot_number": lot_number,
                    "message": message(row),
                    "waived": False,
                    "waiver": None,
                    "facts": compared(row),
                },
            )
            append(item)
    return flags


def label(value: str | None) -> str:
    return (value or "").replace("_", " ")


class Labels(dict[str, str]):
    """value -> label(value), filled on first use: a lookup at C speed for the few values of a vocabulary
    (routes, statuses) worded on tens of thousands of flags."""

    def __missing__(self, key: str) -> str:
        text = self[key] = label(key)
        return text


def split_list(cell: str | None) -> list[str]:
    return [item.strip() for item in (cell or "").split(";") if item.strip()]


def frozen(values: Collection[int] | None) -> frozenset[int] | None:
    return None if values is None else frozenset(int(v) for v in values)
