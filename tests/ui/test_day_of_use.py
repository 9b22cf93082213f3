"""What a day of real use runs into (issue 20): views that stay current after a change, edits that are not lost
without asking, the registry remembered between sessions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from registry_app.domain import Lot
from registry_app.services import ServiceContext
from registry_app.services.browse import LotQuery
from registry_app.services.receiving import release_lot
from registry_app.ui.main_window import MainWindow
from registry_app.ui.pages.lots_page import LotsPage

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


def test_a_quarantine_list_drops_a_lot_released_a_moment_ago(qtbot: QtBot, director: ServiceContext,
                                                            tmp_path: Path) -> None:
    lot = _quarantined(director, "Q-1")
    window = _window(qtbot, director, tmp_path)
    page = window.show_lots(LotQuery(statuses=("quarantine",)))
    assert _numbers(page) == ["Q-1"]
    release_lot(director, lot.lot_id, PASSWORDS["director"])  # the same registry, from anywhere in the app
    qtbot.waitUntil(lambda: _numbers(page) == [], timeout=3000)  # no F5 needed


def test_pages_not_on_screen_refresh_when_next_shown(qtbot: QtBot, director: ServiceContext,
                                                     tmp_path: Path) -> None:
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
