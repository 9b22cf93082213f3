"""A group of clinics in two countries (issue 23): each site's flags follow its own jurisdiction, and a recall's
lookback spans every site that received the lot (same GTIN and lot number).

Runs on SQLite and, with REGISTRY_TEST_DATABASE_URL (`pytest -m db`), on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import AuditEntry
from registry_app.services import Actor, ServiceContext, auth, products, reports, sites
from registry_app.services.errors import NotFound, PermissionDenied
from registry_app.services.flags import list_flags
from registry_app.services.group_recall import notifications_to_make
from registry_app.services.lots import receiving
from registry_app.services.recalls import group_lookback, mark_patient_notified, recall_lot, trace_lot

from ..cli.runner import run
from ..conftest import PASSWORDS
from ..group_data import GTIN, two_clinics_with_lot_rv7


@pytest.fixture
def group(db: Database, template_users: dict[str, Actor]) -> dict[str, int]:
    return two_clinics_with_lot_rv7(db, template_users)


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


# ------------------------------------------------------------------------------------------- a group recall


def test_a_recall_at_one_site_recalls_the_same_lot_at_the_other(db: Database, group: dict[str, int]) -> None:
    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    result = recall_lot(director, group["main"], "manufacturer notice FSN-7", PASSWORDS["director"])
    assert result.also_recalled == ("BUSAN",)
    busan = trace_lot(director, group["BUSAN"])
    assert (busan.status, busan.recall_date) == ("recalled", result.recall_date)
    # Its own signed audit entry, naming the lot whose recall carried it.
    with db.read() as session:
        entries = session.execute(
            select(AuditEntry.after).where(
                AuditEntry.action == "recall lot", AuditEntry.entity_id == str(group["BUSAN"])
            )
        ).all()
    assert len(entries) == 1 and json.loads(entries[0].after)["recalled_with_lot"] == group["main"]


def test_each_site_director_sees_their_own_patients_to_notify(
    db: Database, group: dict[str, int], admin: ServiceContext
) -> None:
    auth.create_user(admin, "park", "medical_director", "park-password-long", site_code="BUSAN")
    auth.create_user(admin, "moon", "medical_director", "moon-password-long", site_code="main")
    park = _signed_in(db, "BUSAN", "park", "park-password-long")
    moon = _signed_in(db, "main", "moon", "moon-password-long")
    # The director of BUSAN recalls; main's lot is recalled with it.
    assert recall_lot(park, group["BUSAN"], "FSN-7", "park-password-long").also_recalled == ("main",)

    def patients(ctx: ServiceContext) -> list[tuple[str, str | None]]:
        return [(n.site_code, n.administration.patient_ref) for n in notifications_to_make(ctx)]

    assert patients(park) == [("BUSAN", "PT-B001")]
    assert patients(moon) == [("main", "PT-M001")]
    group_director = _signed_in(db, "main", "director", PASSWORDS["director"])
    assert patients(group_director) == [("BUSAN", "PT-B001"), ("main", "PT-M001")]
    # One lot's list: the same lot at the sites the user may see.
    assert patients(group_director) == [
        (n.site_code, n.administration.patient_ref) for n in notifications_to_make(group_director, group["main"])
    ]
    # Park cannot mark main's patient notified: that administration is "not found" for them.
    main_use = notifications_to_make(moon)[0].administration.id
    with pytest.raises(NotFound):
        mark_patient_notified(park, main_use, date.today(), "phone")
    mark_patient_notified(moon, main_use, date.today(), "phone")
    assert patients(moon) == [] and patients(group_director) == [("BUSAN", "PT-B001")]


def test_a_recall_moment_is_the_same_instant_on_each_sites_clock(
    db: Database, group: dict[str, int], admin: ServiceContext
) -> None:
    sites.set_site(admin, "US", time_zone="America/New_York")  # main; BUSAN is Asia/Seoul
    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    moment = (datetime.now() - timedelta(days=2)).replace(hour=20, minute=30, second=0, microsecond=0)
    recall_lot(director, group["main"], "FSN-7", PASSWORDS["director"], moment)
    busan = trace_lot(director, group["BUSAN"])
    expected = moment.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(ZoneInfo("Asia/Seoul"))
    assert busan.recall_at == expected.replace(tzinfo=None)
    assert busan.recall_date == expected.date() != moment.date()


def test_a_lot_recalled_before_at_another_site_keeps_its_own_recall(
    db: Database, group: dict[str, int], admin: ServiceContext, template_users: dict[str, Actor]
) -> None:
    director = _signed_in(db, "BUSAN", "director", PASSWORDS["director"])
    earlier = date.today() - timedelta(days=3)
    recall_lot(director, group["BUSAN"], "Korean distributor's notice", PASSWORDS["director"], earlier)
    # A third clinic registers the same lot afterwards, and recalls it on its own notice.
    sites.add_site(admin, "SEOUL", "Seoul clinic", "KR", "Asia/Seoul")
    seoul = ServiceContext(db, template_users["pharmacist"], site_code="SEOUL")
    product_id = products.create_product(
        seoul, {"name": "RV Serum", "product_type": "exosome", "unit": "ml", "gtin": GTIN}
    )
    lot_id = receiving.receive_lot(seoul, product_id, {"lot_number": "RV-7", "quantity_received": 2}).lot_id
    at_seoul = _signed_in(db, "SEOUL", "director", PASSWORDS["director"])
    assert recall_lot(at_seoul, lot_id, "FSN-7", PASSWORDS["director"]).also_recalled == ()
    assert trace_lot(at_seoul, group["BUSAN"]).recall_date == earlier
    assert trace_lot(at_seoul, group["main"]).recall_date == earlier


def test_notifications_are_for_staff(db: Database, group: dict[str, int], inspector: ServiceContext) -> None:
    with pytest.raises(PermissionDenied):
        notifications_to_make(inspector)


def test_recall_and_to_notify_on_the_command_line(
    database_url: str, group: dict[str, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["recall", "RV-7", "--reason", "FSN-7"]
    assert run(argv, monkeypatch, database_url, user="director") == 0
    assert "also recalled at site BUSAN" in capsys.readouterr().out
    assert run(["--site", "BUSAN", "to-notify", "--format", "json"], monkeypatch, database_url, "director") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["site"], r["patient_ref"], r["lot_number"]) for r in rows] == [
        ("BUSAN", "PT-B001", "RV-7"),
        ("main", "PT-M001", "RV-7"),
    ]
    assert run(["to-notify"], monkeypatch, database_url, "director") == 0
    table = capsys.readouterr().out
    assert "PT-B001" in table and "PT-M001" in table and "2 patient(s) to notify" in table


# ------------------------------------------------------------------------------------ the audit trail per site


@pytest.mark.qt  # the bundle holds a PDF
def test_a_site_users_bundle_shows_their_sites_entries_and_the_chain_still_verifies(
    db: Database, group: dict[str, int], tmp_path: Path
) -> None:
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    today = date.today()
    result = reports.bundle(kim, today - timedelta(days=30), today, tmp_path / "busan.zip")
    with zipfile.ZipFile(result.path) as opened:
        trail = [json.loads(line) for line in opened.read("audit/audit-trail.jsonl").decode().splitlines()]
        (tmp_path / "verify_audit.py").write_bytes(opened.read("verify_audit.py"))
    about_lot = {e["entity_id"]: e for e in trail if e["entity_type"] == "lot"}
    assert str(group["BUSAN"]) in about_lot and str(group["main"]) not in about_lot
    hidden = [e for e in trail if e["content"] == "other site"]
    # main's lot (received) and its administration: in the chain by their hashes only, nothing else shown.
    assert len(hidden) >= 2 and all(e["action"] is None and e["after"] is None for e in hidden)
    assert not any("PT-M001" in json.dumps(e) or "Rosa Vesicle" in json.dumps(e) for e in hidden)
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    checked = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "verify_audit.py"), str(result.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The group director's export of the trail shows every entry in full.
    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    whole = reports.bundle(director, today - timedelta(days=30), today, tmp_path / "group.zip")
    with zipfile.ZipFile(whole.path) as opened:
        lines = opened.read("audit/audit-trail.jsonl").decode().splitlines()
    assert not any(json.loads(line)["content"] == "other site" for line in lines)


def test_a_site_users_audit_export_hides_the_waivers_of_another_sites_lot(
    db: Database, group: dict[str, int], tmp_path: Path
) -> None:
    """A waiver's entry quotes the flag it waives (its message names the lot): another site's is shown to a user of
    one site by its hashes only, as the lot's own entries are. The shared catalogue's entries stay in full."""
    from registry_app.services.flags import waive_flag

    director = _signed_in(db, "main", "director", PASSWORDS["director"])
    lot_flags = [f for f in list_flags(director) if f.lot_id == group["main"] and f.subject_type == "lot"]
    assert lot_flags, "main's lot has a flag to waive"
    waive_flag(director, lot_flags[0].code, "lot", group["main"], "accepted by the board", PASSWORDS["director"])
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    shown = reports.export(kim, "audit", "csv", tmp_path / "busan-audit.csv").path.read_text(encoding="utf-8-sig")
    assert "waive flag" not in shown and "accepted by the board" not in shown
    assert lot_flags[0].message not in shown, "the waived flag's message, quoted by the waiver's entry"
    whole = reports.export(director, "audit", "csv", tmp_path / "group-audit.csv").path.read_text(encoding="utf-8-sig")
    assert "accepted by the board" in whole
