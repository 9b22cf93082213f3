"""Issue 19's "Done when", walked once from an EMPTY registry through the desktop's own windows and dialogs:
users added in the Users editor, a polynucleotide product created in the product editor, a lot received, its
certificate of analysis attached and its results entered in the characterization grid, its regulatory status
recorded from the flag's Fix…, the lot released with a signature, and then no open flag on the product or the
lot; then an administration, an adverse event recorded and reported, a temperature excursion recorded and
resolved with a signature, and at the end neither AE-UNREPORTED nor USE-TEMPERATURE is open.

Every change is made by clicking and typing into real widgets; the services are called only to assert (and
create_first_user for the first admin, as the first-run screen does)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from registry_app.db import open_database
from registry_app.services import ServiceContext
from registry_app.services.adverse_events import list_adverse_events
from registry_app.services.auth import create_first_user, list_users
from registry_app.services.flags import flags_for_subject, list_flags
from registry_app.services.lots.characterization import characterization_sheet
from registry_app.services.lots.excursions import list_excursions
from registry_app.services.lots.receiving import get_lot
from registry_app.services.products import get_product, list_products
from registry_app.ui.dialogs.administer import AdministerDialog
from registry_app.ui.dialogs.forms import set_checked, set_combo_value
from registry_app.ui.dialogs.receive_lot import ReceiveLotDialog
from registry_app.ui.dialogs.release_lot import ReleaseLotDialog
from registry_app.ui.editors.adverse_event import AdverseEventsDialog
from registry_app.ui.editors.characterization import CharacterizationEditor
from registry_app.ui.editors.excursion import ExcursionsDialog
from registry_app.ui.editors.product_editor import ProductEditor
from registry_app.ui.editors.regulatory_editor import RegulatoryStatusDialog
from registry_app.ui.editors.users import UsersDialog
from registry_app.ui.main_window import MainWindow
from registry_app.ui.sign_in import SignInDialog

ADMIN_PASSWORD = "walk-admin-password"
PHARMACIST_PASSWORD = "walk-pharmacist-password"
DIRECTOR_PASSWORD = "walk-director-password"


def _open_flags(ctx: ServiceContext, subject_type: str, subject_id: int) -> list[str]:
    return sorted(f.code for f in flags_for_subject(ctx, subject_type, subject_id) if not f.waived)


def _desktop(qtbot: QtBot, url: str, username: str, password: str, settings: Path) -> MainWindow:
    """Sign in with the sign-in dialog (typed), then the main window with its menus, as the desktop starts."""
    ctx = ServiceContext(open_database(url))
    dialog = SignInDialog(ctx)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username, username)
    qtbot.keyClicks(dialog.password, password)
    dialog.sign_in_button.click()
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    window = MainWindow(ctx, QSettings(str(settings), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.install_workflows()
    return window


def _trigger(window: MainWindow, name: str) -> Any:
    """Choose a menu action by its object name (as a click in the menu does); returns the dialog it opened."""
    action = next(a for a in window.findChildren(QAction) if a.objectName() == name)
    assert action.isEnabled(), f"{name}: {action.toolTip()}"
    action.trigger()
    return getattr(window, "workflow_dialog" if name.startswith("workflow:") else "catalogue_dialog")


def _type(qtbot: QtBot, widget: Any, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)


def _certificate(path: Path) -> Path:
    """A one-page certificate of analysis as the manufacturer sends it."""
    from PySide6.QtGui import QPainter, QPdfWriter

    writer = QPdfWriter(str(path))
    painter = QPainter(writer)
    for n, line in enumerate(
        (
            "CERTIFICATE OF ANALYSIS - Rejuvia PN 20 - lot RJ26-0415",
            "DNA 20.1 mg/mL (UV)  MW 1450 kDa (SEC)  Sterility pass  Endotoxin 0.05 EU/mL",
        )
    ):
        painter.drawText(200, 300 + 300 * n, line)
    painter.end()
    return path


def _add_user(qtbot: QtBot, users: UsersDialog, name: str, full_name: str, role: str, password: str) -> None:
    users.add_button.click()
    adder = users.adder
    assert adder is not None
    _type(qtbot, adder.username, name)
    _type(qtbot, adder.full_name, full_name)
    set_combo_value(adder.role, role)
    _type(qtbot, adder.password, password)
    _type(qtbot, adder.signature.password_edit, ADMIN_PASSWORD)
    adder.save_button.click()
    assert adder.result() == adder.DialogCode.Accepted, adder.banner.text()


def test_issue19_done_when(
    qtbot: QtBot, empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --- an empty registry, its first admin (as the first-run screen makes it), users added in the editor ---
    registry = open_database(empty_database_url)
    create_first_user(ServiceContext(registry), "admin", "admin", ADMIN_PASSWORD, "Ada Admin")
    admin = _desktop(qtbot, empty_database_url, "admin", ADMIN_PASSWORD, tmp_path / "admin.ini")
    users = _trigger(admin, "catalogue:Users")
    assert isinstance(users, UsersDialog)
    _add_user(qtbot, users, "lee", "Lee Pharmacist", "pharmacist", PHARMACIST_PASSWORD)
    _add_user(qtbot, users, "dana", "Dana Director", "medical_director", DIRECTOR_PASSWORD)
    assert {(u["username"], u["role"]) for u in list_users(admin.ctx)} == {
        ("admin", "admin"),
        ("lee", "pharmacist"),
        ("dana", "medical_director"),
    }
    users.reject()

    # --- the pharmacist: the product, in the product editor ---------------------------------------------------
    desk = _desktop(qtbot, empty_database_url, "lee", PHARMACIST_PASSWORD, tmp_path / "lee.ini")
    ctx = desk.ctx
    editor = _trigger(desk, "catalogue:New product")
    assert isinstance(editor, ProductEditor)
    _type(qtbot, editor.name, "Rejuvia PN 20")
    set_combo_value(editor.product_type, "polynucleotide")
    _type(qtbot, editor.manufacturer.lineEdit(), "Aquagen Pharma")
    set_combo_value(editor.presentation, "prefilled_syringe")
    set_combo_value(editor.storage_form, "refrigerated")
    set_combo_value(editor.unit, "syringe")
    set_combo_value(editor.pn_species, "oncorhynchus_keta")
    set_checked(editor.routes, ["intradermal"])
    editor.save_button.click()
    assert editor.result() == editor.DialogCode.Accepted, editor.banner.text()
    [product] = list_products(ctx)
    assert (product.name, product.product_type, product.manufacturer) == (
        "Rejuvia PN 20",
        "polynucleotide",
        "Aquagen Pharma",
    )
    assert product.labelled_routes == ("intradermal",) and product.details["pn_species"] == "oncorhynchus_keta"

    # --- the lot, in the Receive dialog --------------------------------------------------------------------
    receive = _trigger(desk, "workflow:Receive a lot")
    assert isinstance(receive, ReceiveLotDialog)
    assert receive.product_combo.currentData() == product.id
    _type(qtbot, receive.lot_number, "RJ26-0415")
    _type(qtbot, receive.expiry_date, (date.today() + timedelta(days=365)).isoformat())
    _type(qtbot, receive.supplier, "Seoul Medical Supply")
    receive.quantity.setValue(10)
    receive.temperature.setValue(5.0)
    set_combo_value(receive.package, True)
    receive.receive_button.click()
    assert receive.result is not None, receive.banner.text()
    lot_id = receive.result.lot_id
    receive.receive_button.click()  # Close, on the findings page
    lot = get_lot(ctx, lot_id)
    assert (lot.lot_number, lot.status, lot.quantity_on_hand) == ("RJ26-0415", "quarantine", 10)

    # --- the certificate and the results, from the lot record's UNDOC-COA "Fix…" ("Enter from a CoA") ------
    record = desk.open_lot(lot_id)
    assert record is not None and record.detail is not None
    codes = [f["code"] for f in record.detail.flags]
    assert {"UNDOC-COA", "UNDOC-PN-CHARACTERIZATION", "UNDOC-SAFETY-TESTS", "UNDOC-REGULATORY"} <= set(codes)
    grid = record.fix_flag(codes.index("UNDOC-COA"))
    assert isinstance(grid, CharacterizationEditor) and grid.splitter.sizes()[1] > 0
    coa = _certificate(tmp_path / "coa-RJ26-0415.pdf")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(coa), ""))  # the file chosen
    grid.attach_button.click()
    assert grid.current_certificate() is not None, grid.banner.text()
    tested = (date.today() - timedelta(days=20)).isoformat()
    for parameter, method, value in (
        ("dna_concentration", "uv", "20.1"),
        ("molecular_weight", "sec", "1450"),
        ("endotoxin", "lal", "0.05"),
    ):
        row = grid.entry(parameter)
        set_combo_value(row.method, method)
        _type(qtbot, row.value, value)
        set_combo_value(row.measured_by, "manufacturer")
        _type(qtbot, row.laboratory, "Aquagen QC")
        _type(qtbot, row.tested_on, tested)
        row.save.click()
        assert grid.banner.isHidden(), grid.banner.text()  # saved: no refusal shown
    sterility = grid.entry("sterility")
    set_combo_value(sterility.method, "usp71")
    assert sterility.result is not None
    set_combo_value(sterility.result, "pass")
    set_combo_value(sterility.measured_by, "manufacturer")
    _type(qtbot, sterility.tested_on, tested)
    sterility.save.click()
    assert grid.saved == 4 and grid.missing_label.text() == "Every item the rules expect is on file."
    sheet = characterization_sheet(ctx, lot_id)
    results = [r for row in sheet.rows for r in row.current]
    assert {r.parameter for r in results} == {"dna_concentration", "molecular_weight", "endotoxin", "sterility"}
    assert {r.document_id for r in results} == {sheet.certificates[0]["id"]}, "linked to the certificate shown"
    grid.close()

    # --- the regulatory status, from the UNDOC-REGULATORY "Fix…" --------------------------------------------
    codes = [f["code"] for f in record.detail.flags]
    record.fix_flag(codes.index("UNDOC-REGULATORY"))
    status = next(w for w in QApplication.topLevelWidgets() if isinstance(w, RegulatoryStatusDialog) and w.isVisible())
    qtbot.addWidget(status)
    assert status.jurisdiction.text() == "US"
    set_combo_value(status.status, "device_registered")
    _type(qtbot, status.reference, "K203456")
    _type(qtbot, status.verified_on, date.today().isoformat())
    status.save_button.click()
    assert "Saved the status for US" in status.note.text(), status.banner.text()
    [recorded] = get_product(ctx, product.id).regulatory
    assert (recorded["jurisdiction"], recorded["status"], recorded["reference"]) == (
        "US",
        "device_registered",
        "K203456",
    )
    status.reject()

    # --- the medical director releases it, signed ----------------------------------------------------------
    director = _desktop(qtbot, empty_database_url, "dana", DIRECTOR_PASSWORD, tmp_path / "dana.ini")
    assert director.open_lot(lot_id) is not None
    release = _trigger(director, "workflow:Release the lot")
    assert isinstance(release, ReleaseLotDialog)
    _type(qtbot, release.signature.password_edit, DIRECTOR_PASSWORD)
    release.action_button.click()
    assert release.signature_id is not None, release.banner.text()
    assert get_lot(ctx, lot_id).status == "released"

    # --- nothing open on the product or the lot --------------------------------------------------------------
    assert _open_flags(ctx, "product", product.id) == []
    assert _open_flags(ctx, "lot", lot_id) == []

    # --- an administration -------------------------------------------------------------------------------------
    desk.open_lot(lot_id)
    administer = _trigger(desk, "workflow:Record an administration")
    assert isinstance(administer, AdministerDialog) and administer.lot_picker.lot_id() == lot_id
    _type(qtbot, administer.patient_ref, "PT-00412")
    set_combo_value(administer.route, "intradermal")
    set_checked(administer.body_areas, ["face"])
    administer.quantity.setValue(1)
    set_combo_value(administer.screening, True)
    administer.save_button.click()
    assert administer.result is not None, administer.banner.text()
    administration_id = administer.result.administration_id
    assert _open_flags(ctx, "administration", administration_id) == []

    # --- an adverse event, recorded and reported -------------------------------------------------------------
    desk.open_lot(lot_id)
    events = _trigger(desk, "workflow:Adverse events")
    assert isinstance(events, AdverseEventsDialog)
    recorder = events.record_for_selected()
    assert recorder is not None
    set_combo_value(recorder.event_type, "erythema")
    set_combo_value(recorder.severity, "mild")
    _type(qtbot, recorder.onset, date.today().isoformat())
    recorder.save_button.click()
    assert recorder.event_id is not None, recorder.banner.text()
    report = events.report_selected()
    assert report is not None and report.adverse_event_id == recorder.event_id
    set_combo_value(report.status, "reported_manufacturer")
    _type(qtbot, report.reference, "AQ-COMPLAINT-2291")
    report.save_button.click()
    assert report.saved, report.banner.text()
    [event] = list_adverse_events(ctx, lot_id=lot_id)
    assert (event.report_status, event.report_reference) == ("reported_manufacturer", "AQ-COMPLAINT-2291")
    events.reject()

    # --- a temperature excursion, recorded and resolved with a signature --------------------------------------
    desk.open_lot(lot_id)
    excursions = _trigger(desk, "workflow:Temperature excursions")
    assert isinstance(excursions, ExcursionsDialog)
    logger = excursions.record()
    assert logger is not None
    logger.highest.setValue(11.5)
    logger.save_button.click()
    assert logger.excursion_id is not None, logger.banner.text()
    assert "USE-TEMPERATURE" in _open_flags(ctx, "lot", lot_id)
    resolve = excursions.resolve_selected()
    assert resolve is not None
    set_combo_value(resolve.disposition, "use")
    resolve.signature.reason_edit.setPlainText("Within the manufacturer's stability data (24 h up to 25 °C)")
    _type(qtbot, resolve.signature.password_edit, PHARMACIST_PASSWORD)
    resolve.sign_button.click()
    assert resolve.signature_id is not None, resolve.banner.text()
    [excursion] = list_excursions(ctx, lot_id)
    assert excursion.resolution == "use" and not excursion.is_open
    excursions.reject()

    # --- at the end: neither AE-UNREPORTED nor USE-TEMPERATURE is open, and the lot is still clean ------------
    still_open = {f.code for f in list_flags(ctx) if not f.waived}
    assert not still_open & {"AE-UNREPORTED", "USE-TEMPERATURE"}, still_open
    assert _open_flags(ctx, "lot", lot_id) == [] and _open_flags(ctx, "product", product.id) == []
    assert get_lot(ctx, lot_id).status == "released" and get_lot(ctx, lot_id).quantity_on_hand == 9
    for window in (admin, desk, director):
        window.ctx.db.dispose()
    registry.dispose()
