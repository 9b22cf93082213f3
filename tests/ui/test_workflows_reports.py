"""The Reports page as an inspector and a medical director: compliance report, inspection bundle and exports
for a period, produced in the background, then "open the file"."""

from __future__ import annotations

import csv
import subprocess
import zipfile
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import AuditEntry
from registry_app.services import ServiceContext
from registry_app.ui.pages.reports_page import ReportsPage, default_folder, period_for

from .workflow_data import add_administration, make_lot, show_active


class _OpenedUrls(QObject):
    """Receives what the desktop would open (Qt's URL handler), instead of launching a viewer."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def _page(qtbot: QtBot, ctx: ServiceContext) -> ReportsPage:
    page = show_active(qtbot, ReportsPage(ctx))
    page.show_progress = False
    return page


def _produce(qtbot: QtBot, page: ReportsPage) -> None:
    qtbot.keyClick(page, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.task is not None and not page.busy, timeout=30000)


def test_named_periods_are_calendar_periods() -> None:
    today = date(2026, 5, 17)
    assert period_for("Last month", today) == (date(2026, 4, 1), date(2026, 4, 30))
    assert period_for("Last quarter", today) == (date(2026, 1, 1), date(2026, 3, 31))
    assert period_for("This quarter", today) == (date(2026, 4, 1), today)
    assert period_for("Last quarter", date(2026, 2, 1)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert period_for("Last year", today) == (date(2025, 1, 1), date(2025, 12, 31))


def test_inspector_produces_the_compliance_report_and_opens_it(
    qtbot: QtBot, inspector: ServiceContext, tmp_path: Path
) -> None:
    lot = make_lot(inspector.db, status=None)  # no regulatory status: a finding for the report
    add_administration(inspector.db, lot.lot_id)
    page = _page(qtbot, inspector)
    assert not page.real_refs.isVisible()  # only a medical director may include real references
    page.period_combo.setCurrentText("Custom")
    page.from_edit.setDate(date(2025, 1, 1))
    page.to_edit.setDate(date(2025, 12, 31))
    assert page.path_edit.text().endswith("compliance-2025-01-01-to-2025-12-31.pdf")
    target = tmp_path / "compliance.pdf"
    page.path_edit.setText(str(target))
    _produce(qtbot, page)
    assert page.last_output is not None and page.last_output.path == target, page.banner.text()
    info = subprocess.run(["pdfinfo", str(target)], capture_output=True, text=True, check=True).stdout
    assert "Pages:" in info
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert "UNDOC-REGULATORY" in text
    assert page.open_button.isVisible() and str(target) in page.result_label.text()
    with inspector.db.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.seq == page.last_output.audit_seq)).scalar_one()
        assert (entry.action, entry.username) == ("compliance report", "inspector")

    opened = _OpenedUrls()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        assert page.open_file()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in opened.urls] == [str(target)]


def test_exports_and_bundle(qtbot: QtBot, director: ServiceContext, tmp_path: Path) -> None:
    lot = make_lot(director.db)
    add_administration(director.db, lot.lot_id, patient_ref="PT-4242")
    page = _page(qtbot, director)
    page.output_combo.setCurrentIndex(page.output_combo.findData("export:administrations"))
    page.format_combo.setCurrentIndex(page.format_combo.findData("csv"))
    page.whole_registry.setChecked(True)
    assert not page.from_edit.isEnabled()
    page.path_edit.setText(str(tmp_path / "administrations.csv"))
    _produce(qtbot, page)
    assert page.last_output is not None and page.last_output.rows == 1, page.banner.text()
    with (tmp_path / "administrations.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and "PT-4242" not in str(rows[0])  # pseudonymized unless the director asks

    # The file exists now: the page asks before the service may replace it (declined: nothing is written).
    asked: list[Path] = []
    page.confirm_replace = lambda path: asked.append(path) or False  # type: ignore[method-assign]
    page.real_refs.setChecked(True)
    page.produce()
    assert asked == [tmp_path / "administrations.csv"] and not page.busy
    page.confirm_replace = lambda path: asked.append(path) or True  # type: ignore[method-assign]
    _produce(qtbot, page)
    assert len(asked) == 2
    with (tmp_path / "administrations.csv").open(encoding="utf-8") as handle:
        assert "PT-4242" in handle.read()

    page.real_refs.setChecked(False)
    page.output_combo.setCurrentIndex(page.output_combo.findData("bundle"))
    assert page.whole_registry.isEnabled() is False and page.from_edit.isEnabled()
    page.period_combo.setCurrentText("Custom")
    page.from_edit.setDate(date(2025, 1, 1))
    page.to_edit.setDate(date(2025, 12, 31))
    page.path_edit.setText(str(tmp_path / "bundle.zip"))
    _produce(qtbot, page)
    assert page.last_output is not None and page.last_output.kind == "bundle", page.banner.text()
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        assert any(name.endswith(".pdf") for name in archive.namelist())


def test_bad_period_and_file_name_are_explained(qtbot: QtBot, inspector: ServiceContext, tmp_path: Path) -> None:
    page = _page(qtbot, inspector)
    page.period_combo.setCurrentText("Custom")
    page.from_edit.setDate(date(2025, 12, 31))
    page.to_edit.setDate(date(2025, 1, 1))
    page.path_edit.setText(str(tmp_path / "r.pdf"))
    _produce(qtbot, page)
    assert "before it starts" in page.banner.text() and not (tmp_path / "r.pdf").exists()
    assert not page.open_button.isVisible()
    page.period_combo.setCurrentText("Last quarter")
    page.path_edit.setText(str(tmp_path / "no-such-folder" / "r.pdf"))
    _produce(qtbot, page)
    assert page.banner.text().startswith("Save as: the folder") and "no-such-folder" in page.banner.text()


def test_default_folder_exists_even_without_a_documents_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    assert default_folder().is_dir()
