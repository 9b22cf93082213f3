"""Receiving a lot as a pharmacist (scan, product chosen or created, receipt check, documents), then the
medical director's release with a signature, and reject / destroy with a reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import Document, Lot, Product, Signature
from registry_app.services import ServiceContext
from registry_app.services.products import create_product
from registry_app.ui.dialogs.receive_lot import NEW_PRODUCT, ReceiveLotDialog
from registry_app.ui.dialogs.release_lot import DestroyLotDialog, RejectLotDialog, ReleaseLotDialog
from registry_app.ui.lot_record import LotRecord
from tests.conftest import PASSWORDS
from tests.helpers import row_counts

from .workflow_data import make_lot, show_active

GTIN = "09501101020917"
SCAN = f"(01){GTIN}(17)271130(10)EXO-2411(21)SN-77"


def _scan(qtbot: QtBot, dialog: ReceiveLotDialog, text: str) -> None:
    dialog.scan_edit.setFocus()
    qtbot.keyClicks(dialog.scan_edit, text)
    qtbot.keyClick(dialog.scan_edit, Qt.Key.Key_Return)


def _drop(widget: object, paths: list[Path]) -> None:
    """What the window system sends when files are dragged in from the file manager and let go."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    assert QApplication.sendEvent(widget, QDragEnterEvent(QPoint(5, 5), *args))
    assert QApplication.sendEvent(widget, QDropEvent(QPointF(5, 5), *args, QEvent.Type.Drop))


def test_pharmacist_receives_a_scanned_lot_of_a_known_product(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    product_id = create_product(
        pharmacist,
        {
            "name": "Rose Exo Serum",
            "product_type": "exosome",
            "gtin": GTIN,
            "storage_form": "refrigerated",
            "unit": "vial",
        },
    )
    coa = tmp_path / "coa-2411.pdf"
    coa.write_bytes(b"%PDF-1.4 certificate of analysis")
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, dialog, SCAN)
    assert (dialog.gtin.text(), dialog.lot_number.text(), dialog.serial.text()) == (GTIN, "EXO-2411", "SN-77")
    assert dialog.expiry_date.date().toPython() == date(2027, 11, 30)
    assert dialog.product_combo.currentData() == product_id
    assert dialog.quantity.hasFocus()  # the scan moves on to the receipt check
    assert dialog.receive_button.isEnabled()

    dialog.quantity.setValue(10)
    dialog.temperature.setValue(4.5)
    dialog.package.setCurrentIndex(dialog.package.findData(True))
    dialog.supplier.setText("Seoul Aesthetics Supply")
    _drop(dialog.documents, [coa])
    assert [p.name for p, _ in dialog.documents.documents()] == ["coa-2411.pdf"]
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    assert dialog.result is not None and dialog.pages.currentIndex() == 1
    assert "quarantine" in dialog.done_label.text()
    # A plant exosome with no regulatory status, no characterization: the findings show at once.
    assert "UNDOC-REGULATORY" in dialog.findings.codes()
    assert "UNDOC-EV-CHARACTERIZATION" in dialog.findings.codes()
    with pharmacist.db.read() as session:
        lot = session.get(Lot, dialog.result.lot_id)
        assert (
            lot.status,
            lot.lot_number,
            lot.serial,
            lot.expiry_date,
            lot.quantity_received,
            lot.receipt_temperature_c,
            lot.package_intact,
        ) == ("quarantine", "EXO-2411", "SN-77", date(2027, 11, 30), 10.0, 4.5, True)
        assert lot.supplier is not None and lot.supplier.name == "Seoul Aesthetics Supply"
        [document] = session.execute(select(Document)).scalars().all()
        assert (document.lot_id, document.kind, document.file_name) == (lot.id, "coa", "coa-2411.pdf")
    dialog.receive_button.click()  # now "Close"
    assert dialog.result is not None and not dialog.isVisible()


def test_unknown_gtin_creates_the_product_in_the_same_step(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, dialog, SCAN)
    assert dialog.product_combo.currentData() == NEW_PRODUCT and dialog.new_product.isVisible()
    assert "No product has GTIN" in dialog.banner.text()
    dialog.product_name.setText("Salmon PN 2%")
    dialog.product_type.setCurrentIndex(dialog.product_type.findData("polynucleotide"))
    dialog.pn_species.setCurrentIndex(dialog.pn_species.findData("oncorhynchus_keta"))
    dialog.manufacturer.setText("PharmaResearch")
    dialog.quantity.setValue(5)
    dialog.receive_button.click()
    assert dialog.result is not None
    with pharmacist.db.read() as session:
        product = session.execute(select(Product)).scalar_one()
        assert (product.name, product.gtin, product.pn_species) == ("Salmon PN 2%", GTIN, "oncorhynchus_keta")
        assert session.get(Lot, dialog.result.lot_id).product_id == product.id


