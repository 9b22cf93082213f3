"""Each site counts days on its own clock (issue 23): a clinic on Kiritimati (UTC+14) and one on Pago Pago
(UTC-11) are always on different dates, so a lot that expires today at the second has expired at the first."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from registry_app.db import Database
from registry_app.services import Actor, ServiceContext, products, sites
from registry_app.services.clock import site_today
from registry_app.services.lots import receiving
from registry_app.services.queries.lots_page import LotQuery, lot_page

AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"


@pytest.fixture
def two_zones(db: Database, template_users: dict[str, Actor]) -> dict[str, ServiceContext]:
    admin = ServiceContext(db, template_users["admin"])
    sites.set_site(admin, "US", time_zone=AHEAD)
    sites.add_site(admin, "PAGO", "Pago Pago clinic", "US", BEHIND)
    group = template_users["director"]
    return {"ahead": ServiceContext(db, group, site_code="main"), "behind": ServiceContext(db, group, site_code="PAGO")}


def test_today_is_the_sites_date(two_zones: dict[str, ServiceContext]) -> None:
    assert site_today(two_zones["ahead"]) == datetime.now(ZoneInfo(AHEAD)).date()
    assert site_today(two_zones["behind"]) == datetime.now(ZoneInfo(BEHIND)).date()
    assert site_today(two_zones["ahead"]) > site_today(two_zones["behind"])


def test_a_lot_expiring_today_behind_has_expired_ahead(two_zones: dict[str, ServiceContext]) -> None:
    ahead, behind = two_zones["ahead"], two_zones["behind"]
    expiry = site_today(behind)
    product = products.create_product(ahead, {"name": "Nucleo-PN 20", "product_type": "polynucleotide"})
    shown = {}
    for name, ctx in (("ahead", ahead), ("behind", behind)):
        received = receiving.receive_lot(
            ctx, product, {"lot_number": "PN-1", "quantity_received": 2, "expiry_date": expiry}
        )
        row = next(r for r in lot_page(ctx, LotQuery()).rows if r.id == received.lot_id)
        shown[name] = (row.status, row.received_date)
    assert shown["ahead"] == ("expired", site_today(ahead))
    assert shown["behind"] == ("quarantine", site_today(behind))
