"""The desktop driven through its real widgets (offscreen): sign in, search, filter, sort, open a lot, edit and
save, a refused edit keeps the input, and a dashboard figure clicks through to the filtered list."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QTableWidget

from registry_app.db import open_database
from registry_app.services import ServiceContext
from registry_app.services.demo.generate import create_demo_users
from registry_app.ui.lot_model import COLUMNS, lots_phrase
from registry_app.ui.main_window import MainWindow
from registry_app.ui.ops import OpRunner
from registry_app.ui.pages.dashboard_page import DashboardPage
from registry_app.ui.pages.lots_page import LotsPage
from registry_app.ui.sign_in import SignInDialog

from ..conftest import PASSWORDS
from .ui_data import seed


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, pharmacist: ServiceContext, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    seed(pharmacist.db, extra_lots=30)
    main = MainWindow(pharmacist, settings)
    qtbot.addWidget(main)
    main.show()
    return main


def _lots(window: MainWindow) -> LotsPage:
    page = window.show_page("Lots")
    assert isinstance(page, LotsPage)
    return page


def _numbers(page: LotsPage) -> list[str]:
    return [row.lot_number for row in page.model.rows]


def test_sign_in_dialog(qtbot, registry: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    dialog = SignInDialog(registry)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username, "pharmacist")
    qtbot.keyClicks(dialog.password, "wrong-password")
    dialog.attempt()
    assert "wrong" in dialog.error.text() and registry.actor is None and dialog.result() == 0
    qtbot.keyClicks(dialog.password, PASSWORDS["pharmacist"])
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert registry.actor is not None and registry.actor.username == "pharmacist"
    assert dialog.result() == dialog.DialogCode.Accepted


def test_sign_in_on_a_demo_registry_names_its_demo_accounts(
    qtbot,
    registry: ServiceContext,  # type: ignore[no-untyped-def]
    empty_database_url: str,
) -> None:
    assert SignInDialog(registry).findChild(QLabel, "demoAccounts") is None
    database = open_database(empty_database_url)
    try:
        create_demo_users(ServiceContext(database))
        dialog = SignInDialog(ServiceContext(database))
        qtbot.addWidget(dialog)
        hint = dialog.findChild(QLabel, "demoAccounts")
        assert hint is not None and "director  /  director-demo" in hint.text()
        qtbot.keyClicks(dialog.username, "director")
        qtbot.keyClicks(dialog.password, "director-demo")
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
        assert dialog.result() == dialog.DialogCode.Accepted
    finally:
        database.dispose()


def test_status_bar_names_user_role_site_database(window: MainWindow) -> None:
    texts = {label.objectName(): label.text() for label in window.statusBar().findChildren(QLabel)}
    assert "pharmacist" in texts["statusUser"] and texts["statusRole"] == "Role: Pharmacist"
    assert "US" in texts["statusSite"] and window.ctx.db.display_name in texts["statusDatabase"]


def test_objects_alive_at_start_are_kept_out_of_full_collections(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    # A full collection over every startup object cost a search keystroke ~90 ms on a million-lot registry.
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=2000)


def test_columns_start_wide_enough_for_product_names_and_lot_numbers(window: MainWindow) -> None:
    header = _lots(window).table.horizontalHeader()
    keys = [key for key, _title, _sort in COLUMNS]
    assert header.sectionSize(keys.index("product")) >= 180 and header.sectionSize(keys.index("lot_number")) >= 120


def test_lot_counts_read_as_english() -> None:
    assert [lots_phrase(0), lots_phrase(1), lots_phrase(2500), lots_phrase(100, more=True)] == [
        "0 lots",
        "1 lot",
        "2,500 lots",
        "100+ lots",
    ]


def test_search_as_you_type(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    assert len(page.model.rows) == 34
    qtbot.keyClicks(page.search, "exo")
    assert sorted(_numbers(page)) == ["EXO23-0007", "EXO24-0100"]
    qtbot.keyClicks(page.search, "24")
    assert _numbers(page) == ["EXO24-0100"]
    page.search.clear()
    qtbot.keyClicks(page.search, "grey import")
    assert _numbers(page) == ["EXO24-0100"]
    assert page.count_label.text() == "1 lot"


def test_badges_fill_in_from_a_background_thread(
    qtbot,
    window: MainWindow,  # type: ignore[no-untyped-def]
    threaded_ops: OpRunner,
) -> None:
    from registry_app.services.queries.lots_page import lot_rows

    window.op_runner = threaded_ops
    page = _lots(window)
    page.search.setText("EXO24-0100")
    assert page.model.rows[0].worst_severity is None, "the row shows before its badges are computed"
    expected = lot_rows(window.ctx, [page.model.rows[0].id])[0]
    assert expected.worst_severity is not None
    qtbot.waitUntil(lambda: page.model.rows[0].worst_severity is not None, timeout=10_000)
    row = page.model.rows[0]
    assert (row.worst_severity, row.open_flags, row.completeness) == (
        expected.worst_severity,
        expected.open_flags,
        expected.completeness,
    )
    cell = page.model.index(0, 0)
    assert page.model.data(cell) == f"{expected.worst_severity.capitalize()} · {expected.open_flags}"
    qtbot.waitUntil(lambda: page.count_label.text() == "1 lot", timeout=10_000)


def test_filters(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    page.status_filter.setCurrentIndex(page.status_filter.findData("quarantine"))
    assert _numbers(page) == ["EXO24-0100"]
    page.status_filter.setCurrentIndex(page.status_filter.findData("expired"))
    assert _numbers(page) == ["EXO23-0007"]
    page.status_filter.setCurrentIndex(0)
    page.type_filter.setCurrentIndex(page.type_filter.findData("exosome"))
    assert sorted(_numbers(page)) == ["EXO23-0007", "EXO24-0100"]
    page.type_filter.setCurrentIndex(0)
    page.expiring.click()
    assert _numbers(page) == ["PLN24-0002"]


def test_sort_by_clicking_headers(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    header = page.table.horizontalHeader()
    column = next(i for i, c in enumerate(COLUMNS) if c[0] == "lot_number")
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=header.rect().topLeft() + _section_centre(header, column)
    )
    ascending = _numbers(page)
    assert ascending == sorted(ascending) and page.model.query.sort == "lot_number"
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=header.rect().topLeft() + _section_centre(header, column)
    )
    assert _numbers(page) == sorted(ascending, reverse=True)
    expiry = next(i for i, c in enumerate(COLUMNS) if c[0] == "expiry_date")
    page.model.sort(expiry, Qt.SortOrder.AscendingOrder)
    dates = [row.expiry_date for row in page.model.rows]
    assert dates == sorted(dates)


def _section_centre(header, column):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint

    return QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2, header.height() // 2)


def test_lazy_model_fetches_pages_as_the_view_scrolls(window: MainWindow) -> None:
    page = _lots(window)
    page.model.page_size = 10
    page.apply()
    assert len(page.model.rows) == 10 and page.model.canFetchMore()
    page.table.scrollToBottom()
    while page.model.canFetchMore():
        page.model.fetchMore()
    assert len(page.model.rows) == 34 and len({r.id for r in page.model.rows}) == 34


def test_open_edit_and_save_a_lot(qtbot, window: MainWindow, pharmacist: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    qtbot.keyClicks(page.search, "PLN24-0001")
    page.table.setFocus()
    page.table.setCurrentIndex(page.model.index(0, 1))
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    record = window.record
    assert record is not None and window.stack.currentWidget() is window.record_holder
    assert "PLN24-0001" in record.title.text()
    tab_names = [record.tabs.tabText(i).replace("&", "") for i in range(record.tabs.count())]
    assert tab_names[:6] == ["Overview", "Source", "Characterization", "Regulatory", "Documents", "Administrations"]
    record.editors["coa_ref"].setText("")
    qtbot.keyClicks(record.editors["coa_ref"], "COA-PLN-1-REV2")
    qtbot.keyClicks(record.reason, "certificate reissued by the manufacturer")
    qtbot.mouseClick(record.save_button, Qt.MouseButton.LeftButton)
    assert record.detail is not None and record.detail.fields["coa_ref"] == "COA-PLN-1-REV2"
    assert record.detail.history[0]["action"] == "amend lot"
    history = record.tabs.widget(record.tabs.count() - 1)
    assert "amend lot" in history.item(0, 3).text()


def test_refused_edit_keeps_what_was_typed(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    record = window.open_lot(page.model.rows[0].id)
    original = record.detail.fields["lot_number"]  # type: ignore[union-attr]
    record.editors["expiry_date"].setText("")
    qtbot.keyClicks(record.editors["expiry_date"], "not a date")
    record.editors["quantity_received"].setText("")
    qtbot.keyClicks(record.editors["quantity_received"], "-3")
    qtbot.mouseClick(record.save_button, Qt.MouseButton.LeftButton)
    assert record.editors["expiry_date"].text() == "not a date"
    assert record.editors["quantity_received"].text() == "-3"
    assert record.errors["expiry_date"].isVisible() and record.errors["expiry_date"].text()
    assert record.errors["quantity_received"].isVisible()
    assert record.reason_error.isVisible(), "the missing reason is shown beside its field too"
    assert record.detail.fields["lot_number"] == original  # type: ignore[union-attr]


def test_characterization_out_of_spec_is_highlighted(window: MainWindow, pharmacist: ServiceContext) -> None:
    page = _lots(window)
    page.search.setText("EXO24-0100")
    record = window.open_lot(page.model.rows[0].id)
    # The tab holds the results table and the buttons that open the characterization editors.
    table = record.tabs.widget(2).findChild(QTableWidget, "characterizationTable")
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    endotoxin = rows["Endotoxin"]
    assert table.item(endotoxin, 5).text() == "OUT OF SPEC"
    assert table.item(endotoxin, 0).background().color().name() == "#ffcdd2"
    assert table.item(rows["Size mode"], 5).text() == "in spec"


def test_dashboard_figure_clicks_through_to_the_filtered_list(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    dashboard = window.show_page("Dashboard")
    assert isinstance(dashboard, DashboardPage) and dashboard.figures is not None
    assert "1" in dashboard.quarantine_button.text()
    qtbot.mouseClick(dashboard.quarantine_button, Qt.MouseButton.LeftButton)
    page = window.stack.currentWidget()
    assert isinstance(page, LotsPage) and _numbers(page) == ["EXO24-0100"]
    assert page.status_filter.currentData() == "quarantine"
    window.show_page("Dashboard")
    qtbot.mouseClick(dashboard.expiring_button, Qt.MouseButton.LeftButton)
    assert _numbers(page) == ["PLN24-0002"] and page.expiring.isChecked()


def test_dashboard_shows_expired_stock_and_clicks_through(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """ALERT-EXPIRED-STOCK on the dashboard (issue 20, item 8): its own card beside Expiring and Quarantine."""
    dashboard = window.show_page("Dashboard")
    assert isinstance(dashboard, DashboardPage) and dashboard.figures is not None
    assert dashboard.figures.expired_stock == 1
    assert dashboard.expired_button.text().startswith("1 lot with expired stock")
    qtbot.mouseClick(dashboard.expired_button, Qt.MouseButton.LeftButton)
    page = window.stack.currentWidget()
    assert isinstance(page, LotsPage) and _numbers(page) == ["EXO23-0007"] and page.expired_stock.isChecked()
    assert not page.expiring.isChecked()


def test_window_state_is_kept(qtbot, pharmacist: ServiceContext, settings: QSettings) -> None:  # type: ignore[no-untyped-def]
    seed(pharmacist.db)
    first = MainWindow(pharmacist, settings)
    qtbot.addWidget(first)
    first.resize(700, 520)
    first.show_page("Products")
    first.close()
    second = MainWindow(pharmacist, settings)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 520)
    assert second.nav.currentItem().text() == "Products"


def test_every_page_opens_from_the_navigation(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from registry_app.ui.main_window import PAGES

    for row, spec in enumerate(PAGES):
        window.nav.setCurrentRow(row)
        assert window.stack.currentWidget() is window.pages[spec.name], spec.name
    assert type(window.pages["Flags"]).__name__ == "FlagsPage"
    products = window.pages["Products"]
    assert products.model.rowCount() == 2  # type: ignore[attr-defined]


def test_dashboard_code_and_status_click_through(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    dashboard = window.show_page("Dashboard")
    assert isinstance(dashboard, DashboardPage) and dashboard.figures is not None
    dashboard.open_products.emit("hctp_361_claim")
    products = window.stack.currentWidget()
    assert products is window.pages["Products"]
    assert products.proxy.rowCount() == 1  # type: ignore[attr-defined]
    if dashboard.codes.count():
        item = dashboard.codes.item(0)
        dashboard.codes.itemClicked.emit(item)
        assert window.stack.currentWidget() is window.pages["Flags"]
    dashboard.click_severity("medium")
    lots = window.stack.currentWidget()
    assert isinstance(lots, LotsPage) and lots.severity_filter.currentData() == "medium"
    assert all(r.worst_severity in ("critical", "high", "medium") for r in lots.model.rows)


def test_first_run_creates_a_registry_with_its_admin(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from registry_app.services.auth import has_users
    from registry_app.ui.first_run import FirstRunDialog

    dialog = FirstRunDialog(tmp_path / "new" / "registry.sqlite3")
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.admin_password, "short")
    assert dialog.create_new() is False and "12" in dialog.error.text()
    assert dialog.ctx is None
    qtbot.keyClicks(dialog.admin_password, "-but-long-now")
    assert dialog.create_new() is True
    assert dialog.ctx is not None and dialog.signed_in and dialog.ctx.actor is not None
    assert dialog.ctx.actor.role == "admin" and has_users(dialog.ctx)
    dialog.ctx.db.dispose()
    other = FirstRunDialog(tmp_path / "unused.sqlite3")
    qtbot.addWidget(other)
    assert other.open_url("sqlite:///" + str(tmp_path / "new" / "registry.sqlite3")) is True
    assert other.ctx is not None and has_users(other.ctx) and other.ctx.actor is None
    other.ctx.db.dispose()


def test_first_run_creates_a_demo_registry(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from registry_app.services.demo.generate import DEMO_USERS
    from registry_app.services.queries.lots_page import LotQuery, count_lots
    from registry_app.ui.first_run import FirstRunDialog

    dialog = FirstRunDialog(tmp_path / "demo.sqlite3")
    qtbot.addWidget(dialog)
    dialog.demo_lots.setValue(50)
    dialog.create_demo()
    assert dialog.ctx is not None and dialog.ctx.actor is None and not dialog.signed_in, dialog.error.text()
    name, _role, password, _full = DEMO_USERS[0]
    sign_in_dialog = SignInDialog(dialog.ctx, name)
    qtbot.addWidget(sign_in_dialog)
    qtbot.keyClicks(sign_in_dialog.password, password)
    sign_in_dialog.attempt()
    assert dialog.ctx.actor is not None and count_lots(dialog.ctx, LotQuery()) >= 50
    dialog.ctx.db.dispose()


def test_attach_a_document_to_the_lot(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = _lots(window)
    record = window.open_lot(page.model.rows[0].id)
    before = record.documents_table.rowCount()
    certificate = tmp_path / "coa.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate of analysis")
    record.tabs.setCurrentIndex(4)
    record.attach(str(certificate), "coa")
    assert record.documents_table.rowCount() == before + 1
    assert record.documents_table.item(0, 1).text() == "coa.pdf"
    assert record.tabs.currentIndex() == 4, "the record stays on the tab the user was on"


def test_long_cells_carry_their_whole_text_as_a_tooltip(window: MainWindow) -> None:
    """Issue 20.7: a product name cut by its column reads whole on hover (lots table and list pages)."""
    from registry_app.ui.lot_model import COLUMNS

    lots = window.show_page("Lots")
    model = lots.model  # type: ignore[attr-defined]
    product = next(i for i, column in enumerate(COLUMNS) if column[0] == "product")
    row = next(r for r in range(model.rowCount()) if model.rows[r].product == "ExoSkin UC-MSC Vial")
    assert model.index(row, product).data(Qt.ItemDataRole.ToolTipRole) == "ExoSkin UC-MSC Vial"
    products = window.show_page("Products")
    names = [products.proxy.index(r, 0) for r in range(products.proxy.rowCount())]  # type: ignore[attr-defined]
    exo = next(index for index in names if index.data() == "ExoSkin UC-MSC Vial")
    assert exo.data(Qt.ItemDataRole.ToolTipRole) == "ExoSkin UC-MSC Vial"
