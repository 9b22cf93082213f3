"""What a day of real use runs into (issue 20): views that stay current after a change, edits that are not lost
without asking, the registry remembered between sessions."""

from __future__ import annotations

from argparse import Namespace
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from registry_app.db import open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import Lot
from registry_app.services import ServiceContext
from registry_app.services.lots.lifecycle import release_lot
from registry_app.services.queries.lots_page import LotQuery
from registry_app.ui.app import chosen_registry_url
from registry_app.ui.dialogs.receive_lot import ReceiveLotDialog
from registry_app.ui.main_window import MainWindow
from registry_app.ui.pages.lots_page import LotsPage
from registry_app.ui.recent import RecentRegistries

from ..conftest import PASSWORDS
from .workflow_data import LotIds, make_lot, show_active


def _window(qtbot: QtBot, ctx: ServiceContext, tmp_path: Path) -> MainWindow:
    return show_active(qtbot, MainWindow(ctx, QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)))


def _quarantined(ctx: ServiceContext, number: str) -> LotIds:
    lot = make_lot(ctx.db, lot_number=number, expiry_date=date.today() + timedelta(days=400))
    with ctx.db.write() as session:
        session.get(Lot, lot.lot_id).status = "quarantine"  # as received, before release
    return lot


def _numbers(page: LotsPage) -> list[str]:
    return [row.lot_number for row in page.model.rows]


def test_a_quarantine_list_drops_a_lot_released_a_moment_ago(
    qtbot: QtBot, director: ServiceContext, tmp_path: Path
) -> None:
    lot = _quarantined(director, "Q-1")
    window = _window(qtbot, director, tmp_path)
    page = window.show_lots(LotQuery(statuses=("quarantine",)))
    assert _numbers(page) == ["Q-1"]
    release_lot(director, lot.lot_id, PASSWORDS["director"])  # the same registry, from anywhere in the app
    qtbot.waitUntil(lambda: _numbers(page) == [], timeout=3000)  # no F5 needed


def test_pages_not_on_screen_refresh_when_next_shown(qtbot: QtBot, director: ServiceContext, tmp_path: Path) -> None:
    lot = _quarantined(director, "Q-2")
    window = _window(qtbot, director, tmp_path)
    page = window.show_lots(LotQuery(statuses=("quarantine",)))
    window.show_page("Products")
    release_lot(director, lot.lot_id, PASSWORDS["director"])
    qtbot.waitUntil(lambda: "Lots" in window._stale, timeout=3000)
    assert _numbers(page) == ["Q-2"]  # not refreshed behind the user's back while hidden...
    window.show_page("Lots")
    assert _numbers(page) == []  # ...but as soon as it is shown


def test_a_closed_window_stops_listening(qtbot: QtBot, director: ServiceContext, tmp_path: Path) -> None:
    lot = _quarantined(director, "Q-3")
    window = _window(qtbot, director, tmp_path)
    assert len(director.change_listeners) == 1
    window.close()
    assert director.change_listeners == []
    release_lot(director, lot.lot_id, PASSWORDS["director"])  # nothing left to notify: no error


