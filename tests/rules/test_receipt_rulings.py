"""Ruling 2 (a receipt temperature outside the storage range is an open excursion, USE-TEMPERATURE) and the
warning for a lot expired on arrival, at the desktop's receipt and at import alike, and `import lots --update`
over an existing lot of a demo registry."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry_app.domain import Lot, Product, TemperatureExcursion
from registry_app.rules import evaluate_flags
from registry_app.services import ServiceContext, products
from registry_app.services.demo.generate import generate_demo
from registry_app.services.imports import import_lots
from registry_app.services.lots import excursions, receiving

TODAY = date.today()


def _product(ctx: ServiceContext, storage_form: str | None = "refrigerated", name: str = "Cordexa UC-EV") -> int:
    values = {"name": name, "product_type": "exosome", "unit": "vial"}
    if storage_form:
        values["storage_form"] = storage_form
    return products.create_product(ctx, values)


def _lot_codes(ctx: ServiceContext, lot_id: int) -> set[str]:
    with ctx.db.read() as session:
        return {f.code for f in evaluate_flags(session, "US", TODAY, subject_type="lot", subject_ids=[lot_id])}


def _open_excursions(ctx: ServiceContext, lot_id: int) -> int:
    with ctx.db.read() as session:
        return session.execute(
            select(func.count()).where(TemperatureExcursion.lot_id == lot_id, TemperatureExcursion.resolution.is_(None))
        ).scalar_one()


@pytest.mark.parametrize(
    ("form", "reading", "opened"),
    [
        ("refrigerated", 8.0, False),
        ("refrigerated", 8.1, True),
        ("refrigerated", 2.0, False),
        ("refrigerated", 1.9, True),
        ("frozen", -60.0, False),
        ("frozen", -59.9, True),
        ("ambient", 25.0, False),
        ("ambient", 25.1, True),
        ("lyophilized", 30.0, False),
        (None, 30.0, False),
    ],
)
def test_receipt_outside_the_storage_range_opens_an_excursion(
    pharmacist: ServiceContext, director: ServiceContext, form: str | None, reading: float, opened: bool
) -> None:
    receipt = receiving.receive_lot(
        pharmacist,
        _product(pharmacist, form),
        {"lot_number": "T-1", "quantity_received": 5, "receipt_temperature_c": reading, "package_intact": True},
    )
    assert _open_excursions(pharmacist, receipt.lot_id) == int(opened)
    assert ("USE-TEMPERATURE" in _lot_codes(pharmacist, receipt.lot_id)) is opened
    assert any("temperature excursion is recorded" in w for w in receipt.warnings) is opened
    if opened:
        # ... and until it is resolved only.
        [view] = excursions.list_excursions(pharmacist, receipt.lot_id)
        excursions.resolve_excursion(director, view.id, "quarantine")
        assert "USE-TEMPERATURE" not in _lot_codes(pharmacist, receipt.lot_id)


def test_a_corrected_receipt_reading_outside_the_range_opens_an_excursion(pharmacist: ServiceContext) -> None:
    receipt = receiving.receive_lot(
        pharmacist, _product(pharmacist), {"lot_number": "T-3", "quantity_received": 5, "receipt_temperature_c": 4}
    )
    assert _open_excursions(pharmacist, receipt.lot_id) == 0
    receiving.amend_lot(pharmacist, receipt.lot_id, {"receipt_temperature_c": "4"}, "re-read the logger")
    assert _open_excursions(pharmacist, receipt.lot_id) == 0
    receiving.amend_lot(pharmacist, receipt.lot_id, {"receipt_temperature_c": "11.5"}, "logger showed 11.5")
    assert _open_excursions(pharmacist, receipt.lot_id) == 1
    assert "USE-TEMPERATURE" in _lot_codes(pharmacist, receipt.lot_id)


def test_the_reading_is_shown_as_recorded(pharmacist: ServiceContext) -> None:
    receipt = receiving.receive_lot(
        pharmacist, _product(pharmacist), {"lot_number": "T-2", "quantity_received": 5, "receipt_temperature_c": "8.05"}
    )
    assert any("received at 8.05 °C" in w for w in receipt.warnings)


LOTS_HEADER = "product_name,product_type,storage_form,lot_number,received_date,quantity_received,unit,"
LOTS_HEADER += "receipt_temperature_c,expiry_date\n"


def _write(tmp_path: Path, text: str, name: str = "lots.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_opens_the_same_excursions_and_reports_how_many(pharmacist: ServiceContext, tmp_path: Path) -> None:
    day = (TODAY - timedelta(days=3)).isoformat()
    path = _write(
        tmp_path,
        LOTS_HEADER
        + f"Cold EV,exosome,refrigerated,C-1,{day},5,vial,8.0,2030-01-01\n"
        + f"Cold EV,exosome,refrigerated,C-2,{day},5,vial,8.5,2030-01-01\n"
        + f"Frozen EV,exosome,frozen,F-1,{day},5,vial,-20,2030-01-01\n"
        + f"Frozen EV,exosome,frozen,F-2,{day},5,vial,,2030-01-01\n",
    )
    dry = import_lots(pharmacist, path, dry_run=True)
    assert dry.ok and dry.excursions_opened == 0
    result = import_lots(pharmacist, path)
    assert result.ok and result.excursions_opened == 2
    with pharmacist.db.read() as session:
        ids = dict(session.execute(select(Lot.lot_number, Lot.id)).all())
    assert {n for n in ("C-1", "C-2", "F-1", "F-2") if _open_excursions(pharmacist, ids[n])} == {"C-2", "F-1"}
    assert "USE-TEMPERATURE" in _lot_codes(pharmacist, ids["C-2"])
    assert "USE-TEMPERATURE" not in _lot_codes(pharmacist, ids["C-1"])


def test_expired_on_arrival_warns_before_anything_is_saved(pharmacist: ServiceContext, tmp_path: Path) -> None:
    product_id = _product(pharmacist)
    yesterday, today = TODAY - timedelta(days=1), TODAY
    details = {"lot_number": "X-1", "quantity_received": 5, "expiry_date": yesterday}
    warnings = receiving.receipt_warnings(pharmacist, details, product_id)
    assert len(warnings) == 1 and f"expired on {yesterday.isoformat()}" in warnings[0]
    with pharmacist.db.read() as session:
        assert session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0
    assert receiving.receipt_warnings(pharmacist, {**details, "expiry_date": today}, product_id) == ()
    receipt = receiving.receive_lot(pharmacist, product_id, details)
    assert any("expired on" in w for w in receipt.warnings)
    # The import lists it too, on the dry run that writes nothing and on the import itself.
    day = (TODAY - timedelta(days=10)).isoformat()
    before = (TODAY - timedelta(days=11)).isoformat()
    path = _write(
        tmp_path,
        LOTS_HEADER + f"Old EV,exosome,ambient,O-1,{day},5,vial,20,{before}\n"
        f"Old EV,exosome,ambient,O-2,{day},5,vial,20,{day}\n",
    )
    dry = import_lots(pharmacist, path, dry_run=True)
    assert dry.ok and len(dry.warnings) == 1 and dry.warnings[0].startswith("row 2: lot O-1 expired on")
    assert import_lots(pharmacist, path).warnings == dry.warnings


def test_import_update_of_a_demo_registry_lot(
    admin: ServiceContext, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    generate_demo(admin, lots=40, seed=3)  # the demo is the admin's (issue 17); the import, the pharmacist's
    with pharmacist.db.read() as session:
        lot, product = session.execute(
            select(Lot, Product).join(Product, Product.id == Lot.product_id).order_by(Lot.id)
        ).first()
        name, ptype, number = product.name, product.product_type, lot.lot_number
        # A unit other than the product's: --update changes the product too, the path that failed to unpack.
        unit = "ml" if product.unit != "ml" else "vial"
    path = _write(
        tmp_path,
        "product_name,product_type,lot_number,received_date,quantity_received,unit\n"
        f"{name},{ptype},{number},{lot.received_date.isoformat()},{lot.quantity_received + 1},{unit}\n",
    )
    refused = import_lots(pharmacist, path)
    assert not refused.ok and "use --update" in refused.error_lines()[0]
    result = import_lots(pharmacist, path, update=True)
    assert result.ok, result.error_lines()
    assert (result.created, result.updated) == (0, 1)
    with pharmacist.db.read() as session:
        assert session.get(Lot, lot.id).quantity_received == lot.quantity_received + 1
        assert session.get(Product, product.id).unit == unit
    assert result.products_updated == 1
