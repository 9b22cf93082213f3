"""Issue 20.2 and 20.3: times in the site's zone with the zone, and the audit trail page as people read it
(field-level rows, a right count under a filter, fresh after new actions, a verification button)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from registry_app.services import ServiceContext
from registry_app.services.auth import sign_in
from registry_app.services.lots.receiving import amend_lot
from registry_app.services.sites import set_site, site_info
from registry_app.ui.dialogs.administer import AdministerDialog
from registry_app.ui.pages.audit_page import AuditPage
from tests.conftest import PASSWORDS
from tests.reliability.tamper import drop_guards

from .workflow_data import make_lot, show_active


@pytest.fixture
def seoul(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone forced to Asia/Seoul (UTC+9, no daylight saving), as on a clinic's PC there."""
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _cells(page: AuditPage, row: int) -> dict[str, str]:
    return {key: page.proxy.index(row, column).data() for column, (key, _) in enumerate(page.columns)}


def _minute(text: str) -> datetime:
    return datetime.strptime(text[:16], "%Y-%m-%d %H:%M")


def test_a_sign_in_reads_the_same_in_the_audit_trail_and_the_administer_dialog(
    qtbot: QtBot, seoul: None, director: ServiceContext
) -> None:
    sign_in(director, "director", PASSWORDS["director"])
    page = show_active(qtbot, AuditPage(director))
    signed_in = _cells(page, 0)
    assert signed_in["action"] == "sign-in" and signed_in["when"].endswith(" KST")
    assert len(signed_in["when"]) == len("2026-12-04 17:28:47 KST"), "to the second in the audit, no microseconds"
    dialog = show_active(qtbot, AdministerDialog(director))
    default = dialog.administered_at.dateTime().toPython()
    assert abs(default - _minute(signed_in["when"])) <= timedelta(minutes=1)
    assert any(label.text() == "&When (KST)" for label in dialog.findChildren(QLabel))


def test_the_sites_time_zone_wins_over_the_machines(
    qtbot: QtBot, admin: ServiceContext, director: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        set_site(admin, site_info(admin)["jurisdiction"], time_zone="Asia/Seoul")
        sign_in(director, "director", PASSWORDS["director"])
        page = show_active(qtbot, AuditPage(director))
        when = _cells(page, 0)["when"]
        assert when.endswith(" KST")
        assert abs(_minute(when) - (datetime.utcnow() + timedelta(hours=9))) <= timedelta(minutes=1)
        dialog = show_active(qtbot, AdministerDialog(director))
        assert abs(dialog.administered_at.dateTime().toPython() - _minute(when)) <= timedelta(minutes=1)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_trail_is_field_level_and_a_filter_counts_what_it_keeps(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, lot_number="AUD-1", coa_ref="COA-OLD")
    amend_lot(pharmacist, lot.lot_id, {"coa_ref": "COA-NEW", "serial": "SN-9"}, "certificate reissued")
    page = show_active(qtbot, AuditPage(pharmacist))
    rows = [_cells(page, r) for r in range(page.proxy.rowCount())]
    amended = {r["field"]: r for r in rows if r["action"] == "amend lot"}
    assert amended["coa_ref"]["before"] == "COA-OLD" and amended["coa_ref"]["after"] == "COA-NEW"
    assert amended["serial"]["after"] == "SN-9" and amended["serial"]["reason"] == "certificate reissued"
    assert "AUD-1" in amended["coa_ref"]["subject"]
    assert not any("{" in r["after"] for r in rows), "no raw JSON"
    total = page.proxy.rowCount()
    assert page.count.text() == f"{total} rows"
    page.filter.setText("COA-NEW")
    assert page.proxy.rowCount() == 1 and page.count.text() == f"1 of {total} rows"


def test_the_trail_refreshes_when_shown_again_after_new_actions(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, lot_number="AUD-2")
    page = show_active(qtbot, AuditPage(pharmacist))
    before = page.proxy.rowCount()
    page.hide()
    amend_lot(pharmacist, lot.lot_id, {"serial": "SN-10"}, "label read again")
    page.show()
    assert page.proxy.rowCount() == before + 1 and _cells(page, 0)["after"] == "SN-10"


def test_verify_the_trail_says_intact_then_names_the_first_broken_entry(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db)
    amend_lot(pharmacist, lot.lot_id, {"serial": "SN-1"}, "first")
    amend_lot(pharmacist, lot.lot_id, {"serial": "SN-2"}, "second")
    page = show_active(qtbot, AuditPage(pharmacist))
    page.verify_button.click()
    assert page.verify_result is not None and page.verify_result.ok
    assert "Intact" in page.verify_label.text()
    with pharmacist.db.engine.begin() as connection:
        drop_guards(connection)
        connection.exec_driver_sql("UPDATE audit_entry SET reason = 'edited' WHERE reason = 'first'")
        seq = connection.exec_driver_sql("SELECT seq FROM audit_entry WHERE reason = 'edited'").scalar_one()
    page.verify_button.click()
    assert not page.verify_result.ok and page.verify_result.first_broken_seq == seq
    assert f"Broken at entry {seq}" in page.verify_label.text()
