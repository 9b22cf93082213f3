"""The lots table's model: an ordered list of lot ids with a row cache, filled a page at a time as the view
scrolls (Qt's canFetchMore/fetchMore), sorted and filtered in SQL by re-running the query.

A million lots never come into memory: the first page of any search is one indexed query (services.queries.lots_page),
and each further page continues after the last row's sort key (keyset), so scrolling costs the same per page.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QWidget

from ..domain.exact import quantity_text
from ..domain.vocab import label
from ..services import ServiceContext
from ..services.queries.lots_page import PAGE_SIZE, Badges, LotQuery, LotsPageRow, lot_badges, lot_page, lot_rows
from .ops import runner_for
from .style import severity_colour, severity_text_colour, state_colour
from .wording import count_phrase

# (key, header, sort key in browse.SORT_KEYS or None when the column cannot sort in SQL)
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("severity", "Flags", None),
    ("product", "Product", "product"),
    ("lot_number", "Lot number", "lot_number"),
    ("product_type", "Type", "type"),
    ("manufacturer", "Manufacturer", "manufacturer"),
    ("supplier", "Supplier", "supplier"),
    ("status", "Status", "status"),
    ("expiry_date", "Expiry", "expiry"),
    ("received_date", "Received", "received"),
    ("on_hand", "On hand", "on_hand"),
    ("completeness", "Complete", None),
)
# Starting widths in pixels, wide enough for the usual product names and lot numbers; the user's own widths
# are kept in QSettings from then on.
COLUMN_WIDTHS = {
    "severity": 80,
    "product": 180,
    "lot_number": 120,
    "product_type": 100,
    "manufacturer": 125,
    "supplier": 125,
    "status": 80,
    "expiry_date": 85,
    "received_date": 85,
    "on_hand": 80,
    "completeness": 70,
}
LOT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
BADGE_DELAY_MS = 300  # a pause in typing (people type a key every 150-250 ms)


@cache
def _severity_brushes() -> dict[str, tuple[QBrush, QBrush]]:
    """(fill, text) per severity, built once: data() runs for every visible cell at every repaint."""
    from ..domain.palette import palette

    return {name: (QBrush(severity_colour(name)), QBrush(severity_text_colour(name))) for name in palette().severity}


TEXT_KEYS = frozenset({"product", "lot_number", "manufacturer", "supplier"})  # cells that may be cut


def lots_phrase(count: int, more: bool = False) -> str:
    """ "1 lot", "2,500 lots", "100+ lots" (more: the list goes on past what is counted)."""
    return f"{count:,}{'+' if more else ''} {'lot' if count == 1 and not more else 'lots'}"


class LotTableModel(QAbstractTableModel):
    def __init__(self, ctx: ServiceContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = LotQuery()
        self.rows: list[LotsPageRow] = []  # the ordered rows loaded so far: ids plus their cached cells
        self._cursor: Any = None
        self._has_more = False
        self.page_size = PAGE_SIZE
        self._generation = 0  # bumped per query, so badges computed for an older list are dropped
        # While the user types, badges wait until the typing pauses: one flag evaluation, not one per key.
        self._badge_timer = QTimer(self, singleShot=True, interval=BADGE_DELAY_MS)
        self._badge_timer.timeout.connect(lambda: self._load_badges([row.id for row in self.rows[: self.page_size]]))

    # --- the query --------------------------------------------------------------------------------------------
    def set_query(self, query: LotQuery) -> None:
        """Show what `query` selects, from its first page."""
        page = lot_page(self.ctx, query, limit=self.page_size, badges=False)
        self.beginResetModel()
        self.query = query
        self.rows = list(page.rows)
        self._cursor, self._has_more = page.cursor, page.has_more
        self._generation += 1
        self.endResetModel()
        if runner_for(self._owner()).synchronous:
            self._load_badges([row.id for row in self.rows])
        else:
            self._badge_timer.start()

    def _load_badges(self, ids: list[int]) -> None:
        """Flag severity and completeness for these rows, computed off the GUI thread (the flag engine)."""
        if not ids:
            return
        generation = self._generation
        owner = self._owner()
        # A failed badge read leaves the badges blank; the list itself is already on screen.
        runner_for(owner).run(
            owner,
            lambda _progress: lot_badges(self.ctx, ids),
            lambda badges: self._show_badges(generation, badges),
            lambda _error: None,
            title="Flags",
        )

    def _owner(self) -> QWidget | None:
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else None

    def _show_badges(self, generation: int, badges: dict[int, Badges]) -> None:
        if generation != self._generation:
            return
        changed = []
        for position, row in enumerate(self.rows):
            badge = badges.get(row.id)
            if badge is not None:
                self.rows[position] = replace(
                    row,
                    worst_severity=badge.worst_severity,
                    open_flags=badge.open_flags,
                    completeness=badge.completeness,
                )
                changed.append(position)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))

    def refresh(self) -> None:
        self.set_query(self.query)

    def refresh_lot(self, lot_id: int) -> None:
        """Re-read one lot's row (after an edit) without reloading the list."""
        for position, row in enumerate(self.rows):
            if row.id == lot_id:
                fresh = lot_rows(self.ctx, [lot_id])
                if fresh:
                    self.rows[position] = fresh[0]
                    self.dataChanged.emit(self.index(position, 0), self.index(position, len(COLUMNS) - 1))
                return

    def lot_id(self, row: int) -> int:
        return self.rows[row].id

    # --- lazy loading -----------------------------------------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self._has_more

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid() or not self._has_more:
            return
        page = lot_page(self.ctx, self.query, after=self._cursor, limit=self.page_size, badges=False)
        if page.rows:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self.rows.extend(page.rows)
            self.endInsertRows()
        self._cursor, self._has_more = page.cursor, page.has_more
        self._load_badges([row.id for row in page.rows])

    # --- the table --------------------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return "Sorted in the database" if COLUMNS[section][2] else "Not sortable: computed per row shown"
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, key)
        if role == LOT_ID_ROLE:
            return row.id
        if key == "severity" and row.worst_severity:
            if role == Qt.ItemDataRole.BackgroundRole:
                return _severity_brushes()[row.worst_severity][0]
            if role == Qt.ItemDataRole.ForegroundRole:
                return _severity_brushes()[row.worst_severity][1]
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{count_phrase(row.open_flags, 'open flag')}; the worst is {row.worst_severity}"
        if role == Qt.ItemDataRole.ToolTipRole and key in TEXT_KEYS:
            # A long product, manufacturer or supplier name is cut at the column's width: whole on hover.
            return self._text(row, key) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("on_hand", "completeness"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and key == "status" and row.status in ("expired", "recalled"):
            return QBrush(state_colour("problem"))
        return None

    @staticmethod
    def _text(row: LotsPageRow, key: str) -> str:
        if key == "severity":
            return f"{label(row.worst_severity)} · {row.open_flags}" if row.worst_severity else ""
        if key == "completeness":
            return "" if row.completeness is None else f"{row.completeness} %"
        if key in ("product_type", "status"):
            return label(getattr(row, key))
        if key == "on_hand":
            return f"{quantity_text(row.on_hand)} {row.unit or ''}".strip()
        value = getattr(row, key)
        return "" if value is None else str(value)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        sort_key = COLUMNS[column][2]
        if sort_key is None:
            return
        self.set_query(self.query.with_sort(sort_key, order == Qt.SortOrder.DescendingOrder))
