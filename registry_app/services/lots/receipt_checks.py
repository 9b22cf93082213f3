"""What a receipt is checked for, shared by the desktop's receipt (services.lots.receiving) and the lot import
(services.imports), so that both decide alike (rules.md, USE-TEMPERATURE and ruling 2):

- a receipt temperature outside the product's storage range (vocabulary.md) is a temperature excursion,
  recorded open at receipt, so that USE-TEMPERATURE stands until someone resolves it;
- a lot whose expiry date is before the day it is received is expired on arrival: a warning given before
  anything is saved (the desktop asks again, the import report lists it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from registry_app.domain import TemperatureExcursion

# Storage form -> receipt temperature range in °C, both ends allowed (vocabulary.md: frozen at or below -60 °C,
# refrigerated 2-8 °C, ambient up to 25 °C). Lyophilized products state no range here: no excursion is inferred.
STORAGE_RANGES: dict[str, tuple[float, float]] = {
    "frozen": (-273.15, -60.0),
    "refrigerated": (2.0, 8.0),
    "ambient": (-273.15, 25.0),
}
RECEIPT_EXCURSION_NOTE = "Received at {reading} °C, outside the {form} storage range ({low}): recorded at receipt."


def _range_text(form: str) -> str:
    low, high = STORAGE_RANGES[form]
    return f"at or below {high:g} °C" if low <= -273 else f"{low:g}-{high:g} °C"


def _reading(value: float | Decimal) -> str:
    # As recorded: 8.05 reads 8.05, never rounded into the range (rules.md, quantities paragraph).
    return format(Decimal(str(value)).normalize(), "f") if not isinstance(value, Decimal) else format(value, "f")


def outside_storage_range(storage_form: str | None, reading_c: float | Decimal | None) -> bool:
    limits = STORAGE_RANGES.get(storage_form or "")
    if limits is None or reading_c is None:
        return False
    return not limits[0] <= float(reading_c) <= limits[1]


def temperature_warning(product_name: str, storage_form: str | None, reading_c: float | Decimal | None) -> str | None:
    if not outside_storage_range(storage_form, reading_c):
        return None
    assert storage_form is not None and reading_c is not None
    return (
        f"received at {_reading(reading_c)} °C, outside the {storage_form} range ({_range_text(storage_form)}) "
        f"for {product_name}: a temperature excursion is recorded on the lot and stays open (USE-TEMPERATURE) "
        "until someone resolves it; keep the lot in quarantine meanwhile"
    )


def expired_at_receipt(expiry_date: date | None, received_date: date | None) -> bool:
    """Expired on arrival: the expiry date is before the receipt day (a lot is usable on its expiry date,
    as USE-EXPIRED reads it)."""
    return expiry_date is not None and received_date is not None and expiry_date < received_date


def expiry_warning(lot_number: str | None, expiry_date: date | None, received_date: date | None) -> str | None:
    if not expired_at_receipt(expiry_date, received_date):
        return None
    assert expiry_date is not None and received_date is not None
    lot = f"lot {lot_number}" if lot_number else "the lot"
    return (
        f"{lot} expired on {expiry_date.isoformat()}, before it was received on {received_date.isoformat()}: "
        "it must not be used; reject it or return it to the supplier"
    )


@dataclass(frozen=True)
class ReceiptExcursion:
    lot_id: int
    received_date: date
    reading_c: float | Decimal
    storage_form: str


def excursion_values(item: ReceiptExcursion, now: datetime) -> dict[str, Any]:
    """The row of the open excursion a receipt records. The receipt's time of day is not recorded, so the
    excursion is dated from the start of the receipt day."""
    return {
        "lot_id": item.lot_id,
        "occurred_at": datetime.combine(item.received_date, time.min),
        "reading_c": float(item.reading_c),
        "duration_minutes": None,
        "notes": RECEIPT_EXCURSION_NOTE.format(
            reading=_reading(item.reading_c), form=item.storage_form, low=_range_text(item.storage_form)
        ),
        "resolution": None,
        "resolution_note": None,
        "resolved_at": None,
        "resolved_by_id": None,
        "recorded_at": now,
    }


def record_receipt_excursions(connection: Connection, items: Iterable[ReceiptExcursion], now: datetime) -> int:
    """Write the open excursions of these receipts in the caller's transaction; returns how many."""
    rows = [excursion_values(item, now) for item in items]
    if rows:
        connection.execute(insert(TemperatureExcursion), rows)
    return len(rows)


def receipt_excursions(
    lots: Iterable[tuple[int, date | None, Any]], storage_forms: Mapping[int, str | None]
) -> list[ReceiptExcursion]:
    """(lot id, received date, reading) -> the receipts outside their product's range (`storage_forms`: lot id ->
    the storage form of its product)."""
    found = []
    for lot_id, received, reading in lots:
        form = storage_forms.get(lot_id)
        if received is not None and outside_storage_range(form, reading):
            assert form is not None
            found.append(ReceiptExcursion(lot_id, received, reading, form))
    return found
