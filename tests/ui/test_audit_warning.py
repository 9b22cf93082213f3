"""Issue 17: the desktop warns at sign-in, without blocking, when the trail no longer extends the head verified
earlier on this computer (services/anchors.trail_warning, through the window's op runner)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import make_url

from registry_app.services import ServiceContext, anchors, audit
from registry_app.services.anchors import trail_warning
from registry_app.services.errors import PermissionDenied
from registry_app.ui.main_window import MainWindow

from ..helpers import sqlite_only
from .workflow_data import show_active


def _window(qtbot: QtBot, ctx: ServiceContext, tmp_path: Path) -> MainWindow:
    return show_active(qtbot, MainWindow(ctx, QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)))


def _banner(window: MainWindow) -> QLabel:
    banner = window.findChild(QLabel, "auditTrailWarning")
    assert banner is not None
    return banner


def _cut_last_entry(database_url: str) -> None:
    """What someone with the database file can do: drop the guard, delete the last entry, repoint the head."""
    connection = sqlite3.connect(str(make_url(database_url).database))
    connection.executescript(
        "DROP TRIGGER IF EXISTS audit_entry_no_delete;"
        "DELETE FROM audit_entry WHERE seq = (SELECT max(seq) FROM audit_entry);"
        "UPDATE setting SET value = (SELECT seq || ':' || entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1) "
        "WHERE key = 'audit_head';"
    )
    connection.commit()
    connection.close()


def test_no_banner_while_the_trail_extends_the_kept_head(
    qtbot: QtBot, pharmacist: ServiceContext, database_url: str, tmp_path: Path
) -> None:
    seq, digest = audit.current_head(pharmacist.db)
    anchors.keep_anchor(database_url, seq, digest)
    window = _window(qtbot, pharmacist, tmp_path)
    qtbot.waitUntil(lambda: window.op_runner.running == 0)
    qtbot.wait(50)
    assert not _banner(window).isVisible()


@sqlite_only  # the cut is made with the sqlite3 module, as someone holding the file would
def test_a_cut_trail_shows_a_banner_and_work_goes_on(
    qtbot: QtBot, pharmacist: ServiceContext, database_url: str, tmp_path: Path
) -> None:
    seq, digest = audit.current_head(pharmacist.db)
    anchors.keep_anchor(database_url, seq, digest)
    _cut_last_entry(database_url)
    window = _window(qtbot, pharmacist, tmp_path)
    banner = _banner(window)
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    assert f"no longer holds entry {seq}" in banner.text() and "Audit trail warning" in banner.text()
    assert window.isEnabled() and window.show_page("Lots") is not None  # non-modal: the pages still work


def test_the_warning_is_a_service_for_signed_in_users(pharmacist: ServiceContext, db: object) -> None:
    assert trail_warning(pharmacist) is None  # nothing kept for this registry yet
    signed_out = ServiceContext(pharmacist.db)
    with pytest.raises(PermissionDenied):
        trail_warning(signed_out)
