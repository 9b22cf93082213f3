"""GS1 barcodes from a keyboard-wedge scanner: GTIN (01), lot (10), expiry (17) and serial (21).

The parsing itself is biip's (GS1 General Specifications, AI table, check digits, YYMMDD with day 00 as the
last day of the month). This module only prepares what a scanner types: it drops the trailing Enter, accepts
the symbology prefix (`]d2` GS1 DataMatrix, `]C1` GS1-128, `]Q3` GS1 QR) or none, treats a configurable
stand-in character as FNC1 (many wedge scanners cannot type the GS control character), and reads the
human-readable form with parentheses, `(01)...(17)...(10)...`, that a user may type from the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import biip
from biip.gs1_messages import GS1Message

GROUP_SEPARATOR = "\x1d"
# Printable stand-ins scanners are commonly configured to send for FNC1 when GS cannot be typed.
DEFAULT_STAND_INS: tuple[str, ...] = ()


class ScanError(ValueError):
    """The scanned text is not a usable GS1 barcode; the message says why."""


@dataclass(frozen=True)
class ScanResult:
    """What a GS1 barcode says about the package in hand."""

    gtin: str | None  # 14 digits, zero-padded (AI 01 always carries 14)
    lot_number: str | None
    expiry_date: date | None
    serial: str | None
    raw: str

    @property
    def is_complete(self) -> bool:
        return bool(self.gtin and self.lot_number)


def _clean(text: str, stand_ins: tuple[str, ...]) -> str:
    value = text.strip("\r\n\t ")
    for stand_in in stand_ins:
        if stand_in:
            value = value.replace(stand_in, GROUP_SEPARATOR)
    # A leading FNC1 (sent by some scanners as GS) carries no data.
    return value.lstrip(GROUP_SEPARATOR)


def parse_scan(text: str, fnc1_stand_in: str | tuple[str, ...] | None = None) -> ScanResult:
    """Parse what the scanner typed. `fnc1_stand_in`: the character(s) the scanner sends for FNC1 instead of
    the GS character (e.g. `~` or `|`), if it is configured that way.

    Raises ScanError when the text holds no GS1 element strings or a GTIN with a wrong check digit.
    """
    stand_ins = (fnc1_stand_in,) if isinstance(fnc1_stand_in, str) else tuple(fnc1_stand_in or DEFAULT_STAND_INS)
    value = _clean(text, stand_ins)
    if not value:
        raise ScanError("nothing was scanned")
    try:
        if value.startswith("("):
            message = GS1Message.parse_hri(value)
        else:
            config = biip.ParseConfig(separator_chars=(GROUP_SEPARATOR, *stand_ins))
            result = biip.parse(value, config=config)
            if result.gs1_message is None:
                raise ScanError(f"not a GS1 barcode: {result.gs1_message_error or result.gtin_error or value!r}")
            message = result.gs1_message
    except biip.ParseError as error:
        raise ScanError(f"not a GS1 barcode: {error}") from error
    except (IndexError, ValueError, KeyError) as error:
        # biip itself trips over some truncated inputs (e.g. a bare "]" symbology prefix); for the user that is
        # simply an unreadable scan.
        raise ScanError(f"not a GS1 barcode: {value!r} could not be read") from error
    gtin_element = message.element_strings.get(ai="01")
    if gtin_element is not None and gtin_element.gtin_error:
        raise ScanError(f"the GTIN {gtin_element.value} is not valid: {gtin_element.gtin_error}")
    lot = message.element_strings.get(ai="10")
    expiry = message.element_strings.get(ai="17")
    serial = message.element_strings.get(ai="21")
    if gtin_element is None and lot is None:
        raise ScanError("the barcode carries neither a GTIN (01) nor a lot number (10)")
    return ScanResult(
        gtin=gtin_element.value if gtin_element is not None else None,
        lot_number=lot.value if lot is not None else None,
        expiry_date=expiry.date if expiry is not None else None,
        serial=serial.value if serial is not None else None,
        raw=text,
    )
