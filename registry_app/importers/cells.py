"""Parsers for one cell of an import (or one field of a form): text in, a typed value out, or CellError
with a message that says what is wrong and what would be right.

An empty cell means "not recorded" and never reaches these functions: callers skip it first, which is also
what keeps a 100,000-row import fast.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class CellError(ValueError):
    """The cell's content is malformed; str(error) is the explanation shown after `column NAME: `."""


Parser = Callable[[str], Any]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIGITS = re.compile(r"^\d+$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
YES = frozenset({"yes", "y", "true"})
NO = frozenset({"no", "n", "false"})


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> date:
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise CellError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-02")


def is_date_only(text: str) -> bool:
    """The cell gives a date without a time (parse_datetime reads it as midnight)."""
    return bool(_DATE.match(text.strip())) and len(text.strip()) == 10


def parse_datetime(text: str) -> datetime:
    """A date or a date-time (`2026-03-10T10:30`, `2026-03-10 10:30`), as the clinic's local wall-clock time."""
    if _DATE.match(text):
        return datetime.combine(parse_date(text), datetime.min.time())
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CellError(f"{text!r} is not a date or date-time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if len(text) < 16 or not _DATE.match(text[:10]):
        raise CellError(f"{text!r} is not a date or date-time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    # Recorded as local wall-clock time: an offset, if given, is dropped rather than converted.
    return value.replace(tzinfo=None)


def parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{text!r} is not a number") from None
    if "_" in text or not math.isfinite(value):
        raise CellError(f"{text!r} is not a number")
    return value


def parse_decimal(text: str) -> Decimal:
    """A quantity, volume or result, exactly as written (rules.md: exact decimals; 150.40 keeps its places)."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise CellError(f"{text!r} is not a number") from None
    if "_" in text or not value.is_finite():
        raise CellError(f"{text!r} is not a number")
    return value


def parse_non_negative(text: str) -> Decimal:
    value = parse_decimal(text)
    if value < 0:
        raise CellError(f"{text} is negative: give a value of 0 or more")
    return value


def parse_positive(text: str) -> Decimal:
    value = parse_decimal(text)
    if value <= 0:
        raise CellError(f"{text} must be greater than 0")
    return value


def parse_yes_no(text: str) -> bool:
    lowered = text.casefold()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    raise CellError(f"{text!r} is not yes or no")


# Codes people write that ISO 3166 spells otherwise.
_COMMON_MISTAKES = {"UK": "GB", "EL": "GR"}


@functools.cache
def _iso_countries() -> frozenset[str]:
    import pycountry  # loaded on first use: most cells of an import are not countries

    return frozenset(country.alpha_2 for country in pycountry.countries)


def _iso_code(text: str, what: str, examples: str, also: frozenset[str] = frozenset()) -> str:
    code = text.upper()
    if not _COUNTRY.match(text):
        raise CellError(f"{text!r} is not a {what}: use an ISO 3166 alpha-2 code such as {examples}")
    if code not in _iso_countries() and code not in also:
        hint = f" (did you mean {_COMMON_MISTAKES[code]}?)" if code in _COMMON_MISTAKES else ""
        raise CellError(f"{text!r} is not an ISO 3166 country code{hint}: use one such as {examples}")
    return code


@functools.lru_cache(maxsize=512)
def parse_country(text: str) -> str:
    return _iso_code(text, "country", "KR, US, FR")


@functools.lru_cache(maxsize=512)
def parse_jurisdiction(text: str) -> str:
    """A country, or EU for the European Union's own authorisations."""
    return _iso_code(text, "jurisdiction", "US, KR, or EU", also=frozenset({"EU"}))


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


@functools.lru_cache(maxsize=4096)
def parse_gtin(text: str) -> str:
    """A GTIN-8, -12, -13 or -14 with a valid check digit, stored as 14 digits (as AI 01 of a scan gives it)."""
    if not _DIGITS.match(text) or not 8 <= len(text) <= 14:
        raise CellError(f"{text!r} is not a GTIN: give 8 to 14 digits")
    expected = gtin_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise CellError(f"{text} has a wrong check digit: expected {expected}, found {text[-1]}")
    return text.zfill(14)


def _suggest(text: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(text, list(allowed), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def vocabulary(allowed: type[StrEnum] | Iterable[str], what: str) -> Parser:
    """A parser accepting one value of the vocabulary, case-insensitively."""
    # str(): enum members given as a list are stored as their plain text (the database driver binds exact
    # str fastest, and an enum member's repr must never leak into an error message or the audit).
    values = tuple(m.value for m in allowed) if isinstance(allowed, type) else tuple(str(v) for v in allowed)
    lookup = {v.casefold(): v for v in values}
    listing = ", ".join(values)

    def parse(text: str) -> str:
        found = lookup.get(text.casefold())
        if found is None:
            raise CellError(f"{text!r} is not a {what}{_suggest(text.casefold(), values)}; use one of {listing}")
        return found

    return parse


def vocabulary_list(allowed: type[StrEnum] | Iterable[str], what: str) -> Parser:
    """A `;`-separated list of vocabulary values, returned de-duplicated in vocabulary order."""
    values = tuple(m.value for m in allowed) if isinstance(allowed, type) else tuple(allowed)
    one = vocabulary(values, what)
    order = {v: i for i, v in enumerate(values)}

    def parse(text: str) -> tuple[str, ...]:
        found = {one(part.strip()) for part in text.split(";") if part.strip()}
        return tuple(sorted(found, key=order.__getitem__))

    return parse


class TextParser:
    """Free text of at most `limit` characters, kept as typed. A class rather than a closure so that a
    column-wise import can see the limit and check a whole column with one max(map(len, ...))."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: str) -> str:
        if len(value) > self.limit:
            raise CellError(f"is {len(value)} characters long; at most {self.limit} fit")
        return value


def text(limit: int) -> TextParser:
    return TextParser(limit)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold: dates as ISO, whole numbers without `.0`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()
