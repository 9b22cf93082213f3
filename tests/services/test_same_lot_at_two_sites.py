"""The same manufacturer's lot at two clinics of a group, under the group's one product record (issue 23,
migration 0011): each site registers it, imports and gives it as its own, and a recall at one site reaches both.

Runs on SQLite and, with REGISTRY_TEST_DATABASE_URL (`pytest -m db`), on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import Administration, Lot
from registry_app.services import Actor, ConflictError, ServiceContext, auth, imports, products, sites
from registry_app.services.lots import receiving
from registry_app.services.recalls import find_lot, recall_lot

from ..conftest import PASSWORDS

GTIN = "8809876543213"


@pytest.fixture
def shared_product(db: Database, template_users: dict[str, Actor]) -> int:
    admin = ServiceContext(db, template_users["admin"])
    sites.add_site(admin, "BUSAN", "Busan clinic", "US")
    auth.create_user(admin, "kim", "medical_director", "kim-password-long", site_code="BUSAN")
    group = ServiceContext(db, template_users["pharmacist"])
    return products.create_product(
        group, {"name": "Nucleo-PN 20", "product_type": "polynucleotide", "unit": "ml", "gtin": GTIN}
    )


def _kim(db: Database) -> ServiceContext:
    ctx = ServiceContext(db, site_code="BUSAN")
    auth.sign_in(ctx, "kim", "kim-password-long")
    return ctx


def test_each_site_registers_the_lot_once(db: Database, template_users: dict[str, Actor], shared_product: int) -> None:
    main = ServiceContext(db, template_users["pharmacist"])
    kim = _kim(db)
    at_main = receiving.receive_lot(main, shared_product, {"lot_number": "PN-7781", "quantity_received": 4}).lot_id
    at_busan = receiving.receive_lot(kim, shared_product, {"lot_number": "PN-7781", "quantity_received": 2}).lot_id
    assert at_main != at_busan
    # A second receipt at either site is refused, and names that site's own lot.
    with pytest.raises(ConflictError, match=f"lot id {at_busan}"):
        receiving.receive_lot(kim, shared_product, {"lot_number": "PN-7781", "quantity_received": 1})
    assert find_lot(kim, "PN-7781").lot_id == at_busan
    assert find_lot(main, "PN-7781").lot_id == at_main


def test_a_site_imports_and_gives_its_own_copy(
    db: Database, template_users: dict[str, Actor], shared_product: int, tmp_path: Path
) -> None:
    main = ServiceContext(db, template_users["pharmacist"])
    at_main = receiving.receive_lot(main, shared_product, {"lot_number": "PN-10", "quantity_received": 4}).lot_id
    kim = _kim(db)
    lots_csv = tmp_path / "lots.csv"
    lots_csv.write_text(
        "product_name,product_type,lot_number,received_date,quantity_received,unit\n"
        f"Nucleo-PN 20,polynucleotide,PN-10,{date.today().isoformat()},3,ml\n",
        encoding="utf-8",
    )
    result = imports.import_lots(kim, lots_csv)
    assert result.ok and result.created == 1, result.error_lines()
    with db.read() as session:
        busan_site = session.execute(select(Lot.site_id).where(Lot.id != at_main, Lot.lot_number == "PN-10")).scalar()
        at_busan = session.execute(select(Lot.id).where(Lot.id != at_main, Lot.lot_number == "PN-10")).scalar_one()
    assert busan_site is not None
    # Importing the file again at BUSAN finds BUSAN's lot, not main's.
    again = imports.import_lots(kim, lots_csv)
    assert not again.ok and "already in the registry" in " ".join(again.error_lines())
    uses_csv = tmp_path / "uses.csv"
    uses_csv.write_text(
        "administered_at,product_name,lot_number,patient_ref,route,quantity\n"
        f"{(date.today() - timedelta(days=1)).isoformat()}T09:00,Nucleo-PN 20,PN-10,PT-00007,intradermal,1\n",
        encoding="utf-8",
    )
    given = imports.import_administrations(kim, uses_csv)
    assert given.created == 1, given.error_lines()
    with db.read() as session:
        assert session.execute(select(Administration.lot_id)).scalars().all() == [at_busan]


def test_a_recall_at_one_site_reaches_the_same_lot_at_the_other(
    db: Database, template_users: dict[str, Actor], shared_product: int
) -> None:
    main = ServiceContext(db, template_users["director"])
    at_main = receiving.receive_lot(main, shared_product, {"lot_number": "PN-99", "quantity_received": 4}).lot_id
    at_busan = receiving.receive_lot(_kim(db), shared_product, {"lot_number": "PN-99", "quantity_received": 2}).lot_id
    result = recall_lot(main, at_main, "manufacturer's notice", PASSWORDS["director"])
    assert result.also_recalled == ("BUSAN",)
    with db.read() as session:
        statuses = dict(session.execute(select(Lot.id, Lot.status).where(Lot.id.in_([at_main, at_busan]))).all())
    assert statuses == {at_main: "recalled", at_busan: "recalled"}
