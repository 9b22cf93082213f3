"""Cell parsers: each malformed kind is refused with a message naming the value."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from registry_app.importers import cells as c


def test_dates() -> None:
    assert c.parse_date("2026-03-02") == date(2026, 3, 2)
    for bad in ("2026-02-30", "02/03/2026", "20260302", "2026-3-2", "soon"):
        with pytest.raises(c.CellError, match="not a date"):
            c.parse_date(bad)


def test_date_times() -> None:
    assert c.parse_datetime("2026-03-10T10:30") == datetime(2026, 3, 10, 10, 30)
    assert c.parse_datetime("2026-03-10 10:30:15") == datetime(2026, 3, 10, 10, 30, 15)
    assert c.parse_datetime("2026-03-10") == datetime(2026, 3, 10)
    with pytest.raises(c.CellError):
        c.parse_datetime("10:30")


def test_numbers() -> None:
    assert c.parse_number("1.0e10") == 1.0e10
    assert c.parse_number("-3.5") == -3.5
    for bad in ("ten", "1,000", "nan", "inf", "1_000", ""):
        with pytest.raises(c.CellError, match="not a number"):
            c.parse_number(bad)
    with pytest.raises(c.CellError, match="greater than 0"):
        c.parse_positive("0")
    with pytest.raises(c.CellError, match="negative"):
        c.parse_non_negative("-1")


def test_gtin_check_digit() -> None:
    assert c.parse_gtin("08801234567893") == "08801234567893"
    assert c.parse_gtin("8801234567893") == "08801234567893"  # GTIN-13 stored as 14 digits
    with pytest.raises(c.CellError, match="check digit: expected 3, found 4"):
        c.parse_gtin("8801234567894")
    with pytest.raises(c.CellError, match="8 to 14 digits"):
        c.parse_gtin("12345")


def test_yes_no_and_vocabularies() -> None:
    assert c.parse_yes_no("Yes") is True and c.parse_yes_no("no") is False
    with pytest.raises(c.CellError, match="not yes or no"):
        c.parse_yes_no("maybe")
    route = c.vocabulary(("intradermal", "topical_intact"), "route")
    assert route("Intradermal") == "intradermal"
    with pytest.raises(c.CellError, match="did you mean intradermal"):
        route("intradermel")
    areas = c.vocabulary_list(("face", "neck", "scalp"), "body area")
    assert areas("neck; face;neck") == ("face", "neck")


def test_countries_and_jurisdictions_are_iso_3166() -> None:
    assert (c.parse_country("kr"), c.parse_country("FR"), c.parse_jurisdiction("eu")) == ("KR", "FR", "EU")
    for bad, message in (
        ("ZZ", "not an ISO 3166 country code"),
        ("UK", "did you mean GB?"),
        ("Korea", "not a country"),
        ("EU", "not an ISO 3166 country code"),
    ):
        with pytest.raises(c.CellError, match=message):
            c.parse_country(bad)
    with pytest.raises(c.CellError, match="not an ISO 3166 country code"):
        c.parse_jurisdiction("XX")


def test_spreadsheet_cells_as_text() -> None:
    assert c.cell_text(datetime(2026, 3, 2)) == "2026-03-02"
    assert c.cell_text(datetime(2026, 3, 2, 10, 30)) == "2026-03-02T10:30"
    assert c.cell_text(20.0) == "20"
    assert c.cell_text(True) == "yes"
    assert c.cell_text(None) == ""
