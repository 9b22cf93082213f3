"""A small registry for the browse and desktop tests: products of both types, lots in several states, results."""

from __future__ import annotations

from datetime import date, timedelta

from registry_app.db import Database
from registry_app.domain import (
    CharacterizationResult,
    Lot,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    Supplier,
    name_key,
)


def seed(db: Database, extra_lots: int = 0) -> dict[str, int]:
    """Named ids of what was created. `extra_lots` more released lots of the Plinest product, for paging."""
    today = date.today()
    with db.write() as session:
        maker = Manufacturer(name="Mastelli", name_key=name_key("Mastelli"), country="IT")
        exo_maker = Manufacturer(name="ExoCell Biotech", name_key=name_key("ExoCell Biotech"), country="KR")
        supplier = Supplier(name="ClinicDirect", name_key=name_key("ClinicDirect"))
        other_supplier = Supplier(name="Grey Import Co", name_key=name_key("Grey Import Co"))
        session.add_all([maker, exo_maker, supplier, other_supplier])
        session.flush()
        pn = Product(
            name="Plinest",
            name_key="plinest",
            product_type="polynucleotide",
            manufacturer_id=maker.id,
            pn_species="oncorhynchus_mykiss",
            unit="syringe",
        )
        exo = Product(
            name="ExoSkin UC-MSC Vial",
            name_key=name_key("ExoSkin UC-MSC Vial"),
            product_type="exosome",
            manufacturer_id=exo_maker.id,
            source="msc_umbilical_cord",
            unit="vial",
        )
        session.add_all([pn, exo])
        session.flush()
        session.add_all(
            [
                ProductRegulatoryStatus(
                    product_id=pn.id, jurisdiction="US", status="device_registered", reference="CE-0373-2019"
                ),
                ProductRegulatoryStatus(product_id=exo.id, jurisdiction="US", status="hctp_361_claim"),
            ]
        )
        released = Lot(
            product_id=pn.id,
            supplier_id=supplier.id,
            lot_number="PLN24-0001",
            expiry_date=today + timedelta(days=300),
            received_date=today - timedelta(days=20),
            quantity_received=10,
            status="released",
            receipt_temperature_c=4.0,
            package_intact=True,
            coa_ref="COA-PLN-1",
        )
        expiring = Lot(
            product_id=pn.id,
            supplier_id=supplier.id,
            lot_number="PLN24-0002",
            expiry_date=today + timedelta(days=10),
            received_date=today - timedelta(days=200),
            quantity_received=5,
            status="released",
            receipt_temperature_c=4.0,
            package_intact=True,
            coa_ref="COA-PLN-2",
        )
        quarantine = Lot(
            product_id=exo.id,
            supplier_id=other_supplier.id,
            lot_number="EXO24-0100",
            expiry_date=today + timedelta(days=500),
            received_date=today - timedelta(days=2),
            quantity_received=20,
            status="quarantine",
            labelled_particles_per_ml=1e10,
        )
        expired = Lot(
            product_id=exo.id,
            supplier_id=None,
            lot_number="EXO23-0007",
            expiry_date=today - timedelta(days=5),
            received_date=today - timedelta(days=400),
            quantity_received=4,
            status="released",
        )
        session.add_all([released, expiring, quarantine, expired])
        session.flush()
        session.add_all(
            [
                CharacterizationResult(
                    lot_id=quarantine.id,
                    parameter="endotoxin",
                    method="lal",
                    value=1.2,
                    unit="EU/mL",
                    measured_by="manufacturer",
                ),
                CharacterizationResult(
                    lot_id=quarantine.id,
                    parameter="size_mode",
                    method="nta",
                    value=110,
                    unit="nm",
                    measured_by="independent_lab",
                ),
                CharacterizationResult(
                    lot_id=quarantine.id,
                    parameter="sterility",
                    method="usp71",
                    result="pass",
                    measured_by="manufacturer",
                ),
            ]
        )
        for n in range(extra_lots):
            session.add(
                Lot(
                    product_id=pn.id,
                    supplier_id=supplier.id,
                    lot_number=f"PLX25-{n:05d}",
                    expiry_date=today + timedelta(days=400 + n % 50),
                    received_date=today - timedelta(days=30 + n % 90),
                    quantity_received=3,
                    status="released",
                )
            )
        return {
            "pn": pn.id,
            "exo": exo.id,
            "released": released.id,
            "expiring": expiring.id,
            "quarantine": quarantine.id,
            "expired": expired.id,
            "supplier": supplier.id,
        }
