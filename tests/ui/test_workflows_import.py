"""Importing from the desktop as a pharmacist: check (dry run) lists accepted and rejected rows and writes
nothing; Import writes only after a clean check; the work runs in the background."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from registry_app.domain import Administration, Lot
from registry_app.services import ServiceContext
from registry_app.ui.dialogs.import_wizard import ImportWizard
from tests.helpers import row_counts

from ..helpers import FORMAT_EXAMPLES
from .workflow_data import show_active

EXAMPLES = FORMAT_EXAMPLES


def _example(name: str, tmp_path: Path) -> Path:
    source = EXAMPLES / name
    target = tmp_path / name
    shutil.copyfile(source, target)
    return target


def _wizard(qtbot: QtBot, ctx: ServiceContext, kind: str = "lots") -> ImportWizard:
    wizard = show_active(qtbot, ImportWizard(ctx, kind=kind))
    wizard.show_progress = False  # the progress dialog is exercised by hand; here the result matters
    return wizard


def _wait(qtbot: QtBot, wizard: ImportWizard) -> None:
    qtbot.waitUntil(lambda: wizard.task is not None and not wizard.busy, timeout=20000)


def _lot_count(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return session.execute(select(func.count(Lot.id))).scalar_one()


def test_check_then_import_lots_with_the_keyboard(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    path = _example("lots-example.csv", tmp_path)
    wizard = _wizard(qtbot, pharmacist)
    before = row_counts(pharmacist.db)
    wizard.path_edit.setText(str(path))
    qtbot.keyClick(wizard, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Check
    _wait(qtbot, wizard)
    result = wizard.last_result
    assert result is not None and result.dry_run and result.ok, wizard.summary.text()
    assert wizard.pages.currentIndex() == 1 and wizard.import_button.isEnabled()
    assert wizard.preview.rowCount() == result.rows
    assert {wizard.preview.item(r, 1).text() for r in range(wizard.preview.rowCount())} == {"accepted"}
    assert row_counts(pharmacist.db) == before  # the check wrote nothing

    qtbot.keyClick(wizard, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Import
    _wait(qtbot, wizard)
    assert wizard.last_result is not None and wizard.last_result.written
    assert _lot_count(pharmacist) == result.rows
    assert "Imported" in wizard.summary.text() and not wizard.import_button.isEnabled()


def test_rejected_rows_are_listed_first_and_nothing_is_imported(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    path = _example("lots-example.csv", tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    broken = lines[2].split(",")
    broken[header.index("expiry_date")] = "31/01/2027"
    path.write_text("\n".join([lines[0], lines[1], ",".join(broken), *lines[3:]]) + "\n", encoding="utf-8")
    wizard = _wizard(qtbot, pharmacist)
    wizard.path_edit.setText(str(path))
    wizard.check_button.click()
    _wait(qtbot, wizard)
    assert wizard.last_result is not None and not wizard.last_result.ok
    assert "row 3, column expiry_date" in wizard.summary.text()
    assert wizard.preview.item(0, 0).text() == "3" and wizard.preview.item(0, 1).text().startswith("rejected")
    assert not wizard.import_button.isEnabled()
    assert _lot_count(pharmacist) == 0


def test_administrations_import_after_lots(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    lots = _wizard(qtbot, pharmacist)
    lots.path_edit.setText(str(_example("lots-example.csv", tmp_path)))
    lots.check_button.click()
    _wait(qtbot, lots)
    lots.import_button.click()
    _wait(qtbot, lots)
    wizard = _wizard(qtbot, pharmacist, kind="administrations")
    assert not wizard.update_check.isEnabled()
    wizard.path_edit.setText(str(_example("administrations-example.csv", tmp_path)))
    wizard.check_button.click()
    _wait(qtbot, wizard)
    assert wizard.last_result is not None and wizard.last_result.ok, wizard.summary.text()
    wizard.import_button.click()
    _wait(qtbot, wizard)
    with pharmacist.db.read() as session:
        count = session.execute(select(func.count(Administration.id))).scalar_one()
    assert count == wizard.last_result.created > 0


def test_missing_file_is_named(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    wizard = _wizard(qtbot, pharmacist)
    wizard.path_edit.setText(str(tmp_path / "nope.csv"))
    wizard.check_button.click()
    assert "does not exist" in wizard.banner.text() and wizard.task is None


def test_inspector_cannot_import(qtbot: QtBot, inspector: ServiceContext) -> None:
    wizard = _wizard(qtbot, inspector)
    assert not wizard.check_button.isEnabled() and not wizard.import_button.isVisible()
