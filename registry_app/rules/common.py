"""What the rule families share: the evaluation request, SQL helpers that read the same on SQLite and
PostgreSQL, and the constructor of a Flag from a result row."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, String, and_, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .catalogue import RULES, Flag

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

    def wants(self, *codes: str) -> bool:
        return any(code in self.codes for code in codes)

    def id_filter(self, column: Any) -> list[ColumnElement[bool]]:
        """A WHERE clause restricting to the requested subjects, when the list is short enough for SQL."""
        if self.subject_ids is None or len(self.subject_ids) > MAX_SQL_IDS:
            return []
        return [column.in_(sorted(self.subject_ids))]

    def keep(self, subject_id: int) -> bool:
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


def blank(column: Any) -> ColumnElement[bool]:
    """NULL, empty or only spaces."""
    return or_(column.is_(None), func.trim(column) == "")


def present(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), func.trim(column) != "")


def list_contains(column: Any, value: str) -> ColumnElement[bool]:
    """A `;`-joined list cell holds the value (whole item, not a substring of another)."""
    return (literal(";", String) + func.coalesce(column, "") + literal(";", String)).like(f"%;{value};%")


def flag(code: str, subject_id: int, row: Any, message: str) -> Flag:
    """A Flag for the rule `code` from a row carrying product_id, product_name, lot_id and lot_number."""
    rule = RULES[code]
    mapping = row._mapping
    return Flag(
        code=code,
        severity=rule.severity,
        subject_type=rule.subject_type,
        subject_id=int(subject_id),
        product_id=mapping.get("product_id"),
        product_name=mapping.get("product_name"),
        lot_id=mapping.get("lot_id"),
        lot_number=mapping.get("lot_number"),
        message=message,
    )


def flag_column(code: str) -> str:
    """The name of the 0/1 result column that says whether rule `code` holds on a row."""
    return "c_" + code.lower().replace("-", "_")


FLAG_CONTEXT = ("product_id", "product_name", "lot_id", "lot_number")


def flags_from_rows(req: Request, result: Any, codes: Sequence[str], subject_key: str,
                    message: Callable[[str, Any], str]) -> list[Flag]:
    """The flags of a family's query: one per row and code whose flag column (`flag_column`) is set.

    Columns are looked up by position once, not by name per row and code: a large registry returns some
    100k flagged rows, and name lookups were most of the Python time of an evaluation."""
    keys = list(result.keys())
    checks = [(code, keys.index(flag_column(code)), RULES[code]) for code in codes]
    context_at = [keys.index(name) if name in keys else None for name in FLAG_CONTEXT]
    subject_at = keys.index(subject_key)
    flags: list[Flag] = []
    for row in result:
        subject_id = int(row[subject_at])
        if not req.keep(subject_id):
            continue
        context = [None if at is None else row[at] for at in context_at]
        for code, at, rule in checks:
            if row[at]:
                flags.append(Flag(code, rule.severity, rule.subject_type, subject_id, *context,
                                  message=message(code, row)))
    return flags


def label(value: str | None) -> str:
    return (value or "").replace("_", " ")


def split_list(cell: str | None) -> list[str]:
    return [item.strip() for item in (cell or "").split(";") if item.strip()]


def frozen(values: Collection[int] | None) -> frozenset[int] | None:
    return None if values is None else frozenset(int(v) for v in values)