def test_bad_input_names_the_field_and_writes_nothing(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    before = row_counts(pharmacist.db)
    _scan(qtbot, dialog, "(01)09501101020918(10)X")  # wrong check digit
    assert "GTIN" in dialog.banner.text() or "check digit" in dialog.banner.text()
    dialog.product_name.setText("New thing")
    dialog.lot_number.setText("L-1")
    dialog.receive_button.click()  # no quantity: refused before the new product is created
    assert "quantity_received" in dialog.banner.text()
    assert row_counts(pharmacist.db) == before
    assert dialog.result is None


def test_scan_is_one_undo_step(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, dialog, SCAN)
    assert dialog.lot_number.text() == "EXO-2411"
    dialog.undo.stack.undo()
    assert (dialog.gtin.text(), dialog.lot_number.text(), dialog.serial.text()) == ("", "", "")


def test_inspector_cannot_receive(qtbot: QtBot, inspector: ServiceContext) -> None:
    dialog = show_active(qtbot, ReceiveLotDialog(inspector))
    assert not dialog.receive_button.isEnabled()


def test_director_releases_with_signature(qtbot: QtBot, director: ServiceContext) -> None:
    lot = make_lot(director.db)
    with director.db.write() as session:
        session.get(Lot, lot.lot_id).status = "quarantine"
    dialog = show_active(qtbot, ReleaseLotDialog(director, lot.lot_id))
    assert "quarantine" in dialog.heading.text()
    dialog.action_button.click()
    assert "password" in dialog.banner.text()
    dialog.signature.password_edit.setText("not-my-password")
    dialog.action_button.click()
    assert "wrong" in dialog.banner.text() and dialog.signature.password() == ""
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.done_ok and dialog.signature_id is not None
    with director.db.read() as session:
        row = session.get(Lot, lot.lot_id)
        assert row.status == "released" and row.release_signature_id == dialog.signature_id
        assert session.get(Signature, dialog.signature_id).meaning == "released"


def test_pharmacist_may_not_release_but_may_reject_with_a_reason(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    release = show_active(qtbot, ReleaseLotDialog(pharmacist, lot.lot_id))
    assert not release.action_button.isEnabled()
    reject = show_active(qtbot, RejectLotDialog(pharmacist, lot.lot_id))
    reject.action_button.click()
    assert "reason" in reject.banner.text()
    reject.reason.setPlainText("Cold chain broken: box arrived warm")
    reject.action_button.click()
    assert not reject.done_ok and "Password" in reject.banner.text()  # the rejection is signed
    reject.signature.password_edit.setText("not the password")
    reject.action_button.click()
    assert not reject.done_ok and reject.signature.password() == ""  # a failed signature is never kept
    assert reject.reason.toPlainText() == "Cold chain broken: box arrived warm"  # the typing is
    reject.signature.password_edit.setText(PASSWORDS["pharmacist"])
    reject.action_button.click()
    assert reject.done_ok
    with pharmacist.db.read() as session:
        signed = session.execute(select(Signature.meaning, Signature.subject_id)).all()
        assert [tuple(row) for row in signed] == [("rejected", str(lot.lot_id))]
    with pharmacist.db.read() as session:
        row = session.get(Lot, lot.lot_id)
        assert (row.status, row.status_note) == ("rejected", "Cold chain broken: box arrived warm")
    record = show_active(qtbot, LotRecord(pharmacist, lot.lot_id))
    rejected_on = record.findChild(QLabel, "status_rejected_on")
    note = record.findChild(QLabel, "status_status_note")
    assert rejected_on is not None and rejected_on.text() == date.today().isoformat()
    assert note is not None and note.text() == "Cold chain broken: box arrived warm"
    assert record.findChild(QLabel, "status_recall_date") is None


def test_destroy_needs_a_note_for_other(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    dialog = show_active(qtbot, DestroyLotDialog(pharmacist, lot.lot_id))
    dialog.reason.setCurrentIndex(dialog.reason.findData("other"))
    dialog.signature.password_edit.setText(PASSWORDS["pharmacist"])
    dialog.action_button.click()
    assert "note" in dialog.banner.text()
    dialog.signature.password_edit.setText(PASSWORDS["pharmacist"])  # the refusal cleared it
    dialog.note.setPlainText("Vial cracked in the fridge")
    dialog.signature.password_edit.setText(PASSWORDS["pharmacist"])
    dialog.action_button.click()
    assert dialog.done_ok and dialog.destroyed_quantity == 10.0
    with pharmacist.db.read() as session:
        row = session.get(Lot, lot.lot_id)
        assert (row.status, row.destroyed_reason, row.quantity_destroyed) == ("destroyed", "other", 10.0)


def test_inspector_sees_no_lot_decision(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db)
    for kind in (ReleaseLotDialog, RejectLotDialog, DestroyLotDialog):
        dialog = show_active(qtbot, kind(inspector, lot.lot_id))
        assert not dialog.action_button.isEnabled()


def test_gtin_scanned_for_a_chosen_product_is_remembered(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    product_id = create_product(pharmacist, {"name": "Plain PN", "product_type": "polynucleotide"})
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, dialog, SCAN)
    assert dialog.product_combo.currentData() == NEW_PRODUCT
    dialog.product_combo.setCurrentIndex(dialog.product_combo.findData(product_id))
    dialog.quantity.setValue(3)
    dialog.receive_button.click()
    assert dialog.result is not None and dialog.result.product_id == product_id
    with pharmacist.db.read() as session:
        assert session.get(Product, product_id).gtin == GTIN
    again = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, again, SCAN.replace("EXO-2411", "EXO-2412"))
    assert again.product_combo.currentData() == product_id


def test_reason_typed_before_saving_can_be_undone(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    dialog = show_active(qtbot, RejectLotDialog(pharmacist, lot.lot_id))
    dialog.reason.setFocus()
    qtbot.keyClicks(dialog.reason, "Wrong product")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.reason.toPlainText() == ""
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert dialog.reason.toPlainText() == "Wrong product"


def test_an_expired_lot_is_warned_about_before_anything_is_saved(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    from datetime import timedelta

    from PySide6.QtCore import QDate

    create_product(
        pharmacist,
        {
            "name": "Rose Exo Serum",
            "product_type": "exosome",
            "gtin": GTIN,
            "storage_form": "refrigerated",
            "unit": "vial",
        },
    )
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    _scan(qtbot, dialog, SCAN)
    dialog.expiry_date.setDate(QDate(date.today() - timedelta(days=1)))
    dialog.quantity.setValue(10)
    before = row_counts(pharmacist.db)
    dialog.receive_button.click()
    assert dialog.result is None and "expired on" in dialog.banner.text()
    assert row_counts(pharmacist.db) == before  # the warning comes before the save
    dialog.receive_button.click()  # the same details again: received as they are
    assert dialog.result is not None and any("expired on" in w for w in dialog.result.warnings)


def test_release_lists_open_high_findings_and_needs_each_acknowledged(qtbot: QtBot, director: ServiceContext) -> None:
    """Issue 20.5: the signature covers the open critical/high findings only when each is ticked."""
    import json

    from registry_app.domain import AuditEntry

    lot = make_lot(director.db, coa_ref=None, expiry_date=None)  # UNDOC-COA and UNDOC-EXPIRY: high
    with director.db.write() as session:
        session.get(Lot, lot.lot_id).status = "quarantine"
    dialog = show_active(qtbot, ReleaseLotDialog(director, lot.lot_id))
    assert {"UNDOC-COA", "UNDOC-EXPIRY"} <= set(dialog.acknowledge_checks)
    assert dialog.acknowledge_box.isVisible() and not dialog.action_button.isEnabled()
    assert "Tick the acknowledgement" in dialog.action_button.toolTip()
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    for check in dialog.acknowledge_checks.values():
        assert not dialog.action_button.isEnabled()
        check.setChecked(True)
    assert dialog.action_button.isEnabled() and dialog.action_button.toolTip() == ""
    dialog.action_button.click()
    assert dialog.done_ok
    with director.db.read() as session:
        audit = session.execute(select(AuditEntry).where(AuditEntry.action == "release lot")).scalar_one()
        assert {"UNDOC-COA", "UNDOC-EXPIRY"} <= set(json.loads(audit.after)["acknowledged_findings"])
        assert json.loads(audit.after)["release_signature_id"] == dialog.signature_id  # the signed content


def test_release_of_a_released_lot_is_disabled_before_any_password(qtbot: QtBot, director: ServiceContext) -> None:
    """Issue 20.4: the director sees why before typing, not a refusal after signing."""
    lot = make_lot(director.db)  # released
    dialog = show_active(qtbot, ReleaseLotDialog(director, lot.lot_id))
    assert not dialog.action_button.isEnabled()
    assert "only a lot in quarantine can be released" in dialog.action_button.toolTip()
    assert "released" in dialog.banner.text()
    destroyed = make_lot(director.db)
    with director.db.write() as session:
        row = session.get(Lot, destroyed.lot_id)
        row.status, row.destroyed_reason = "destroyed", "expired"
    for kind in (RejectLotDialog, DestroyLotDialog):
        other = show_active(qtbot, kind(director, destroyed.lot_id))
        assert not other.action_button.isEnabled() and "destroyed" in other.action_button.toolTip()
