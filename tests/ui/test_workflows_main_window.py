"""The workflow actions in the main window, by role: an inspector sees none that change records; a pharmacist
receives and administers; a medical director also releases and recalls. Flags jump to the lot record."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QToolButton
from pytestqt.qtbot import QtBot

from registry_app.services import ServiceContext
from registry_app.services.backup import check_sqlite_file
from registry_app.ui.dialogs.receive_lot import ReceiveLotDialog
from registry_app.ui.dialogs.release_lot import ReleaseLotDialog
from registry_app.ui.dialogs.workflows import ChooseLotDialog
from registry_app.ui.main_window import MainWindow
from registry_app.ui.pages.flags_page import FlagsPage

from ..helpers import sqlite_only
from .workflow_data import make_lot, show_active


def _window(qtbot: QtBot, ctx: ServiceContext, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)
    window = show_active(qtbot, MainWindow(ctx, settings))
    # The workflow actions join the menus just after the window shows (start-up stays fast).
    qtbot.waitUntil(lambda: bool(_workflow_actions(window)))
    return window


def _workflow_actions(window: MainWindow) -> dict[str, QAction]:
    return {
        a.objectName().removeprefix("workflow:"): a
        for a in window.findChildren(QAction)
        if a.objectName().startswith("workflow:")
    }


def test_inspector_sees_no_changing_action(qtbot: QtBot, inspector: ServiceContext, tmp_path: Path) -> None:
    window = _window(qtbot, inspector, tmp_path)
    # Lookback and the lot editors only: these open read-only for an inspector (tests/ui/test_lot_editors.py).
    assert set(_workflow_actions(window)) == {
        "Recall lookback",
        "Characterization results",
        "Source and donor eligibility",
        "Temperature excursions",
        "Adverse events",
    }
    flags = window.show_page("Flags")
    assert isinstance(flags, FlagsPage) and not flags.waive_button.isVisible()


def test_pharmacist_receives_from_the_menu(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    window = _window(qtbot, pharmacist, tmp_path)
    actions = _workflow_actions(window)
    assert {
        "Receive a lot",
        "Record an administration",
        "Reject the lot",
        "Destroy the lot",
        "Import lots or administrations",
    } <= set(actions)
    assert "Release the lot" not in actions and "Recall a lot" not in actions
    actions["Receive a lot"].trigger()
    assert isinstance(window.workflow_dialog, ReceiveLotDialog) and window.workflow_dialog.isVisible()


def test_director_releases_the_lot_on_screen_or_asks_which(
    qtbot: QtBot, director: ServiceContext, tmp_path: Path
) -> None:
    lot = make_lot(director.db)
    window = _window(qtbot, director, tmp_path)
    actions = _workflow_actions(window)
    assert {"Release the lot", "Recall a lot"} <= set(actions)
    actions["Release the lot"].trigger()
    chooser = window.workflow_dialog
    assert isinstance(chooser, ChooseLotDialog) and not chooser.ok_button.isEnabled()
    chooser.picker.scan_edit.setText(lot.lot_number)
    chooser.picker.look_up()
    chooser.ok_button.click()
    assert isinstance(window.workflow_dialog, ReleaseLotDialog) and window.workflow_dialog.lot_id == lot.lot_id
    window.workflow_dialog.reject()

    window.open_lot(lot.lot_id)
    actions["Release the lot"].trigger()
    assert isinstance(window.workflow_dialog, ReleaseLotDialog) and window.workflow_dialog.lot_id == lot.lot_id


def _lot_record_buttons(window: MainWindow) -> dict[str, QToolButton]:
    return {
        button.defaultAction().objectName().removeprefix("workflow:"): button
        for button in window.lot_actions.findChildren(QToolButton)
        if button.defaultAction() is not None and button.defaultAction().objectName().startswith("workflow:")
    }


def test_lot_record_offers_the_lot_actions_the_role_allows(
    qtbot: QtBot, director: ServiceContext, inspector: ServiceContext, tmp_path: Path
) -> None:
    lot = make_lot(director.db)
    window = _window(qtbot, director, tmp_path)
    window.open_lot(lot.lot_id)
    buttons = _lot_record_buttons(window)
    assert window.lot_actions.isVisible() and {
        "Release the lot",
        "Reject the lot",
        "Recall a lot",
        "Recall lookback",
        "Record an administration",
    } <= set(buttons)
    assert "Receive a lot" not in buttons
    qtbot.mouseClick(buttons["Release the lot"], Qt.MouseButton.LeftButton)
    assert isinstance(window.workflow_dialog, ReleaseLotDialog) and window.workflow_dialog.lot_id == lot.lot_id
    window.workflow_dialog.reject()

    watcher = _window(qtbot, inspector, tmp_path / "inspector")
    watcher.open_lot(lot.lot_id)
    # Lookback and the lot editors, which open read-only for an inspector.
    assert set(_lot_record_buttons(watcher)) == {
        "Recall lookback",
        "Characterization results",
        "Source and donor eligibility",
        "Temperature excursions",
        "Adverse events",
    }


def test_flag_jumps_to_the_lot_record(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    lot = make_lot(pharmacist.db, coa_ref=None)
    window = _window(qtbot, pharmacist, tmp_path)
    page = window.show_page("Flags")
    assert isinstance(page, FlagsPage)
    qtbot.waitUntil(lambda: not page.loading and bool(page.model.rows), timeout=20000)
    page.table.selectRow([f.code for f in page.model.rows].index("UNDOC-COA"))
    page.open_button.click()
    assert window.record is not None and window.record.lot_id == lot.lot_id
    assert window.stack.currentWidget() is window.record_holder


def _file_action(window: MainWindow, text: str) -> QAction | None:
    return next((a for a in window.menus["File"].actions() if a.text() == text), None)


@sqlite_only("the file dialog offers an SQLite copy; the backup service's tests cover pg_dump")
def test_director_backs_up_from_the_file_menu(
    qtbot: QtBot, director: ServiceContext, pharmacist: ServiceContext, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "copy.sqlite3"
    offered: list[str] = []

    def save_as(_parent: object, _title: str, suggested: str) -> tuple[str, str]:
        offered.append(suggested)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    window = _window(qtbot, director, tmp_path)
    action = _file_action(window, "&Back up the registry…")
    assert action is not None
    action.trigger()
    assert target.exists() and check_sqlite_file(target).ok
    assert offered[0].endswith(".sqlite3") and Path(offered[0]).parent.is_dir()
    assert "Backed up" in window.statusBar().currentMessage()
    assert _file_action(_window(qtbot, pharmacist, tmp_path / "p"), "&Back up the registry…") is None
