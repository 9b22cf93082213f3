"""When something goes wrong in the desktop: the crash handler logs and explains; one window per registry;
the import templates the File menu saves."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from registry_app import diagnostics
from registry_app.services import ServiceContext
from registry_app.ui.crash import install_crash_handler
from registry_app.ui.main_window import MainWindow
from registry_app.ui.single_instance import InstanceGuard, instance_key

from .workflow_data import show_active


class _Emitter(QObject):
    fired = Signal()


@pytest.fixture
def log_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv(diagnostics.ENV_LOG_DIR, str(folder))
    assert diagnostics.configure_logging() == folder / diagnostics.LOG_NAME
    return folder


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_logged_and_explained(
    qtbot: QtBot, log_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_crash_handler()
    emitter = _Emitter()

    def broken_slot() -> None:
        raise RuntimeError("no administration for patient 'Jane Doe 1980-04-01'")

    emitter.fired.connect(broken_slot)
    emitter.fired.emit()

    def dialog() -> QMessageBox | None:
        found = [w for w in QApplication.topLevelWidgets() if w.objectName() == "crashDialog" and w.isVisible()]
        return found[0] if found else None  # type: ignore[return-value]

    qtbot.waitUntil(lambda: dialog() is not None)
    box = dialog()
    assert box is not None
    assert "saved before this is safe" in box.informativeText()
    assert str(log_folder / diagnostics.LOG_NAME) in box.informativeText()
    assert any(b.text() == "Open the log folder" for b in box.buttons())
    box.close()
    log = (log_folder / diagnostics.LOG_NAME).read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "in broken_slot" in log and "RuntimeError" in log
    assert "Jane Doe" not in log  # a patient reference never reaches the log


def test_a_second_launch_raises_the_first_instead_of_opening_twice(qtbot: QtBot) -> None:
    key = instance_key(f"sqlite:///{uuid.uuid4()}.sqlite3")
    first, second = InstanceGuard(key), InstanceGuard(key)
    try:
        assert first.claim()
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert not second.claim()
        other = InstanceGuard(instance_key("sqlite:///another-registry.sqlite3"))
        assert other.claim()  # another registry is another instance
        other.release()
    finally:
        first.release()
        second.release()


def test_a_guard_left_by_a_crashed_instance_does_not_block(qtbot: QtBot) -> None:
    key = instance_key(f"sqlite:///{uuid.uuid4()}.sqlite3")
    crashed = InstanceGuard(key)
    assert crashed.claim()
    crashed.server.close()  # gone without a goodbye: nobody answers on the key any more
    again = InstanceGuard(key)
    assert again.claim()
    again.release()


@pytest.mark.parametrize(
    ("chosen_filter", "suffix"),
    [
        ("Lots import template, XLSX (*.xlsx)", ".xlsx"),
        ("Administrations import template, CSV (*.csv)", ".csv"),
    ],
)
def test_file_menu_saves_an_import_template(
    qtbot: QtBot,
    pharmacist: ServiceContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chosen_filter: str,
    suffix: str,
) -> None:
    window = show_active(qtbot, MainWindow(pharmacist, QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)))
    target = tmp_path / "my-template"  # no suffix typed: the chosen type adds it
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), chosen_filter))
    action = next(a for a in window.menus["File"].actions() if a.text().startswith("Save an import &template"))
    action.trigger()
    saved = target.with_suffix(suffix)
    assert saved.is_file()
    if suffix == ".xlsx":
        rows = list(load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
        assert rows[0][:3] == ("product_name", "product_type", "manufacturer") and len(rows) == 2
    else:
        header = saved.read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.startswith("administered_at,product_name,lot_number,patient_ref")
    assert "Saved the" in window.statusBar().currentMessage()
