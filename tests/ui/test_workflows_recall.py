"""Recalling a lot as a medical director: the lookback opens at once, patients are marked notified, and the
list exports to CSV and PDF. An inspector sees the list and exports but no action that changes records. After a
recall at group level each site's staff list their own patients still to notify."""

from __future__ import annotations

import csv
import subprocess
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import Administration, Lot, Signature
from registry_app.services import Actor, ServiceContext, auth
from registry_app.ui.dialogs.recall import LookbackDialog, NotificationsDialog, RecallDialog
from tests.conftest import PASSWORDS
from tests.group_data import two_clinics_with_lot_rv7

from .workflow_data import add_administration, make_lot, show_active


def _lot_with_two_patients(ctx: ServiceContext) -> int:
    lot = make_lot(ctx.db)
    add_administration(ctx.db, lot.lot_id, patient_ref="PT-00001", administered_at=datetime(2025, 6, 1, 10, 30))
    add_administration(ctx.db, lot.lot_id, patient_ref="PT-00002", administered_at=datetime(2025, 6, 2, 11, 0))
    return lot.lot_id


def _select_row(dialog: LookbackDialog, row: int) -> None:
    index = dialog.table.model().index(row, 0)
    dialog.table.selectionModel().select(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )


def test_director_recalls_and_the_lookback_opens_at_once(
    qtbot: QtBot, director: ServiceContext, tmp_path: Path
) -> None:
    lot_id = _lot_with_two_patients(director)
    dialog = show_active(qtbot, RecallDialog(director, lot_id=lot_id))
    dialog.signature.reason_edit.setPlainText("Supplier notice: sterility failure in batch")
    dialog.recall_button.click()  # no password yet: nothing is written
    assert "password" in dialog.banner.text()
    with director.db.read() as session:
        assert session.get(Lot, lot_id).status == "released"
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    dialog.recall_button.click()
    assert dialog.result is not None and dialog.result.recipients == 2
    with director.db.read() as session:
        lot = session.get(Lot, lot_id)
        assert lot.status == "recalled" and lot.recall_reason == "Supplier notice: sterility failure in batch"
        assert session.get(Signature, dialog.result.signature_id).meaning == "recalled"

    lookback = dialog.lookback
    assert lookback is not None and lookback.isVisible()
    qtbot.addWidget(lookback)
    assert lookback.table.rowCount() == 2
    assert [lookback.table.item(r, 1).text() for r in range(2)] == ["PT-00001", "PT-00002"]
    assert "2 patients still to notify" in lookback.heading.text()
    assert "recalled, recalled" not in lookback.heading.text() and "(recalled from " in lookback.heading.text()

    _select_row(lookback, 0)
    lookback.notified_how.setText("phone")
    lookback.notify_button.click()
    with director.db.read() as session:
        rows = session.execute(select(Administration).order_by(Administration.id)).scalars().all()
        assert [(r.patient_ref, r.patient_notified_on, r.notified_how) for r in rows] == [
            ("PT-00001", date.today(), "phone"),
            ("PT-00002", None, None),
        ]
    assert "1 patient still to notify" in lookback.heading.text()

    csv_path = lookback.export_csv(tmp_path / "lookback.csv")
    with csv_path.open(encoding="utf-8-sig") as handle:
        records = list(csv.DictReader(handle))
    assert [(r["patient"], r["notified_on"], r["how"]) for r in records] == [
        ("PT-00001", date.today().isoformat(), "phone"),
        ("PT-00002", "", ""),
    ]
    pdf_path = lookback.export_pdf(tmp_path / "lookback.pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Recall lookback" in text and "PT-00001" in text and "PT-00002" in text


def test_notify_without_selection_or_how_writes_nothing(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot_id = _lot_with_two_patients(pharmacist)
    lookback = show_active(qtbot, LookbackDialog(pharmacist, lot_id))
    lookback.notify_button.click()
    assert "Select the patients" in lookback.banner.text()
    _select_row(lookback, 1)
    lookback.notify_button.click()  # no "how"
    assert "how" in lookback.banner.text()
    with pharmacist.db.read() as session:
        assert session.execute(select(Administration.patient_notified_on)).scalars().all() == [None, None]


def test_inspector_sees_the_lookback_but_no_changing_action(
    qtbot: QtBot, inspector: ServiceContext, tmp_path: Path
) -> None:
    lot_id = _lot_with_two_patients(inspector)
    lookback = show_active(qtbot, LookbackDialog(inspector, lot_id))
    assert lookback.table.rowCount() == 2
    assert not lookback.notify_box.isVisible()
    assert lookback.export_csv(tmp_path / "i.csv").exists()
    recall = show_active(qtbot, RecallDialog(inspector, lot_id=lot_id))
    assert not recall.recall_button.isEnabled()
    assert "Only a medical director" in recall.banner.text()


def test_pharmacist_cannot_recall(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot_id = _lot_with_two_patients(pharmacist)
    recall = show_active(qtbot, RecallDialog(pharmacist, lot_id=lot_id))
    assert not recall.recall_button.isEnabled()
    with pharmacist.db.read() as session:
        assert session.get(Lot, lot_id).status == "released"


def test_recalling_a_recalled_lot_is_disabled_before_signing(qtbot: QtBot, director: ServiceContext) -> None:
    """Issue 20.4: the director learns the lot was recalled already before typing a password."""
    lot = make_lot(director.db)
    with director.db.write() as session:
        row = session.get(Lot, lot.lot_id)
        row.status, row.recall_date, row.recall_reason = "recalled", date.today(), "supplier notice"
    dialog = show_active(qtbot, RecallDialog(director, lot_id=lot.lot_id))
    assert not dialog.recall_button.isEnabled()
    assert "recalled already" in dialog.recall_button.toolTip() and "recalled already" in dialog.banner.text()
    other = make_lot(director.db)
    dialog.lot_picker.select_lot(other.lot_id)
    assert dialog.recall_button.isEnabled() and dialog.recall_button.toolTip() == ""


def test_each_sites_director_sees_their_patients_to_notify_after_a_group_recall(
    qtbot: QtBot, db: Database, template_users: dict[str, Actor], admin: ServiceContext
) -> None:
    """Issue 23: a recall at main recalls BUSAN's lot too; BUSAN's director, signed in there, lists and marks
    BUSAN's patient only; the group director lists both."""
    group = two_clinics_with_lot_rv7(db, template_users)
    auth.create_user(admin, "park", "medical_director", "park-password-long", site_code="BUSAN")
    group_director = ServiceContext(db, site_code="main")
    auth.sign_in(group_director, "director", PASSWORDS["director"])
    dialog = show_active(qtbot, RecallDialog(group_director, lot_id=group["main"]))
    dialog.signature.reason_edit.setPlainText("Manufacturer notice FSN-7")
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    dialog.recall_button.click()
    assert dialog.result is not None and dialog.result.also_recalled == ("BUSAN",)
    assert dialog.lookback is not None
    qtbot.addWidget(dialog.lookback)
    assert "recalled at site BUSAN too" in dialog.lookback.banner.text()

    both = show_active(qtbot, NotificationsDialog(group_director))
    assert [both.table.item(r, 5).text() for r in range(both.table.rowCount())] == ["PT-B001", "PT-M001"]
    park = ServiceContext(db, site_code="BUSAN")
    auth.sign_in(park, "park", "park-password-long")
    own = show_active(qtbot, NotificationsDialog(park))
    assert [(own.table.item(r, 0).text(), own.table.item(r, 5).text()) for r in range(own.table.rowCount())] == [
        ("BUSAN", "PT-B001")
    ]
    assert "1 patient still to notify of a recall at BUSAN" in own.heading.text()
    _select_row(own, 0)
    own.notified_how.setText("phone")
    own.notify_button.click()
    qtbot.waitUntil(lambda: own.table.rowCount() == 0)
    both.reload()
    assert [both.table.item(r, 5).text() for r in range(both.table.rowCount())] == ["PT-M001"]
