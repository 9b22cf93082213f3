"""The Flags page: filters, jump to the subject, and a medical director's signed waiver. Inspectors and
pharmacists see the flags but no waive action."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import Signature, Waiver
from registry_app.services import ServiceContext
from registry_app.services import flags as flag_service
from registry_app.ui.dialogs.waive import WaiveDialog
from registry_app.ui.ops import OpRunner
from registry_app.ui.pages.flags_page import FlagsPage
from tests.conftest import PASSWORDS

from .workflow_data import make_lot, show_active


def _page(qtbot: QtBot, ctx: ServiceContext) -> FlagsPage:
    page = show_active(qtbot, FlagsPage(ctx))
    _settle(qtbot, page)
    return page


def _settle(qtbot: QtBot, page: FlagsPage) -> None:
    """The flags are evaluated off the GUI thread: wait for the answer, as the user sees it arrive (at once
    on the tests' synchronous runner)."""
    qtbot.waitUntil(lambda: not page.loading, timeout=20000)


def _codes(page: FlagsPage) -> list[str]:
    return [f.code for f in page.model.rows]


def _select(page: FlagsPage, code: str) -> None:
    row = _codes(page).index(code)
    page.table.selectRow(row)


def test_filters_narrow_the_list(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    make_lot(pharmacist.db, status=None, coa_ref=None)  # UNDOC-REGULATORY (high), UNDOC-COA (high)
    make_lot(pharmacist.db, supplier_id=None)  # UNDOC-SUPPLIER (medium)
    page = _page(qtbot, pharmacist)
    assert {"UNDOC-REGULATORY", "UNDOC-COA", "UNDOC-SUPPLIER"} <= set(_codes(page))
    # The filters narrow the list evaluated once, at once: no new evaluation of the rules.
    page.severity_combo.setCurrentIndex(page.severity_combo.findData("high"))
    assert not page.loading
    assert "UNDOC-SUPPLIER" not in _codes(page) and "UNDOC-COA" in _codes(page)
    page.severity_combo.setCurrentIndex(0)
    page.code_combo.setCurrentIndex(page.code_combo.findData("UNDOC-SUPPLIER"))
    assert not page.loading and set(_codes(page)) == {"UNDOC-SUPPLIER"}
    page.code_combo.setCurrentIndex(0)
    page.subject_combo.setCurrentIndex(page.subject_combo.findData("product"))
    assert set(_codes(page)) == {"UNDOC-REGULATORY"}
    page.subject_combo.setCurrentIndex(0)
    page.search_edit.setText("certificate")
    qtbot.waitUntil(lambda: set(_codes(page)) == {"UNDOC-COA"})
    assert "1 flag shown" in page.count_label.text()


def test_filters_changed_while_a_refresh_runs_narrow_its_answer(
    qtbot: QtBot, pharmacist: ServiceContext, threaded_ops: OpRunner
) -> None:
    """On the real threaded runner: the refresh is still running when the filters change."""
    make_lot(pharmacist.db, status=None, coa_ref=None)
    make_lot(pharmacist.db, supplier_id=None)
    page = _page(qtbot, pharmacist)
    assert "UNDOC-SUPPLIER" in _codes(page)
    page.refresh_button.click()
    assert page.loading
    page.severity_combo.setCurrentIndex(page.severity_combo.findData("high"))
    page.code_combo.setCurrentIndex(page.code_combo.findData("UNDOC-SUPPLIER"))
    _settle(qtbot, page)
    qtbot.waitUntil(lambda: _codes(page) == [])
    assert page.count_label.text() == "No flags match."


def test_selected_flag_is_shown_in_full_under_the_list(qtbot: QtBot, inspector: ServiceContext) -> None:
    make_lot(inspector.db, coa_ref=None)
    page = _page(qtbot, inspector)
    _select(page, "UNDOC-COA")
    flag = page.selected_flag()
    assert flag is not None and flag.code == "UNDOC-COA"
    assert page.detail.text().startswith("UNDOC-COA (high)") and flag.message in page.detail.text()


def test_enter_jumps_to_the_subject(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db, coa_ref=None)
    page = _page(qtbot, inspector)
    _select(page, "UNDOC-COA")
    page.table.setFocus()
    with qtbot.waitSignal(page.subject_requested) as jumped:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert jumped.args == ["lot", lot.lot_id, lot.lot_id, lot.product_id]


def test_director_waives_with_reason_and_signature(qtbot: QtBot, director: ServiceContext) -> None:
    lot = make_lot(director.db, coa_ref=None)
    page = _page(qtbot, director)
    assert page.waive_button.isVisible()
    _select(page, "UNDOC-COA")
    dialog = page.waive_selected()
    assert isinstance(dialog, WaiveDialog) and dialog.isVisible()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.waive_button.click()  # nothing typed
    assert "reason" in dialog.banner.text()
    dialog.signature.reason_edit.setPlainText("CoA held on paper in the QA binder, scan pending")
    dialog.signature.password_edit.setText("wrong-password")
    dialog.waive_button.click()
    assert "wrong" in dialog.banner.text() and dialog.signature.password() == ""
    with director.db.read() as session:
        assert session.execute(select(Waiver)).scalars().all() == []
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.waiver_id is not None
    _settle(qtbot, page)
    with director.db.read() as session:
        waiver = session.get(Waiver, dialog.waiver_id)
        assert (waiver.code, waiver.subject_type, waiver.subject_id) == ("UNDOC-COA", "lot", lot.lot_id)
        assert session.get(Signature, waiver.signature_id).meaning == "waived"
    # The page refreshed: the flag stays listed, marked waived, and cannot be waived twice.
    coa = next(f for f in page.model.rows if f.code == "UNDOC-COA")
    assert coa.waived
    _select(page, "UNDOC-COA")
    assert not page.waive_button.isEnabled()
    page.waived_check.setChecked(False)
    _settle(qtbot, page)
    assert "UNDOC-COA" not in _codes(page)


def test_pharmacist_and_inspector_have_no_waive_action(
    qtbot: QtBot, pharmacist: ServiceContext, inspector: ServiceContext
) -> None:
    make_lot(pharmacist.db, coa_ref=None)
    for ctx in (pharmacist, inspector):
        page = _page(qtbot, ctx)
        assert _codes(page) and not page.waive_button.isVisible()
        _select(page, "UNDOC-COA")
        assert page.waive_selected() is None
        dialog = show_active(qtbot, WaiveDialog(ctx, page.selected_flag()))
        assert not dialog.waive_button.isEnabled()


def test_subjects_read_as_lot_numbers_and_patients_and_waivers_in_the_sites_zone(
    qtbot: QtBot, director: ServiceContext
) -> None:
    """Issue 20.7 and 20.2: "Lot 22"/"Administration 72" become the lot number and the patient pseudonym with
    the date; a waiver's time is shown to the minute with its zone, not "17:28:47.228543"."""
    import re
    from datetime import datetime

    from registry_app.services.flags import waive_flag

    from .workflow_data import add_administration

    lot = make_lot(director.db, lot_number="FLG-7", coa_ref=None)  # UNDOC-COA on the lot
    add_administration(
        director.db, lot.lot_id, patient_ref="PT-00412", practitioner=None, administered_at=datetime(2026, 11, 3, 14, 5)
    )  # TRACE-INCOMPLETE on the administration
    waive_flag(director, "UNDOC-COA", "lot", lot.lot_id, "CoA on paper in the QA binder", PASSWORDS["director"])
    page = _page(qtbot, director)
    subjects = {f.code: page.model.index(row, 2).data() for row, f in enumerate(page.model.rows)}
    assert subjects["UNDOC-COA"] == "Lot FLG-7"
    assert subjects["TRACE-INCOMPLETE"].startswith("Administration PT-00412, 2026-11-03 14:05 ")
    assert "(lot FLG-7)" in subjects["TRACE-INCOMPLETE"]
    row = _codes(page).index("UNDOC-COA")
    tip = page.model.index(row, 6).data(Qt.ItemDataRole.ToolTipRole)
    assert re.search(r" on \d{4}-\d\d-\d\d \d\d:\d\d [A-Z+\-0-9]+: CoA on paper", tip), tip


def test_the_list_comes_a_page_at_a_time_as_it_scrolls(
    qtbot: QtBot, pharmacist: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_app.services.queries import flags_page as query

    monkeypatch.setattr(query, "PAGE_SIZE", 3)
    for _ in range(12):
        make_lot(pharmacist.db, status=None, coa_ref=None, supplier_id=None)  # three flags each at least
    page = _page(qtbot, pharmacist)
    total = len(flag_service.list_flags(pharmacist))
    # Pages of three, as many as the table's height asks for (Qt fetches until the view is full), not all.
    assert len(page.model.rows) % 3 == 0 and len(page.model.rows) < total and page.model.canFetchMore()
    assert page.count_label.text().startswith(f"{total} flags shown")
    while page.model.canFetchMore():
        page.model.fetchMore()
    assert [f.code for f in page.model.rows] == [f.code for f in flag_service.list_flags(pharmacist)]
