"""Records belong to a site (issue 23): a user of one site reads and changes that site's records only, and is
answered about another site's as about a record that does not exist; a group role sees every site.

Runs on SQLite and, with REGISTRY_TEST_DATABASE_URL (`pytest -m db`), on PostgreSQL."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from registry_app.db import Database
from registry_app.services import Actor, NotFound, ServiceContext, ValidationError, auth, products, sites
from registry_app.services.administrations import AdministrationInput, Override, record_administration
from registry_app.services.adverse_events import list_adverse_events
from registry_app.services.clock import site_clock
from registry_app.services.flag_table import table_answers
from registry_app.services.flags import flags_for_lot, list_flags
from registry_app.services.lots import receiving
from registry_app.services.lots.excursions import record_excursion
from registry_app.services.queries.flags_page import flags_page
from registry_app.services.queries.lot_record import dashboard_figures, lot_detail
from registry_app.services.queries.lots_page import LotQuery, lot_page
from registry_app.services.recalls import find_lot, trace_lot
from registry_app.services.reports import export

from ..conftest import PASSWORDS

MISSING = 987654


@pytest.fixture
def two_sites(db: Database, template_users: dict[str, Actor]) -> dict[str, int]:
    """Site main (US) and site BUSAN (KR), one lot of the same product at each, each given once; a pharmacist of
    each site (lee at main, kim at BUSAN); the template's users keep their group roles."""
    admin = ServiceContext(db, template_users["admin"])
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    auth.create_user(admin, "lee", "pharmacist", "lee-password-long", site_code="main")
    auth.create_user(admin, "kim", "pharmacist", "kim-password-long", site_code="BUSAN")
    group = template_users["pharmacist"]
    product_id = products.create_product(
        ServiceContext(db, group), {"name": "Rosa Vesicle Serum", "product_type": "exosome", "unit": "ml"}
    )
    ids = {}
    for site, number in (("main", "RV-MAIN"), ("BUSAN", "RV-BUSAN")):
        at_site = ServiceContext(db, group, site_code=site)
        lot_id = receiving.receive_lot(at_site, product_id, {"lot_number": number, "quantity_received": 5}).lot_id
        given = AdministrationInput(
            lot_id, site_clock(at_site).now() - timedelta(minutes=5), "topical_intact", f"PT-{number[3]}001"
        )
        # Not released yet: the group director signs the override, at this site.
        record_administration(
            at_site, given, confirm=True, override=Override("trial", PASSWORDS["director"], "director")
        )
        ids[site] = lot_id
    return ids


def _signed_in(db: Database, site: str, name: str, password: str) -> ServiceContext:
    ctx = ServiceContext(db, site_code=site)
    auth.sign_in(ctx, name, password)
    return ctx


