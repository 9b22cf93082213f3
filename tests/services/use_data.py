"""Products and lots for the tests of the use of lots (administrations, recalls, adverse events, excursions).

They are written straight into the test registry, as receiving would leave them, so that these tests do not
depend on the receiving workflow; everything after that goes through the services under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from registry_app.db import Database
from registry_app.domain import Lot, Manufacturer, Product, ProductRegulatoryStatus, ProductRoute, Supplier, name_key
from registry_app.services.administrations import AdministrationInput

TODAY = date.today()
YESTERDAY_10AM = datetime.combine(TODAY - timedelta(days=1), datetime.min.time()).replace(hour=10)


def make_product(
    db: Database,
    name: str = "Cordexa UC-EV 10B",
    *,
    product_type: str = "exosome",
    status: str | None = "device_registered",
    jurisdiction: str = "US",
    routes: Sequence[str] = (),
    source: str | None = "plant",
    reference: str | None = "CE 0123-4567",
    pn_species: str | None = None,
) -> int:
    """A product documented well enough that its own rules raise nothing above medium."""
    with db.write() as session:
        key = name_key(f"maker of {name}")
        maker = Manufacturer(name=f"Maker of {name}", name_key=key)
        product = Product(
            name=name,
            name_key=name_key(name),
            product_type=product_type,
            manufacturer=maker,
            source=source if product_type == "exosome" else None,
            pn_species=pn_species or ("oncorhynchus_keta" if product_type == "polynucleotide" else None),
        )
        session.add(product)
        session.flush()
        for route in routes:
            session.add(ProductRoute(product_id=product.id, route=route))
        if status is not None:
            session.add(
                ProductRegulatoryStatus(
                    product_id=product.id, jurisdiction=jurisdiction, status=status, reference=reference
                )
            )
        return product.id


def make_lot(
    db: Database,
    product_id: int,
    lot_number: str = "CX-2406-118",
    *,
    status: str = "released",
    quantity: float = 10,
    expiry: date | None = TODAY + timedelta(days=365),
    received: date = TODAY - timedelta(days=30),
    coa_ref: str | None = "COA-1",
) -> int:
    with db.write() as session:
        supplier = Supplier(name=f"Supplier {lot_number}", name_key=name_key(f"supplier {lot_number} {product_id}"))
        lot = Lot(
            product_id=product_id,
            lot_number=lot_number,
            status=status,
            quantity_received=quantity,
            expiry_date=expiry,
            received_date=received,
            supplier=supplier,
            coa_ref=coa_ref,
            receipt_temperature_c=4.0,
            package_intact=True,
            donor_eligibility_ref="DE-1",
        )
        session.add(lot)
        session.flush()
        return lot.id


def entry(lot_id: int, **values: object) -> AdministrationInput:
    """A complete, unremarkable administration of the lot; `values` change any field."""
    fields: dict[str, object] = {
        "lot_id": lot_id,
        "administered_at": YESTERDAY_10AM,
        "route": "topical_intact",
        "patient_ref": "PT-00412",
        "body_areas": ("face",),
        "quantity": 1.0,
        "volume_ml": 2.0,
        "practitioner": "dr.nguyen",
        "screening_done": True,
    }
    fields.update(values)
    return AdministrationInput(**fields)  # type: ignore[arg-type]


def lot_row(db: Database, lot_id: int) -> Lot:
    with db.read() as session:
        lot = session.get(Lot, lot_id)
        assert lot is not None
        return lot
