"""The simple list pages: products, suppliers, administrations, the audit trail, and a read-only flags list
for builds without the workflow Flags page. Each shows what a browse service returns; a filter box narrows
the rows shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import label
from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.queries.lot_record import administrations_list, as_text, products_list, suppliers_list
from ..ops import report_unexpected, runner_for
from ..wording import count_phrase

Column = tuple[str, str]  # (key in the row dict, header)
TOOLTIP_FROM = 12  # characters: longer cells may be cut, so they carry their text as a tooltip
MAX_COLUMN_WIDTH = 320
VOCAB_KEYS = {"product_type", "source", "presentation", "regulatory_status", "route", "severity"}


class ListPage(QWidget):
    """A read-only table of dict rows from `load(ctx, text)`, with a filter box. `activated(row)` on Enter."""

    activated = Signal(object)

    def __init__(
        self,
        ctx: ServiceContext,
        columns: list[Column],
        load: Callable[[ServiceContext, str], list[dict]],
        name: str,
        parent: QWidget | None = None,
        server_filter: bool = False,
    ) -> None:
        super().__init__(parent)
        self.ctx, self.columns, self.load, self.server_filter = ctx, columns, load, server_filter
        self.rows: list[dict[str, Any]] = []
        # Set by pages whose rows can be edited (_editing): the buttons and the editor last opened.
        self.new_button: QPushButton | None = None
        self.edit_button: QPushButton | None = None
        self.editor: QWidget | None = None
        self._asked = 0  # bumped per refresh: an older answer arriving late is dropped
        self.filter = QLineEdit(placeholderText="Filter", objectName=f"{name}Filter")
        self.filter.setClearButtonEnabled(True)
        self.model = QStandardItemModel(0, len(columns), self)
        self.model.setHorizontalHeaderLabels([header for _, header in columns])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.table = QTableView(objectName=f"{name}Table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.activated.connect(self._activated)
        self.count = QLabel(objectName=f"{name}Count")
        refresh = QPushButton("&Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(refresh)
        self.top = top  # pages that edit their rows add New… / Edit… here (add_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.count)
        if server_filter:
            self.filter.returnPressed.connect(self.refresh)
        else:
            self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        # The count says what is on screen: "3 of 22 rows" while a filter narrows the list (issue 20.3).
        for signal in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
        ):
            signal.connect(self._update_count)
        self.refresh()

    def refresh(self) -> None:
        """Ask the service again through the op runner (the audit trail or a long list takes a while)."""
        self._asked += 1
        asked, ctx, load = self._asked, self.ctx, self.load
        text = self.filter.text() if self.server_filter else ""
        runner_for(self).run(
            self,
            lambda _progress: load(ctx, text),
            lambda rows: self._show(asked, rows),
            lambda error: self._failed(asked, error),
            title="Loading the list",
        )

    def _failed(self, asked: int, error: BaseException) -> None:
        if asked != self._asked:
            return
        if not isinstance(error, RegistryError):
            report_unexpected(self, error)
            return
        self.count.setText(str(error))

    def _show(self, asked: int, rows: list[dict[str, Any]]) -> None:
        if asked != self._asked:
            return
        self.rows = rows
        self.model.removeRows(0, self.model.rowCount())
        for row in self.rows:
            items = []
            for key, _ in self.columns:
                value = row.get(key)
                item = QStandardItem(label(value) if key in VOCAB_KEYS and isinstance(value, str) else as_text(value))
                if len(item.text()) > TOOLTIP_FROM:
                    item.setToolTip(item.text())  # a cell cut at the column's width shows whole on hover
                if isinstance(value, int | float) and not isinstance(value, bool):
                    item.setData(value, Qt.ItemDataRole.EditRole)
                items.append(item)
            items[0].setData(row, Qt.ItemDataRole.UserRole + 1)
            self.model.appendRow(items)
        self.table.resizeColumnsToContents()
        for column in range(self.model.columnCount()):  # one long value must not push the others off screen
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), MAX_COLUMN_WIDTH))
        self._update_count()

    def _update_count(self, *_: object) -> None:
        shown, total = self.proxy.rowCount(), len(self.rows)
        total_text = count_phrase(total, "row")
        self.count.setText(total_text if shown == total else f"{shown:,} of {total_text}")

    def add_button(self, text: str, handler: Callable[[], object], name: str) -> QPushButton:
        button = QPushButton(text, objectName=name)
        button.clicked.connect(lambda _=False: handler())
        self.top.insertWidget(self.top.count() - 1, button)
        return button

    def selected_row(self) -> dict[str, Any] | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        source = self.proxy.mapToSource(index)
        return self.model.item(source.row(), 0).data(Qt.ItemDataRole.UserRole + 1)  # type: ignore[no-any-return]

    def show_filter(self, text: str) -> None:
        self.filter.setText(text)
        if self.server_filter:
            self.refresh()

    def _activated(self, index: Any) -> None:
        source = self.proxy.mapToSource(index)
        self.activated.emit(self.model.item(source.row(), 0).data(Qt.ItemDataRole.UserRole + 1))


def _editing(page: ListPage, what: str, open_editor: Callable[[ListPage, int | None], Any]) -> ListPage:
    """New… and Edit… over the list, Enter or double-click edits the row; both disabled, with the reason as
    tooltip, for a role that may not change these records (the services refuse them anyway). The page
    reloads when the editor saves."""
    from ..editors.common import deny, refusal

    def run(row_id: int | None) -> None:
        dialog = open_editor(page, row_id)
        dialog.saved.connect(lambda *_: page.refresh())
        page.editor = dialog  # kept referenced while open (and for tests)

    def edit() -> None:
        row = page.selected_row()
        if row is not None and edit_button.isEnabled():
            run(row["id"])

    page.new_button = page.add_button("&New…", lambda: run(None), f"{page.table.objectName()}New")
    page.edit_button = edit_button = page.add_button("&Edit…", edit, f"{page.table.objectName()}Edit")
    why = refusal(page.ctx, STAFF, f"add or amend {what}")
    deny(page.new_button, why)
    deny(edit_button, why)
    page.activated.connect(lambda row: run(row["id"]) if edit_button.isEnabled() else None)
    return page


def products_page(ctx: ServiceContext) -> ListPage:
    from ..editors.product_editor import open_product_editor

    page = ListPage(
        ctx,
        [
            ("name", "Product"),
            ("product_type", "Type"),
            ("manufacturer", "Manufacturer"),
            ("source", "Source / species"),
            ("presentation", "Presentation"),
            ("regulatory_status", "Regulatory status"),
            ("reference", "Reference"),
            ("lots", "Lots"),
        ],
        lambda c, _t: products_list(c),
        "products",
    )
    return _editing(page, "products", lambda parent, row_id: open_product_editor(parent, ctx, row_id))


def suppliers_page(ctx: ServiceContext) -> ListPage:
    from ..editors.parties import open_party_editor

    page = ListPage(ctx, [("name", "Supplier"), ("lots", "Lots")], lambda c, _t: suppliers_list(c), "suppliers")
    return _editing(page, "suppliers", lambda parent, row_id: open_party_editor(parent, ctx, "supplier", row_id))


def administrations_page(ctx: ServiceContext) -> ListPage:
    page = ListPage(
        ctx,
        [
            ("when", "When"),
            ("patient_ref", "Patient"),
            ("product", "Product"),
            ("lot_number", "Lot"),
            ("route", "Route"),
            ("quantity", "Quantity"),
            ("practitioner", "Practitioner"),
        ],
        lambda c, text: administrations_list(c, text),
        "administrations",
        server_filter=True,
    )
    page.filter.setPlaceholderText("Patient reference or lot number, then Enter (latest 500 shown)")
    return page


def audit_page(ctx: ServiceContext) -> ListPage:
    from .audit_page import AuditPage

    return AuditPage(ctx)


def flags_list_page(ctx: ServiceContext) -> ListPage:
    """Read-only flags, for builds without the workflow Flags page."""
    from ...services.queries.lot_record import open_flags_list

    return ListPage(
        ctx,
        [
            ("severity", "Severity"),
            ("code", "Code"),
            ("product_name", "Product"),
            ("lot_number", "Lot"),
            ("message", "Message"),
            ("waived", "Waived"),
        ],
        lambda c, _t: open_flags_list(c),
        "flags",
    )