def _missing_message(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises((NotFound, ValidationError)) as raised:
        call()
    return str(raised.value)


def test_a_pharmacist_of_one_site_reads_that_site_only(db: Database, two_sites: dict[str, int]) -> None:
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    assert [row.lot_number for row in lot_page(kim, LotQuery()).rows] == ["RV-BUSAN"]
    assert lot_detail(kim, two_sites["BUSAN"]).fields["lot_number"] == "RV-BUSAN"
    main_lot = two_sites["main"]
    # Another site's lot is answered exactly as a lot that does not exist.
    for read in (lot_detail, trace_lot, flags_for_lot):
        refused = _missing_message(lambda read=read: read(kim, main_lot))
        assert refused == _missing_message(lambda read=read: read(kim, MISSING)).replace(str(MISSING), str(main_lot))
    with pytest.raises(NotFound, match="no lot RV-MAIN"):
        find_lot(kim, "RV-MAIN")
    assert all(f.lot_id in (None, two_sites["BUSAN"]) for f in list_flags(kim))
    page = flags_page(kim)
    assert all(f.lot_id in (None, two_sites["BUSAN"]) for f in page.flags)
    assert (
        page.total == len(list_flags(kim)) < flags_page(_signed_in(db, "main", "director", PASSWORDS["director"])).total
    )
    assert {f.lot_id for f in list_flags(kim) if f.lot_id} == {two_sites["BUSAN"]}
    assert dashboard_figures(kim).lots == 1
    # lee works at main, whose jurisdiction the persisted flags hold: the page is read from the flag table.
    lee = _signed_in(db, "main", "lee", "lee-password-long")
    with db.read() as session:
        assert table_answers(session, lee)
    page = flags_page(lee)
    assert {f.lot_id for f in page.flags if f.lot_id} == {two_sites["main"]} and page.total == len(list_flags(lee))


def test_a_pharmacist_of_one_site_cannot_change_another_sites_lot(db: Database, two_sites: dict[str, int]) -> None:
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    main_lot = two_sites["main"]
    given = AdministrationInput(main_lot, datetime.now() - timedelta(minutes=1), "topical_intact", "PT-K002")
    with pytest.raises(ValidationError, match=f"no lot with id {main_lot}"):
        record_administration(kim, given, confirm=True)
    with pytest.raises(NotFound, match=f"^no lot with id {main_lot}$"):
        receiving.amend_lot(kim, main_lot, {"coa_ref": "COA-2"}, "moved")
    with pytest.raises(NotFound, match=f"^no lot with id {main_lot}$"):
        record_excursion(kim, main_lot, datetime.now() - timedelta(hours=2), reading_c=12)
    # The same changes on kim's own lot go through.
    receiving.amend_lot(kim, two_sites["BUSAN"], {"coa_ref": "COA-2"}, "moved")
    assert lot_detail(kim, two_sites["BUSAN"]).fields["coa_ref"] == "COA-2"


def test_exports_of_a_site_user_hold_that_site_only(db: Database, two_sites: dict[str, int], tmp_path: Path) -> None:
    lee = _signed_in(db, "main", "lee", "lee-password-long")
    export(lee, "lots", "csv", tmp_path / "lots.csv")
    export(lee, "administrations", "csv", tmp_path / "administrations.csv")
    with (tmp_path / "lots.csv").open(newline="") as lots:
        assert [row["lot_number"] for row in csv.DictReader(lots)] == ["RV-MAIN"]
    with (tmp_path / "administrations.csv").open(newline="") as given:
        assert [row["lot_number"] for row in csv.DictReader(given)] == ["RV-MAIN"]


def test_a_group_director_sees_both_sites(
    db: Database, two_sites: dict[str, int], template_users: dict[str, Actor]
) -> None:
    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    assert director.actor is not None and director.actor.site_id is None
    assert sorted(row.lot_number for row in lot_page(director, LotQuery()).rows) == ["RV-BUSAN", "RV-MAIN"]
    assert trace_lot(director, two_sites["BUSAN"]).administrations
    assert {f.lot_id for f in list_flags(director) if f.lot_id} == set(two_sites.values())
    assert len(list_adverse_events(director)) == 0
    assert dashboard_figures(director).lots == 2


def test_a_director_of_one_site_cannot_waive_or_unwaive_another_sites_flags(
    db: Database, two_sites: dict[str, int], template_users: dict[str, Actor]
) -> None:
    from registry_app.services.flags import revoke_waiver, waive_flag

    auth.create_user(
        ServiceContext(db, template_users["admin"]), "park", "medical_director", "park-password-long", site_code="BUSAN"
    )
    park = _signed_in(db, "BUSAN", "park", "park-password-long")
    group = _signed_in(db, "main", "director", PASSWORDS["director"])
    main_lot, busan_lot = two_sites["main"], two_sites["BUSAN"]
    waiver_id = waive_flag(group, "UNDOC-COA", "lot", main_lot, "paper CoA on file", PASSWORDS["director"])
    with pytest.raises(NotFound, match=f"^no waiver {waiver_id}$"):
        revoke_waiver(park, waiver_id, "not on file after all")
    with pytest.raises(NotFound, match=f"no open UNDOC-COA flag on lot {busan_lot + main_lot}"):
        waive_flag(park, "UNDOC-COA", "lot", busan_lot + main_lot, "x", "park-password-long")
    refused = _missing_message(lambda: waive_flag(park, "UNDOC-COA", "lot", main_lot, "x", "park-password-long"))
    assert refused == f"no open UNDOC-COA flag on lot {main_lot}"
    waive_flag(park, "UNDOC-COA", "lot", busan_lot, "paper CoA on file", "park-password-long")
