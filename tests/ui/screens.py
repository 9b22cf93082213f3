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


def _save_editors(window: MainWindow, ctx: ServiceContext, admin: ServiceContext, out: Path, app: QApplication) -> None:
    """The catalogue and site editors (issue 19): a product amended, its regulatory status, the site, the users."""
    from registry_app.services.products import list_products
    from registry_app.ui.editors import open_product_editor, open_regulatory_status, open_site_settings, open_users

    product = next(p for p in list_products(ctx) if p.product_type == "exosome")
    shots = (
        ("product-editor.png", lambda: open_product_editor(window, ctx, product.id)),
        ("regulatory-status.png", lambda: open_regulatory_status(window, ctx, product.id, "US")),
        ("site-settings.png", lambda: open_site_settings(window, admin)),
    )
    for name, open_dialog in shots:
        dialog = open_dialog()
        _save(dialog, out / name, app)
        dialog.reject()
    users = open_users(window, admin)  # the Users editor (issue 19 item 6), a pharmacist selected
    users.select_user("lee")
    _save(users, out / "users.png", app)
    users.reject()


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
    _sized_shots(window, ctx, quarantined, out, app)
    _save_editors(window, ctx, admin, out, app)
    _editor_shots(ctx, window, quarantined, out, work, app)
    window.close()
    database.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return 0


SIZES = ((1024, 700), (1600, 1000))  # the smallest supported window and a large monitor (issue 20)


def _sized_shots(window: MainWindow, ctx: ServiceContext, lot_id: int, out: Path, app: QApplication) -> None:
    """The dashboard, the lot record (its history) and the audit trail at each of SIZES: cut labels, elided
    cells and the status bar show up here first."""
    from registry_app.services.lots.receiving import amend_lot

    amend_lot(
        ctx, lot_id, {"coa_ref": "COA-EXO-0100-REV2", "serial": "SN-0100"}, "certificate reissued by the manufacturer"
    )  # a field-level row in the record's and the trail's history
    for width, height in SIZES:
        window.resize(width, height)
        window.show_page("Dashboard")
        window.statusBar().showMessage(
            "Saved the lots import template: /home/clinic/Documents/registry/"
            "templates/lots-import-template-with-every-column.xlsx",
            60000,
        )
        _save(window, out / f"dashboard-{width}x{height}.png", app)
        record = window.open_lot(lot_id)
        assert record is not None
        record.tabs.setCurrentIndex(record.tabs.count() - 1)  # History
        _save(window, out / f"lot-record-{width}x{height}.png", app)
        window.show_page("Audit trail")
        _save(window, out / f"audit-trail-{width}x{height}.png", app)
    window.resize(1280, 800)


def _certificate_pdf(path: Path) -> Path:
    """A one-page certificate of analysis, for the preview beside the characterization grid."""
    from PySide6.QtCore import QMarginsF
    from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter

    writer = QPdfWriter(str(path))
    writer.setPageLayout(
        QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait, QMarginsF(15, 15, 15, 15))
    )
    writer.setResolution(96)
    painter = QPainter(writer)
    painter.setFont(QFont("DejaVu Sans", 16))
    painter.drawText(40, 60, "CERTIFICATE OF ANALYSIS")
    painter.setFont(QFont("DejaVu Sans", 10))
    lines = [
        "ExoCell Biotech - ExoSkin UC-MSC Vial",
        "Lot EXO24-0100",
        "",
        "Particle concentration (NTA)   9.1 x 10^9 particles/mL",
        "Size mode (NTA)                110 nm",
        "Protein (BCA)                  48 ug/mL",
        "CD63 (western blot)            detected",
        "TSG101 (western blot)          detected",
        "Calnexin (western blot)        not detected",
        "Sterility (USP <71>)           pass",
        "Endotoxin (LAL)                1.2 EU/mL",
        "Mycoplasma (qPCR)              negative",
    ]
    for n, line in enumerate(lines):
        painter.drawText(40, 110 + 22 * n, line)
    painter.end()
    return path


def _editor_shots(
    ctx: ServiceContext, window: MainWindow, lot_id: int, out: Path, work: Path, app: QApplication
) -> None:
    """The lot editors (issue 19): the characterization grid beside a CoA, source and donor eligibility, an
    adverse event report, temperature excursions and a signed resolution, and Fix… on the Flags page."""
    from datetime import datetime, timedelta

    from registry_app.domain import Administration, AdverseEvent, Lot
    from registry_app.services.lots.excursions import list_excursions, record_excursion
    from registry_app.ui.editors.adverse_event import AdverseEventReportDialog
    from registry_app.ui.editors.characterization import CharacterizationEditor
    from registry_app.ui.editors.excursion import ExcursionsDialog, ResolveExcursionDialog
    from registry_app.ui.editors.lot_source import LotSourceEditor

    grid = CharacterizationEditor(ctx, lot_id, window)
    grid.resize(1360, 820)
    grid.show()
    grid.attach_certificate(_certificate_pdf(work / "coa-EXO24-0100.pdf"))
    particles = grid.entry("particle_concentration")
    particles.method.setCurrentIndex(particles.method.findData("nta"))
    particles.value.setText("9.1e9")  # type: ignore[union-attr]
    particles.measured_by.setCurrentIndex(particles.measured_by.findData("manufacturer"))
    _save(grid, out / "characterization.png", app)
    grid.close()

    source = LotSourceEditor(ctx, lot_id, window)
    source.show()
    _save(source, out / "lot-source.png", app)
    source.close()

    with ctx.db.write() as session:
        lot = session.get(Lot, lot_id)
        assert lot is not None
        given = Administration(
            lot_id=lot.id,
            administered_at=datetime.now() - timedelta(days=30),
            patient_ref="PT-00412",
            route="intradermal",
            body_areas="face",
            quantity=1.0,
            practitioner="Dr Kim",
            screening_done=True,
        )
        session.add(given)
        session.flush()
        event = AdverseEvent(
            administration_id=given.id,
            event_type="delayed_nodule_granuloma",
            severity="moderate",
            report_status="not_reported",
            recorded_at=datetime.now() - timedelta(days=20),
        )
        session.add(event)
        session.flush()
        event_id = event.id
    report = AdverseEventReportDialog(ctx, event_id, window)
    report.reference.setText("MW-5099812")
    report.show()
    _save(report, out / "adverse-event.png", app)
    report.close()

    start = datetime.now().replace(second=0, microsecond=0) - timedelta(hours=6)
    record_excursion(
        ctx,
        lot_id,
        start,
        ended_at=start + timedelta(minutes=95),
        min_c=3.5,
        max_c=12.5,
        notes="Fridge door left open overnight (logger 3)",
    )
    excursions = ExcursionsDialog(ctx, lot_id, window)
    excursions.show()
    _save(excursions, out / "excursion.png", app)
    excursions.close()
    resolve = ResolveExcursionDialog(ctx, list_excursions(ctx, lot_id)[0], window)
    resolve.disposition.setCurrentIndex(resolve.disposition.findData("quarantine"))
    resolve.signature.reason_edit.setPlainText("Await the manufacturer's stability data")
    resolve.show()
    _save(resolve, out / "excursion-resolve.png", app)
    resolve.close()

    flags = window.show_page("Flags")
    codes = [f.code for f in flags.model.rows]  # type: ignore[attr-defined]
    if "UNDOC-DONOR" in codes:
        flags.table.selectRow(codes.index("UNDOC-DONOR"))  # type: ignore[attr-defined]
    _save(window, out / "flags-fix.png", app)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
