"""Exact decimal quantities, volumes and results (rules.md: 0.1 + 0.2 mL from 0.3 mL received is no overdraw).

`Exact` columns are NUMERIC on PostgreSQL, exact in the database and in Python (`Decimal`). SQLite has no
exact decimal storage: a NUMERIC column there stores 0.1 as the same binary REAL a FLOAT column does (and
20.0 as the integer 20, which would rewrite every migrated row), so on SQLite the column keeps its REAL
affinity and exactness comes from the two ends instead:

- a value is stored as the double nearest its decimal and read back as the shortest decimal that names that
  double (`Decimal(repr(x))`): 0.1 reads 0.1, 150.4 reads 150.4, never 0.1000000000000000055...;
- arithmetic happens in Python on Decimals, or in SQL wrapped in `exact_sql` (rounded to SQL_SCALE decimal
  places), so that a stored total is again the double nearest an exact decimal. Nearest doubles keep the
  order and the equality of the decimals they stand for, so comparisons in SQL (overdrawn, in stock, out of
  specification) are exact for the values a clinic records.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, overload

from sqlalchemy import Float, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

# Decimal places kept by SQL arithmetic on SQLite (and by the migration's clean-up of stored sums): far more
# than any quantity or result is recorded with, well within a double's 15 significant digits for quantities.
SQL_SCALE = 9
ZERO = Decimal(0)


@overload
def to_decimal(value: Decimal | float | str) -> Decimal: ...
@overload
def to_decimal(value: object) -> Decimal | None: ...
def to_decimal(value: object) -> Decimal | None:
    """A recorded number as an exact Decimal: a float as the shortest decimal that names it (what was typed)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def plain(value: Decimal | float | int | None) -> str:
    """A number as recorded, in plain notation: 150.4, 0.3, 1.5E+10 as 15000000000; '-' when not recorded.
    Zero is 0 whatever its exponent (0E-10 from an exact difference reads 0, never -0 or 0E-10)."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**6:
        # A double carries no trailing zeros: 30.0 read from SQLite was recorded as 30 as likely as 30.0.
        return str(int(value))
    number = to_decimal(value)
    assert number is not None
    if number == 0:
        return "0"
    if abs(number) >= 10**6:
        # Particle counts: 1.2E+10, the digits recorded without a row of zeros.
        return str(number.normalize())
    return format(number, "f")


def fact_text(value: object) -> str:
    """A compared value as a waiver's fact (rules.md): the number itself, whatever its notation or the database
    it was read from (150.40 and 150.4 are one fact, 150.1 and 150.4 two)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float | Decimal):
        number = to_decimal(value)
        assert number is not None
        return "0" if number == 0 else str(number.normalize())
    return str(value)


def facts_of(*values: object) -> str:
    return "|".join(map(fact_text, values))


class Exact(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL, REAL affinity on SQLite (see the module's note); Decimal in Python either way."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Float())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        number = to_decimal(value)
        if number is None:
            return None
        return float(number) if dialect.name == "sqlite" else number

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        return to_decimal(value)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class exact_sql(FunctionElement[Decimal]):
    """SQL arithmetic on Exact columns, exact: on SQLite rounded to SQL_SCALE places (the nearest double of the
    exact result, not 0.30000000000000004); on PostgreSQL the NUMERIC expression as it is (exact already, and
    rounding would give it nine trailing zeros: 0E-9 for zero)."""

    inherit_cache = True

    def __init__(self, expression: ColumnElement[Any]) -> None:
        super().__init__(expression)
        self.type = Exact()


@compiles(exact_sql)
def _exact_sql_default(element: exact_sql, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(exact_sql, "sqlite")
def _exact_sql_sqlite(element: exact_sql, compiler: Any, **kw: Any) -> str:
    return f"round({compiler.process(element.clauses, **kw)}, {SQL_SCALE})"


def quantity_text(value: Decimal | float | int | None) -> str:
    """A quantity for a person to read: 10, 10.5, 0.3 (no trailing zeros, never 10.0 or 1E+1); '' when none."""
    number = to_decimal(value)
    if number is None:
        return ""
    return format(number.normalize(), "f") if number != 0 else "0"
