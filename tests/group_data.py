"""Two clinics of a group that received the same manufacturer's lot (issue 23): the services tests and the
desktop's recall tests share it."""

from __future__ import annotations

from datetime import timedelta

from registry_app.db import Database
from registry_app.services import Actor, ServiceContext, auth, products, sites
from registry_app.services.administrations import AdministrationInput, Override, record_administration
from registry_app.services.clock import site_clock
from registry_app.services.lots import receiving

from .conftest import PASSWORDS

GTIN = "8801234567893"


def two_clinics_with_lot_rv7(db: Database, template_users: dict[str, Actor]) -> dict[str, int]:
    """Site main (US) and BUSAN (KR). Each clinic registered the manufacturer's lot RV-7 under a product name of
    its own, the box's GTIN the same; one patient at each site received it. lee works at main, kim at BUSAN."""
    admin = ServiceContext(db, template_users["admin"])
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    auth.create_user(admin, "lee", "pharmacist", "lee-password-long", site_code="main")
    auth.create_user(admin, "kim", "pharmacist", "kim-password-long", site_code="BUSAN")
    ids = {}
    for site, name, patient in (("main", "Rosa Vesicle Serum", "PT-M001"), ("BUSAN", "Rosa Serum KR", "PT-B001")):
        ctx = ServiceContext(db, template_users["pharmacist"], site_code=site)
        product_id = products.create_product(ctx, {"name": name, "product_type": "exosome", "unit": "ml", "gtin": GTIN})
        # Approved in KR, its reference number not recorded yet; no status known for the US.
        products.set_regulatory_status(ctx, product_id, "approved_biologic", jurisdiction="KR")
        lot_id = receiving.receive_lot(ctx, product_id, {"lot_number": "RV-7", "quantity_received": 5}).lot_id
        # The site's wall clock: administration times are the clinic's local times.
        given = AdministrationInput(lot_id, site_clock(ctx).now() - timedelta(minutes=5), "topical_intact", patient)
        record_administration(ctx, given, confirm=True, override=Override("trial", PASSWORDS["director"], "director"))
        ids[site], ids[f"{site}_product"] = lot_id, product_id
    return ids
