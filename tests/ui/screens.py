"""Render the main window and a lot record to PNG files on the display Qt is given (run by test_screenshots
under Xvfb with QT_QPA_PLATFORM=xcb): `python -m tests.ui.screens OUT_DIR`.

Builds a small registry in OUT_DIR, signs in, shows the window, and saves what the X server shows."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFontDatabase, QFontInfo
from PySide6.QtWidgets import QApplication, QWidget

from registry_app.db import open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.services import ServiceContext
from registry_app.services.auth import create_first_user, create_user, sign_in
from registry_app.ui.main_window import MainWindow
from registry_app.ui.ops import SynchronousRunner, install_runner

from .ui_data import seed


def _settle(app: QApplication, rounds: int = 20) -> None:
    import time

    for _ in range(rounds):
        app.processEvents()
        time.sleep(0.02)


def _save(window: QWidget, path: Path, app: QApplication) -> None:
    _settle(app)
    shot = window.screen().grabWindow(window.winId())
    if shot.isNull() or shot.width() < 10:
        shot = window.grab()
    assert shot.save(str(path)), f"could not write {path}"


def _save_editors(window: MainWindow, ctx: ServiceContext, admin: ServiceContext, out: Path,
                  app: QApplication) -> None:
    """The catalogue and site editors (issue 19): a product amended, its regulatory status, the site."""
    from registry_app.services.products import list_products
    from registry_app.ui.editors import open_product_editor, open_regulatory_status, open_site_settings

    product = next(p for p in list_products(ctx) if p.product_type == "exosome")
    shots = (("product-editor.png", lambda: open_product_editor(window, ctx, product.id)),
             ("regulatory-status.png", lambda: open_regulatory_status(window, ctx, product.id, "US")),
             ("site-settings.png", lambda: open_site_settings(window, admin)))
    for name, open_dialog in shots:
        dialog = open_dialog()
        _save(dialog, out / name, app)
        dialog.reject()


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    install_runner(SynchronousRunner())  # the screenshots show finished pages, not "Computing…"
    font = QFontInfo(app.font())
    print(f"platform={app.platformName()} font={font.family()} families={len(QFontDatabase.families())}")
    work = Path(tempfile.mkdtemp(prefix="registry-screens-"))  # the registry and settings: not artifacts
    database_path = work / "registry.sqlite3"
    database = open_database(sqlite_url_for(database_path))
    ctx = ServiceContext(database)
    ctx.actor = create_first_user(ctx, "admin", "admin", "admin-password", "Ada Admin")
    admin = ServiceContext(database, ctx.actor)
    create_user(ctx, "lee", "pharmacist", "pharmacist-password", "Lee Pharmacist")
    seed(database, extra_lots=60)
    sign_in(ctx, "lee", "pharmacist-password")
    window = MainWindow(ctx, QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 800)
    window.show()
    window.show_page("Lots")
    _save(window, out / "main-window.png", app)
    lots = window.pages["Lots"]
    quarantined = next(row.id for row in lots.model.rows if row.lot_number == "EXO24-0100")  # type: ignore[attr-defined]
    record = window.open_lot(quarantined)
    record.tabs.setCurrentIndex(2)
    _save(window, out / "lot-record.png", app)
    window.show_page("Dashboard")
    _save(window, out / "dashboard.png", app)
    _save_editors(window, ctx, admin, out, app)
    window.close()
    database.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