class _Answers:
    """Stands in for the user at QMessageBox.question: answers in turn, and counts the questions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: QMessageBox.StandardButton) -> None:
        self.answers, self.asked = list(answers), 0
        monkeypatch.setattr(QMessageBox, "question", self)

    def __call__(self, *_args: object, **_kwargs: object) -> QMessageBox.StandardButton:
        self.asked += 1
        return self.answers.pop(0)


def test_leaving_a_lot_record_with_unsaved_edits_asks_first(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = make_lot(pharmacist.db, lot_number="E-1")
    window = _window(qtbot, pharmacist, tmp_path)
    record = window.open_lot(lot.lot_id)
    assert record is not None
    answers = _Answers(monkeypatch, QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard)
    window.go_back()  # nothing typed: no question
    assert answers.asked == 0
    record = window.open_lot(lot.lot_id)
    assert record is not None
    record.editors["serial"].setText("SN-typed")
    window.go_back()
    assert answers.asked == 1 and window.stack.currentWidget() is window.record_holder  # Cancel: still there
    assert record.editors["serial"].text() == "SN-typed"
    window.show_page("Products")
    assert answers.asked == 2 and window.stack.currentWidget() is window.pages["Products"]  # Discard


def test_cancel_in_receive_a_lot_asks_before_discarding(
    qtbot: QtBot, pharmacist: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = _Answers(monkeypatch, QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard)
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    dialog.reject()  # nothing typed yet: closes at once
    assert answers.asked == 0 and not dialog.isVisible()
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    dialog.lot_number.setFocus()
    qtbot.keyClicks(dialog.lot_number, "LOT-77")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert answers.asked == 1 and dialog.isVisible() and dialog.lot_number.text() == "LOT-77"
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert answers.asked == 2 and not dialog.isVisible()


def test_the_registry_opened_last_is_opened_again(tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)
    recent = RecentRegistries(settings)
    assert chosen_registry_url(Namespace(database=None), recent)[1] is False  # nothing yet: the default
    last = tmp_path / "clinic.sqlite3"
    open_database(sqlite_url_for(last)).dispose()
    recent.remember(sqlite_url_for(tmp_path / "older.sqlite3"))
    recent.remember(sqlite_url_for(last))
    recent.remember("postgresql+psycopg://app:s3cret@db.example/registry")
    assert all("s3cret" not in url for url in recent.entries())  # never a password in the settings
    recent.forget("postgresql+psycopg://app:s3cret@db.example/registry")
    assert chosen_registry_url(Namespace(database=None), recent) == (sqlite_url_for(last), True)
    explicit = sqlite_url_for(tmp_path / "other.sqlite3")
    assert chosen_registry_url(Namespace(database=explicit), recent) == (explicit, True)
    last.unlink()  # moved away since: not offered again, the default instead of a missing file
    assert chosen_registry_url(Namespace(database=None), recent)[1] is False


def test_sign_out_closes_the_window_for_the_next_user(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    window = _window(qtbot, pharmacist, tmp_path)
    file_menu = [a.text() for a in window.menus["File"].actions()]
    assert file_menu.index("Sign &out…") < file_menu.index("&Quit")
    window.sign_out_action.trigger()
    assert window.signed_out and not window.isVisible()


def test_no_two_actions_share_a_shortcut(qtbot: QtBot, director: ServiceContext, tmp_path: Path) -> None:
    """A shortcut bound twice does nothing at all in Qt ("ambiguous"): every one must be unique."""
    window = _window(qtbot, director, tmp_path)
    window.install_workflows()
    seen: dict[str, str] = {}
    for action in window.findChildren(QAction):
        for shortcut in action.shortcuts():
            key = shortcut.toString()
            if key:
                assert key not in seen, f"{key} is both {seen[key]!r} and {action.text()!r}"
                seen[key] = action.text()


def test_counts_read_in_words_and_messages_start_with_a_capital() -> None:
    """Issue 20.7: "1 document", "2 documents", never "1 document(s)"; banner messages in sentence case."""
    from registry_app.ui.wording import count_phrase

    assert (count_phrase(1, "document"), count_phrase(2, "document"), count_phrase(0, "finding")) == (
        "1 document",
        "2 documents",
        "0 findings",
    )


def test_a_signature_asks_for_its_reason_in_sentence_case(qtbot: QtBot, director: ServiceContext) -> None:
    from registry_app.ui.dialogs.signature import SignaturePanel

    panel = SignaturePanel(director, "waived", needs_reason=True)
    qtbot.addWidget(panel)
    assert panel.missing() == [
        "Reason: write the reason for signing (it is kept with the signature).",
        "Password: type your password again to sign.",
    ]


def test_an_inspector_sees_why_a_lot_cannot_be_corrected_before_trying(qtbot: QtBot, inspector: ServiceContext) -> None:
    """Issue 20.4: Save changes and Attach file are disabled with the reason, the fields read-only."""
    from registry_app.ui.lot_record import LotRecord

    lot = make_lot(inspector.db)
    record = show_active(qtbot, LotRecord(inspector, lot.lot_id))
    assert (
        not record.save_button.isEnabled() and "Only a pharmacist or medical director" in record.save_button.toolTip()
    )
    assert record.editors["coa_ref"].isReadOnly() and record.reason.isReadOnly()
    assert not record.attach_button.isEnabled() and "attach documents" in record.attach_button.toolTip()


def test_at_1024x700_chart_labels_stay_whole_and_the_status_bar_elides_with_a_tooltip(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    """Issue 20.7: "Criti..." under the severity chart; status messages cut behind the permanent labels."""
    from PySide6.QtCharts import QBarCategoryAxis
    from PySide6.QtGui import QFontMetrics

    from registry_app.ui.pages.dashboard_page import DashboardPage

    from .ui_data import seed

    seed(pharmacist.db)
    window = _window(qtbot, pharmacist, tmp_path)
    window.resize(1024, 700)
    page = window.show_page("Dashboard")
    assert isinstance(page, DashboardPage)
    qtbot.wait(50)
    for view in (page.severity_chart, page.completeness_chart):
        chart = view.chart()
        axis = next(a for a in chart.axes() if isinstance(a, QBarCategoryAxis))
        assert not axis.truncateLabels()
        room = chart.plotArea().width() / len(axis.categories())
        metrics = QFontMetrics(axis.labelsFont())
        assert all(metrics.horizontalAdvance(text) <= room for text in axis.categories()), (room, view.objectName())
    message = (
        "Saved the lots import template: /home/clinic/Documents/registry/templates/"
        "lots-import-template-with-every-column-and-an-example-row.xlsx"
    )
    window.statusBar().showMessage(message, 15000)
    qtbot.wait(20)
    bar = window.statusBar()
    label = bar.message_label  # type: ignore[attr-defined]
    assert bar.currentMessage() == message and label.toolTip() == message
    assert label.isVisible() and label.width() > 100, "the message keeps room beside the permanent labels"
    assert label.is_elided(), "too long for 1024 px: elided with …, whole in the tooltip"
    database = bar.findChild(type(label), "statusDatabase")
    assert database is not None and database.toolTip() == database.text()


def test_f1_shows_the_guide_of_the_page_on_screen(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20.7: a short user guide per page, shipped in resources/help/ and shown for the current page."""
    import tomllib

    import registry_app
    from registry_app.ui import help as help_module
    from registry_app.ui.help import topic_for
    from registry_app.ui.main_window import PAGES

    # The guides of this source tree (an editable install elsewhere may map the package data to another one).
    checkout = Path(registry_app.__file__).resolve().parents[1]
    monkeypatch.setattr(help_module, "resource_files", lambda: checkout / "resources")
    package_data = tomllib.loads((checkout / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "help/*" in package_data["registry_app.resources"], "the guides ship with the package"
    help_folder = checkout / "resources" / "help"
    for name in [spec.name for spec in PAGES] + ["Lot record"]:
        assert help_folder.joinpath(f"{topic_for(name)}.html").is_file(), f"no guide for {name}"
    window = _window(qtbot, pharmacist, tmp_path)
    window.show_page("Audit trail")
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.help_dialog
    assert dialog.isVisible() and "Verify the trail" in dialog.browser.toPlainText()
    assert dialog.windowTitle() == "Help — Audit trail"
    dialog.close()
    lot = make_lot(pharmacist.db)
    window.open_lot(lot.lot_id)
    assert "Lot record" in window.show_help().browser.toPlainText()
