"""File > Open a registry on a server…: the connection is kept for next time without its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot
from sqlalchemy.exc import OperationalError

from registry_app.db import Database
from registry_app.services import credentials
from registry_app.ui import server_dialog
from registry_app.ui.server_dialog import ServerDialog, saved_connection

from ..services.test_credentials import FakeKeyring


def _fill(dialog: ServerDialog, password: str) -> None:
    dialog.host.setText("db.clinics.example")
    dialog.port.setValue(5433)
    dialog.database.setText("registry")
    dialog.user.setText("registry_app")
    dialog.tls.setCurrentText("verify-full")
    dialog.password.setText(password)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)


def test_connecting_keeps_the_settings_without_the_password(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, settings: QSettings, tmp_path: Path, database_url: str
) -> None:
    keyring = FakeKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: keyring)
    urls: list[str] = []
    monkeypatch.setattr(server_dialog, "open_database", lambda url: urls.append(url) or Database(database_url))
    dialog = ServerDialog(settings)
    qtbot.addWidget(dialog)
    _fill(dialog, "s3cret-pass")
    dialog.remember.setChecked(True)
    dialog.connect_button.click()

    assert dialog.result() == ServerDialog.DialogCode.Accepted and dialog.ctx is not None
    assert "s3cret-pass" in urls[0] and "sslmode=verify-full" in urls[0]
    settings.sync()
    stored = (tmp_path / "desktop.ini").read_text()
    assert "db.clinics.example" in stored and "s3cret-pass" not in stored
    assert keyring.secrets == {("registry-app", "registry_app@db.clinics.example:5433/registry"): "s3cret-pass"}
    again = ServerDialog(settings)
    qtbot.addWidget(again)
    assert (again.host.text(), again.port.value(), again.tls.currentText()) == (
        "db.clinics.example",
        5433,
        "verify-full",
    )
    assert again.password.text() == ""
    assert saved_connection(settings) == dialog.connection()
    dialog.ctx.db.dispose()


def test_a_refused_password_is_said_and_nothing_is_kept(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, settings: QSettings
) -> None:
    keyring = FakeKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: keyring)

    def refuse(_url: str) -> Database:
        raise OperationalError("connect", {}, Exception('password authentication failed for user "registry_app"'))

    monkeypatch.setattr(server_dialog, "open_database", refuse)
    dialog = ServerDialog(settings)
    qtbot.addWidget(dialog)
    _fill(dialog, "wrong")
    dialog.remember.setChecked(True)
    dialog.connect_button.click()

    assert (dialog.ctx is None and dialog.isVisible() is False) or dialog.result() != ServerDialog.DialogCode.Accepted
    assert dialog.error.text() == "The server refused the user name or password."
    assert saved_connection(settings) is None and keyring.secrets == {}
    assert dialog.password.text() == "wrong"  # what was typed stays, to correct


def test_a_missing_field_is_named(qtbot: QtBot, settings: QSettings) -> None:
    dialog = ServerDialog(settings)
    qtbot.addWidget(dialog)
    dialog.connect_button.click()
    assert dialog.error.text() == "Give the host, user."
