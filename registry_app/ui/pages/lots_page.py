"""The lots registry: search as you type, filters, SQL sorting on the header, flag and completeness badges.

Enter or a double-click opens the lot record. Every keystroke re-runs the query for the first page only
(services.queries.lots_page), so the table follows the typing at any registry size.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import EXPIRED, LotStatus, ProductType, label
from ...services import RegistryError, ServiceContext
from ...services.queries.lots_page import LotQuery, count_lots
from ..lot_model import COLUMN_WIDTHS, COLUMNS, LotTableModel, lots_phrase
from ..ops import runner_for

SEVERITY_CHOICES = (
    ("Any flags", None),
    ("Critical", "critical"),
    ("High or worse", "high"),
    ("Medium or worse", "medium"),
    ("Low or worse", "low"),
)


class LotsPage(QWidget):
    open_lot = Signal(int)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.search = QLineEdit(placeholderText="Search product, lot number, manufacturer or supplier  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("lotSearch")
        self.status_filter = QComboBox(objectName="statusFilter")
        self.status_filter.addItem("All statuses", None)
        for value in (*LotStatus, EXPIRED):
            self.status_filter.addItem(label(str(value)), str(value))
        self.type_filter = QComboBox(objectName="typeFilter")
        self.type_filter.addItem("All types", None)
        for value in ProductType:
            self.type_filter.addItem(label(str(value)), str(value))
        self.severity_filter = QComboBox(objectName="severityFilter")
        for text, value in SEVERITY_CHOICES:
            self.severity_filter.addItem(text, value)
        self.expiring = QCheckBox("Expiring in 30 days", objectName="expiringFilter")
        self.expired_stock = QCheckBox("Expired stock", objectName="expiredStockFilter")
        self.expired_stock.setToolTip("Lots with stock left after their expiry date (ALERT-EXPIRED-STOCK)")
        self.count_label = QLabel(objectName="lotCount")
        # The full count scans what matched: it runs once the typing pauses, off the GUI thread.
        self._count_timer = QTimer(self, singleShot=True, interval=300)
        self._count_timer.timeout.connect(self._count)

        self.model = LotTableModel(ctx, self)
        self.table = QTableView(objectName="lotsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, (key, _title, _sort) in enumerate(COLUMNS):
            header.resizeSection(column, COLUMN_WIDTHS[key])
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        self.table.setSortingEnabled(False)
        header.sectionClicked.connect(self._header_clicked)
        initial = next(i for i, c in enumerate(COLUMNS) if c[2] == self.model.query.sort)
        header.setSortIndicator(
            initial, Qt.SortOrder.DescendingOrder if self.model.query.descending else Qt.SortOrder.AscendingOrder
        )
        self.table.doubleClicked.connect(lambda index: self.open_lot.emit(self.model.lot_id(index.row())))
        QShortcut(
            QKeySequence(Qt.Key.Key_Return), self.table, self._open_current, context=Qt.ShortcutContext.WidgetShortcut
        )
        QShortcut(
            QKeySequence(Qt.Key.Key_Enter), self.table, self._open_current, context=Qt.ShortcutContext.WidgetShortcut
        )

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        for widget in (self.status_filter, self.type_filter, self.severity_filter, self.expiring, self.expired_stock):
            filters.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        layout.addWidget(self.count_label)

        self.search.textChanged.connect(self.apply)
        for combo in (self.status_filter, self.type_filter, self.severity_filter):
            combo.currentIndexChanged.connect(self.apply)
        self.expiring.toggled.connect(self.apply)
        self.expired_stock.toggled.connect(self.apply)
        self.apply()

    def current_query(self) -> LotQuery:
        status = self.status_filter.currentData()
        return replace(
            self.model.query,
            text=self.search.text(),
            statuses=(status,) if status else (),
            product_type=self.type_filter.currentData(),
            min_severity=self.severity_filter.currentData(),
            expiring=self.expiring.isChecked(),
            expired_stock=self.expired_stock.isChecked(),
        )

    def apply(self) -> None:
        """Re-run the query from the widgets: first page now, the total count off the GUI thread."""
        query = self.current_query()
        try:
            self.model.set_query(query)
        except RegistryError as error:
            self.count_label.setText(str(error))
            return
        shown = len(self.model.rows)
        self.count_label.setText(lots_phrase(shown, self.model.canFetchMore()))
        if runner_for(self).synchronous:
            self._count()
        else:
            self._count_timer.start()

    def _count(self) -> None:
        query = self.model.query
        runner_for(self).run(
            self,
            lambda _progress: count_lots(self.ctx, query),
            lambda total: self._show_count(query, total),
            lambda _error: None,
            title="Counting lots",
        )

    def _show_count(self, query: LotQuery, total: int) -> None:
        if query == self.model.query:
            self.count_label.setText(lots_phrase(total))

    def show_query(self, query: LotQuery) -> None:
        """Set the widgets to a query (a dashboard figure clicked through) and show it."""
        widgets = (
            self.search,
            self.status_filter,
            self.type_filter,
            self.severity_filter,
            self.expiring,
            self.expired_stock,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.search.setText(query.text)
        self._select(self.status_filter, query.statuses[0] if query.statuses else None)
        self._select(self.type_filter, query.product_type)
        self._select(self.severity_filter, query.min_severity)
        self.expiring.setChecked(query.expiring)
        self.expired_stock.setChecked(query.expired_stock)
        for widget in widgets:
            widget.blockSignals(False)
        self.model.query = replace(query, sort=self.model.query.sort, descending=self.model.query.descending)
        self.apply()

    @staticmethod
    def _select(combo: QComboBox, value: object) -> None:
        position = combo.findData(value)
        combo.setCurrentIndex(max(position, 0))

    def _header_clicked(self, section: int) -> None:
        if COLUMNS[section][2] is None:
            return
        query = self.model.query
        descending = not query.descending if query.sort == COLUMNS[section][2] else False
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        self.model.sort(section, order)
        self.table.horizontalHeader().setSortIndicator(section, order)

    def _open_current(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.open_lot.emit(self.model.lot_id(index.row()))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def refresh(self) -> None:
        self.apply()

    def save_state(self, settings: QSettings) -> None:
        settings.setValue("lots/header", self.table.horizontalHeader().saveState())

    def restore_state(self, settings: QSettings) -> None:
        state = settings.value("lots/header")
        if state is not None:
            self.table.horizontalHeader().restoreState(state)
