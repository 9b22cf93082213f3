"""A group of clinics in two countries (issue 23): each site's flags follow its own jurisdiction, and a recall's
lookback spans every site that received the lot (same GTIN and lot number).

Runs on SQLite and, with REGISTRY_TEST_DATABASE_URL (`pytest -m db`), on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from registry_app.db import Database
from registry_app.services import Actor, ServiceContext, auth, products, sites
from registry_app.services.administrations import AdministrationInput, Override, record_administration
from registry_app.services.flags import list_flags
from registry_app.services.lots import receiving
from registry_app.services.recalls import group_lookback

from ..cli.runner import run
from ..conftest import PASSWORDS

GTIN = "8801234567893"


@pytest.fixture
def group(db: Database, template_users: dict[str, Actor]) -> dict[str, int]:
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
        given = AdministrationInput(lot_id, datetime.now() - timedelta(minutes=5), "topical_intact", patient)
        record_administration(ctx, given, confirm=True, override=Override("trial", PASSWORDS["director"], "director"))
        ids[site], ids[f"{site}_product"] = lot_id, product_id
    return ids


def _signed_in(db: Database, site: str, name: str, password: str) -> ServiceContext:
    ctx = ServiceContext(db, site_code=site)
    auth.sign_in(ctx, name, password)
    return ctx


def _product_codes(ctx: ServiceContext, product_id: int) -> set[str]:
    return {f.code for f in list_flags(ctx) if f.subject_type == "product" and f.subject_id == product_id}


def test_each_site_flags_the_same_product_by_its_own_rules(db: Database, group: dict[str, int]) -> None:
    lee = _signed_in(db, "main", "lee", "lee-password-long")
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    product_id = group["main_product"]
    at_main, at_busan = _product_codes(lee, product_id), _product_codes(kim, product_id)
    assert "UNDOC-REGULATORY" in at_main and "UNDOC-REG-EVIDENCE" not in at_main  # US: no status
    assert "UNDOC-REG-EVIDENCE" in at_busan and "UNDOC-REGULATORY" not in at_busan  # KR: approved, no reference
    # And each sees their own site's lot only.
    assert {f.lot_id for f in list_flags(lee) if f.lot_id} == {group["main"]}
    assert {f.lot_id for f in list_flags(kim) if f.lot_id} == {group["BUSAN"]}


def test_a_group_recall_lookback_spans_both_sites(db: Database, group: dict[str, int]) -> None:
    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    found = group_lookback(director, group["main"])
    assert [(s.site_code, s.trace.lot_id, [a.patient_ref for a in s.trace.administrations]) for s in found] == [
        ("BUSAN", group["BUSAN"], ["PT-B001"]),
        ("main", group["main"], ["PT-M001"]),
    ]
    # A pharmacist of one site sees their site's part only.
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    assert [s.site_code for s in group_lookback(kim, group["BUSAN"])] == ["BUSAN"]


def test_trace_all_sites_on_the_command_line(
    database_url: str, group: dict[str, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The group director acting at BUSAN: RV-7 is BUSAN's lot there (two products use the number).
    argv = ["--site", "BUSAN", "trace", "RV-7", "--all-sites", "--format", "json"]
    assert run(argv, monkeypatch, database_url, user="director") == 0
    traces = json.loads(capsys.readouterr().out)
    assert [(t["site"], t["product_name"], len(t["administrations"])) for t in traces] == [
        ("BUSAN", "Rosa Serum KR", 1),
        ("main", "Rosa Vesicle Serum", 1),
    ]
    assert run(["--site", "BUSAN", "trace", "RV-7", "--format", "json"], monkeypatch, database_url, "director") == 0
    assert json.loads(capsys.readouterr().out)["product_name"] == "Rosa Serum KR"
