"""The Flags page: every current finding, filtered by severity, code, subject and text; waive one (medical
director, reason and signature); jump to its subject (Enter or double-click).

Every filter runs in SQL over the persisted flags (services.queries.flags_page): the first page comes at once
however many flags there are, and the model fetches the next page by key as the table scrolls (Qt's
canFetchMore/fetchMore), as the lots page does. No proxy model: filtering happens before the rows arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import SEVERITY_RANK, label
from ...services import RegistryError, ServiceContext
from ...services.catalogue import COMPLIANCE_CODES, RULES, Flag
from ...services.clock import SiteClock, machine_zone
from ...services.context import DIRECTOR
from ...services.queries.flags_page import FlagFilters, FlagPage, count_flags_matching, flags_page
from ..dialogs.forms import ErrorBanner, has_role
from ..dialogs.waive import WaiveDialog
from ..editors.fix_actions import FIXES, FixTarget, fix_flag, fix_refusal
from ..ops import Op, runner_for
from ..style import severity_colour
from ..wording import count_phrase

COLUMNS = ("Severity", "Code", "Subject", "Product", "Lot", "Message", "Waived")
SUBJECT_TYPES = ("product", "lot", "administration", "adverse_event")
_ROOT = QModelIndex()


class FlagModel(QAbstractTableModel):
    def __init__(self, ctx: ServiceContext | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.rows: list[Flag] = []  # not `flags`: that name is Qt's item-flags method
        self.listing: FlagPage | None = None  # subject names and the site's clock, from the service

    def set_flags(self, flags: list[Flag], listing: FlagPage | None = None) -> None:
        self.beginResetModel()
        self.rows = flags
        if listing is not None:
            self.listing = listing
        self.endResetModel()

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> bool:
        return not parent.isValid() and self.listing is not None and self.listing.next_key is not None

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> None:
        """The next page after the last row's key: one indexed query (on the GUI thread, as the lots page's)."""
        listing = self.listing
        if parent.isValid() or self.ctx is None or listing is None or listing.next_key is None:
            return
        page = flags_page(self.ctx, listing.filters, after=listing.next_key)
        subjects = {**listing.subjects, **page.subjects}
        self.listing = FlagPage(
            listing.flags, subjects, listing.clock, page.next_key, listing.total, listing.waived, listing.filters
        )
        if page.flags:
            first = len(self.rows)
            self.beginInsertRows(_ROOT, first, first + len(page.flags) - 1)
            self.rows.extend(page.flags)
            self.endInsertRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        flag = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(flag, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (2, 3, 5):
            return self._text(flag, column)  # cut at the column's width: whole on hover
        if role == Qt.ItemDataRole.ToolTipRole and column == 6 and flag.waiver:
            return _waiver_text(flag.waiver, self.listing.clock if self.listing else None)
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return QBrush(severity_colour(flag.severity))
        return None

    def _text(self, flag: Flag, column: int) -> str:
        if column == 0:
            return flag.severity
        if column == 1:
            return flag.code
        if column == 2:
            name = self.listing.subjects.get((flag.subject_type, flag.subject_id)) if self.listing else None
            return f"{label(flag.subject_type)} {name}" if name else f"{label(flag.subject_type)} {flag.subject_id}"
        if column == 3:
            return flag.product_name or ""
        if column == 4:
            return flag.lot_number or ""
        if column == 5:
            return flag.message
        return "waived" if flag.waived else ""


class FlagsPage(QWidget):
    """`subject_requested(subject_type, subject_id, lot_id, product_id)` asks the window to show the record
    (0 when there is no lot or product)."""

    title = "Flags"
    subject_requested = Signal(str, int, int, int)
    lot_requested = Signal(int)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.waive_dialog: WaiveDialog | None = None
        self._task: Op | None = None
        self._stale = False
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)

        filters = QHBoxLayout()
        self.severity_combo = QComboBox()
        self.severity_combo.addItem("Any severity", None)
        for severity in sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True)[:-1]:
            self.severity_combo.addItem(f"{label(severity)} and above", severity)
        self.code_combo = QComboBox()
        # Rule titles are long: the closed combo keeps to a modest width (the list shows them whole), so the
        # filters never squeeze the navigation or the search field.
        self.code_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.code_combo.setMinimumContentsLength(26)
        self.code_combo.addItem("Every rule", None)
        for code in COMPLIANCE_CODES:
            self.code_combo.addItem(f"{code} — {RULES[code].title}", code)
        self.subject_combo = QComboBox()
        self.subject_combo.addItem("Every subject", None)
        for subject in SUBJECT_TYPES:
            self.subject_combo.addItem(label(subject), subject)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Product, lot or words of the message (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(180)
        self.waived_check = QCheckBox("Show &waived")
        self.waived_check.setChecked(True)
        for text, widget in (
            ("&Severity", self.severity_combo),
            ("&Rule", self.code_combo),
            ("Su&bject", self.subject_combo),
            ("Searc&h", self.search_edit),
        ):
            title = QLabel(text)
            title.setBuddy(widget)
            filters.addWidget(title)
            filters.addWidget(widget, 2 if widget is self.search_edit else 0)
        filters.addWidget(self.waived_check)
        layout.addLayout(filters)

        self.model = FlagModel(ctx)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Flags")
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _index: self.open_subject())
        layout.addWidget(self.table, 1)
        # The selected flag in full: its rule, the whole message (cut short in the table) and any waiver.
        self.detail = QLabel(objectName="flagDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail)

        actions = QHBoxLayout()
        self.count_label = QLabel()
        actions.addWidget(self.count_label, 1)
        self.open_button = QPushButton("&Go to subject")
        self.open_button.clicked.connect(self.open_subject)
        # "Fix…" opens the editor that resolves the selected finding (ui/editors/fix_actions.py).
        self.fix_button = QPushButton("Fi&x…", objectName="fixFlag")
        self.fix_button.clicked.connect(self.fix_selected)
        self.fix_dialog: Any = None
        self.waive_button = QPushButton("Wa&ive…")
        self.waive_button.clicked.connect(self.waive_selected)
        self.waive_button.setVisible(has_role(ctx, DIRECTOR))  # nobody else sees an action they cannot take
        self.refresh_button = QPushButton("Re&fresh")
        self.refresh_button.clicked.connect(self.refresh)
        for button in (self.open_button, self.fix_button, self.waive_button, self.refresh_button):
            actions.addWidget(button)
        layout.addLayout(actions)

        QShortcut(
            QKeySequence(Qt.Key.Key_Return), self.table, self.open_subject, context=Qt.ShortcutContext.WidgetShortcut
        )
        QShortcut(
            QKeySequence(Qt.Key.Key_Enter), self.table, self.open_subject, context=Qt.ShortcutContext.WidgetShortcut
        )
        QShortcut(
            QKeySequence.StandardKey.Find,
            self,
            self.search_edit.setFocus,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(200)
        self._typing.timeout.connect(self._apply_filters)
        self.search_edit.textChanged.connect(lambda _text: self._typing.start())
        # Every filter asks the persisted flags again: a first page is one index walk however many flags there are.
        for combo in (self.severity_combo, self.code_combo, self.subject_combo):
            combo.currentIndexChanged.connect(self._apply_filters)
        self.waived_check.toggled.connect(self._apply_filters)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.refresh()

    # ------------------------------------------------------------------------------------------- filters

    def show_code(self, code: str) -> None:
        """Show only one rule's flags (the dashboard's jump)."""
        index = self.code_combo.findData(code)
        self.code_combo.setCurrentIndex(max(index, 0))

    @property
    def loading(self) -> bool:
        return self._task is not None and self._task.running

    def _filters(self) -> FlagFilters:
        code = self.code_combo.currentData()
        return FlagFilters(
            min_severity=self.severity_combo.currentData(),
            codes=(code,) if code else None,
            subject_type=self.subject_combo.currentData(),
            include_waived=self.waived_check.isChecked(),
            words=tuple(self.search_edit.text().casefold().split()),
        )

    def refresh(self, *_: object) -> None:
        """Ask for the first page under the current filters, off the GUI thread; a change made while a query
        runs is asked for once it ends."""
        if self.loading:
            self._stale = True
            return
        self._stale = False
        ctx, filters = self.ctx, self._filters()
        self.count_label.setText("Reading the flags…")
        self._task = runner_for(self).run(
            self,
            lambda _progress: flags_page(ctx, filters, counted=False),
            self._loaded,
            self._load_failed,
            title="Flags",
        )

    def _loaded(self, page: FlagPage) -> None:
        if self._stale:
            self.refresh()
            return
        self.banner.clear_message()
        self._show(page)

    def _load_failed(self, error: BaseException) -> None:
        self.banner.show_error(error.message if isinstance(error, RegistryError) else f"flags unavailable: {error}")
        self.model.set_flags([])
        self._selection_changed()
        if self._stale:
            self.refresh()

    def _apply_filters(self, *_: object) -> None:
        self.refresh()

    def _show(self, page: FlagPage) -> None:
        self.model.set_flags(list(page.flags), page)
        if page.flags:
            self.table.selectRow(0)
        self._selection_changed()
        # The rows first; their number next (a scan of the counts' index: longer than a page on a big registry).
        ctx, filters = self.ctx, page.filters
        if not page.flags:
            self._counted(filters, 0, 0)
            return
        self.count_label.setText("Counting the flags…")
        runner_for(self).run(
            self,
            lambda _progress: count_flags_matching(ctx, filters),
            lambda counts: self._counted(filters, *counts),
            lambda _error: self.count_label.setText(""),
            title="Flags",
        )

    def _counted(self, filters: FlagFilters, total: int, waived: int) -> None:
        if self.model.listing is None or self.model.listing.filters != filters:
            return  # the filters changed since: their own count is coming
        filtered = bool(filters.words or filters.subject_type or filters.min_severity or filters.codes)
        self.count_label.setText(
            f"{count_phrase(total, 'flag')} shown, {waived} waived"
            if total
            else "No flags match."
            if filtered
            else "No flags: every record is documented."
        )

    # ------------------------------------------------------------------------------------------- actions

    def selected_flag(self) -> Flag | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _selection_changed(self, *_: object) -> None:
        flag = self.selected_flag()
        self.open_button.setEnabled(flag is not None)
        self.waive_button.setEnabled(flag is not None and not flag.waived)
        refusal = fix_refusal(self.ctx, flag.code) if flag is not None else "Select a finding to fix."
        self.fix_button.setEnabled(refusal is None)
        self.fix_button.setToolTip(refusal or (FIXES[flag.code].what if flag is not None else ""))
        clock = self.model.listing.clock if self.model.listing else None
        self.detail.setText(_detail_text(flag, clock) if flag is not None else "")

    def open_subject(self) -> None:
        flag = self.selected_flag()
        if flag is None:
            return
        self.subject_requested.emit(flag.subject_type, flag.subject_id, flag.lot_id or 0, flag.product_id or 0)
        if flag.lot_id:
            self.lot_requested.emit(flag.lot_id)

    def fix_selected(self) -> Any:
        """Open the editor that resolves the selected flag; the list is evaluated again when it closes."""
        flag = self.selected_flag()
        if flag is None:
            return None
        opened = fix_flag(self, self.ctx, FixTarget.of(flag))
        if isinstance(opened, QDialog):
            opened.finished.connect(lambda _result: self.refresh())
        self.fix_dialog = opened
        return opened

    def waive_selected(self) -> WaiveDialog | None:
        flag = self.selected_flag()
        if flag is None or flag.waived or not has_role(self.ctx, DIRECTOR):
            return None
        self.waive_dialog = WaiveDialog(self.ctx, flag, self)
        self.waive_dialog.accepted.connect(self.refresh)
        self.waive_dialog.open()
        return self.waive_dialog


def _waiver_text(waiver: dict[str, object], clock: SiteClock | None) -> str:
    """Who waived, when in the site's zone to the minute (not "17:28:47.228543"), and why."""
    when = waiver.get("waived_at")
    if isinstance(when, datetime):
        when = (clock or SiteClock(machine_zone())).show_utc(when)
    return f"Waived by {waiver.get('waived_by')} on {when}: {waiver.get('reason')}"


def _detail_text(flag: Flag, clock: SiteClock | None = None) -> str:
    text = f"{flag.code} ({flag.severity}): {RULES[flag.code].title}\n{flag.message}"
    if flag.waived and flag.waiver:
        text += "\n" + _waiver_text(flag.waiver, clock)
    return text
