"""GS1 strings as scanners type them from real package layouts."""

from __future__ import annotations

from datetime import date

import pytest

from registry_app.importers.gs1 import ScanError, parse_scan

GTIN = "08801234567893"
GS = "\x1d"


@pytest.mark.parametrize(
    ("text", "lot", "expiry", "serial"),
    [
        # GS1 DataMatrix: GTIN, expiry, lot (last, so no separator needed)
        (f"]d201{GTIN}1727063010CX-2406-118", "CX-2406-118", date(2027, 6, 30), None),
        # lot before expiry: the variable-length lot ends with GS
        (f"]d201{GTIN}10CX-2406-118{GS}17270630", "CX-2406-118", date(2027, 6, 30), None),
        # with serial after the lot
        (f"]d201{GTIN}1727063010PN20-7781{GS}21SN000123", "PN20-7781", date(2027, 6, 30), "SN000123"),
        # GS1-128 prefix, serial before lot
        (f"]C101{GTIN}21A1B2{GS}10LOT7{GS}17280228", "LOT7", date(2028, 2, 28), "A1B2"),
        # no symbology prefix, leading FNC1 as GS, trailing Enter
        (f"{GS}01{GTIN}1727060010AB12\r\n", "AB12", date(2027, 6, 30), None),
        # human-readable form typed from the label (day 00 = last day of the month)
        (f"(01){GTIN}(17)270600(10)AB12(21)S1", "AB12", date(2027, 6, 30), "S1"),
    ],
)
def test_real_package_layouts(text: str, lot: str, expiry: date, serial: str | None) -> None:
    scan = parse_scan(text)
    assert scan.gtin == GTIN
    assert scan.lot_number == lot
    assert scan.expiry_date == expiry
    assert scan.serial == serial


def test_configurable_fnc1_stand_in() -> None:
    scan = parse_scan(f"01{GTIN}10LOT-9~17270131~21XY", fnc1_stand_in="~")
    assert (scan.lot_number, scan.expiry_date, scan.serial) == ("LOT-9", date(2027, 1, 31), "XY")
    # Without telling the parser, `~` is outside GS1's character set: refused rather than misread.
    with pytest.raises(ScanError):
        parse_scan(f"01{GTIN}10LOT-9~17270131")


@pytest.mark.parametrize("text", ["", "   ", "hello", f"01{GTIN[:-1]}410X"])
def test_unusable_scans_are_explained(text: str) -> None:
    with pytest.raises(ScanError) as error:
        parse_scan(text)
    assert str(error.value)
