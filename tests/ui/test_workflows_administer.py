"""Recording an administration in the dialog, as a pharmacist and as a medical director, through each guard
rail outcome: clean save, high finding confirmed, critical finding blocked and overridden with a signature."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import Administration, Lot, Signature
from registry_app.services import ServiceContext
from registry_app.ui.dialogs.administer import AdministerDialog
from tests.conftest import PASSWORDS
from tests.helpers import audit_count

from .workflow_data import make_lot, show_active


def _open(qtbot: QtBot, ctx: ServiceContext) -> AdministerDialog:
    return show_active(qtbot, AdministerDialog(ctx))


def _scan(qtbot: QtBot, dialog: AdministerDialog, text: str) -> None:
    qtbot.keyClicks(dialog.lot_picker.scan_edit, text)
    qtbot.keyClick(dialog.lot_picker.scan_edit, Qt.Key.Key_Return)


def _administrations(ctx: ServiceContext) -> list[Administration]:
    with ctx.db.read() as session:
        return list(session.execute(select(Administration)).scalars())


def test_long_product_names_do_not_widen_the_form_past_the_dialog(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    long_name = "Regenerative Umbilical Cord Mesenchymal Stem Cell Exosome Lyophilized Powder Professional Kit"
    make_lot(pharmacist.db, status="approved_biologic", product_values={"name": long_name})
    dialog = _open(qtbot, pharmacist)
    combo = dialog.lot_picker.pick_combo
    assert any(long_name in combo.itemText(i) for i in range(combo.count()))
    body = dialog.findChild(QScrollArea).widget()
    assert body.minimumSizeHint().width() <= dialog.width()


def test_clean_administration_saves_at_once_with_keyboard_only(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, f"(01)09501101020917(17)271231(10){lot.lot_number}")
    assert dialog.lot_picker.lot_id() == lot.lot_id
    dialog.set_values(
        patient_ref="PT-00412", route="topical_intact", quantity=1.0, screening_done=True, body_areas=("face", "neck")
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.result is not None and dialog.result.overridden is False
    rows = _administrations(pharmacist)
    assert [(r.patient_ref, r.route, r.body_areas, r.quantity, r.screening_done) for r in rows] == [
        ("PT-00412", "topical_intact", "face;neck", 1.0, True)
    ]
    with pharmacist.db.read() as session:
        assert session.get(Lot, lot.lot_id).quantity_administered == 1.0


def test_high_finding_asks_for_confirmation_before_saving(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, status="cosmetic")
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, lot.lot_number)
    # Contraindication recorded at screening: CONTRA-RECORDED is high.
    dialog.set_values(
        patient_ref="PT-7", route="topical_intact", quantity=1.0, screening_done=True, contraindications=("pregnancy",)
    )
    dialog.save_button.click()
    assert dialog.guard_box.isVisible() and "CONTRA-RECORDED" in dialog.findings.codes()
    assert "CONTRA-RECORDED" in dialog.guard_message.text()
    assert _administrations(pharmacist) == []
    dialog.save_button.click()  # saving again without ticking the confirmation still writes nothing
    assert _administrations(pharmacist) == []
    dialog.confirm_check.setChecked(True)
    dialog.save_button.click()
    assert dialog.result is not None
    assert [r.contraindications for r in _administrations(pharmacist)] == ["pregnancy"]


def test_critical_finding_blocks_a_pharmacist_until_a_director_signs(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, status="cosmetic", routes=("topical_intact",))
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, lot.lot_number)
    dialog.set_values(patient_ref="PT-9", route="intradermal", quantity=1.0, screening_done=True)
    before = audit_count(pharmacist.db)
    dialog.save_button.click()
    assert "REG-COSMETIC-INJECTED" in dialog.findings.codes()
    assert dialog.override_box.isVisible() and dialog.save_button.text() == "&Override and save"
    assert _administrations(pharmacist) == [] and audit_count(pharmacist.db) == before

    # Signing as the pharmacist is refused: only a medical director may override.
    dialog.override_reason.setPlainText("Patient consented; label update pending")
    dialog.director_name.setText("pharmacist")
    dialog.override_password.setText(PASSWORDS["pharmacist"])
    dialog.save_button.click()
    assert "may not override" in dialog.banner.text()
    assert _administrations(pharmacist) == []

    dialog.director_name.setText("director")
    dialog.override_password.setText(PASSWORDS["director"])
    dialog.save_button.click()
    assert dialog.result is not None and dialog.result.overridden
    [row] = _administrations(pharmacist)
    assert row.override_reason == "Patient consented; label update pending"
    with pharmacist.db.read() as session:
        signature = session.get(Signature, row.override_signature_id)
        assert signature is not None and signature.meaning == "overridden" and signature.signer_name == "Dana Director"


def test_director_overrides_with_own_password(qtbot: QtBot, director: ServiceContext) -> None:
    lot = make_lot(director.db, status="research_use_only")
    dialog = _open(qtbot, director)
    _scan(qtbot, dialog, lot.lot_number)
    dialog.set_values(patient_ref="PT-10", route="topical_intact", quantity=1.0, screening_done=True)
    dialog.save_button.click()
    assert "REG-RUO-ADMINISTERED" in dialog.findings.codes()
    assert dialog.director_name.text() == "director"
    dialog.override_reason.setPlainText("Compassionate use, documented")
    dialog.override_password.setText("wrong-password")
    dialog.save_button.click()
    assert "wrong" in dialog.banner.text() and _administrations(director) == []
    dialog.override_password.setText(PASSWORDS["director"])
    dialog.save_button.click()
    assert dialog.result is not None and dialog.result.override_signature_id is not None


def test_editing_after_findings_asks_the_rules_again(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, status="cosmetic")
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, lot.lot_number)
    dialog.set_values(patient_ref="PT-11", route="intradermal", quantity=1.0, screening_done=True)
    dialog.save_button.click()
    assert dialog.guard_box.isVisible()
    dialog.set_values(patient_ref="PT-11", route="topical_intact", quantity=1.0, screening_done=True)
    assert not dialog.guard_box.isVisible() and dialog.save_button.text() == "&Save"
    dialog.save_button.click()
    assert [r.route for r in _administrations(pharmacist)] == ["topical_intact"]


def test_undo_walks_back_field_edits(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = _open(qtbot, pharmacist)
    dialog.patient_ref.setFocus()
    qtbot.keyClicks(dialog.patient_ref, "PT-1")
    dialog.route.setCurrentIndex(3)
    qtbot.keyClick(dialog.patient_ref, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.route.currentIndex() == 0 and dialog.patient_ref.text() == "PT-1"
    qtbot.keyClick(dialog.patient_ref, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.patient_ref.text() == ""
    qtbot.keyClick(
        dialog.patient_ref, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert dialog.patient_ref.text() == "PT-1"


def test_missing_lot_is_named_and_nothing_written(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, "NO-SUCH-LOT")
    assert "no lot NO-SUCH-LOT" in dialog.lot_picker.status_label.text()
    dialog.save_button.click()
    assert "Lot:" in dialog.banner.text() and _administrations(pharmacist) == []


def test_a_quarantined_lot_is_blocked_for_a_pharmacist_and_needs_a_directors_override(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    """Issue 20.5: confirming is not enough to give a lot still in quarantine."""
    lot = make_lot(pharmacist.db, status="cosmetic")
    with pharmacist.db.write() as session:
        session.get(Lot, lot.lot_id).status = "quarantine"
    dialog = _open(qtbot, pharmacist)
    _scan(qtbot, dialog, lot.lot_number)
    assert "quarantine" in dialog.lot_picker.status_label.text()
    dialog.set_values(patient_ref="PT-12", route="topical_intact", quantity=1.0, screening_done=True)
    dialog.save_button.click()
    assert dialog.override_box.isVisible() and not dialog.confirm_check.isVisible()
    assert "USE-NOT-RELEASED" in dialog.guard_message.text()
    assert "1 blocking finding." in dialog.banner.text()
    assert _administrations(pharmacist) == []
    dialog.override_reason.setPlainText("Release paperwork signed on paper; lot checked by the director")
    dialog.director_name.setText("director")
    dialog.override_password.setText(PASSWORDS["director"])
    dialog.save_button.click()
    assert dialog.result is not None and dialog.result.overridden


def test_the_lot_picker_searches_every_usable_lot_not_only_the_first_200(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    """Issue 20.7: with more usable lots than the list holds, typed text is queried in SQL."""
    from .ui_data import seed

    seed(pharmacist.db, extra_lots=260)
    dialog = _open(qtbot, pharmacist)
    picker = dialog.lot_picker
    assert "first 200, type to narrow" in picker.pick_combo.itemText(0)
    shown = {picker.pick_combo.itemData(i)[0] for i in range(1, picker.pick_combo.count())}
    missing = next(f"PLX25-{n:05d}" for n in range(260) if f"PLX25-{n:05d}" not in shown)
    qtbot.keyClicks(picker.search_edit, missing)
    qtbot.waitUntil(lambda: picker.pick_combo.count() == 2, timeout=3000)
    assert picker.pick_combo.itemData(1)[0] == missing and f"“{missing}”" in picker.pick_combo.itemText(0)
    picker.pick_combo.setCurrentIndex(1)
    picker.pick_combo.activated.emit(1)
    assert picker.lot is not None and picker.lot.lot_number == missing
